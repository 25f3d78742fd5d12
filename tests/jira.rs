//! A project mirrored from Jira Cloud: the real client (reqwest, REST v3) against a local Jira
//! answering in the shapes of `tests/fixtures/jira/` — issues with their changelog and
//! comments, pmbot's moves made through the workflow's transitions (or told when there is
//! none), comments written once however often retried, signed admin webhooks recorded once,
//! deleted issues kept, refused credentials pausing the sync; on SQLite and PostgreSQL.

mod common;

use common::{seeded_app, RecordingChat};
use pmbot::app::App;
use pmbot::bench::fake_jira::{Failure, FakeJira};
use pmbot::board::{Status, TicketKey};
use pmbot::jobs::JobEnv;
use pmbot::queue::{JobSpec, Worker};
use pmbot::service::{Actor, BoardService, Ctx};
use pmbot::store::{ItemKind, JobState};
use pmbot::tracker::jira::{Jira, JiraSettings};
use pmbot::tracker::sync::{self, Mirror, SyncError, SyncReport};
use pmbot::tracker::{Source, SyncJob};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    url:
    a_first_sync_mirrors_issues_with_their_changelog_comments_and_epics,
    a_second_sync_reads_only_what_changed,
    a_comment_written_back_and_retried_three_times_is_written_once,
    a_move_goes_through_the_workflow_or_is_told_when_there_is_no_transition,
    signed_webhooks_are_recorded_once_and_deleted_issues_kept,
    refused_credentials_pause_syncing_and_the_pm_is_told_once,
    rate_limits_are_waited_out_and_server_errors_retried,
    filing_under_an_epic_sets_the_jira_parent,
    an_issue_with_more_comments_than_a_search_holds_brings_them_all,
    stuck_work_is_named_in_the_trackers_own_status,
);

const ALICE: &str = "5b10ac8d82e05b22cc7d4ef5";
const BOB: &str = "5b10a2844c20165700ede21b";
const SECRET: &str = "pmbot-test-jira-webhook-secret";

const OPS: &str = r##"
key = "OPS"
name = "Operations"
channel = "#ops"
pm = "pat"
[tracker]
kind = "jira"
team = "OPS"
[tracker.statuses]
QA = "in_review"
"##;

struct Team {
    app: App,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
    jira: FakeJira,
    base: String,
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jira")
}

async fn team(url: &str) -> Team {
    let jira = FakeJira::from_fixtures(&fixtures()).await.unwrap();
    let mut app = seeded_app(url, |c| {
        c.projects.push(toml::from_str(OPS).unwrap());
        for (handle, id) in [("ana", ALICE), ("ben", BOB)] {
            c.people.iter_mut().find(|p| p.handle == handle).unwrap().tracker_id = Some(id.into());
        }
    })
    .await;
    app.jira = Some(Arc::new(Jira::new(JiraSettings {
        site: jira.url.clone(),
        email: "pmbot@acme.example".into(),
        api_token: "token".into(),
        requests_per_minute: 100_000,
        page_size: 2,
        max_wait: Duration::from_secs(3),
    })));
    app.jira_webhook_secret = Some(SECRET.into());
    let chat = Arc::new(RecordingChat::default());
    let worker = app.worker(chat.clone()).unwrap();
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    Team { app, worker, chat, jira, base: format!("http://{addr}") }
}

impl Team {
    async fn sync(&self) -> Result<SyncReport, SyncError> {
        let project = self.app.config.projects.iter().find(|p| p.key == "OPS").unwrap();
        let mirror = Mirror::new(&self.app.config, project).unwrap();
        let source = Source::Jira(self.app.jira.clone().unwrap());
        sync::run(&self.app.store, &source, &mirror, false, chrono::Utc::now(), |_| {}).await
    }

    async fn ticket(&self, key: &str) -> pmbot::board::Ticket {
        self.app.store.ticket(&self.app.workspace(), &key.parse().unwrap()).await.unwrap()
    }

