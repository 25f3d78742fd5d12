//! `POST /discord/interactions`: Ed25519-verified, then PING → PONG, autocomplete → no
//! suggestions, commands and buttons → recorded as a job and deferred (Discord's 3 s rule).

use super::jobs::DiscordInboundJob;
use crate::chat::discord::inbound::{parse, Interaction, RunKind};
use crate::chat::discord::verify::verify;
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use std::sync::Arc;

pub const PATH: &str = "/discord/interactions";

fn modal(form: &crate::chat::Form) -> serde_json::Value {
    let message = form.message.as_ref().map(|m| m.ts.as_str());
    let custom_id = crate::chat::discord::inbound::form_id(&form.action_id, &form.value, message);
    json!({ "type": 9, "data": {
        "custom_id": custom_id.chars().take(100).collect::<String>(),
        "title": form.title.chars().take(45).collect::<String>(),
        "components": [{ "type": 1, "components": [{
            "type": 4, "custom_id": "answer", "style": 2, "required": true, "max_length": 3000,
            "label": form.question.chars().take(45).collect::<String>()
        }]}]
    }})
}

pub struct DiscordHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub public_key: VerifyingKey,
    /// The one server served, when set.
    pub guild_id: Option<String>,
    /// The team, to open a form only for someone who may fill it in.
    pub people: Arc<Vec<crate::board::Person>>,
}

pub fn routes(state: Arc<DiscordHttp>) -> Router {
    Router::new()
        .route(PATH, post(interactions))
        .layer(DefaultBodyLimit::max(crate::chat::slack::http::MAX_BODY))
        .with_state(state)
}

/// Whether the interaction comes from the configured server (any, when none is set; a DM,
/// which has no server, is not the configured one).
fn same_guild(state: &DiscordHttp, body: &[u8]) -> bool {
    let Some(wanted) = &state.guild_id else { return true };
    let guild =
        serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["guild_id"].as_str().map(str::to_string));
    if guild.as_deref() == Some(wanted.as_str()) {
        return true;
    }
    tracing::warn!(
        guild = guild.as_deref().unwrap_or("(none)"),
        "a Discord interaction from another server was refused"
    );
    false
}

async fn interactions(State(state): State<Arc<DiscordHttp>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (header("x-signature-ed25519"), header("x-signature-timestamp")) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if verify(&state.public_key, signature, timestamp, &body, Utc::now()).is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match parse(&body) {
        Ok(Interaction::Ping) => Json(json!({ "type": 1 })).into_response(),
        Ok(Interaction::Autocomplete) => Json(json!({ "type": 8, "data": { "choices": [] } })).into_response(),
        Ok(Interaction::Run { .. }) if !same_guild(&state, &body) => {
            // Answered (Discord shows nothing otherwise), not acted on.
            let text = "This bot serves another Discord server; nothing was done.";
            Json(json!({ "type": 4, "data": { "content": text, "flags": 64 } })).into_response()
        }
        Ok(Interaction::Run { inbound, kind, .. }) => {
            // A form can only be opened as the immediate answer to the press.
            if let crate::chat::Inbound::Action { origin, action_id, value, message, .. } = inbound.as_ref() {
                if let Some(form) = crate::dispatch::form_for_button(action_id, value, message) {
                    let (store, ws, people) = (&state.store, &state.workspace, &state.people);
                    if crate::dispatch::may_open_form(store, ws, people, origin, action_id, value).await {
                        return Json(modal(&form)).into_response();
                    }
                }
            }
            let interaction = inbound.origin().ts.clone();
            let job = DiscordInboundJob { interaction, body: String::from_utf8_lossy(&body).into_owned() };
            let now = Utc::now();
            if let Err(err) = state.store.record(&state.workspace, &job.to_new_job(now), now).await {
                tracing::error!(error = %err, "recording a Discord interaction failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "could not record the interaction; try again")
                    .into_response();
            }
            match kind {
                // A private "thinking…" until the job answers.
                RunKind::Command => Json(json!({ "type": 5, "data": { "flags": 64 } })).into_response(),
                // The pressed message is updated by the job.
                RunKind::Component | RunKind::FormSubmit => Json(json!({ "type": 6 })).into_response(),
            }
        }
        Err(err) => (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
    }
}
