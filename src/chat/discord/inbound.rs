//! Discord interactions as the chat core's events. Pure: JSON in, a typed request out.

use super::render::parse_custom_id;
use crate::chat::{Inbound, MessageRef, Origin, Platform};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    Ping,
    /// A slash command or button press to run as a job; `token` answers it.
    Run {
        inbound: Box<Inbound>,
        token: String,
        kind: RunKind,
    },
    /// Autocomplete requests: pmbot offers no suggestions.
    Autocomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Command,
    Component,
    /// A modal pmbot opened was submitted.
    FormSubmit,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParseError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the interaction lacks {0}")]
    Missing(&'static str),
    #[error("interaction type {0} is not one pmbot handles")]
    UnknownType(i64),
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

pub fn parse(body: &[u8]) -> Result<Interaction, ParseError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    match json["type"].as_i64().ok_or(ParseError::Missing("type"))? {
        1 => Ok(Interaction::Ping),
        2 => run(&json, RunKind::Command),
        3 => run(&json, RunKind::Component),
        4 => Ok(Interaction::Autocomplete),
        5 => run(&json, RunKind::FormSubmit),
        other => Err(ParseError::UnknownType(other)),
    }
}

fn run(json: &Value, kind: RunKind) -> Result<Interaction, ParseError> {
    let token = text(&json["token"]).ok_or(ParseError::Missing("token"))?;
    let user =
        text(&json["member"]["user"]["id"]).or_else(|| text(&json["user"]["id"])).ok_or(ParseError::Missing("user"))?;
    let channel =
        text(&json["channel_id"]).or_else(|| text(&json["channel"]["id"])).ok_or(ParseError::Missing("channel_id"))?;
    let id = text(&json["id"]).ok_or(ParseError::Missing("id"))?;
    let origin = Origin { platform: Platform::Discord, channel: channel.clone(), user, ts: id, thread: None };
    let data = &json["data"];
    let inbound = match kind {
        RunKind::Command => {
            let name = text(&data["name"]).ok_or(ParseError::Missing("data.name"))?;
            Inbound::SlashCommand { origin, command: format!("/{name}"), text: options_text(data) }
        }
        RunKind::Component => {
            let (action_id, value) =
                parse_custom_id(&text(&data["custom_id"]).ok_or(ParseError::Missing("data.custom_id"))?);
            let message =
                MessageRef { channel, ts: text(&json["message"]["id"]).ok_or(ParseError::Missing("message.id"))? };
            Inbound::Action { origin, action_id, value, message, trigger: None }
        }
        RunKind::FormSubmit => {
            let custom_id = text(&data["custom_id"]).ok_or(ParseError::Missing("data.custom_id"))?;
            let (action_id, value, message_id) =
                parse_form_id(&custom_id).ok_or(ParseError::Missing("a form custom_id"))?;
            let answer =
                data["components"][0]["components"][0]["value"].as_str().unwrap_or_default().trim().to_string();
            let message = message_id.map(|ts| MessageRef { channel, ts });
            Inbound::FormSubmitted { origin, action_id, value, message, text: answer }
        }
    };
    Ok(Interaction::Run { inbound: Box::new(inbound), token, kind })
}

/// `form|action_id|value|message_id`, the `custom_id` of the modals pmbot opens.
pub fn form_id(action_id: &str, value: &str, message_id: Option<&str>) -> String {
    format!("form|{action_id}|{value}|{}", message_id.unwrap_or_default())
}

fn parse_form_id(custom_id: &str) -> Option<(String, String, Option<String>)> {
    let mut parts = custom_id.strip_prefix("form|")?.splitn(3, '|');
    let (action, value, message) = (parts.next()?, parts.next()?, parts.next().unwrap_or_default());
    Some((action.to_string(), value.to_string(), (!message.is_empty()).then(|| message.to_string())))
}

