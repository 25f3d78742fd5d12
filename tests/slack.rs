//! pmbot in Slack, offline: the real slack-morphism client talks to a local fake Slack that
//! records what it was sent, and inbound requests are signed exactly as Slack signs them.

mod common;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use pmbot::app::App;
use pmbot::chat::slack::{SlackChat, SlackSettings};
use pmbot::config::{load::parse, SlackEnv, BUILT_IN};
use pmbot::jobs::JobEnv;
use pmbot::queue::Worker;
use serde_json::{json, Value};
use sha2::Sha256;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// What the fake Slack was asked, and how it should answer.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<(String, Value)>>,
    /// chat.postMessage answers 429 this many times first.
    rate_limited: Mutex<u32>,
    /// Where the fake listens (for the upload URL it hands out).
    addr: Mutex<Option<SocketAddr>>,
    /// Bytes received at upload URLs.
    uploaded: Mutex<Vec<Vec<u8>>>,
}

impl Fake {
    fn calls(&self, method: &str) -> Vec<Value> {
        self.calls.lock().unwrap().iter().filter(|(m, _)| m == method).map(|(_, body)| body.clone()).collect()
    }
}

async fn api(State(fake): State<Arc<Fake>>, UrlPath(method): UrlPath<String>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if method == "chat.postMessage" {
        let mut limited = fake.rate_limited.lock().unwrap();
        if *limited > 0 {
            *limited -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response();
        }
    }
    fake.calls.lock().unwrap().push((method.clone(), body.clone()));
    let channel = body["channel"].as_str().unwrap_or("C0").to_string();
    if channel == "CNOTIN" {
        return Json(json!({"ok": false, "error": "not_in_channel"})).into_response();
    }
    // Shaped like Slack's own answers (https://api.slack.com/methods).
    let ts = format!("1700000000.{:06}", fake.calls.lock().unwrap().len());
    let answer = match method.as_str() {
        "chat.postMessage" => json!({"ok": true, "channel": channel, "ts": ts,
            "message": {"type": "message", "text": body["text"], "user": "U0BOT", "bot_id": "B0BOT", "ts": ts}}),
        "chat.update" => json!({"ok": true, "channel": channel, "ts": body["ts"], "text": body["text"],
            "message": {"type": "message", "text": body["text"], "user": "U0BOT", "bot_id": "B0BOT", "ts": body["ts"]}}),
        "conversations.open" => json!({"ok": true, "channel": {"id": "D0ANA"}}),
        "views.publish" | "views.open" => {
            let mut view = body["view"].clone();
            view["id"] = json!("V0HOME");
            view["team_id"] = json!("T1");
            view["hash"] = json!("1700000000.abcdef");
            view["state"] = json!({"values": {}});
            json!({"ok": true, "view": view})
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": "1700000000.000999"}),
        // Files upload v2 (https://api.slack.com/messaging/files#uploading_files).
        "files.getUploadURLExternal" => {
            let addr = fake.addr.lock().unwrap().unwrap();
            json!({"ok": true, "upload_url": format!("http://{addr}/upload/F0WORKBOOK"), "file_id": "F0WORKBOOK"})
        }
        "files.completeUploadExternal" => {
            json!({"ok": true, "files": [{"id": "F0WORKBOOK", "title": body["files"][0]["title"]}]})
        }
        "chat.getPermalink" => json!({"ok": true, "channel": "C0WEB",
            "permalink": "https://acme.slack.com/archives/C0WEB/p1700000600000100"}),
        _ => json!({"ok": true}),
    };
    Json(answer).into_response()
}

async fn respond(State(fake): State<Arc<Fake>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.calls.lock().unwrap().push((format!("response/{id}"), body));
    Json(json!({"ok": true})).into_response()
}

/// Slack's upload URL takes the raw bytes and answers in plain text.
async fn upload(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    let size = body.len();
    fake.uploaded.lock().unwrap().push(body.to_vec());
    format!("OK - {size}").into_response()
}

async fn start_fake() -> (SocketAddr, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let router = Router::new()
        .route("/api/{method}", post(api).get(api))
        .route("/response/{id}", post(respond))
        .route("/upload/{id}", post(upload))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    *fake.addr.lock().unwrap() = Some(addr);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, fake)
}

