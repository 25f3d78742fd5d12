//! Discord's job kinds: `discord.inbound` runs the chat core for a recorded interaction,
//! `discord.message` for a message read from the Gateway; each enqueues one `discord.send`
//! per answer, and each send is retried on its own.

use crate::chat::discord::inbound::{parse, ChannelMessage, Interaction, RunKind};
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
        let sends = DiscordSendJob::each(&self.interaction, outbound, Some(token), from_command, &channel);
        crate::job_env::enqueue_all(&env.store, ctx, sends).await
    }
}

/// A message read from the Gateway or from a channel's history: kept and read against the
/// board (a mention answered) once, however often Discord delivers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiscordMessageJob {
    pub message: ChannelMessage,
}

impl JobSpec for DiscordMessageJob {
    const KIND: &'static str = "discord.message";
    const QUEUE: &'static str = "discord";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: Duration = Duration::from_secs(30);
    const PRIORITY: i32 = -10;

    fn unique_key(&self) -> Option<String> {
        Some(format!("discord-message:{}", self.message.id))
    }
}

impl Job<JobEnv<DiscordChat>> for DiscordMessageJob {
    async fn run(&self, env: &JobEnv<DiscordChat>, ctx: &JobContext) -> Outcome {
        let mut message = self.message.clone();
        // A reply to a reply is in the first message's thread, as on Slack.
        if let Some(replied) = &message.thread {
            match env.store.message(&env.workspace(), "discord", &message.channel, replied).await {
                Ok(Some(stored)) => message.thread = stored.thread_ts.or(message.thread),
                Ok(None) => {}
                Err(err) => return Outcome::retry(err.to_string()),
            }
        }
        let delivery = format!("discord-message:{}", message.id);
        let bot = Bot::new(env.store.clone(), env.config.clone(), env.templates.clone())
            .keyed(&delivery)
            .in_private(message.private);
        let outbound = bot.handle(&message.inbound(), ctx.now).await;
        let sends = DiscordSendJob::each(&delivery, outbound, None, false, &message.channel);
        crate::job_env::enqueue_all(&env.store, ctx, sends).await
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DiscordSendJob {
    pub delivery: String,
    pub outbound: Outbound,
    /// The interaction's token (valid 15 minutes); none for an answer to a channel message.
    #[serde(default)]
    pub token: Option<String>,
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
        let token = self.token.as_deref();
        let sent = match (&self.outbound, token) {
            // Only its author sees the deferred answer to a command, so private replies go there.
            (Outbound::Ephemeral { message, .. }, Some(token)) if self.from_command => {
                chat.edit_original(token, message).await
            }
            (Outbound::Ephemeral { message, .. }, Some(token)) => chat.followup(token, message, true).await,
            (Outbound::Update { message, .. }, Some(token)) if !self.from_command => {
                chat.edit_original(token, message).await
            }
            (Outbound::Reply { channel, thread, message }, _) => {
                self.reply(chat, channel, thread.as_deref(), message).await
            }
            (other, _) => crate::chat::deliver(chat.as_ref(), std::slice::from_ref(other)).await,
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
    /// One send per answer, keyed `delivery:n`, so a run again enqueues each once.
    fn each(
        delivery: &str,
        outbound: Vec<Outbound>,
        token: Option<String>,
        from_command: bool,
        channel: &str,
    ) -> impl Iterator<Item = DiscordSendJob> {
        let (delivery, channel) = (delivery.to_string(), channel.to_string());
        outbound.into_iter().enumerate().map(move |(n, outbound)| DiscordSendJob {
            delivery: format!("{delivery}:{n}"),
            outbound,
            token: token.clone(),
            from_command,
            channel: channel.clone(),
        })
    }

    /// Posts in the channel; for a command, also closes its private "thinking…" with a note,
    /// and if the bot cannot post there, says so privately instead.
    async fn reply(
        &self,
        chat: &DiscordChat,
        channel: &str,
        thread: Option<&str>,
        message: &Message,
    ) -> Result<(), ChatError> {
        let Some(token) = self.token.as_deref() else {
            // An answer to a channel message: there is no private way back but a DM.
            return chat.post(channel, thread, message).await.map(|_| ());
        };
        match chat.post(channel, thread, message).await {
            Ok(_) if self.from_command => {
                // Posted; failing to close the private "thinking…" must not post it again.
                if let Err(err) = chat.edit_original(token, &Message::text("Posted in the channel ✓")).await {
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
                    chat.edit_original(token, &told).await
                } else {
                    chat.followup(token, &told, true).await
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
