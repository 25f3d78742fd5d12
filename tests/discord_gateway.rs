//! pmbot reading Discord channels through the Gateway, offline: serenity connects to a local
//! Gateway-shaped WebSocket server that plays Discord's documented sequence (HELLO, IDENTIFY,
//! READY, dispatches, RESUME, RESUMED; payloads in `tests/fixtures/discord-gateway/`, sources
//! in its README), and its REST client to a local Discord-shaped HTTP server.

mod common;

use axum::extract::{Path, Query, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use pmbot::app::App;
use pmbot::chat::discord::gateway::{self, GatewayError};
use pmbot::chat::discord::{DiscordChat, DiscordSettings};
use pmbot::chat::routed::RoutedChat;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as Ws;

const GUILD: &str = "1109811110011110001";
const CHANNEL: &str = "1109811110011110002";
const BOT: &str = "1109811110011110003";
const ANA: &str = "1109811110011110004";
const THREAD: &str = "1109811110011110200";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/discord-gateway/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A channel message as Discord's message object, from the recorded shape.
fn message(id: &str, channel: &str, content: &str) -> Value {
    let mut m = fixture("message_create")["d"].clone();
    m["id"] = json!(id);
    m["channel_id"] = json!(channel);
    m["content"] = json!(content);
    m["mentions"] = json!([]);
    m
}

fn dispatch(event: &str, d: Value) -> Value {
    json!({ "op": 0, "t": event, "d": d })
}

/// What the script tells a connection to do next.
enum Step {
    Send(Value),
    /// Drop the TCP connection with no close frame (a network failure).
    Drop,
}

#[derive(Default)]
struct Gateway {
    /// Every dispatch of the session with its sequence number, for a resume's replay.
    sent: Mutex<Vec<(u64, Value)>>,
    /// What clients sent (IDENTIFY, RESUME; heartbeats left out).
    received: Mutex<Vec<Value>>,
    /// Close with 4014 after IDENTIFY.
    refuse_intents: bool,
    /// Dispatches queued while no client is connected, sent on the next RESUME.
    pending: Mutex<Vec<Value>>,
    /// When set, a RESUME also replays the last already-delivered dispatch (a duplicate
    /// delivery pmbot must read once).
    replay_one_more: bool,
    connected: Notify,
    ready: Notify,
    resumed: Notify,
}

impl Gateway {
    fn sequence(&self, mut event: Value) -> Value {
        let mut sent = self.sent.lock().unwrap();
        let s = sent.len() as u64 + 1;
        event["s"] = json!(s);
        sent.push((s, event.clone()));
        event
    }

    fn received(&self, op: u64) -> Vec<Value> {
        self.received.lock().unwrap().iter().filter(|v| v["op"] == op).cloned().collect()
    }
}

async fn serve_gateway(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    steps: Arc<tokio::sync::Mutex<mpsc::Receiver<Step>>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { continue };
        let gateway = gateway.clone();
        ws.send(Ws::text(fixture("hello").to_string())).await.unwrap();
        gateway.connected.notify_waiters();
        let mut steps = steps.lock().await;
        loop {
            tokio::select! {
                incoming = ws.next() => {
                    let Some(Ok(Ws::Text(text))) = incoming else { break };
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    match frame["op"].as_u64() {
                        Some(1) => { let _ = ws.send(Ws::text(json!({"op": 11}).to_string())).await; }
                        Some(2) => {
                            gateway.received.lock().unwrap().push(frame);
                            if gateway.refuse_intents {
                                let close = CloseFrame { code: CloseCode::from(4014), reason: "Disallowed intent(s).".into() };
                                let _ = ws.close(Some(close)).await;
                                break;
                            }
                            gateway.sent.lock().unwrap().clear();
                            let ready = gateway.sequence(fixture("ready"));
                            ws.send(Ws::text(ready.to_string())).await.unwrap();
                            gateway.ready.notify_waiters();
                        }
                        Some(6) => {
                            let seq = frame["d"]["seq"].as_u64().unwrap_or(0);
                            gateway.received.lock().unwrap().push(frame);
                            let from = if gateway.replay_one_more { seq } else { seq + 1 };
                            let replay: Vec<Value> = gateway.sent.lock().unwrap().iter()
                                .filter(|(s, _)| *s >= from).map(|(_, e)| e.clone()).collect();
                            for event in replay {
                                ws.send(Ws::text(event.to_string())).await.unwrap();
                            }
                            let missed: Vec<Value> = gateway.pending.lock().unwrap().drain(..).collect();
                            for event in missed {
                                let event = gateway.sequence(event);
                                ws.send(Ws::text(event.to_string())).await.unwrap();
                            }
                            let resumed = gateway.sequence(fixture("resumed"));
                            ws.send(Ws::text(resumed.to_string())).await.unwrap();
                            gateway.resumed.notify_waiters();
                        }
                        _ => {}
                    }
                }
                step = steps.recv() => match step {
                    Some(Step::Send(event)) => {
                        let event = gateway.sequence(event);
                        ws.send(Ws::text(event.to_string())).await.unwrap();
                    }
                    Some(Step::Drop) | None => break,
                },
            }
        }
        // Dropping the stream without a close frame: a broken connection.
        drop(ws);
    }
}

