//! Commands typed by people: `/standup`, `@pmbot create "…"`, `/pm move …`.

use super::views::{self, BoardView, CreatedView, TicketView};
use super::{ephemeral, reply, Bot, BotError, Outcome};
use crate::board::{NewTicket, Status, TicketKey};
use crate::chat::command::{Command, ParseError, PersonRef};
use crate::chat::{Origin, Outbound};
use crate::queue::JobSpec;
use crate::store::TicketFilter;
use crate::workflows::standup;
use crate::workflows::triage::TriageJob;
use chrono::{DateTime, Utc};
use serde_json::json;

impl Bot {
    pub(super) async fn command(
        &self,
        origin: &Origin,
        parsed: Result<Command, ParseError>,
        in_thread: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let command = match parsed {
            Ok(command) => command,
            Err(ParseError::Empty) => Command::Help,
            Err(err) => return self.unknown(origin, &err),
        };
        match command {
            Command::Help => {
                let context = json!({ "bot": self.config.team.bot_name, "commands": Bot::help_commands() });
                Ok(vec![ephemeral(origin, self.templates.render("help", &context)?)])
            }
            Command::Standup { who } => self.standup(origin, who.as_ref(), in_thread, now).await,
            Command::Board { who, status } => self.board(origin, who.as_ref(), status, in_thread).await,
            Command::Show { key } => {
                let card = match self.sender(origin) {
                    Some(_) => self.card(&key, "").await?,
                    None => self.outsider_card(&key).await?,
                };
                Ok(vec![reply(origin, card, in_thread)])
            }
            Command::Create { title } => self.create(origin, &title, in_thread, now).await,
            Command::Move { key, to, reason } => {
                self.move_command(origin, &key, to, reason.as_deref(), in_thread, now).await
            }
            Command::Assign { key, who } => self.assign(origin, &key, who.as_ref(), in_thread, now).await,
            Command::Comment { key, text } => self.comment(origin, &key, &text, in_thread, now).await,
            Command::Decide { approval, verdict, comment } => {
                self.decide(origin, approval, verdict, comment.as_deref(), None, now).await
            }
            Command::Why { key } if self.sender(origin).is_none() => {
                // The decision log quotes the team's conversations.
                let why = "the decision log quotes the team's conversations, so it is for people in pmbot.toml";
                Err(self.board.refuse(&self.actor(origin), "decisions.read", key.as_str(), why, now).await.into())
            }
            Command::Why { key } => self.why(origin, &key, in_thread).await,
            Command::Fix(fix) => self.fix(origin, fix, in_thread, now).await,
        }
    }

    fn unknown(&self, origin: &Origin, err: &ParseError) -> Outcome {
        let suggestion = match err {
            ParseError::Unknown { suggestion, .. } => *suggestion,
            _ => None,
        };
        let verbs: Vec<&str> = crate::chat::command::COMMANDS.iter().map(|(verb, _)| *verb).collect();
        let context = json!({ "problem": err.to_string(), "suggestion": suggestion, "bot": self.config.team.bot_name, "verbs": verbs });
        Ok(vec![ephemeral(origin, self.templates.render("unknown_command", &context)?)])
    }

    async fn standup(&self, origin: &Origin, who: Option<&PersonRef>, in_thread: bool, now: DateTime<Utc>) -> Outcome {
        let person = who.map(|w| self.resolve(origin, w)).transpose()?;
        let handle = person.map(|p| p.handle.as_str());
        let audience =
            if self.sender(origin).is_some() { standup::Audience::Team } else { standup::Audience::Outsider };
        let message =
            standup::build(&self.store, &self.workspace, &self.config, &self.templates, handle, audience, now).await?;
        Ok(vec![reply(origin, message, in_thread)])
    }

    async fn board(
        &self,
        origin: &Origin,
        who: Option<&PersonRef>,
        status: Option<Status>,
        in_thread: bool,
    ) -> Outcome {
        let person = who.map(|w| self.resolve(origin, w)).transpose()?;
        let filter = TicketFilter { assignee: person.map(|p| p.handle.clone()), ..Default::default() };
        let tickets = self.store.tickets(&self.workspace, &filter).await?;
        let mut title = "Board".to_string();
        if let Some(p) = person {
            title.push_str(&format!(" · {}", p.display_name));
        }
        if let Some(s) = status {
            title.push_str(&format!(" · {}", s.label()));
        }
        let view: BoardView = views::board(title, &tickets, status, &self.names(), self.config.standup.top_items);
        Ok(vec![reply(origin, self.templates.render("board", &view)?, in_thread)])
    }

