//! GitHub as the AI queue's forge: the run's branch pushed over HTTPS with the GitHub App's
//! installation token, the pull request opened, reviewers asked, the approved head merged
//! through the API and the branch deleted — against a local GitHub answering with recorded
//! payloads and serving git through the real `git http-backend`; on SQLite and PostgreSQL.

mod common;

use common::github::{FakeGithub, Injected, APP_ID, INSTALLATION, TOKEN};
use common::repo::{Repo, GOOD_AGENT};
use common::{seeded_app, text_of, RecordingChat};
use pmbot::app::App;
use pmbot::board::{NewTicket, RunState, Status, TicketKey};
use pmbot::chat::{Inbound, MessageRef, Origin, Platform};
use pmbot::dispatch::Bot;
use pmbot::forge::github::{Credentials, Github, GithubSettings};
use pmbot::jobs::JobEnv;
use pmbot::queue::Worker;
use pmbot::service::{Actor, BoardService, Ctx};
use serde_json::{json, Value};
use std::sync::Arc;
use RunState::*;

on_both_backends!(
    url:
    a_fix_on_github_becomes_a_pull_request_merged_through_the_api,
    rate_limits_and_server_errors_are_waited_out,
    a_pull_request_github_cannot_merge_is_told_in_words,
    without_credentials_the_github_forge_says_what_is_missing,
    every_recorded_github_delivery_gets_a_2xx_or_a_clean_4xx,
    unsigned_or_malformed_deliveries_are_refused_and_redeliveries_are_one_job,
    a_pull_request_naming_a_ticket_moves_it_to_review_then_done,
    a_review_approval_on_github_decides_the_pr_gate_for_a_person_of_the_team,
    a_pull_request_merged_on_github_completes_its_run,
    a_pull_request_closed_on_github_cancels_its_run,
    issues_become_tickets_with_their_comments_and_a_label_queues_a_fix,
    a_ci_failure_on_the_runs_branch_stops_the_merge,
    a_push_to_the_default_branch_refreshes_the_repositorys_knowledge,
    the_standup_lists_pull_requests_waiting_for_review,
    a_draft_is_ready_for_review_once_the_teams_ci_passes,
    a_merged_fix_is_reverted_by_a_revert_pull_request,
    on_github_enterprise_the_api_and_graphql_are_found_under_api,
);

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

const SECRET: &str = "It's a Secret to Everybody";

struct Team {
    base: String,
    http: reqwest::Client,
    app: App,
    bot: Bot,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
    repo: Repo,
    github: FakeGithub,
    key: TicketKey,
    _work: tempfile::TempDir,
}

fn app_credentials() -> Credentials {
    let pem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/github/test-app-key.pem"));
    Credentials::App { id: APP_ID, installation: INSTALLATION, private_key: pem.unwrap() }
}

async fn team(url: &str, credentials: Option<Credentials>) -> Team {
    team_with(url, credentials, |_| {}).await
}

async fn team_with(
    url: &str,
    credentials: Option<Credentials>,
    change: impl FnOnce(&mut pmbot::config::Config),
) -> Team {
    team_on(url, credentials, "", change).await
}

/// `api_path`: "" for github.com's layout, "/api/v3" for GitHub Enterprise's.
async fn team_on(
    url: &str,
    credentials: Option<Credentials>,
    api_path: &str,
    change: impl FnOnce(&mut pmbot::config::Config),
) -> Team {
    let repo = Repo::new();
    let github = FakeGithub::start(&repo.remote()).await;
    let work = tempfile::tempdir().unwrap();
    let clone_url = github.clone_url();
    let mut app = seeded_app(url, |c| {
        repo.configure(c, work.path(), GOOD_AGENT);
        c.fix.reviewers = vec!["octocat".into(), "acme/web-team".into()];
        let web = c.projects.iter_mut().find(|p| p.key == "WEB").unwrap();
        let fix = web.fix.as_mut().unwrap();
        fix.repository = clone_url;
        fix.forge = pmbot::config::ForgeKind::Github;
        // Codertocat/Hello-World is the repository of GitHub's recorded payloads.
        let app_project = c.projects.iter_mut().find(|p| p.key == "APP").unwrap();
        app_project.github = Some(toml::from_str("repo = \"Codertocat/Hello-World\"\nissues = true").unwrap());
        c.intake.auto_fix_label = Some("pmbot-fix".into());
        for (handle, login) in [("pat", "pat-gh"), ("ana", "ana-gh"), ("ben", "Codertocat")] {
            c.people.iter_mut().find(|p| p.handle == handle).unwrap().github = Some(login.into());
        }
        change(c);
    })
    .await;
    app.github_webhook_secret = Some(SECRET.into());
    app.github = credentials.map(|credentials| {
        let mut client =
            Github::new(&GithubSettings { api_url: format!("{}{api_path}", github.url), credentials }).unwrap();
        client.max_wait = std::time::Duration::from_secs(3);
        Arc::new(client)
    });
    let board = BoardService::new(app.store.clone(), app.workspace());
    let mut new = NewTicket::new("WEB", "Greeting says Helo instead of Hello").unwrap();
    new.status = Status::Todo;
    new.reporter = Some("chloe".into());
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(now())).await.unwrap();
    let chat = Arc::new(RecordingChat::default());
    // Deliveries are recorded at the real time, so the worker keeps the real clock.
    let worker = app.worker(chat.clone()).unwrap();
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let base = format!("http://{addr}");
    Team {
        base,
        http: reqwest::Client::new(),
        bot: app.bot(),
        app,
        worker,
        chat,
        repo,
        github,
        key: ticket.key,
        _work: work,
    }
}

