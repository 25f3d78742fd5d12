//! The buttons and commands around the bot's own conversation decisions: Undo, "Different
//! ticket…", "Create ticket" (from the standup's untracked conversations), and `why KEY`.

use super::{ephemeral, reply, Bot, BotError, Outcome};
use crate::board::{TicketKey, Verdict};
use crate::chat::{Form, Message, MessageRef, Origin, Outbound};
use crate::service::Ctx;
use crate::store::{Decision, DecisionFilter, NewDecision};
use crate::workflows::conversation::apply::{apply, Proposal};
use crate::workflows::conversation::{APPROVAL_SUBJECT, KIND, OTHER_ACTION};
use chrono::{DateTime, Utc};
use serde_json::json;

/// How many decisions `why` lists before pointing at the CLI.
const WHY_LIMIT: i64 = 8;

/// The form "Different ticket…" opens.
pub(super) fn other_ticket_form(approval: i64, card: &MessageRef) -> Form {
    Form {
        title: "Different ticket".into(),
        question: "Which ticket is it about? (its key, e.g. ENG-12)".into(),
        submit: "Use this ticket".into(),
        action_id: OTHER_ACTION.into(),
        value: approval.to_string(),
        message: Some(card.clone()),
    }
}

impl Bot {
    /// Undo of something the bot did on its own (or on a Yes): the message's author or a PM
    /// or lead may; a second press says it was undone already.
    pub(super) async fn undo(&self, origin: &Origin, value: &str, card: &MessageRef, now: DateTime<Utc>) -> Outcome {
        let actor = self.actor(origin);
        let decision = self.conversation_decision(value).await?;
        let mut proposal = Proposal::of(&decision)?;
        let is_author = actor.person().is_some_and(|p| proposal.author.as_deref() == Some(p.handle.as_str()));
        let done = proposal.result.is_some() && matches!(decision.outcome.as_str(), "done" | "accepted" | "redirected");
        if !done {
            let text = format!("There is nothing to undo: that decision is {}. Nothing changed.", decision.outcome);
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        let outcome = if decision.outcome == "done" { "undone" } else { "accepted+undone" };
        let result = proposal.result.take().unwrap_or_default();
        proposal.result = Some(json!({ "undone": result }));
        let ctx = Ctx::new(now).once(format!("undo:{}", decision.id)).kind("conversation.undo").because(format!(
            "{} undid decision #{}",
            actor.display(),
            decision.id
        ));
        let Some(what) = self.board.undo(&actor, is_author, &decision, outcome, &proposal.to_value(), &ctx).await?
        else {
            let text = "That was undone already. Nothing changed.";
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        };
        let text = format!("↩️ {} undid this: {what}.", actor.display());
        Ok(vec![Outbound::Update { target: card.clone(), message: Message::text(text) }])
    }

    /// "Different ticket…": a form asking which, where the platform can open one.
    pub(super) async fn ask_other_ticket(
        &self,
        origin: &Origin,
        value: &str,
        card: &MessageRef,
        trigger: Option<&str>,
    ) -> Outcome {
        let id: i64 = value.parse().map_err(|_| unexpected(value))?;
        self.board.may_decide(&self.actor(origin), id, &self.ctx(Utc::now())).await?;
        let fallback = Message::text(format!(
            "Say which ticket: `@{} changes {id} ENG-12` (with its key).",
            self.config.team.bot_name
        ));
        Ok(vec![super::form_reply(origin, other_ticket_form(id, card), trigger, fallback)])
    }

    /// The "Different ticket…" form, filled in: the key must name a ticket on the board.
    pub(super) async fn other_ticket_chosen(
        &self,
        origin: &Origin,
        value: &str,
        card: Option<&MessageRef>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        let id: i64 = value.parse().map_err(|_| unexpected(value))?;
        let word = text.split_whitespace().next().unwrap_or_default().trim_start_matches('#');
        let key: TicketKey = word.parse().map_err(|_| {
            BotError::User(format!("“{}” is not a ticket key (like ENG-12); nothing was recorded.", text.trim()))
        })?;
        self.store.ticket(&self.workspace, &key).await?;
        self.decide(origin, id, Verdict::RequestChanges, Some(key.as_str()), card, now).await
    }

    /// "Create ticket" on an untracked conversation in the standup.
    pub(super) async fn create_from(
        &self,
        origin: &Origin,
        value: &str,
        card: &MessageRef,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        let decision = self.conversation_decision(value).await?;
        let mut proposal = Proposal::of(&decision)?;
        if let Some(key) = proposal.result.as_ref().and_then(|r| r["ticket"].as_str()) {
            let text = format!("That conversation already has a ticket: {key}. Nothing changed.");
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        proposal.decision = "create".into();
        let ctx = Ctx::new(now).resolving(decision.id, "created", proposal.to_value());
        let applied = apply(&self.board, &self.config, &proposal, &actor, None, &ctx).await?;
        proposal.result = Some(applied.result.clone());
        if !applied.changed {
            let inputs = proposal.to_value();
            self.store.update_decision(&self.workspace, decision.id, "created", &applied.key, &inputs).await?;
        }
        let log = NewDecision {
            kind: "conversation.answer".into(),
            subject: applied.key.clone(),
            inputs: json!({ "decision": decision.id, "answer": "create", "by": actor.name() }),
            rationale: format!("{} created a ticket from an untracked conversation", actor.display()),
            confidence: 1.0,
            action: "create".into(),
            actor: actor.name(),
            outcome: "created".into(),
            source: Some(format!("answer:{}", decision.id)),
        };
        // A run again after a crash finds the answer logged already, which is fine.
        let _ = self.store.log_decision_once(&self.workspace, &log, now).await?;
        // Said under the standup, which stays as it is for the other conversations.
        let text = format!("✓ {} (asked for by {}, created by {}).", applied.what, who(&proposal), actor.display());
        let message = Message::text(text);
        Ok(vec![Outbound::Reply { channel: card.channel.clone(), thread: Some(card.ts.clone()), message }])
    }

    /// `why KEY`: what the bot (and people through it) decided about the ticket, and why.
    pub(super) async fn why(&self, origin: &Origin, key: &TicketKey, in_thread: bool) -> Outcome {
        self.store.ticket(&self.workspace, key).await?;
        let filter =
            DecisionFilter { subject: Some(key.to_string()), limit: WHY_LIMIT + 1, ..DecisionFilter::default() };
        let mut found = self.store.find_decisions(&self.workspace, &filter).await?;
        let more = found.len() > usize::try_from(WHY_LIMIT).unwrap_or(8);
        found.truncate(usize::try_from(WHY_LIMIT).unwrap_or(8));
        let zone = self.config.team.timezone;
        let names = self.names();
        let by = |actor: &str| if actor == "pmbot" { actor.to_string() } else { names.full(actor) };
        let decisions: Vec<_> = found
            .iter()
            .map(|d| {
                json!({
                    "when": d.created_at.with_timezone(&zone).format("%a %-d %b %H:%M").to_string(),
                    "what": describe(d),
                    "how": format!("{} · {}% sure · {}", d.outcome, (d.confidence * 100.0).round(), by(&d.actor)),
                    "rationale": if d.inputs["private"] == true { "said in a private conversation" } else { d.rationale.as_str() },
                })
            })
            .collect();
        let context = json!({ "key": key.as_str(), "decisions": decisions, "more": if more { "some" } else { "" } });
        Ok(vec![reply(origin, self.templates.render("why", &context)?, in_thread)])
    }

    async fn conversation_decision(&self, value: &str) -> Result<Decision, BotError> {
        let id: i64 = value.parse().map_err(|_| unexpected(value))?;
        let decision = self.store.decision(&self.workspace, id).await?;
        if decision.kind != KIND {
            return Err(unexpected(value));
        }
        Ok(decision)
    }
}

/// Whether approval `subject` is a conversation suggestion (its buttons read Yes / No).
pub(super) fn is_suggestion(subject: &str) -> bool {
    subject.starts_with(APPROVAL_SUBJECT)
}

fn who(proposal: &Proposal) -> String {
    proposal.author.as_ref().map_or_else(|| proposal.message.user.clone(), |h| format!("@{h}"))
}

fn unexpected(value: &str) -> BotError {
    BotError::User(format!("That button carries an unexpected value ({value}); nothing changed."))
}

/// "matched a message: move to done", "triage", … for a line of `why`.
fn describe(d: &Decision) -> String {
    let kind = match d.kind.as_str() {
        KIND => "from chat",
        "conversation.answer" => "answer",
        "conversation.undo" => "undo",
        "ticket.create" => "created",
        "ticket.triage" => "triage",
        other => other,
    };
    format!("{kind}: {}", d.action.replace(':', " → "))
}
