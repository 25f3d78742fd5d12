//! A project's real tracker (Linear today) as the source of truth, with pmbot's board as its
//! synchronized mirror: issues, their status history and comments read in (`sync`, the
//! `tracker.sync` job, and webhooks), and pmbot's own changes written back (`write`, the
//! `tracker.write` job). `remote` holds the tracker-neutral shapes, `mapping` the pure rules
//! (status maps, what a newer copy changes), `linear` the client and its webhook.

pub mod linear;
pub mod mapping;
pub mod remote;
pub mod sync;
pub mod write;

pub use remote::{RemoteComment, RemoteIssue, RemoteMove, RemoteState, RemoteUser};
pub use sync::{SyncJob, SyncReport};
pub use write::{write_job, WriteJob, WriteOp};

/// The tracker's name as the board records it (`tickets.source_tracker`, `tracker_items`).
pub const LINEAR: &str = "linear";

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
