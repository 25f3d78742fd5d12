//! The platform endpoints under abuse: 200 slow connections and parallel unsigned 1 MiB
//! bodies do not stop a signed event from being acknowledged, and memory stays bounded;
//! timestamps at the ends of i64 and oversized Discord bodies get clean 4xx answers.
//! One test per binary, so the process's memory is this test's alone.

mod common;

use hmac::{KeyInit, Mac};
use pmbot::app::App;
use pmbot::config::{load::parse, DiscordEnv, SlackEnv, BUILT_IN};
use sha2::Sha256;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn sign(body: &str, timestamp: &str) -> String {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_parallel_unsigned_bodies_neither_exhaust_memory_nor_block_a_signed_event() {
    let db = common::TestDb::sqlite().await;
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let mut app = App::open(config, Some(&db.url)).await.unwrap();
    app.slack = Some(SlackEnv {
        bot_token: "xoxb-test".into(),
        signing_secret: Some(SECRET.into()),
        app_token: None,
        api_url: "http://127.0.0.1:9/api".into(),
        team_id: None,
        app_id: None,
    });
    app.discord = Some(DiscordEnv {
        bot_token: "bot-token".into(),
        public_key: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".into(),
        application_id: "APP1".into(),
        api_url: "http://127.0.0.1:9/api".into(),
        guild_id: None,
    });
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let before = rss_kib();

    // 200 connections that announce 1 MiB and trickle it.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = "POST /slack/events HTTP/1.1\r\nhost: pmbot\r\ncontent-type: application/json\r\n\
                    x-slack-signature: v0=00\r\nx-slack-request-timestamp: 1\r\ncontent-length: 1048576\r\n\r\n{";
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    // 150 unsigned 1 MiB bodies at once: 150 MiB if each were held.
    let big = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
    let parallel: Vec<_> = (0..150)
        .map(|_| {
            let request = http.post(format!("{base}/slack/events")).header("content-type", "application/json");
            tokio::spawn(request.body(big.clone()).send())
        })
        .collect();

    // Meanwhile, a signed event.
    let body = r#"{"type":"event_callback","team_id":"T1","event_id":"EvLimits","event":{"type":"app_mention","user":"U01ANASOUS","text":"<@U0BOT> board","ts":"1.1","channel":"C0WEB"}}"#;
    let now = chrono::Utc::now().timestamp().to_string();
    let started = Instant::now();
    let acked = http
        .post(format!("{base}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-signature", sign(body, &now))
        .header("x-slack-request-timestamp", &now)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(acked.status(), 200, "the signed event is acknowledged");
    assert!(started.elapsed() < Duration::from_secs(3), "within Slack's 3 s: {:?}", started.elapsed());
    for answer in parallel {
        let status = answer.await.unwrap().map(|r| r.status().as_u16()).unwrap_or(0);
        assert!([401, 503, 0].contains(&status), "unsigned bodies are refused or turned away: {status}");
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("memory grew by {grown} KiB");
    assert!(grown < 64 * 1024, "memory grew by {grown} KiB");

    // Timestamps at the ends of i64: a clean 401, on both platforms.
    for timestamp in ["-9223372036854775808", "9223372036854775807", "99999999999999999999999"] {
        let slack = http
            .post(format!("{base}/slack/events"))
            .header("content-type", "application/json")
            .header("x-slack-signature", sign(body, timestamp))
            .header("x-slack-request-timestamp", timestamp)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(slack.status(), 401, "Slack, {timestamp}");
        let discord = http
            .post(format!("{base}/discord/interactions"))
            .header("x-signature-ed25519", "00".repeat(64))
            .header("x-signature-timestamp", timestamp)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(discord.status(), 401, "Discord, {timestamp}");
    }
    // Discord's bodies are capped like Slack's.
    let now = chrono::Utc::now().timestamp().to_string();
    let huge = http
        .post(format!("{base}/discord/interactions"))
        .header("x-signature-ed25519", "00".repeat(64))
        .header("x-signature-timestamp", &now)
        .body(vec![b'x'; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    drop(slow);
    db.finish().await;
}
