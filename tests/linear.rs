//! A project mirrored from Linear: the real client (reqwest, Linear's GraphQL operations)
//! against a local Linear answering in the shapes of `tests/fixtures/linear/` — issues with
//! their history and comments synced page by page and resumed after a failure without
//! duplicates, signed webhooks recorded once, pmbot's changes written back once however often
//! they are retried, refused credentials pausing syncs; on SQLite and PostgreSQL.

mod common;

use common::{seeded_app, RecordingChat};
use pmbot::app::App;
use pmbot::bench::fake_linear::{Failure, FakeLinear};
use pmbot::board::{Status, TicketKey};
use pmbot::jobs::JobEnv;
use pmbot::queue::{JobSpec, Worker};
use pmbot::service::{Actor, BoardService, Ctx};
use pmbot::store::{ItemKind, JobState};
use pmbot::tracker::linear::{Linear, LinearSettings};
use pmbot::tracker::sync::{self, Mirror, SyncError, SyncReport};
use pmbot::tracker::{Source, SyncJob};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    url:
    a_first_sync_mirrors_issues_with_their_history_comments_and_parents,
    an_interrupted_sync_resumes_from_its_cursor_without_duplicates,
    a_second_sync_reads_only_what_changed_and_never_goes_back,
    a_comment_written_back_and_retried_three_times_is_written_once,
    a_move_is_written_through_the_workflow_or_told_when_linear_cannot,
    a_move_linear_made_meanwhile_wins_and_is_told,
    webhooks_are_signed_recorded_once_and_bring_the_board_up_to_date,
    an_issue_deleted_on_linear_is_marked_and_kept,
    refused_credentials_pause_syncing_and_the_pm_is_told_once,
    an_unmapped_status_keeps_the_ticket_where_it_was_and_is_reported,
    rate_limits_and_server_errors_are_waited_out,
    the_teams_conversation_moves_a_ticket_on_linear,
    two_moves_before_the_writes_run_leave_linear_and_the_board_at_the_last,
    one_sync_of_a_project_runs_at_a_time,
    closing_a_parent_closes_its_open_sub_issues_each_logged,
    filing_under_an_epic_sets_the_linear_project_or_is_told,
    an_issue_with_more_comments_than_a_page_holds_brings_them_all,
);

const ALICE: &str = "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c01";
const BOB: &str = "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c02";
const ENG_101: &str = "9a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a01";
const ENG_102: &str = "9a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a02";
const ENG_103: &str = "9a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a03";
const SECRET: &str = "pmbot-test-linear-webhook-secret";

const ENG: &str = r##"
key = "ENG"
name = "Engineering"
channel = "#eng"
pm = "pat"
[tracker]
kind = "linear"
team = "ENG"
[tracker.statuses]
"In Review" = "in_review"
QA = "in_review"
"##;

struct Team {
    app: App,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
    linear: FakeLinear,
    base: String,
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linear")
}

fn client(url: &str, key: &str) -> Arc<Linear> {
    Arc::new(Linear::new(LinearSettings {
        api_url: url.into(),
        api_key: key.into(),
        requests_per_hour: 1_000_000,
        page_size: 2,
        max_wait: Duration::from_secs(3),
    }))
}

async fn team(url: &str, project: &str) -> Team {
    let linear = FakeLinear::from_fixtures(&fixtures()).await.unwrap();
    let mut app = seeded_app(url, |c| {
        c.projects.push(toml::from_str(project).unwrap());
        for (handle, id) in [("ana", ALICE), ("ben", BOB)] {
            c.people.iter_mut().find(|p| p.handle == handle).unwrap().tracker_id = Some(id.into());
        }
    })
    .await;
    app.linear = Some(client(&linear.url, "lin_api_test"));
    app.linear_webhook_secret = Some(SECRET.into());
    let chat = Arc::new(RecordingChat::default());
    let worker = app.worker(chat.clone()).unwrap();
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    Team { app, worker, chat, linear, base: format!("http://{addr}") }
}