fn sign(body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn fixture(path: &str) -> Value {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github").join(path);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

static DELIVERY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn delivery() -> String {
    format!("72d3162e-cc78-11e3-81ab-{:012}", DELIVERY.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
}

fn origin(user: &str) -> Origin {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let ts = format!("1.{:06}", SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    Origin { platform: Platform::Shell, channel: "#acme-web".into(), user: user.into(), ts, thread: None }
}

impl Team {
    /// Delivers `payload` as GitHub would (signed), under `delivery`; the HTTP status.
    async fn deliver_as(&self, event: &str, delivery: &str, body: &[u8], signature: Option<String>) -> u16 {
        let mut request = self
            .http
            .post(format!("{}/github/webhook", self.base))
            .header("x-github-event", event)
            .header("x-github-delivery", delivery)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn deliver(&self, event: &str, payload: &Value) -> u16 {
        let body = serde_json::to_vec(payload).unwrap();
        let status = self.deliver_as(event, &delivery(), &body, Some(sign(&body))).await;
        self.worker.run_until_idle().await;
        status
    }

    async fn ticket(&self, key: &TicketKey) -> pmbot::board::Ticket {
        self.app.store.ticket(&self.app.workspace(), key).await.unwrap()
    }

    async fn new_ticket(&self, project: &str, title: &str) -> TicketKey {
        let board = BoardService::new(self.app.store.clone(), self.app.workspace());
        let mut new = NewTicket::new(project, title).unwrap();
        new.status = Status::InProgress;
        board.create(&Actor::System("test".into()), &new, &Ctx::new(now())).await.unwrap().key
    }

    async fn failed_jobs(&self) -> Vec<pmbot::store::JobRecord> {
        let jobs = self.app.store.jobs(&self.app.workspace(), None, None, 10_000).await.unwrap();
        jobs.into_iter()
            .filter(|j| {
                !j.errors.is_empty()
                    || matches!(j.state, pmbot::store::JobState::Cancelled | pmbot::store::JobState::Discarded)
            })
            .collect()
    }

    /// GitHub's recorded `event` payload, about pull request `number` of acme/web.
    fn about_run_pr(&self, path: &str, number: i64) -> Value {
        let mut payload = fixture(path);
        payload["repository"]["full_name"] = json!("acme/web");
        payload["pull_request"]["number"] = json!(number);
        payload
    }

    async fn press(&self, user: &str, label: &str) {
        let card = self.chat.last_with_buttons().expect("a card with buttons");
        let button = card.buttons().find(|b| b.label == label).expect("the button");
        let action = Inbound::Action {
            origin: origin(user),
            action_id: button.action_id.clone(),
            value: button.value.clone(),
            message: MessageRef { channel: "#acme-web".into(), ts: "card".into() },
            trigger: None,
        };
        self.bot.handle(&action, now()).await;
    }

    /// Starts the run and approves its SPEC; the worker runs until the PR gate (or an end).
    async fn to_pr_gate(&self) {
        let out = self
            .bot
            .handle(&Inbound::Mention { origin: origin("pat"), text: format!("@pmbot fix {}", self.key) }, now())
            .await;
        assert!(text_of(&out).contains("handed"), "{}", text_of(&out));
        self.worker.run_until_idle().await;
        self.press("ana", "Approve SPEC").await;
        self.worker.run_until_idle().await;
    }

    async fn run(&self) -> pmbot::store::FixRun {
        let runs = self.app.store.fix_runs_of(&self.app.workspace(), &self.key).await.unwrap();
        runs.into_iter().next().expect("a run")
    }

    fn said(&self) -> String {
        self.chat.texts().into_iter().map(|(_, t)| t).collect::<Vec<_>>().join("\n")
    }

    async fn status(&self) -> Status {
        self.app.store.ticket(&self.app.workspace(), &self.key).await.unwrap().status
    }
}

async fn a_fix_on_github_becomes_a_pull_request_merged_through_the_api(url: &str) {
    let t = team(url, Some(app_credentials())).await;
    t.to_pr_gate().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "{}", t.said());

    // The app's JWT minted the installation token; the API calls and git carried it.
    assert!(!t.github.calls("POST", &format!("/app/installations/{INSTALLATION}/access_tokens")).is_empty());
    assert!(t.github.git_served() > 0, "git went through the fake GitHub");
    assert_eq!(t.github.git_refused(), 0, "every git request carried the token");
    let created = t.github.calls("POST", "/repos/acme/web/pulls");
    assert_eq!(created.len(), 1, "one pull request");
    let pr = &created[0].body;
    let branch = pr["head"].as_str().unwrap().to_string();
    assert_eq!(pr["base"], "main");
    assert!(pr["title"].as_str().unwrap().starts_with(&format!("{}: Greeting says Helo", t.key)));
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains(&format!("Fixes {}", t.key)) && body.contains("greet.sh"), "{body}");
    assert!(body.contains("tests succeeded") && body.contains("fix run #"), "{body}");
    let labels = t.github.calls("POST", "/issues/1/labels");
    assert_eq!(labels[0].body["labels"], serde_json::json!(["pmbot"]));
    let asked = t.github.calls("POST", "/pulls/1/requested_reviewers");
    assert_eq!(asked[0].body["reviewers"], serde_json::json!(["octocat"]));
    assert_eq!(asked[0].body["team_reviewers"], serde_json::json!(["web-team"]));
    assert!(t.said().contains("https://github.com/acme/web/pull/1"), "the thread links the PR: {}", t.said());
    assert_eq!(t.status().await, Status::InReview);
    assert!(t.repo.on_main("greet.sh").contains("Helo"), "nothing merged before gate 2");

    // The token never lands on disk, in the thread or in the run's record.
    let clone = t._work.path().join("repos/web/.git/config");
    let config = std::fs::read_to_string(&clone).unwrap_or_default();
    assert!(!config.is_empty() && !config.contains(TOKEN) && !config.contains("extraheader"), "{config}");
    let data = t.run().await.data.to_string();
    assert!(!data.contains(TOKEN) && !t.said().contains(TOKEN));

    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    let run = t.run().await;
    assert_eq!(run.state, Completed, "{}", t.said());
    let merges = t.github.calls("PUT", "/pulls/1/merge");
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].body["merge_method"], "squash");
    assert_eq!(merges[0].body["sha"], run.data["pr"]["head"], "exactly the approved head is merged");
    assert!(t.repo.on_main("greet.sh").contains("Hello"), "merged on GitHub");
    assert_eq!(t.github.calls("DELETE", &format!("/git/refs/heads/{branch}")).len(), 1, "the branch is deleted");
    assert_eq!(t.status().await, Status::Done);
}

async fn rate_limits_and_server_errors_are_waited_out(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    // A secondary rate limit with Retry-After, then a 502, on opening the pull request.
    t.github.inject(Injected {
        method: "POST",
        path_ends: "/repos/acme/web/pulls",
        status: 403,
        headers: vec![("retry-after", "1".into())],
        body:
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#
                .into(),
    });
    t.github.inject(Injected {
        method: "POST",
        path_ends: "/repos/acme/web/pulls",
        status: 502,
        headers: vec![],
        body: "<html>Bad gateway</html>".into(),
    });
    let started = std::time::Instant::now();
    t.to_pr_gate().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "{}", t.said());
    assert_eq!(t.github.calls("POST", "/repos/acme/web/pulls").len(), 3, "tried again twice");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "waited the second GitHub asked for, then backed off"
    );

    // A primary limit that resets later than is worth waiting: the job snoozes, nothing fails.
    let reset = (chrono::Utc::now().timestamp() + 600).to_string();
    t.github.inject(Injected {
        method: "GET",
        path_ends: "/pulls/1",
        status: 403,
        headers: vec![("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", reset)],
        body: r#"{"message":"API rate limit exceeded for installation ID 42."}"#.into(),
    });
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "still waiting: {}", t.said());
    assert!(t.github.calls("PUT", "/pulls/1/merge").is_empty());
    let jobs = t.app.store.jobs(&t.app.workspace(), None, None, 100).await.unwrap();
    let job = jobs.iter().find(|j| j.kind == "fix.run").unwrap();
    assert!(job.run_at > now() + chrono::Duration::minutes(9), "snoozed until the reset: {job:?}");
}

