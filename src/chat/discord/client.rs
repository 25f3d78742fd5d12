//! Discord's REST API through serenity's HTTP client: channel messages, edits, DMs, files,
//! and answers to interactions through their webhook token. serenity's ratelimiter waits out
//! the buckets and 429s (`retry-after`); past that the job retries. Discord's error codes
//! become `ChatError`s that say what happened in words.

use super::render::message as body_of;
use crate::chat::{Chat, ChatError, Message, MessageRef};
use serde_json::{json, Value};
use serenity::builder::CreateAttachment;
use serenity::http::{Http, HttpBuilder, HttpError};
use serenity::model::id::{ApplicationId, ChannelId, MessageId};
use std::sync::Arc;

/// From the environment: `DISCORD_BOT_TOKEN`, `DISCORD_APPLICATION_ID`, `DISCORD_API_URL`,
/// `DISCORD_GUILD_ID`.
#[derive(Clone)]
pub struct DiscordSettings {
    pub bot_token: String,
    pub application_id: String,
    /// Default `https://discord.com/api/v10`.
    pub api_url: String,
    /// The server served, for links to messages.
    pub guild_id: Option<String>,
}

impl From<&crate::config::DiscordEnv> for DiscordSettings {
    fn from(env: &crate::config::DiscordEnv) -> Self {
        DiscordSettings {
            bot_token: env.bot_token.clone(),
            application_id: env.application_id.clone(),
            api_url: env.api_url.clone(),
            guild_id: env.guild_id.clone(),
        }
    }
}

const DISCORD: &str = "https://discord.com";

/// 429s waited out here (1 s each) before the job's own retry takes over.
const RATE_LIMIT_RETRIES: u32 = 3;

impl DiscordSettings {
    /// serenity's HTTP client for these settings, with its ratelimiter (per-route buckets, the
    /// global limit, 429s waited out). Another API URL is a proxy in serenity's sense (a
    /// rate-limiting proxy such as twilight's http-proxy, or the local Discord of the tests):
    /// serenity sends there without its own ratelimiter, and a 429 is waited out here.
    pub fn http(&self) -> Http {
        let mut builder = HttpBuilder::new(&self.bot_token);
        if let Some(id) = self.application_id.trim().parse::<u64>().ok().filter(|id| *id != 0) {
            builder = builder.application_id(ApplicationId::new(id));
        }
        let origin = origin_of(&self.api_url);
        if origin != DISCORD {
            builder = builder.proxy(origin).ratelimiter_disabled(true);
        }
        builder.build()
    }
}

/// `https://host/api/v10` → `https://host`.
fn origin_of(api_url: &str) -> String {
    let url = api_url.trim().trim_end_matches('/');
    match url.rfind("/api") {
        Some(at) => url[..at].to_string(),
        None => url.to_string(),
    }
}

pub struct DiscordChat {
    http: Arc<Http>,
    guild_id: Option<String>,
}

/// A Discord id (a snowflake) from a string, or a permanent error naming what it was.
fn snowflake(what: &str, id: &str) -> Result<u64, ChatError> {
    id.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| ChatError::Gone(format!("{id:?} is not a Discord {what} id (a number)")))
}

fn channel_id(id: &str) -> Result<ChannelId, ChatError> {
    Ok(ChannelId::new(snowflake("channel", id.strip_prefix("discord:").unwrap_or(id))?))
}

/// Discord's answer as a `ChatError`, in words.
fn said(err: serenity::Error, target: &str) -> ChatError {
    let serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) = &err else {
        return ChatError::Platform(format!("Discord: {err}"));
    };
    let status = response.status_code.as_u16();
    match (status, response.error.code) {
        // 50001 Missing Access, 50013 Missing Permissions, 10003 Unknown Channel: the bot
        // cannot post there.
        (_, 50001 | 50013 | 10003) => ChatError::NotInChannel(target.to_string()),
        // 10015 Unknown Webhook: the interaction's token expired (15 minutes).
        (_, 10015) => ChatError::Gone("the interaction expired (15 minutes)".into()),
        // 50007: the person does not take DMs from the server's members.
        (_, 50007) => ChatError::Gone("this person does not accept direct messages from the bot".into()),
        (429, _) => ChatError::RateLimited { retry_after: None },
        (401, _) => ChatError::Platform(
            "Discord refused the bot token (401): check DISCORD_BOT_TOKEN in the Developer Portal".into(),
        ),
        _ => ChatError::Platform(format!("Discord answered {status}: {}", response.error.message)),
    }
}

impl DiscordChat {
    pub fn new(settings: &DiscordSettings) -> Self {
        DiscordChat { http: Arc::new(settings.http()), guild_id: settings.guild_id.clone() }
    }

    /// The client the Gateway shares (one ratelimiter for both).
    pub fn http(&self) -> Arc<Http> {
        self.http.clone()
    }

    /// Replaces the interaction's original response (the deferred "thinking" message, or the
    /// message whose button was pressed).
    pub async fn edit_original(&self, token: &str, message: &Message) -> Result<(), ChatError> {
        let body = body_of(message);
        self.call("", || self.http.edit_original_interaction_response(token, &body, Vec::new())).await.map(|_| ())
    }

