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

use super::super::event::refuse;
use super::super::JIRA;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

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
    super::super::event::record(&state.store, &state.workspace, JIRA, &body, event, issue_id).await
}
