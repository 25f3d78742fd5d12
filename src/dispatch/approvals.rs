//! Deciding an approval request, by button or by command: who may, what a second click or
//! a late one says, and resuming the job that waits on it.

use super::{ephemeral, Bot, BotError, Outcome};
use crate::board::{Person, Verdict};
use crate::chat::{Message, MessageRef, Origin, Outbound};
use crate::store::{ApprovalState, NewDecision, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;

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
        let person = self.known_sender(origin)?.clone();
        let approval = self.store.approval(&self.workspace, id).await?;
        if !approval.approvers.allows(&person) {
            self.log_refusal(&person, id, &approval.subject, now).await?;
            let who = who_may(&approval.approvers);
            return Ok(vec![ephemeral(
                origin,
                Message::text(format!("⛔ Only {who} can decide on this; you are a {}. Nothing changed.", person.role)),
            )]);
        }
        let decided = match self.store.decide_approval(&self.workspace, id, &person.handle, verdict, comment, now).await
        {
            Ok(decided) => decided,
            // Expiry found here is recorded (and its job resumed) by the store.
            Err(StoreError::ApprovalClosed { state, .. }) => {
                let why = match state {
                    ApprovalState::Expired => "it expired before anyone decided".to_string(),
                    other => format!("it was already {}", other.as_str().replace('_', " ")),
                };
                return Ok(vec![ephemeral(
                    origin,
                    Message::text(format!("That request is closed: {why}. Nothing changed.")),
                )]);
            }
            Err(StoreError::AlreadyDecided { .. }) => {
                return Ok(vec![ephemeral(
                    origin,
                    Message::text("You have already decided on this request. Nothing changed."),
                )]);
            }
            Err(err) => return Err(err.into()),
        };
        if decided.state == ApprovalState::Pending {
            let have = decided.decisions.iter().filter(|d| d.verdict == Verdict::Approve).count();
            let text = format!("Recorded: {have} of {} approvals so far.", decided.required);
            return Ok(vec![ephemeral(origin, Message::text(text))]);
        }
        let message = self.templates.render(
            "approval_decided",
            &json!({ "by": person.display_name, "verdict": verdict.past_tense(), "description": decided.description, "comment": comment }),
        )?;
        Ok(vec![match card {
            Some(target) => Outbound::Update { target: target.clone(), message },
            None => super::reply(origin, message, true),
        }])
    }

    async fn log_refusal(&self, person: &Person, id: i64, subject: &str, now: DateTime<Utc>) -> Result<(), BotError> {
        let decision = NewDecision {
            kind: "approval.decide".into(),
            subject: subject.into(),
            inputs: json!({ "approval": id, "by": person.handle, "role": person.role.as_str() }),
            rationale: format!("{} is a {} and not among the approvers", person.display_name, person.role),
            confidence: 1.0,
            action: "none".into(),
            actor: person.handle.clone(),
            outcome: "refused".into(),
        };
        self.store.log_decision(&self.workspace, &decision, now).await?;
        Ok(())
    }
}

fn who_may(approvers: &crate::store::Approvers) -> String {
    let mut who: Vec<String> = Vec::new();
    match approvers.role {
        Some(crate::board::Role::Lead) => who.push("a PM or lead".into()),
        Some(role) => who.push(format!("a {role}")),
        None => {}
    }
    who.extend(approvers.people.iter().map(|h| format!("@{h}")));
    if who.is_empty() {
        "the named approvers".into()
    } else {
        who.join(" or ")
    }
}
