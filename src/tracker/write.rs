//! Writing pmbot's changes back to the tracker: each change to a mirrored ticket made through
//! the board service enqueues a `tracker.write` job in the change's own transaction. Each has
//! an idempotency key: the queue runs it once per key, and a comment carries an id made
//! from the key, so a retry after a lost answer finds its comment instead of adding another.
//! When the issue changed on the tracker since pmbot read it, the tracker wins: the board
//! takes the tracker's copy and the change is told, not forced.

use super::sync::{Mirror, SyncReport};
use super::{TrackerError, LINEAR};
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
    if ticket.source.tracker.as_deref() != Some(LINEAR) {
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
            return Err(StepError::Gone(format!("{} is not on a Linear tracker any more", self.project)));
        };
        if !project.tracker.as_ref().is_some_and(|t| t.write_back) {
            return Ok(Outcome::Done);
        }
        let Some(linear) = env.linear.as_deref() else {
            let why = "LINEAR_API_KEY is not set: pmbot's change stays on its board only";
            self.log(env, "skipped", why).await?;
            return Err(StepError::Gone(why.into()));
        };
        let ws = env.workspace();
        match &self.op {
            WriteOp::Comment { body, comment_id } => {
                let id = uuid_from(&self.idempotency_key);
                // Recorded first: the comment coming back in a sync or a webhook is known as ours.
                let mut tx = env.store.begin().await?;
                tx.put_mirror_item(
                    &ws,
                    LINEAR,
                    ItemKind::Comment,
                    &id,
                    &self.project,
                    &comment_id.to_string(),
                    Utc::now(),
                    None,
                )
                .await?;
                tx.commit().await?;
                linear.create_comment(&id, &self.issue_id, body).await.map_err(failed)?;
                self.log(env, "commented", &format!("commented on {} on Linear", self.key)).await?;
            }
            WriteOp::Move { to, .. } => {
                // Only the board's latest status is written: a later move supersedes this one
                // (and its own job writes it), whichever job runs first.
                let key: crate::board::TicketKey =
                    self.key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
                if env.store.ticket(&ws, &key).await?.status != *to {
                    return Ok(Outcome::Done);
                }
                let seen = env.store.mirror_item(&ws, LINEAR, ItemKind::Issue, &self.issue_id).await?;
                let Some(remote) = linear.issue(&self.issue_id).await.map_err(failed)? else {
                    self.log(
                        env,
                        "gone",
                        &format!("{} is no longer on Linear; the move stays on pmbot's board", self.key),
                    )
                    .await?;
                    return Ok(Outcome::Done);
                };
                let remote_status = mirror.map.status(&remote.state);
                if remote_status == Some(*to) {
                    return Ok(Outcome::Done);
                }
                let moved_on_linear = seen.is_some_and(|item| {
                    remote.updated_at > item.remote_updated_at
                        && item.remote_status.as_deref() != Some(remote.state.name.as_str())
                });
                if moved_on_linear {
                    // Moved on Linear since pmbot last read it: Linear's move stands.
                    let mut tx = env.store.begin().await?;
                    mirror.apply(&mut tx, &remote, &mut SyncReport::default()).await?;
                    tx.commit().await?;
                    let said = format!(
                        "{} was moved to {} on Linear meanwhile, so pmbot's move to {} was not made there; the board follows Linear",
                        self.key, remote.state.name, to.label()
                    );
                    self.log(env, "conflict", &said).await?;
                    self.tell(env, project, &said).await;
                    return Ok(Outcome::Done);
                }
                let states = linear.workflow_states(mirror.team()).await.map_err(failed)?;
                let Some(target) = mirror.map.target(*to, &states) else {
                    let said = format!(
                        "Linear's {} team has no status for {}, so {} stays {} on Linear (map one in [projects.tracker.statuses])",
                        mirror.team(), to.label(), self.key, remote.state.name
                    );
                    self.log(env, "impossible", &said).await?;
                    self.tell(env, project, &said).await;
                    return Ok(Outcome::Done);
                };
                let updated =
                    linear.update_issue(&self.issue_id, json!({ "stateId": target.id })).await.map_err(failed)?;
                let mut tx = env.store.begin().await?;
                mirror.apply(&mut tx, &updated, &mut SyncReport::default()).await?;
                tx.commit().await?;
                self.log(env, "moved", &format!("moved {} to {} on Linear", self.key, target.name)).await?;
            }
            WriteOp::Assign { to } => {
                let tracker_id = match to {
                    None => None,
                    Some(handle) => {
                        match env.config.people.iter().find(|p| &p.handle == handle).and_then(|p| p.tracker_id.clone())
                        {
                            Some(id) => Some(id),
                            None => {
                                let said = format!(
                                    "{handle} has no tracker_id in pmbot.toml, so {} is not assigned on Linear",
                                    self.key
                                );
                                self.log(env, "impossible", &said).await?;
                                self.tell(env, project, &said).await;
                                return Ok(Outcome::Done);
                            }
                        }
                    }
                };
                let updated =
                    linear.update_issue(&self.issue_id, json!({ "assigneeId": tracker_id })).await.map_err(failed)?;
                let mut tx = env.store.begin().await?;
                mirror.apply(&mut tx, &updated, &mut SyncReport::default()).await?;
                tx.commit().await?;
                self.log(env, "assigned", &format!("assigned {} on Linear", self.key)).await?;
            }
        }
        Ok(Outcome::Done)
    }

    async fn log<C>(&self, env: &JobEnv<C>, action: &str, outcome: &str) -> Result<(), StepError> {
        let decision = NewDecision {
            kind: "tracker.write".into(),
            subject: self.key.clone(),
            inputs: json!({ "tracker": LINEAR, "write": self.op, "idempotency_key": self.idempotency_key }),
            rationale: "pmbot's change to a ticket mirrored from Linear is written back to Linear".into(),
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
