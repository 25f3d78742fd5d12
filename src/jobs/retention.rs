//! `retention.prune` (daily, `[retention]`): deletes chat messages, decisions, approvals,
//! agent sends and reports older than their configured age (and intake's mail threads,
//! ended pull requests' and alerts' links and reporters with the decisions), for every
//! workspace, and the
//! worktrees of fix runs that ended longer ago than `[fix] workspace_cleanup_days` (kept
//! until then for inspection). Deleting again is harmless, so a retry needs no care.

use crate::config::RetentionConfig;
use crate::job_env::JobEnv;
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::Cutoffs;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RetentionJob {}

impl JobSpec for RetentionJob {
    const KIND: &'static str = "retention.prune";
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);
}

/// What goes, as of `now`.
pub fn cutoffs(config: &RetentionConfig, now: DateTime<Utc>) -> Cutoffs {
    let before = |days: u32| now - Duration::days(i64::from(days));
    Cutoffs {
        chat_messages: before(config.chat_messages_days),
        decisions: before(config.decisions_days),
        approvals: before(config.approvals_days),
        agent_sends: before(config.agent_sends_days),
        reports: before(config.reports_days),
    }
}

impl<C: Send + Sync + 'static> Job<JobEnv<C>> for RetentionJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        match env.store.prune_retained(&cutoffs(&env.config.retention, ctx.now)).await {
            Ok(pruned) => tracing::info!(?pruned, "pruned what is past its retention"),
            Err(err) => return Outcome::retry(err.to_string()),
        }
        let days = i64::from(env.config.fix.workspace_cleanup_days);
        match crate::workflows::fix::clean_worktrees(
            &env.store,
            &ctx.workspace,
            &env.config,
            ctx.now - Duration::days(days),
        )
        .await
        {
            Ok(removed) if removed > 0 => tracing::info!(removed, "removed ended fix runs' worktrees"),
            Ok(_) => {}
            Err(err) => return Outcome::retry(err.to_string()),
        }
        Outcome::Done
    }
}