#[derive(Default)]
struct Rest {
    /// `GET /channels/{id}/messages` answers from here (newest first, as Discord lists).
    history: Mutex<HashMap<String, Vec<Value>>>,
    calls: Mutex<Vec<String>>,
    posted: Mutex<Vec<Value>>,
    /// Multipart bodies (messages with files), as sent.
    uploads: Mutex<Vec<Vec<u8>>>,
    gateway_url: Mutex<String>,
}

async fn rest_any(
    State(rest): State<Arc<Rest>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    let call = format!("{method} {}", uri.path().trim_start_matches("/api/v10"));
    rest.calls.lock().unwrap().push(format!("{call}?{}", uri.query().unwrap_or_default()));
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let multipart =
        headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        rest.uploads.lock().unwrap().push(raw.to_vec());
    }
    if method == Method::POST && call.ends_with("/messages") {
        let channel = call.trim_start_matches("POST /channels/").trim_end_matches("/messages").to_string();
        if channel != CHANNEL && channel != THREAD {
            let unknown = json!({ "message": "Unknown Channel", "code": 10003 });
            return (axum::http::StatusCode::NOT_FOUND, Json(unknown)).into_response();
        }
        rest.posted.lock().unwrap().push(body.clone());
        let n = rest.posted.lock().unwrap().len();
        let mut answer = message(&format!("1109811110011119{n:03}"), &channel, body["content"].as_str().unwrap_or(""));
        answer["author"] = fixture("ready")["d"]["user"].clone();
        return Json(answer).into_response();
    }
    (axum::http::StatusCode::NOT_FOUND, Json(json!({ "message": "404: Not Found", "code": 0 }))).into_response()
}

async fn rest_gateway(State(rest): State<Arc<Rest>>) -> Json<Value> {
    Json(json!({ "url": rest.gateway_url.lock().unwrap().clone() }))
}

/// `GET /channels/{id}`: the thread names its parent; anything else is a text channel.
async fn rest_channel(Path(id): Path<String>) -> Json<Value> {
    if id == THREAD {
        return Json(fixture("thread_create")["d"].clone());
    }
    Json(
        json!({ "id": id, "type": 0, "name": "billing", "guild_id": GUILD, "position": 0, "permission_overwrites": [] }),
    )
}

async fn rest_history(
    State(rest): State<Arc<Rest>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    rest.calls
        .lock()
        .unwrap()
        .push(format!("GET /channels/{id}/messages?after={}", query.get("after").cloned().unwrap_or_default()));
    let after: u64 = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let all = rest.history.lock().unwrap().get(&id).cloned().unwrap_or_default();
    // The oldest `limit` after `after`, listed newest first.
    let mut newer: Vec<Value> =
        all.into_iter().filter(|m| m["id"].as_str().and_then(|i| i.parse::<u64>().ok()).unwrap_or(0) > after).collect();
    newer.sort_by_key(|m| m["id"].as_str().unwrap().parse::<u64>().unwrap());
    newer.truncate(limit);
    newer.reverse();
    Json(Value::Array(newer))
}

struct Harness {
    app: App,
    gateway: Arc<Gateway>,
    rest: Arc<Rest>,
    steps: mpsc::Sender<Step>,
    settings: DiscordSettings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    run: Option<tokio::task::JoinHandle<Result<(), GatewayError>>>,
}

async fn harness(url: &str, gateway: Gateway) -> Harness {
    harness_with(url, gateway, |_| {}).await
}

