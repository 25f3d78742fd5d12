//! pmbot in Discord, offline: interactions signed with a test Ed25519 key exactly as Discord
//! signs them, and the REST client talking to a local fake Discord that records each call.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use ed25519_dalek::{Signer, SigningKey};
use pmbot::app::App;
use pmbot::chat::discord::{DiscordChat, DiscordSettings};
use pmbot::config::{load::parse, DiscordEnv, BUILT_IN};
use pmbot::jobs::JobEnv;
use pmbot::queue::Worker;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<(String, Value)>>,
    rate_limited: Mutex<u32>,
}

impl Fake {
    fn calls(&self, prefix: &str) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().iter().filter(|(c, _)| c.starts_with(prefix)).cloned().collect()
    }
}

async fn any(State(fake): State<Arc<Fake>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = format!("{method} {}", uri.path().trim_start_matches("/api/v10"));
    if call.starts_with("POST /channels/") {
        let mut limited = fake.rate_limited.lock().unwrap();
        if *limited > 0 {
            *limited -= 1;
            // As Discord answers a 429: the wait in the body and in the header serenity reads.
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0.5"), ("x-ratelimit-scope", "user")],
                Json(json!({"message": "You are being rate limited.", "retry_after": 0.5, "global": false})),
            )
                .into_response();
        }
    }
    // The server has channel 101 and the DM 401; any other id (a message's, as a thread) is
    // not a channel, as Discord says.
    let known = ["POST /channels/101/", "POST /channels/401/", "PATCH /channels/101/"];
    if call.contains(" /channels/") && !known.iter().any(|k| call.starts_with(k)) {
        return (StatusCode::NOT_FOUND, Json(json!({"message": "Unknown Channel", "code": 10003}))).into_response();
    }
    fake.calls.lock().unwrap().push((call.clone(), body.clone()));
    let n = fake.calls.lock().unwrap().len();
    // Discord's objects as serenity reads them (the shapes in tests/fixtures/discord-gateway).
    let answer = if call == "POST /users/@me/channels" {
        json!({"id": "401", "type": 1, "recipients": [{"id": body["recipient_id"], "username": "someone"}]})
    } else if call.starts_with("PUT /applications/") {
        let commands = body.as_array().cloned().unwrap_or_default().into_iter().enumerate().map(|(i, mut c)| {
            c["id"] = json!(format!("{}", 500 + i));
            c["application_id"] = json!("900");
            c["version"] = json!("1");
            c["type"] = json!(1);
            c
        });
        Value::Array(commands.collect())
    } else {
        let mut message = serde_json::from_str::<Value>(include_str!("fixtures/discord-gateway/message_create.json"))
            .unwrap()["d"]
            .take();
        message["id"] = json!(format!("{}", 1000 + n));
        message["channel_id"] = json!("101");
        message
    };
    Json(answer).into_response()
}

async fn start_fake() -> (SocketAddr, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let router = Router::new().fallback(any).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (addr, fake)
}

struct Harness {
    base: String,
    fake: Arc<Fake>,
    key: SigningKey,
    worker: Worker<JobEnv<DiscordChat>>,
    http: reqwest::Client,
    store: pmbot::store::Store,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pat (PM) is 201 in Discord, Ben (member) 202.
async fn harness(url: &str) -> Harness {
    harness_with(url, |_| {}).await
}

async fn harness_with(url: &str, change: impl FnOnce(&mut pmbot::config::Config)) -> Harness {
    let (fake_addr, fake) = start_fake().await;
    let key = SigningKey::from_bytes(&[42; 32]);
    let mut config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    config.people[0].discord_id = Some("201".into());
    config.people[2].discord_id = Some("202".into());
    change(&mut config);
    let mut app = App::open(config, Some(url)).await.unwrap();
    let api_url = format!("http://{fake_addr}/api/v10");
    app.discord = Some(DiscordEnv {
        bot_token: "bot-token".into(),
        public_key: hex(key.verifying_key().as_bytes()),
        application_id: "900".into(),
        api_url: api_url.clone(),
        guild_id: Some("100".into()),
    });
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, chrono::Utc::now(), false).await.unwrap();
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let chat = Arc::new(DiscordChat::new(&DiscordSettings {
        bot_token: "bot-token".into(),
        application_id: "900".into(),
        api_url,
        guild_id: Some("100".into()),
    }));
    let worker = app.discord_worker(chat).unwrap();
    Harness {
        base: format!("http://{addr}"),
        fake,
        key,
        worker,
        http: reqwest::Client::new(),
        store: app.store.clone(),
    }
}

