//! Ticket changes: create, move, assign, comment, epic, and undoing what pmbot did.

use super::{rules, Actor, BoardService, Ctx, Op, Record, Result};
use crate::board::{Comment, NewTicket, Status, Ticket, TicketKey, Transition};
use crate::store::{Decision, NewJob, StoreError, StoreTx};
use crate::tracker::{write_job, WriteOp};
use serde_json::{json, Value};

impl BoardService {
    /// Puts a new ticket on the board. A ticket from an outside source (`new.source`) is
    /// made once: asked again, the one made before is returned.
    pub async fn create(&self, actor: &Actor, new: &NewTicket, ctx: &Ctx) -> Result<Ticket> {
        self.create_then(actor, new, ctx, |_| Vec::new()).await
    }

    /// [`create`](Self::create), with jobs that need the new key (a triage request),
    /// enqueued in the same transaction.
    pub async fn create_then<J: IntoIterator<Item = NewJob>>(
        &self,
        actor: &Actor,
        new: &NewTicket,
        ctx: &Ctx,
        follow: impl FnOnce(&TicketKey) -> J,
    ) -> Result<Ticket> {
        self.allow(actor, Op::Create { status: new.status }, &new.project, ctx.now).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if let Some(done) = earlier {
            drop(tx);
            return Ok(self.store.ticket(&self.ws, &done.subject.parse().map_err(StoreError::from)?).await?);
        }
        if let (Some(tracker), Some(id)) = (&new.source.tracker, &new.source.external_id) {
            if let Some(existing) = tx.ticket_from(&self.ws, tracker, id).await? {
                // Made meanwhile (a race): the decision it carries out still learns its result.
                if let Some(resolve) = &ctx.resolves {
                    let mut inputs = resolve.inputs.clone();
                    inputs["result"] = json!({ "ticket": existing.key.as_str(), "created": true });
                    tx.update_decision(&self.ws, resolve.id, &resolve.outcome, existing.key.as_str(), &inputs).await?;
                    tx.commit().await?;
                }
                return Ok(existing);
            }
        }
        let key = tx.create_ticket(&self.ws, new, &actor.name(), ctx.now).await?;
        let mut ctx = ctx.clone();
        ctx.jobs.extend(follow(&key));
        let result = json!({ "ticket": key.as_str(), "created": true });
        let record = Record {
            actor,
            subject: key.as_str(),
            action: "create".into(),
            outcome: format!("created {key} in {}", new.status.label()),
            inputs: json!({ "title": new.title, "project": new.project, "result": result }),
        };
        self.finish(tx, &ctx, record).await?;
        Ok(self.store.ticket(&self.ws, &key).await?)
    }

