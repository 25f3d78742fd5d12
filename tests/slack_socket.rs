//! Socket Mode against a local WebSocket server that speaks Slack's protocol: `hello`, then an
//! `events_api` envelope; pmbot must record the event as a job and ack the envelope.

mod common;

use axum::routing::post;
use axum::{Json, Router};
use common::TestDb;
use futures_util::{SinkExt, StreamExt};
use pmbot::app::App;
use pmbot::chat::slack::{socket, SlackSettings};
use pmbot::config::{load::parse, BUILT_IN};
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

async fn fake_socket_slack() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let ws = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!("ws://{}/", ws.local_addr().unwrap());
    let (acks, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((stream, _)) = ws.accept().await {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { continue };
            let acks = acks.clone();
            let send_event = std::mem::take(&mut first);
            tokio::spawn(async move {
                let hello = json!({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                    "debug_info": {"host": "local", "approximate_connection_time": 3600}});
                let _ = socket.send(Message::Text(hello.to_string().into())).await;
                if send_event {
                    let envelope = json!({
                        "envelope_id": "e1", "type": "events_api", "accepts_response_payload": false,
                        "retry_attempt": 0, "retry_reason": "",
                        "payload": {"token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
                            "event_id": "Ev0SOCKET", "event_time": 1700000000,
                            "event": {"type": "app_mention", "user": "U01ANASOUS", "text": "<@U0BOT> standup",
                                "ts": "1700000000.000100", "channel": "C0TEAM", "event_ts": "1700000000.000100"}}
                    });
                    let _ = socket.send(Message::Text(envelope.to_string().into())).await;
                }
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        let _ = acks.send(text.to_string());
                    }
                }
            });
        }
    });
    let api = Router::new().route(
        "/api/apps.connections.open",
        post(move || {
            let url = ws_url.clone();
            async move { Json(json!({"ok": true, "url": url})) }
        }),
    );
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/api", http.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(http, api).await.unwrap() });
    (api_url, received)
}

#[tokio::test]
async fn a_socket_mode_envelope_is_recorded_then_acknowledged() {
    let db = TestDb::sqlite().await;
    let app = App::open(parse(Path::new("built-in"), BUILT_IN).unwrap(), Some(&db.url)).await.unwrap();
    let (api_url, mut acks) = fake_socket_slack().await;
    let settings = SlackSettings { bot_token: "xoxb-test".into(), api_url };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = {
        let (store, workspace) = (app.store.clone(), app.workspace());
        tokio::spawn(async move {
            socket::run("xapp-test", &settings, store, workspace, async { stopped.await.unwrap_or(()) }).await
        })
    };
    let ack = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let text = acks.recv().await.expect("the socket stays open");
            if text.contains("envelope_id") {
                return text;
            }
        }
    })
    .await
    .expect("an ack within 20 s");
    let ack: serde_json::Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(ack["envelope_id"], "e1");
    let jobs = app.store.jobs(&app.workspace(), None, Some("slack.inbound"), 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "recorded before the ack");
    assert_eq!(jobs[0].unique_key.as_deref(), Some("slack:event:Ev0SOCKET"));
    assert_eq!(jobs[0].payload["body"]["type"], "app_mention");
    let inbound = pmbot::chat::slack::inbound::event(&jobs[0].payload["body"]);
    assert!(
        matches!(inbound, Some(pmbot::chat::Inbound::Mention { .. })),
        "the job reads it as a mention: {inbound:?}"
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), listener).await;
    db.finish().await;
}
