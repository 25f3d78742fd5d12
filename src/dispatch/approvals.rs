//! Deciding an approval request, by button or by command: who may, what a second click or
//! a late one says, and resuming the job that waits on it.

use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::{Person, Verdict};
use crate::chat::{Form, Message, MessageRef, Origin, Outbound};

/// The `action_id` of the "what should change?" form.
pub(super) const CHANGES_FORM: &str = "approval.changes";

fn changes_form(id: i64, card: &MessageRef) -> Form {
    Form {
        title: "Needs changes".into(),
        question: "What should change?".into(),
        submit: "Send".into(),
        action_id: CHANGES_FORM.into(),
        value: id.to_string(),
        message: Some(card.clone()),
    }
}

/// The form a button opens at once, for platforms that can open one only as the immediate
/// answer to the press (Discord); `None` for buttons that act directly.
pub fn form_for_button(action_id: &str, value: &str, card: &MessageRef) -> Option<Form> {
    if action_id == crate::workflows::conversation::OTHER_ACTION {
        return value.parse().ok().map(|id| super::decisions::other_ticket_form(id, card));
    }
    if action_id == crate::workflows::agents::epics::PICK_ACTION {
        return Some(super::epics::pick_form(value, card));
    }
    let (id, verdict) = value.split_once(':')?;
    (action_id == crate::workflows::triage::DECIDE_ACTION && verdict == Verdict::RequestChanges.as_str())
        .then(|| id.parse().ok().map(|id| changes_form(id, card)))
        .flatten()
}
use crate::service::ServiceError;
use crate::store::{ApprovalState, Store, StoreError, WorkspaceId};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Whether the person who pressed may open the form the button opens, checked where a
/// platform needs the form at once (before any job runs). `false` lets the press go to its
/// job, which refuses it and logs the refusal.
pub async fn may_open_form(
    store: &Store,
    ws: &WorkspaceId,
    people: &[Person],
    origin: &Origin,
    action_id: &str,
    value: &str,
) -> bool {
    let Some(person) = people.iter().find(|p| p.answers_to(origin.platform.as_str(), &origin.user)) else {
        return false;
    };
    if action_id == crate::workflows::agents::epics::PICK_ACTION {
        return crate::service::rules::check(crate::service::Who::of(person.role), crate::service::Op::SetEpic).is_ok();
    }
    let id = value.split(':').next().and_then(|id| id.parse::<i64>().ok());
    match id {
        Some(id) => store.approval(ws, id).await.is_ok_and(|a| a.approvers.allows(person)),
        None => false,
    }
}

impl Bot {
    /// Records `person`'s verdict on approval `id`. `card` is the message holding its
    /// buttons, updated in place once the approval is resolved.
    pub(super) async fn decide(
        &self,
        origin: &Origin,
        id: i64,
        verdict: Verdict,
        comment: Option<&str>,
        card: Option<&MessageRef>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let actor = self.actor(origin);
        let decided = match self.board.decide(&actor, id, verdict, comment, &self.ctx(now)).await {
            Ok(decided) => decided,
            // Expiry found here is recorded (and its job resumed) by the service.
            Err(ServiceError::Store(StoreError::ApprovalClosed { state, .. })) => {
                let why = match state {
                    ApprovalState::Expired => "it expired before anyone decided".to_string(),
                    other => format!("it was already {}", other.as_str().replace('_', " ")),
                };
                return Ok(vec![ephemeral(
                    origin,
                    Message::text(format!("That request is closed: {why}. Nothing changed.")),
                )]);
            }
            Err(ServiceError::Store(StoreError::AlreadyDecided { .. })) => {
                return Ok(vec![ephemeral(
                    origin,
                    Message::text("You have already decided on this request. Nothing changed."),
                )]);
            }
            Err(err) => return Err(err.into()),
        };
        let by = actor.display();
        if decided.state == ApprovalState::Pending {
            let have = decided.decisions.iter().filter(|d| d.verdict == Verdict::Approve).count();
            let text = format!("Recorded: {have} of {} approvals so far.", decided.required);
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        // A conversation suggestion was a question: its answer reads as one.
        let (verdict_text, comment) = match (super::decisions::is_suggestion(&decided.subject), verdict) {
            (true, Verdict::Approve) => ("said yes", None),
            (true, Verdict::Reject) => ("said no", None),
            (true, Verdict::RequestChanges) => ("pointed to another ticket", comment),
            (false, _) => (verdict.past_tense(), comment),
        };
        let message = self.templates.render(
            "approval_decided",
            &json!({ "by": by, "verdict": verdict_text, "description": decided.description, "comment": comment }),
        )?;
        Ok(vec![match card {
            Some(target) => Outbound::Update { target: target.clone(), message },
            None => super::reply(origin, message, true),
        }])
    }

    /// "Needs changes…": a form asking what should change, where the platform can open one;
    /// elsewhere, how to say it with a command.
    pub(super) async fn ask_for_changes(
        &self,
        origin: &Origin,
        id: i64,
        card: &MessageRef,
        trigger: Option<&str>,
    ) -> Outcome {
        let approval = self.board.may_decide(&self.actor(origin), id, &self.ctx(Utc::now())).await?;
        let mut form = changes_form(id, card);
        form.question = format!("What should change? ({})", approval.description);
        let fallback =
            Message::text(format!("Say what should change: `@{} changes {id} <what>`", self.config.team.bot_name));
        Ok(vec![super::form_reply(origin, form, trigger, fallback)])
    }

    /// A filled-in form: today, the changes asked for on an approval request.
    pub(super) async fn form_submitted(
        &self,
        origin: &Origin,
        action_id: &str,
        value: &str,
        card: Option<&MessageRef>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        if action_id == crate::workflows::conversation::OTHER_ACTION {
            return self.other_ticket_chosen(origin, value, card, text, now).await;
        }
        if action_id == crate::workflows::agents::epics::PICK_ACTION {
            return self.epic_picked(origin, value, card, text, now).await;
        }
        if action_id != CHANGES_FORM {
            return Ok(vec![]);
        }
        let id: i64 = value.parse().map_err(|_| {
            BotError::User(format!("That form is about an unknown request ({value}); nothing changed."))
        })?;
        if text.trim().is_empty() {
            return Ok(vec![ephemeral(origin, Message::text("Say what should change; nothing was recorded."))]);
        }
        self.decide(origin, id, Verdict::RequestChanges, Some(text.trim()), card, now).await
    }
}
