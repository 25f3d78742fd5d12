//! `pmbot serve`: health endpoints on a port picked by the OS, and a clean stop on SIGTERM.

mod common;

use common::TestDb;
use pmbot::app::App;
use pmbot::config::{load::parse, BUILT_IN};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

async fn health_endpoints_answer(db: TestDb) {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(&db.url)).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, server) = app.serve("127.0.0.1:0", async { stopped.await.unwrap_or(()) }).await.unwrap();
    let server = tokio::spawn(server);
    assert_ne!(addr.port(), 0);

    let health = reqwest::get(format!("http://{addr}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], app.store.backend());
    let missing = reqwest::get(format!("http://{addr}/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);

    app.store.close().await;
    let closed = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(closed.status(), 503, "not ready without a database");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    db.finish().await;
}

#[tokio::test]
async fn health_endpoints_answer_on_sqlite() {
    health_endpoints_answer(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn health_endpoints_answer_on_postgres() {
    health_endpoints_answer(TestDb::postgres().await).await;
}

#[tokio::test]
async fn serve_logs_its_address_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = pmbot::store::sqlite_url(&dir.path().join("serve.db"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .args(["--database-url", &url, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("PMBOT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("pmbot listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));

    let health = reqwest::get(format!("http://{addr}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "pmbot serve did not stop within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
}