async fn a_pull_request_github_cannot_merge_is_told_in_words(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    t.to_pr_gate().await;
    t.github.inject(Injected {
        method: "PUT",
        path_ends: "/pulls/1/merge",
        status: 405,
        headers: vec![],
        body: r#"{"message":"Pull Request is not mergeable","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}"#.into(),
    });
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Error);
    let said = t.said();
    assert!(said.contains("GitHub said 405: Pull Request is not mergeable"), "{said}");
    assert!(said.contains("cannot merge it as it is"), "{said}");
    assert!(t.repo.on_main("greet.sh").contains("Helo"), "nothing merged");
    assert_eq!(t.status().await, Status::Todo, "the ticket goes back with the reason");
}

async fn without_credentials_the_github_forge_says_what_is_missing(url: &str) {
    let t = team(url, None).await;
    let out =
        t.bot.handle(&Inbound::Mention { origin: origin("pat"), text: format!("@pmbot fix {}", t.key) }, now()).await;
    assert!(text_of(&out).contains("handed"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.said().contains("GITHUB_TOKEN"), "{}", t.said());
    assert!(t.github.requests().is_empty() && t.github.git_served() == 0);
}

// ── Webhooks ─────────────────────────────────────────────────────────────────────────────

async fn every_recorded_github_delivery_gets_a_2xx_or_a_clean_4xx(url: &str) {
    let t = team(url, None).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github");
    let mut delivered = 0;
    for event in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        let name = event.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&event).unwrap().map(|e| e.unwrap().path()) {
            let body = std::fs::read(&file).unwrap();
            let status = t.deliver_as(&name, &delivery(), &body, Some(sign(&body))).await;
            assert!((200..300).contains(&status), "{}: {status}", file.display());
            delivered += 1;
        }
    }
    assert_eq!(delivered, 19);
    t.worker.run_until_idle().await;
    assert!(t.failed_jobs().await.is_empty(), "{:#?}", t.failed_jobs().await);
    // The recorded issue was opened in Codertocat/Hello-World, APP's intake: it is a ticket.
    let links = t.app.store.github_issue(&t.app.workspace(), "Codertocat/Hello-World", 1).await.unwrap();
    let ticket = t.ticket(&links.expect("the issue is linked").ticket_key.parse().unwrap()).await;
    assert_eq!(ticket.project, "APP");
    assert_eq!(ticket.title, "Spelling error in the README file");
}

