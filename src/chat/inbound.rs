//! Platform-neutral inbound events: what people did in chat.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Shell,
    Slack,
    Discord,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shell => "shell",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event happened and who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub platform: Platform,
    pub channel: String,
    /// The platform's user id (the handle in the terminal chat).
    pub user: String,
    /// The platform's id of the message itself (Slack `ts`).
    pub ts: String,
    /// The thread the message is in, if any.
    pub thread: Option<String>,
}

impl Origin {
    /// A DM or a private conversation by the platform's naming: Slack's `D…` (DMs) and `G…`
    /// (group DMs and older private channels), the terminal's `@name`. Newer private Slack
    /// channels have `C…` ids: their events say so (`channel_type`), or they are listed in
    /// `[conversation] private_channels`.
    pub fn looks_private(&self) -> bool {
        match self.platform {
            Platform::Slack => self.channel.starts_with('D') || self.channel.starts_with('G'),
            Platform::Shell => self.channel.starts_with('@'),
            Platform::Discord => false,
        }
    }
}

/// A message the bot sent, as the platform names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A message that mentions the bot.
    Mention {
        origin: Origin,
        text: String,
    },
    /// Any other message the bot can see.
    Message {
        origin: Origin,
        text: String,
    },
    SlashCommand {
        origin: Origin,
        command: String,
        text: String,
    },
    /// A button press on one of the bot's messages.
    Action {
        origin: Origin,
        action_id: String,
        value: String,
        message: MessageRef,
        /// What lets the platform open a form in reply (Slack's `trigger_id`), if any.
        trigger: Option<String>,
    },
    /// A form the bot asked for was filled in (see `Outbound::Form`).
    FormSubmitted {
        origin: Origin,
        action_id: String,
        value: String,
        /// The message the form was about, to update in place.
        message: Option<MessageRef>,
        text: String,
    },
    /// Someone joined a channel the bot is in.
    MemberJoined {
        origin: Origin,
    },
    /// Someone opened the bot's home (Slack's App Home tab).
    HomeOpened {
        origin: Origin,
    },
}

impl Inbound {
    pub fn origin(&self) -> &Origin {
        match self {
            Inbound::Mention { origin, .. }
            | Inbound::Message { origin, .. }
            | Inbound::SlashCommand { origin, .. }
            | Inbound::Action { origin, .. }
            | Inbound::MemberJoined { origin }
            | Inbound::HomeOpened { origin }
            | Inbound::FormSubmitted { origin, .. } => origin,
        }
    }
}
