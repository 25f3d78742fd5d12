//! pmbot's own figures: enqueue rate, claim + complete rates with and without batching,
//! and enqueue → start latency through a real worker.

use super::{BenchError, BenchOptions, Figures};
use crate::queue::{Job, JobContext, JobSpec, Outcome, Registry, Worker, WorkerConfig};
use crate::store::{NewJob, Store, WorkspaceId};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

const QUEUE: &str = "bench";
const BATCH: u32 = 100;

/// A job that does nothing, run by the latency worker.
#[derive(Serialize, Deserialize)]
struct Noop;

impl JobSpec for Noop {
    const KIND: &'static str = "bench.noop";
    const QUEUE: &'static str = "bench-latency";
}

impl Job<()> for Noop {
    async fn run(&self, _: &(), _: &JobContext) -> Outcome {
        Outcome::Done
    }
}

fn noop_job() -> NewJob {
    NewJob { queue: QUEUE.into(), ..Noop.to_new_job(Utc::now()) }
}

pub async fn all(
    store: &Store,
    options: &BenchOptions,
    baseline_tps: f64,
    say: &mut dyn FnMut(String),
) -> Result<Figures, BenchError> {
    let ws = WorkspaceId::new("bench");
    store.ensure_workspace(&ws, "bench", Utc::now()).await?;
    let span = Duration::from_secs(options.seconds);
    say("  measuring enqueue …".into());
    let enqueue = enqueue_rate(store, &ws, options.clients, span).await?;
    say("  measuring claim + complete, unbatched …".into());
    top_up(store, &ws, (enqueue * options.seconds as f64 * 2.0) as usize).await?;
    let unbatched = drain_rate(store, options.clients, span, 1).await?;
    say("  measuring claim + complete, batched …".into());
    top_up(store, &ws, (unbatched * options.seconds as f64 * 12.0).max(50_000.0) as usize).await?;
    let batched = drain_rate(store, options.clients, span, BATCH).await?;
    say("  measuring enqueue → start latency …".into());
    let (latency_p50, latency_p99) = latency(store, &ws).await?;
    Ok(Figures { baseline_tps, enqueue, unbatched, batched, latency_p50, latency_p99 })
}

/// `clients` tasks each enqueue one job per transaction for `span`.
async fn enqueue_rate(store: &Store, ws: &WorkspaceId, clients: usize, span: Duration) -> Result<f64, BenchError> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while started.elapsed() < span {
                    store.enqueue(&ws, &noop_job(), Utc::now()).await?;
                    done += 1;
                }
                Ok::<u64, BenchError>(done)
            })
        })
        .collect();
    rate(tasks, started).await
}

/// Makes sure at least `count` jobs are waiting (inserted in one transaction per 10,000).
async fn top_up(store: &Store, ws: &WorkspaceId, count: usize) -> Result<(), BenchError> {
    let job = noop_job();
    let now = Utc::now();
    for chunk in (0..count.min(2_000_000)).collect::<Vec<_>>().chunks(10_000) {
        let mut tx = store.begin().await?;
        for _ in chunk {
            tx.enqueue(ws, &job, now).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// `clients` tasks claim `batch` jobs at a time and complete them, for `span` or until the
/// queue is empty.
async fn drain_rate(store: &Store, clients: usize, span: Duration, batch: u32) -> Result<f64, BenchError> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let (owner, mut done) = (format!("bench-{n}"), 0u64);
                while started.elapsed() < span {
                    let now = Utc::now();
                    let claimed = store.claim(QUEUE, &owner, batch, now + chrono::Duration::seconds(60), now).await?;
                    if claimed.is_empty() {
                        break;
                    }
                    if batch == 1 {
                        let job = &claimed[0];
                        store.finish(job.id, job.lease_count, &crate::store::Finish::Completed, Utc::now()).await?;
                    } else {
                        let held: Vec<(i64, i64)> = claimed.iter().map(|j| (j.id, j.lease_count)).collect();
                        store.complete_many(&held, Utc::now()).await?;
                    }
                    done += claimed.len() as u64;
                }
                Ok::<u64, BenchError>(done)
            })
        })
        .collect();
    rate(tasks, started).await
}

async fn rate(
    tasks: Vec<tokio::task::JoinHandle<Result<u64, BenchError>>>,
    started: Instant,
) -> Result<f64, BenchError> {
    let mut total = 0;
    for task in tasks {
        total += task.await.map_err(|e| BenchError::Setup(e.to_string()))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A real worker (LISTEN/NOTIFY on PostgreSQL, 10 ms polling on SQLite) while one job is
/// enqueued every 10 ms; the time from enqueue to the start of each job.
async fn latency(store: &Store, ws: &WorkspaceId) -> Result<(Duration, Duration), BenchError> {
    let registry = Arc::new(Registry::new().register::<Noop>().map_err(|e| BenchError::Setup(e.to_string()))?);
    let poll = if store.backend() == "postgres" { Duration::from_secs(1) } else { Duration::from_millis(10) };
    let config = WorkerConfig { id: "bench-latency".into(), poll, concurrency: 8, ..WorkerConfig::default() };
    let worker = Arc::new(Worker::new(store.clone(), registry, Arc::new(()), config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run(async { stopped.await.unwrap_or(()) }).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..300 {
        let now = Utc::now();
        store.enqueue(ws, &Noop.to_new_job(now), now).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = stop.send(());
    let stats = running.await.map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut latencies = stats.start_latencies;
    latencies.sort();
    let at = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or_default();
    Ok((at(0.5), at(0.99)))
}
