//! Reading a tracker into the board: one page at a time, each page's tickets, moves and
//! comments committed together with the cursor after it, so a crash resumes from the last
//! committed page and a page read twice changes nothing (every item carries the tracker's
//! clock; an older copy never overwrites a newer one).

use super::{Source, TrackerError};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{NewDecision, Store, StoreError, SyncPosition};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

pub use crate::service::mirror::{Applied, Mirror};

/// A run's next `since` starts this much before the run did: an issue updated while a page
/// was read, or on a clock slightly behind the tracker's, is read again (harmlessly) next time.
const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// How long a run holds its project's sync after its last committed page: a run that died is
/// taken over after this.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

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
    /// Ids that map to nobody in pmbot.toml: id → (name, sightings).
    pub unknown: std::collections::BTreeMap<String, (String, i64)>,
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
    #[error("another sync of {0} is running")]
    Busy(String),
}

/// Reads `mirror`'s project from its tracker into the board, from where the last run stopped
/// (`full`: from the start), calling `progress` after each committed page.
pub async fn run(
    store: &Store,
    source: &Source,
    mirror: &Mirror<'_>,
    full: bool,
    now: DateTime<Utc>,
    mut progress: impl FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    let (ws, project) = (&mirror.ws, mirror.project.key.as_str());
    // Taken before the position is read: two runs never start from the same page.
    if !store.claim_sync(ws, project, mirror.tracker, Utc::now() + LEASE, Utc::now()).await? {
        return Err(SyncError::Busy(project.into()));
    }
    let mut position = store
        .sync_position(ws, project)
        .await?
        .unwrap_or(SyncPosition { tracker: mirror.tracker.into(), ..Default::default() });
    if let Some(why) = &position.paused {
        // A new key is a new chance; the same key refused before is not tried again.
        if position.paused_key.as_deref() == Some(source.key_fingerprint().as_str()) && !full {
            store.release_sync(ws, project).await?;
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
    let result = pages(store, source, mirror, &mut position, &mut progress).await;
    store.release_sync(ws, project).await?;
    let report = result?;
    if !report.unmapped.is_empty() {
        tracing::warn!(project, tracker = mirror.tracker, statuses = ?report.unmapped, "tracker statuses with no mapping: their tickets stay where they were; map them in [projects.tracker.statuses]");
    }
    Ok(report)
}

/// The run's pages, from `position` on, each committed with the cursor after it.
async fn pages(
    store: &Store,
    source: &Source,
    mirror: &Mirror<'_>,
    position: &mut SyncPosition,
    progress: &mut impl FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    let (ws, project) = (&mirror.ws, mirror.project.key.as_str());
    let mut report = SyncReport::default();
    loop {
        let asked = source.issues_page(mirror.team(), position.run_since, position.page_cursor.as_deref()).await;
        let page = match asked {
            // A cursor the tracker no longer takes (kept across a long outage): the run starts over
            // from its own `since`; pages read again change nothing.
            Err(TrackerError::Refused { message, .. }) if position.page_cursor.is_some() => {
                tracing::warn!(project, %message, "the tracker refused the sync's cursor; the run starts over from its beginning");
                position.page_cursor = None;
                continue;
            }
            asked => asked?,
        };
        let mut tx = store.begin().await?;
        report.unknown.clear();
        for issue in &page.issues {
            mirror.apply(&mut tx, issue, &mut report).await?;
        }
        for (id, (name, seen)) in &report.unknown {
            tx.note_unknown_person(ws, mirror.tracker, id, name, *seen, Utc::now()).await?;
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
        tx.save_sync_position(ws, project, position, Utc::now()).await?;
        tx.renew_sync(ws, project, Utc::now() + LEASE).await?;
        store.fault("tracker.sync.after_page")?;
        tx.commit().await?;
        progress(&report);
        if page.next.is_none() {
            return Ok(report);
        }
    }
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
    // No unique key: a sync may run any number of times (polls come from the scheduler, keyed
    // by their firing); a page read twice changes nothing.
    const TIMEOUT: Duration = Duration::from_secs(3600);
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
            return Err(StepError::Gone(format!("{} is not on a tracker pmbot syncs", self.project)));
        };
        let kind = project.tracker.as_ref().map(|t| t.kind).unwrap_or(crate::config::TrackerKind::Builtin);
        let source = match Source::of(kind, env.linear.as_ref(), env.jira.as_ref()) {
            Ok(source) => source,
            Err(why) => return Err(StepError::Gone(format!("{why}: nothing is synced from {}", mirror.label))),
        };
        match run(&env.store, &source, &mirror, self.full, Utc::now(), |_| {}).await {
            Ok(report) => {
                tracing::info!(project = %self.project, read = report.read, created = report.created, updated = report.updated, "synced from the tracker");
                Ok(Outcome::Done)
            }
            Err(SyncError::Paused { why, .. }) => Ok(Outcome::Cancel(why)),
            // That run reads what this one would.
            Err(SyncError::Busy(_)) => Ok(Outcome::Done),
            Err(SyncError::Tracker(err @ TrackerError::Auth { .. })) => {
                let paused = Paused {
                    position: &mirror.project.key,
                    tracker: mirror.tracker,
                    what: format!("syncing {} from {}", mirror.project.key, mirror.label),
                    fingerprint: source.key_fingerprint(),
                    pm: mirror.project.pm.as_deref(),
                    channel: mirror.project.channel.as_deref(),
                };
                pause(env, paused, &err.to_string()).await?;
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

/// What is paused for refused credentials, and who hears of it.
pub struct Paused<'a> {
    /// The sync's row (`tracker_syncs.project_key`): a project's key, or `tempo` for hours.
    pub position: &'a str,
    pub tracker: &'a str,
    /// In words: "syncing ENG from Linear", "reading hours from Tempo".
    pub what: String,
    pub fingerprint: String,
    /// A person's handle (DM'd), else a channel.
    pub pm: Option<&'a str>,
    pub channel: Option<&'a str>,
}

/// Pauses a sync for refused credentials and tells the PM (or the channel), once per key;
/// nothing is deleted, and a new key resumes it.
pub async fn pause<C: crate::chat::Chat>(env: &JobEnv<C>, paused: Paused<'_>, why: &str) -> Result<(), StepError> {
    let ws = env.workspace();
    let mut position = env
        .store
        .sync_position(&ws, paused.position)
        .await?
        .unwrap_or(SyncPosition { tracker: paused.tracker.into(), ..Default::default() });
    if position.paused.is_some() && position.paused_key.as_deref() == Some(paused.fingerprint.as_str()) {
        return Ok(());
    }
    position.paused = Some(why.to_string());
    position.paused_key = Some(paused.fingerprint.clone());
    env.store.save_sync_position(&ws, paused.position, &position, Utc::now()).await?;
    let decision = NewDecision {
        kind: "tracker.sync".into(),
        subject: paused.position.into(),
        inputs: serde_json::json!({ "tracker": paused.tracker }),
        rationale: why.into(),
        confidence: 1.0,
        action: "pause".into(),
        actor: "pmbot".into(),
        outcome: format!("{} paused; nothing was deleted", paused.what),
        source: None,
    };
    env.store.log_decision(&ws, &decision, Utc::now()).await?;
    let mut text = format!("{} is paused: {why}. Nothing was deleted; it resumes with a new key.", paused.what);
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    let people = env.config.people();
    let pm = paused.pm.and_then(|handle| people.iter().find(|p| p.handle == handle));
    let message = crate::chat::Message::text(text);
    let sent = match (pm.and_then(|person| env.chat.address(person)), paused.channel) {
        (Some(address), _) => env.chat.dm(&address, &message).await.map(|_| ()),
        (None, Some(channel)) => env.chat.post(channel, None, &message).await.map(|_| ()),
        (None, None) => Ok(()),
    };
    if let Err(err) = sent {
        tracing::warn!(error = %err, "the PM could not be told that a sync is paused");
    }
    Ok(())
}