impl Harness {
    async fn send(&self, body: &str) -> reqwest::Response {
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = hex(&self.key.sign(&[ts.as_bytes(), body.as_bytes()].concat()).to_bytes());
        self.send_with(body, &ts, Some(signature)).await
    }

    async fn send_with(&self, body: &str, ts: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/discord/interactions", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("x-signature-ed25519", signature).header("x-signature-timestamp", ts);
        }
        request.send().await.unwrap()
    }

    async fn command(&self, id: &str, user: &str, name: &str, options: Value) -> Value {
        self.command_in("100", id, user, name, options).await
    }

    async fn command_in(&self, guild: &str, id: &str, user: &str, name: &str, options: Value) -> Value {
        let body = json!({"id": id, "type": 2, "token": format!("tok-{id}"), "application_id": "900", "channel_id": "101",
            "guild_id": guild, "member": {"user": {"id": user}}, "data": {"id": "cmd", "name": name, "options": options}});
        self.send(&body.to_string()).await.json().await.unwrap()
    }

    async fn press(&self, id: &str, user: &str, custom_id: &str, message_id: &str) -> Value {
        let body = json!({"id": id, "type": 3, "token": format!("tok-{id}"), "application_id": "900", "channel_id": "101",
            "guild_id": "100", "member": {"user": {"id": user}}, "message": {"id": message_id}, "data": {"custom_id": custom_id, "component_type": 2}});
        self.send(&body.to_string()).await.json().await.unwrap()
    }
}

on_both_backends!(
    url:
    a_ping_is_ponged_and_bad_signatures_are_refused,
    a_standup_command_is_deferred_then_posted,
    another_server_is_not_served,
    a_pm_approves_with_a_button_and_a_member_is_refused,
    a_rate_limited_post_waits_and_succeeds,
    every_recorded_discord_payload_gets_a_2xx_or_a_clean_4xx,
    needs_changes_opens_a_modal_and_its_answer_is_recorded,
    random_signed_bodies_never_get_a_5xx,
    a_fix_run_is_decided_with_discord_buttons_and_forms,
);

/// The AI queue on Discord: /fix, "Request changes…" opening a modal whose answer revises the
/// SPEC, the new SPEC approved by a lead, the pull request by the PM.
async fn a_fix_run_is_decided_with_discord_buttons_and_forms(url: &str) {
    use pmbot::board::{NewTicket, RunState, Status};
    use pmbot::service::{Actor, BoardService, Ctx};
    let repo = common::repo::Repo::new();
    let work = tempfile::tempdir().unwrap();
    let h = harness_with(url, |c| {
        c.people[1].discord_id = Some("203".into());
        repo.configure(c, work.path(), common::repo::GOOD_AGENT);
    })
    .await;
    let (store, ws) = (h.store.clone(), pmbot::store::WorkspaceId::new("default".to_string()));
    let board = BoardService::new(store.clone(), ws.clone());
    let mut new = NewTicket::new("WEB", "Greeting says Helo instead of Hello").unwrap();
    new.status = Status::Todo;
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(chrono::Utc::now())).await.unwrap();
    h.command("F1", "201", "fix", json!([{"type": 3, "name": "ticket", "value": ticket.key.as_str()}])).await;
    h.worker.run_until_idle().await;
    let button = |label: &str| {
        let posts = h.fake.calls("POST /channels/101/messages");
        let (_, card) = posts
            .iter()
            .rev()
            .find(|(_, b)| b.to_string().contains(label))
            .unwrap_or_else(|| panic!("{label}: {posts:#?}"))
            .clone();
        let buttons = card["components"][0]["components"].as_array().unwrap().clone();
        buttons.iter().find(|b| b["label"] == label).unwrap()["custom_id"].as_str().unwrap().to_string()
    };
    let modal = h.press("F2", "201", &button("Request changes…"), "301").await;
    assert_eq!(modal["type"], 9, "a modal: {modal}");
    let form_id = modal["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = json!({"id": "F3", "type": 5, "token": "tok-F3", "application_id": "900", "channel_id": "101", "guild_id": "100",
        "member": {"user": {"id": "201"}},
        "data": {"custom_id": form_id, "components": [{"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": "files: greet.sh"}]}]}});
    h.send(&submit.to_string()).await;
    h.worker.run_until_idle().await;
    h.press("F4", "203", &button("Approve SPEC"), "302").await;
    h.worker.run_until_idle().await;
    h.press("F5", "201", &button("Approve & merge"), "303").await;
    h.worker.run_until_idle().await;
    let run = &store.fix_runs_of(&ws, &ticket.key).await.unwrap()[0];
    assert_eq!(run.state, RunState::Completed);
    let states: Vec<RunState> = store.fix_transitions(&ws, run.id).await.unwrap().iter().map(|t| t.to).collect();
    assert_eq!(
        &states[1..5],
        [RunState::Planning, RunState::AwaitingSpecApproval, RunState::Planning, RunState::AwaitingSpecApproval]
    );
    assert!(repo.on_main("greet.sh").contains("Hello"));
}

