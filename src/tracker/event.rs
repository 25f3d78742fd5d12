//! A tracker's webhook delivery as a job (`tracker.event`), for Linear and Jira alike: recorded
//! once (keyed by the signed body — the delivery-id headers are not signed) and acknowledged at
//! once; the job reads the issue from the tracker as it is now and applies it like a synced
//! page, or marks it deleted when the tracker no longer has it — so a late or repeated delivery
//! can only bring the board forward.

use super::sync::{Mirror, SyncReport};
use super::Source;
use crate::config::TrackerKind;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{ItemKind, Store, WorkspaceId};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventJob {
    /// `linear` or `jira`.
    pub tracker: String,
    /// The signed body's hash: a redelivery is the same job.
    pub delivery: String,
    /// What the tracker said happened (`Issue:update`, `jira:issue_updated`), for the log.
    pub event: String,
    pub issue_id: String,
}

impl JobSpec for EventJob {
    const KIND: &'static str = "tracker.event";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(120);

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.tracker, self.delivery))
    }
}

/// The answer to a request that cannot be taken, with why.
pub fn refuse(status: StatusCode, why: &str) -> Response {
    (status, Json(json!({ "error": why }))).into_response()
}

/// Records a verified delivery about `issue_id` as a job and acknowledges it (503 when it could
/// not be recorded: the tracker delivers it again).
pub async fn record(
    store: &Store,
    ws: &WorkspaceId,
    tracker: &str,
    body: &[u8],
    event: &str,
    issue_id: &str,
) -> Response {
    let delivery: String = {
        use sha2::Digest;
        sha2::Sha256::digest(body).iter().take(16).map(|b| format!("{b:02x}")).collect()
    };
    let job = EventJob { tracker: tracker.into(), delivery, event: event.into(), issue_id: issue_id.into() };
    let recorded = async {
        let mut tx = store.begin().await?;
        tx.enqueue(ws, &job.to_new_job(Utc::now()), Utc::now()).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, tracker, "a tracker's delivery could not be recorded");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "not recorded; redeliver it")
        }
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for EventJob {
    async fn run(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env).await)
    }
}

impl EventJob {
    async fn step<C: crate::chat::Chat>(&self, env: &JobEnv<C>) -> Result<Outcome, StepError> {
        let kind = match self.tracker.as_str() {
            super::LINEAR => TrackerKind::Linear,
            super::JIRA => TrackerKind::Jira,
            other => return Err(StepError::Gone(format!("no tracker {other}"))),
        };
        let source = Source::of(kind, env.linear.as_ref(), env.jira.as_ref())
            .map_err(|why| StepError::Gone(format!("{why}: the delivery cannot be read")))?;
        let ws = env.workspace();
        let issue = source.issue(&self.issue_id).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let key = match &issue {
            Some(issue) => Some(issue.key.clone()),
            None => {
                env.store.mirror_item(&ws, &self.tracker, ItemKind::Issue, &self.issue_id).await?.map(|i| i.local_ref)
            }
        };
        let project = key
            .as_deref()
            .and_then(|key| key.split_once('-'))
            .and_then(|(project, _)| env.config.projects.iter().find(|p| p.key == project));
        let Some(mirror) = project.and_then(|p| Mirror::new(&env.config, p)).filter(|m| m.tracker == self.tracker)
        else {
            // Another team's or project's issue: not this board's.
            return Ok(Outcome::Done);
        };
        let mut tx = env.store.begin().await?;
        let mut report = SyncReport::default();
        match &issue {
            Some(issue) => {
                mirror.apply(&mut tx, issue, &mut report).await?;
            }
            None => {
                mirror.mark_deleted(&mut tx, &self.issue_id, Utc::now()).await?;
            }
        }
        tx.commit().await?;
        if !report.unmapped.is_empty() {
            tracing::warn!(tracker = %self.tracker, statuses = ?report.unmapped, "tracker statuses with no mapping: their tickets stay where they were");
        }
        Ok(Outcome::Done)
    }
}
