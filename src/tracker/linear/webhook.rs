//! `POST /linear/webhook`: the `Linear-Signature` (hex HMAC-SHA256 of the raw body) is checked
//! in constant time before anything is read, then `webhookTimestamp` must be within a minute
//! of now (a replayed delivery is refused); the delivery is recorded as a job once per
//! `Linear-Delivery` and acknowledged at once. The job reads the issue from Linear as it is
//! now, so a late or repeated delivery can only bring the board up to date, never back.
//! Served only when `LINEAR_WEBHOOK_SECRET` is set.

use super::super::event::refuse;
use super::super::LINEAR;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::Arc;

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
    super::super::event::record(&state.store, &state.workspace, LINEAR, &body, &format!("{kind}:{action}"), issue_id)
        .await
}
