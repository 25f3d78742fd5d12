//! Slack's two job kinds. `slack.inbound` turns a recorded request into the chat core's
//! answer and enqueues one `slack.send` per message, so a send that keeps failing is retried
//! on its own and never re-runs the command that produced it. The board change a command
//! makes is keyed by the delivery and each answer's job by `delivery:n`, so a run again
//! after a crash between the two changes nothing twice and enqueues each answer once.

use crate::chat::slack::{inbound, SlackChat};
use crate::chat::{Chat, ChatError, Message, Outbound};
use crate::dispatch::Bot;
use crate::job_env::JobEnv;
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlackSource {
    /// An Events API `event` object.
    Event,
    /// A slash command's form fields.
    Command,
    /// An interaction's `payload`.
    Interaction,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SlackInboundJob {
    pub source: SlackSource,
    /// Slack's id for the delivery (`event_id`, `trigger_id`): a redelivery is the same job.
    pub delivery: String,
    pub body: Value,
}

impl JobSpec for SlackInboundJob {
    const KIND: &'static str = "slack.inbound";
    const QUEUE: &'static str = "slack";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: Duration = Duration::from_secs(30);
    const PRIORITY: i32 = -10;

    const SECRETS: &'static [&'static str] = &["/body/response_url", "/body/trigger_id"];

    fn unique_key(&self) -> Option<String> {
        Some(format!("slack:{}", self.delivery))
    }
}

impl Job<JobEnv<SlackChat>> for SlackInboundJob {
    async fn run(&self, env: &JobEnv<SlackChat>, ctx: &JobContext) -> Outcome {
        let (parsed, response_url) = match self.source {
            SlackSource::Event => (Ok(inbound::event(&self.body)), None),
            SlackSource::Command => {
                let form: HashMap<String, String> = serde_json::from_value(self.body.clone()).unwrap_or_default();
                match inbound::command(&form) {
                    Ok((inbound, url)) => (Ok(Some(inbound)), Some(url)),
                    Err(err) => (Err(err), None),
                }
            }
            SlackSource::Interaction => {
                (inbound::interaction(&self.body), self.body["response_url"].as_str().map(str::to_string))
            }
        };
        let inbound = match parsed {
            Ok(Some(inbound)) => inbound,
            Ok(None) => return Outcome::Done,
            Err(err) => return Outcome::Discard(err.to_string()),
        };
        let requester = inbound.origin().user.clone();
        // Keyed by the delivery: run again (a crash before the answers were enqueued, a
        // retry), the command finds its change made and only answers again.
        let private = matches!(self.body["channel_type"].as_str(), Some("group" | "mpim" | "im"));
        let bot = Bot::new(env.store.clone(), env.config.clone(), env.templates.clone())
            .keyed(&format!("slack:{}", self.delivery))
            .in_private(private);
        let outbound = bot.handle(&inbound, ctx.now).await;
        if let Err(err) = env.store.fault("inbound.before_answers") {
            return Outcome::retry(err.to_string());
        }
        let sends = outbound.into_iter().enumerate().map(|(n, outbound)| SlackSendJob {
            delivery: format!("{}:{n}", self.delivery),
            outbound,
            response_url: response_url.clone(),
            requester: requester.clone(),
        });
        crate::job_env::enqueue_all(&env.store, ctx, sends).await
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SlackSendJob {
    pub delivery: String,
    pub outbound: Outbound,
    /// Set for answers to a slash command: replies seen only by its author go there.
    pub response_url: Option<String>,
    /// Who caused it, told when the bot cannot post where it was asked.
    pub requester: String,
}

impl JobSpec for SlackSendJob {
    const KIND: &'static str = "slack.send";
    const QUEUE: &'static str = "slack";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(120);
    const PRIORITY: i32 = -10;

    const SECRETS: &'static [&'static str] = &["/response_url"];

    fn unique_key(&self) -> Option<String> {
        Some(format!("slack-send:{}", self.delivery))
    }
}

impl Job<JobEnv<SlackChat>> for SlackSendJob {
    async fn run(&self, env: &JobEnv<SlackChat>, _ctx: &JobContext) -> Outcome {
        let chat = &env.chat;
        let sent = match (&self.outbound, &self.response_url) {
            (Outbound::Ephemeral { message, .. }, Some(url)) => chat.respond(url, message).await,
            (Outbound::Reply { channel, thread, message }, _) => {
                match chat.post(channel, thread.as_deref(), message).await {
                    Err(ChatError::NotInChannel(_)) => self.not_in_channel(env, channel, message).await,
                    other => other.map(|_| ()),
                }
            }
            (outbound, _) => crate::chat::deliver(chat.as_ref(), std::slice::from_ref(outbound)).await,
        };
        match sent {
            Ok(()) => Outcome::Done,
            Err(ChatError::RateLimited { retry_after }) => {
                Outcome::Retry { error: "Slack rate limit".into(), after: retry_after }
            }
            Err(ChatError::Gone(reason)) => Outcome::Cancel(reason),
            Err(ChatError::NotInChannel(channel)) => {
                Outcome::Cancel(format!("not in {channel}, and the requester could not be told"))
            }
            Err(err) => Outcome::retry(err.to_string()),
        }
    }
}

impl SlackSendJob {
    /// Says so to whoever asked: through the command's response URL, or by DM.
    async fn not_in_channel(&self, env: &JobEnv<SlackChat>, channel: &str, message: &Message) -> Result<(), ChatError> {
        let bot = &env.config.team.bot_name;
        let _ = channel;
        let note = format!("I'm not in that channel, so I could not post there. Invite me with `/invite @{bot}`; here is what I would have said:");
        let mut told = Message::text(note);
        told.blocks.extend(message.blocks.iter().cloned());
        match &self.response_url {
            Some(url) => env.chat.respond(url, &told).await,
            None => env.chat.dm(&self.requester, &told).await.map(|_| ()),
        }
    }
}

/// Without the body, which holds a response URL (a bearer capability for 30 minutes).
impl std::fmt::Debug for SlackInboundJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackInboundJob").field("source", &self.source).field("delivery", &self.delivery).finish()
    }
}

impl std::fmt::Debug for SlackSendJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = self.response_url.as_ref().map(|_| "***");
        f.debug_struct("SlackSendJob")
            .field("delivery", &self.delivery)
            .field("outbound", &self.outbound)
            .field("response_url", &url)
            .finish()
    }
}