struct Harness {
    base: String,
    fake_addr: SocketAddr,
    fake: Arc<Fake>,
    worker: Worker<JobEnv<SlackChat>>,
    app: App,
    http: reqwest::Client,
}

/// Pat (PM) is U01PATMRGN, Ana (lead) U01ANASOUS, and here Ben (member) U0BEN.
async fn harness(url: &str) -> Harness {
    harness_with(url, |_| {}).await
}

async fn harness_with(url: &str, change: impl FnOnce(&mut pmbot::config::Config)) -> Harness {
    let (fake_addr, fake) = start_fake().await;
    let mut config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    config.people[2].slack_id = Some("U0BEN".into());
    change(&mut config);
    let mut app = App::open(config, Some(url)).await.unwrap();
    app.slack = Some(SlackEnv {
        bot_token: "xoxb-test".into(),
        signing_secret: Some(SECRET.into()),
        app_token: None,
        api_url: format!("http://{fake_addr}/api"),
        team_id: Some("T1".into()),
        app_id: None,
    });
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, chrono::Utc::now(), false).await.unwrap();
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let chat = Arc::new(SlackChat::new(&SlackSettings {
        bot_token: "xoxb-test".into(),
        api_url: format!("http://{fake_addr}/api"),
    }));
    let worker = app.slack_worker(chat).unwrap();
    Harness { base: format!("http://{addr}"), fake_addr, fake, worker, app, http: reqwest::Client::new() }
}

