//! The Gateway connection, through serenity: the team's channel messages, thread replies and
//! DMs become `discord.message` jobs (keyed by the message id, so a message Discord delivers
//! twice — a resume's replay, a history read after a reconnect — is read once). serenity
//! heartbeats, resumes after a dropped connection (Discord replays what was missed), and
//! starts a new session when it cannot; after a new session, what was said while pmbot was
//! away is read from each channel's history since the last message it kept, bounded.
//! Edits and deletions are ignored, as on Slack: a message is read as first written.

use super::client::DiscordSettings;
use super::inbound::{channel_message, ChannelMessage};
use super::jobs::DiscordMessageJob;
use crate::queue::JobSpec;
use crate::store::{Store, WorkspaceId};
use chrono::Utc;
use serenity::all::{
    ChannelId, ChannelType, ClientBuilder, Context, EventHandler, GatewayIntents, GuildChannel, Http, Message,
    MessageId, Ready, ResumedEvent,
};
use serenity::http::MessagePagination;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Messages read back per channel after a new session: 5 pages of 100.
pub const BACKFILL_PAGES: usize = 5;
/// Channels read back after a new session (those most recently talked in).
pub const BACKFILL_CHANNELS: usize = 50;

/// What pmbot asks the Gateway for. `MESSAGE_CONTENT` is privileged: it must be switched on
/// in the Developer Portal, or Discord closes the connection (4014).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::DIRECT_MESSAGES
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "Discord refused the Message Content intent (close code 4014), so pmbot cannot read channel messages. \
         To enable it: Discord Developer Portal → your application → Bot → Privileged Gateway Intents → turn on \
         \"MESSAGE CONTENT INTENT\" → Save, then restart pmbot (a bot in 100 servers or more needs Discord's \
         approval first). Slash commands and buttons keep working without it."
    )]
    IntentNotGranted,
    #[error("Discord refused the bot token on the Gateway (close code 4004): check DISCORD_BOT_TOKEN (Developer Portal → Bot → Reset Token)")]
    TokenRefused,
    #[error("the Discord Gateway stopped: {0}")]
    Other(String),
}

/// Reads messages until `stop`; returns an error when Discord refuses the connection for
/// good (the intent, the token), which the caller tells at start-up.
pub async fn run(
    settings: &DiscordSettings,
    store: Store,
    workspace: WorkspaceId,
    stop: impl Future<Output = ()> + Send,
) -> Result<(), GatewayError> {
    let handler = Handler {
        store,
        workspace,
        guild: settings.guild_id.clone(),
        bot: OnceLock::new(),
        parents: Mutex::new(HashMap::new()),
    };
    // The configured API URL for the Gateway's address and the handler's REST calls
    // (history, threads), with serenity's ratelimiter.
    let mut client = ClientBuilder::new_with_http(settings.http(), intents())
        .event_handler(handler)
        .await
        .map_err(|e| GatewayError::Other(e.to_string()))?;
    let shards = client.shard_manager.clone();
    tokio::select! {
        ended = client.start() => ended.map_err(|err| match err {
            serenity::Error::Gateway(serenity::gateway::GatewayError::DisallowedGatewayIntents) => {
                GatewayError::IntentNotGranted
            }
            serenity::Error::Gateway(serenity::gateway::GatewayError::InvalidAuthentication) => GatewayError::TokenRefused,
            other => GatewayError::Other(other.to_string()),
        }),
        () = stop => {
            shards.shutdown_all().await;
            Ok(())
        }
    }
}

struct Handler {
    store: Store,
    workspace: WorkspaceId,
    guild: Option<String>,
    /// The bot's own user id, from READY.
    bot: OnceLock<String>,
    /// Thread → parent channel, from THREAD_CREATE and looked up on a miss.
    parents: Mutex<HashMap<String, Option<String>>>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.bot.set(ready.user.id.to_string());
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to the Discord Gateway");
        // A new session: what was said while away is not replayed; read it from the history.
        let http = ctx.http.clone();
        if let Err(err) = self.backfill(&http).await {
            tracing::warn!(error = %err, "reading Discord's history after a reconnect failed");
        }
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        tracing::info!("Discord Gateway resumed; Discord replays what was missed");
    }

    async fn thread_create(&self, _ctx: Context, thread: GuildChannel) {
        self.remember(&thread);
    }

    async fn message(&self, ctx: Context, message: Message) {
        let parent = self.parent_of(&ctx.http, message.channel_id).await;
        match serde_json::to_value(&message) {
            Ok(json) => self.take(&json, parent.as_deref()).await,
            Err(err) => tracing::warn!(error = %err, "a Discord message could not be read"),
        }
    }
}

