//! Triage: a ticket created from chat waits in the backlog while a PM or lead decides. The
//! job asks (an approval with buttons), parks, and when resumed with the decision it moves
//! the ticket, records the comment, or says nobody decided in time.

mod decide;

pub use decide::{decide, Resume, Step};

use crate::board::{Status, TicketKey};
use crate::chat::{Chat, Message};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{Approvers, NewApproval, StoreError};
use crate::workflows::views::Names;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub const DECIDE_ACTION: &str = "approval.decide";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriageJob {
    pub key: String,
    /// Where the request was made; the triage card goes there.
    pub channel: String,
    pub reporter: String,
}

impl JobSpec for TriageJob {
    const KIND: &'static str = "ticket.triage";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(30);

    fn unique_key(&self) -> Option<String> {
        Some(format!("triage:{}", self.key))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for TriageJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl TriageJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let key: TicketKey = self.key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
        let ticket = env.store.ticket(&ctx.workspace, &key).await?;
        let resume: Option<Resume> = match &ctx.resume {
            Some(value) => Some(
                serde_json::from_value(value.clone())
                    .map_err(|e| StepError::Gone(format!("unreadable decision: {e}")))?,
            ),
            None => None,
        };
        let names = Names::new(&env.config.people());
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let (text, context) = match decide(resume.as_ref(), ticket.status) {
            Step::Ask => {
                let project =
                    env.config.projects.iter().find(|p| p.key == ticket.project).map_or(&ticket.project, |p| &p.name);
                return self.ask(env, &board, ctx, &ticket.title, project, &names).await;
            }
            Step::AlreadyTriaged(_) => return Ok(Outcome::Done),
            Step::Move { to, by } => {
                // Idempotent: a retry finds the ticket already moved and only announces.
                let change = self.change(ctx, &by);
                match board.move_to(&decider(env, &by), &key, to, Some("triage"), &change).await {
                    Ok(_) | Err(ServiceError::Store(StoreError::AlreadyInStatus { .. })) => {}
                    Err(err) => return Err(err.into()),
                }
                let verb = if to == Status::Cancelled {
                    "declined".to_string()
                } else {
                    format!("accepted into {}", to.label())
                };
                (format!("*{key}* {} was {verb} by {}", ticket.title, names.full(&by)), "Triage is done.".to_string())
            }
            Step::Changes { by, comment } => {
                let comments = env.store.comments(&ctx.workspace, &key).await?;
                if !comments.iter().any(|c| c.author == by && c.body == comment) {
                    board.comment(&decider(env, &by), &key, &comment, &self.change(ctx, &by)).await?;
                }
                (
                    format!("{} asked for changes to *{key}* {}", names.full(&by), ticket.title),
                    format!("“{comment}” — it stays in the backlog."),
                )
            }
            Step::Expired => (
                format!("Nobody triaged *{key}* {} in time", ticket.title),
                "It stays in the backlog; a PM or lead can still move it.".to_string(),
            ),
        };
        let message: Message = env.templates.render("ticket_changed", &json!({ "text": text, "context": context }))?;
        env.chat.post(&self.channel, None, &message).await?;
        Ok(Outcome::Done)
    }

    /// Opens the approval and posts the card with its buttons.
    async fn ask<C: Chat>(
        &self,
        env: &JobEnv<C>,
        board: &BoardService,
        ctx: &JobContext,
        title: &str,
        project: &str,
        names: &Names,
    ) -> Result<Outcome, StepError> {
        let hours = env.config.queue.triage_expiry_hours;
        let expires_at = ctx.now + chrono::Duration::hours(i64::try_from(hours).unwrap_or(72));
        let request = NewApproval {
            subject: self.key.clone(),
            description: format!("Triage {} {title}", self.key),
            approvers: Approvers { role: Some(crate::board::Role::Lead), people: vec![], except: vec![] },
            required: 1,
            expires_at: Some(expires_at),
        };
        // A retry (the card failed to post) finds the request it opened instead of another.
        let approval = board.open_approval(&Actor::System("pmbot".into()), &request, &Ctx::new(ctx.now)).await?;
        env.store.fault("triage.before_card")?;
        let expires = expires_at.with_timezone(&env.config.team.timezone).format("%A %-d %B %H:%M %Z").to_string();
        let context = json!({
            "key": self.key, "title": title, "project": project, "reporter": names.full(&self.reporter),
            "approval": approval.id, "action": DECIDE_ACTION, "expires": expires,
        });
        let message = env.templates.render("triage_request", &context)?;
        env.chat.post(&self.channel, None, &message).await?;
        Ok(Outcome::Await { approval_id: approval.id })
    }

    /// A triage change: logged as the triage decision, once per job and step.
    fn change(&self, ctx: &JobContext, by: &str) -> Ctx {
        Ctx::new(ctx.now)
            .kind("ticket.triage")
            .because(format!("{by} decided the triage request"))
            .via(json!({ "resume": ctx.resume, "job": ctx.id }))
    }
}

/// The person who decided, acting themselves (the approval already checked they may).
fn decider<C>(env: &JobEnv<C>, handle: &str) -> Actor {
    Actor::named(&env.config.people(), handle)
}