fn sign(body: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl Harness {
    async fn send(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        let now = chrono::Utc::now().timestamp();
        self.send_signed(path, content_type, body, now, Some(sign(body, now))).await
    }

    async fn send_signed(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        timestamp: i64,
        signature: Option<String>,
    ) -> reqwest::Response {
        let mut request =
            self.http.post(format!("{}{path}", self.base)).header("content-type", content_type).body(body.to_string());
        if let Some(signature) = signature {
            request = request
                .header("x-slack-signature", signature)
                .header("x-slack-request-timestamp", timestamp.to_string());
        }
        request.send().await.unwrap()
    }

    async fn event(&self, event_id: &str, event: Value) -> reqwest::Response {
        let body = json!({"type": "event_callback", "team_id": "T1", "event_id": event_id, "event": event}).to_string();
        self.send("/slack/events", "application/json", &body).await
    }

    async fn command(&self, user: &str, channel: &str, command: &str, text: &str) -> reqwest::Response {
        let response_url = format!("http://{}/response/{}", self.fake_addr, rand_id());
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("command", command)
            .append_pair("text", text)
            .append_pair("user_id", user)
            .append_pair("channel_id", channel)
            .append_pair("team_id", "T1")
            .append_pair("trigger_id", &rand_id())
            .append_pair("response_url", &response_url)
            .finish();
        self.send("/slack/commands", "application/x-www-form-urlencoded", &body).await
    }

    async fn press(&self, user: &str, action_id: &str, value: &str) -> reqwest::Response {
        let payload = json!({
            "type": "block_actions", "team": {"id": "T1"}, "trigger_id": rand_id(), "user": {"id": user}, "channel": {"id": "C0WEB"},
            "container": {"message_ts": "1700000000.000001", "channel_id": "C0WEB"},
            "response_url": format!("http://{}/response/press", self.fake_addr),
            "actions": [{"action_id": action_id, "value": value, "action_ts": rand_id()}]
        });
        let body =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        self.send("/slack/interactions", "application/x-www-form-urlencoded", &body).await
    }
}

impl Harness {
    /// A worker an hour ahead, for which the retries are due.
    fn later_worker(&self) -> Worker<JobEnv<SlackChat>> {
        let chat = Arc::new(SlackChat::new(&SlackSettings {
            bot_token: "xoxb-test".into(),
            api_url: format!("http://{}/api", self.fake_addr),
        }));
        let clock: pmbot::queue::Clock = Arc::new(|| chrono::Utc::now() + chrono::Duration::hours(1));
        self.app.slack_worker(chat).unwrap().with_clock(clock)
    }

    /// Every job ran cleanly: no attempt failed (a failed send would be retried and could
    /// post twice).
    async fn assert_no_failed_attempts(&self) {
        let jobs = self.app.store.jobs(&self.app.workspace(), None, None, 1000).await.unwrap();
        let failed: Vec<_> =
            jobs.iter().filter(|j| !j.errors.is_empty()).map(|j| (j.kind.clone(), j.errors.clone())).collect();
        assert!(failed.is_empty(), "{failed:#?}");
    }
}

fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}.{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

fn text_of(body: &Value) -> String {
    body.to_string()
}

on_both_backends!(
    url:
    signatures_are_checked_before_anything_else,
    another_workspace_is_refused_even_when_signed,
    url_verification_echoes_the_challenge,
    a_mention_delivered_twice_gets_one_threaded_reply,
    standup_by_slash_command_is_posted_in_the_channel,
    a_pm_approves_with_a_button_and_a_member_is_refused,
    a_command_run_again_after_a_crash_makes_one_ticket_and_one_answer,
    a_rate_limited_post_waits_and_succeeds,
    not_being_in_the_channel_is_said_to_whoever_asked,
    every_recorded_slack_payload_gets_a_2xx_or_a_clean_4xx,
    bad_bodies_get_clear_4xx,
    random_signed_bodies_never_get_a_5xx,
    the_app_home_shows_what_waits_on_you,
    needs_changes_opens_a_form_and_its_answer_is_recorded,
    a_direct_message_to_the_bot_is_answered,
    a_newcomer_to_a_channel_gets_a_hello_and_a_stranger_a_way_in,
    a_channel_message_is_matched_and_answered_in_its_thread,
    a_request_becomes_a_ticket_that_links_back_to_the_conversation,
    the_month_end_workbook_is_shared_as_a_file,
    a_fix_run_is_approved_twice_with_slack_buttons,
);

/// The AI queue through Slack: `/fix`, the SPEC card's button pressed by a lead, the pull
/// request's by the PM (a member's press refused), each step in the run's thread.
async fn a_fix_run_is_approved_twice_with_slack_buttons(url: &str) {
    use pmbot::board::{NewTicket, RunState, Status};
    use pmbot::service::{Actor, BoardService, Ctx};
    let repo = common::repo::Repo::new();
    let work = tempfile::tempdir().unwrap();
    let h = harness_with(url, |c| repo.configure(c, work.path(), common::repo::GOOD_AGENT)).await;
    let board = BoardService::new(h.app.store.clone(), h.app.workspace());
    let mut new = NewTicket::new("WEB", "Greeting says Helo instead of Hello").unwrap();
    new.status = Status::Todo;
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(chrono::Utc::now())).await.unwrap();

    assert_eq!(h.command("U01PATMRGN", "C0WEB", "/fix", ticket.key.as_str()).await.status(), 200);
    h.worker.run_until_idle().await;
    let button = |label: &str| {
        let cards = h.fake.calls("chat.postMessage");
        let card = cards
            .iter()
            .rev()
            .find(|p| text_of(p).contains(label))
            .unwrap_or_else(|| panic!("{label}: {cards:#?}"))
            .clone();
        let actions = card["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap().clone();
        let button =
            actions["elements"].as_array().unwrap().iter().find(|e| e["text"]["text"] == label).unwrap().clone();
        (button["action_id"].as_str().unwrap().to_string(), button["value"].as_str().unwrap().to_string())
    };
    let (action, value) = button("Approve SPEC");
    assert_eq!(h.press("U0BEN", &action, &value).await.status(), 200);
    h.worker.run_until_idle().await;
    assert!(text_of(&h.fake.calls("response/press")[0]).contains("Only a PM or lead can decide on this"));
    h.press("U01ANASOUS", &action, &value).await;
    h.worker.run_until_idle().await;
    let (action, value) = button("Approve & merge");
    h.press("U01PATMRGN", &action, &value).await;
    h.worker.run_until_idle().await;

    let runs = h.app.store.fix_runs_of(&h.app.workspace(), &ticket.key).await.unwrap();
    assert_eq!(runs[0].state, RunState::Completed);
    assert!(repo.on_main("greet.sh").contains("Hello"));
    let posts = h.fake.calls("chat.postMessage");
    let root = posts.iter().find(|p| text_of(p).contains("AI fix run")).expect("the run's thread");
    let threaded = posts.iter().filter(|p| text_of(p).contains("→ COMPLETED")).collect::<Vec<_>>();
    assert_eq!(threaded.len(), 1);
    assert!(threaded[0]["thread_ts"].is_string(), "transitions are thread replies: {}", threaded[0]);
    assert_eq!(root["channel"], "C0WEB");
    h.assert_no_failed_attempts().await;
}

async fn the_month_end_workbook_is_shared_as_a_file(url: &str) {
    use pmbot::workflows::agents::{self, Agent};
    let h = harness(url).await;
    let ws = h.app.workspace();
    let chat = SlackChat::new(&SlackSettings {
        bot_token: "xoxb-test".into(),
        api_url: format!("http://{}/api", h.fake_addr),
    });
    let now = chrono::Utc::now();
    let plan = agents::plan(Agent::MonthEnd, &h.app.store, &ws, &h.app.config, &h.app.templates, now).await.unwrap();
    agents::deliver(&plan, &h.app.store, &ws, &h.app.config, &chat, now, false).await.unwrap();
    let asked = h.fake.calls("files.getUploadURLExternal");
    assert_eq!(asked.len(), 1);
    let kept = h.app.store.report(&ws, &plan.attachments[0].1).await.unwrap().unwrap();
    assert_eq!(h.fake.uploaded.lock().unwrap().clone(), [kept], "the workbook's bytes went to the upload URL");
    let shared = h.fake.calls("files.completeUploadExternal");
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0]["channel_id"], "#pm");
    assert_eq!(shared[0]["files"][0]["id"], "F0WORKBOOK");
    assert!(
        shared[0]["initial_comment"].as_str().unwrap().starts_with("📊 Month-end reconciliation for"),
        "{}",
        shared[0]
    );
    assert!(h.fake.calls("chat.postMessage").is_empty(), "the file carries the message");
}

