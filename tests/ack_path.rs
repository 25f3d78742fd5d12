//! The ack path's group commit: inbound requests recorded concurrently share commits, each
//! is stored once (a redelivery finds its key), and a database that stops for two seconds
//! delays the acks without losing one. On SQLite files and a real PostgreSQL.

mod common;

use chrono::Utc;
use pmbot::store::{NewJob, Store, WorkspaceId};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn event(key: usize) -> NewJob {
    NewJob {
        kind: "slack.inbound".into(),
        queue: "slack".into(),
        payload: serde_json::json!({ "delivery": format!("event:Ev{key}") }),
        priority: -10,
        max_attempts: 3,
        run_at: Utc::now(),
        unique_key: Some(format!("slack:event:Ev{key}")),
    }
}

async fn ready(store: &Store) -> WorkspaceId {
    let ws = WorkspaceId::new("default");
    store.ensure_workspace(&ws, "Test", Utc::now()).await.unwrap();
    ws
}

async fn record_all(store: &Store, ws: &WorkspaceId, keys: impl Iterator<Item = usize>) -> Vec<Option<i64>> {
    let mut tasks = tokio::task::JoinSet::new();
    for key in keys {
        let (store, ws) = (store.clone(), ws.clone());
        tasks.spawn(async move { store.record(&ws, &event(key), Utc::now()).await.expect("recorded") });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.unwrap());
    }
    out
}

on_both_backends!(
    url:
    concurrent_requests_share_commits_and_each_is_stored_once,
    a_database_that_stops_for_two_seconds_delays_acks_and_loses_none,
);

async fn concurrent_requests_share_commits_and_each_is_stored_once(url: &str) {
    let store = &Store::connect(url).await.unwrap();
    let ws = ready(store).await;
    // 300 requests: 150 events, each delivered twice (Slack retries).
    let answers = record_all(store, &ws, (0..300).map(|n| n % 150)).await;
    assert_eq!(answers.iter().filter(|a| a.is_some()).count(), 150, "each event enqueued once");
    assert_eq!(answers.iter().filter(|a| a.is_none()).count(), 150, "each redelivery found its key");
    let jobs = store.jobs(&ws, None, Some("slack.inbound"), 1000).await.unwrap();
    assert_eq!(jobs.len(), 150);
    let commits = store.ack_commits();
    assert!(commits < 150, "300 requests in {commits} commits: they were shared");
    store.close().await;
}

/// Another session holds the jobs table (PostgreSQL: an exclusive lock; SQLite: the write
/// lock) for 2 s while 100 requests arrive: each is answered after the pause, within Slack's
/// 3 s, and every one is stored.
async fn a_database_that_stops_for_two_seconds_delays_acks_and_loses_none(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let ws = ready(&store).await;
    let pause = Duration::from_secs(2);
    let held = Arc::new(tokio::sync::Barrier::new(2));
    let holder = {
        let (url, held) = (url.to_string(), held.clone());
        tokio::spawn(async move {
            use sqlx::Connection;
            if url.starts_with("postgres") {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let mut tx = conn.begin().await.unwrap();
                sqlx::query("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE").execute(&mut *tx).await.unwrap();
                held.wait().await;
                tokio::time::sleep(pause).await;
                tx.commit().await.unwrap();
            } else {
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
                held.wait().await;
                tokio::time::sleep(pause).await;
                sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
            }
        })
    };
    held.wait().await;
    let started = Instant::now();
    let answers = record_all(&store, &ws, 0..100).await;
    let took = started.elapsed();
    holder.await.unwrap();
    assert_eq!(answers.iter().filter(|a| a.is_some()).count(), 100, "every request recorded");
    assert!(took >= pause - Duration::from_millis(200), "they waited for the database ({took:?})");
    assert!(took < Duration::from_secs(3), "answered within Slack's 3 s ({took:?})");
    assert_eq!(store.jobs(&ws, None, Some("slack.inbound"), 1000).await.unwrap().len(), 100);
    store.close().await;
}
