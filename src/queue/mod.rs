//! The durable job queue: jobs are rows (`store::jobs`), workers lease and run them, the
//! scheduler turns cron firings into jobs, and approvals park jobs until a person decides.
//!
//! The queue runs jobs it does not know: each kind implements [`Job`] and is registered in a
//! [`Registry`] built by the app (`crate::jobs`).

mod registry;
pub mod retry;
pub mod scheduler;
mod worker;

pub use registry::{Registry, RegistryError};
pub use worker::{Clock, Worker, WorkerConfig, WorkerStats};

use crate::store::{NewJob, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// What a job kind is: its name, queue and limits. Jobs must be idempotent: an attempt may
/// be cut short (crash, timeout) and run again.
pub trait JobSpec: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(60);
    /// Lower runs first.
    const PRIORITY: i32 = 0;
    /// JSON pointers into the payload of what must not outlive the job (interaction tokens,
    /// response URLs): removed from the stored row once the job has ended for good.
    const SECRETS: &'static [&'static str] = &[];

    /// Jobs with the same key are enqueued once.
    fn unique_key(&self) -> Option<String> {
        None
    }

    /// The row to enqueue for this job, to run at `run_at`.
    fn to_new_job(&self, run_at: DateTime<Utc>) -> NewJob {
        NewJob {
            kind: Self::KIND.into(),
            queue: Self::QUEUE.into(),
            payload: serde_json::to_value(self).unwrap_or(Value::Null),
            priority: Self::PRIORITY,
            max_attempts: Self::MAX_ATTEMPTS,
            run_at,
            unique_key: self.unique_key(),
        }
    }
}

/// `payload` without the fields at `pointers` (each replaced by `"[removed]"`).
pub fn scrubbed(payload: &Value, pointers: &[&str]) -> Value {
    let mut payload = payload.clone();
    for pointer in pointers {
        if let Some(field) = payload.pointer_mut(pointer) {
            *field = Value::String("[removed]".into());
        }
    }
    payload
}

/// Running a job kind with the app's state `S`.
pub trait Job<S>: JobSpec {
    fn run(&self, state: &S, ctx: &JobContext) -> impl Future<Output = Outcome> + Send;
}

/// What a running job knows about itself.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: i64,
    pub workspace: WorkspaceId,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub max_attempts: u32,
    /// Set when the job was resumed, e.g. by an approval's decision.
    pub resume: Option<Value>,
    /// When this attempt started.
    pub now: DateTime<Utc>,
    /// The worker running it.
    pub worker: String,
}

/// How an attempt ended, as the job says.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// Failed; try again with backoff, not before `after` when the server said so
    /// (`Retry-After`). Discarded once out of attempts.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// Not now: run again after this long, without using an attempt.
    Snooze(Duration),
    /// Stop for good: nothing more to do.
    Cancel(String),
    /// Stop for good: this can never succeed (bad payload, unknown kind).
    Discard(String),
    /// Park until approval `approval_id` is decided or expires, then run again with the
    /// decision in `JobContext::resume`.
    Await {
        approval_id: i64,
    },
}

impl Outcome {
    pub fn retry(error: impl Into<String>) -> Self {
        Outcome::Retry { error: error.into(), after: None }
    }
}
