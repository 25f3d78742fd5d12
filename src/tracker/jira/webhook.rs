//! `POST /jira/webhook`: Jira Cloud's admin webhooks with a secret sign the raw body
//! (`X-Hub-Signature: sha256=<hex HMAC-SHA256>`); pmbot checks it in constant time before
//! reading anything, records the delivery as a job once (keyed by the signed body: Jira's
//! retries send the same body) and acknowledges it at once. The job reads the issue from Jira
//! as it is now, so a late or repeated delivery can only bring the board forward. Served only
//! when `JIRA_WEBHOOK_SECRET` is set.
//!
//! Why the signed secret, not a secret in the URL or a Connect app's JWT: a URL secret ends up
//! in proxies' and Jira's own logs, and Connect is an app framework Atlassian is retiring in
//! favour of Forge; an admin webhook with a secret needs neither and signs every delivery.

use super::super::sync::{Mirror, SyncReport};
use super::super::{Source, JIRA};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{ItemKind, Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const PATH: &str = "/jira/webhook";
const MAX_BODY: usize = 5 << 20;

pub struct JiraHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub secret: String,
}

pub fn routes(state: Arc<JiraHttp>) -> Router {
    Router::new().route(PATH, post(deliver)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

async fn deliver(State(state): State<Arc<JiraHttp>>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let refuse = |status: StatusCode, why: &str| (status, Json(json!({ "error": why }))).into_response();
    let hex = signature.trim().strip_prefix("sha256=").unwrap_or_default();
    if !crate::tracker::linear::webhook::signed(&state.secret, &body, hex) {
        return refuse(StatusCode::UNAUTHORIZED, "the signature (X-Hub-Signature) does not match");
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &format!("not JSON: {err}")),
    };
    let event = payload["webhookEvent"].as_str().unwrap_or_default();
    if !event.starts_with("jira:issue_") && !event.starts_with("comment_") {
        return (StatusCode::OK, Json(json!({ "ok": true, "ignored": event }))).into_response();
    }
    let Some(issue_id) = payload["issue"]["id"].as_str().filter(|id| !id.is_empty() && id.len() <= 100) else {
        return refuse(StatusCode::BAD_REQUEST, "issue.id is missing");
    };
    let delivery: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&body).iter().take(16).map(|b| format!("{b:02x}")).collect()
    };
    let job = JiraEventJob { delivery, event: event.into(), issue_id: issue_id.into() };
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.enqueue(&state.workspace, &job.to_new_job(Utc::now()), Utc::now()).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a Jira delivery could not be recorded");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "not recorded; redeliver it")
        }
    }
}

/// `jira.event`: one webhook delivery; the issue read from Jira as it is now and applied like
/// a synced page, or marked deleted when Jira no longer has it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JiraEventJob {
    pub delivery: String,
    pub event: String,
    pub issue_id: String,
}

impl JobSpec for JiraEventJob {
    const KIND: &'static str = "jira.event";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(120);

    fn unique_key(&self) -> Option<String> {
        Some(format!("jira:{}", self.delivery))
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for JiraEventJob {
    async fn run(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env).await)
    }
}

impl JiraEventJob {
    async fn step<C: crate::chat::Chat>(&self, env: &JobEnv<C>) -> Result<Outcome, StepError> {
        let source = Source::of(crate::config::TrackerKind::Jira, env.linear.as_ref(), env.jira.as_ref())
            .map_err(|why| StepError::Gone(format!("{why}: the delivery cannot be read")))?;
        let ws = env.workspace();
        let issue = source.issue(&self.issue_id).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let project_key = match &issue {
            Some(issue) => issue.key.split_once('-').map(|(p, _)| p.to_string()),
            None => env
                .store
                .mirror_item(&ws, JIRA, ItemKind::Issue, &self.issue_id)
                .await?
                .and_then(|item| item.local_ref.split_once('-').map(|(p, _)| p.to_string())),
        };
        let project = project_key.and_then(|key| env.config.projects.iter().find(|p| p.key == key));
        let Some(mirror) = project.and_then(|p| Mirror::new(&env.config, p)).filter(|m| m.tracker == JIRA) else {
            return Ok(Outcome::Done);
        };
        let mut tx = env.store.begin().await?;
        match &issue {
            Some(issue) => {
                mirror.apply(&mut tx, issue, &mut SyncReport::default()).await?;
            }
            None => {
                mirror.mark_deleted(&mut tx, &self.issue_id, Utc::now()).await?;
            }
        }
        tx.commit().await?;
        Ok(Outcome::Done)
    }
}
