//! `POST /slack/events`, `/slack/commands`, `/slack/interactions`. Each request's signature
//! is checked before anything else; a good request is recorded as a job (a redelivery is the
//! same job) and acknowledged at once. The work happens in the job.

use super::jobs::{SlackInboundJob, SlackSource};
use crate::chat::slack::inbound::{events_request, EventsRequest};
use crate::chat::slack::PATHS;
use crate::chat::Chat;
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use std::collections::HashMap;
use std::sync::Arc;

/// Slack's bodies are small; anything over this is refused with 413.
pub const MAX_BODY: usize = 1 << 20;

/// Slack's replay window.
const MAX_AGE_SECONDS: u64 = 300;

pub struct SlackHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub signing_secret: String,
    /// Opens forms (modals) at once: their trigger lives only 3 s.
    pub chat: Arc<crate::chat::slack::SlackChat>,
    /// The workspace and app served; requests from others are refused.
    pub team_id: Option<String>,
    pub app_id: Option<String>,
    /// The team, to open a form only for someone who may fill it in.
    pub people: Arc<Vec<crate::board::Person>>,
}

pub fn routes(state: Arc<SlackHttp>) -> Router {
    Router::new()
        .route(PATHS[0], post(events))
        .route(PATHS[1], post(commands))
        .route(PATHS[2], post(interactions))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Every way a Slack request can be refused, mapped to its status in one place.
#[derive(Debug, thiserror::Error)]
enum SlackHttpError {
    #[error("bad signature")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error("expected {0}")]
    WrongContentType(&'static str),
    #[error("could not record the request; try again")]
    Unavailable,
}

impl IntoResponse for SlackHttpError {
    fn into_response(self) -> Response {
        match self {
            // No detail: a forger learns nothing.
            SlackHttpError::Unauthorized => StatusCode::UNAUTHORIZED.into_response(),
            SlackHttpError::BadRequest(_) => (StatusCode::BAD_REQUEST, self.to_string()).into_response(),
            SlackHttpError::WrongContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, self.to_string()).into_response()
            }
            SlackHttpError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response(),
        }
    }
}

/// Slack's v0 signature over the raw body, constant-time, within 5 minutes.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), SlackHttpError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).ok_or(SlackHttpError::Unauthorized);
    let (signature, timestamp) = (header("x-slack-signature")?, header("x-slack-request-timestamp")?);
    // Checked here first, so no timestamp (however far out of i64's range) reaches arithmetic
    // that could overflow.
    let sent: i64 = timestamp.trim().parse().map_err(|_| SlackHttpError::Unauthorized)?;
    if Utc::now().timestamp().abs_diff(sent) > MAX_AGE_SECONDS {
        return Err(SlackHttpError::Unauthorized);
    }
    let body = std::str::from_utf8(body).map_err(|_| SlackHttpError::Unauthorized)?;
    SlackEventSignatureVerifier::new(&SlackSigningSecret::new(secret.to_string()))
        .verify(signature, body, timestamp)
        .map_err(|_| SlackHttpError::Unauthorized)
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The signature first (nothing else is read before it), then the content type.
fn check(
    state: &SlackHttp,
    headers: &HeaderMap,
    body: &[u8],
    content_type: &'static str,
) -> Result<(), SlackHttpError> {
    verify(&state.signing_secret, headers, body)?;
    expect_content_type(headers, content_type)
}

fn expect_content_type(headers: &HeaderMap, wanted: &'static str) -> Result<(), SlackHttpError> {
    let actual = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if actual.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(wanted)) {
        Ok(())
    } else {
        Err(SlackHttpError::WrongContentType(wanted))
    }
}

/// A signed request from another workspace or app (a signing secret shared by mistake, a
/// second install) is refused like a bad signature, and logged.
fn same_workspace(state: &SlackHttp, team: Option<&str>, app: Option<&str>) -> Result<(), SlackHttpError> {
    let differs = |wanted: &Option<String>, got: Option<&str>| wanted.as_deref().is_some_and(|w| got != Some(w));
    if differs(&state.team_id, team) || differs(&state.app_id, app) {
        tracing::warn!(team, app, "a Slack request for another workspace or app was refused");
        return Err(SlackHttpError::Unauthorized);
    }
    Ok(())
}

