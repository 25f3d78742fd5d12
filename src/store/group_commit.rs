//! Group commit for the ack path. An inbound request (a Slack event, a command, a Discord
//! interaction) is acknowledged only once its job is committed; concurrent requests share
//! one transaction instead of each paying for its own commit. Each of `COMMITTERS`
//! committers takes what is waiting (up to `MAX_BATCH`, never waiting for more), inserts each
//! job (a redelivery still finds its unique key and is not enqueued twice), wakes each queue
//! once, commits, and only then answers every waiting request. A request is answered with an
//! error when its batch did not commit (it is then retried alone), so nothing is acknowledged
//! that is not stored. It runs on connections of its own, so workers busy claiming never keep
//! an ack waiting for a connection.

use super::{NewJob, Result, Store, StoreError, WorkspaceId};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed together.
pub const MAX_BATCH: usize = 128;
/// Committers working at once: while one commits, the next batch gathers and goes.
pub const COMMITTERS: usize = 2;
/// Requests waiting to be recorded before new ones are refused (the platform retries).
pub const MAX_WAITING: usize = 4096;
/// Connections of the ack path's own pool (PostgreSQL): one per committer.
pub const CONNECTIONS: u32 = COMMITTERS as u32;

struct Request {
    ws: WorkspaceId,
    job: NewJob,
    now: DateTime<Utc>,
    done: oneshot::Sender<Result<Option<i64>>>,
}

pub(super) struct Recorder {
    sender: mpsc::Sender<Request>,
    /// Recent commit time (an average, in microseconds), for workers to yield to.
    latency_us: Arc<AtomicU64>,
    /// Commits made, for the benchmark and the tests.
    batches: Arc<AtomicU64>,
    /// When the last commit ended (milliseconds since `started`): an old average says nothing.
    last_ms: Arc<AtomicU64>,
    started: Instant,
}

/// A commit time older than this no longer holds workers back.
const FRESH: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("commits", &self.batches.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

impl Recorder {
    pub(super) fn start(store: Store) -> Recorder {
        let (sender, receiver) = mpsc::channel(MAX_WAITING);
        let (latency_us, batches, last_ms) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let started = Instant::now();
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..COMMITTERS {
            let clock = Clock { started, last_ms: last_ms.clone() };
            tokio::spawn(run(store.clone(), receiver.clone(), latency_us.clone(), batches.clone(), clock));
        }
        Recorder { sender, latency_us, batches, last_ms, started }
    }
}

type Shared = Arc<tokio::sync::Mutex<mpsc::Receiver<Request>>>;

struct Clock {
    started: Instant,
    last_ms: Arc<AtomicU64>,
}

async fn run(store: Store, receiver: Shared, latency_us: Arc<AtomicU64>, batches: Arc<AtomicU64>, clock: Clock) {
    loop {
        // What is waiting now, taken by one committer at a time.
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            batch
        };
        let started = Instant::now();
        let committed = commit(&store, &batch).await;
        batches.fetch_add(1, Ordering::Relaxed);
        let took = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        // A moving average: a few slow commits show, one does not dominate.
        let previous = latency_us.load(Ordering::Relaxed);
        latency_us.store((previous * 7 + took) / 8, Ordering::Relaxed);
        clock.last_ms.store(clock.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        match committed {
            Ok(ids) => {
                for (request, id) in batch.into_iter().zip(ids) {
                    let _ = request.done.send(Ok(id));
                }
            }
            // One request's failure must not fail the others: each alone, then.
            Err(_) if batch.len() > 1 => {
                for request in batch {
                    let alone = store.enqueue(&request.ws, &request.job, request.now).await;
                    let _ = request.done.send(alone);
                }
            }
            Err(err) => {
                for request in batch {
                    let _ = request
                        .done
                        .send(Err(StoreError::Unavailable { url: store.display_url.clone(), reason: err.to_string() }));
                }
            }
        }
    }
}

async fn commit(store: &Store, batch: &[Request]) -> Result<Vec<Option<i64>>> {
    let mut tx = store.begin().await?;
    let mut ids = Vec::with_capacity(batch.len());
    let mut woken: Vec<&str> = Vec::new();
    for request in batch {
        let id = tx.insert_job(&request.ws, &request.job, request.now).await?;
        if id.is_some() && request.job.run_at <= request.now && !woken.contains(&request.job.queue.as_str()) {
            woken.push(&request.job.queue);
        }
        ids.push(id);
    }
    for queue in woken {
        tx.wake(queue).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

impl Store {
    /// Enqueues the job of an inbound request and returns once it is committed, sharing the
    /// commit with concurrent requests (`Some(id)`, or `None` when its unique key was already
    /// enqueued). `Overloaded` when too many are waiting: answer 503 and let the platform
    /// retry.
    pub async fn record(&self, ws: &WorkspaceId, job: &NewJob, now: DateTime<Utc>) -> Result<Option<i64>> {
        let recorder = self.recorder.get_or_init(|| Recorder::start(self.for_acks()));
        let (done, answer) = oneshot::channel();
        let request = Request { ws: ws.clone(), job: job.clone(), now, done };
        recorder.sender.try_send(request).map_err(|_| StoreError::Overloaded)?;
        answer.await.map_err(|_| StoreError::Overloaded)?
    }

    /// How long recording takes lately (zero before the first): workers hold back while it
    /// grows, so the ack path keeps the database's attention.
    pub fn ack_latency(&self) -> Duration {
        let Some(r) = self.recorder.get() else { return Duration::ZERO };
        let since = r.started.elapsed().saturating_sub(Duration::from_millis(r.last_ms.load(Ordering::Relaxed)));
        if since > FRESH {
            // No request lately: nothing to yield to.
            return Duration::ZERO;
        }
        Duration::from_micros(r.latency_us.load(Ordering::Relaxed))
    }

    /// Commits the ack path has made so far (each holding one or more requests).
    pub fn ack_commits(&self) -> u64 {
        self.recorder.get().map_or(0, |r| r.batches.load(Ordering::Relaxed))
    }
}
