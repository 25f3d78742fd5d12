//! The epic-hygiene buttons: Assign to <epic>, Pick another…, Skip. A PM or lead may press
//! them; each is logged and updates its card in place.

use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::{Person, TicketKey};
use crate::chat::{Form, Message, MessageRef, Origin, Outbound};
use crate::store::NewDecision;
use crate::workflows::agents::epics::{parse_assign_value, PICK_ACTION, SKIPPED};
use chrono::{DateTime, Utc};
use serde_json::json;

/// The form "Pick another…" opens.
pub(super) fn pick_form(key: &str, card: &MessageRef) -> Form {
    Form {
        title: "Pick an epic".into(),
        question: format!("Which epic does {key} belong to?"),
        submit: "Assign".into(),
        action_id: PICK_ACTION.into(),
        value: key.into(),
        message: Some(card.clone()),
    }
}

impl Bot {
    fn epic_keeper(&self, origin: &Origin) -> Result<Person, BotError> {
        let person = self.known_sender(origin)?.clone();
        if !person.role.can_triage() {
            return Err(BotError::User(format!(
                "⛔ Only a PM or lead can file tickets under epics; you are a {}. Nothing changed.",
                person.role
            )));
        }
        Ok(person)
    }

    pub(super) async fn assign_epic(
        &self,
        origin: &Origin,
        value: &str,
        card: &MessageRef,
        now: DateTime<Utc>,
    ) -> Outcome {
        let (key, epic) = parse_assign_value(value).ok_or_else(|| {
            BotError::User(format!("That button carries an unexpected value ({value}); nothing changed."))
        })?;
        self.file_under(origin, &key, &epic, card, now).await
    }

    pub(super) async fn pick_epic(
        &self,
        origin: &Origin,
        key: &str,
        card: &MessageRef,
        trigger: Option<&str>,
    ) -> Outcome {
        self.epic_keeper(origin)?;
        let epics = self.epics_of(key).await?;
        let fallback = Message::text(format!(
            "Say which epic: `@{} epic {key} <epic>` — one of: {}",
            self.config.team.bot_name,
            epics.join(", ")
        ));
        let mut form = pick_form(key, card);
        form.question = format!("Which epic does {key} belong to? One of: {}", epics.join(", "));
        Ok(vec![super::form_reply(origin, form, trigger, fallback)])
    }

    pub(super) async fn epic_picked(
        &self,
        origin: &Origin,
        key: &str,
        card: Option<&MessageRef>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        let epics = self.epics_of(key).await?;
        let chosen = epics.iter().find(|e| e.eq_ignore_ascii_case(text.trim())).ok_or_else(|| {
            BotError::User(format!(
                "“{}” is not an epic of this project ({}); nothing changed.",
                text.trim(),
                epics.join(", ")
            ))
        })?;
        match card {
            Some(card) => self.file_under(origin, key, &chosen.clone(), card, now).await,
            None => Err(BotError::User("That form lost its card; nothing changed.".into())),
        }
    }

    pub(super) async fn skip_epic(&self, origin: &Origin, key: &str, card: &MessageRef, now: DateTime<Utc>) -> Outcome {
        let person = self.epic_keeper(origin)?;
        let ticket: TicketKey = key.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
        self.store.ticket(&self.workspace, &ticket).await?;
        let marker = format!("{SKIPPED}{key}");
        self.store.record_send(&self.workspace, "epics", &marker, &person.handle, "skipped", now).await?;
        self.log_epic(&person, key, "skip", "left without an epic; not suggested again", now).await?;
        let text = format!("⏭ {} skipped *{key}*: it will not be suggested again.", person.display_name);
        Ok(vec![Outbound::Update { target: card.clone(), message: Message::text(text) }])
    }

    async fn file_under(
        &self,
        origin: &Origin,
        key: &str,
        epic: &str,
        card: &MessageRef,
        now: DateTime<Utc>,
    ) -> Outcome {
        let person = self.epic_keeper(origin)?;
        let ticket: TicketKey = key.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
        let current = self.store.ticket(&self.workspace, &ticket).await?;
        if let Some(existing) = current.epic.filter(|e| e != epic) {
            let text = format!("*{key}* is already in {existing}; nothing changed.");
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        self.store.set_epic(&self.workspace, &ticket, Some(epic), now).await?;
        self.log_epic(&person, key, &format!("assign:{epic}"), &format!("filed under {epic}"), now).await?;
        let text = format!("✓ {} filed *{key}* {} under {epic}.", person.display_name, current.title);
        Ok(vec![Outbound::Update { target: card.clone(), message: Message::text(text) }])
    }

    async fn epics_of(&self, key: &str) -> Result<Vec<String>, BotError> {
        let ticket: TicketKey = key.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
        let project = ticket.project().to_string();
        let filter = crate::store::TicketFilter { project: Some(project), ..Default::default() };
        let mut epics: Vec<String> =
            self.store.tickets(&self.workspace, &filter).await?.into_iter().filter_map(|t| t.epic).collect();
        epics.sort();
        epics.dedup();
        Ok(epics)
    }

    async fn log_epic(
        &self,
        person: &Person,
        key: &str,
        action: &str,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), BotError> {
        let decision = NewDecision {
            kind: "epic.assign".into(),
            subject: key.into(),
            inputs: json!({ "by": person.handle }),
            rationale: format!("{} chose it from the epic-hygiene card", person.display_name),
            confidence: 1.0,
            action: action.into(),
            actor: person.handle.clone(),
            outcome: outcome.into(),
            source: None,
        };
        self.store.log_decision(&self.workspace, &decision, now).await?;
        Ok(())
    }
}
