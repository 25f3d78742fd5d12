//! `POST /alerts/alertmanager`: the bearer token is checked (in constant time) before
//! anything else; a notification is recorded as a job (Alertmanager's retries of it are the
//! same job) and acknowledged with 202. Served only when `PMBOT_ALERTS_TOKEN` is set.

use super::{parse, AlertsJob};
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub const PATH: &str = "/alerts/alertmanager";

/// An alert storm of a thousand alerts fits; more is refused with 413.
pub const MAX_BODY: usize = 4 << 20;

pub struct AlertsHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub token: String,
}

pub fn routes(state: Arc<AlertsHttp>) -> Router {
    Router::new().route(PATH, post(notify)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

async fn notify(State(state): State<Arc<AlertsHttp>>, headers: HeaderMap, body: Bytes) -> Response {
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|token| crate::digest::same(token.trim().as_bytes(), state.token.as_bytes())) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "a bearer token is required" }))).into_response();
    }
    let bad = |why: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response();
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return bad(format!("not JSON: {err}")),
    };
    let alerts = match parse(&value) {
        Ok(notification) => notification.alerts.len(),
        Err(why) => return bad(why),
    };
    let job = AlertsJob { notification: value, digest: crate::digest::short(&body) };
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.enqueue(&state.workspace, &job.to_new_job(chrono::Utc::now()), chrono::Utc::now()).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "alerts": alerts }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "an alert notification could not be recorded");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "not recorded; send it again" }))).into_response()
        }
    }
}
