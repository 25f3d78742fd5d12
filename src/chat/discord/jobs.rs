//! Discord's job kinds: `discord.inbound` runs the chat core for a recorded interaction and
//! enqueues one `discord.send` per answer; each send is retried on its own.

use crate::chat::discord::inbound::{parse, Interaction, RunKind};
use crate::chat::discord::DiscordChat;
use crate::chat::{Chat, ChatError, Message, Outbound};
use crate::dispatch::Bot;
use crate::job_env::JobEnv;
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Serialize, Deserialize)]
pub struct DiscordInboundJob {
    /// Discord's interaction id: a redelivery is the same job.
    pub interaction: String,
    /// The interaction's body as received.
    pub body: String,
}

impl JobSpec for DiscordInboundJob {
    const KIND: &'static str = "discord.inbound";
    const QUEUE: &'static str = "discord";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: Duration = Duration::from_secs(30);
    const PRIORITY: i32 = -10;

    const SECRETS: &'static [&'static str] = &["/body"];

    fn unique_key(&self) -> Option<String> {
        Some(format!("discord:{}", self.interaction))
    }
}

impl Job<JobEnv<DiscordChat>> for DiscordInboundJob {
    async fn run(&self, env: &JobEnv<DiscordChat>, ctx: &JobContext) -> Outcome {
        let (inbound, token, kind) = match parse(self.body.as_bytes()) {
            Ok(Interaction::Run { inbound, token, kind }) => (inbound, token, kind),
            Ok(_) => return Outcome::Done,
            Err(err) => return Outcome::Discard(err.to_string()),
        };
        let bot = Bot::new(env.store.clone(), env.config.clone(), env.templates.clone())
            .keyed(&format!("discord:{}", self.interaction));
        let outbound = bot.handle(&inbound, ctx.now).await;
        if let Err(err) = env.store.fault("inbound.before_answers") {
            return Outcome::retry(err.to_string());
        }
        let channel = inbound.origin().channel.clone();
        let from_command = kind == RunKind::Command;
        let sends = outbound.into_iter().enumerate().map(|(n, outbound)| DiscordSendJob {
            delivery: format!("{}:{n}", self.interaction),
            outbound,
            token: token.clone(),
            from_command,
            channel: channel.clone(),
        });
        crate::job_env::enqueue_all(&env.store, ctx, sends).await
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DiscordSendJob {
    pub delivery: String,
    pub outbound: Outbound,
    /// The interaction's token (valid 15 minutes).
    pub token: String,
    /// A slash command was answered with a deferred, private "thinking…"; a button press
    /// with a deferred update of its message.
    pub from_command: bool,
    pub channel: String,
}

impl JobSpec for DiscordSendJob {
    const KIND: &'static str = "discord.send";
    const QUEUE: &'static str = "discord";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(120);
    const PRIORITY: i32 = -10;

    const SECRETS: &'static [&'static str] = &["/token"];

    fn unique_key(&self) -> Option<String> {
        Some(format!("discord-send:{}", self.delivery))
    }
}

impl Job<JobEnv<DiscordChat>> for DiscordSendJob {
    async fn run(&self, env: &JobEnv<DiscordChat>, _ctx: &JobContext) -> Outcome {
        let chat = &env.chat;
        let sent = match &self.outbound {
            // Only its author sees the deferred answer to a command, so private replies go there.
            Outbound::Ephemeral { message, .. } if self.from_command => chat.edit_original(&self.token, message).await,
            Outbound::Ephemeral { message, .. } => chat.followup(&self.token, message, true).await,
            Outbound::Update { message, .. } if !self.from_command => chat.edit_original(&self.token, message).await,
            Outbound::Reply { channel, message, .. } => self.reply(chat, channel, message).await,
            other => crate::chat::deliver(chat.as_ref(), std::slice::from_ref(other)).await,
        };
        match sent {
            Ok(()) => Outcome::Done,
            Err(ChatError::RateLimited { retry_after }) => {
                Outcome::Retry { error: "Discord rate limit".into(), after: retry_after }
            }
            Err(ChatError::NotInChannel(_)) => Outcome::Cancel("the bot cannot post in that channel".into()),
            Err(ChatError::Gone(reason)) => Outcome::Cancel(reason),
            Err(err) => Outcome::retry(err.to_string()),
        }
    }
}

impl DiscordSendJob {
    /// Posts in the channel; for a command, also closes its private "thinking…" with a note,
    /// and if the bot cannot post there, says so privately instead.
    async fn reply(&self, chat: &DiscordChat, channel: &str, message: &Message) -> Result<(), ChatError> {
        match chat.post(channel, None, message).await {
            Ok(_) if self.from_command => {
                // Posted; failing to close the private "thinking…" must not post it again.
                if let Err(err) = chat.edit_original(&self.token, &Message::text("Posted in the channel ✓")).await {
                    tracing::warn!(error = %err, "could not close a Discord command's thinking… message");
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(ChatError::NotInChannel(_)) => {
                let mut told =
                    Message::text("I can't post in this channel (missing access); here is what I would have said:");
                told.blocks.extend(message.blocks.iter().cloned());
                if self.from_command {
                    chat.edit_original(&self.token, &told).await
                } else {
                    chat.followup(&self.token, &told, true).await
                }
            }
            Err(err) => Err(err),
        }
    }
}

/// Without the body, which holds the interaction's token.
impl std::fmt::Debug for DiscordInboundJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordInboundJob").field("interaction", &self.interaction).finish()
    }
}

impl std::fmt::Debug for DiscordSendJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSendJob")
            .field("delivery", &self.delivery)
            .field("outbound", &self.outbound)
            .field("token", &"***")
            .finish()
    }
}