async fn unsigned_or_malformed_deliveries_are_refused_and_redeliveries_are_one_job(url: &str) {
    let t = team(url, None).await;
    let body = serde_json::to_vec(&fixture("issues/opened.payload.json")).unwrap();
    assert_eq!(t.deliver_as("issues", &delivery(), &body, None).await, 401);
    assert_eq!(t.deliver_as("issues", &delivery(), &body, Some("sha256=00".into())).await, 401);
    let forged = sign(b"something else");
    assert_eq!(t.deliver_as("issues", &delivery(), &body, Some(forged)).await, 401);
    assert_eq!(t.deliver_as("issues", "", &body, Some(sign(&body))).await, 400, "no delivery id");
    assert_eq!(t.deliver_as("issues", &delivery(), b"not json", Some(sign(b"not json"))).await, 400);
    assert_eq!(t.deliver_as("pull_request", &delivery(), b"{}", Some(sign(b"{}"))).await, 400);
    let jobs = t.app.store.jobs(&t.app.workspace(), None, None, 100).await.unwrap();
    assert!(jobs.iter().all(|j| j.kind != "github.event"), "nothing refused was recorded");

    let id = delivery();
    for _ in 0..3 {
        assert_eq!(t.deliver_as("issues", &id, &body, Some(sign(&body))).await, 202);
    }
    let jobs = t.app.store.jobs(&t.app.workspace(), None, None, 100).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == "github.event").count(), 1, "a redelivery is the same job");
    t.worker.run_until_idle().await;
    let all = t.app.store.tickets(&t.app.workspace(), &pmbot::store::TicketFilter::default()).await.unwrap();
    assert_eq!(all.iter().filter(|x| x.title == "Spelling error in the README file").count(), 1);

    // Without GITHUB_WEBHOOK_SECRET the endpoint is not there at all.
    let config = pmbot::config::load::parse(std::path::Path::new("built-in"), pmbot::config::BUILT_IN).unwrap();
    let mut app = App::open(config, Some(url)).await.unwrap();
    app.github_webhook_secret = None;
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let status = t.http.post(format!("http://{addr}/github/webhook")).body(body).send().await.unwrap().status();
    assert_eq!(status, 404);
}

