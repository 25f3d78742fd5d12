//! The executor: lease jobs, run each in its own task with a heartbeat, a timeout and panic
//! capture, and record the outcome with the lease's fencing token. Wakes on PostgreSQL
//! `NOTIFY` and polls as a fallback. Maintenance (rescue, prune, expiry) runs on a timer.

use super::retry::finish_for;
use super::{JobContext, Outcome, Registry};
use crate::store::{Claimed, Finish, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The commit time of the ack path above which workers hold back (a quarter of their slots).
const ACK_BUDGET: Duration = Duration::from_millis(5);

/// Completed jobs `(id, lease_count)` waiting to be recorded in a batch.
type Completions = mpsc::Sender<(i64, i64)>;

/// Where "now" comes from; tests inject their own.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This worker's name in leases (`host-pid` by default).
    pub id: String,
    /// Jobs of one queue running at once when the registry does not say.
    pub concurrency: usize,
    /// Most jobs leased by one claim.
    pub batch: u32,
    pub lease: Duration,
    /// Fallback polling when no notification arrives (and the only wake-up on SQLite).
    pub poll: Duration,
    /// On shutdown, how long running jobs may take to finish before they are released.
    pub shutdown_grace: Duration,
    /// Finished jobs are deleted after this long.
    pub retention: Duration,
    pub maintenance_every: Duration,
    /// Record completions in batches (one transaction for many) instead of one by one.
    pub batch_completions: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            id: format!("{}-{}", hostname(), std::process::id()),
            concurrency: 4,
            batch: 10,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(20),
            retention: Duration::from_secs(7 * 24 * 3600),
            maintenance_every: Duration::from_secs(5),
            batch_completions: false,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "pmbot".into())
}

/// What a worker did, for logs and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct WorkerStats {
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Attempts whose result was refused because the lease had moved on.
    pub lost: u64,
    /// Jobs handed back unfinished at shutdown.
    pub released: u64,
    /// From `run_at` to the start of the attempt, per job.
    pub start_latencies: Vec<Duration>,
}

enum Report {
    Recorded { completed: bool },
    Lost,
}

pub struct Worker<S> {
    store: Store,
    registry: Arc<Registry<S>>,
    state: Arc<S>,
    config: WorkerConfig,
    clock: Clock,
    stats: Arc<Mutex<WorkerStats>>,
}

struct Held {
    id: i64,
    lease_count: i64,
    queue: String,
}

