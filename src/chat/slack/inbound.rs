//! Slack's requests as the chat core's events. Pure: JSON and form fields in, `Inbound` out.
//! Anything pmbot does not act on is `None` (acknowledged and ignored upstream).

use super::render::original_action_id;
use crate::chat::{Inbound, MessageRef, Origin, Platform};
use serde_json::Value;
use std::collections::HashMap;

/// What an Events API request body is.
#[derive(Debug, Clone, PartialEq)]
pub enum EventsRequest {
    UrlVerification {
        challenge: String,
    },
    /// An `event_callback`: queue it under its `event_id`.
    Callback {
        event_id: String,
        event: Value,
        /// The workspace and app it is for (checked against the ones served).
        team_id: Option<String>,
        api_app_id: Option<String>,
    },
    /// `app_rate_limited` and other envelopes with nothing to do.
    Other,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the request lacks {0}")]
    Missing(&'static str),
}

pub fn events_request(body: &[u8]) -> Result<EventsRequest, ParseError> {
    let body = std::str::from_utf8(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let json: Value = serde_json::from_str(&crate::chat::lossy_json::repair_lone_surrogates(body))
        .map_err(|e| ParseError::NotJson(e.to_string()))?;
    match json["type"].as_str() {
        Some("url_verification") => {
            let challenge = json["challenge"].as_str().ok_or(ParseError::Missing("challenge"))?;
            Ok(EventsRequest::UrlVerification { challenge: challenge.into() })
        }
        Some("event_callback") => {
            let event_id =
                json["event_id"].as_str().filter(|id| !id.is_empty()).ok_or(ParseError::Missing("event_id"))?;
            if !json["event"].is_object() {
                return Err(ParseError::Missing("event"));
            }
            Ok(EventsRequest::Callback {
                event_id: event_id.into(),
                event: json["event"].clone(),
                team_id: text(&json["team_id"]),
                api_app_id: text(&json["api_app_id"]),
            })
        }
        Some(_) => Ok(EventsRequest::Other),
        None => Err(ParseError::Missing("type")),
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn origin(channel: String, user: String, ts: String, thread: Option<String>) -> Origin {
    Origin { platform: Platform::Slack, channel, user, ts, thread }
}

/// An event from an `event_callback`, or `None` for what pmbot ignores: bots' messages (its
/// own included), edits, deletions and other subtypes, and unknown event types.
pub fn event(event: &Value) -> Option<Inbound> {
    if event.get("bot_id").and_then(Value::as_str).is_some_and(|b| !b.is_empty()) {
        return None;
    }
    let user = text(&event["user"])?;
    let channel = text(&event["channel"])?;
    match event["type"].as_str()? {
        "app_mention" => {
            let origin = origin(channel, user, text(&event["ts"])?, text(&event["thread_ts"]));
            Some(Inbound::Mention { origin, text: event["text"].as_str().unwrap_or_default().into() })
        }
        "message" if text(&event["subtype"]).is_none() => {
            let origin = origin(channel, user, text(&event["ts"])?, text(&event["thread_ts"]));
            let text = event["text"].as_str().unwrap_or_default().into();
            // A direct message to the bot is talking to it, as a mention is.
            if event["channel_type"].as_str() == Some("im") {
                Some(Inbound::Mention { origin, text })
            } else {
                Some(Inbound::Message { origin, text })
            }
        }
        "app_home_opened" if event["tab"].as_str() == Some("home") => {
            let ts = text(&event["event_ts"]).unwrap_or_else(|| "0".into());
            Some(Inbound::HomeOpened { origin: origin(channel, user, ts, None) })
        }
        "member_joined_channel" => {
            let ts = text(&event["event_ts"]).unwrap_or_else(|| "0".into());
            Some(Inbound::MemberJoined { origin: origin(channel, user, ts, None) })
        }
        _ => None,
    }
}

/// A slash command's form fields; also returns its `response_url`.
pub fn command(form: &HashMap<String, String>) -> Result<(Inbound, String), ParseError> {
    let field = |name: &'static str| form.get(name).filter(|v| !v.is_empty()).cloned().ok_or(ParseError::Missing(name));
    let origin = origin(field("channel_id")?, field("user_id")?, field("trigger_id")?, None);
    let inbound = Inbound::SlashCommand {
        origin,
        command: field("command")?,
        text: form.get("text").cloned().unwrap_or_default(),
    };
    Ok((inbound, field("response_url")?))
}

/// A `block_actions` interaction (a button on one of pmbot's messages), or `None` for
/// other interaction types.
pub fn interaction(payload: &Value) -> Result<Option<Inbound>, ParseError> {
    if payload["type"].as_str() == Some("view_submission") {
        return form_submission(payload);
    }
    if payload["type"].as_str() != Some("block_actions") {
        return Ok(None);
    }
    let action = &payload["actions"][0];
    let Some(action_id) = text(&action["action_id"]) else { return Ok(None) };
    let user = text(&payload["user"]["id"]).ok_or(ParseError::Missing("user.id"))?;
    let channel = text(&payload["channel"]["id"])
        .or_else(|| text(&payload["container"]["channel_id"]))
        .ok_or(ParseError::Missing("channel.id"))?;
    let message_ts = text(&payload["container"]["message_ts"])
        .or_else(|| text(&payload["message"]["ts"]))
        .ok_or(ParseError::Missing("message.ts"))?;
    let ts = text(&action["action_ts"]).unwrap_or_else(|| message_ts.clone());
    let thread = text(&payload["container"]["thread_ts"]).or_else(|| text(&payload["message"]["thread_ts"]));
    Ok(Some(Inbound::Action {
        origin: origin(channel.clone(), user, ts, thread),
        action_id: original_action_id(&action_id).to_string(),
        value: action["value"].as_str().unwrap_or_default().to_string(),
        message: MessageRef { channel, ts: message_ts },
        trigger: text(&payload["trigger_id"]),
    }))
}

/// A submitted form (`view_submission` of a modal pmbot opened), or `None` for other views.
pub fn form_submission(payload: &Value) -> Result<Option<Inbound>, ParseError> {
    if payload["type"].as_str() != Some("view_submission")
        || payload["view"]["callback_id"].as_str() != Some(super::FORM_CALLBACK)
    {
        return Ok(None);
    }
    let meta: Value = serde_json::from_str(payload["view"]["private_metadata"].as_str().unwrap_or_default())
        .map_err(|_| ParseError::Missing("view.private_metadata"))?;
    let user = text(&payload["user"]["id"]).ok_or(ParseError::Missing("user.id"))?;
    let channel = text(&meta["channel"]).unwrap_or_default();
    let answer = payload["view"]["state"]["values"]["answer"]["answer"]["value"].as_str().unwrap_or_default();
    let message = text(&meta["ts"]).map(|ts| MessageRef { channel: channel.clone(), ts });
    let ts = text(&payload["view"]["id"]).unwrap_or_else(|| "form".into());
    Ok(Some(Inbound::FormSubmitted {
        origin: origin(channel, user, ts, None),
        action_id: text(&meta["action"]).ok_or(ParseError::Missing("the form's action"))?,
        value: meta["value"].as_str().unwrap_or_default().to_string(),
        message,
        text: answer.trim().to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_verification_hands_back_the_challenge() {
        let body = br#"{"type":"url_verification","challenge":"3eZbrw1aB"}"#;
        assert_eq!(events_request(body), Ok(EventsRequest::UrlVerification { challenge: "3eZbrw1aB".into() }));
    }

    #[test]
    fn a_mention_in_a_thread_keeps_its_thread() {
        let event = json!({"type": "app_mention", "user": "U1", "text": "<@U0BOT> standup", "ts": "2.0", "channel": "C1", "thread_ts": "1.0"});
        let Some(Inbound::Mention { origin, text }) = super::event(&event) else { panic!() };
        assert_eq!(
            (origin.channel.as_str(), origin.thread.as_deref(), text.as_str()),
            ("C1", Some("1.0"), "<@U0BOT> standup")
        );
    }

    #[test]
    fn bots_edits_and_deletions_are_ignored() {
        for event in [
            json!({"type": "message", "user": "U1", "bot_id": "B1", "text": "hi", "ts": "1", "channel": "C1"}),
            json!({"type": "message", "subtype": "message_changed", "user": "U1", "ts": "1", "channel": "C1"}),
            json!({"type": "message", "subtype": "message_deleted", "user": "U1", "ts": "1", "channel": "C1"}),
            json!({"type": "reaction_added", "user": "U1", "channel": "C1"}),
        ] {
            assert_eq!(super::event(&event), None, "{event}");
        }
    }

    #[test]
    fn a_button_press_maps_back_to_the_action() {
        let payload = json!({
            "type": "block_actions", "user": {"id": "U1"}, "channel": {"id": "C1"},
            "container": {"message_ts": "5.5", "channel_id": "C1"},
            "actions": [{"action_id": "approval.decide#0", "value": "7:approve", "action_ts": "6.6"}]
        });
        let Some(Inbound::Action { action_id, value, message, .. }) = interaction(&payload).unwrap() else { panic!() };
        assert_eq!((action_id.as_str(), value.as_str(), message.ts.as_str()), ("approval.decide", "7:approve", "5.5"));
    }

    #[test]
    fn a_command_without_its_fields_is_refused() {
        let form: HashMap<String, String> = [("command".to_string(), "/standup".to_string())].into();
        assert!(matches!(command(&form), Err(ParseError::Missing(_))));
    }
}