async fn a_pull_request_naming_a_ticket_moves_it_to_review_then_done(url: &str) {
    let t = team(url, None).await;
    let key = t.new_ticket("APP", "Login button does nothing").await;
    let mut opened = fixture("pull_request/opened.payload.json");
    opened["pull_request"]["title"] = json!(format!("{key}: wire the login button"));
    assert_eq!(t.deliver("pull_request", &opened).await, 202);
    assert_eq!(t.ticket(&key).await.status, Status::InReview);
    let links = t.app.store.github_links_of(&t.app.workspace(), key.as_str()).await.unwrap();
    assert_eq!((links[0].number, links[0].state.as_str()), (2, "open"));
    let open = t.app.store.open_pulls(&t.app.workspace()).await.unwrap();
    assert_eq!(open.len(), 1);

    let mut merged = fixture("pull_request/closed.payload.json");
    merged["pull_request"]["title"] = json!(format!("{key}: wire the login button"));
    merged["pull_request"]["merged"] = json!(true);
    merged["pull_request"]["merged_at"] = json!("2019-05-15T15:20:40Z");
    assert_eq!(t.deliver("pull_request", &merged).await, 202);
    assert_eq!(t.ticket(&key).await.status, Status::Done);
    assert!(t.app.store.open_pulls(&t.app.workspace()).await.unwrap().is_empty());
    let log = t.app.store.decisions(&t.app.workspace(), Some(key.as_str()), 50).await.unwrap();
    assert!(log.iter().any(|d| d.actor == "github" && d.inputs["to"] == "done"), "{log:#?}");

    // Someone GitHub knows but the team does not: their pull request links and moves nothing.
    let other = t.new_ticket("APP", "Dark mode").await;
    let mut stranger = fixture("pull_request/opened.payload.json");
    stranger["pull_request"]["title"] = json!(format!("{other}: dark mode"));
    stranger["pull_request"]["user"]["login"] = json!("drive-by-user");
    stranger["sender"]["login"] = json!("drive-by-user");
    assert_eq!(t.deliver("pull_request", &stranger).await, 202);
    assert_eq!(t.ticket(&other).await.status, Status::InProgress, "not moved");
    let log = t.app.store.decisions(&t.app.workspace(), Some(other.as_str()), 10).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "github.pull_request" && d.outcome == "refused"), "{log:#?}");
    // A key of another project, or no ticket at all, links nothing and moves nothing.
    let mut stray = fixture("pull_request/opened.payload.json");
    stray["pull_request"]["title"] = json!("UTF-8 handling, see RFC-3629");
    assert_eq!(t.deliver("pull_request", &stray).await, 202);
    assert!(t.failed_jobs().await.is_empty());
}

async fn a_review_approval_on_github_decides_the_pr_gate_for_a_person_of_the_team(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    t.to_pr_gate().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval);
    // Someone GitHub knows but pmbot does not: their approval counts for nothing.
    let mut review = t.about_run_pr("pull_request_review/submitted.payload.json", 1);
    review["review"]["state"] = json!("approved");
    // An approval of another commit (the recorded one) approves nothing here.
    review["review"]["user"]["login"] = json!("pat-gh");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    assert_eq!(t.run().await.state, AwaitingPrApproval);
    let log = t.app.store.decisions(&t.app.workspace(), Some(t.key.as_str()), 100).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "github.review" && d.rationale.contains("not of the head")), "{log:#?}");
    review["review"]["commit_id"] = t.run().await.data["pr"]["head"].clone();
    review["review"]["user"]["login"] = json!("drive-by-user");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    assert_eq!(t.run().await.state, AwaitingPrApproval);
    let log = t.app.store.decisions(&t.app.workspace(), Some(t.key.as_str()), 100).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "github.review" && d.outcome == "refused"), "{log:#?}");
    // Ana approved the SPEC; the gate wants someone else, so her GitHub approval is refused too.
    review["review"]["user"]["login"] = json!("ana-gh");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    assert_eq!(t.run().await.state, AwaitingPrApproval);
    // Pat (a PM, pat-gh on GitHub) approves there: the gate is decided and the PR merged.
    review["review"]["user"]["login"] = json!("pat-gh");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    assert_eq!(t.run().await.state, Completed, "{}", t.said());
    assert_eq!(t.github.calls("PUT", "/pulls/1/merge").len(), 1);
    assert!(t.said().contains("Pat Morgan approved"), "{}", t.said());
}

