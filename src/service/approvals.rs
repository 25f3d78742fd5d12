//! Approvals: opened once per subject, decided only by those they name.

use super::{Actor, BoardService, Ctx, Record, Result, ServiceError};
use crate::board::Verdict;
use crate::store::{Approval, ApprovalState, Approvers, NewApproval, StoreError};
use serde_json::json;

impl BoardService {
    /// Opens an approval, or returns the one still pending about the same subject (a job
    /// run again after a crash finds the request it made).
    pub async fn open_approval(&self, actor: &Actor, new: &NewApproval, ctx: &Ctx) -> Result<Approval> {
        let mut tx = self.store.begin().await?;
        if let Some(id) = tx.pending_approval_about(&self.ws, &new.subject).await? {
            drop(tx);
            return Ok(self.store.approval(&self.ws, id).await?);
        }
        let id = tx.create_approval(&self.ws, new, ctx.now).await?;
        let record = Record {
            actor,
            subject: &new.subject,
            action: "ask".into(),
            outcome: format!("opened approval #{id}"),
            inputs: json!({ "approval": id, "description": new.description }),
        };
        let ctx = ctx.clone().kind("approval.open");
        self.finish(tx, &ctx, record).await?;
        Ok(self.store.approval(&self.ws, id).await?)
    }

    /// Whether `actor` may decide approval `id` (and so open its forms); a refusal is logged.
    pub async fn may_decide(&self, actor: &Actor, id: i64, ctx: &Ctx) -> Result<Approval> {
        let approval = self.store.approval(&self.ws, id).await?;
        if allows(&approval.approvers, actor) {
            return Ok(approval);
        }
        let why = format!("only {} can decide on this", who_may(&approval.approvers));
        let why = match actor.person() {
            Some(person) => format!("{why}; you are a {}", person.role),
            None => why,
        };
        Err(self.refuse(actor, "approval.decide", &approval.subject, &why, ctx.now).await)
    }

    /// Records `actor`'s verdict on approval `id`, with its decision-log row, together.
    /// Closed, expired and second decisions are the store's user errors.
    pub async fn decide(
        &self,
        actor: &Actor,
        id: i64,
        verdict: Verdict,
        comment: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Approval> {
        let approval = self.may_decide(actor, id, ctx).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_some() {
            // This very delivery decided it before (a retry): the same answer again.
            drop(tx);
            return Ok(self.store.approval(&self.ws, id).await?);
        }
        let state = match tx.decide_approval(&self.ws, id, &actor.name(), verdict, comment, ctx.now).await {
            Ok(state) => state,
            Err(err @ StoreError::ApprovalClosed { state: ApprovalState::Expired, .. }) => {
                tx.commit().await?; // the expiry found here is kept, and its job resumed
                return Err(err.into());
            }
            Err(err) => return Err(err.into()),
        };
        let record = Record {
            actor,
            subject: &approval.subject,
            action: verdict.as_str().to_string(),
            outcome: format!("approval #{id} {}", state.as_str().replace('_', " ")),
            inputs: json!({ "approval": id, "comment": comment }),
        };
        let ctx = ctx.clone().kind("approval.decide");
        self.finish(tx, &ctx, record).await?;
        Ok(self.store.approval(&self.ws, id).await?)
    }
}

fn allows(approvers: &Approvers, actor: &Actor) -> bool {
    match actor {
        Actor::Person(person) => approvers.allows(person),
        // Scheduled work decides nothing on people's behalf; strangers never.
        _ => false,
    }
}

/// "a PM or lead", "@ana", … for a refusal.
pub fn who_may(approvers: &Approvers) -> String {
    let mut who: Vec<String> = Vec::new();
    match approvers.role {
        Some(crate::board::Role::Lead) => who.push("a PM or lead".into()),
        Some(role) => who.push(format!("a {role}")),
        None => {}
    }
    who.extend(approvers.people.iter().map(|h| format!("@{h}")));
    let who = if who.is_empty() { "the named approvers".into() } else { who.join(" or ") };
    if approvers.except.is_empty() {
        who
    } else {
        let except: Vec<String> = approvers.except.iter().map(|h| format!("@{h}")).collect();
        format!("{who} other than {}", except.join(" and "))
    }
}

impl From<ServiceError> for crate::job_env::StepError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Store(err) => err.into(),
            refused @ ServiceError::Refused { .. } => crate::job_env::StepError::Gone(refused.to_string()),
        }
    }
}
