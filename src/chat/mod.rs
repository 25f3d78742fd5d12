//! The chat core: platform-neutral inbound events, outbound messages built from templates,
//! the command grammar, and the `Chat` trait every platform adapter implements.

pub mod command;
pub mod discord;
pub mod inbound;
pub mod lossy_json;
pub mod markup;
pub mod message;
pub mod routed;
pub mod shell;
pub mod slack;
pub mod templates;

pub use inbound::{Inbound, MessageRef, Origin, Platform};
pub use message::{Block, Button, ButtonStyle, Field, Message};
pub use templates::{TemplateError, Templates};

use std::future::Future;

/// What the bot wants said, decided by the dispatcher and performed by an adapter.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outbound {
    /// In the channel, in the thread when given.
    Reply {
        channel: String,
        thread: Option<String>,
        message: Message,
    },
    /// Only `user` sees it.
    Ephemeral {
        channel: String,
        user: String,
        message: Message,
    },
    /// Replace a message the bot sent earlier (e.g. to show a button's result).
    Update {
        target: MessageRef,
        message: Message,
    },
    Dm {
        user: String,
        message: Message,
    },
    /// Replace what `user` sees on the bot's home.
    Home {
        user: String,
        message: Message,
    },
    /// Ask `user` for a line of text in a form, where the platform can open one in reply to
    /// `trigger`; elsewhere `fallback` is shown to them instead.
    Form {
        channel: String,
        user: String,
        trigger: Option<String>,
        form: Form,
        fallback: Message,
    },
}

/// A one-question form. Its answer comes back as `Inbound::FormSubmitted` with this
/// `action_id` and `value`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Form {
    pub title: String,
    pub question: String,
    pub submit: String,
    pub action_id: String,
    pub value: String,
    /// The message the form is about.
    pub message: Option<MessageRef>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("the bot is not in {0}; invite it first")]
    NotInChannel(String),
    #[error("chat platform error: {0}")]
    Platform(String),
    /// Permanent: retrying cannot help.
    #[error("{0}")]
    Gone(String),
    #[error("the chat platform asks to slow down")]
    RateLimited { retry_after: Option<std::time::Duration> },
    #[error("output failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Sending, one implementation per platform.
pub trait Chat: Send + Sync {
    fn post(
        &self,
        channel: &str,
        thread: Option<&str>,
        message: &Message,
    ) -> impl Future<Output = Result<MessageRef, ChatError>> + Send;
    fn update(&self, target: &MessageRef, message: &Message) -> impl Future<Output = Result<(), ChatError>> + Send;
    fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        message: &Message,
    ) -> impl Future<Output = Result<(), ChatError>> + Send;
    fn dm(&self, user: &str, message: &Message) -> impl Future<Output = Result<MessageRef, ChatError>> + Send;
    /// Shows `message` as the person's home view of the bot.
    fn home(&self, user: &str, message: &Message) -> impl Future<Output = Result<(), ChatError>> + Send;
    /// Who `person` is on this platform (for a DM); `None` when they have no id here.
    fn address(&self, person: &crate::board::Person) -> Option<String> {
        Some(person.handle.clone())
    }
    /// The platform's name as messages record it (`shell`, `slack`, `discord`).
    fn platform(&self) -> &'static str {
        "shell"
    }
    /// Whether this chat reaches messages recorded on `platform` (to answer in their thread).
    fn speaks(&self, platform: &str) -> bool {
        platform == self.platform()
    }
    /// Posts `message` with a file; `false` when this platform takes no uploads here (the
    /// caller then posts the message alone, which says where the file is kept).
    fn upload(
        &self,
        channel: &str,
        name: &str,
        bytes: &[u8],
        message: &Message,
    ) -> impl Future<Output = Result<bool, ChatError>> + Send {
        let _ = (channel, name, bytes, message);
        async { Ok(false) }
    }
    /// A link to a message people can open; `None` where the platform has none.
    fn permalink(&self, channel: &str, ts: &str) -> impl Future<Output = Result<Option<String>, ChatError>> + Send {
        let _ = (channel, ts);
        async { Ok(None) }
    }
    /// Opens `form` for the person; `false` when this platform (or this moment) cannot.
    fn form(&self, trigger: Option<&str>, form: &Form) -> impl Future<Output = Result<bool, ChatError>> + Send {
        let _ = (trigger, form);
        async { Ok(false) }
    }
}

/// Performs each outbound action in order.
pub async fn deliver<C: Chat>(chat: &C, outbound: &[Outbound]) -> Result<(), ChatError> {
    for action in outbound {
        match action {
            Outbound::Reply { channel, thread, message } => {
                chat.post(channel, thread.as_deref(), message).await?;
            }
            Outbound::Ephemeral { channel, user, message } => chat.ephemeral(channel, user, message).await?,
            Outbound::Update { target, message } => chat.update(target, message).await?,
            Outbound::Dm { user, message } => {
                chat.dm(user, message).await?;
            }
            Outbound::Home { user, message } => chat.home(user, message).await?,
            Outbound::Form { channel, user, trigger, form, fallback } => {
                if !chat.form(trigger.as_deref(), form).await? {
                    chat.ephemeral(channel, user, fallback).await?;
                }
            }
        }
    }
    Ok(())
}