async fn a_ping_is_ponged_and_bad_signatures_are_refused(url: &str) {
    let h = harness(url).await;
    let ping = r#"{"id":"1","token":"t","type":1,"version":1}"#;
    let pong: Value = h.send(ping).await.json().await.unwrap();
    assert_eq!(pong, json!({"type": 1}));
    let now = chrono::Utc::now().timestamp().to_string();
    let wrong = hex(&h.key.sign(b"something else").to_bytes());
    assert_eq!(h.send_with(ping, &now, Some(wrong)).await.status(), 401);
    let old = (chrono::Utc::now().timestamp() - 3600).to_string();
    let old_signature = hex(&h.key.sign(&[old.as_bytes(), ping.as_bytes()].concat()).to_bytes());
    assert_eq!(h.send_with(ping, &old, Some(old_signature)).await.status(), 401, "stale");
    assert_eq!(h.send_with(ping, &now, None).await.status(), 401, "unsigned");
    let autocomplete = r#"{"id":"2","token":"t","type":4,"data":{"name":"standup","options":[]}}"#;
    let answer: Value = h.send(autocomplete).await.json().await.unwrap();
    assert_eq!(answer["type"], 8);
}

async fn another_server_is_not_served(url: &str) {
    let h = harness(url).await;
    let answer =
        h.command_in("199", "I-other", "201", "pm", json!([{"name": "command", "value": "create \"x\""}])).await;
    assert_eq!(answer["type"], 4, "answered at once: {answer}");
    assert_eq!(answer["data"]["flags"], 64, "only the person sees it");
    assert!(answer["data"]["content"].as_str().unwrap().contains("another Discord server"), "{answer}");
    h.worker.run_until_idle().await;
    assert!(h.fake.calls("").is_empty(), "nothing was done: {:?}", h.fake.calls(""));
}

async fn a_standup_command_is_deferred_then_posted(url: &str) {
    let h = harness(url).await;
    let deferred = h.command("I1", "201", "standup", json!([])).await;
    assert_eq!(deferred, json!({"type": 5, "data": {"flags": 64}}));
    h.worker.run_until_idle().await;
    let posts = h.fake.calls("POST /channels/101/messages");
    assert_eq!(posts.len(), 1);
    assert!(posts[0].1["embeds"][0]["title"].as_str().unwrap().starts_with("Standup ·"));
    let closed = h.fake.calls("PATCH /webhooks/900/tok-I1/messages/@original");
    assert_eq!(closed.len(), 1, "the private thinking… is closed");
}

async fn a_pm_approves_with_a_button_and_a_member_is_refused(url: &str) {
    let h = harness(url).await;
    h.command("I2", "202", "pm", json!([{"type": 3, "name": "command", "value": "create \"Export invoices\""}])).await;
    h.worker.run_until_idle().await;
    let (_, card) = h
        .fake
        .calls("POST /channels/101/messages")
        .into_iter()
        .find(|(_, b)| b.to_string().contains("approval.decide"))
        .expect("triage card");
    let accept = card["components"][0]["components"][0]["custom_id"].as_str().unwrap().to_string();

    assert_eq!(h.press("I3", "202", &accept, "309").await, json!({"type": 6}));
    h.worker.run_until_idle().await;
    let refused = h.fake.calls("POST /webhooks/900/tok-I3");
    assert_eq!(refused[0].1["flags"], 64, "only Ben sees it");
    assert!(refused[0].1.to_string().contains("Only a PM or lead can decide on this"));

    h.press("I4", "201", &accept, "309").await;
    h.worker.run_until_idle().await;
    let edited = h.fake.calls("PATCH /webhooks/900/tok-I4/messages/@original");
    assert_eq!(edited.len(), 1, "the pressed message is updated in place");
    assert!(edited[0].1.to_string().contains("Decision: Pat Morgan approved"));
    assert_eq!(edited[0].1["components"], json!([]), "its buttons are gone");
}

