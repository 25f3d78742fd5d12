//! Reading a tracker into the board: one page at a time, each page's tickets, moves and
//! comments committed together with the cursor after it, so a crash resumes from the last
//! committed page and a page read twice changes nothing (every item carries the tracker's
//! clock; an older copy never overwrites a newer one).

use super::linear::Linear;
use super::mapping::{self, StatusMap};
use super::{RemoteIssue, RemoteUser, TrackerError, LINEAR};
use crate::board::{NewTicket, Source, Status, TicketKey, MAX_TITLE_CHARS};
use crate::config::{Config, ProjectConfig, TrackerKind};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{ItemKind, MirroredFields, NewDecision, Store, StoreError, StoreTx, SyncPosition, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// A run's next `since` starts this much before the run did: an issue updated while a page
/// was read, or on a clock slightly behind Linear's, is read again (harmlessly) next time.
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// What a sync did, so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SyncReport {
    pub pages: u64,
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub moves: u64,
    pub comments: u64,
    pub deleted: u64,
    /// Tracker statuses that map to nothing (their tickets stayed where they were).
    pub unmapped: BTreeSet<String>,
    /// Issues of another team (moved away on the tracker), left alone.
    pub elsewhere: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("syncing {project} is paused: {why}")]
    Paused { project: String, why: String },
    #[error("{0}")]
    NotSynced(String),
}

/// What one copy of an issue did to the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    /// The board had this copy, or a newer one.
    Unchanged,
    /// Not this project's issue.
    Elsewhere,
}

/// The board side of one mirrored project: how its statuses and people read.
pub struct Mirror<'a> {
    pub ws: WorkspaceId,
    pub project: &'a ProjectConfig,
    pub map: StatusMap,
    /// Tracker account id → handle, from `pmbot.toml`'s people.
    pub people: HashMap<String, String>,
}