impl Team {
    async fn sync(&self) -> Result<SyncReport, SyncError> {
        let project = self.app.config.projects.iter().find(|p| p.key == "ENG").unwrap();
        let mirror = Mirror::new(&self.app.config, project).unwrap();
        sync::run(
            &self.app.store,
            &Source::Linear(self.app.linear.clone().unwrap()),
            &mirror,
            false,
            chrono::Utc::now(),
            |_| {},
        )
        .await
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

    /// Runs the jobs due, then makes every job waiting for a retry due and runs again, `n` times.
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

    async fn deliver(&self, body: &[u8], delivery: &str, signature: Option<String>) -> (u16, Value) {
        let signature = signature.unwrap_or_else(|| sign(body));
        let response = reqwest::Client::new()
            .post(format!("{}/linear/webhook", self.base))
            .header("content-type", "application/json")
            .header("linear-signature", signature)
            .header("linear-delivery", delivery)
            .header("linear-event", "Issue")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn sign(body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A recorded delivery, stamped now (Linear's deliveries must be under a minute old).
fn delivery(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    let mut body: Value = serde_json::from_str(&text).unwrap();
    body["webhookTimestamp"] = json!(chrono::Utc::now().timestamp_millis());
    serde_json::to_vec(&body).unwrap()
}

async fn a_first_sync_mirrors_issues_with_their_history_comments_and_parents(url: &str) {
    let t = team(url, ENG).await;
    let report = t.sync().await.unwrap();
    assert_eq!((report.read, report.created, report.pages), (3, 3, 2), "{report:?}");

    let first = t.ticket("ENG-101").await;
    assert_eq!(first.status, Status::InProgress);
    assert_eq!(first.assignee.as_deref(), Some("ana"), "Linear's Alice is ana in pmbot.toml");
    assert_eq!(first.epic.as_deref(), Some("Q4 Reliability"), "Linear's project is the epic");
    assert_eq!(first.source.tracker.as_deref(), Some("linear"));
    // Time in status is Linear's: created in Todo, in progress since Alice moved it.
    let history = t.history("ENG-101").await;
    assert_eq!(history[0].0, Status::Todo);
    assert!(history[0].2.starts_with("2026-11-02T09:14:07"), "{history:?}");
    assert_eq!((history[1].0, history[1].1.as_str()), (Status::InProgress, "ana"));
    assert!(history[1].2.starts_with("2026-11-18T10:02:31"), "{history:?}");

    let child = t.ticket("ENG-102").await;
    assert_eq!(child.parent.as_ref().map(TicketKey::as_str), Some("ENG-101"));
    assert_eq!(child.status, Status::InReview, "named in [tracker.statuses]");
    let statuses: Vec<Status> = t.history("ENG-102").await.into_iter().map(|h| h.0).collect();
    assert_eq!(statuses, [Status::Backlog, Status::Todo, Status::InProgress, Status::InReview]);
    assert_eq!(t.comments("ENG-102").await.len(), 1);
    assert!(t.comments("ENG-102").await[0].contains("reset header is in **ms**"));
    assert_eq!(t.ticket("ENG-103").await.status, Status::Done, "mapped by its category");
    // A ticket made on pmbot's board later does not take a Linear number.
    let made = t
        .app
        .store
        .create_ticket(
            &t.app.workspace(),
            &pmbot::board::NewTicket::new("ENG", "Local").unwrap(),
            "pat",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(made.key.as_str(), "ENG-104");
}

async fn an_interrupted_sync_resumes_from_its_cursor_without_duplicates(url: &str) {
    let t = team(url, ENG).await;
    let fake = &t.linear;
    // Page 1 goes through (committed with its cursor), page 2 fails.
    let project = t.app.config.projects.iter().find(|p| p.key == "ENG").unwrap();
    let mirror = Mirror::new(&t.app.config, project).unwrap();
    let linear = Source::Linear(t.app.linear.clone().unwrap());
    let mut pages = 0;
    let interrupted = sync::run(&t.app.store, &linear, &mirror, false, chrono::Utc::now(), |_| {
        pages += 1;
        fake.fail_next(Failure::ServerError);
    })
    .await;
    assert!(interrupted.is_err());
    assert_eq!(pages, 1);
    assert!(t.ticket("ENG-101").await.title.contains("durable queue"));
    let position = t.app.store.sync_position(&t.app.workspace(), "ENG").await.unwrap().unwrap();
    let cursor = position.page_cursor.clone().expect("the cursor after page 1 is kept");

    let resumed = t.sync().await.unwrap();
    let (operation, variables) = fake.requests().into_iter().rev().find(|(op, _)| op == "query Issues").unwrap();
    assert_eq!(operation, "query Issues");
    assert_eq!(variables["after"], json!(cursor), "the resumed run starts after the committed page");
    assert_eq!(resumed.read, 1, "{resumed:?}");
    let ws = t.app.workspace();
    assert_eq!(t.app.store.mirrored_count(&ws, "linear", ItemKind::Issue).await.unwrap(), 3);
    assert_eq!(
        t.app.store.tickets(&ws, &Default::default()).await.unwrap().iter().filter(|k| k.project == "ENG").count(),
        3
    );
    assert_eq!(t.comments("ENG-102").await.len(), 1, "no comment twice");
    assert_eq!(t.history("ENG-102").await.len(), 4, "no move twice");
}

async fn a_second_sync_reads_only_what_changed_and_never_goes_back(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    t.linear.move_issue(ENG_102, "Done", json!({ "id": BOB, "name": "Bob Okafor" }));
    let second = t.sync().await.unwrap();
    assert_eq!((second.read, second.updated), (1, 1), "only ENG-102 changed since: {second:?}");
    let last = t.linear.requests().into_iter().rev().find(|(op, _)| op == "query Issues").unwrap();
    assert!(last.1["since"].is_string(), "an incremental sync asks for updates since the last run");
    assert_eq!(t.ticket("ENG-102").await.status, Status::Done);
    assert_eq!(t.history("ENG-102").await.last().unwrap().1, "ben");

    // An older copy of the issue (a late webhook, a stale page) changes nothing.
    let project = t.app.config.projects.iter().find(|p| p.key == "ENG").unwrap();
    let mirror = Mirror::new(&t.app.config, project).unwrap();
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("issues_page1.json")).unwrap()).unwrap();
    let stale = fixture["data"]["issues"]["nodes"][1].clone();
    assert_eq!(stale["id"], ENG_102);
    let fake = FakeLinear::start(vec![stale], 0).await.unwrap();
    let old = client(&fake.url, "k").issue(ENG_102).await.unwrap().unwrap();
    let mut tx = t.app.store.begin().await.unwrap();
    let applied = mirror.apply(&mut tx, &old, &mut SyncReport::default()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(applied, sync::Applied::Unchanged);
    assert_eq!(t.ticket("ENG-102").await.status, Status::Done);
}

async fn a_comment_written_back_and_retried_three_times_is_written_once(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    // Linear takes the comment but every answer is lost, three times.
    t.linear.lose_answers(3);
    let key: TicketKey = "ENG-101".parse().unwrap();
    t.board().comment(&t.person("ana"), &key, "Deployed to staging", &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(3).await;
    let issue = t.linear.issue(ENG_101).unwrap();
    let on_linear: Vec<&Value> = issue["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["body"].as_str().unwrap().contains("Deployed to staging"))
        .collect();
    assert_eq!(on_linear.len(), 1, "written once: {on_linear:?}");
    assert!(on_linear[0]["body"].as_str().unwrap().starts_with("ana (via pmbot)"));
    let writes = t.jobs("tracker.write").await;
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].state, JobState::Completed, "{:?}", writes[0].errors);
    assert!(writes[0].attempt >= 2, "the lost answer was retried");
    // The comment coming back from Linear is known as the one pmbot wrote.
    t.sync().await.unwrap();
    let here: Vec<String> =
        t.comments("ENG-101").await.into_iter().filter(|c| c.contains("Deployed to staging")).collect();
    assert_eq!(here.len(), 1, "{here:?}");
}

async fn a_move_is_written_through_the_workflow_or_told_when_linear_cannot(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let key: TicketKey = "ENG-101".parse().unwrap();
    let pat = t.person("pat");
    t.board().move_to(&pat, &key, Status::InReview, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_101).unwrap()["state"]["name"], "In Review", "the state named for in_review");
    // Linear's ENG team has no state for blocked: told in words, not retried forever.
    t.board().move_to(&pat, &key, Status::Blocked, Some("waiting on IT"), &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_101).unwrap()["state"]["name"], "In Review");
    let told: Vec<(String, String)> = t
        .chat
        .texts()
        .into_iter()
        .filter(|(_, text)| {
            text.contains("Linear offers no way to move ENG-101 from In Review to a status for blocked")
        })
        .collect();
    assert_eq!(told.len(), 1, "{:?}", t.chat.texts());
    assert_eq!(told[0].0, "#eng");
    assert!(t.jobs("tracker.write").await.iter().all(|j| j.state == JobState::Completed));
    assert_eq!(t.ticket("ENG-101").await.status, Status::Blocked, "the board keeps the PM's move");
    let decisions = t.app.store.decisions(&t.app.workspace(), Some("ENG-101"), 100).await.unwrap();
    assert!(decisions.iter().any(|d| d.kind == "tracker.write" && d.action == "impossible"));
    assert!(decisions.iter().any(|d| d.kind == "tracker.write" && d.action == "moved"));
}

async fn a_move_linear_made_meanwhile_wins_and_is_told(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let key: TicketKey = "ENG-101".parse().unwrap();
    t.board().move_to(&t.person("pat"), &key, Status::InReview, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    // Before the write runs, someone closes the issue on Linear.
    t.linear.move_issue(ENG_101, "Done", json!({ "id": BOB, "name": "Bob Okafor" }));
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_101).unwrap()["state"]["name"], "Done", "Linear's move stands");
    assert_eq!(t.ticket("ENG-101").await.status, Status::Done, "and the board follows it");
    assert!(
        t.chat.texts().iter().any(|(to, text)| to == "#eng" && text.contains("moved to Done on Linear meanwhile")),
        "{:?}",
        t.chat.texts()
    );
}

async fn webhooks_are_signed_recorded_once_and_bring_the_board_up_to_date(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    // On Linear, ENG-102 goes to QA (what the recorded delivery says happened).
    t.linear.move_issue(ENG_102, "QA", json!({ "id": ALICE, "name": "Alice Chen" }));
    let body = delivery("webhook_issue_update.json");
    assert_eq!(t.deliver(&body, "d-1", None).await.0, 200);
    assert_eq!(t.deliver(&body, "d-1", None).await.0, 200, "a redelivery is acknowledged");
    assert_eq!(t.jobs("tracker.event").await.len(), 1, "and is the same job");
    assert_eq!(t.deliver(&body, "d-2", Some("00".repeat(32))).await.0, 401, "a bad signature");
    let stale = std::fs::read(fixtures().join("webhook_issue_update.json")).unwrap();
    let (status, answer) = t.deliver(&stale, "d-3", None).await;
    assert_eq!(status, 401, "a recorded delivery replayed days later: {answer}");
    assert_eq!(t.deliver(b"{not json", "d-4", None).await.0, 400);
    t.run_jobs_retrying(0).await;
    let ticket = t.ticket("ENG-102").await;
    assert_eq!(ticket.status, Status::InReview, "QA maps to in_review");
    assert_eq!(t.history("ENG-102").await.len(), 4, "QA after In Review is no new move on the board");
    // A comment made on Linear arrives by its webhook.
    t.linear.change(ENG_101, |issue| {
        issue["comments"]["nodes"].as_array_mut().unwrap().push(json!({ "id": "c-new", "body": "Rolling out at 3pm", "createdAt": "2026-11-22T10:00:00.000Z", "user": { "id": BOB, "name": "Bob Okafor" } }));
    });
    assert_eq!(t.deliver(&delivery("webhook_comment_create.json"), "d-5", None).await.0, 200);
    t.run_jobs_retrying(0).await;
    assert!(t.comments("ENG-101").await.iter().any(|c| c == "Rolling out at 3pm"));
}

async fn an_issue_deleted_on_linear_is_marked_and_kept(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    t.linear.delete(ENG_103);
    assert_eq!(t.deliver(&delivery("webhook_issue_remove.json"), "d-rm", None).await.0, 200);
    t.run_jobs_retrying(0).await;
    let ticket = t.ticket("ENG-103").await;
    assert_eq!(ticket.status, Status::Done, "a closed ticket stays closed");
    assert!(t.comments("ENG-103").await.iter().any(|c| c.contains("Deleted on Linear")));
    let item = t.app.store.mirror_item(&t.app.workspace(), "linear", ItemKind::Issue, ENG_103).await.unwrap().unwrap();
    assert!(item.deleted_at.is_some());
}

async fn refused_credentials_pause_syncing_and_the_pm_is_told_once(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    t.linear.refuse_credentials(true);
    let ws = t.app.workspace();
    for _ in 0..2 {
        let job = SyncJob { project: "ENG".into(), full: false }.to_new_job(chrono::Utc::now());
        t.app.store.enqueue(&ws, &job, chrono::Utc::now()).await.unwrap();
        t.run_jobs_retrying(0).await;
    }
    let told: Vec<_> = t.chat.texts().into_iter().filter(|(_, text)| text.contains("is paused")).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "@pat", "the project's PM");
    assert!(told[0].1.contains("LINEAR_API_KEY"));
    let position = t.app.store.sync_position(&ws, "ENG").await.unwrap().unwrap();
    assert!(position.paused.is_some());
    assert_eq!(t.ticket("ENG-101").await.status, Status::InProgress, "nothing deleted or changed");
    // A new key resumes.
    t.linear.refuse_credentials(false);
    let project = t.app.config.projects.iter().find(|p| p.key == "ENG").unwrap();
    let mirror = Mirror::new(&t.app.config, project).unwrap();
    let same_key = sync::run(
        &t.app.store,
        &Source::Linear(t.app.linear.clone().unwrap()),
        &mirror,
        false,
        chrono::Utc::now(),
        |_| {},
    )
    .await;
    assert!(matches!(same_key, Err(SyncError::Paused { .. })), "{same_key:?}");
    let new_key = client(&t.linear.url, "lin_api_new");
    sync::run(&t.app.store, &Source::Linear(new_key), &mirror, false, chrono::Utc::now(), |_| {}).await.unwrap();
    assert!(t.app.store.sync_position(&ws, "ENG").await.unwrap().unwrap().paused.is_none());
}

async fn an_unmapped_status_keeps_the_ticket_where_it_was_and_is_reported(url: &str) {
    let strict =
        ENG.replace("team = \"ENG\"", "team = \"ENG\"\nmap_by_kind = false").replace("QA = \"in_review\"\n", "")
            + "Todo = \"todo\"\n\"In Progress\" = \"in_progress\"\nDone = \"done\"\nBacklog = \"backlog\"\n";
    let t = team(url, &strict).await;
    t.sync().await.unwrap();
    t.linear.move_issue(ENG_102, "QA", json!({ "id": ALICE, "name": "Alice Chen" }));
    let report = t.sync().await.unwrap();
    assert!(report.unmapped.contains("QA"), "{report:?}");
    assert_eq!(t.ticket("ENG-102").await.status, Status::InReview, "kept in its last mapped status");
    let seen = t.app.store.remote_statuses(&t.app.workspace(), "linear", "ENG").await.unwrap();
    assert!(seen.iter().any(|(name, n)| name == "QA" && *n == 1), "{seen:?}");
}

async fn rate_limits_and_server_errors_are_waited_out(url: &str) {
    let t = team(url, ENG).await;
    // A rate limit with its reset a second away is waited out in place.
    t.linear.fail_next(Failure::RateLimited);
    t.sync().await.unwrap();
    assert_eq!(t.ticket("ENG-101").await.status, Status::InProgress);
    // A 500 fails the job, which is retried later from where it stood.
    t.linear.fail_next(Failure::ServerError);
    let ws = t.app.workspace();
    let job = SyncJob { project: "ENG".into(), full: true }.to_new_job(chrono::Utc::now());
    t.app.store.enqueue(&ws, &job, chrono::Utc::now()).await.unwrap();
    t.worker.run_until_idle().await;
    let jobs = t.jobs("tracker.sync").await;
    assert_eq!(jobs[0].state, JobState::Retryable, "{:?}", jobs[0].errors);
    assert!(jobs[0].errors[0].message.contains("not answering properly"), "{:?}", jobs[0].errors);
    t.run_jobs_retrying(1).await;
    assert_eq!(t.jobs("tracker.sync").await[0].state, JobState::Completed);
}

async fn the_teams_conversation_moves_a_ticket_on_linear(url: &str) {
    use pmbot::chat::{Inbound, Origin, Platform};
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let origin = Origin {
        platform: Platform::Shell,
        channel: "#eng".into(),
        user: "ben".into(),
        ts: "1700000000.000001".into(),
        thread: None,
    };
    let said = Inbound::Message { origin, text: "ENG-102 is merged and deployed".into() };
    assert!(t.app.bot().handle(&said, chrono::Utc::now()).await.is_empty());
    t.worker.run_until_idle().await;
    assert_eq!(t.ticket("ENG-102").await.status, Status::Done, "{:?}", t.chat.texts());
    assert_eq!(t.linear.issue(ENG_102).unwrap()["state"]["name"], "Done", "moved on Linear too");
    assert!(
        t.chat.texts().iter().any(|(to, text)| to == "#eng" && text.contains("Moved *ENG-102*")),
        "{:?}",
        t.chat.texts()
    );
}

async fn two_moves_before_the_writes_run_leave_linear_and_the_board_at_the_last(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let key: TicketKey = "ENG-101".parse().unwrap();
    let pat = t.person("pat");
    t.board().move_to(&pat, &key, Status::InReview, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.board().move_to(&pat, &key, Status::Done, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_101).unwrap()["state"]["name"], "Done");
    assert_eq!(t.ticket("ENG-101").await.status, Status::Done);
    let last = t.history("ENG-101").await.into_iter().map(|h| (h.0, h.1)).collect::<Vec<_>>();
    assert_eq!(
        last[last.len() - 2..],
        [(Status::InReview, "pat".to_string()), (Status::Done, "pat".to_string())],
        "no flapping: {last:?}"
    );
    let writes = t.jobs("tracker.write").await;
    assert!(writes.iter().all(|j| j.state == JobState::Completed), "{writes:?}");
    assert!(!t.chat.texts().iter().any(|(_, text)| text.contains("meanwhile")), "pmbot's own moves are no conflict");
}

async fn one_sync_of_a_project_runs_at_a_time(url: &str) {
    let t = team(url, ENG).await;
    let (ws, now) = (t.app.workspace(), chrono::Utc::now());
    // Another worker's run holds the project's lease.
    assert!(t.app.store.claim_sync(&ws, "ENG", "linear", now + chrono::TimeDelta::minutes(5), now).await.unwrap());
    assert!(matches!(t.sync().await, Err(SyncError::Busy(_))));
    let asked = t.linear.requests().len();
    let job = SyncJob { project: "ENG".into(), full: false }.to_new_job(now);
    t.app.store.enqueue(&ws, &job, now).await.unwrap();
    t.worker.run_until_idle().await;
    assert_eq!(t.jobs("tracker.sync").await[0].state, JobState::Completed, "left to the run under way");
    assert_eq!(t.linear.requests().len(), asked, "nothing read twice");
    // Once it is over (or its lease lapsed), the next run goes.
    t.app.store.release_sync(&ws, "ENG").await.unwrap();
    assert_eq!(t.sync().await.unwrap().read, 3);
}

async fn closing_a_parent_closes_its_open_sub_issues_each_logged(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let key: TicketKey = "ENG-101".parse().unwrap();
    t.board().move_to(&t.person("pat"), &key, Status::Done, None, &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_101).unwrap()["state"]["name"], "Done");
    assert_eq!(t.ticket("ENG-102").await.status, Status::Done, "its open sub-issue closed with it");
    assert_eq!(t.linear.issue(ENG_102).unwrap()["state"]["name"], "Done", "on Linear too");
    let last = t.history("ENG-102").await.pop().unwrap();
    assert_eq!((last.0, last.1.as_str()), (Status::Done, "pmbot"));
    let logged = t.app.store.decisions(&t.app.workspace(), Some("ENG-102"), 20).await.unwrap();
    assert!(logged.iter().any(|d| d.action == "move:done" && d.actor == "pmbot"), "{logged:#?}");
    // Run again (a retried write): nothing moves twice.
    t.run_jobs_retrying(1).await;
    assert_eq!(t.history("ENG-102").await.len(), 5);
}