async fn a_pull_request_merged_on_github_completes_its_run(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    t.to_pr_gate().await;
    let mut closed = t.about_run_pr("pull_request/closed.payload.json", 1);
    closed["pull_request"]["merged"] = json!(true);
    closed["pull_request"]["merge_commit_sha"] = json!("c4295bd74fb0f4d6d8d6e4ce1fa2ba1e2e8d0e07");
    assert_eq!(t.deliver("pull_request", &closed).await, 202);
    let run = t.run().await;
    assert_eq!(run.state, Completed, "{}", t.said());
    assert_eq!(run.data["merged"], "c4295bd74fb0f4d6d8d6e4ce1fa2ba1e2e8d0e07");
    assert!(t.github.calls("PUT", "/pulls/1/merge").is_empty(), "merged on GitHub, not again by pmbot");
    assert!(t.said().contains("merged pull request #1 on GitHub"), "{}", t.said());
    assert_eq!(t.status().await, Status::Done);
    // The same delivery again changes nothing.
    assert_eq!(t.deliver("pull_request", &closed).await, 202);
    assert!(t.failed_jobs().await.is_empty());
}

async fn a_pull_request_closed_on_github_cancels_its_run(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    t.to_pr_gate().await;
    let closed = t.about_run_pr("pull_request/closed.payload.json", 1);
    assert_eq!(t.deliver("pull_request", &closed).await, 202);
    assert_eq!(t.run().await.state, Cancelled, "{}", t.said());
    assert!(t.said().contains("closed pull request #1 on GitHub"), "{}", t.said());
    let pending = t.app.store.pending_approvals(&t.app.workspace()).await.unwrap();
    assert!(pending.is_empty(), "the gate is closed: {pending:#?}");
}

async fn issues_become_tickets_with_their_comments_and_a_label_queues_a_fix(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    assert_eq!(t.deliver("issues", &fixture("issues/opened.payload.json")).await, 202);
    let link = t.app.store.github_issue(&t.app.workspace(), "Codertocat/Hello-World", 1).await.unwrap().unwrap();
    let key: TicketKey = link.ticket_key.parse().unwrap();
    let ticket = t.ticket(&key).await;
    assert_eq!((ticket.project.as_str(), ticket.status), ("APP", Status::Todo));
    assert!(ticket.description.contains("https://github.com/Codertocat/Hello-World/issues/1"));
    assert!(ticket.labels.contains(&"github".to_string()));
    // The reporter is told the key on the issue.
    let told = t.github.calls("POST", "/repos/Codertocat/Hello-World/issues/1/comments");
    assert!(told[0].body["body"].as_str().unwrap().contains(key.as_str()), "{told:?}");

    assert_eq!(t.deliver("issue_comment", &fixture("issue_comment/created.payload.json")).await, 202);
    assert_eq!(t.deliver("issue_comment", &fixture("issue_comment/created.payload.json")).await, 202);
    let comments = t.app.store.comments(&t.app.workspace(), &key).await.unwrap();
    assert_eq!(
        comments.iter().filter(|c| c.body.contains("on GitHub: You are totally right!")).count(),
        1,
        "{comments:#?}"
    );

    // Labelled pmbot-fix by Codertocat, who is Ben (a member): members may not start fixes.
    let mut labeled = fixture("issues/labeled.payload.json");
    labeled["label"]["name"] = json!("pmbot-fix");
    assert_eq!(t.deliver("issues", &labeled).await, 202);
    assert!(t.app.store.fix_runs_of(&t.app.workspace(), &key).await.unwrap().is_empty());
    let log = t.app.store.decisions(&t.app.workspace(), Some(key.as_str()), 50).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "fix.start" && d.outcome == "refused" && d.actor == "ben"), "{log:#?}");
    // By Ana (a lead): the ticket goes to the AI queue, its SPEC still waiting for an approver.
    labeled["sender"]["login"] = json!("ana-gh");
    assert_eq!(t.deliver("issues", &labeled).await, 202);
    let runs = t.app.store.fix_runs_of(&t.app.workspace(), &key).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].requested_by, "ana");
    // APP has no AI queue of its own: the run says so and hands the ticket back.
    assert_eq!(runs[0].state, Cancelled);
    assert!(t.said().contains("no [projects.fix] repository"), "{}", t.said());

    let mut closed = fixture("issues/reopened.payload.json");
    closed["action"] = json!("closed");
    assert_eq!(t.deliver("issues", &closed).await, 202);
    assert_eq!(t.ticket(&key).await.status, Status::Done);

    // When its fix is merged, the issue hears it (once).
    let env = t.app.job_env(t.chat.clone());
    for _ in 0..2 {
        pmbot::intake::reply::tell_reporters(&env, &key, 3, pmbot::intake::reply::News::Merged, now()).await.unwrap();
    }
    let told = t.github.calls("POST", "/repos/Codertocat/Hello-World/issues/1/comments");
    assert_eq!(told.len(), 2, "the key, then the news: {told:?}");
    assert!(told[1].body["body"].as_str().unwrap().contains("is fixed"), "{told:?}");
}

