//! `/fix`: handing a ticket (or a description, which becomes one) to the AI queue, asking
//! how its run stands, cancelling it.

use super::{ephemeral, reply, Bot, BotError, Outcome};
use crate::board::{NewTicket, Status, TicketKey};
use crate::chat::command::FixCommand;
use crate::chat::{Message, Origin};
use crate::service::{rules, Op};
use chrono::{DateTime, Utc};
use serde_json::json;

impl Bot {
    pub(super) async fn fix(
        &self,
        origin: &Origin,
        command: FixCommand,
        in_thread: bool,
        now: DateTime<Utc>,
    ) -> Outcome {
        match command {
            FixCommand::Queue => self.fix_queue(origin).await,
            FixCommand::Start(key) => self.start_fix(origin, &key, in_thread, now).await,
            FixCommand::Describe(words) => {
                let key = self.fix_ticket(origin, &words, now).await?;
                self.start_fix(origin, &key, in_thread, now).await
            }
            FixCommand::Status(key) => self.fix_status(origin, &key).await,
            FixCommand::Cancel(key) => {
                let runs = self.store.fix_runs_of(&self.workspace, &key).await?;
                let Some(run) = runs.iter().find(|r| !r.state.is_final()) else {
                    return Err(BotError::User(format!("{key} has no fix run going; nothing to cancel.")));
                };
                let run = self.board.cancel_fix(&self.actor(origin), run.id, &self.ctx(now)).await?;
                let text = format!("{} cancelled fix run #{} for *{key}*", self.actor(origin).display(), run.id);
                Ok(vec![self.changed(
                    origin,
                    &text,
                    "Its agent is stopped; the ticket goes back to to do.",
                    in_thread,
                )?])
            }
            FixCommand::Revert(key) => {
                let actor = self.actor(origin);
                let run = self.board.start_revert(&actor, &key, Some(&origin.channel), &self.ctx(now)).await?;
                let reverts = run.data["revert_of"].as_i64().unwrap_or_default();
                let text =
                    format!("{} asked to revert *{key}*'s fix (run #{reverts}): fix run #{}", actor.display(), run.id);
                let context = "The revert goes through the same gates: a SPEC, QA, and a pull request to approve.";
                Ok(vec![self.changed(origin, &text, context, in_thread)?])
            }
        }
    }

    async fn start_fix(&self, origin: &Origin, key: &TicketKey, in_thread: bool, now: DateTime<Utc>) -> Outcome {
        let actor = self.actor(origin);
        let ctx = self
            .ctx(now)
            .because(format!("{} asked for a fix in {}", actor.display(), origin.channel))
            .via(json!({ "command": "fix", "channel": origin.channel, "platform": origin.platform.as_str() }));
        let run = self.board.start_fix(&actor, key, Some(&origin.channel), &ctx).await?;
        let text = format!("{} handed *{key}* to the AI queue: fix run #{}", actor.display(), run.id);
        let context = "A SPEC comes first, for an approver; each step is posted in the run's thread.";
        Ok(vec![self.changed(origin, &text, context, in_thread)?])
    }

    /// `/fix <description>`: a ticket in the channel's project for the words, made only
    /// when the asker may also start its run.
    async fn fix_ticket(&self, origin: &Origin, words: &str, now: DateTime<Utc>) -> Result<TicketKey, BotError> {
        let actor = self.actor(origin);
        let op = Op::Move { from: Status::Todo, to: Status::AiQueue, own: false };
        if let Err(why) = rules::check(actor.who(), op) {
            return Err(self.board.refuse(&actor, "fix.start", "new ticket", why, now).await.into());
        }
        let project = self.config.project_for_channel(&origin.channel).ok_or_else(|| {
            BotError::User("There is no project to put the ticket in: add one to projects in pmbot.toml.".into())
        })?;
        let title = crate::workflows::views::shorten(words, crate::board::MAX_TITLE_CHARS - 10);
        let mut new = NewTicket::new(&project.key, &title).map_err(|e| BotError::User(e.to_string()))?;
        new.status = Status::Todo;
        new.description = format!("{words}\n\nReported by {} with /fix in {}.", actor.display(), origin.channel);
        new.reporter = actor.person().map(|p| p.handle.clone());
        let ctx = self.ctx(now).kind("ticket.create").because(format!("{} described a fix", actor.display()));
        Ok(self.board.create(&actor, &new, &ctx).await?.key)
    }

    async fn fix_queue(&self, origin: &Origin) -> Outcome {
        let runs = self.store.fix_runs(&self.workspace, 200).await?;
        let active: Vec<String> = runs
            .iter()
            .filter(|r| !r.state.is_final())
            .map(|r| format!("• *{}* fix run #{} is {}", r.ticket, r.id, r.state))
            .collect();
        let paused = if self.store.fix_paused(&self.workspace).await? { " The AI queue is paused." } else { "" };
        let text = if active.is_empty() {
            format!("Nothing is in the AI queue.{paused} Hand a ticket over with `/fix WEB-12`, or describe a bug: `/fix the login page is blank`.")
        } else {
            format!("The AI queue:{paused}\n{}", active.join("\n"))
        };
        Ok(vec![ephemeral(origin, Message::text(text))])
    }

    async fn fix_status(&self, origin: &Origin, key: &TicketKey) -> Outcome {
        let runs = self.store.fix_runs_of(&self.workspace, key).await?;
        let Some(run) = runs.first() else {
            return Ok(vec![ephemeral(origin, Message::text(format!("{key} has never been in the AI queue.")))]);
        };
        let transitions = self.store.fix_transitions(&self.workspace, run.id).await?;
        let mut lines = vec![format!("*{key}* fix run #{} is {}", run.id, run.state)];
        for t in transitions.iter().rev().take(5).rev() {
            let from = t.from.map_or("start".to_string(), |s| s.to_string());
            let first = t.reason.lines().next().unwrap_or_default();
            lines.push(format!("• `{from} → {}` {first}", t.to));
        }
        Ok(vec![reply(origin, Message::text(lines.join("\n")), true)])
    }
}
