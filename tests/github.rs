//! GitHub as the AI queue's forge: the run's branch pushed over HTTPS with the GitHub App's
//! installation token, the pull request opened, reviewers asked, the approved head merged
//! through the API and the branch deleted — against a local GitHub answering with recorded
//! payloads and serving git through the real `git http-backend`; on SQLite and PostgreSQL.

mod common;

use common::github::{FakeGithub, Injected, APP_ID, INSTALLATION, TOKEN};
use common::repo::{Repo, GOOD_AGENT};
use common::{seeded_app, t0, text_of, RecordingChat};
use pmbot::app::App;
use pmbot::board::{NewTicket, RunState, Status, TicketKey};
use pmbot::chat::{Inbound, MessageRef, Origin, Platform};
use pmbot::dispatch::Bot;
use pmbot::forge::github::{Credentials, Github, GithubSettings};
use pmbot::jobs::JobEnv;
use pmbot::queue::{Clock, Worker};
use pmbot::service::{Actor, BoardService, Ctx};
use std::sync::Arc;
use RunState::*;

on_both_backends!(
    url:
    a_fix_on_github_becomes_a_pull_request_merged_through_the_api,
    rate_limits_and_server_errors_are_waited_out,
    a_pull_request_github_cannot_merge_is_told_in_words,
    without_credentials_the_github_forge_says_what_is_missing,
);

struct Team {
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
    })
    .await;
    app.github = credentials.map(|credentials| {
        let mut client = Github::new(&GithubSettings { api_url: github.url.clone(), credentials }).unwrap();
        client.max_wait = std::time::Duration::from_secs(3);
        Arc::new(client)
    });
    let board = BoardService::new(app.store.clone(), app.workspace());
    let mut new = NewTicket::new("WEB", "Greeting says Helo instead of Hello").unwrap();
    new.status = Status::Todo;
    new.reporter = Some("chloe".into());
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(t0())).await.unwrap();
    let chat = Arc::new(RecordingChat::default());
    let clock: Clock = Arc::new(t0);
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    Team { bot: app.bot(), app, worker, chat, repo, github, key: ticket.key, _work: work }
}

fn origin(user: &str) -> Origin {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let ts = format!("1.{:06}", SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    Origin { platform: Platform::Shell, channel: "#acme-web".into(), user: user.into(), ts, thread: None }
}

impl Team {
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
        self.bot.handle(&action, t0()).await;
    }

    /// Starts the run and approves its SPEC; the worker runs until the PR gate (or an end).
    async fn to_pr_gate(&self) {
        let out = self
            .bot
            .handle(&Inbound::Mention { origin: origin("pat"), text: format!("@pmbot fix {}", self.key) }, t0())
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
    assert!(job.run_at > t0() + chrono::Duration::minutes(9), "snoozed until the reset: {job:?}");
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
        t.bot.handle(&Inbound::Mention { origin: origin("pat"), text: format!("@pmbot fix {}", t.key) }, t0()).await;
    assert!(text_of(&out).contains("handed"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.said().contains("GITHUB_TOKEN"), "{}", t.said());
    assert!(t.github.requests().is_empty() && t.github.git_served() == 0);
}