async fn a_channel_message_is_matched_and_answered_in_its_thread(url: &str) {
    let h = harness(url).await;
    let said = json!({"type": "message", "channel_type": "channel", "user": "U01ANASOUS", "text": "WEB-5 is merged and deployed :tada:", "ts": "1700000600.000100", "channel": "C0WEB"});
    assert_eq!(h.event("Ev10", said.clone()).await.status(), 200);
    assert_eq!(h.event("Ev10", said).await.status(), 200);
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(
        (posts[0]["channel"].as_str(), posts[0]["thread_ts"].as_str()),
        (Some("C0WEB"), Some("1700000600.000100"))
    );
    assert!(text_of(&posts[0]).contains("Moved *WEB-5*"), "{}", posts[0]);
    assert!(text_of(&posts[0]).contains("conversation.undo"), "an Undo button: {}", posts[0]);
    let ticket = h.app.store.ticket(&h.app.workspace(), &"WEB-5".parse().unwrap()).await.unwrap();
    assert_eq!(ticket.status, pmbot::board::Status::Done);
    h.assert_no_failed_attempts().await;
}

async fn a_request_becomes_a_ticket_that_links_back_to_the_conversation(url: &str) {
    let h = harness(url).await;
    let said = json!({"type": "message", "channel_type": "channel", "user": "U0BEN", "text": "can we add an export to CSV on the orders page?", "ts": "1700000600.000100", "channel": "C0WEB"});
    h.event("Ev11", said).await;
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    assert!(text_of(&posts[0]).contains("Should I create a ticket"), "{}", posts[0]);
    let yes = posts[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["text"]["text"] == "Yes")
        .unwrap_or_else(|| panic!("a Yes button: {}", posts[0]));
    assert_eq!(
        h.press("U01ANASOUS", yes["action_id"].as_str().unwrap(), yes["value"].as_str().unwrap()).await.status(),
        200
    );
    h.worker.run_until_idle().await;
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    let done = posts.last().unwrap();
    assert!(text_of(done).contains("Created *"), "{done}");
    let key = text_of(done).split('*').nth(1).unwrap().to_string();
    let ticket = h.app.store.ticket(&h.app.workspace(), &key.parse().unwrap()).await.unwrap();
    let link = "https://acme.slack.com/archives/C0WEB/p1700000600000100";
    assert_eq!(ticket.source.url.as_deref(), Some(link));
    assert!(ticket.description.ends_with(&format!("Conversation: {link}")), "{}", ticket.description);
    assert_eq!(ticket.reporter.as_deref(), Some("ben"));
    h.assert_no_failed_attempts().await;
}

