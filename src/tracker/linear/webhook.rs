//! `POST /linear/webhook`: the `Linear-Signature` (hex HMAC-SHA256 of the raw body) is checked
//! in constant time before anything is read, then `webhookTimestamp` must be within a minute
//! of now (a replayed delivery is refused); the delivery is recorded as a job once per
//! `Linear-Delivery` and acknowledged at once. The job reads the issue from Linear as it is
//! now, so a late or repeated delivery can only bring the board up to date, never back.
//! Served only when `LINEAR_WEBHOOK_SECRET` is set.

use super::super::sync::{Mirror, SyncReport};
use super::super::LINEAR;
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

pub const PATH: &str = "/linear/webhook";
/// Linear's SDK refuses deliveries whose timestamp is further than this from now.
pub const MAX_SKEW_MS: i64 = 60_000;
const MAX_BODY: usize = 5 << 20;

pub struct LinearHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub secret: String,
}

pub fn routes(state: Arc<LinearHttp>) -> Router {
    Router::new().route(PATH, post(deliver)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

/// Whether `signature` (hex) is the HMAC-SHA256 of `body` under `secret`.
pub fn signed(secret: &str, body: &[u8], signature: &str) -> bool {
    use hmac::{KeyInit, Mac};
    let Some(expected) = hex(signature.trim()) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

async fn deliver(State(state): State<Arc<LinearHttp>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    let refuse = |status: StatusCode, why: &str| (status, Json(json!({ "error": why }))).into_response();
    if !signed(&state.secret, &body, header("linear-signature")) {
        return refuse(StatusCode::UNAUTHORIZED, "the signature (Linear-Signature) does not match");
    }
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, &format!("not JSON: {err}")),
    };
    // Only the signed body's timestamp counts (a header could be changed in a replay).
    let sent_at = payload["webhookTimestamp"].as_f64().filter(|ms| ms.is_finite()).map(|ms| ms as i64);
    match sent_at {
        Some(ms) if Utc::now().timestamp_millis().checked_sub(ms).is_some_and(|d| d.abs() <= MAX_SKEW_MS) => {}
        Some(_) => {
            return refuse(StatusCode::UNAUTHORIZED, "webhookTimestamp is more than a minute from now (a replay?)")
        }
        None => return refuse(StatusCode::BAD_REQUEST, "webhookTimestamp is missing"),
    }
    let (kind, action) = (payload["type"].as_str().unwrap_or_default(), payload["action"].as_str().unwrap_or_default());
    let issue_id = match kind {
        "Issue" => payload["data"]["id"].as_str(),
        "Comment" => payload["data"]["issueId"].as_str().or_else(|| payload["data"]["issue"]["id"].as_str()),
        _ => return (StatusCode::OK, Json(json!({ "ok": true, "ignored": kind }))).into_response(),
    };
    let Some(issue_id) = issue_id.filter(|id| !id.is_empty() && id.len() <= 100) else {
        return refuse(StatusCode::BAD_REQUEST, "data.id (or data.issueId for a comment) is missing");
    };
    // One delivery, one job, keyed by the signed body: Linear-Delivery is not signed, so a
    // replayed body under new delivery ids would otherwise be new work each time.
    let delivery: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&body).iter().take(16).map(|b| format!("{b:02x}")).collect()
    };
    let job = LinearEventJob { delivery, kind: kind.into(), action: action.into(), issue_id: issue_id.into() };
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.enqueue(&state.workspace, &job.to_new_job(Utc::now()), Utc::now()).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => (StatusCode::OK, Json(json!({ "ok": true }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a Linear delivery could not be recorded");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "not recorded; redeliver it")
        }
    }
}

/// `linear.event`: one webhook delivery. The issue is read from Linear as it is now and
/// applied like a synced page; gone from Linear, it is marked deleted on the board.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearEventJob {
    pub delivery: String,
    /// `Issue` or `Comment`.
    pub kind: String,
    pub action: String,
    pub issue_id: String,
}

impl JobSpec for LinearEventJob {
    const KIND: &'static str = "linear.event";
    const MAX_ATTEMPTS: u32 = 10;
    const TIMEOUT: Duration = Duration::from_secs(120);

    fn unique_key(&self) -> Option<String> {
        Some(format!("linear:{}", self.delivery))
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for LinearEventJob {
    async fn run(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env).await)
    }
}

impl LinearEventJob {
    async fn step<C: crate::chat::Chat>(&self, env: &JobEnv<C>) -> Result<Outcome, StepError> {
        let Some(linear) = env.linear.as_deref() else {
            return Err(StepError::Gone("LINEAR_API_KEY is not set: the delivery cannot be read".into()));
        };
        let ws = env.workspace();
        let issue = linear.issue(&self.issue_id).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let project_key = match &issue {
            Some(issue) => issue.key.split_once('-').map(|(p, _)| p.to_string()),
            None => env
                .store
                .mirror_item(&ws, LINEAR, ItemKind::Issue, &self.issue_id)
                .await?
                .map(|item| item.local_ref.split_once('-').map(|(p, _)| p.to_string()).unwrap_or_default()),
        };
        let project = project_key.and_then(|key| env.config.projects.iter().find(|p| p.key == key));
        let Some(mirror) = project.and_then(|p| Mirror::new(&env.config, p)).filter(|m| m.tracker == LINEAR) else {
            // Another team's issue: not this board's.
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
            tracing::warn!(statuses = ?report.unmapped, "Linear statuses with no mapping: their tickets stay where they were");
        }
        Ok(Outcome::Done)
    }
}