    async fn comments(&self, key: &str) -> Vec<String> {
        let key: TicketKey = key.parse().unwrap();
        self.app.store.comments(&self.app.workspace(), &key).await.unwrap().into_iter().map(|c| c.body).collect()
    }

    async fn history(&self, key: &str) -> Vec<(Status, String, String)> {
        let key: TicketKey = key.parse().unwrap();
        let moves = self.app.store.history(&self.app.workspace(), &key).await.unwrap();
        moves.into_iter().map(|t| (t.to, t.actor, t.at.to_rfc3339())).collect()
    }

    fn person(&self, handle: &str) -> Actor {
        Actor::Person(self.app.config.people().into_iter().find(|p| p.handle == handle).unwrap())
    }

    fn board(&self) -> BoardService {
        BoardService::new(self.app.store.clone(), self.app.workspace())
    }

    async fn run_jobs_retrying(&self, n: usize) {
        let ws = self.app.workspace();
        self.worker.run_until_idle().await;
        for _ in 0..n {
            for job in self.app.store.jobs(&ws, Some(JobState::Retryable), None, 100).await.unwrap() {
                self.app.store.retry_job(&ws, job.id, chrono::Utc::now()).await.unwrap();
            }
            self.worker.run_until_idle().await;
        }
    }

    async fn jobs(&self, kind: &str) -> Vec<pmbot::store::JobRecord> {
        self.app.store.jobs(&self.app.workspace(), None, Some(kind), 100).await.unwrap()
    }

