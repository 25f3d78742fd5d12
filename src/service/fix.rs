//! The AI queue's changes that people make: starting a run (moving a ticket to the AI
//! queue, whatever the path), cancelling one, pausing and resuming them all. Each checks who
//! asks, and commits the run's row, its transition, the decision and the job together.

use super::{rules, Actor, BoardService, Ctx, Op, Record, Result, ServiceError};
use crate::board::{RunState, Status, TicketKey};
use crate::store::{FixRun, NewDecision, NewJob, StoreError, StoreTx};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The job kind that carries a run through its steps (`workflows::fix::FixJob`).
pub const FIX_JOB_KIND: &str = "fix.run";
pub const FIX_JOB_ATTEMPTS: u32 = 5;

/// The job for run `id`: one per run, for its whole life (it parks at each gate).
pub fn fix_job(id: i64, run_at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: FIX_JOB_KIND.into(),
        queue: "default".into(),
        payload: json!({ "run": id }),
        priority: 0,
        max_attempts: FIX_JOB_ATTEMPTS,
        run_at,
        unique_key: Some(format!("fix:{id}")),
    }
}

impl BoardService {
    /// Hands `key` to the AI queue: moves it there (when it is not) and starts a run, whose
    /// messages go to `channel` (the project's channel when `None`). One active run per
    /// ticket: a second start is `FixRunActive`.
    pub async fn start_fix(&self, actor: &Actor, key: &TicketKey, channel: Option<&str>, ctx: &Ctx) -> Result<FixRun> {
        let (mut tx, earlier) = self.begin(ctx).await?;
        if let Some(done) = earlier {
            drop(tx);
            let run = done.inputs["result"]["run"].as_i64().unwrap_or_default();
            return Ok(self.store.fix_run(&self.ws, run).await?);
        }
        let ticket = tx.lock_ticket(&self.ws, key).await?;
        let own = actor.handle().is_some_and(|h| ticket.assignee.as_deref() == Some(h));
        if let Err(why) = rules::check(actor.who(), Op::Move { from: ticket.status, to: Status::AiQueue, own }) {
            drop(tx);
            return Err(self.refuse(actor, "fix.start", key.as_str(), why, ctx.now).await);
        }
        if ticket.status != Status::AiQueue {
            tx.move_ticket(&self.ws, key, Status::AiQueue, &actor.name(), Some("handed to the AI queue"), ctx.now)
                .await?;
        }
        let id = self.open_run(&mut tx, actor, key, channel, ctx.now).await?;
        let mut ctx = ctx.clone().kind("fix.start");
        ctx.jobs.push(fix_job(id, ctx.now));
        let record = Record {
            actor,
            subject: key.as_str(),
            action: "fix.start".into(),
            outcome: format!("started fix run #{id} for {key}"),
            inputs: json!({ "from": ticket.status.as_str(), "result": { "run": id } }),
        };
        self.finish(tx, &ctx, record).await?;
        Ok(self.store.fix_run(&self.ws, id).await?)
    }

    /// Opens a run that reverts completed run `of`'s merge, through the same gates. A PM's
    /// or a lead's call; the ticket goes back to the AI queue meanwhile.
    pub async fn start_revert(
        &self,
        actor: &Actor,
        key: &TicketKey,
        channel: Option<&str>,
        ctx: &Ctx,
    ) -> Result<FixRun> {
        if !actor.who().decides() {
            let why = "only a PM or lead can revert a merged fix";
            return Err(self.refuse(actor, "fix.revert", key.as_str(), why, ctx.now).await);
        }
        let runs = self.store.fix_runs_of(&self.ws, key).await?;
        let Some(done) = runs
            .iter()
            .find(|r| r.state == RunState::Completed && r.data.get("revert_of").and_then(Value::as_i64).is_none())
        else {
            return Err(ServiceError::Refused { why: format!("{key} has no merged fix to revert") });
        };
        let Some(merged) = done.data.get("merged").and_then(Value::as_str) else {
            return Err(ServiceError::Refused { why: format!("fix run #{} has no merge commit to revert", done.id) });
        };
        let mut tx = self.store.begin().await?;
        let ticket = tx.lock_ticket(&self.ws, key).await?;
        if ticket.status != Status::AiQueue {
            tx.move_ticket(&self.ws, key, Status::AiQueue, &actor.name(), Some("reverting its fix"), ctx.now).await?;
        }
        let data = json!({ "channel": channel, "revert_of": done.id, "revert_sha": merged });
        let why = format!("{} asked to revert fix run #{}", actor.display(), done.id);
        let id = tx.create_fix_run(&self.ws, key, &actor.name(), &data, &why, ctx.now).await?;
        let mut ctx = ctx.clone().kind("fix.revert");
        ctx.jobs.push(fix_job(id, ctx.now));
        let record = Record {
            actor,
            subject: key.as_str(),
            action: "fix.revert".into(),
            outcome: format!("started fix run #{id} reverting fix run #{}", done.id),
            inputs: json!({ "reverts": done.id, "merge": merged, "result": { "run": id } }),
        };
        self.finish(tx, &ctx, record).await?;
        Ok(self.store.fix_run(&self.ws, id).await?)
    }

    /// The run row and its job, inside a change that moved `key` to the AI queue.
    pub(super) async fn open_run(
        &self,
        tx: &mut StoreTx,
        actor: &Actor,
        key: &TicketKey,
        channel: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let data = json!({ "channel": channel });
        let why = format!("{} handed {key} to the AI queue", actor.display());
        Ok(tx.create_fix_run(&self.ws, key, &actor.name(), &data, &why, now).await?)
    }