impl<S: Send + Sync + 'static> Worker<S> {
    pub fn new(store: Store, registry: Arc<Registry<S>>, state: Arc<S>, config: WorkerConfig) -> Self {
        let clock: Clock = Arc::new(Utc::now);
        Worker { store, registry, state, config, clock, stats: Arc::default() }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn config_mut(&mut self) -> &mut WorkerConfig {
        &mut self.config
    }

    pub fn stats(&self) -> WorkerStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs until `shutdown` completes, then stops claiming, lets running jobs finish for up
    /// to the grace period, and releases the rest.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()> + Send) -> WorkerStats {
        let wake = Arc::new(Notify::new());
        let listener = self.listen(wake.clone()).await;
        let (completer, completions) = self.completer().unzip();
        let mut tasks: JoinSet<Report> = JoinSet::new();
        let mut held: HashMap<tokio::task::Id, Held> = HashMap::new();
        let mut next_maintenance = Instant::now();
        tokio::pin!(shutdown);
        loop {
            if Instant::now() >= next_maintenance {
                self.maintain().await;
                next_maintenance = Instant::now() + self.config.maintenance_every;
            }
            self.fill(&mut tasks, &mut held, completions.as_ref()).await;
            tokio::select! {
                () = &mut shutdown => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(self.config.poll) => {}
                Some(done) = tasks.join_next_with_id() => self.reap(done, &mut held),
            }
        }
        tracing::info!(worker = %self.config.id, running = held.len(), "stopping: no new claims");
        let grace = tokio::time::sleep(self.config.shutdown_grace);
        tokio::pin!(grace);
        while !held.is_empty() {
            tokio::select! {
                () = &mut grace => break,
                Some(done) = tasks.join_next_with_id() => self.reap(done, &mut held),
            }
        }
        tasks.abort_all();
        for job in held.into_values() {
            if let Ok(true) = self.store.release(job.id, job.lease_count, (self.clock)()).await {
                self.bump(|s| s.released += 1);
            }
        }
        drop(completions);
        if let Some(completer) = completer {
            let _ = completer.await;
        }
        if let Some(listener) = listener {
            listener.abort();
        }
        self.stats()
    }

    /// Runs every job that is due now, including jobs those jobs enqueue, then returns.
    /// Used by the terminal chat and tests for a deterministic order.
    pub async fn run_until_idle(&self) -> WorkerStats {
        self.maintain().await;
        loop {
            let mut tasks: JoinSet<Report> = JoinSet::new();
            let mut held = HashMap::new();
            self.fill(&mut tasks, &mut held, None).await;
            if held.is_empty() {
                return self.stats();
            }
            while let Some(done) = tasks.join_next_with_id().await {
                self.reap(done, &mut held);
            }
        }
    }

    /// Rescues jobs of dead workers, expires approvals (resuming their jobs) and prunes.
    pub async fn maintain(&self) {
        let now = (self.clock)();
        if let Err(err) = self.maintain_at(now).await {
            tracing::warn!(error = %err, "queue maintenance failed; will try again");
        }
    }

    async fn maintain_at(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let rescued = self.store.rescue_expired(now).await?;
        if rescued > 0 {
            tracing::warn!(rescued, "returned jobs of a lost worker to the queue");
        }
        self.store.expire_approvals(now).await?;
        self.store.resume_resolved(now).await?;
        let retention = chrono::Duration::from_std(self.config.retention).unwrap_or(chrono::Duration::days(7));
        self.store.prune_jobs(now - retention).await?;
        Ok(())
    }

    async fn fill(
        &self,
        tasks: &mut JoinSet<Report>,
        held: &mut HashMap<tokio::task::Id, Held>,
        completions: Option<&Completions>,
    ) {
        // While recording inbound requests grows slow, take fewer jobs: acks come first.
        let yielding = self.store.ack_latency() > ACK_BUDGET;
        for (queue, limit) in self.registry.queues() {
            let limit = if limit == 0 { self.config.concurrency } else { limit };
            let limit = if yielding { limit.div_ceil(4) } else { limit };
            let running = held.values().filter(|h| h.queue == queue).count();
            let free = limit.saturating_sub(running).min(self.config.batch as usize) as u32;
            if free == 0 {
                continue;
            }
            let now = (self.clock)();
            let lease_until =
                now + chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::seconds(30));
            let claimed = match self.store.claim(queue, &self.config.id, free, lease_until, now).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(queue, error = %err, "claiming jobs failed; will try again");
                    continue;
                }
            };
            for job in claimed {
                let (id, lease_count) = (job.id, job.lease_count);
                let task = tasks.spawn(self.execute(job, completions.cloned()));
                held.insert(task.id(), Held { id, lease_count, queue: queue.to_string() });
            }
        }
    }

    fn reap(
        &self,
        done: Result<(tokio::task::Id, Report), tokio::task::JoinError>,
        held: &mut HashMap<tokio::task::Id, Held>,
    ) {
        match done {
            Ok((id, report)) => {
                held.remove(&id);
                match report {
                    Report::Recorded { completed: true } => self.bump(|s| s.completed += 1),
                    Report::Recorded { completed: false } => self.bump(|s| s.failed += 1),
                    Report::Lost => self.bump(|s| s.lost += 1),
                }
            }
            Err(err) => {
                held.remove(&err.id());
            }
        }
    }

    fn bump(&self, change: impl FnOnce(&mut WorkerStats)) {
        if let Ok(mut stats) = self.stats.lock() {
            change(&mut stats);
        }
    }

    /// One attempt of one job, from start to recorded outcome.
    fn execute(
        &self,
        job: Claimed,
        completions: Option<Completions>,
    ) -> impl std::future::Future<Output = Report> + Send + 'static {
        let (store, registry, state, clock, stats) =
            (self.store.clone(), self.registry.clone(), self.state.clone(), self.clock.clone(), self.stats.clone());
        let (worker, lease) = (self.config.id.clone(), self.config.lease);
        async move {
            let started = clock();
            if let Ok(mut s) = stats.lock() {
                s.started += 1;
                s.start_latencies.push((started - job.run_at).to_std().unwrap_or_default());
            }
            let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempt);
            let _entered = span.enter();
            let ctx = JobContext {
                id: job.id,
                workspace: job.workspace.clone(),
                attempt: job.attempt,
                max_attempts: job.max_attempts,
                resume: job.resume.clone(),
                now: started,
                worker,
            };
            drop(_entered);
            let secrets = registry.secrets(&job.kind);
            let outcome = match registry.start(&job.kind, state, job.payload.clone(), ctx) {
                None => Outcome::Discard(format!("job kind \"{}\" is unknown to this version of pmbot", job.kind)),
                Some((future, timeout)) => match supervise(&store, &job, future, timeout, lease, &clock).await {
                    Some(outcome) => outcome,
                    None => return Report::Lost,
                },
            };
            record(&store, &job, outcome, secrets, completions, clock()).await
        }
    }

    /// With batched completions: the task recording them, and where to send `(id, lease)`.
    fn completer(&self) -> Option<(tokio::task::JoinHandle<()>, Completions)> {
        if !self.config.batch_completions {
            return None;
        }
        let (sender, mut receiver) = mpsc::channel::<(i64, i64)>(4096);
        let (store, clock) = (self.store.clone(), self.clock.clone());
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(256);
            while receiver.recv_many(&mut batch, 256).await > 0 {
                if let Err(err) = store.complete_many(&batch, clock()).await {
                    tracing::warn!(error = %err, jobs = batch.len(), "recording completions failed; their leases will expire and they run again");
                }
                batch.clear();
            }
        });
        Some((task, sender))
    }

    async fn listen(&self, wake: Arc<Notify>) -> Option<tokio::task::JoinHandle<()>> {
        let mut listener = match self.store.listener().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(error = %err, "cannot LISTEN for new jobs; polling only");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(err) => {
                        tracing::warn!(error = %err, "job notifications interrupted; polling until they are back");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }))
    }
}

