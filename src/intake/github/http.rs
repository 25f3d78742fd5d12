//! `POST /github/webhook`: the HMAC-SHA256 signature (`X-Hub-Signature-256`) is checked in
//! constant time before anything else is read; a delivery is recorded as a job keyed by
//! `X-GitHub-Delivery` (GitHub's redeliveries are the same job) and acknowledged with 202.
//! Served only when `GITHUB_WEBHOOK_SECRET` is set.

use super::{parse, Event, GithubJob};
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub const PATH: &str = "/github/webhook";

/// GitHub caps payloads at 25 MB; pmbot reads none that large.
pub const MAX_BODY: usize = 25 << 20;

pub struct GithubHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub secret: String,
}

pub fn routes(state: Arc<GithubHttp>) -> Router {
    Router::new().route(PATH, post(deliver)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

async fn deliver(State(state): State<Arc<GithubHttp>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    if !super::event::signed(&state.secret, &body, header("x-hub-signature-256")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "the signature (X-Hub-Signature-256) does not match" })),
        )
            .into_response();
    }
    let bad = |why: String| (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response();
    let (name, delivery) = (header("x-github-event"), header("x-github-delivery"));
    if name.is_empty() || delivery.is_empty() || delivery.len() > 100 {
        return bad("X-GitHub-Event and X-GitHub-Delivery are required".into());
    }
    let payload: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return bad(format!("not JSON: {err}")),
    };
    match parse(name, &payload) {
        Err(why) => return bad(why),
        // Nothing to do: acknowledged, not recorded.
        Ok(Event::Ping) => return (StatusCode::OK, Json(json!({ "ok": true, "event": "ping" }))).into_response(),
        Ok(Event::Ignored(what)) => {
            return (StatusCode::ACCEPTED, Json(json!({ "ok": true, "ignored": what }))).into_response()
        }
        Ok(_) => {}
    }
    let job = GithubJob { event: name.to_string(), delivery: delivery.to_string(), payload };
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.enqueue(&state.workspace, &job.to_new_job(chrono::Utc::now()), chrono::Utc::now()).await?;
        tx.commit().await
    };
    match recorded.await {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "ok": true }))).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a GitHub delivery could not be recorded");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": "not recorded; redeliver it" }))).into_response()
        }
    }
}
