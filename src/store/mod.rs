//! The store: one API over PostgreSQL and SQLite. No SQL lives anywhere else.
//!
//! Each method is written once; `on_pool!` expands its body for each backend's pool, so the
//! SQL (written in the dialect both accept: `$1` placeholders, `RETURNING`, `ON CONFLICT`)
//! is shared and the types are concrete in each expansion. Every query is scoped by a
//! `WorkspaceId`.

mod alerts;
mod approvals;
mod connect;
mod decisions;
mod embeddings;
mod fix;
mod github;
mod group_commit;
mod jobs;
mod llm;
mod mail;
mod messages;
mod mirror;
mod reporters;
mod retention;
mod team;
mod tickets;
mod worklogs;

pub use crate::board::Verdict;
pub use alerts::AlertLink;
pub use approvals::{Approval, ApprovalDecision, ApprovalState, Approvers, NewApproval};
pub use connect::{redact, sqlite_url};
pub use decisions::{Decision, DecisionFilter, NewDecision};
pub use fix::{FixRun, FixTransition};
pub use github::GithubLink;
pub use jobs::{Claimed, Finish, JobError, JobRecord, JobState, NewJob, NOTIFY_CHANNEL};
pub use messages::ChatMessageSeen;
pub use mirror::{ItemKind, MirrorItem, MirroredFields, SyncPosition, UnknownPerson};
pub use reporters::Reporter;
pub use retention::{Cutoffs, Pruned};
pub use tickets::TicketFilter;
pub use worklogs::{identities, Imported, Worklog};

use crate::board::{BoardError, Status, TicketKey};
use sqlx::{PgPool, SqlitePool};
use std::fmt;

/// Expands `$body` once per backend with `$pool` bound to that backend's pool.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Postgres($pool) => $body,
            $crate::store::Pool::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Like `on_pool!`, for a [`StoreTx`]: `$conn` is the backend's connection inside the
/// transaction; use it as `&mut *$conn` for each query.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::TxInner::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// The URL with any password removed, for messages.
    display_url: String,
    /// SQLite allows one writer at a time. Queue writes from this process take turns here
    /// instead of in SQLite's busy handler, which sleeps in coarse steps; other processes are
    /// still kept apart by SQLite's own lock and busy timeout.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Failure points armed by tests (see [`Store::fail_at`]).
    faults: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// The ack path's group commit, started at its first use.
    recorder: std::sync::Arc<std::sync::OnceLock<group_commit::Recorder>>,
}

/// A transaction on either backend, for work that must commit together (record an event
/// and enqueue its job). Dropped without `commit`, it rolls back.
pub struct StoreTx {
    inner: TxInner,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

pub(crate) enum TxInner {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

impl StoreTx {
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Postgres(tx) => tx.commit().await?,
            TxInner::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// The tenant every row belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    pub fn new(id: impl Into<String>) -> Self {
        WorkspaceId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database at {url}: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("\"{0}\" is not a database URL pmbot can use; use postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    #[error("{0} is not a ticket on this board")]
    UnknownTicket(TicketKey),
    #[error("{0} is not a project; add it to pmbot.toml")]
    UnknownProject(String),
    #[error("{0} is not a person on this team")]
    UnknownPerson(String),
    #[error("{key} is already {}", status.label())]
    AlreadyInStatus { key: TicketKey, status: Status },
    #[error("job #{0} does not exist")]
    UnknownJob(i64),
    #[error("job #{id} is {state}, so it cannot be {verb}")]
    JobNotChangeable { id: i64, state: JobState, verb: &'static str },
    #[error("approval #{0} does not exist")]
    UnknownApproval(i64),
    #[error("decision #{0} does not exist")]
    UnknownDecision(i64),
    #[error("approval #{id} is already {state}; nothing changed")]
    ApprovalClosed { id: i64, state: ApprovalState },
    #[error("{decider} has already decided on approval #{id}; nothing changed")]
    AlreadyDecided { id: i64, decider: String },
    #[error("fix run #{0} does not exist")]
    UnknownFixRun(i64),
    #[error("{ticket} already has fix run #{id} ({state}); one run per ticket at a time")]
    FixRunActive { ticket: TicketKey, id: i64, state: crate::board::RunState },
    #[error(transparent)]
    Board(#[from] BoardError),
    #[error("the database holds a value pmbot cannot read: {0}")]
    Corrupt(String),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A failure a test asked for (see [`Store::fail_at`]).
    #[error("injected failure at {0}")]
    Injected(&'static str),
    /// More requests wait to be recorded than the ack path holds; the sender retries.
    #[error("too many requests are waiting to be recorded; try again shortly")]
    Overloaded,
}

impl StoreError {
    /// Errors caused by what a person asked for, safe to show them.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::UnknownTicket(_)
                | StoreError::UnknownProject(_)
                | StoreError::UnknownPerson(_)
                | StoreError::AlreadyInStatus { .. }
                | StoreError::UnknownApproval(_)
                | StoreError::UnknownDecision(_)
                | StoreError::UnknownJob(_)
                | StoreError::JobNotChangeable { .. }
                | StoreError::ApprovalClosed { .. }
                | StoreError::AlreadyDecided { .. }
                | StoreError::UnknownFixRun(_)
                | StoreError::FixRunActive { .. }
                | StoreError::Board(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl Store {
    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    /// On SQLite, waits for this process's turn to write; nothing on PostgreSQL.
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.writer.clone().lock_owned().await),
            Pool::Postgres(_) => None,
        }
    }

    /// The SQLite pool, for the benchmark's baseline.
    pub(crate) fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }

    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// Answers when the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Starts a transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
    /// so a transaction that reads before it writes cannot fail half-way on a busy database,
    /// and holds this process's writer turn until it ends: do not call other writing store
    /// methods while holding one.
    pub async fn begin(&self) -> Result<StoreTx> {
        let writer = self.writer_turn().await;
        let inner = match &self.pool {
            Pool::Postgres(pool) => TxInner::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => TxInner::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        };
        Ok(StoreTx { inner, _writer: writer })
    }

    /// Makes the next pass through failure point `point` fail (once), as a crash there would:
    /// for tests that show a retry neither loses nor repeats an effect.
    pub fn fail_at(&self, point: &str) {
        if let Ok(mut armed) = self.faults.lock() {
            armed.push(point.to_string());
        }
    }

    /// Fails when a test armed `point`; nothing otherwise.
    pub(crate) fn fault(&self, point: &'static str) -> Result<()> {
        let mut armed = self.faults.lock().map_err(|_| StoreError::Injected(point))?;
        match armed.iter().position(|p| p == point) {
            Some(at) => {
                armed.remove(at);
                Err(StoreError::Injected(point))
            }
            None => Ok(()),
        }
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// Parses a text column written by pmbot back into its type.
pub(crate) fn decode<T: std::str::FromStr>(column: &str, value: &str) -> Result<T>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|err| StoreError::Corrupt(format!("{column} = {value:?}: {err}")))
}