impl<'a> Mirror<'a> {
    pub fn new(config: &'a Config, project: &'a ProjectConfig) -> Option<Mirror<'a>> {
        let tracker = project.tracker.as_ref().filter(|t| t.kind == TrackerKind::Linear)?;
        let people = config.people.iter().filter_map(|p| Some((p.tracker_id.clone()?, p.handle.clone()))).collect();
        Some(Mirror {
            ws: WorkspaceId::new(config.team.workspace.clone()),
            project,
            map: StatusMap::new(tracker),
            people,
        })
    }

    pub fn team(&self) -> &str {
        self.project.tracker.as_ref().and_then(|t| t.team.as_deref()).unwrap_or(&self.project.key)
    }

    fn handle(&self, user: Option<&RemoteUser>) -> Option<String> {
        self.people.get(&user?.id).cloned()
    }

    /// Who did it, as the board writes it: the person's handle, else `linear:<name>`.
    fn actor(&self, user: Option<&RemoteUser>) -> String {
        match (self.handle(user), user) {
            (Some(handle), _) => handle,
            (None, Some(user)) => format!("linear:{}", user.name),
            (None, None) => "linear".into(),
        }
    }

    fn fields(&self, issue: &RemoteIssue) -> MirroredFields {
        MirroredFields {
            title: title(&issue.title),
            description: issue.description.clone(),
            priority: mapping::priority(issue.priority),
            labels: issue.labels.clone(),
            assignee: self.handle(issue.assignee.as_ref()),
            epic: issue.epic.clone(),
            parent: issue.parent.as_deref().and_then(|k| k.parse().ok()),
            estimate: issue.estimate,
            url: issue.url.clone(),
        }
    }

    /// Brings the board up to `issue` inside `tx`: the ticket made (under the tracker's key)
    /// or brought up to date, its moves recorded at the tracker's times, new comments added.
    pub async fn apply(
        &self,
        tx: &mut StoreTx,
        issue: &RemoteIssue,
        report: &mut SyncReport,
    ) -> Result<Applied, StoreError> {
        let ws = &self.ws;
        let key: TicketKey = match issue.key.parse() {
            Ok(key) if TicketKey::project(&key) == self.project.key => key,
            _ => {
                report.elsewhere += 1;
                return Ok(Applied::Elsewhere);
            }
        };
        if issue.gone {
            if self.mark_deleted(tx, &issue.id, issue.updated_at).await?.is_some() {
                report.deleted += 1;
            }
            return Ok(Applied::Updated);
        }
        let known = tx.mirror_item(ws, LINEAR, ItemKind::Issue, &issue.id).await?;
        let applied = match &known {
            Some(item) if item.remote_updated_at >= issue.updated_at => Applied::Unchanged,
            Some(item) => {
                let ticket = tx.lock_ticket(ws, &key).await?;
                let plan = mapping::plan_status(&self.map, issue, Some(ticket.status), Some(item.remote_updated_at));
                tx.update_mirrored_ticket(ws, &key, &self.fields(issue), issue.updated_at).await?;
                for step in &plan.steps {
                    tx.move_ticket(
                        ws,
                        &key,
                        step.to,
                        &self.actor(step.actor.as_ref()),
                        Some(&moved_on(&step.remote)),
                        step.at,
                    )
                    .await?;
                    report.moves += 1;
                }
                report.unmapped.extend(plan.unmapped);
                Applied::Updated
            }
            None => {
                let plan = mapping::plan_status(&self.map, issue, None, None);
                let f = self.fields(issue);
                let new = NewTicket {
                    project: self.project.key.clone(),
                    title: f.title,
                    description: f.description,
                    status: plan.initial.unwrap_or(Status::Backlog),
                    priority: f.priority,
                    labels: f.labels,
                    assignee: f.assignee,
                    reporter: self.handle(issue.creator.as_ref()),
                    epic: f.epic,
                    parent: f.parent,
                    estimate: f.estimate,
                    source: Source { tracker: Some(LINEAR.into()), external_id: Some(issue.id.clone()), url: f.url },
                };
                tx.create_ticket_keyed(ws, &key, &new, &self.actor(issue.creator.as_ref()), issue.created_at).await?;
                for step in &plan.steps {
                    tx.move_ticket(
                        ws,
                        &key,
                        step.to,
                        &self.actor(step.actor.as_ref()),
                        Some(&moved_on(&step.remote)),
                        step.at,
                    )
                    .await?;
                    report.moves += 1;
                }
                report.unmapped.extend(plan.unmapped);
                Applied::Created
            }
        };
        if applied != Applied::Unchanged {
            // The status name is kept as the tracker has it, mapped or not (config check reads it).
            let status = Some(issue.state.name.as_str());
            tx.put_mirror_item(
                ws,
                LINEAR,
                ItemKind::Issue,
                &issue.id,
                &self.project.key,
                key.as_str(),
                issue.updated_at,
                status,
            )
            .await?;
        }
        for comment in &issue.comments {
            if tx.mirror_item(ws, LINEAR, ItemKind::Comment, &comment.id).await?.is_some() {
                continue;
            }
            let author = self.actor(comment.author.as_ref());
            let added = tx.add_comment(ws, &key, &author, &comment.body, comment.at).await?;
            let local = added.id.to_string();
            tx.put_mirror_item(ws, LINEAR, ItemKind::Comment, &comment.id, &self.project.key, &local, comment.at, None)
                .await?;
            report.comments += 1;
        }
        match applied {
            Applied::Created => report.created += 1,
            Applied::Updated => report.updated += 1,
            _ => report.unchanged += 1,
        }
        Ok(applied)
    }

    /// An issue deleted on the tracker: marked, moved to cancelled with the reason, kept.
    pub async fn mark_deleted(
        &self,
        tx: &mut StoreTx,
        issue_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<TicketKey>, StoreError> {
        let Some(item) = tx.mirror_item(&self.ws, LINEAR, ItemKind::Issue, issue_id).await? else {
            return Ok(None);
        };
        if !tx.mark_mirror_deleted(&self.ws, LINEAR, ItemKind::Issue, issue_id, at).await? {
            return Ok(None);
        }
        let key: TicketKey = item.local_ref.parse().map_err(StoreError::from)?;
        let ticket = tx.lock_ticket(&self.ws, &key).await?;
        if !matches!(ticket.status, Status::Done | Status::Cancelled) {
            tx.move_ticket(&self.ws, &key, Status::Cancelled, "linear", Some("deleted on Linear"), at).await?;
        }
        let note = "Deleted on Linear. Kept here, with its history, as cancelled.";
        tx.add_comment(&self.ws, &key, "pmbot", note, at).await?;
        Ok(Some(key))
    }
}