async fn harness_with(url: &str, gateway: Gateway, change: impl FnOnce(&mut pmbot::config::Config)) -> Harness {
    // `RUST_LOG=serenity=debug` shows the Gateway's conversation.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .with_test_writer()
        .try_init();
    let app = common::seeded_app(url, |config| {
        config.people[0].discord_id = Some(ANA.into());
        change(config);
    })
    .await;
    let gateway = Arc::new(gateway);
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_addr: SocketAddr = ws_listener.local_addr().unwrap();
    let (steps, receiver) = mpsc::channel(16);
    tokio::spawn(serve_gateway(ws_listener, gateway.clone(), Arc::new(tokio::sync::Mutex::new(receiver))));
    let rest = Arc::new(Rest::default());
    *rest.gateway_url.lock().unwrap() = format!("ws://{ws_addr}");
    let router = Router::new()
        .route("/api/v10/gateway", get(rest_gateway))
        .route("/api/v10/channels/{id}", get(rest_channel))
        .route("/api/v10/channels/{id}/messages", get(rest_history).post(rest_any))
        .fallback(rest_any)
        .with_state(rest.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rest_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let settings = DiscordSettings {
        bot_token: "bot-token".into(),
        application_id: BOT.into(),
        api_url: format!("http://{rest_addr}/api/v10"),
        guild_id: Some(GUILD.into()),
    };
    Harness { app, gateway, rest, steps, settings, stop: None, run: None }
}

impl Harness {
    /// Starts pmbot's Gateway connection and waits for READY.
    async fn connect(&mut self) {
        let gateway = self.gateway.clone();
        let ready = gateway.ready.notified();
        self.start();
        tokio::time::timeout(Duration::from_secs(20), ready).await.expect("READY within 20 s");
    }

    fn start(&mut self) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (settings, store, ws) = (self.settings.clone(), self.app.store.clone(), self.app.workspace());
        self.run = Some(tokio::spawn(async move {
            gateway::run(&settings, store, ws, async move {
                let _ = stopped.await;
            })
            .await
        }));
        self.stop = Some(stop);
    }

    async fn send(&self, event: Value) {
        self.steps.send(Step::Send(event)).await.unwrap();
    }

    /// Waits until `n` `discord.message` jobs are recorded (or 20 s pass).
    async fn wait_for_messages(&self, n: usize) -> usize {
        let ws = self.app.workspace();
        for _ in 0..200 {
            let jobs = self.app.store.jobs(&ws, None, Some("discord.message"), 100).await.unwrap();
            if jobs.len() >= n {
                return jobs.len();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.app.store.jobs(&ws, None, Some("discord.message"), 100).await.unwrap().len()
    }

    async fn work(&self) {
        let chat = Arc::new(DiscordChat::new(&self.settings));
        let worker = self.app.discord_worker(chat).unwrap();
        worker.run_until_idle().await;
    }

    async fn disconnect(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(run) = self.run.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
        }
    }
}

on_both_backends!(
    url:
    channel_messages_threads_and_replies_are_read_once_across_a_resume,
    messages_said_while_away_are_read_from_the_history_once,
    a_mention_is_answered_in_the_channel,
    edits_and_deletions_change_nothing,
    with_slack_and_discord_each_scheduled_message_goes_where_its_channel_is,
    the_month_end_workbook_is_uploaded_on_discord,
);

/// Slack and Discord both configured: the standup named a Discord channel goes to Discord,
/// the digest named a Slack channel to Slack — not "Slack wins".
async fn with_slack_and_discord_each_scheduled_message_goes_where_its_channel_is(url: &str) {
    use pmbot::queue::JobSpec;
    use pmbot::workflows::{digest::DigestJob, standup::StandupJob};
    let h = harness_with(url, Gateway::default(), |c| {
        c.standup.channel = format!("discord:{CHANNEL}");
        c.digest.channel = Some("#team".into());
    })
    .await;
    let slack = Arc::new(common::RecordingChat::default());
    let routed = Arc::new(RoutedChat::new(slack.clone(), Arc::new(DiscordChat::new(&h.settings))));
    let worker = h.app.worker(routed).unwrap();
    let (ws, now) = (h.app.workspace(), chrono::Utc::now());
    let standup = StandupJob { channel: Some(h.app.config.standup.channel.clone()), person: None, at: now };
    let digest = DigestJob { channel: "#team".into(), at: now };
    h.app.store.enqueue(&ws, &standup.to_new_job(now), now).await.unwrap();
    h.app.store.enqueue(&ws, &digest.to_new_job(now), now).await.unwrap();
    worker.run_until_idle().await;

    let calls = h.rest.calls.lock().unwrap().clone();
    let on_discord: Vec<&String> = calls.iter().filter(|c| c.starts_with("POST /channels/")).collect();
    assert_eq!(on_discord.len(), 1, "the standup, on Discord: {calls:?}");
    assert!(on_discord[0].starts_with(&format!("POST /channels/{CHANNEL}/messages")));
    let posted = h.rest.posted.lock().unwrap().clone();
    assert!(posted[0]["embeds"][0]["title"].as_str().unwrap().starts_with("Standup"), "{}", posted[0]);
    let on_slack = slack.texts();
    assert_eq!(on_slack.len(), 1, "the digest, on Slack: {on_slack:?}");
    assert_eq!(on_slack[0].0, "#team");
}

/// The month-end workbook goes to a Discord channel as a file, with its message.
async fn the_month_end_workbook_is_uploaded_on_discord(url: &str) {
    use pmbot::workflows::agents::{self, Agent};
    let h = harness_with(url, Gateway::default(), |c| c.agents.pm_channel = CHANNEL.into()).await;
    let ws = h.app.workspace();
    let chat = DiscordChat::new(&h.settings);
    let now = chrono::Utc::now();
    let plan = agents::plan(Agent::MonthEnd, &h.app.store, &ws, &h.app.config, &h.app.templates, now).await.unwrap();
    agents::deliver(&plan, &h.app.store, &ws, &h.app.config, &chat, now, false).await.unwrap();
    let kept = h.app.store.report(&ws, &plan.attachments[0].1).await.unwrap().unwrap();
    let uploads = h.rest.uploads.lock().unwrap().clone();
    assert_eq!(uploads.len(), 1, "one message with a file");
    let body = &uploads[0];
    assert!(body.windows(kept.len()).any(|w| w == kept.as_slice()), "the workbook's bytes were sent");
    let name = plan.attachments[0].1.as_bytes();
    assert!(body.windows(name.len()).any(|w| w == name), "under its name");
    let text = String::from_utf8_lossy(body);
    assert!(text.contains("Month-end reconciliation"), "with its message");
    assert!(h.rest.calls.lock().unwrap().iter().any(|c| c.starts_with(&format!("POST /channels/{CHANNEL}/messages"))));
}

/// A message, a reply and a thread reply become stored messages (the thread's parent as the
/// channel, the thread as the thread) and `conversation.match` jobs; the connection breaks,
/// serenity resumes, Discord replays the last event again and what was said meanwhile: each
/// message is read once.
async fn channel_messages_threads_and_replies_are_read_once_across_a_resume(url: &str) {
    let mut h = harness(url, Gateway { replay_one_more: true, ..Gateway::default() }).await;
    h.connect().await;
    let ws = h.app.workspace();
    h.send(dispatch(
        "MESSAGE_CREATE",
        message("1109811110011110100", CHANNEL, "the CSV export on billing returns a 500"),
    ))
    .await;
    h.send(fixture("message_create_reply")).await;
    h.send(fixture("thread_create")).await;
    h.send(fixture("message_create_thread")).await;
    assert_eq!(h.wait_for_messages(3).await, 3);

    // The network fails; meanwhile someone writes in the channel.
    h.gateway.pending.lock().unwrap().push(dispatch(
        "MESSAGE_CREATE",
        message("1109811110011110103", CHANNEL, "ENG-1 is merged, deploying tonight"),
    ));
    let gateway = h.gateway.clone();
    let resumed = gateway.resumed.notified();
    h.steps.send(Step::Drop).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), resumed).await.expect("resumed within 30 s");
    assert_eq!(h.wait_for_messages(4).await, 4);

    let resume = h.gateway.received(6);
    assert_eq!(resume.len(), 1, "one RESUME, no second IDENTIFY");
    assert_eq!(resume[0]["d"]["session_id"], fixture("ready")["d"]["session_id"]);
    assert_eq!(h.gateway.received(2).len(), 1);
    let identify = &h.gateway.received(2)[0];
    assert_eq!(identify["d"]["intents"].as_u64().unwrap() & (1 << 15), 1 << 15, "asks for MESSAGE_CONTENT");

    h.work().await;
    h.disconnect().await;
    let stored = h.app.store.recent_messages(&ws, CHANNEL, 50).await.unwrap();
    let by_id: HashMap<&str, &pmbot::store::ChatMessageSeen> = stored.iter().map(|m| (m.ts.as_str(), m)).collect();
    assert_eq!(stored.len(), 4, "each message once: {stored:?}");
    assert_eq!(by_id["1109811110011110100"].user_id, ANA);
    assert_eq!(
        by_id["1109811110011110101"].thread_ts.as_deref(),
        Some("1109811110011110100"),
        "a reply is in its message's thread"
    );
    assert_eq!(
        by_id["1109811110011110102"].thread_ts.as_deref(),
        Some(THREAD),
        "a thread reply is in the thread, under its channel"
    );
    assert!(by_id["1109811110011110103"].text.contains("ENG-1 is merged"));
    let matches = h.app.store.jobs(&ws, None, Some("conversation.match"), 50).await.unwrap();
    assert_eq!(matches.len(), 4, "one match per message");
}