    /// A follow-up to the interaction, only for its author when `ephemeral`.
    pub async fn followup(&self, token: &str, message: &Message, ephemeral: bool) -> Result<(), ChatError> {
        let mut body = body_of(message);
        if ephemeral {
            body["flags"] = json!(64);
        }
        self.call("", || self.http.create_followup_message(token, &body, Vec::new())).await.map(|_| ())
    }

    /// Replaces the application's slash commands with `commands` (a JSON array).
    pub async fn register_commands(&self, commands: &Value) -> Result<usize, ChatError> {
        let registered = self.call("the commands", || self.http.create_global_commands(commands)).await?;
        Ok(registered.len())
    }

    async fn send(&self, channel: &str, body: &Value, files: Vec<CreateAttachment>) -> Result<MessageRef, ChatError> {
        let id = channel_id(channel)?;
        let sent = self.call(channel, || self.http.send_message(id, files.clone(), body)).await?;
        Ok(MessageRef { channel: sent.channel_id.to_string(), ts: sent.id.to_string() })
    }

    /// One REST call, Discord's refusal said in words; a 429 that reaches here (through a
    /// proxy, or past serenity's ratelimiter) is waited out a few times.
    async fn call<T, F, Fut>(&self, target: &str, request: F) -> Result<T, ChatError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = serenity::Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match request().await.map_err(|e| said(e, target)) {
                Err(ChatError::RateLimited { .. }) if attempt < RATE_LIMIT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                other => return other,
            }
        }
    }
}

impl Chat for DiscordChat {
    fn platform(&self) -> &'static str {
        "discord"
    }

    fn address(&self, person: &crate::board::Person) -> Option<String> {
        person.discord_id.clone()
    }

    /// In a thread: Discord's thread of that id (a thread started on a message has the
    /// message's id), else a reply to that message in the channel.
    async fn post(&self, channel: &str, thread: Option<&str>, message: &Message) -> Result<MessageRef, ChatError> {
        let body = body_of(message);
        let Some(thread) = thread.filter(|t| !t.is_empty() && *t != channel) else {
            return self.send(channel, &body, Vec::new()).await;
        };
        match self.send(thread, &body, Vec::new()).await {
            Err(ChatError::NotInChannel(_)) | Err(ChatError::Gone(_)) => {
                let mut body = body;
                body["message_reference"] = json!({ "message_id": thread, "fail_if_not_exists": false });
                self.send(channel, &body, Vec::new()).await
            }
            other => other,
        }
    }

    async fn update(&self, target: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let message_id = MessageId::new(snowflake("message", &target.ts)?);
        let body = body_of(message);
        let channel = channel_id(&target.channel)?;
        self.call(&target.channel, || self.http.edit_message(channel, message_id, &body, Vec::new())).await.map(|_| ())
    }

    /// Discord has no ephemeral channel messages outside an interaction: a DM instead.
    async fn ephemeral(&self, _channel: &str, user: &str, message: &Message) -> Result<(), ChatError> {
        self.dm(user, message).await.map(|_| ())
    }

    async fn dm(&self, user: &str, message: &Message) -> Result<MessageRef, ChatError> {
        let recipient = snowflake("user", user)?.to_string();
        let body = json!({ "recipient_id": recipient });
        let channel = self.call("a DM", || self.http.create_private_channel(&body)).await?;
        self.send(&channel.id.to_string(), &body_of(message), Vec::new()).await
    }

    /// Discord has no per-person home view.
    async fn home(&self, _user: &str, _message: &Message) -> Result<(), ChatError> {
        Ok(())
    }

    /// The message with the file attached (Discord takes up to 25 MiB on most servers). A
    /// person's id is not a channel: their DM gets it.
    async fn upload(&self, channel: &str, name: &str, bytes: &[u8], message: &Message) -> Result<bool, ChatError> {
        let file = CreateAttachment::bytes(bytes.to_vec(), name);
        let body = body_of(message);
        match self.send(channel, &body, vec![file.clone()]).await {
            Err(ChatError::NotInChannel(_)) => {
                let recipient = json!({ "recipient_id": snowflake("user", channel)?.to_string() });
                let dm = self.call("a DM", || self.http.create_private_channel(&recipient)).await?;
                self.send(&dm.id.to_string(), &body, vec![file]).await.map(|_| true)
            }
            other => other.map(|_| true),
        }
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<Option<String>, ChatError> {
        Ok(self.guild_id.as_ref().map(|guild| format!("{DISCORD}/channels/{guild}/{channel}/{ts}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_gives_serenity_its_origin() {
        assert_eq!(origin_of("https://discord.com/api/v10"), DISCORD);
        assert_eq!(origin_of("http://127.0.0.1:4000/api/v10/"), "http://127.0.0.1:4000");
        assert_eq!(origin_of("http://127.0.0.1:4000"), "http://127.0.0.1:4000");
    }

    #[test]
    fn ids_that_are_not_snowflakes_are_refused_in_words() {
        assert_eq!(channel_id("discord:123").unwrap(), ChannelId::new(123));
        let err = channel_id("#general").unwrap_err();
        assert!(err.to_string().contains("not a Discord channel id"), "{err}");
        assert!(snowflake("user", "0").is_err());
    }
}