    async fn deliver(&self, body: &[u8], signature: Option<String>) -> u16 {
        let signature = signature.unwrap_or_else(|| format!("sha256={}", sign(body)));
        let response = reqwest::Client::new()
            .post(format!("{}/jira/webhook", self.base))
            .header("content-type", "application/json")
            .header("x-hub-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }
}

fn sign(body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn delivery(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

async fn a_first_sync_mirrors_issues_with_their_changelog_comments_and_epics(url: &str) {
    let t = team(url).await;
    let report = t.sync().await.unwrap();
    assert_eq!((report.read, report.created, report.pages), (3, 3, 2), "{report:?}");
    let two = t.ticket("OPS-2").await;
    assert_eq!(two.status, Status::InReview, "QA maps to in_review by name");
    assert_eq!(two.assignee.as_deref(), Some("ben"));
    assert_eq!(two.epic.as_deref(), Some("Migrate alerting to Prometheus Alertmanager"), "the epic above it");
    assert_eq!(two.estimate, Some(8.0), "Jira's original estimate, in hours");
    assert!(two.description.starts_with("Route payments alerts"), "read from the Atlassian document");
    let history = t.history("OPS-2").await;
    let steps: Vec<(Status, &str)> = history.iter().map(|h| (h.0, h.1.as_str())).collect();
    assert_eq!(steps[1..], [(Status::InProgress, "ben"), (Status::InReview, "ben")]);
    assert_eq!(steps[0].0, Status::Todo, "created in To Do, where its first move started");
    assert!(history[1].2.starts_with("2026-11-17T10:02:13"), "at Jira's time: {history:?}");
    assert_eq!(t.comments("OPS-2").await, ["Deployed to staging, please verify the new alert routes."]);
    assert_eq!(t.ticket("OPS-1").await.status, Status::Todo, "To Do by its category");
    assert_eq!(t.ticket("OPS-3").await.status, Status::Done);
}

async fn a_second_sync_reads_only_what_changed(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    t.jira.move_issue("OPS-1", "In Progress", json!({ "accountId": ALICE, "displayName": "Alice Chen" }));
    let second = t.sync().await.unwrap();
    assert_eq!((second.read, second.updated), (1, 1), "{second:?}");
    let (_, asked) = t.jira.requests().into_iter().rev().find(|(what, _)| what == "search").unwrap();
    assert!(asked["jql"].as_str().unwrap().contains("updated >= \"-"), "{asked}");
    assert_eq!(t.ticket("OPS-1").await.status, Status::InProgress);
    assert_eq!(t.history("OPS-1").await.last().unwrap().1, "ana");
}

async fn a_comment_written_back_and_retried_three_times_is_written_once(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    t.jira.lose_answers(3);
    let key: TicketKey = "OPS-2".parse().unwrap();
    t.board().comment(&t.person("ana"), &key, "Routes verified", &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(3).await;
    let issue = t.jira.issue("OPS-2").unwrap();
    let ours: Vec<&Value> = issue["fields"]["comment"]["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["body"].to_string().contains("Routes verified"))
        .collect();
    assert_eq!(ours.len(), 1, "written once: {ours:?}");
    assert_eq!(ours[0]["properties"][0]["key"], "pmbot", "marked with its idempotency key");
    let writes = t.jobs("tracker.write").await;
    assert_eq!(writes[0].state, JobState::Completed, "{:?}", writes[0].errors);
    t.sync().await.unwrap();
    let here: Vec<String> = t.comments("OPS-2").await.into_iter().filter(|c| c.contains("Routes verified")).collect();
    assert_eq!(here.len(), 1, "read back, not added again: {here:?}");
}

async fn a_move_goes_through_the_workflow_or_is_told_when_there_is_no_transition(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    let key: TicketKey = "OPS-1".parse().unwrap();
    let pat = t.person("pat");
    t.board().move_to(&pat, &key, Status::InProgress, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.jira.issue("OPS-1").unwrap()["fields"]["status"]["name"], "In Progress");
    let (_, made) = t.jira.requests().into_iter().find(|(what, _)| what == "transition").unwrap();
    assert_eq!(made["transition"]["id"], "21", "the workflow's \"Start progress\"");
    // The workflow has no transition into QA (in_review): said in words, not retried.
    t.board().move_to(&pat, &key, Status::InReview, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(2).await;
    assert_eq!(t.jira.issue("OPS-1").unwrap()["fields"]["status"]["name"], "In Progress");
    let told: Vec<_> =
        t.chat.texts().into_iter().filter(|(_, text)| text.contains("Jira offers no way to move OPS-1")).collect();
    assert_eq!(told.len(), 1, "{:?}", t.chat.texts());
    assert_eq!(told[0].0, "#ops");
    assert!(t.jobs("tracker.write").await.iter().all(|j| j.state == JobState::Completed));
}

async fn signed_webhooks_are_recorded_once_and_deleted_issues_kept(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    // On Jira, OPS-2 goes to Done (what the recorded delivery says happened).
    t.jira.move_issue("OPS-2", "Done", json!({ "accountId": BOB, "displayName": "Bob Okafor" }));
    let body = delivery("webhook_issue_updated.json");
    assert_eq!(t.deliver(&body, None).await, 200);
    assert_eq!(t.deliver(&body, None).await, 200, "Jira's retry is acknowledged");
    assert_eq!(t.jobs("tracker.event").await.len(), 1, "and is the same job");
    assert_eq!(t.deliver(&body, Some(format!("sha256={}", "0".repeat(64)))).await, 401);
    assert_eq!(t.deliver(&body, Some(String::new())).await, 401, "unsigned");
    t.run_jobs_retrying(0).await;
    assert_eq!(t.ticket("OPS-2").await.status, Status::Done);
    t.jira.delete("OPS-3");
    assert_eq!(t.deliver(&delivery("webhook_issue_deleted.json"), None).await, 200);
    t.run_jobs_retrying(0).await;
    assert!(t.comments("OPS-3").await.iter().any(|c| c.contains("Deleted on Jira")));
    let item = t.app.store.mirror_item(&t.app.workspace(), "jira", ItemKind::Issue, "10003").await.unwrap().unwrap();
    assert!(item.deleted_at.is_some());
}

async fn refused_credentials_pause_syncing_and_the_pm_is_told_once(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    t.jira.refuse_credentials(true);
    let ws = t.app.workspace();
    for _ in 0..2 {
        let job = SyncJob { project: "OPS".into(), full: false }.to_new_job(chrono::Utc::now());
        t.app.store.enqueue(&ws, &job, chrono::Utc::now()).await.unwrap();
        t.run_jobs_retrying(0).await;
    }
    let told: Vec<_> = t.chat.texts().into_iter().filter(|(_, text)| text.contains("is paused")).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].1.contains("Syncing OPS from Jira is paused") && told[0].1.contains("JIRA_API_TOKEN"),
        "{}",
        told[0].1
    );
    assert_eq!(t.ticket("OPS-2").await.status, Status::InReview, "nothing changed or deleted");
}

async fn rate_limits_are_waited_out_and_server_errors_retried(url: &str) {
    let t = team(url).await;
    t.jira.fail_next(Failure::RateLimited);
    assert_eq!(t.sync().await.unwrap().read, 3, "a 429 with Retry-After: 1 is waited out");
    t.jira.fail_next(Failure::ServerError);
    let ws = t.app.workspace();
    let job = SyncJob { project: "OPS".into(), full: true }.to_new_job(chrono::Utc::now());
    t.app.store.enqueue(&ws, &job, chrono::Utc::now()).await.unwrap();
    t.worker.run_until_idle().await;
    assert_eq!(t.jobs("tracker.sync").await[0].state, JobState::Retryable);
    t.run_jobs_retrying(1).await;
    assert_eq!(t.jobs("tracker.sync").await[0].state, JobState::Completed);
}

async fn filing_under_an_epic_sets_the_jira_parent(url: &str) {
    let t = team(url).await;
    t.sync().await.unwrap();
    let key: TicketKey = "OPS-3".parse().unwrap();
    let epic = "Migrate alerting to Prometheus Alertmanager";
    t.board().set_epic(&t.person("pat"), &key, Some(epic), &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.jira.issue("OPS-3").unwrap()["fields"]["parent"]["key"], "OPS-1", "the epic named so");
    assert_eq!(t.ticket("OPS-3").await.epic.as_deref(), Some(epic));
    assert!(t.jobs("tracker.write").await.iter().all(|j| j.state == JobState::Completed));
}

async fn an_issue_with_more_comments_than_a_search_holds_brings_them_all(url: &str) {
    let t = team(url).await;
    // 45 more comments on OPS-2: a search answer carries 20 of the 46 and the total.
    t.jira.change("OPS-2", |issue| {
        let list = issue["fields"]["comment"]["comments"].as_array_mut().unwrap();
        for n in 0..45 {
            list.push(json!({ "id": format!("{}", 11_000 + n), "author": { "accountId": BOB, "displayName": "Bob Okafor" },
                              "body": pmbot::tracker::jira::client::adf(&format!("note {n}")), "created": "2026-11-19T10:00:00.000+0000" }));
        }
    });
    t.sync().await.unwrap();
    assert_eq!(t.comments("OPS-2").await.len(), 46, "the rest read page by page");
}

async fn stuck_work_is_named_in_the_trackers_own_status(url: &str) {
    use pmbot::workflows::agents::{self, Agent};
    let t = team(url).await;
    t.sync().await.unwrap();
    // OPS-2 has been in QA (pmbot's in review) since 2026-11-20.
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T15:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let (ws, app) = (t.app.workspace(), &t.app);
    let plan = agents::plan(Agent::Stuck, &app.store, &ws, &app.config, &app.templates, now).await.unwrap();
    agents::deliver(&plan, &app.store, &ws, &app.config, t.chat.as_ref(), now, false).await.unwrap();
    let said = t.chat.texts().into_iter().map(|(_, text)| text).collect::<Vec<_>>().join("\n");
    assert!(said.contains("OPS-2") && said.contains("QA (in review)"), "{said}");
}