/// A command's options as the text a Slack user would have typed: users as `<@id>`.
fn options_text(data: &Value) -> String {
    data["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|option| match option["type"].as_i64() {
            Some(6) => option["value"].as_str().map(|id| format!("<@{id}>")),
            _ => {
                option["value"].as_str().map(str::to_string).or_else(|| option["value"].as_i64().map(|n| n.to_string()))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A message someone wrote in a channel, a thread or a DM, read from the Gateway (or from a
/// channel's history after a reconnect): what the `discord.message` job reads.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelMessage {
    /// The message's id: read once.
    pub id: String,
    /// Where it was said: a thread's parent channel for a message in a thread.
    pub channel: String,
    /// The Discord thread it is in, or the message it replies to.
    pub thread: Option<String>,
    pub user: String,
    pub text: String,
    /// It mentions the bot (or is a DM to it): talking to the bot.
    pub mention: bool,
    /// A DM: never quoted where others read.
    pub private: bool,
}

/// Message types people write: a default message and a reply.
const DEFAULT: i64 = 0;
const REPLY: i64 = 19;

/// A `MESSAGE_CREATE`'s message (Discord's message object) as pmbot reads it, or `None` for
/// what it ignores as it does on Slack: bots' messages (its own included), system messages
/// (joins, pins, thread starters), and other servers'. `parent` is the thread's parent
/// channel when the message's channel is a thread.
pub fn channel_message(m: &Value, bot: &str, guild: Option<&str>, parent: Option<&str>) -> Option<ChannelMessage> {
    if m["author"]["bot"].as_bool() == Some(true) || m["webhook_id"].is_string() {
        return None;
    }
    if !matches!(m["type"].as_i64().unwrap_or(DEFAULT), DEFAULT | REPLY) {
        return None;
    }
    let in_guild = text(&m["guild_id"]);
    if let (Some(wanted), Some(actual)) = (guild, in_guild.as_deref()) {
        if wanted != actual {
            return None;
        }
    }
    let id = text(&m["id"])?;
    let posted_in = text(&m["channel_id"])?;
    let user = text(&m["author"]["id"])?;
    let body = m["content"].as_str().unwrap_or_default().to_string();
    let private = in_guild.is_none();
    let mentions_bot = m["mentions"].as_array().into_iter().flatten().any(|u| u["id"].as_str() == Some(bot))
        || body.contains(&format!("<@{bot}>"))
        || body.contains(&format!("<@!{bot}>"));
    let (channel, thread) = match parent {
        Some(parent) => (parent.to_string(), Some(posted_in)),
        None => (posted_in, text(&m["message_reference"]["message_id"])),
    };
    Some(ChannelMessage { id, channel, thread, user, text: body, mention: mentions_bot || private, private })
}

impl ChannelMessage {
    /// As the chat core's event.
    pub fn inbound(&self) -> Inbound {
        let origin = Origin {
            platform: Platform::Discord,
            channel: self.channel.clone(),
            user: self.user.clone(),
            ts: self.id.clone(),
            thread: self.thread.clone(),
        };
        let text = self.text.clone();
        if self.mention {
            Inbound::Mention { origin, text }
        } else {
            Inbound::Message { origin, text }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guild_command_with_a_user_option() {
        let body = br#"{"id":"9","type":2,"token":"tok","channel_id":"C1","member":{"user":{"id":"U1"}},
            "data":{"name":"standup","options":[{"type":6,"name":"person","value":"U2"}]}}"#;
        let Interaction::Run { inbound, token, .. } = parse(body).unwrap() else { panic!() };
        let Inbound::SlashCommand { command, text, origin } = *inbound else { panic!() };
        assert_eq!(
            (command.as_str(), text.as_str(), token.as_str(), origin.user.as_str()),
            ("/standup", "<@U2>", "tok", "U1")
        );
    }

    #[test]
    fn a_button_press_names_its_message() {
        let body = br#"{"id":"9","type":3,"token":"tok","channel_id":"C1","user":{"id":"U1"},"message":{"id":"M1"},
            "data":{"custom_id":"approval.decide|7:approve","component_type":2}}"#;
        let Interaction::Run { inbound, .. } = parse(body).unwrap() else { panic!() };
        let Inbound::Action { action_id, value, message, .. } = *inbound else { panic!() };
        assert_eq!((action_id.as_str(), value.as_str(), message.ts.as_str()), ("approval.decide", "7:approve", "M1"));
    }

    fn gateway(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/discord-gateway/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["d"].take()
    }

    const BOT: &str = "1109811110011110003";
    const GUILD: Option<&str> = Some("1109811110011110001");

    #[test]
    fn gateway_messages_are_read_with_their_thread() {
        let first = channel_message(&gateway("message_create"), BOT, GUILD, None).unwrap();
        assert!(first.mention, "it mentions the bot");
        assert_eq!((first.channel.as_str(), first.thread), ("1109811110011110002", None));
        let reply = channel_message(&gateway("message_create_reply"), BOT, GUILD, None).unwrap();
        assert_eq!(reply.thread.as_deref(), Some("1109811110011110100"), "a reply is in its message's thread");
        assert!(!reply.mention);
        let in_thread =
            channel_message(&gateway("message_create_thread"), BOT, GUILD, Some("1109811110011110002")).unwrap();
        assert_eq!(
            (in_thread.channel.as_str(), in_thread.thread.as_deref()),
            ("1109811110011110002", Some("1109811110011110200")),
            "under the thread's channel"
        );
        assert!(matches!(in_thread.inbound(), Inbound::Message { .. }));
    }

    #[test]
    fn bots_system_messages_and_other_servers_are_ignored() {
        let mut own = gateway("message_create");
        own["author"]["bot"] = Value::Bool(true);
        assert_eq!(channel_message(&own, BOT, GUILD, None), None);
        let mut pinned = gateway("message_create");
        pinned["type"] = 6.into();
        assert_eq!(channel_message(&pinned, BOT, GUILD, None), None);
        assert_eq!(channel_message(&gateway("message_create"), BOT, Some("42"), None), None);
        let mut dm = gateway("message_create");
        dm.as_object_mut().unwrap().remove("guild_id");
        let dm = channel_message(&dm, BOT, GUILD, None).unwrap();
        assert!(dm.private && dm.mention, "a DM is private and talks to the bot");
    }

    #[test]
    fn the_minimal_samples_are_refused_cleanly() {
        assert_eq!(parse(br#"{"type":1}"#), Ok(Interaction::Ping));
        assert!(matches!(
            parse(br#"{"id":"1","token":"t","type":2,"data":{"name":"test"}}"#),
            Err(ParseError::Missing(_))
        ));
        assert!(matches!(parse(br#"{"type":9}"#), Err(ParseError::UnknownType(9))));
        assert!(matches!(parse(b"nope"), Err(ParseError::NotJson(_))));
    }
}
