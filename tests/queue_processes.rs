//! The queue with real worker processes (the `pmbot worker` binary): one killed with
//! SIGKILL in the middle of 1,000 jobs, and two or three draining one queue together.

mod common;

use pmbot::jobs::ProbeJob;
use pmbot::queue::JobSpec;
use pmbot::store::{JobState, Store, WorkspaceId};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

on_both_backends!(
    url:
    a_worker_killed_mid_run_loses_nothing_and_repeats_nothing,
    three_workers_drain_one_queue_without_running_a_job_twice,
);

fn spawn_worker(url: &str, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .args([
            "--database-url",
            url,
            "worker",
            "--lease-seconds",
            "2",
            "--poll-ms",
            "25",
            "--concurrency",
            "8",
            "--batch",
            "8",
        ])
        .args(["--id", name])
        .env_remove("PMBOT_CONFIG")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(log_of(name)).unwrap()))
        .spawn()
        .expect("start pmbot worker")
}

async fn enqueue_probes(store: &Store, count: usize, hold_ms: u64) {
    let ws = WorkspaceId::new("default");
    let now = chrono::Utc::now();
    let mut tx = store.begin().await.unwrap();
    for _ in 0..count {
        tx.enqueue(&ws, &ProbeJob { hold_ms, noop: false }.to_new_job(now), now).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn count_in(store: &Store, state: JobState) -> i64 {
    let counts = store.job_counts(&WorkspaceId::new("default")).await.unwrap();
    counts.into_iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| n)
}

async fn probes(store: &Store) -> Vec<(String, i64)> {
    store.probe_counts(&WorkspaceId::new("default")).await.unwrap()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where a worker's errors go, to show when it misbehaves.
fn log_of(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("pmbot-test-worker-{}-{name}.log", std::process::id()))
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let logs: String =
                ["w1", "w2", "w3", "survivor"].iter().filter_map(|n| std::fs::read_to_string(log_of(n)).ok()).collect();
            assert!(status.success(), "worker exited with {status}; its errors:\n{logs}");
            return;
        }
        assert!(Instant::now() < deadline, "worker did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn a_worker_killed_mid_run_loses_nothing_and_repeats_nothing(url: &str) {
    let store = Store::connect(url).await.unwrap();
    enqueue_probes(&store, 1000, 3).await;
    let mut doomed = spawn_worker(url, "doomed");
    wait_until("the first worker is well under way", Duration::from_secs(60), async || {
        probes(&store).await.iter().map(|(_, n)| n).sum::<i64>() >= 150
    })
    .await;
    doomed.kill().unwrap(); // SIGKILL: no goodbye, leases left dangling
    doomed.wait().unwrap();
    let done_by_doomed: i64 = probes(&store).await.iter().map(|(_, n)| n).sum();
    assert!(done_by_doomed < 1000, "the kill landed mid-run");

    let survivor = spawn_worker(url, "survivor");
    wait_until("every job is completed", Duration::from_secs(90), async || {
        count_in(&store, JobState::Completed).await == 1000
    })
    .await;
    stop(survivor);

    let by_worker = probes(&store).await;
    assert_eq!(by_worker.iter().map(|(_, n)| n).sum::<i64>(), 1000, "each job's effect exactly once: {by_worker:?}");
    assert_eq!(count_in(&store, JobState::Discarded).await, 0);
    assert!(by_worker.iter().any(|(w, _)| w == "survivor"), "the survivor finished the rest: {by_worker:?}");
    store.close().await;
}

async fn three_workers_drain_one_queue_without_running_a_job_twice(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let workers: Vec<Child> = (1..=3).map(|n| spawn_worker(url, &format!("w{n}"))).collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    enqueue_probes(&store, 600, 4).await;
    wait_until("every job is completed", Duration::from_secs(90), async || {
        count_in(&store, JobState::Completed).await == 600
    })
    .await;
    workers.into_iter().for_each(stop);

    let by_worker = probes(&store).await;
    assert_eq!(by_worker.iter().map(|(_, n)| n).sum::<i64>(), 600, "none lost: {by_worker:?}");
    assert!(by_worker.len() >= 2, "the work was shared: {by_worker:?}");
    let jobs = store.jobs(&WorkspaceId::new("default"), None, Some(ProbeJob::KIND), 1000).await.unwrap();
    assert!(jobs.iter().all(|j| j.attempt == 1 && j.errors.is_empty()), "no job was claimed twice");
    store.close().await;
}
