//! Writing pmbot's changes back to the tracker: each change to a mirrored ticket made through
//! the board service enqueues a `tracker.write` job in the change's own transaction. Each has
//! an idempotency key: the queue runs it once per key, and a comment carries an id made
//! from the key, so a retry after a lost answer finds its comment instead of adding another.
//! When the issue changed on the tracker since pmbot read it, the tracker wins: the board
//! takes the tracker's copy and the change is told, not forced.

use super::sync::{Mirror, SyncReport};
use super::{Source, TrackerError, JIRA, LINEAR};
use crate::board::{Status, Ticket};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{ItemKind, NewDecision, NewJob};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOp {
    /// A comment added on the board (`comment_id` is its id there).
    Comment { body: String, comment_id: i64 },
    /// A move from `from` to `to`.
    Move { from: Status, to: Status },
    /// An assignment (a handle, or nobody).
    Assign { to: Option<String> },
    /// Filed under an epic (by its name), or under none.
    SetEpic { epic: Option<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteJob {
    pub project: String,
    pub key: String,
    /// The tracker's id of the issue.
    pub issue_id: String,
    #[serde(flatten)]
    pub op: WriteOp,
    /// What this write is of (one change on the board): once per key.
    pub idempotency_key: String,
}

/// The write-back job for a change to `ticket`, when it mirrors a tracker issue.
pub fn write_job(ticket: &Ticket, op: WriteOp, change: &str, now: DateTime<Utc>) -> Option<NewJob> {
    if !matches!(ticket.source.tracker.as_deref(), Some(LINEAR | JIRA)) {
        return None;
    }
    let job = WriteJob {
        project: ticket.project.clone(),
        key: ticket.key.to_string(),
        issue_id: ticket.source.external_id.clone()?,
        op,
        idempotency_key: format!("{}:{change}", ticket.key),
    };
    Some(job.to_new_job(now))
}

impl JobSpec for WriteJob {
    const KIND: &'static str = "tracker.write";
    const MAX_ATTEMPTS: u32 = 12;
    const TIMEOUT: Duration = Duration::from_secs(120);

    fn unique_key(&self) -> Option<String> {
        Some(format!("tracker.write:{}", self.idempotency_key))
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for WriteJob {
    async fn run(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env).await)
    }
}

/// A UUID (version 4 layout) made from `key`: the same key always gives the same id.
pub fn uuid_from(key: &str) -> String {
    use sha2::Digest;
    let mut b: [u8; 16] = sha2::Sha256::digest(key.as_bytes())[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn failed(err: TrackerError) -> StepError {
    StepError::Failed(err.to_string())
}

impl WriteJob {
    async fn step<C: crate::chat::Chat>(&self, env: &JobEnv<C>) -> Result<Outcome, StepError> {
        let Some(project) = env.config.projects.iter().find(|p| p.key == self.project) else {
            return Err(StepError::Gone(format!("no project {} in pmbot.toml", self.project)));
        };
        let Some(mirror) = Mirror::new(&env.config, project) else {
            return Err(StepError::Gone(format!("{} is not on a tracker any more", self.project)));
        };
        if !project.tracker.as_ref().is_some_and(|t| t.write_back) {
            return Ok(Outcome::Done);
        }
        let kind = project.tracker.as_ref().map_or(crate::config::TrackerKind::Builtin, |t| t.kind);
        let source = match Source::of(kind, env.linear.as_ref(), env.jira.as_ref()) {
            Ok(source) => source,
            Err(why) => {
                let why = format!("{why}: pmbot's change stays on its board only");
                self.log(env, &mirror, "skipped", &why).await?;
                return Err(StepError::Gone(why));
            }
        };
        let (ws, label) = (env.workspace(), mirror.label);
        match &self.op {
            WriteOp::Comment { body, comment_id } => {
                let local = comment_id.to_string();
                match &source {
                    Source::Linear(linear) => {
                        let id = uuid_from(&self.idempotency_key);
                        // Recorded first: the comment coming back in a sync or a webhook is known as ours.
                        self.link_comment(env, &mirror, &id, &local).await?;
                        linear.create_comment(&id, &self.issue_id, body).await.map_err(failed)?;
                    }
                    Source::Jira(jira) => {
                        // Jira gives the id; the comment carries the idempotency key as a property.
                        let id = jira.create_comment(&self.key, body, &self.idempotency_key).await.map_err(failed)?;
                        self.link_comment(env, &mirror, &id, &local).await?;
                    }
                }
                self.log(env, &mirror, "commented", &format!("commented on {} on {label}", self.key)).await?;
            }
            WriteOp::Move { to, .. } => {
                // Only the board's latest status is written: a later move supersedes this one
                // (and its own job writes it), whichever job runs first.
                let key: crate::board::TicketKey =
                    self.key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
                if env.store.ticket(&ws, &key).await?.status != *to {
                    return Ok(Outcome::Done);
                }
                let seen = env.store.mirror_item(&ws, mirror.tracker, ItemKind::Issue, &self.issue_id).await?;
                let Some(remote) = source.issue(&self.issue_id).await.map_err(failed)? else {
                    let said = format!("{} is no longer on {label}; the move stays on pmbot's board", self.key);
                    self.log(env, &mirror, "gone", &said).await?;
                    return Ok(Outcome::Done);
                };
                if mirror.map.status(&remote.state) == Some(*to) {
                    return Ok(Outcome::Done);
                }
                let moved_there = seen.is_some_and(|item| {
                    remote.updated_at > item.remote_updated_at
                        && item.remote_status.as_deref() != Some(remote.state.name.as_str())
                });
                if moved_there {
                    // Moved on the tracker since pmbot last read it: that move stands.
                    self.apply(env, &mirror, &remote).await?;
                    let said = format!(
                        "{} was moved to {} on {label} meanwhile, so pmbot's move to {} was not made there; the board follows {label}",
                        self.key, remote.state.name, to.label()
                    );
                    self.log(env, &mirror, "conflict", &said).await?;
                    self.tell(env, project, &said).await;
                    return Ok(Outcome::Done);
                }
                let made = match &source {
                    Source::Linear(linear) => {
                        let states = linear.workflow_states(mirror.team()).await.map_err(failed)?;
                        match mirror.map.target(*to, &states) {
                            Some(target) => {
                                let input = json!({ "stateId": target.id });
                                linear.update_issue(&self.issue_id, input).await.map_err(failed)?;
                                Some(target.name.clone())
                            }
                            None => None,
                        }
                    }
                    Source::Jira(jira) => {
                        // Through the workflow: a transition that leads to a status for `to`.
                        let transitions = jira.transitions(&self.key).await.map_err(failed)?;
                        let states: Vec<_> = transitions.iter().map(|t| t.to.clone()).collect();
                        let target = mirror.map.target(*to, &states);
                        match target.and_then(|s| transitions.iter().find(|t| t.to.name == s.name)) {
                            Some(transition) => match jira.transition(&self.key, &transition.id).await {
                                Ok(()) => Some(transition.to.name.clone()),
                                // Jira says no (a condition, a validator): told, not retried.
                                Err(TrackerError::Refused { message, .. }) => {
                                    tracing::info!(key = %self.key, %message, "Jira refused the transition");
                                    None
                                }
                                Err(err) => return Err(failed(err)),
                            },
                            None => None,
                        }
                    }
                };
                let Some(name) = made else {
                    let said = format!(
                        "{label} offers no way to move {} from {} to a status for {}, so it stays {} on {label} (map one in [projects.tracker.statuses], or add the transition)",
                        self.key, remote.state.name, to.label(), remote.state.name
                    );
                    return self.not_made(env, &mirror, project, &said).await;
                };
                self.refresh(env, &mirror, &source).await?;
                self.log(env, &mirror, "moved", &format!("moved {} to {name} on {label}", self.key)).await?;
                if matches!(source, Source::Linear(_)) && matches!(to, Status::Done | Status::Cancelled) {
                    self.close_children(env, &key, *to).await?;
                }
            }
            WriteOp::Assign { to } => {
                let person = to.as_ref().map(|handle| {
                    (handle, env.config.people.iter().find(|p| &p.handle == handle).and_then(|p| p.tracker_id.clone()))
                });
                let account = match person {
                    None => None,
                    Some((_, Some(id))) => Some(id),
                    Some((handle, None)) => {
                        let said = format!(
                            "{handle} has no tracker_id in pmbot.toml, so {} is not assigned on {label}",
                            self.key
                        );
                        return self.not_made(env, &mirror, project, &said).await;
                    }
                };
                match &source {
                    Source::Linear(linear) => {
                        linear.update_issue(&self.issue_id, json!({ "assigneeId": account })).await.map_err(failed)?;
                    }
                    Source::Jira(jira) => jira.assign(&self.key, account.as_deref()).await.map_err(failed)?,
                }
                self.refresh(env, &mirror, &source).await?;
                self.log(env, &mirror, "assigned", &format!("assigned {} on {label}", self.key)).await?;
            }
            WriteOp::SetEpic { epic } => {
                // The epic is Linear's project, or Jira's epic issue, found by its name.
                let found = match (&source, epic) {
                    (_, None) => Ok(None),
                    (Source::Linear(linear), Some(name)) => {
                        linear.project_id(name).await.map_err(failed)?.map(Some).ok_or(name)
                    }
                    (Source::Jira(jira), Some(name)) => {
                        jira.epic_key(mirror.team(), name).await.map_err(failed)?.map(Some).ok_or(name)
                    }
                };
                let target = match found {
                    Ok(target) => target,
                    Err(name) => {
                        let said = format!(
                            "{label} has no epic named \"{name}\" for {}, so it is filed there on pmbot's board only",
                            self.key
                        );
                        return self.not_made(env, &mirror, project, &said).await;
                    }
                };
                match &source {
                    Source::Linear(linear) => {
                        linear.update_issue(&self.issue_id, json!({ "projectId": target })).await.map_err(failed)?;
                    }
                    Source::Jira(jira) => jira.set_parent(&self.key, target.as_deref()).await.map_err(failed)?,
                }
                self.refresh(env, &mirror, &source).await?;
                let filed = epic.as_deref().unwrap_or("no epic");
                self.log(env, &mirror, "epic", &format!("filed {} under {filed} on {label}", self.key)).await?;
            }
        }
        Ok(Outcome::Done)
    }

    /// Linear's recursive close: a parent closed closes its open sub-issues, each moved through
    /// the board service (its own decision and its own write to Linear, once).
    async fn close_children<C>(
        &self,
        env: &JobEnv<C>,
        parent: &crate::board::TicketKey,
        to: Status,
    ) -> Result<(), StepError> {
        let ws = env.workspace();
        let filter = crate::store::TicketFilter { project: Some(self.project.clone()), ..Default::default() };
        let open = env
            .store
            .tickets(&ws, &filter)
            .await?
            .into_iter()
            .filter(|t| t.parent.as_ref() == Some(parent) && !matches!(t.status, Status::Done | Status::Cancelled));
        let board = crate::service::BoardService::new(env.store.clone(), ws);
        for child in open {
            let mut ctx = crate::service::Ctx::new(Utc::now());
            ctx.once = Some(format!("tracker.close-children:{}:{}", self.idempotency_key, child.key));
            ctx.rationale = Some(format!("Linear closes a parent's open sub-issues: {parent} was closed"));
            let why = format!("its parent {parent} was closed");
            let moved =
                board.move_to(&crate::service::Actor::System("pmbot".into()), &child.key, to, Some(&why), &ctx).await;
            match moved {
                Ok(_) | Err(crate::service::ServiceError::Store(crate::store::StoreError::AlreadyInStatus { .. })) => {}
                Err(err) => return Err(StepError::Failed(err.to_string())),
            }
        }
        Ok(())
    }

    /// A write the tracker cannot take (no such status, epic or person there): logged and said
    /// in the project's channel, not retried.
    async fn not_made<C: crate::chat::Chat>(
        &self,
        env: &JobEnv<C>,
        mirror: &Mirror<'_>,
        project: &crate::config::ProjectConfig,
        said: &str,
    ) -> Result<Outcome, StepError> {
        self.log(env, mirror, "impossible", said).await?;
        self.tell(env, project, said).await;
        Ok(Outcome::Done)
    }

    /// The issue read back after a write, onto the board: the echo of the change is then known.
    async fn refresh<C>(&self, env: &JobEnv<C>, mirror: &Mirror<'_>, source: &Source) -> Result<(), StepError> {
        if let Some(now) = source.issue(&self.issue_id).await.map_err(failed)? {
            self.apply(env, mirror, &now).await?;
        }
        Ok(())
    }

    /// The tracker's copy onto the board (it is newer than what pmbot had).
    async fn apply<C>(
        &self,
        env: &JobEnv<C>,
        mirror: &Mirror<'_>,
        issue: &super::RemoteIssue,
    ) -> Result<(), StepError> {
        let mut tx = env.store.begin().await?;
        mirror.apply(&mut tx, issue, &mut SyncReport::default()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that the tracker's comment `id` is the board's comment `local`.
    async fn link_comment<C>(
        &self,
        env: &JobEnv<C>,
        mirror: &Mirror<'_>,
        id: &str,
        local: &str,
    ) -> Result<(), StepError> {
        let mut tx = env.store.begin().await?;
        let (ws, now) = (env.workspace(), Utc::now());
        tx.put_mirror_item(&ws, mirror.tracker, ItemKind::Comment, id, &self.project, local, now, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn log<C>(&self, env: &JobEnv<C>, mirror: &Mirror<'_>, action: &str, outcome: &str) -> Result<(), StepError> {
        let decision = NewDecision {
            kind: "tracker.write".into(),
            subject: self.key.clone(),
            inputs: json!({ "tracker": mirror.tracker, "write": self.op, "idempotency_key": self.idempotency_key }),
            rationale: format!("pmbot's change to a ticket mirrored from {0} is written back to {0}", mirror.label),
            confidence: 1.0,
            action: action.into(),
            actor: "pmbot".into(),
            outcome: outcome.into(),
            source: Some(format!("tracker.write:{}:{action}", self.idempotency_key)),
        };
        // An earlier attempt's row (same source) is kept rather than written twice.
        let _first_or_earlier = env.store.log_decision_once(&env.workspace(), &decision, Utc::now()).await?;
        Ok(())
    }

    async fn tell<C: crate::chat::Chat>(&self, env: &JobEnv<C>, project: &crate::config::ProjectConfig, text: &str) {
        let Some(channel) = &project.channel else { return };
        if let Err(err) = env.chat.post(channel, None, &crate::chat::Message::text(text)).await {
            tracing::warn!(error = %err, "a write-back could not be told");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_same_key_gives_the_same_uuid_shaped_id() {
        let a = super::uuid_from("ENG-1:comment:7");
        assert_eq!(a, super::uuid_from("ENG-1:comment:7"));
        assert_ne!(a, super::uuid_from("ENG-1:comment:8"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