fn moved_on(remote: &str) -> String {
    format!("on Linear: {remote}")
}

fn title(title: &str) -> String {
    let trimmed = title.trim();
    let title: String = trimmed.chars().take(MAX_TITLE_CHARS).collect();
    if title.is_empty() {
        "(untitled on Linear)".into()
    } else {
        title
    }
}

/// Reads `mirror`'s project from Linear into the board, from where the last run stopped
/// (`full`: from the start), calling `progress` after each committed page.
pub async fn run(
    store: &Store,
    linear: &Linear,
    mirror: &Mirror<'_>,
    full: bool,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    let (ws, project) = (&mirror.ws, mirror.project.key.as_str());
    let mut position = store
        .sync_position(ws, project)
        .await?
        .unwrap_or(SyncPosition { tracker: LINEAR.into(), ..Default::default() });
    if let Some(why) = &position.paused {
        // A new key is a new chance; the same key refused before is not tried again.
        if position.paused_key.as_deref() == Some(linear.key_fingerprint().as_str()) && !full {
            return Err(SyncError::Paused { project: project.into(), why: why.clone() });
        }
        position.paused = None;
        position.paused_key = None;
    }
    if full || position.run_started.is_none() {
        position.run_since = if full { None } else { position.since };
        position.run_started = Some(now);
        position.page_cursor = None;
        position.run_items = 0;
    }
    let mut report = SyncReport::default();
    loop {
        let page = linear
            .issues_page(mirror.team(), position.run_since, position.page_cursor.as_deref(), linear.page_size())
            .await?;
        let mut tx = store.begin().await?;
        for issue in &page.issues {
            mirror.apply(&mut tx, issue, &mut report).await?;
        }
        report.pages += 1;
        report.read += page.issues.len() as u64;
        position.run_items += page.issues.len() as i64;
        position.page_cursor = page.next.clone();
        if page.next.is_none() {
            position.since = position.run_started.map(|started| started - OVERLAP);
            position.run_since = None;
            position.run_started = None;
            position.run_items = 0;
        }
        tx.save_sync_position(ws, project, &position, Utc::now()).await?;
        store.fault("tracker.sync.after_page")?;
        tx.commit().await?;
        progress(&report);
        if page.next.is_none() {
            break;
        }
    }
    if !report.unmapped.is_empty() {
        tracing::warn!(project, statuses = ?report.unmapped, "Linear statuses with no mapping: their tickets stay where they were; map them in [projects.tracker.statuses]");
    }
    Ok(report)
}

/// `tracker.sync`: one project's sync, resumable (see [`run`]). Credentials refused pause
/// the project's syncs and tell the PM once; a tracker that fails is retried with backoff,
/// from the last committed page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncJob {
    pub project: String,
    #[serde(default)]
    pub full: bool,
}

impl JobSpec for SyncJob {
    const KIND: &'static str = "tracker.sync";
    const MAX_ATTEMPTS: u32 = 25;
    const TIMEOUT: Duration = Duration::from_secs(3600);

