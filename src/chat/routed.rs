//! Slack and Discord in one deployment: each message goes to the platform its channel or
//! person is on, as `pmbot.toml` names them. A Discord channel is named by its id (a
//! snowflake: digits only) or `discord:<id>`; anything else (`#name`, `C…`, `slack:<id>`) is
//! Slack's. A person is reached where they have an id, Slack first.

use crate::chat::{Chat, ChatError, Form, Message, MessageRef, Platform};

/// Which platform a channel (or a person's chat id) named in `pmbot.toml` is on, and the
/// name that platform knows it by.
pub fn route(name: &str) -> (Platform, &str) {
    let name = name.trim();
    if let Some(id) = name.strip_prefix("discord:") {
        return (Platform::Discord, id);
    }
    if let Some(id) = name.strip_prefix("slack:") {
        return (Platform::Slack, id);
    }
    // Discord's ids are 17–20 digit snowflakes; Slack's start with a letter.
    if name.len() >= 15 && name.bytes().all(|b| b.is_ascii_digit()) {
        return (Platform::Discord, name);
    }
    (Platform::Slack, name)
}

pub struct RoutedChat<S, D> {
    pub slack: std::sync::Arc<S>,
    pub discord: std::sync::Arc<D>,
}

impl<S: Chat, D: Chat> RoutedChat<S, D> {
    pub fn new(slack: std::sync::Arc<S>, discord: std::sync::Arc<D>) -> Self {
        RoutedChat { slack, discord }
    }
}

/// Calls `$call` on the chat `$name` routes to, with the name that chat knows.
macro_rules! routed {
    ($self:ident, $name:expr, |$chat:ident, $id:ident| $call:expr) => {{
        match route($name) {
            (Platform::Discord, $id) => {
                let $chat = $self.discord.as_ref();
                $call
            }
            (_, $id) => {
                let $chat = $self.slack.as_ref();
                $call
            }
        }
    }};
}

impl<S: Chat, D: Chat> Chat for RoutedChat<S, D> {
    async fn post(&self, channel: &str, thread: Option<&str>, message: &Message) -> Result<MessageRef, ChatError> {
        routed!(self, channel, |chat, id| chat.post(id, thread, message).await)
    }

    async fn update(&self, target: &MessageRef, message: &Message) -> Result<(), ChatError> {
        routed!(self, &target.channel, |chat, id| {
            chat.update(&MessageRef { channel: id.to_string(), ts: target.ts.clone() }, message).await
        })
    }

    async fn ephemeral(&self, channel: &str, user: &str, message: &Message) -> Result<(), ChatError> {
        routed!(self, channel, |chat, id| chat.ephemeral(id, user, message).await)
    }

    async fn dm(&self, user: &str, message: &Message) -> Result<MessageRef, ChatError> {
        routed!(self, user, |chat, id| chat.dm(id, message).await)
    }

    async fn home(&self, user: &str, message: &Message) -> Result<(), ChatError> {
        routed!(self, user, |chat, id| chat.home(id, message).await)
    }

    /// Slack's id when the person has one there, else Discord's.
    fn address(&self, person: &crate::board::Person) -> Option<String> {
        self.slack.address(person).or_else(|| self.discord.address(person).map(|id| format!("discord:{id}")))
    }

    fn platform(&self) -> &'static str {
        "slack"
    }

    fn speaks(&self, platform: &str) -> bool {
        self.slack.speaks(platform) || self.discord.speaks(platform)
    }

    async fn upload(&self, channel: &str, name: &str, bytes: &[u8], message: &Message) -> Result<bool, ChatError> {
        routed!(self, channel, |chat, id| chat.upload(id, name, bytes, message).await)
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<Option<String>, ChatError> {
        routed!(self, channel, |chat, id| chat.permalink(id, ts).await)
    }

    /// Forms open only from Slack's triggers here (Discord's open as an interaction's answer).
    async fn form(&self, trigger: Option<&str>, form: &Form) -> Result<bool, ChatError> {
        self.slack.form(trigger, form).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_say_which_platform_they_are_on() {
        assert_eq!(route("#standup"), (Platform::Slack, "#standup"));
        assert_eq!(route("C024BE91L"), (Platform::Slack, "C024BE91L"));
        assert_eq!(route("slack:C024BE91L"), (Platform::Slack, "C024BE91L"));
        assert_eq!(route("1109811110011110002"), (Platform::Discord, "1109811110011110002"));
        assert_eq!(route("discord:1109811110011110002"), (Platform::Discord, "1109811110011110002"));
        // Short numbers are not snowflakes (a Slack channel could be named "2024").
        assert_eq!(route("2024"), (Platform::Slack, "2024"));
    }
}