    /// Moves a ticket; moving it where it is already is `AlreadyInStatus`.
    pub async fn move_to(
        &self,
        actor: &Actor,
        key: &TicketKey,
        to: Status,
        reason: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Transition> {
        let (mut tx, earlier) = self.begin(ctx).await?;
        if let Some(done) = earlier {
            return Ok(replayed_move(key, &done));
        }
        let ticket = tx.lock_ticket(&self.ws, key).await?;
        let own = actor.handle().is_some_and(|h| ticket.assignee.as_deref() == Some(h));
        if let Err(why) = rules::check(actor.who(), Op::Move { from: ticket.status, to, own }) {
            drop(tx);
            return Err(self.refuse(actor, "ticket.move", key.as_str(), why, ctx.now).await);
        }
        let moved = tx.move_ticket(&self.ws, key, to, &actor.name(), reason, ctx.now).await?;
        let mut ctx = ctx.clone();
        let change = format!("move:{to}:{}", ctx.now.timestamp_micros());
        ctx.jobs.extend(write_job(&ticket, WriteOp::Move { from: ticket.status, to }, &change, ctx.now));
        // The AI queue is a door: whatever moved the ticket there starts its fix run.
        if to == Status::AiQueue && tx.active_fix_run(&self.ws, key).await?.is_none() {
            let run = self.open_run(&mut tx, actor, key, None, ctx.now).await?;
            ctx.jobs.push(super::fix::fix_job(run, ctx.now));
        }
        let from = ticket.status;
        let result = json!({ "ticket": key.as_str(), "from": from.as_str(), "to": to.as_str() });
        let record = Record {
            actor,
            subject: key.as_str(),
            action: format!("move:{to}"),
            outcome: format!("moved {key} from {} to {}", from.label(), to.label()),
            inputs: json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason, "result": result }),
        };
        self.finish(tx, &ctx, record).await?;
        Ok(moved)
    }

    /// Gives the ticket to `assignee` (a handle on the team), or to nobody.
    pub async fn assign(&self, actor: &Actor, key: &TicketKey, assignee: Option<&str>, ctx: &Ctx) -> Result<Ticket> {
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_none() {
            let ticket = tx.lock_ticket(&self.ws, key).await?;
            let me = actor.handle();
            let op = Op::Assign {
                to_self: me.is_some() && assignee == me,
                to_nobody: assignee.is_none(),
                own: me.is_some() && ticket.assignee.as_deref() == me,
                free: ticket.assignee.is_none(),
            };
            if let Err(why) = rules::check(actor.who(), op) {
                drop(tx);
                return Err(self.refuse(actor, "ticket.assign", key.as_str(), why, ctx.now).await);
            }
            tx.assign_ticket(&self.ws, key, assignee, ctx.now).await?;
            let mut ctx = ctx.clone();
            let change = format!("assign:{}:{}", assignee.unwrap_or("-"), ctx.now.timestamp_micros());
            let op = WriteOp::Assign { to: assignee.map(str::to_string) };
            ctx.jobs.extend(write_job(&ticket, op, &change, ctx.now));
            let record = Record {
                actor,
                subject: key.as_str(),
                action: format!("assign:{}", assignee.unwrap_or("nobody")),
                outcome: format!("assigned {key} to {}", assignee.unwrap_or("nobody")),
                inputs: json!({ "from": ticket.assignee, "to": assignee }),
            };
            self.finish(tx, &ctx, record).await?;
        } else {
            drop(tx);
        }
        Ok(self.store.ticket(&self.ws, key).await?)
    }

    /// Adds a comment by the actor.
    pub async fn comment(&self, actor: &Actor, key: &TicketKey, body: &str, ctx: &Ctx) -> Result<Comment> {
        self.allow(actor, Op::Comment, key.as_str(), ctx.now).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if let Some(done) = earlier {
            let id = done.inputs["result"]["comment"].as_i64();
            let found = tx.comments(&self.ws, key).await?.into_iter().find(|c| Some(c.id) == id);
            return found
                .ok_or_else(|| StoreError::Corrupt(format!("comment of decision #{} is gone", done.id)).into());
        }
        let comment = tx.add_comment(&self.ws, key, &actor.name(), body, ctx.now).await?;
        let mut ctx = ctx.clone();
        let ticket = tx.ticket(&self.ws, key).await?;
        let op = WriteOp::Comment {
            body: format!("{}{}{body}", actor.name(), crate::tracker::VIA_PMBOT),
            comment_id: comment.id,
        };
        ctx.jobs.extend(write_job(&ticket, op, &format!("comment:{}", comment.id), ctx.now));
        let result = json!({ "ticket": key.as_str(), "comment": comment.id });
        let record = Record {
            actor,
            subject: key.as_str(),
            action: "comment".into(),
            outcome: format!("commented on {key}"),
            inputs: json!({ "result": result }),
        };
        self.finish(tx, &ctx, record).await?;
        Ok(comment)
    }

    /// Files the ticket under `epic` (or takes it out of its epic with `None`).
    pub async fn set_epic(&self, actor: &Actor, key: &TicketKey, epic: Option<&str>, ctx: &Ctx) -> Result<Ticket> {
        self.allow(actor, Op::SetEpic, key.as_str(), ctx.now).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_none() {
            let ticket = tx.lock_ticket(&self.ws, key).await?;
            tx.set_epic(&self.ws, key, epic, ctx.now).await?;
            let mut ctx = ctx.clone();
            let change = format!("epic:{}:{}", epic.unwrap_or("-"), ctx.now.timestamp_micros());
            let op = WriteOp::SetEpic { epic: epic.map(str::to_string) };
            ctx.jobs.extend(write_job(&ticket, op, &change, ctx.now));
            let record = Record {
                actor,
                subject: key.as_str(),
                action: format!("epic:{}", epic.unwrap_or("none")),
                outcome: format!("filed {key} under {}", epic.unwrap_or("no epic")),
                inputs: json!({ "from": ticket.epic, "to": epic }),
            };
            self.finish(tx, &ctx, record).await?;
        } else {
            drop(tx);
        }
        Ok(self.store.ticket(&self.ws, key).await?)
    }

    /// Leaves the ticket without an epic for good: `marker` (the epics agent's) is recorded
    /// with the decision, so the ticket is not suggested again.
    pub async fn skip_epic(&self, actor: &Actor, key: &TicketKey, marker: &str, ctx: &Ctx) -> Result<Ticket> {
        self.allow(actor, Op::SetEpic, key.as_str(), ctx.now).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_none() {
            tx.lock_ticket(&self.ws, key).await?;
            tx.record_send(&self.ws, "epics", marker, &actor.name(), "skipped", ctx.now).await?;
            let record = Record {
                actor,
                subject: key.as_str(),
                action: "skip".into(),
                outcome: "left without an epic; not suggested again".into(),
                inputs: json!({ "marker": marker }),
            };
            self.finish(tx, ctx, record).await?;
        } else {
            drop(tx);
        }
        Ok(self.store.ticket(&self.ws, key).await?)
    }

    /// Takes back what pmbot did for decision `done` (its `result`): removes the comment,
    /// cancels the created ticket, or moves the ticket back unless someone moved it since.
    /// The undo, its log row (under `ctx.once`) and `done`'s new outcome commit together.
    /// `Ok(None)` when it was undone already.
    pub async fn undo(
        &self,
        actor: &Actor,
        author: bool,
        done: &Decision,
        outcome: &str,
        inputs: &Value,
        ctx: &Ctx,
    ) -> Result<Option<String>> {
        self.allow(actor, Op::Undo { author }, &done.subject, ctx.now).await?;
        let (mut tx, earlier) = self.begin(ctx).await?;
        if earlier.is_some() {
            return Ok(None);
        }
        let result = &done.inputs["result"];
        let what = self.revert(&mut tx, actor, result, ctx).await?;
        tx.update_decision(&self.ws, done.id, outcome, &done.subject, inputs).await?;
        let record = Record {
            actor,
            subject: &done.subject,
            action: format!("undo:{}", done.action),
            outcome: "undone".into(),
            inputs: json!({ "decision": done.id, "result": result, "did": what }),
        };
        self.finish(tx, ctx, record).await?;
        Ok(Some(what))
    }

    async fn revert(&self, tx: &mut StoreTx, actor: &Actor, result: &Value, ctx: &Ctx) -> Result<String> {
        let key: TicketKey = result["ticket"].as_str().unwrap_or_default().parse().map_err(StoreError::from)?;
        if let Some(id) = result["comment"].as_i64() {
            tx.delete_comment(&self.ws, id).await?;
            return Ok(format!("removed the comment from *{key}*"));
        }
        if result["created"].as_bool() == Some(true) {
            // Cancelled rather than deleted: keys are never reused and the history stays.
            return match tx.move_ticket(&self.ws, &key, Status::Cancelled, &actor.name(), Some("undone"), ctx.now).await
            {
                Ok(_) | Err(StoreError::AlreadyInStatus { .. }) => Ok(format!("cancelled *{key}*")),
                Err(err) => Err(err.into()),
            };
        }
        let (Some(from), Some(to)) = (result["from"].as_str(), result["to"].as_str()) else {
            return Err(StoreError::Corrupt(format!("nothing recorded to undo on {key}")).into());
        };
        let (from, to): (Status, Status) =
            (from.parse().map_err(StoreError::from)?, to.parse().map_err(StoreError::from)?);
        let now_at = tx.lock_ticket(&self.ws, &key).await?.status;
        if now_at != to {
            // Someone moved it since; moving it back would undo their change, not the bot's.
            return Ok(format!("left *{key}* where it is ({}), since it was moved again after", now_at.label()));
        }
        tx.move_ticket(&self.ws, &key, from, &actor.name(), Some("undone"), ctx.now).await?;
        Ok(format!("moved *{key}* back to {}", from.label()))
    }
}

