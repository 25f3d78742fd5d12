//! A project's real tracker (Linear today) as the source of truth, with pmbot's board as its
//! synchronized mirror: issues, their status history and comments read in (`sync`, the
//! `tracker.sync` job, and webhooks), and pmbot's own changes written back (`write`, the
//! `tracker.write` job). `remote` holds the tracker-neutral shapes, `mapping` the pure rules
//! (status maps, what a newer copy changes), `linear` the client and its webhook.

pub mod event;
pub mod hours;
pub mod jira;
pub mod linear;
pub mod mapping;
pub mod remote;
pub mod sync;
pub mod write;

pub use remote::{Page, RemoteComment, RemoteIssue, RemoteMove, RemoteState, RemoteUser, RemoteWorklog, WorklogPage};
pub use sync::{SyncJob, SyncReport};
pub use write::{write_job, WriteJob, WriteOp};

/// The trackers' names as the board records them (`tickets.source_tracker`, `tracker_items`).
pub const LINEAR: &str = "linear";
pub const JIRA: &str = "jira";

/// What marks a comment pmbot wrote on a tracker: `ana (via pmbot): …`.
pub const VIA_PMBOT: &str = " (via pmbot): ";

/// A project's tracker, as syncing reads it.
#[derive(Clone)]
pub enum Source {
    Linear(std::sync::Arc<linear::Linear>),
    Jira(std::sync::Arc<jira::Jira>),
}

impl Source {
    /// The client for `kind`, when its credentials are set.
    pub fn of(
        kind: crate::config::TrackerKind,
        linear: Option<&std::sync::Arc<linear::Linear>>,
        jira: Option<&std::sync::Arc<jira::Jira>>,
    ) -> Result<Source, String> {
        use crate::config::TrackerKind;
        match kind {
            TrackerKind::Linear => {
                linear.cloned().map(Source::Linear).ok_or_else(|| "LINEAR_API_KEY is not set".into())
            }
            TrackerKind::Jira => jira
                .cloned()
                .map(Source::Jira)
                .ok_or_else(|| "JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN are not all set".into()),
            other => Err(format!("{other:?} is not a tracker pmbot syncs")),
        }
    }

    pub fn key_fingerprint(&self) -> String {
        match self {
            Source::Linear(c) => c.key_fingerprint(),
            Source::Jira(c) => c.key_fingerprint(),
        }
    }

    pub fn page_size(&self) -> u32 {
        match self {
            Source::Linear(c) => c.page_size(),
            Source::Jira(c) => c.page_size(),
        }
    }

    /// `scope`'s issues (a Linear team, a Jira project) updated since `since`, after `cursor`.
    pub async fn issues_page(
        &self,
        scope: &str,
        since: Option<chrono::DateTime<chrono::Utc>>,
        cursor: Option<&str>,
    ) -> Result<Page, TrackerError> {
        match self {
            Source::Linear(c) => c.issues_page(scope, since, cursor, c.page_size()).await,
            Source::Jira(c) => c.issues_page(scope, since, cursor, c.page_size()).await,
        }
    }

    /// One issue as it is now; `None` when it is gone for good.
    pub async fn issue(&self, id: &str) -> Result<Option<RemoteIssue>, TrackerError> {
        match self {
            Source::Linear(c) => c.issue(id).await,
            Source::Jira(c) => c.issue(id).await,
        }
    }
}

/// What went wrong talking to a tracker, in the words the PM is told.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("{tracker} refused pmbot's credentials ({detail}): set a valid {env} and run `pmbot sync` to resume")]
    Auth { tracker: &'static str, env: &'static str, detail: String },
    #[error("{tracker} asks pmbot to slow down (rate limited); it waits {wait_seconds} s")]
    RateLimited { tracker: &'static str, wait_seconds: u64 },
    #[error("{tracker} is not answering properly ({detail}); pmbot retries with backoff")]
    Unavailable { tracker: &'static str, detail: String },
    #[error("{tracker} refused: {0}", .message)]
    Refused { tracker: &'static str, message: String },
    #[error("{tracker} answered with something pmbot cannot read: {detail}")]
    Malformed { tracker: &'static str, detail: String },
}

impl TrackerError {
    /// Whether waiting and trying again can help.
    pub fn is_transient(&self) -> bool {
        matches!(self, TrackerError::RateLimited { .. } | TrackerError::Unavailable { .. })
    }
}