/// pmbot was down: at the next session (READY) it reads each channel's history since the
/// last message it kept; the same message arriving live too is read once.
async fn messages_said_while_away_are_read_from_the_history_once(url: &str) {
    let mut h = harness(url, Gateway::default()).await;
    let ws = h.app.workspace();
    h.connect().await;
    h.send(dispatch("MESSAGE_CREATE", message("1109811110011110100", CHANNEL, "first, before the outage"))).await;
    assert_eq!(h.wait_for_messages(1).await, 1);
    h.work().await;
    h.disconnect().await;

    // While away: two messages in the channel.
    let missed = [
        message("1109811110011110104", CHANNEL, "ENG-2 is blocked on the vendor"),
        message("1109811110011110105", CHANNEL, "the invoices page is slow again"),
    ];
    let mut history = vec![message("1109811110011110100", CHANNEL, "first, before the outage")];
    history.extend(missed.iter().cloned());
    h.rest.history.lock().unwrap().insert(CHANNEL.into(), history);

    h.connect().await;
    assert_eq!(h.wait_for_messages(3).await, 3);
    // And Discord delivers one of them live as well.
    h.send(dispatch("MESSAGE_CREATE", missed[1].clone())).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.work().await;
    h.disconnect().await;

    let calls = h.rest.calls.lock().unwrap().clone();
    assert!(
        calls.iter().any(|c| c == &format!("GET /channels/{CHANNEL}/messages?after=1109811110011110100")),
        "read from the last kept message: {calls:?}"
    );
    let stored = h.app.store.recent_messages(&ws, CHANNEL, 50).await.unwrap();
    let ids: Vec<&str> = stored.iter().map(|m| m.ts.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(h.app.store.jobs(&ws, None, Some("discord.message"), 50).await.unwrap().len(), 3);
}

/// A message that mentions the bot is a command; the answer is posted in the channel.
async fn a_mention_is_answered_in_the_channel(url: &str) {
    let mut h = harness(url, Gateway::default()).await;
    h.connect().await;
    let mut mention = fixture("message_create");
    mention["d"]["content"] = json!(format!("<@{BOT}> board"));
    h.send(mention).await;
    assert_eq!(h.wait_for_messages(1).await, 1);
    h.work().await;
    h.disconnect().await;
    let posted = h.rest.posted.lock().unwrap().clone();
    let calls = h.rest.calls.lock().unwrap().clone();
    assert_eq!(posted.len(), 1, "{posted:?} {calls:?}");
    assert!(calls.iter().any(|c| c.starts_with(&format!("POST /channels/{CHANNEL}/messages"))), "{calls:?}");
    assert!(posted[0]["embeds"][0]["description"].as_str().unwrap().contains("WEB-"), "the board: {}", posted[0]);
    // Said as a reply to the mention (Discord has no thread of that id yet).
    assert_eq!(posted[0]["message_reference"]["message_id"], "1109811110011110100");
}

/// Edits and deletions are ignored as on Slack: the message stays as first read, once.
async fn edits_and_deletions_change_nothing(url: &str) {
    let mut h = harness(url, Gateway::default()).await;
    h.connect().await;
    let ws = h.app.workspace();
    h.send(dispatch("MESSAGE_CREATE", message("1109811110011110100", CHANNEL, "ENG-1 looks done"))).await;
    assert_eq!(h.wait_for_messages(1).await, 1);
    h.send(fixture("message_update")).await;
    h.send(fixture("message_delete")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.work().await;
    h.disconnect().await;
    let stored = h.app.store.recent_messages(&ws, CHANNEL, 50).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].text, "ENG-1 looks done");
    assert_eq!(h.app.store.jobs(&ws, None, Some("discord.message"), 50).await.unwrap().len(), 1);
}

/// Without the Message Content intent switched on, Discord closes with 4014 and pmbot says
/// how to switch it on.
#[tokio::test]
async fn without_the_message_content_intent_pmbot_says_how_to_enable_it() {
    let db = common::TestDb::sqlite().await;
    let mut h = harness(&db.url, Gateway { refuse_intents: true, ..Gateway::default() }).await;
    h.start();
    let ended = tokio::time::timeout(Duration::from_secs(30), h.run.take().unwrap()).await.expect("stops").unwrap();
    let err = ended.expect_err("refused");
    assert!(matches!(err, GatewayError::IntentNotGranted), "{err}");
    assert!(err.to_string().contains("MESSAGE CONTENT INTENT"), "{err}");
    db.finish().await;
}