    /// Cancels run `id`: its requester, a PM or a lead may. A running agent is stopped by
    /// its job, which sees the state; an approval the run waits on is withdrawn.
    pub async fn cancel_fix(&self, actor: &Actor, id: i64, ctx: &Ctx) -> Result<FixRun> {
        let run = self.store.fix_run(&self.ws, id).await?;
        let requester = actor.handle() == Some(run.requested_by.as_str());
        if !requester && !actor.who().decides() {
            let why = "only the person who started the run, a PM or a lead can cancel it";
            return Err(self.refuse(actor, "fix.cancel", run.ticket.as_str(), why, ctx.now).await);
        }
        if run.state.is_final() {
            return Err(ServiceError::Refused { why: format!("Fix run #{id} has already ended ({})", run.state) });
        }
        let why = format!("cancelled by {}", actor.display());
        let mut tx = self.store.begin().await?;
        // An approved pull request is being merged: too late to cancel (revert it after).
        if let Some(pr) = run.data.get("pr_approval").and_then(Value::as_i64) {
            if run.state == RunState::AwaitingPrApproval
                && tx.locked_approval_state(&self.ws, pr).await? == crate::store::ApprovalState::Approved
            {
                drop(tx);
                let why = format!("fix run #{id}'s pull request is approved and being merged; revert it once merged");
                return Err(self.refuse(actor, "fix.cancel", run.ticket.as_str(), &why, ctx.now).await);
            }
        }
        if !tx
            .transition_fix_run(&self.ws, id, run.state, RunState::Cancelled, &actor.name(), &why, None, ctx.now)
            .await?
        {
            drop(tx);
            // It moved on meanwhile: try again from where it is now.
            return Box::pin(self.cancel_fix(actor, id, ctx)).await;
        }
        // Every gate the run has open, recorded in its data or not yet.
        for approval in tx.pending_approvals_starting(&self.ws, &format!("fix:{id}:")).await? {
            tx.withdraw_approval(&self.ws, approval, &why, ctx.now).await?;
        }
        let record = Record {
            actor,
            subject: run.ticket.as_str(),
            action: "fix.cancel".into(),
            outcome: format!("cancelled fix run #{id} in {}", run.state),
            inputs: json!({ "run": id, "from": run.state.as_str() }),
        };
        self.finish(tx, &ctx.clone().kind("fix.cancel"), record).await?;
        Ok(self.store.fix_run(&self.ws, id).await?)
    }

    /// Ends run `id` in `to` because of what happened on its forge (its pull request merged
    /// or closed on GitHub, a verified webhook says): the transition with `data` (when
    /// given), its gates withdrawn so the parked job wakes and tells the thread, and the
    /// decision, together. `false` when the run had ended already.
    pub async fn end_fix_on_forge(
        &self,
        actor: &Actor,
        id: i64,
        to: RunState,
        why: &str,
        data: Option<&Value>,
        ctx: &Ctx,
    ) -> Result<bool> {
        let run = self.store.fix_run(&self.ws, id).await?;
        if run.state.is_final() {
            return Ok(false);
        }
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_some() {
            return Ok(false);
        }
        if !tx.transition_fix_run(&self.ws, id, run.state, to, &actor.name(), why, data, ctx.now).await? {
            drop(tx);
            // It moved on meanwhile: decide again from where it is now.
            return Box::pin(self.end_fix_on_forge(actor, id, to, why, data, ctx)).await;
        }
        for approval in tx.pending_approvals_starting(&self.ws, &format!("fix:{id}:")).await? {
            tx.withdraw_approval(&self.ws, approval, why, ctx.now).await?;
        }
        let record = Record {
            actor,
            subject: run.ticket.as_str(),
            action: "fix.forge".into(),
            outcome: format!("fix run #{id} {} → {to}: {why}", run.state),
            inputs: json!({ "run": id, "from": run.state.as_str(), "to": to.as_str() }),
        };
        self.finish(tx, &ctx.clone().kind("fix.forge"), record).await?;
        Ok(true)
    }

    /// The kill switch: while paused no fix step starts and running agents are stopped
    /// (their runs keep their state and go on when resumed). PMs, leads and the operator.
    pub async fn pause_fixes(&self, actor: &Actor, paused: bool, ctx: &Ctx) -> Result<()> {
        let kind = if paused { "fix.pause" } else { "fix.resume" };
        if !actor.who().decides() {
            let why = "only a PM or lead can pause or resume the AI queue";
            return Err(self.refuse(actor, kind, "ai_queue", why, ctx.now).await);
        }
        let mut tx = self.store.begin().await?;
        tx.set_fix_paused(&self.ws, paused, &actor.name(), ctx.now).await?;
        let decision = NewDecision {
            kind: kind.into(),
            subject: "ai_queue".into(),
            inputs: json!({ "by": actor.describe() }),
            rationale: format!("{} {} the AI queue", actor.display(), if paused { "paused" } else { "resumed" }),
            confidence: 1.0,
            action: kind.into(),
            actor: actor.name(),
            outcome: if paused { "paused".into() } else { "resumed".into() },
            source: None,
        };
        tx.log_decision(&self.ws, &decision, ctx.now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a start that found an active run says.
pub fn already_running(err: &ServiceError) -> Option<(i64, RunState)> {
    match err {
        ServiceError::Store(StoreError::FixRunActive { id, state, .. }) => Some((*id, *state)),
        _ => None,
    }
}
