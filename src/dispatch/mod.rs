//! What the bot does with an inbound event: parse, check who is asking, run the workflow,
//! and say what should be sent back. Platform-neutral: adapters deliver the `Outbound`s.

mod actions;
mod approvals;
pub use approvals::{form_for_button, may_open_form};
mod commands;
mod decisions;
mod epics;
mod fix;
mod home;
pub mod views;

use crate::board::Person;
use crate::chat::command::{PersonRef, COMMANDS};
use crate::chat::{Inbound, Message, Origin, Outbound, Platform, TemplateError, Templates};
use crate::config::Config;
use crate::queue::JobSpec;
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{ChatMessageSeen, Store, StoreError, WorkspaceId};
use crate::workflows::conversation::{self, MatchJob};
use crate::workflows::standup::StandupError;
use crate::workflows::views::Names;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Everything that can go wrong while handling an event. `User` errors (and the store's
/// user errors) are shown as they are; the rest are logged and shown with a reference.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("{0}")]
    User(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Standup(#[from] StandupError),
    #[error(transparent)]
    Board(#[from] ServiceError),
}

impl BotError {
    fn user_text(&self) -> Option<String> {
        match self {
            BotError::User(text) => Some(text.clone()),
            BotError::Store(err)
            | BotError::Standup(StandupError::Store(err))
            | BotError::Board(ServiceError::Store(err))
                if err.is_user_error() =>
            {
                Some(err.to_string())
            }
            BotError::Board(refused @ ServiceError::Refused { .. }) => Some(refused.to_string()),
            _ => None,
        }
    }
}

type Outcome = Result<Vec<Outbound>, BotError>;

#[derive(Clone)]
pub struct Bot {
    pub store: Store,
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
    pub workspace: WorkspaceId,
    pub board: BoardService,
    people: Arc<Vec<Person>>,
    /// The platform's id for the event being handled; a change it causes is made once per id.
    delivery: Option<String>,
    /// The platform said the event comes from a private channel or a DM.
    private: bool,
}

impl Bot {
    pub fn new(store: Store, config: Arc<Config>, templates: Arc<Templates>) -> Self {
        let workspace = WorkspaceId::new(config.team.workspace.clone());
        let people = Arc::new(config.people());
        let board = BoardService::new(store.clone(), workspace.clone());
        Bot { store, config, templates, workspace, board, people, delivery: None, private: false }
    }

    /// Events the platform marked as from a private channel or a DM (Slack's `channel_type`).
    pub fn in_private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Whether what was said at `origin` must stay where it was said.
    fn is_private(&self, origin: &Origin) -> bool {
        self.private
            || origin.looks_private()
            || self.config.conversation.private_channels.iter().any(|c| crate::config::same_channel(c, &origin.channel))
    }

    /// Handles events of one delivery: a retry or a redelivery changes the board only once.
    pub fn keyed(mut self, delivery: &str) -> Self {
        self.delivery = Some(delivery.to_string());
        self
    }

    /// Who sent the event, for the board service.
    fn actor(&self, origin: &Origin) -> Actor {
        match self.sender(origin) {
            Some(person) => Actor::Person(person.clone()),
            None => Actor::Stranger { platform: origin.platform.as_str().into(), user: origin.user.clone() },
        }
    }

    /// A change's circumstances, keyed by the delivery when there is one.
    fn ctx(&self, now: DateTime<Utc>) -> Ctx {
        let ctx = Ctx::new(now).via(serde_json::json!({ "delivery": self.delivery }));
        match &self.delivery {
            Some(delivery) => ctx.once(format!("event:{delivery}")),
            None => ctx,
        }
    }

    /// Handles one event and returns what to send. Never fails: errors become replies.
    pub async fn handle(&self, inbound: &Inbound, now: DateTime<Utc>) -> Vec<Outbound> {
        let origin = inbound.origin();
        let result = match inbound {
            Inbound::SlashCommand { command, text, .. } => {
                self.command(origin, crate::chat::command::parse_slash(command, text), false, now).await
            }
            Inbound::Mention { text, .. } => match self.record(origin, text, now).await {
                // Redeliveries are the adapters' to drop (Slack by event_id); a platform may send
                // the same message both as a mention and as a message, so "seen" is no signal.
                Ok(_) => {
                    let parsed = crate::chat::command::parse_mention(text, &self.config.team.bot_name);
                    self.command(origin, parsed, true, now).await
                }
                Err(err) => Err(err),
            },
            Inbound::Message { text, .. } => self.read(origin, text, now).await.map(|_| Vec::new()),
            Inbound::MemberJoined { .. } => self.hello(origin),
            Inbound::HomeOpened { .. } => self.home(origin).await,
            Inbound::Action { action_id, value, message, trigger, .. } => {
                self.action(origin, action_id, value, message, trigger.as_deref(), now).await
            }
            Inbound::FormSubmitted { action_id, value, message, text, .. } => {
                self.form_submitted(origin, action_id, value, message.as_ref(), text, now).await
            }
        };
        result.unwrap_or_else(|err| vec![self.error_reply(origin, &err)])
    }

    /// Every message the bot sees is kept once; `false` when it had been seen already.
    async fn record(&self, origin: &Origin, text: &str, now: DateTime<Utc>) -> Result<bool, BotError> {
        Ok(self.store.record_message(&self.workspace, &self.seen(origin, text, now)).await?)
    }

    fn seen(&self, origin: &Origin, text: &str, now: DateTime<Utc>) -> ChatMessageSeen {
        ChatMessageSeen {
            platform: origin.platform.as_str().into(),
            channel: origin.channel.clone(),
            user_id: origin.user.clone(),
            ts: origin.ts.clone(),
            thread_ts: origin.thread.clone(),
            text: text.into(),
            created_at: now,
            private: self.is_private(origin),
        }
    }

    /// A channel message: kept, and read against the board by a job (never here, so a slow
    /// board never holds up the platform's delivery), both in one transaction.
    async fn read(&self, origin: &Origin, text: &str, now: DateTime<Utc>) -> Result<(), BotError> {
        let mut tx = self.store.begin().await?;
        let stored = tx.record_message(&self.workspace, &self.seen(origin, text, now)).await?;
        let direct = origin.platform == Platform::Slack && origin.channel.starts_with('D');
        if stored && !direct && conversation::policy::reads(&self.config.conversation, &origin.channel) {
            let job = MatchJob {
                platform: origin.platform.as_str().into(),
                channel: origin.channel.clone(),
                ts: origin.ts.clone(),
            };
            tx.enqueue(&self.workspace, &job.to_new_job(now), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A short hello, to the person who joined, with what the bot can do.
    fn hello(&self, origin: &Origin) -> Outcome {
        let context = serde_json::json!({ "bot": self.config.team.bot_name, "commands": Bot::help_commands() });
        Ok(vec![ephemeral(origin, self.templates.render("help", &context)?)])
    }

    fn error_reply(&self, origin: &Origin, err: &BotError) -> Outbound {
        let text = err.user_text().unwrap_or_else(|| {
            let reference = format!("{:04x}", Utc::now().timestamp_subsec_micros() & 0xffff);
            tracing::error!(error = %err, reference, "handling a chat event failed");
            format!("Something went wrong on my side (ref {reference}); nothing was changed.")
        });
        // A refusal carries its own sign.
        let text = if text.starts_with('⛔') { text } else { format!("⚠️ {text}") };
        ephemeral(origin, Message::text(text))
    }

    /// The person who sent the event, if they are on the team.
    fn sender(&self, origin: &Origin) -> Option<&Person> {
        self.people.iter().find(|p| p.answers_to(origin.platform.as_str(), &origin.user))
    }

    /// The sender, or a user error explaining how to be added.
    fn known_sender(&self, origin: &Origin) -> Result<&Person, BotError> {
        self.sender(origin).ok_or_else(|| {
            BotError::User(format!(
                "I don't know you yet ({} user {}): ask a PM to add you to pmbot.toml to change the board.",
                origin.platform, origin.user
            ))
        })
    }

    fn resolve(&self, origin: &Origin, who: &PersonRef) -> Result<&Person, BotError> {
        let found = match who {
            PersonRef::Me => return self.known_sender(origin),
            PersonRef::ChatId(id) => self.people.iter().find(|p| {
                p.slack_id.as_deref() == Some(id.as_str())
                    || p.discord_id.as_deref() == Some(id.as_str())
                    || &p.handle == id
            }),
            PersonRef::Name(name) => self.people.iter().find(|p| {
                let full = p.display_name.to_lowercase();
                &p.handle == name || &full == name || full.split_whitespace().next() == Some(name.as_str())
            }),
        };
        found.ok_or_else(|| {
            let shown = match who {
                PersonRef::Name(name) => format!("@{name}"),
                PersonRef::ChatId(id) => format!("user {id}"),
                PersonRef::Me => "you".into(),
            };
            BotError::User(format!("I don't know {shown} on this team; people are listed in pmbot.toml."))
        })
    }

    fn names(&self) -> Names {
        Names::new(&self.people)
    }

    fn help_commands() -> Vec<serde_json::Value> {
        let what = |verb: &str| match verb {
            "standup" => "today's standup, for the team or one person",
            "board" => "the board by column, filtered by person or status",
            "show" => "one ticket with its buttons",
            "create" => "a new backlog ticket, for a PM or lead to triage",
            "move" => "move a ticket to another status",
            "assign" => "give a ticket to someone",
            "comment" => "add a comment to a ticket",
            "fix" => "hand a ticket to the AI queue, or ask how its run stands",
            "why" => "what the bot decided about a ticket, and why",
            "approve" => "approve request N (the number on its card)",
            "reject" => "reject request N",
            "changes" => "ask for changes on request N",
            _ => "this list",
        };
        COMMANDS.iter().map(|(verb, usage)| serde_json::json!({ "usage": usage, "what": what(verb) })).collect()
    }
}

fn ephemeral(origin: &Origin, message: Message) -> Outbound {
    Outbound::Ephemeral { channel: origin.channel.clone(), user: origin.user.clone(), message }
}

/// A form for the person who pressed (`fallback` where the platform cannot open one).
fn form_reply(origin: &Origin, form: crate::chat::Form, trigger: Option<&str>, fallback: Message) -> Outbound {
    Outbound::Form {
        channel: origin.channel.clone(),
        user: origin.user.clone(),
        trigger: trigger.map(str::to_string),
        form,
        fallback,
    }
}

/// A public reply; mentions are answered in their thread.
fn reply(origin: &Origin, message: Message, in_thread: bool) -> Outbound {
    let thread = if in_thread {
        Some(origin.thread.clone().unwrap_or_else(|| origin.ts.clone()))
    } else {
        origin.thread.clone()
    };
    Outbound::Reply { channel: origin.channel.clone(), thread, message }
}
