//! The epic-hygiene buttons: Assign to <epic>, Pick another…, Skip. A PM or lead may press
//! them; each is logged and updates its card in place.

use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::TicketKey;
use crate::chat::{Form, Message, MessageRef, Origin, Outbound};
use crate::service::{rules, Actor, Op};
use crate::workflows::agents::epics::{parse_assign_value, PICK_ACTION, SKIPPED};
use chrono::{DateTime, Utc};

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
    /// A PM or lead; anyone else is refused (and logged) before a form or a change.
    async fn epic_keeper(&self, origin: &Origin, key: &str, now: DateTime<Utc>) -> Result<Actor, BotError> {
        let actor = self.actor(origin);
        match rules::check(actor.who(), Op::SetEpic) {
            Ok(()) => Ok(actor),
            Err(why) => Err(self.board.refuse(&actor, Op::SetEpic.kind(), key, why, now).await.into()),
        }
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
        self.epic_keeper(origin, key, Utc::now()).await?;
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
        let actor = self.epic_keeper(origin, key, now).await?;
        let ticket: TicketKey = key.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
        let ctx = self.ctx(now).kind("epic.assign").because(chosen_on_card(&actor));
        self.board.skip_epic(&actor, &ticket, &format!("{SKIPPED}{key}"), &ctx).await?;
        let text = format!("⏭ {} skipped *{key}*: it will not be suggested again.", actor.display());
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
        let actor = self.epic_keeper(origin, key, now).await?;
        let ticket: TicketKey = key.parse().map_err(|e: crate::board::BoardError| BotError::User(e.to_string()))?;
        let current = self.store.ticket(&self.workspace, &ticket).await?;
        if let Some(existing) = current.epic.filter(|e| e != epic) {
            let text = format!("*{key}* is already in {existing}; nothing changed.");
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        let ctx = self.ctx(now).kind("epic.assign").because(chosen_on_card(&actor));
        self.board.set_epic(&actor, &ticket, Some(epic), &ctx).await?;
        let text = format!("✓ {} filed *{key}* {} under {epic}.", actor.display(), current.title);
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
}

fn chosen_on_card(actor: &Actor) -> String {
    format!("{} chose it from the epic-hygiene card", actor.display())
}