async fn a_ci_failure_on_the_runs_branch_stops_the_merge(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    t.to_pr_gate().await;
    let run = t.run().await;
    let (branch, head) = (run.data["branch"].as_str().unwrap(), run.data["pr"]["head"].as_str().unwrap());
    let mut check = fixture("check_run/completed.payload.json");
    check["repository"]["full_name"] = json!("acme/web");
    check["check_run"]["check_suite"]["head_branch"] = json!(branch);
    check["check_run"]["head_sha"] = json!(head);
    check["check_run"]["conclusion"] = json!("failure");
    assert_eq!(t.deliver("check_run", &check).await, 202);
    assert!(t.said().contains("❌ CI on GitHub: Octocoders-linter failure"), "{}", t.said());
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.said().contains("the team's CI failed on the approved head"), "{}", t.said());
    assert!(t.github.calls("PUT", "/pulls/1/merge").is_empty(), "nothing merged");
}

async fn a_push_to_the_default_branch_refreshes_the_repositorys_knowledge(url: &str) {
    let t = team(url, Some(Credentials::Token(TOKEN.into()))).await;
    let mut push = fixture("push/payload.json");
    push["repository"]["full_name"] = json!("acme/web");
    push["repository"]["default_branch"] = json!("main");
    push["ref"] = json!("refs/heads/main");
    assert_eq!(t.deliver("push", &push).await, 202);
    let log = t.app.store.decisions(&t.app.workspace(), Some("WEB"), 50).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "github.push" && d.rationale.contains("scanned again")), "{log:#?}");
    assert!(t._work.path().join("repos/web/.git").exists(), "pmbot's clone was fetched");
    assert!(t.github.git_served() > 0);
}

async fn the_standup_lists_pull_requests_waiting_for_review(url: &str) {
    let t = team(url, None).await;
    let key = t.new_ticket("APP", "Export to CSV").await;
    let mut opened = fixture("pull_request/opened.payload.json");
    opened["pull_request"]["title"] = json!(format!("{key}: CSV export"));
    assert_eq!(t.deliver("pull_request", &opened).await, 202);
    let standup = |now| {
        let app = &t.app;
        async move {
            let ws = app.workspace();
            let built = pmbot::workflows::standup::build(
                &app.store,
                &ws,
                &app.config,
                &app.templates,
                None,
                pmbot::workflows::standup::Audience::Team,
                now,
            );
            built.await.unwrap().fallback_text()
        }
    };
    // Opened in 2019 (the recorded payload): long waiting, nobody reviewed it.
    let text = standup(now()).await;
    assert!(text.contains("Code review"), "{text}");
    assert!(text.contains(&format!("{key}* PR #2")) && text.contains("waiting for review"), "{text}");
    assert!(text.contains("https://github.com/Codertocat/Hello-World/pull/2"), "{text}");

    let mut review = fixture("pull_request_review/submitted.payload.json");
    review["review"]["state"] = json!("changes_requested");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    let text = standup(now()).await;
    assert!(text.contains("changes requested"), "{text}");

    review["review"]["state"] = json!("approved");
    assert_eq!(t.deliver("pull_request_review", &review).await, 202);
    let text = standup(now()).await;
    assert!(!text.contains("Code review"), "an approved pull request waits on nobody: {text}");
}