async fn record(state: &SlackHttp, job: SlackInboundJob) -> Result<bool, SlackHttpError> {
    let now = Utc::now();
    match state.store.record(&state.workspace, &job.to_new_job(now), now).await {
        Ok(id) => Ok(id.is_some()),
        Err(err) => {
            tracing::error!(error = %err, "recording a Slack request failed");
            Err(SlackHttpError::Unavailable)
        }
    }
}

async fn events(
    State(state): State<Arc<SlackHttp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SlackHttpError> {
    check(&state, &headers, &body, "application/json")?;
    match events_request(&body).map_err(|e| SlackHttpError::BadRequest(e.to_string()))? {
        EventsRequest::UrlVerification { challenge } => Ok(Json(json!({ "challenge": challenge })).into_response()),
        EventsRequest::Callback { event_id, event, team_id, api_app_id } => {
            same_workspace(&state, team_id.as_deref(), api_app_id.as_deref())?;
            let fresh = record(
                &state,
                SlackInboundJob { source: SlackSource::Event, delivery: format!("event:{event_id}"), body: event },
            )
            .await?;
            if !fresh {
                let retry = headers.get("x-slack-retry-num").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::debug!(event_id, retry, "a Slack event delivered again; already queued");
            }
            Ok(StatusCode::OK.into_response())
        }
        EventsRequest::Other => Ok(StatusCode::OK.into_response()),
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

async fn commands(
    State(state): State<Arc<SlackHttp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SlackHttpError> {
    check(&state, &headers, &body, FORM)?;
    let mut fields = form(&body);
    fields.remove("token");
    // Checked now so a malformed command is refused here, not discarded later.
    crate::chat::slack::inbound::command(&fields).map_err(|e| SlackHttpError::BadRequest(e.to_string()))?;
    same_workspace(&state, fields.get("team_id").map(String::as_str), fields.get("api_app_id").map(String::as_str))?;
    let trigger = fields.get("trigger_id").cloned().unwrap_or_default();
    let command = fields.get("command").cloned().unwrap_or_default();
    let body = serde_json::to_value(&fields).unwrap_or(Value::Null);
    record(&state, SlackInboundJob { source: SlackSource::Command, delivery: format!("command:{trigger}"), body })
        .await?;
    Ok(Json(json!({ "response_type": "ephemeral", "text": format!("Working on `{command}`…") })).into_response())
}

async fn interactions(
    State(state): State<Arc<SlackHttp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, SlackHttpError> {
    check(&state, &headers, &body, FORM)?;
    let payload =
        form(&body).remove("payload").ok_or_else(|| SlackHttpError::BadRequest("the request lacks payload".into()))?;
    let mut payload: Value =
        serde_json::from_str(&payload).map_err(|e| SlackHttpError::BadRequest(format!("payload is not JSON: {e}")))?;
    // Slack's legacy verification token is not needed, so not kept.
    if let Some(fields) = payload.as_object_mut() {
        fields.remove("token");
    }
    let parsed =
        crate::chat::slack::inbound::interaction(&payload).map_err(|e| SlackHttpError::BadRequest(e.to_string()))?;
    same_workspace(&state, payload["team"]["id"].as_str(), payload["api_app_id"].as_str())?;
    if let Some(crate::chat::Inbound::Action { origin, action_id, value, message, trigger: Some(trigger) }) = &parsed {
        let form = crate::dispatch::form_for_button(action_id, value, message);
        let allowed = match &form {
            Some(_) => {
                crate::dispatch::may_open_form(&state.store, &state.workspace, &state.people, origin, action_id, value)
                    .await
            }
            None => false,
        };
        if let Some(form) = form.filter(|_| allowed) {
            let opening =
                tokio::time::timeout(std::time::Duration::from_millis(2500), state.chat.form(Some(trigger), &form));
            if let Ok(Ok(true)) = opening.await {
                return Ok(StatusCode::OK.into_response());
            }
            // Not opened in time: the job answers with the command to use instead.
        }
    }
    if parsed.is_some() {
        let trigger = payload["trigger_id"].as_str().filter(|t| !t.is_empty());
        let action_ts = payload["actions"][0]["action_ts"].as_str().unwrap_or_default();
        let delivery = format!("interaction:{}", trigger.unwrap_or(action_ts));
        record(&state, SlackInboundJob { source: SlackSource::Interaction, delivery, body: payload }).await?;
    }
    Ok(StatusCode::OK.into_response())
}
