//! `pmbot bench http`: signed Slack events over loopback against a real `pmbot serve`
//! process, at fixed rates; ack latency percentiles, throughput, errors, the server's
//! resident memory idle and under load, and whether every event was enqueued once.

use super::BenchError;
use crate::store::{JobState, Store, WorkspaceId};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-signing-secret";

pub struct HttpBenchOptions {
    pub postgres_url: String,
    pub rates: Vec<u32>,
    pub seconds: u64,
    /// The pmbot binary that serves (default: this one).
    pub server_bin: Option<std::path::PathBuf>,
}

pub async fn run(options: &HttpBenchOptions, out: &mut dyn std::io::Write) -> Result<(), BenchError> {
    let mut say = |line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(format!(
        "pmbot HTTP benchmark · signed Slack events over loopback · {} s per rate · PostgreSQL",
        options.seconds
    ));
    if cfg!(debug_assertions) {
        say("(a debug build: these figures are not representative; use cargo run --release -- bench http)".into());
    }
    let scratch = super::baseline::ScratchPostgres::create(&options.postgres_url).await?;
    let result = measure(options, &scratch.url, &mut say).await;
    scratch.drop_now().await;
    result
}

async fn measure(options: &HttpBenchOptions, url: &str, say: &mut dyn FnMut(String)) -> Result<(), BenchError> {
    let exe = match &options.server_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe().map_err(|e| BenchError::Setup(e.to_string()))?,
    };
    say(format!("  serving with {}", exe.display()));
    let dir = tempfile::tempdir().map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut server = tokio::process::Command::new(exe)
        .args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("SLACK_BOT_TOKEN", "xoxb-bench")
        .env("SLACK_SIGNING_SECRET", SECRET)
        // Nothing is sent: the events are plain channel messages, which get no reply.
        .env("SLACK_API_URL", "http://127.0.0.1:9/api")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BenchError::Setup(format!("cannot start pmbot serve: {e}")))?;
    let pid = server.id().unwrap_or(0);
    let addr = read_address(&mut server).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    say(format!("  server pid {pid} on {addr}; resident memory idle: {}", rss(pid)));

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http();
    let client = Arc::new(client);
    let store = Store::connect(url).await?;
    let mut sent_total = 0u64;
    for &rate in &options.rates {
        let before = database_work(&store).await;
        let report = load(&client, &addr, pid, rate, options.seconds, sent_total).await;
        sent_total += report.sent;
        // The work behind the acks: until every job the events caused is finished.
        let loaded = Instant::now();
        let drained = drain(&store).await;
        let after = database_work(&store).await;
        if let (Some(before), Some(after)) = (before, after) {
            let events = report.sent.max(1) as f64;
            say(format!(
                "  {rate:>5} events/s: backlog {} · per event {:.1} transactions, {:.1} rows written",
                if drained {
                    format!("drained {:.1} s after the load", loaded.elapsed().as_secs_f64())
                } else {
                    "NOT drained within 120 s".into()
                },
                (after.0 - before.0) as f64 / events,
                (after.1 - before.1) as f64 / events,
            ));
        }
        let peak = report.peak_rss_kib.map_or("?".to_string(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
        say(format!(
            "  {rate:>5} events/s: achieved {:>6.0}/s · ack p50 {:.2} ms · p99 {:.2} ms · p99.9 {:.2} ms · errors {} · peak memory {peak}",
            report.achieved, report.p50_ms, report.p99_ms, report.p999_ms, report.errors
        ));
        if rate == 500 {
            let verdict = if report.p99_ms < 5.0 && report.errors == 0 { "meets" } else { "MISSES" };
            say(format!(
                "  at 500 events/s: p99 {:.2} ms {verdict} the 5 ms target (no errors required)",
                report.p99_ms
            ));
        }
    }
    let jobs = store.jobs(&WorkspaceId::new("default"), None, Some("slack.inbound"), 1_000_000).await?;
    let discarded = jobs.iter().filter(|j| j.state == JobState::Discarded).count();
    say(format!(
        "  events sent {sent_total}, jobs enqueued {} ({}), discarded {discarded}",
        jobs.len(),
        if jobs.len() as u64 == sent_total { "each exactly once" } else { "MISMATCH" }
    ));
    store.close().await;
    let _ = server.kill().await;
    Ok(())
}

/// Waits until no job is waiting or running (at most 120 s); `false` when it did not happen.
async fn drain(store: &Store) -> bool {
    let ws = WorkspaceId::new("default");
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let pending = store.job_counts(&ws).await.map_or(1, |counts| {
            counts
                .iter()
                .filter(|(state, _)| matches!(state, JobState::Available | JobState::Running | JobState::Retryable))
                .map(|(_, n)| *n)
                .sum::<i64>()
        });
        if pending == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// PostgreSQL's own count of the database's transactions and rows written so far (its
/// statistics lag up to a second behind, so this waits that long first).
async fn database_work(store: &Store) -> Option<(i64, i64)> {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.database_activity().await.ok().flatten()
}

async fn read_address(server: &mut tokio::process::Child) -> Result<String, BenchError> {
    use tokio::io::AsyncBufReadExt;
    let stdout = server.stdout.take().ok_or_else(|| BenchError::Setup("no stdout from pmbot serve".into()))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| BenchError::Setup("pmbot serve did not start within 30 s".into()))?
        .map_err(|e| BenchError::Setup(e.to_string()))?
        .unwrap_or_default();
    // Keep draining its stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    line.strip_prefix("pmbot listening on http://")
        .map(str::to_string)
        .ok_or_else(|| BenchError::Setup(format!("unexpected first line: {line}")))
}

struct Report {
    sent: u64,
    errors: u64,
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    peak_rss_kib: Option<u64>,
}

/// Open-loop load: one request every 1/rate s for `seconds`, whatever the answers' pace.
async fn load(
    client: &Arc<Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>>,
    addr: &str,
    server_pid: u32,
    rate: u32,
    seconds: u64,
    offset: u64,
) -> Report {
    let total = u64::from(rate) * seconds;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    let mut peak: Option<u64> = None;
    for n in 0..total {
        ticker.tick().await;
        let (client, uri) = (client.clone(), format!("http://{addr}/slack/events"));
        let body = event_body(offset + n);
        tasks.push(tokio::spawn(async move { send(&client, &uri, body).await }));
        if n % u64::from(rate / 4).max(1) == 0 {
            peak = peak.max(rss_kib(server_pid));
        }
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Report {
        sent: total,
        errors,
        achieved: latencies.len() as f64 / elapsed,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        p999_ms: at(0.999),
        peak_rss_kib: peak,
    }
}

fn event_body(n: u64) -> String {
    serde_json::json!({
        "type": "event_callback", "team_id": "T1", "event_id": format!("EvBench{n}"),
        "event": {"type": "message", "user": "U01ANASOUS", "channel": "C0BENCH", "text": format!("status update {n}"), "ts": format!("1700000000.{n:06}")}
    })
    .to_string()
}

/// The latency of one signed request, or `None` for an error or a non-2xx answer.
async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    uri: &str,
    body: String,
) -> Option<Duration> {
    let timestamp = chrono::Utc::now().timestamp();
    let request = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", sign(&body, timestamp))
        .body(Full::new(Bytes::from(body)))
        .ok()?;
    let started = Instant::now();
    let response = client.request(request).await.ok()?;
    let ok = response.status().is_success();
    let _ = response.into_body().collect().await;
    let latency = started.elapsed();
    ok.then_some(latency)
}

fn sign(body: &str, timestamp: i64) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()) else { return String::new() };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn rss(pid: u32) -> String {
    rss_kib(pid).map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}