    fn unique_key(&self) -> Option<String> {
        Some(format!("tracker.sync:{}", self.project))
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for SyncJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl SyncJob {
    async fn step<C: crate::chat::Chat>(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Result<Outcome, StepError> {
        let Some(project) = env.config.projects.iter().find(|p| p.key == self.project) else {
            return Err(StepError::Gone(format!("no project {} in pmbot.toml", self.project)));
        };
        let Some(mirror) = Mirror::new(&env.config, project) else {
            return Err(StepError::Gone(format!("{} is not on a Linear tracker", self.project)));
        };
        let Some(linear) = env.linear.as_deref() else {
            return Err(StepError::Gone("LINEAR_API_KEY is not set: nothing is synced from Linear".into()));
        };
        match run(&env.store, linear, &mirror, self.full, Utc::now(), |_| {}).await {
            Ok(report) => {
                tracing::info!(project = %self.project, read = report.read, created = report.created, updated = report.updated, "synced from Linear");
                Ok(Outcome::Done)
            }
            Err(SyncError::Paused { why, .. }) => Ok(Outcome::Cancel(why)),
            Err(SyncError::Tracker(err @ TrackerError::Auth { .. })) => {
                pause(env, &mirror, linear, &err.to_string()).await?;
                Ok(Outcome::Cancel(err.to_string()))
            }
            Err(SyncError::Tracker(TrackerError::RateLimited { wait_seconds, .. })) => {
                Ok(Outcome::Snooze(Duration::from_secs(wait_seconds.max(1))))
            }
            Err(SyncError::Tracker(err)) if err.is_transient() => Err(StepError::Failed(err.to_string())),
            Err(SyncError::Tracker(err)) => Err(StepError::Failed(err.to_string())),
            Err(SyncError::Store(err)) => Err(err.into()),
            Err(SyncError::NotSynced(why)) => Err(StepError::Gone(why)),
        }
    }
}

/// Pauses the project's syncs for refused credentials and tells the PM, once per key.
async fn pause<C: crate::chat::Chat>(
    env: &JobEnv<C>,
    mirror: &Mirror<'_>,
    linear: &Linear,
    why: &str,
) -> Result<(), StepError> {
    let (ws, project) = (&mirror.ws, mirror.project.key.as_str());
    let mut position = env
        .store
        .sync_position(ws, project)
        .await?
        .unwrap_or(SyncPosition { tracker: LINEAR.into(), ..Default::default() });
    let fingerprint = linear.key_fingerprint();
    if position.paused.is_some() && position.paused_key.as_deref() == Some(fingerprint.as_str()) {
        return Ok(());
    }
    position.paused = Some(why.to_string());
    position.paused_key = Some(fingerprint);
    env.store.save_sync_position(ws, project, &position, Utc::now()).await?;
    let decision = NewDecision {
        kind: "tracker.sync".into(),
        subject: project.into(),
        inputs: serde_json::json!({ "tracker": LINEAR }),
        rationale: why.into(),
        confidence: 1.0,
        action: "pause".into(),
        actor: "pmbot".into(),
        outcome: format!("syncing {project} from Linear paused; nothing on the board was deleted"),
        source: None,
    };
    env.store.log_decision(ws, &decision, Utc::now()).await?;
    let text = format!(
        "Syncing {project} from Linear is paused: {why}. Nothing on the board was deleted; it resumes with a new key."
    );
    let people = env.config.people();
    let pm = mirror.project.pm.as_deref().and_then(|handle| people.iter().find(|p| p.handle == handle));
    let message = crate::chat::Message::text(text);
    let sent = match (pm.and_then(|person| env.chat.address(person)), &mirror.project.channel) {
        (Some(address), _) => env.chat.dm(&address, &message).await.map(|_| ()),
        (None, Some(channel)) => env.chat.post(channel, None, &message).await.map(|_| ()),
        (None, None) => Ok(()),
    };
    if let Err(err) = sent {
        tracing::warn!(error = %err, "the PM could not be told that syncing is paused");
    }
    Ok(())
}