/// Runs the job's future in its own task (a panic becomes a failed attempt), heartbeating
/// the lease and enforcing the timeout. `None` when the lease was lost meanwhile.
async fn supervise(
    store: &Store,
    job: &Claimed,
    future: std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>,
    timeout: Duration,
    lease: Duration,
    clock: &Clock,
) -> Option<Outcome> {
    let mut handle = tokio::spawn(future);
    // If this attempt is dropped (shutdown, lost lease), the job's own task stops with it,
    // so a released job never keeps running beside its next holder.
    let _stop_job = AbortOnDrop(handle.abort_handle());
    let mut heartbeat = tokio::time::interval_at(Instant::now() + lease / 3, lease / 3);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            joined = &mut handle => {
                return Some(match joined {
                    Ok(outcome) => outcome,
                    Err(err) if err.is_panic() => Outcome::retry(format!("the job panicked: {}", panic_message(err.into_panic()))),
                    Err(_) => Outcome::retry("the job was aborted"),
                });
            }
            () = &mut deadline => {
                handle.abort();
                return Some(Outcome::retry(format!("timed out after {} s", timeout.as_secs_f64())));
            }
            _ = heartbeat.tick() => {
                let now = clock();
                let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
                match store.heartbeat(job.id, job.lease_count, until, now).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.id, "lost the lease (rescued or cancelled); stopping this attempt");
                        handle.abort();
                        return None;
                    }
                    Err(err) => tracing::warn!(job = job.id, error = %err, "heartbeat failed; will try again"),
                }
            }
        }
    }
}

/// Records how the attempt ended. A job that ended for good loses its `secrets` in the same
/// statement (so it is not batched with completions that keep their payload).
async fn record(
    store: &Store,
    job: &Claimed,
    outcome: Outcome,
    secrets: &[&str],
    completions: Option<Completions>,
    now: DateTime<Utc>,
) -> Report {
    if outcome == Outcome::Done && secrets.is_empty() {
        if let Some(completions) = completions {
            if completions.send((job.id, job.lease_count)).await.is_ok() {
                return Report::Recorded { completed: true };
            }
        }
    }
    let finish = finish_for(outcome, job.id, job.attempt, job.max_attempts, &job.errors, now);
    match &finish {
        Finish::Retry { errors, .. } | Finish::Discarded { errors } => {
            if let Some(last) = errors.last() {
                tracing::warn!(job = job.id, kind = %job.kind, attempt = job.attempt, error = %last.message, "job attempt failed");
            }
        }
        _ => {}
    }
    let ended = matches!(finish, Finish::Completed | Finish::Cancelled { .. } | Finish::Discarded { .. });
    let scrubbed = (ended && !secrets.is_empty()).then(|| super::scrubbed(&job.payload, secrets));
    match store.finish_with(job.id, job.lease_count, &finish, scrubbed.as_ref(), now).await {
        Ok(true) => Report::Recorded { completed: finish == Finish::Completed },
        Ok(false) => {
            tracing::warn!(job = job.id, "the result came after the lease moved on; it was not recorded");
            Report::Lost
        }
        Err(err) => {
            tracing::error!(job = job.id, error = %err, "recording the result failed; the lease will expire and the job run again");
            Report::Lost
        }
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}
