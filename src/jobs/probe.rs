//! `diagnostics.probe`: a job whose only effect is one row saying which worker ran it. It
//! shows that workers are alive and, with its unique constraint, that each job's effect
//! happened once; the queue's reliability tests and benchmark use it.

use crate::job_env::JobEnv;
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProbeJob {
    /// Sleep this long first (to hold a job in flight in tests and benchmarks).
    #[serde(default)]
    pub hold_ms: u64,
    /// Skip writing the row: a pure no-op, for measuring the queue alone.
    #[serde(default)]
    pub noop: bool,
}

impl JobSpec for ProbeJob {
    const KIND: &'static str = "diagnostics.probe";
    const QUEUE: &'static str = "diagnostics";
    const MAX_ATTEMPTS: u32 = 25;
    const TIMEOUT: Duration = Duration::from_secs(30);
}

impl<C: Send + Sync + 'static> Job<JobEnv<C>> for ProbeJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        if self.hold_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.hold_ms)).await;
        }
        if self.noop {
            return Outcome::Done;
        }
        match env.store.record_probe(&ctx.workspace, ctx.id, &ctx.worker, ctx.now).await {
            // Written now, or by an earlier attempt whose completion was lost: done either way.
            Ok(_) => Outcome::Done,
            Err(err) => Outcome::retry(err.to_string()),
        }
    }
}
