//! Button presses: moving a ticket, triaging a new one, taking one.
//!
//! The card the button was on is updated in place to show what was done, and its buttons go.

use super::views::{ASSIGN_ME, MOVE, TRIAGE};
use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::{Person, Status, TicketKey};
use crate::chat::{Message, MessageRef, Origin, Outbound};
use crate::store::{NewDecision, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;

impl Bot {
    pub(super) async fn action(
        &self,
        origin: &Origin,
        action_id: &str,
        value: &str,
        message: &MessageRef,
        now: DateTime<Utc>,
    ) -> Outcome {
        let person = self.known_sender(origin)?.clone();
        match action_id {
            MOVE => {
                let (key, to) = key_and_status(value)?;
                self.store
                    .move_ticket(&self.workspace, &key, to, &person.handle, None, now)
                    .await?;
                let note = format!("✓ {} moved it to {}", person.display_name, to.label());
                Ok(vec![self.update_card(message, &key, &note).await?])
            }
            TRIAGE => self.triage(origin, &person, value, message, now).await,
            ASSIGN_ME => {
                let key: TicketKey = value
                    .parse()
                    .map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
                self.store
                    .assign_ticket(&self.workspace, &key, Some(&person.handle), now)
                    .await?;
                let note = format!("✓ {} took it", person.display_name);
                Ok(vec![self.update_card(message, &key, &note).await?])
            }
            other => {
                tracing::warn!(
                    action_id = other,
                    "a button this version does not know was pressed"
                );
                Ok(vec![ephemeral(
                    origin,
                    Message::text(
                        "That button belongs to an older message and no longer does anything.",
                    ),
                )])
            }
        }
    }

    /// Accept, start or reject a ticket created from chat. Only PMs and leads may; a refusal
    /// is logged. A ticket already triaged is left as it is.
    async fn triage(
        &self,
        origin: &Origin,
        person: &Person,
        value: &str,
        message: &MessageRef,
        now: DateTime<Utc>,
    ) -> Outcome {
        let (key, to) = key_and_status(value)?;
        let mut decision = NewDecision {
            kind: "ticket.triage".into(),
            subject: key.to_string(),
            inputs: json!({ "button": value, "by": person.handle, "role": person.role.as_str() }),
            rationale: String::new(),
            confidence: 1.0,
            action: format!("move:{to}"),
            actor: person.handle.clone(),
            outcome: String::new(),
        };
        if !person.role.can_triage() {
            decision.rationale = format!(
                "{} is a {}; triage needs a PM or lead",
                person.display_name, person.role
            );
            decision.outcome = "refused".into();
            self.store
                .log_decision(&self.workspace, &decision, now)
                .await?;
            let text = format!(
                "Only a PM or lead can triage {key}; you are a {}. Nothing changed.",
                person.role
            );
            return Ok(vec![ephemeral(origin, Message::text(format!("⛔ {text}")))]);
        }
        let ticket = self.store.ticket(&self.workspace, &key).await?;
        if ticket.status != Status::Backlog {
            let text = format!(
                "{key} was already triaged: it is {} now. Nothing changed.",
                ticket.status.label()
            );
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        match self
            .store
            .move_ticket(
                &self.workspace,
                &key,
                to,
                &person.handle,
                Some("triage"),
                now,
            )
            .await
        {
            Ok(_) => {}
            Err(StoreError::AlreadyInStatus { .. }) => return Ok(vec![]),
            Err(err) => return Err(err.into()),
        }
        let verb = match to {
            Status::Cancelled => "declined it".to_string(),
            Status::InProgress => "started it".to_string(),
            other => format!("accepted it into {}", other.label()),
        };
        decision.rationale = format!("{} pressed a triage button", person.display_name);
        decision.outcome = format!("moved {key} from backlog to {to}");
        self.store
            .log_decision(&self.workspace, &decision, now)
            .await?;
        let note = format!("✓ Triaged by {}: {verb}", person.display_name);
        Ok(vec![self.update_card(message, &key, &note).await?])
    }

    async fn update_card(
        &self,
        message: &MessageRef,
        key: &TicketKey,
        note: &str,
    ) -> Result<Outbound, BotError> {
        Ok(Outbound::Update {
            target: message.clone(),
            message: self.card(key, note).await?,
        })
    }
}

/// `WEB-12:in_progress`.
fn key_and_status(value: &str) -> Result<(TicketKey, Status), BotError> {
    let bad = || {
        BotError::User(format!(
            "That button carries an unexpected value ({value}); nothing changed."
        ))
    };
    let (key, status) = value.split_once(':').ok_or_else(bad)?;
    Ok((
        key.parse().map_err(|_| bad())?,
        status.parse().map_err(|_| bad())?,
    ))
}