async fn signatures_are_checked_before_anything_else(url: &str) {
    let h = harness(url).await;
    let body = r#"{"type":"url_verification","challenge":"c"}"#;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(h.send("/slack/events", "application/json", body).await.status(), 200);
    let forged = h.send_signed("/slack/events", "application/json", body, now, Some(sign("other", now))).await;
    assert_eq!(forged.status(), 401);
    assert_eq!(forged.text().await.unwrap(), "", "no detail for a forger");
    let stale = h.send_signed("/slack/events", "application/json", body, now - 600, Some(sign(body, now - 600))).await;
    assert_eq!(stale.status(), 401);
    let unsigned = h.send_signed("/slack/events", "application/json", body, now, None).await;
    assert_eq!(unsigned.status(), 401);
    let junk = h
        .send_signed(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            "command=%2Fstandup",
            now,
            Some("v0=00".into()),
        )
        .await;
    assert_eq!(junk.status(), 401);
}

async fn another_workspace_is_refused_even_when_signed(url: &str) {
    let h = harness(url).await;
    let event = json!({"type": "app_mention", "user": "U01PATMRGN", "text": "<@U0BOT> board", "ts": "1700000100.000900", "channel": "C0WEB"});
    let body = json!({"type": "event_callback", "team_id": "T9", "event_id": "EvOther", "event": event}).to_string();
    assert_eq!(h.send("/slack/events", "application/json", &body).await.status(), 401);
    let command = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/pm")
        .append_pair("text", "create \"x\"")
        .append_pair("user_id", "U01PATMRGN")
        .append_pair("channel_id", "C0WEB")
        .append_pair("team_id", "T9")
        .append_pair("trigger_id", "t")
        .append_pair("response_url", "http://x/y")
        .finish();
    assert_eq!(h.send("/slack/commands", "application/x-www-form-urlencoded", &command).await.status(), 401);
    let jobs = h.app.store.jobs(&h.app.workspace(), None, None, 100).await.unwrap();
    assert!(jobs.iter().all(|j| !j.kind.starts_with("slack.")), "nothing recorded: {jobs:?}");
}

async fn url_verification_echoes_the_challenge(url: &str) {
    let h = harness(url).await;
    let body =
        r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let answer: Value = h.send("/slack/events", "application/json", body).await.json().await.unwrap();
    assert_eq!(answer["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
}

async fn a_mention_delivered_twice_gets_one_threaded_reply(url: &str) {
    let h = harness(url).await;
    let event = json!({"type": "app_mention", "user": "U01ANASOUS", "text": "<@U0BOT> board blocked", "ts": "1700000100.000200", "channel": "C0WEB", "event_ts": "1700000100.000200"});
    assert_eq!(h.event("Ev01", event.clone()).await.status(), 200);
    assert_eq!(h.event("Ev01", event).await.status(), 200, "Slack's retry is acknowledged too");
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["thread_ts"], "1700000100.000200");
    assert_eq!(posts[0]["channel"], "C0WEB");
    assert!(text_of(&posts[0]).contains("Apple Pay on the checkout screen"), "{}", posts[0]);
    h.assert_no_failed_attempts().await;
}

async fn standup_by_slash_command_is_posted_in_the_channel(url: &str) {
    let h = harness(url).await;
    let ack = h.command("U01PATMRGN", "C0TEAM", "/standup", "").await;
    assert_eq!(ack.status(), 200);
    let ack: Value = ack.json().await.unwrap();
    assert_eq!(
        (ack["response_type"].as_str(), ack["text"].as_str()),
        (Some("ephemeral"), Some("Working on `/standup`…"))
    );
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["channel"], "C0TEAM");
    assert_eq!(posts[0]["blocks"][0]["type"], "header");
    assert!(posts[0]["blocks"][0]["text"]["text"].as_str().unwrap().starts_with("Standup ·"));
    h.assert_no_failed_attempts().await;
    // Done, the jobs keep no response URL or trigger.
    let jobs = h.app.store.jobs(&h.app.workspace(), None, None, 100).await.unwrap();
    assert!(jobs.iter().any(|j| j.kind == "slack.inbound"));
    for job in jobs.iter().filter(|j| j.kind.starts_with("slack.")) {
        let payload = job.payload.to_string();
        assert!(
            !payload.contains("/response/") && !payload.contains("trigger_id\":\"1"),
            "{} kept: {payload}",
            job.kind
        );
    }
}

