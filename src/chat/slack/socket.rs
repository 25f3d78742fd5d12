//! Socket Mode: the same requests as HTTP mode, over Slack's WebSocket (`SLACK_APP_TOKEN`).
//! slack-morphism keeps the connections up and reconnects; each envelope is recorded as the
//! same `slack.inbound` job HTTP mode records, and acknowledged when that is done.

use super::client::{connector, SlackSettings};
use super::jobs::{SlackInboundJob, SlackSource};
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use chrono::Utc;
use serde_json::Value;
use slack_morphism::listener::{SlackClientEventsListenerEnvironment, SlackClientEventsUserState};
use slack_morphism::prelude::*;
use slack_morphism::socket_mode::{
    SlackClientSocketModeConfig, SlackClientSocketModeListener, SlackSocketModeListenerCallbacks,
};
use std::sync::Arc;

struct Recorder {
    store: Store,
    workspace: WorkspaceId,
}

type Client = SlackClient<super::client::Connector>;
type Outcome<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn record(states: &SlackClientEventsUserState, job: SlackInboundJob) -> Outcome<()> {
    let guard = states.read().await;
    let recorder = guard.get_user_state::<Recorder>().ok_or("the Socket Mode state is missing")?;
    let now = Utc::now();
    recorder.store.record(&recorder.workspace, &job.to_new_job(now), now).await?;
    Ok(())
}

async fn on_push(event: SlackPushEventCallback, _: Arc<Client>, states: SlackClientEventsUserState) -> Outcome<()> {
    let body = serde_json::to_value(&event.event)?;
    let job = SlackInboundJob { source: SlackSource::Event, delivery: format!("event:{}", event.event_id), body };
    record(&states, job).await
}

async fn on_command(
    event: SlackCommandEvent,
    _: Arc<Client>,
    states: SlackClientEventsUserState,
) -> Outcome<SlackCommandEventResponse> {
    let fields = serde_json::json!({
        "command": event.command.to_string(),
        "text": event.text.clone().unwrap_or_default(),
        "user_id": event.user_id.to_string(),
        "channel_id": event.channel_id.to_string(),
        "team_id": event.team_id.to_string(),
        "trigger_id": event.trigger_id.to_string(),
        "response_url": event.response_url.0.to_string(),
    });
    let job = SlackInboundJob {
        source: SlackSource::Command,
        delivery: format!("command:{}", event.trigger_id),
        body: fields,
    };
    record(&states, job).await?;
    let text = format!("Working on `{}`…", event.command);
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text)))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _: Arc<Client>,
    states: SlackClientEventsUserState,
) -> Outcome<()> {
    let payload: Value = serde_json::to_value(&event)?;
    if super::inbound::interaction(&payload).ok().flatten().is_none() {
        return Ok(());
    }
    let trigger = payload["trigger_id"]
        .as_str()
        .filter(|t| !t.is_empty())
        .or_else(|| payload["actions"][0]["action_ts"].as_str())
        .unwrap_or_default()
        .to_string();
    let job =
        SlackInboundJob { source: SlackSource::Interaction, delivery: format!("interaction:{trigger}"), body: payload };
    record(&states, job).await
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _: Arc<Client>,
    _: SlackClientEventsUserState,
) -> HttpStatusCode {
    tracing::warn!(error = %err, "a Socket Mode envelope could not be recorded; Slack will deliver it again");
    HttpStatusCode::INTERNAL_SERVER_ERROR
}

/// Connects with the app-level token and records envelopes until `stop` completes.
pub async fn run(
    app_token: &str,
    settings: &SlackSettings,
    store: Store,
    workspace: WorkspaceId,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), crate::chat::ChatError> {
    let client = Arc::new(SlackClient::new(connector(settings)));
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_user_state(Recorder { store, workspace })
            .with_error_handler(on_error),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let listener = SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), environment, callbacks);
    listener
        .listen_for(&SlackApiToken::new(app_token.to_string().into()))
        .await
        .map_err(|e| crate::chat::ChatError::Platform(format!("Socket Mode could not connect: {e}")))?;
    listener.start().await;
    tracing::info!("connected to Slack in Socket Mode");
    stop.await;
    listener.shutdown().await;
    Ok(())
}