async fn a_rate_limited_post_waits_and_succeeds(url: &str) {
    let h = harness(url).await;
    *h.fake.rate_limited.lock().unwrap() = 1;
    h.command("I5", "201", "standup", json!([])).await;
    h.worker.run_until_idle().await;
    assert_eq!(h.fake.calls("POST /channels/101/messages").len(), 1);
}

async fn every_recorded_discord_payload_gets_a_2xx_or_a_clean_4xx(url: &str) {
    let h = harness(url).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/discord");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        let status = h.send(&body).await.status().as_u16();
        assert!((200..500).contains(&status), "{}: {status}", path.display());
        seen += 1;
    }
    assert_eq!(seen, 4);
    for body in ["", "{", "[]", r#"{"type":"x"}"#, r#"{"type":3,"token":"t"}"#, "\u{0}"] {
        let status = h.send(body).await.status().as_u16();
        assert!((400..500).contains(&status), "{body:?}: {status}");
    }
}

#[tokio::test]
async fn slash_commands_are_registered_from_the_manifest() {
    let (fake_addr, fake) = start_fake().await;
    let chat = DiscordChat::new(&DiscordSettings {
        bot_token: "b".into(),
        application_id: "900".into(),
        api_url: format!("http://{fake_addr}/api/v10"),
        guild_id: None,
    });
    let commands: Value = serde_json::from_str(pmbot::chat::discord::COMMANDS_JSON).unwrap();
    assert_eq!(chat.register_commands(&commands).await.unwrap(), 3);
    let put = fake.calls("PUT /applications/900/commands");
    let names: Vec<&str> = put[0].1.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, pmbot::chat::discord::COMMANDS);
    for name in names {
        assert!(pmbot::chat::command::parse_slash(&format!("/{name}"), "").is_ok(), "/{name} is handled");
    }
    for command in put[0].1.as_array().unwrap() {
        // Server members who may send messages see them; not in DMs, where no server's team is.
        assert_eq!(
            (&command["default_member_permissions"], &command["dm_permission"]),
            (&json!("2048"), &json!(false))
        );
    }
}

async fn needs_changes_opens_a_modal_and_its_answer_is_recorded(url: &str) {
    let h = harness(url).await;
    h.command("I6", "202", "pm", json!([{"type": 3, "name": "command", "value": "create \"Export invoices\""}])).await;
    h.worker.run_until_idle().await;
    let (_, card) = h
        .fake
        .calls("POST /channels/101/messages")
        .into_iter()
        .find(|(_, b)| b.to_string().contains("approval.decide"))
        .unwrap();
    let changes = card["components"][0]["components"][2]["custom_id"].as_str().unwrap().to_string();
    assert!(changes.ends_with(":request_changes"));
    let member = h.press("I6b", "202", &changes, "309").await;
    assert_eq!(member["type"], 6, "no modal for someone who may not decide: {member}");
    let modal = h.press("I7", "201", &changes, "309").await;
    assert_eq!(modal["type"], 9, "a modal, as the immediate answer");
    let form_id = modal["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = json!({"id": "I8", "type": 5, "token": "tok-I8", "application_id": "900", "channel_id": "101", "guild_id": "100",
        "member": {"user": {"id": "201"}},
        "data": {"custom_id": form_id, "components": [{"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": "Split export and import"}]}]}});
    let answer: Value = h.send(&submit.to_string()).await.json().await.unwrap();
    assert_eq!(answer, json!({"type": 6}));
    h.worker.run_until_idle().await;
    let edited = h.fake.calls("PATCH /webhooks/900/tok-I8/messages/@original");
    assert!(edited[0].1.to_string().contains("Decision: Pat Morgan asked for changes"), "{edited:?}");
}

async fn random_signed_bodies_never_get_a_5xx(url: &str) {
    let h = harness(url).await;
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        "\"type\"",
        ":",
        ",",
        "1",
        "2",
        "3",
        "5",
        "\"data\"",
        "\"token\"",
        "\"t\"",
        "\"custom_id\"",
        "\"a|b\"",
        "\"form|x|y|z\"",
        "null",
        "\"member\"",
        "\"user\"",
        "\"id\"",
        "\"\\u0000\"",
        "🙂",
        "-1e999",
    ];
    for _ in 0..80 {
        let mut body = String::new();
        for _ in 0..(seed % 20) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let status = h.send(&body).await.status().as_u16();
        assert!(status < 500, "{status} for {body:?}");
    }
    h.worker.run_until_idle().await;
}