/// The transition a move made the first time, from its decision.
fn replayed_move(key: &TicketKey, done: &Decision) -> Transition {
    let status = |field: &str| done.inputs[field].as_str().and_then(|s| s.parse::<Status>().ok());
    Transition {
        ticket: key.clone(),
        from: status("from"),
        to: status("to").unwrap_or(Status::Backlog),
        actor: done.actor.clone(),
        reason: done.inputs["reason"].as_str().map(str::to_string),
        at: done.created_at,
    }
}

/// One step of a ticket's imported history.
#[derive(Debug, Clone)]
pub struct PastMove<'a> {
    pub to: Status,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl BoardService {
    /// Records history that happened elsewhere (the sample team, later a tracker's sync): the
    /// ticket and its moves as they were, in one transaction. No one decided anything here,
    /// so nothing is checked or logged as a decision.
    pub async fn import_ticket(
        &self,
        new: &NewTicket,
        created_by: &str,
        created_at: chrono::DateTime<chrono::Utc>,
        moves: &[PastMove<'_>],
    ) -> Result<TicketKey> {
        let mut tx = self.store.begin().await?;
        let key = tx.create_ticket(&self.ws, new, created_by, created_at).await?;
        for step in moves {
            tx.move_ticket(&self.ws, &key, step.to, step.actor, step.reason, step.at).await?;
        }
        tx.commit().await?;
        Ok(key)
    }

    /// A comment made elsewhere, as it was.
    pub async fn import_comment(
        &self,
        key: &TicketKey,
        author: &str,
        body: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Comment> {
        let mut tx = self.store.begin().await?;
        let comment = tx.add_comment(&self.ws, key, author, body, at).await?;
        tx.commit().await?;
        Ok(comment)
    }
}