async fn a_draft_is_ready_for_review_once_the_teams_ci_passes(url: &str) {
    let t = team_with(url, Some(Credentials::Token(TOKEN.into())), |c| c.fix.draft = true).await;
    t.to_pr_gate().await;
    let created = t.github.calls("POST", "/repos/acme/web/pulls");
    assert_eq!(created[0].body["draft"], true, "opened as a draft");
    let run = t.run().await;
    assert_eq!(run.data["pr"]["draft"], true);
    let (branch, head) = (run.data["branch"].as_str().unwrap(), run.data["pr"]["head"].as_str().unwrap());
    let mut check = fixture("check_run/completed.payload.json");
    check["repository"]["full_name"] = json!("acme/web");
    check["check_run"]["check_suite"]["head_branch"] = json!(branch);
    check["check_run"]["head_sha"] = json!(head);
    assert_eq!(check["check_run"]["conclusion"], "success");
    assert_eq!(t.deliver("check_run", &check).await, 202);
    let asked = t.github.calls("POST", "/graphql");
    assert_eq!(asked.len(), 1, "marked ready once");
    // The recorded pull request's own node id.
    let node_id = fixture("pull_request/opened.payload.json")["pull_request"]["node_id"].clone();
    assert_eq!(asked[0].body["variables"]["id"], node_id);
    assert_eq!(t.run().await.data["pr"]["draft"], false);
    assert!(t.said().contains("no longer a draft: ready for review"), "{}", t.said());
}

async fn a_merged_fix_is_reverted_by_a_revert_pull_request(url: &str) {
    // The repository's own test expects the fix, so the gate here is a syntax check.
    let t = team_with(url, Some(app_credentials()), |c| {
        c.fix.gates = vec![toml::from_str("name = \"syntax\"\ncommand = \"sh -n greet.sh\"").unwrap()];
    })
    .await;
    t.to_pr_gate().await;
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert!(t.repo.on_main("greet.sh").contains("Hello"), "squashed onto main on GitHub");

    let revert = format!("@pmbot fix revert {}", t.key);
    let out = t.bot.handle(&Inbound::Mention { origin: origin("pat"), text: revert }, now()).await;
    assert!(text_of(&out).contains("asked to revert"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    t.press("ana", "Approve SPEC").await;
    t.worker.run_until_idle().await;
    let created = t.github.calls("POST", "/repos/acme/web/pulls");
    assert_eq!(created.len(), 2, "a second pull request: the revert");
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    let runs = t.app.store.fix_runs_of(&t.app.workspace(), &t.key).await.unwrap();
    assert_eq!((runs.len(), runs[0].state, runs[1].state), (2, Completed, Completed), "{}", t.said());
    assert_eq!(t.github.calls("PUT", "/pulls/2/merge").len(), 1);
    assert!(t.repo.on_main("greet.sh").contains("Helo,"), "reverted: {}", t.repo.on_main("greet.sh"));
    assert_eq!(t.status().await, Status::Todo, "the ticket is open again");
}

async fn on_github_enterprise_the_api_and_graphql_are_found_under_api(url: &str) {
    let t = team_on(url, Some(app_credentials()), "/api/v3", |c| c.fix.draft = true).await;
    t.to_pr_gate().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "{}", t.said());
    let run = t.run().await;
    let (branch, head) = (run.data["branch"].as_str().unwrap(), run.data["pr"]["head"].as_str().unwrap());
    let mut check = fixture("check_run/completed.payload.json");
    check["repository"]["full_name"] = json!("acme/web");
    check["check_run"]["check_suite"]["head_branch"] = json!(branch);
    check["check_run"]["head_sha"] = json!(head);
    assert_eq!(t.deliver("check_run", &check).await, 202);
    let asked = t.github.calls("POST", "/graphql");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].raw_path, "/api/graphql", "GraphQL is beside the REST API on GitHub Enterprise");
    let rest = t.github.calls("POST", "/repos/acme/web/pulls");
    assert_eq!(rest[0].raw_path, "/api/v3/repos/acme/web/pulls");
    assert_eq!(asked[0].auth.as_deref(), Some(format!("Bearer {TOKEN}").as_str()), "with the installation's token");
    assert!(t.said().contains("no longer a draft"), "{}", t.said());
}