async fn a_pm_approves_with_a_button_and_a_member_is_refused(url: &str) {
    let h = harness(url).await;
    let mention = json!({"type": "app_mention", "user": "U0BEN", "text": "<@U0BOT> create \"Export invoices\"", "ts": "1700000200.000100", "channel": "C0WEB"});
    h.event("Ev02", mention).await;
    h.worker.run_until_idle().await;
    let card = h
        .fake
        .calls("chat.postMessage")
        .into_iter()
        .find(|p| text_of(p).contains("approval.decide"))
        .expect("the triage card");
    let button =
        card["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap()["elements"][0].clone();
    let (action_id, value) = (button["action_id"].as_str().unwrap(), button["value"].as_str().unwrap());

    assert_eq!(h.press("U0BEN", action_id, value).await.status(), 200);
    h.worker.run_until_idle().await;
    let refused = h.fake.calls("response/press");
    assert!(text_of(&refused[0]).contains("Only a PM or lead can decide on this"), "{refused:?}");

    h.press("U01PATMRGN", action_id, value).await;
    h.worker.run_until_idle().await;
    let updates = h.fake.calls("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["ts"], "1700000000.000001", "the card is updated in place");
    assert!(text_of(&updates[0]).contains("Decision: Pat Morgan approved"), "{}", updates[0]);
    assert!(!text_of(&updates[0]).contains("approval.decide"), "its buttons are gone");
    let said = h.fake.calls("chat.postMessage");
    assert!(text_of(said.last().unwrap()).contains("was accepted into to do by Pat Morgan"), "{said:#?}");
    h.assert_no_failed_attempts().await;
}

async fn a_command_run_again_after_a_crash_makes_one_ticket_and_one_answer(url: &str) {
    let h = harness(url).await;
    let ws = h.app.workspace();
    let before = h.app.store.tickets(&ws, &Default::default()).await.unwrap().len();
    let mention = json!({"type": "app_mention", "user": "U0BEN", "text": "<@U0BOT> create \"Export invoices\"", "ts": "1700000200.000300", "channel": "C0WEB"});
    // The worker dies after the ticket is made and before the answers are enqueued.
    h.app.store.fail_at("inbound.before_answers");
    h.event("Ev05", mention).await;
    h.worker.run_until_idle().await;
    assert_eq!(h.app.store.tickets(&ws, &Default::default()).await.unwrap().len(), before + 1);
    let answers = |h: &Harness| {
        let posts = h.fake.calls("chat.postMessage");
        posts.into_iter().filter(|p| p["thread_ts"] == "1700000200.000300").count()
    };
    assert_eq!(answers(&h), 0, "not answered yet");
    h.later_worker().run_until_idle().await;
    assert_eq!(h.app.store.tickets(&ws, &Default::default()).await.unwrap().len(), before + 1, "one ticket");
    assert_eq!(answers(&h), 1, "one answer");
    let cards = h.fake.calls("chat.postMessage").into_iter().filter(|p| text_of(p).contains("approval.decide")).count();
    assert_eq!(cards, 1, "one triage request");
}

async fn a_rate_limited_post_waits_and_succeeds(url: &str) {
    let h = harness(url).await;
    *h.fake.rate_limited.lock().unwrap() = 1;
    h.command("U01PATMRGN", "C0TEAM", "/standup", "").await;
    let started = std::time::Instant::now();
    h.worker.run_until_idle().await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "Retry-After was honoured");
    assert_eq!(h.fake.calls("chat.postMessage").len(), 1);
}

async fn not_being_in_the_channel_is_said_to_whoever_asked(url: &str) {
    let h = harness(url).await;
    h.command("U01ANASOUS", "CNOTIN", "/standup", "").await;
    h.worker.run_until_idle().await;
    let told: Vec<Value> = h
        .fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _)| m.starts_with("response/"))
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(told.len(), 1);
    assert!(text_of(&told[0]).contains("I'm not in that channel"), "{}", told[0]);
    assert!(text_of(&told[0]).contains("Standup ·"), "and what it would have said");
}

