//! `alerts.ingest`: one notification's alerts, in order, each once (a retry finds what it
//! did by the decision log's keys).

use super::{decide, parse, route, Alert, Known, Step};
use crate::board::{NewTicket, Priority, Status, TicketKey};
use crate::chat::{Chat, Message};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{AlertLink, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

const WHO: &str = "alertmanager";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertsJob {
    /// The notification as received.
    pub notification: Value,
    /// A fingerprint of the body: Alertmanager's retries of one notification are one job.
    pub digest: String,
}

impl JobSpec for AlertsJob {
    const KIND: &'static str = "alerts.ingest";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(600);

    fn unique_key(&self) -> Option<String> {
        Some(format!("alerts:{}", self.digest))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for AlertsJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl AlertsJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let notification = parse(&self.notification).map_err(StepError::Gone)?;
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let fallback = env
            .config
            .intake
            .alerts_project
            .clone()
            .or_else(|| env.config.team.default_project.clone())
            .or_else(|| env.config.projects.first().map(|p| p.key.clone()));
        for alert in &notification.alerts {
            let Some(project) = route(alert, &env.config.intake.routes, fallback.as_deref()) else {
                tracing::warn!(alert = %alert.title(), "an alert with no project to go to");
                continue;
            };
            self.one(env, ctx, &board, alert, project, &notification.external_url).await?;
        }
        Ok(Outcome::Done)
    }

    async fn one<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        board: &BoardService,
        alert: &Alert,
        project: &str,
        external_url: &str,
    ) -> Result<(), StepError> {
        let ws = &ctx.workspace;
        let fingerprint = alert.key();
        let known = match env.store.alert_link(ws, &fingerprint).await? {
            Some(link) => Some(self.known(env, ctx, &link).await?),
            None => None,
        };
        let system = Actor::System(WHO.into());
        // Each effect once per alert occurrence (a retried job finds it done).
        let once = |what: &str| {
            Ctx::new(ctx.now)
                .once(format!("alert:{fingerprint}:{}:{what}", alert.starts_at))
                .kind(format!("alert.{what}"))
        };
        match decide(alert, known.as_ref(), env.config.intake.close_resolved) {
            Step::Nothing => {}
            Step::Open => {
                let mut new = NewTicket::new(project, &alert.title()).map_err(|e| StepError::Gone(e.to_string()))?;
                new.status = Status::Todo;
                new.priority = alert.priority();
                new.description = alert.description(external_url);
                new.labels = vec!["alert".into()];
                let why = format!("Alertmanager reported {} firing", alert.title());
                let ticket = board.create(&system, &new, &once("open").because(why)).await?;
                let link = AlertLink {
                    fingerprint: fingerprint.clone(),
                    ticket_key: ticket.key.to_string(),
                    firing: true,
                    opened_by_pmbot: true,
                };
                env.store.set_alert_link(ws, &link, ctx.now).await?;
                if alert.priority() == Priority::Critical {
                    self.tell(
                        env,
                        project,
                        &format!(
                            "🚨 *{}* {} — critical alert, firing since {}",
                            ticket.key, ticket.title, alert.starts_at
                        ),
                    )
                    .await;
                }
            }
            step @ (Step::Refired | Step::Resolved { .. }) => {
                // `decide` says these only of an alert pmbot knows.
                let Some(k) = known.as_ref() else { return Ok(()) };
                let (said, what, firing, change) = match step {
                    Step::Refired => (
                        format!("🔥 The alert fired again at {}.", alert.starts_at),
                        "refired",
                        true,
                        (!k.open).then_some((Status::Todo, "the alert fired again", "reopened")),
                    ),
                    _ => (
                        "✅ The alert resolved.".to_string(),
                        "resolved",
                        false,
                        matches!(step, Step::Resolved { close: true }).then_some((
                            Status::Done,
                            "the alert resolved",
                            "closed",
                        )),
                    ),
                };
                board.comment(&system, &k.ticket, &said, &once(what)).await?;
                if let Some((to, why, key)) = change {
                    match board.move_to(&system, &k.ticket, to, Some(why), &once(key)).await {
                        Ok(_) | Err(ServiceError::Store(StoreError::AlreadyInStatus { .. })) => {}
                        Err(err) => return Err(err.into()),
                    }
                }
                let link = AlertLink {
                    fingerprint,
                    ticket_key: k.ticket.to_string(),
                    firing,
                    opened_by_pmbot: k.opened_by_pmbot,
                };
                env.store.set_alert_link(ws, &link, ctx.now).await?;
            }
        }
        Ok(())
    }

    /// The ticket's state as the decision needs it: open, and touched by anyone but pmbot.
    async fn known<C>(&self, env: &JobEnv<C>, ctx: &JobContext, link: &AlertLink) -> Result<Known, StepError> {
        let key: TicketKey =
            link.ticket_key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
        let ticket = env.store.ticket(&ctx.workspace, &key).await?;
        let history = env.store.history(&ctx.workspace, &key).await?;
        let comments = env.store.comments(&ctx.workspace, &key).await?;
        let ours = |who: &str| who == WHO || who == "pmbot";
        let untouched = history.iter().all(|t| ours(&t.actor))
            && comments.iter().all(|c| ours(&c.author))
            && ticket.assignee.is_none();
        Ok(Known {
            ticket: key,
            firing: link.firing,
            open: !matches!(ticket.status, Status::Done | Status::Cancelled),
            opened_by_pmbot: link.opened_by_pmbot,
            untouched,
        })
    }

    /// Says `text` in the project's channel (or the standup channel).
    async fn tell<C: Chat>(&self, env: &JobEnv<C>, project: &str, text: &str) {
        let channel = env
            .config
            .projects
            .iter()
            .find(|p| p.key == project)
            .and_then(|p| p.channel.clone())
            .unwrap_or_else(|| env.config.standup.channel.clone());
        if let Err(err) = env.chat.post(&channel, None, &Message::text(text)).await {
            tracing::warn!(error = %err, "the critical alert was not told");
        }
    }
}