    /// The card as someone not on the team sees it: what the board shows, without the
    /// description and comments, which may carry the team's conversations.
    async fn outsider_card(&self, key: &TicketKey) -> Result<crate::chat::Message, BotError> {
        let mut ticket = self.store.ticket(&self.workspace, key).await?;
        ticket.description.clear();
        let note = "Details and comments are for the team.";
        Ok(self.templates.render("ticket", &TicketView::new(&ticket, &[], &self.names(), note))?)
    }

    /// The ticket card; a non-empty `note` replaces its buttons.
    pub(super) async fn card(&self, key: &TicketKey, note: &str) -> Result<crate::chat::Message, BotError> {
        let ticket = self.store.ticket(&self.workspace, key).await?;
        let comments = self.store.comments(&self.workspace, key).await?;
        Ok(self.templates.render("ticket", &TicketView::new(&ticket, &comments, &self.names(), note))?)
    }

    async fn create(&self, origin: &Origin, title: &str, in_thread: bool, now: DateTime<Utc>) -> Outcome {
        let actor = self.actor(origin);
        let project = self.config.project_for_channel(&origin.channel).ok_or_else(|| {
            BotError::User("There is no project to put the ticket in: add one to projects in pmbot.toml.".into())
        })?;
        let mut new = NewTicket::new(&project.key, title).map_err(|e| BotError::User(e.to_string()))?;
        new.reporter = actor.person().map(|p| p.handle.clone());
        new.description = format!("Requested by {} in {}.", actor.display(), origin.channel);
        // The ticket, its decision-log row and its triage job commit together or not at all.
        let triage = |key: &TicketKey| {
            let job = TriageJob { key: key.to_string(), channel: origin.channel.clone(), reporter: actor.name() };
            [job.to_new_job(now)]
        };
        let ctx = self
            .ctx(now)
            .because(format!("{} asked for it in {}", actor.display(), origin.channel))
            .via(json!({ "command": "create", "channel": origin.channel, "platform": origin.platform.as_str() }));
        let ticket = self.board.create_then(&actor, &new, &ctx, triage).await?;
        let view = CreatedView {
            key: ticket.key.to_string(),
            title: ticket.title.clone(),
            project: project.name.clone(),
            reporter: actor.display(),
        };
        Ok(vec![reply(origin, self.templates.render("ticket_created", &view)?, in_thread)])
    }

    async fn move_command(
        &self,
        origin: &Origin,
        key: &TicketKey,
        to: Status,
        reason: Option<&str>,
        in_thread: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        let moved = self.board.move_to(&actor, key, to, reason, &self.ctx(now)).await?;
        let ticket = self.store.ticket(&self.workspace, key).await?;
        let from = moved.from.map_or("nowhere", |s| s.label());
        let text = format!("{} moved *{key}* {} from {from} to {}", actor.display(), ticket.title, to.label());
        let context =
            reason.map_or_else(|| "Recorded in the ticket's history.".to_string(), |r| format!("Reason: {r}"));
        Ok(vec![self.changed(origin, &text, &context, in_thread)?])
    }

    async fn assign(
        &self,
        origin: &Origin,
        key: &TicketKey,
        who: Option<&PersonRef>,
        in_thread: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        if self.sender(origin).is_none() {
            let why = "ask a PM to add you to pmbot.toml to change the board";
            return Err(self.board.refuse(&actor, "ticket.assign", key.as_str(), why, now).await.into());
        }
        let assignee = who.map(|w| self.resolve(origin, w)).transpose()?;
        let handle = assignee.map(|p| p.handle.as_str());
        let ticket = self.board.assign(&actor, key, handle, &self.ctx(now)).await?;
        let text = match assignee {
            Some(p) => format!("{} assigned *{key}* {} to {}", actor.display(), ticket.title, p.display_name),
            None => format!("{} unassigned *{key}* {}", actor.display(), ticket.title),
        };
        Ok(vec![self.changed(origin, &text, &format!("It is {}.", ticket.status.label()), in_thread)?])
    }

    async fn comment(
        &self,
        origin: &Origin,
        key: &TicketKey,
        text: &str,
        in_thread: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        self.board.comment(&actor, key, text, &self.ctx(now)).await?;
        let said = format!("{} commented on *{key}*", actor.display());
        Ok(vec![self.changed(origin, &said, &crate::workflows::views::shorten(text, 200), in_thread)?])
    }

    pub(super) fn changed(
        &self,
        origin: &Origin,
        text: &str,
        context: &str,
        in_thread: bool,
    ) -> Result<Outbound, BotError> {
        let message = self.templates.render("ticket_changed", &json!({ "text": text, "context": context }))?;
        Ok(reply(origin, message, in_thread))
    }
}