async fn every_recorded_slack_payload_gets_a_2xx_or_a_clean_4xx(url: &str) {
    let h = harness(url).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slack");
    let mut files = Vec::new();
    for dir in ["events", "app-backend"] {
        collect(&root.join(dir), &mut files);
    }
    assert!(files.len() > 90, "the fixtures are there: {}", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.to_string_lossy().to_string();
        let response = if name.contains("/events/") {
            h.send("/slack/events", "application/json", &text).await
        } else if name.contains("slash-commands") {
            let fields: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &fields {
                form.append_pair(k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()).as_str());
            }
            h.send("/slack/commands", "application/x-www-form-urlencoded", &form.finish()).await
        } else {
            let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &text).finish();
            h.send("/slack/interactions", "application/x-www-form-urlencoded", &body).await
        };
        let status = response.status().as_u16();
        assert!((200..500).contains(&status), "{name}: {status}");
    }
    h.worker.run_until_idle().await;
    let stuck = h.app.store.jobs(&h.app.workspace(), Some(pmbot::store::JobState::Running), None, 10).await.unwrap();
    assert!(stuck.is_empty());
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

async fn bad_bodies_get_clear_4xx(url: &str) {
    let h = harness(url).await;
    assert_eq!(h.send("/slack/events", "application/json", "{not json").await.status(), 400);
    assert_eq!(
        h.send("/slack/events", "text/plain", r#"{"type":"url_verification","challenge":"c"}"#).await.status(),
        415
    );
    assert_eq!(h.send("/slack/events", "application/json", r#"{"type":"event_callback"}"#).await.status(), 400);
    assert_eq!(h.send("/slack/interactions", "application/x-www-form-urlencoded", "nothing=here").await.status(), 400);
    assert_eq!(
        h.send("/slack/commands", "application/x-www-form-urlencoded", "command=%2Fstandup").await.status(),
        400
    );
    let huge = "x".repeat(2 << 20);
    let response = h.send("/slack/events", "application/json", &huge).await;
    assert_eq!(response.status(), 413);
}

/// A fuzz-style property: whatever a correctly signed body holds, the answer is never a 5xx.
async fn random_signed_bodies_never_get_a_5xx(url: &str) {
    let h = harness(url).await;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        "\"type\"",
        ":",
        ",",
        "\"event_callback\"",
        "\"block_actions\"",
        "\"event\"",
        "\"event_id\"",
        "\"Ev1\"",
        "\"actions\"",
        "payload=",
        "command=%2Fstandup",
        "&",
        "user_id=U1",
        "null",
        "1e999",
        "\"\\u0000\"",
        "🙂",
        "%ZZ",
        "\"url_verification\"",
        "\"challenge\"",
        "true",
        "-0",
        "\"app_mention\"",
        "\"user\"",
        "\"channel\"",
        "\"ts\"",
    ];
    for round in 0..60 {
        let mut body = String::new();
        for _ in 0..(next() % 24) {
            body.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        if round % 3 == 0 {
            body = format!("{{\"type\":\"event_callback\",\"event_id\":\"Fz{round}\",\"event\":{{\"type\":\"app_mention\",\"user\":\"U1\",\"channel\":\"C{round}\",\"ts\":\"{round}.0\",\"text\":\"{}\"}}}}", body.replace('"', "'"));
        }
        for (path, content_type) in [
            ("/slack/events", "application/json"),
            ("/slack/commands", "application/x-www-form-urlencoded"),
            ("/slack/interactions", "application/x-www-form-urlencoded"),
        ] {
            let status = h.send(path, content_type, &body).await.status().as_u16();
            assert!(status < 500, "{path} answered {status} to {body:?}");
        }
    }
    h.worker.run_until_idle().await;
}

async fn the_app_home_shows_what_waits_on_you(url: &str) {
    let h = harness(url).await;
    let mention = json!({"type": "app_mention", "user": "U0BEN", "text": "<@U0BOT> create \"Export invoices\"", "ts": "1700000300.000100", "channel": "C0WEB"});
    h.event("Ev03", mention).await;
    h.worker.run_until_idle().await;
    let opened = json!({"type": "app_home_opened", "user": "U01PATMRGN", "channel": "D0PAT", "tab": "home", "event_ts": "1700000301.000000"});
    h.event("Ev04", opened).await;
    h.worker.run_until_idle().await;
    let published = h.fake.calls("views.publish");
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["user_id"], "U01PATMRGN");
    assert_eq!(published[0]["view"]["type"], "home");
    let text = text_of(&published[0]);
    assert!(text.contains("Pat Morgan's work") && text.contains("Triage WEB-22 Export invoices"), "{text}");
    h.assert_no_failed_attempts().await;
}

async fn needs_changes_opens_a_form_and_its_answer_is_recorded(url: &str) {
    let h = harness(url).await;
    let mention = json!({"type": "app_mention", "user": "U0BEN", "text": "<@U0BOT> create \"Export invoices\"", "ts": "1700000400.000100", "channel": "C0WEB"});
    h.event("Ev05", mention).await;
    h.worker.run_until_idle().await;
    let card = h.fake.calls("chat.postMessage").into_iter().find(|p| text_of(p).contains("approval.decide")).unwrap();
    let buttons =
        card["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap()["elements"].clone();
    let changes = buttons
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["value"].as_str().unwrap().ends_with(":request_changes"))
        .unwrap()
        .clone();
    // A member may not decide, so no form opens for him; his press is refused in words.
    h.press("U0BEN", changes["action_id"].as_str().unwrap(), changes["value"].as_str().unwrap()).await;
    h.worker.run_until_idle().await;
    assert!(h.fake.calls("views.open").is_empty(), "no form for someone who may not decide");
    let refused = h.fake.calls("response/press");
    assert!(text_of(&refused[0]).contains("Only a PM or lead can decide on this"), "{refused:?}");
    h.press("U01ANASOUS", changes["action_id"].as_str().unwrap(), changes["value"].as_str().unwrap()).await;
    h.worker.run_until_idle().await;
    let opened = h.fake.calls("views.open");
    assert_eq!(opened.len(), 1, "a modal asks what should change");
    assert_eq!(opened[0]["view"]["callback_id"], "pmbot.form");
    let metadata = opened[0]["view"]["private_metadata"].as_str().unwrap().to_string();

    let submission = json!({
        "type": "view_submission", "team": {"id": "T1"}, "trigger_id": rand_id(), "user": {"id": "U01ANASOUS"},
        "view": {"id": "V1", "callback_id": "pmbot.form", "private_metadata": metadata,
            "state": {"values": {"answer": {"answer": {"type": "plain_text_input", "value": "Split export and import"}}}}}
    });
    let body =
        url::form_urlencoded::Serializer::new(String::new()).append_pair("payload", &submission.to_string()).finish();
    assert_eq!(h.send("/slack/interactions", "application/x-www-form-urlencoded", &body).await.status(), 200);
    h.worker.run_until_idle().await;
    let updates = h.fake.calls("chat.update");
    assert!(text_of(updates.last().unwrap()).contains("Decision: Ana Sousa asked for changes"), "{updates:?}");
    let key: pmbot::board::TicketKey = "WEB-22".parse().unwrap();
    let comments = h.app.store.comments(&h.app.workspace(), &key).await.unwrap();
    assert_eq!(comments.last().map(|c| c.body.as_str()), Some("Split export and import"));
    h.assert_no_failed_attempts().await;
}

async fn a_direct_message_to_the_bot_is_answered(url: &str) {
    let h = harness(url).await;
    let dm = json!({"type": "message", "channel_type": "im", "user": "U01ANASOUS", "text": "board blocked", "ts": "1700000500.000100", "channel": "D0ANA"});
    h.event("Ev06", dm).await;
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["channel"], "D0ANA");
    assert!(text_of(&posts[0]).contains("Apple Pay"), "{}", posts[0]);
}

async fn a_newcomer_to_a_channel_gets_a_hello_and_a_stranger_a_way_in(url: &str) {
    let h = harness(url).await;
    h.event("Ev07", json!({"type": "member_joined_channel", "user": "U01ANASOUS", "channel": "C0WEB", "event_ts": "1700000600.000100"})).await;
    let stranger = json!({"type": "app_mention", "user": "U0NOBODY", "text": "<@U0BOT> create \"x\"", "ts": "1700000601.000100", "channel": "C0WEB"});
    h.event("Ev08", stranger).await;
    h.worker.run_until_idle().await;
    let ephemeral = h.fake.calls("chat.postEphemeral");
    assert_eq!(ephemeral.len(), 2, "{ephemeral:?}");
    let to = |user: &str| ephemeral.iter().find(|e| e["user"] == user).map(text_of).unwrap_or_default();
    assert!(to("U01ANASOUS").contains("What I can do"), "{ephemeral:?}");
    assert!(to("U0NOBODY").contains("ask a PM to add you to pmbot.toml"), "{ephemeral:?}");
    let tickets = h.app.store.tickets(&h.app.workspace(), &Default::default()).await.unwrap();
    assert!(tickets.iter().all(|t| t.title != "x"), "nothing was written for a stranger");
}
