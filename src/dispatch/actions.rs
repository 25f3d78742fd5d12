//! Button presses: moving a ticket, taking one, deciding an approval request.
//!
//! The card the button was on is updated in place to show what was done, and its buttons go.

use super::views::{ASSIGN_ME, MOVE};
use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::{Status, TicketKey, Verdict};
use crate::chat::{Message, MessageRef, Origin, Outbound};
use crate::workflows::agents::epics::{ASSIGN_ACTION, PICK_ACTION, SKIP_ACTION};
use crate::workflows::conversation::{CREATE_ACTION, OTHER_ACTION, UNDO_ACTION};
use crate::workflows::triage::DECIDE_ACTION;
use chrono::{DateTime, Utc};

impl Bot {
    pub(super) async fn action(
        &self,
        origin: &Origin,
        action_id: &str,
        value: &str,
        message: &MessageRef,
        trigger: Option<&str>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        match action_id {
            MOVE => {
                let (key, to) = key_and_status(value)?;
                self.board.move_to(&actor, &key, to, None, &self.ctx(now)).await?;
                let note = format!("✓ {} moved it to {}", actor.display(), to.label());
                Ok(vec![self.update_card(message, &key, &note).await?])
            }
            DECIDE_ACTION => {
                let bad =
                    || BotError::User(format!("That button carries an unexpected value ({value}); nothing changed."));
                let (id, verdict) = value.split_once(':').ok_or_else(bad)?;
                let id: i64 = id.parse().map_err(|_| bad())?;
                let verdict: Verdict = verdict.parse().map_err(|_| bad())?;
                if verdict == Verdict::RequestChanges {
                    return self.ask_for_changes(origin, id, message, trigger).await;
                }
                self.decide(origin, id, verdict, None, Some(message), now).await
            }
            ASSIGN_ME => {
                let key: TicketKey =
                    value.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
                let me = actor.person().map(|p| p.handle.clone());
                self.board.assign(&actor, &key, me.as_deref(), &self.ctx(now)).await?;
                let note = format!("✓ {} took it", actor.display());
                Ok(vec![self.update_card(message, &key, &note).await?])
            }
            UNDO_ACTION => self.undo(origin, value, message, now).await,
            OTHER_ACTION => self.ask_other_ticket(origin, value, message, trigger).await,
            CREATE_ACTION => self.create_from(origin, value, message, now).await,
            ASSIGN_ACTION => self.assign_epic(origin, value, message, now).await,
            PICK_ACTION => self.pick_epic(origin, value, message, trigger).await,
            SKIP_ACTION => self.skip_epic(origin, value, message, now).await,
            other => {
                tracing::warn!(action_id = other, "a button this version does not know was pressed");
                Ok(vec![ephemeral(
                    origin,
                    Message::text("That button belongs to an older message and no longer does anything."),
                )])
            }
        }
    }

    async fn update_card(&self, message: &MessageRef, key: &TicketKey, note: &str) -> Result<Outbound, BotError> {
        Ok(Outbound::Update { target: message.clone(), message: self.card(key, note).await? })
    }
}

/// `WEB-12:in_progress`.
fn key_and_status(value: &str) -> Result<(TicketKey, Status), BotError> {
    let bad = || BotError::User(format!("That button carries an unexpected value ({value}); nothing changed."));
    let (key, status) = value.split_once(':').ok_or_else(bad)?;
    Ok((key.parse().map_err(|_| bad())?, status.parse().map_err(|_| bad())?))
}