async fn filing_under_an_epic_sets_the_linear_project_or_is_told(url: &str) {
    let t = team(url, ENG).await;
    t.sync().await.unwrap();
    let key: TicketKey = "ENG-103".parse().unwrap();
    let pat = t.person("pat");
    t.board().set_epic(&pat, &key, Some("Checkout revamp"), &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert_eq!(t.linear.issue(ENG_103).unwrap()["project"]["name"], "Checkout revamp", "Linear's project is the epic");
    t.board().set_epic(&pat, &key, Some("No such epic"), &Ctx::new(chrono::Utc::now())).await.unwrap();
    t.run_jobs_retrying(1).await;
    assert!(
        t.chat
            .texts()
            .iter()
            .any(|(to, text)| to == "#eng" && text.contains("Linear has no epic named \"No such epic\"")),
        "{:?}",
        t.chat.texts()
    );
    assert_eq!(t.ticket("ENG-103").await.epic.as_deref(), Some("No such epic"), "kept on pmbot's board");
}

async fn an_issue_with_more_comments_than_a_page_holds_brings_them_all(url: &str) {
    let t = team(url, ENG).await;
    t.linear.change(ENG_101, |issue| {
        let nodes = issue["comments"]["nodes"].as_array_mut().unwrap();
        for n in 0..130 {
            nodes.push(json!({ "id": format!("c-{n}"), "body": format!("note {n}"), "createdAt": "2026-11-19T10:00:00.000Z", "user": { "id": BOB, "name": "Bob Okafor" } }));
        }
    });
    t.sync().await.unwrap();
    assert_eq!(t.comments("ENG-101").await.len(), 130, "past Linear's 50 a connection");
    let more = t.linear.requests().into_iter().filter(|(op, _)| op == "query More").count();
    assert_eq!(more, 1, "the other 80 in one more request");
}