impl Handler {
    fn remember(&self, channel: &GuildChannel) {
        let is_thread =
            matches!(channel.kind, ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread);
        let parent = channel.parent_id.filter(|_| is_thread).map(|p| p.to_string());
        self.parents.lock().unwrap_or_else(|e| e.into_inner()).insert(channel.id.to_string(), parent);
    }

    /// The parent channel when `channel` is a thread; a channel not seen before is looked up
    /// once (a DM or an unknown channel counts as no thread).
    async fn parent_of(&self, http: &Http, channel: ChannelId) -> Option<String> {
        let known = self.parents.lock().unwrap_or_else(|e| e.into_inner()).get(&channel.to_string()).cloned();
        if let Some(parent) = known {
            return parent;
        }
        match http.get_channel(channel).await {
            Ok(serenity::model::channel::Channel::Guild(found)) => {
                self.remember(&found);
                self.parents.lock().unwrap_or_else(|e| e.into_inner()).get(&channel.to_string()).cloned().flatten()
            }
            Ok(_) => None,
            Err(err) => {
                tracing::debug!(error = %err, %channel, "could not look up a Discord channel");
                None
            }
        }
    }

    /// Records the message as a job, retried while the database is away (never dropped for a
    /// short outage; a longer one is caught up by the history read at the next session).
    async fn take(&self, json: &serde_json::Value, parent: Option<&str>) {
        let Some(bot) = self.bot.get() else { return };
        let Some(message) = channel_message(json, bot, self.guild.as_deref(), parent) else { return };
        let mut wait = Duration::from_millis(100);
        for _ in 0..8 {
            match self.record(&message).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, message = %message.id, "recording a Discord message failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
        tracing::error!(message = %message.id, "a Discord message could not be recorded; the next session reads it back");
    }

    async fn record(&self, message: &ChannelMessage) -> Result<(), crate::store::StoreError> {
        let now = Utc::now();
        let job = DiscordMessageJob { message: message.clone() };
        self.store.record(&self.workspace, &job.to_new_job(now), now).await.map(|_| ())
    }

    /// Each channel pmbot has read, since the last message it kept there, oldest first,
    /// at most `BACKFILL_PAGES` pages of 100.
    async fn backfill(&self, http: &Http) -> Result<(), crate::store::StoreError> {
        let channels = self.store.last_message_ids(&self.workspace, "discord", BACKFILL_CHANNELS).await?;
        let mut read = 0usize;
        for (channel, last) in channels {
            let (Ok(channel_id), Ok(mut after)) = (channel.parse::<u64>(), last.parse::<u64>()) else { continue };
            let Some(channel_id) = (channel_id != 0).then(|| ChannelId::new(channel_id)) else { continue };
            for page in 0..BACKFILL_PAGES {
                let Some(from) = (after != 0).then(|| MessageId::new(after)) else { break };
                let messages =
                    match http.get_messages(channel_id, Some(MessagePagination::After(from)), Some(100)).await {
                        Ok(messages) => messages,
                        Err(err) => {
                            tracing::warn!(error = %err, %channel, "could not read a Discord channel's history");
                            break;
                        }
                    };
                let full = messages.len() == 100;
                // Discord lists newest first; read in the order they were said.
                for message in messages.iter().rev() {
                    after = after.max(message.id.get());
                    let parent = self.parent_of(http, message.channel_id).await;
                    if let Ok(json) = serde_json::to_value(message) {
                        self.take(&json, parent.as_deref()).await;
                        read += 1;
                    }
                }
                if !full {
                    break;
                }
                if page + 1 == BACKFILL_PAGES {
                    tracing::warn!(%channel, "more was said while pmbot was away than it reads back; older messages were skipped");
                }
            }
        }
        if read > 0 {
            tracing::info!(read, "read Discord messages said while pmbot was away");
        }
        Ok(())
    }
}
