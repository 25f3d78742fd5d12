//! The job queue's rows: enqueue (inside a caller's transaction), claim with a lease,
//! heartbeat, finish with a fencing token, rescue, prune, and the operator's view.
//!
//! Claiming, rescuing and pruning serve every workspace (one worker pool runs all tenants'
//! jobs, each job carrying its workspace); everything a person asks for is workspace-scoped.

use super::{on_pool, on_tx, Pool, Result, Store, StoreError, StoreTx, TxInner, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Available,
    Scheduled,
    Running,
    Awaiting,
    Completed,
    Retryable,
    Discarded,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Awaiting,
        JobState::Completed,
        JobState::Retryable,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Awaiting => "awaiting",
            JobState::Completed => "completed",
            JobState::Retryable => "retryable",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
            format!("\"{s}\" is not a job state; use one of: {}", names.join(", "))
        })
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    pub attempt: u32,
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    pub queue: String,
    pub payload: Value,
    /// Lower runs first.
    pub priority: i32,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
    pub unique_key: Option<String>,
}

/// A job a worker holds. `lease_count` is its fencing token: only the holder of the latest
/// lease can finish it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: i64,
    pub workspace: WorkspaceId,
    pub kind: String,
    pub queue: String,
    pub payload: Value,
    pub attempt: u32,
    pub max_attempts: u32,
    pub lease_count: i64,
    pub errors: Vec<JobError>,
    /// What a resumed job is told (e.g. the approval's decision).
    pub resume: Option<Value>,
    pub run_at: DateTime<Utc>,
}

/// How an attempt ended, as the worker records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Completed,
    /// Run again at `at`; `errors` is the full history including this attempt's.
    Retry {
        at: DateTime<Utc>,
        errors: Vec<JobError>,
    },
    /// Run again at `at` without counting this attempt.
    Snooze {
        at: DateTime<Utc>,
    },
    Cancelled {
        errors: Vec<JobError>,
    },
    Discarded {
        errors: Vec<JobError>,
    },
    /// Park until the approval is decided.
    Awaiting {
        approval_id: i64,
    },
}

/// A job as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub queue: String,
    pub payload: Value,
    pub state: JobState,
    pub priority: i32,
    pub attempt: u32,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub unique_key: Option<String>,
    pub errors: Vec<JobError>,
    pub approval_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    workspace_id: String,
    kind: String,
    queue: String,
    payload: Json<Value>,
    attempt: i32,
    max_attempts: i32,
    lease_count: i64,
    errors: Json<Vec<JobError>>,
    resume: Option<Json<Value>>,
    run_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    queue: String,
    payload: Json<Value>,
    state: String,
    priority: i32,
    attempt: i32,
    max_attempts: i32,
    run_at: DateTime<Utc>,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    unique_key: Option<String>,
    errors: Json<Vec<JobError>>,
    approval_id: Option<i64>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl JobRow {
    fn into_record(self) -> Result<JobRecord> {
        Ok(JobRecord {
            state: super::decode("jobs.state", &self.state)?,
            id: self.id,
            kind: self.kind,
            queue: self.queue,
            payload: self.payload.0,
            priority: self.priority,
            attempt: count(self.attempt),
            max_attempts: count(self.max_attempts),
            run_at: self.run_at,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at,
            unique_key: self.unique_key,
            errors: self.errors.0,
            approval_id: self.approval_id,
            created_at: self.created_at,
            finished_at: self.finished_at,
        })
    }
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

const INSERT_JOB: &str = "INSERT INTO jobs (workspace_id, kind, queue, payload, state, priority, max_attempts, \
     run_at, unique_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
     ON CONFLICT (workspace_id, unique_key) WHERE unique_key IS NOT NULL DO NOTHING RETURNING id";

const CLAIM: &str = "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $2, \
     lease_expires_at = $3, lease_count = lease_count + 1, updated_at = $4 \
     WHERE id IN (SELECT id FROM jobs WHERE queue = $1 AND state IN ('available', 'scheduled', 'retryable') \
     AND run_at <= $4 ORDER BY priority, run_at, id LIMIT $5 {LOCK}) \
     RETURNING id, workspace_id, kind, queue, payload, attempt, max_attempts, lease_count, errors, resume, run_at";

const JOB_COLUMNS: &str = "id, kind, queue, payload, state, priority, attempt, max_attempts, run_at, lease_owner, \
     lease_expires_at, unique_key, errors, approval_id, created_at, finished_at";

/// The NOTIFY channel workers LISTEN on (PostgreSQL); the payload is the queue's name.
pub const NOTIFY_CHANNEL: &str = "pmbot_jobs";

impl StoreTx {
    /// Enqueues inside this transaction; `None` when a job with the same unique key exists.
    pub async fn enqueue(&mut self, ws: &WorkspaceId, job: &NewJob, now: DateTime<Utc>) -> Result<Option<i64>> {
        let id = self.insert_job(ws, job, now).await?;
        if id.is_some() && job.run_at <= now {
            self.wake(&job.queue).await?;
        }
        Ok(id)
    }

    /// Inserts the job without waking anyone (see [`StoreTx::wake`]).
    pub(super) async fn insert_job(
        &mut self,
        ws: &WorkspaceId,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let state = if job.run_at > now { JobState::Scheduled } else { JobState::Available };
        let payload = without_nul(&job.payload);
        let max_attempts = to_i32(job.max_attempts.max(1));
        let id: Option<i64> = on_tx!(self, |conn| sqlx::query_scalar(INSERT_JOB)
            .bind(ws.as_str())
            .bind(&job.kind)
            .bind(&job.queue)
            .bind(Json(&payload))
            .bind(state.as_str())
            .bind(job.priority)
            .bind(max_attempts)
            .bind(job.run_at)
            .bind(&job.unique_key)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await)?;
        Ok(id)
    }

    /// Wakes PostgreSQL workers of `queue` when this transaction commits; nothing on SQLite.
    pub(super) async fn wake(&mut self, queue: &str) -> Result<()> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            // Delivered at commit, so a worker never wakes for a job it cannot see yet.
            sqlx::query("SELECT pg_notify($1, $2)").bind(NOTIFY_CHANNEL).bind(queue).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl StoreTx {
    /// Wakes PostgreSQL workers when this transaction commits; nothing on SQLite.
    pub(super) async fn notify_workers(&mut self) -> Result<()> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT pg_notify($1, '*')").bind(NOTIFY_CHANNEL).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Enqueues in a transaction of its own.
    pub async fn enqueue(&self, ws: &WorkspaceId, job: &NewJob, now: DateTime<Utc>) -> Result<Option<i64>> {
        let mut tx = self.begin().await?;
        let id = tx.enqueue(ws, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Leases up to `limit` runnable jobs of `queue` to `owner` until `lease_until`.
    pub async fn claim(
        &self,
        queue: &str,
        owner: &str,
        limit: u32,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>> {
        let lock = match self.pool {
            Pool::Postgres(_) => "FOR UPDATE SKIP LOCKED",
            // One writer at a time: the UPDATE takes SQLite's write lock, so choosing the rows
            // and leasing them is one atomic step.
            Pool::Sqlite(_) => "",
        };
        let sql = CLAIM.replace("{LOCK}", lock);
        let _turn = self.writer_turn().await;
        let rows: Vec<ClaimedRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(queue)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|r| Claimed {
                id: r.id,
                workspace: WorkspaceId::new(r.workspace_id),
                kind: r.kind,
                queue: r.queue,
                payload: r.payload.0,
                attempt: count(r.attempt),
                max_attempts: count(r.max_attempts),
                lease_count: r.lease_count,
                errors: r.errors.0,
                resume: r.resume.map(|j| j.0),
                run_at: r.run_at,
            })
            .collect())
    }

    /// Extends a lease; `false` when the lease is no longer this holder's.
    pub async fn heartbeat(&self, id: i64, lease_count: i64, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE jobs SET lease_expires_at = $1, updated_at = $2 WHERE id = $3 AND lease_count = $4 AND state = 'running'";
        let _turn = self.writer_turn().await;
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(until)
            .bind(now)
            .bind(id)
            .bind(lease_count)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Records how an attempt ended. `false` (and nothing written) when the lease was lost:
    /// the job was rescued and re-leased, or cancelled, since this holder claimed it.
    pub async fn finish(&self, id: i64, lease_count: i64, finish: &Finish, now: DateTime<Utc>) -> Result<bool> {
        self.finish_with(id, lease_count, finish, None, now).await
    }

    /// [`finish`](Self::finish), replacing the payload in the same statement (to drop what must
    /// not outlive the job, such as tokens).
    pub async fn finish_with(
        &self,
        id: i64,
        lease_count: i64,
        finish: &Finish,
        payload: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (state, run_at, errors, done_at, attempt_back) = match finish {
            Finish::Awaiting { approval_id } => return self.park(id, lease_count, *approval_id, now).await,
            Finish::Completed => (JobState::Completed, None, None, Some(now), 0),
            Finish::Retry { at, errors } => (JobState::Retryable, Some(*at), Some(errors), None, 0),
            Finish::Snooze { at } => (JobState::Scheduled, Some(*at), None, None, 1),
            Finish::Cancelled { errors } => (JobState::Cancelled, None, Some(errors), Some(now), 0),
            Finish::Discarded { errors } => (JobState::Discarded, None, Some(errors), Some(now), 0),
        };
        let sql = "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), errors = COALESCE($3, errors), \
                   finished_at = $4, attempt = attempt - $5, lease_owner = NULL, lease_expires_at = NULL, updated_at = $6, \
                   payload = COALESCE($9, payload) WHERE id = $7 AND lease_count = $8 AND state = 'running'";
        let _turn = self.writer_turn().await;
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(state.as_str())
            .bind(run_at)
            .bind(errors.map(Json))
            .bind(done_at)
            .bind(attempt_back)
            .bind(now)
            .bind(id)
            .bind(lease_count)
            .bind(payload.map(Json))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Completes many jobs in one transaction (one commit); returns how many were still held.
    pub async fn complete_many(&self, held: &[(i64, i64)], now: DateTime<Utc>) -> Result<usize> {
        let sql =
            "UPDATE jobs SET state = 'completed', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, \
                   updated_at = $1 WHERE id = $2 AND lease_count = $3 AND state = 'running'";
        let mut completed = 0;
        let _turn = self.writer_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (id, lease_count) in held {
                let done = sqlx::query(sql).bind(now).bind(id).bind(lease_count).execute(&mut *tx).await?;
                completed += done.rows_affected() as usize;
            }
            tx.commit().await?;
        });
        Ok(completed)
    }

    /// Hands a job back untouched (graceful shutdown): it runs again, this attempt not counted.
    pub async fn release(&self, id: i64, lease_count: i64, now: DateTime<Utc>) -> Result<bool> {
        self.finish(id, lease_count, &Finish::Snooze { at: now }, now).await
    }

    /// Parks a job on an approval. If the approval was resolved meanwhile, the job runs again
    /// at once with the outcome (checked after parking, so a decision racing the park is seen
    /// by one side or the other).
    async fn park(&self, id: i64, lease_count: i64, approval_id: i64, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE jobs SET state = 'awaiting', approval_id = $1, run_at = $2, lease_owner = NULL, \
                   lease_expires_at = NULL, updated_at = $2 WHERE id = $3 AND lease_count = $4 AND state = 'running' \
                   RETURNING workspace_id";
        let parked: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(approval_id)
            .bind(now)
            .bind(id)
            .bind(lease_count)
            .fetch_optional(pool)
            .await)?;
        let Some(ws) = parked.map(WorkspaceId::new) else { return Ok(false) };
        let approval = self.approval(&ws, approval_id).await?;
        if approval.state != super::ApprovalState::Pending {
            self.resume_approval_jobs(&ws, approval_id, &approval.resume_context(), now).await?;
        }
        Ok(true)
    }

    /// Makes the jobs parked on an approval runnable, telling them `resume`.
    pub async fn resume_approval_jobs(
        &self,
        ws: &WorkspaceId,
        approval_id: i64,
        resume: &Value,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let sql = "UPDATE jobs SET state = 'available', run_at = $1, resume = $2, updated_at = $1 \
                   WHERE workspace_id = $3 AND approval_id = $4 AND state = 'awaiting'";
        let resumed = on_pool!(self, |pool| sqlx::query(sql)
            .bind(now)
            .bind(Json(resume))
            .bind(ws.as_str())
            .bind(approval_id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        self.notify_all().await?;
        Ok(resumed)
    }

    /// Running jobs whose lease ran out (their worker died or hung): back to the queue, or to
    /// the dead-letter set when out of attempts. Returns how many.
    pub async fn rescue_expired(&self, now: DateTime<Utc>) -> Result<usize> {
        let sql = "SELECT id, workspace_id, kind, queue, payload, attempt, max_attempts, lease_count, errors, resume, \
                   run_at FROM jobs WHERE state = 'running' AND lease_expires_at < $1";
        let rows: Vec<ClaimedRow> = on_pool!(self, |pool| sqlx::query_as(sql).bind(now).fetch_all(pool).await)?;
        let mut rescued = 0;
        for row in rows {
            let attempt = count(row.attempt);
            let mut errors = row.errors.0;
            errors.push(JobError { attempt, message: "the worker stopped answering (lease expired)".into(), at: now });
            let finish = if attempt >= count(row.max_attempts) {
                Finish::Discarded { errors }
            } else {
                Finish::Retry { at: now, errors }
            };
            rescued += usize::from(self.finish(row.id, row.lease_count, &finish, now).await?);
        }
        if rescued > 0 {
            self.notify_all().await?;
        }
        Ok(rescued)
    }

    /// Deletes completed, discarded and cancelled jobs finished before `before`.
    pub async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        let sql = "DELETE FROM jobs WHERE state IN ('completed', 'discarded', 'cancelled') AND finished_at < $1";
        Ok(on_pool!(self, |pool| sqlx::query(sql).bind(before).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// A connection listening for new jobs (PostgreSQL); `None` on SQLite, which polls.
    pub async fn listener(&self) -> Result<Option<sqlx::postgres::PgListener>> {
        match &self.pool {
            Pool::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(NOTIFY_CHANNEL).await?;
                Ok(Some(listener))
            }
            Pool::Sqlite(_) => Ok(None),
        }
    }

    /// Wakes every PostgreSQL worker (after a rescue or resume); nothing on SQLite.
    async fn notify_all(&self) -> Result<()> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '*')").bind(NOTIFY_CHANNEL).execute(pool).await?;
        }
        Ok(())
    }

    /// The workspace's jobs, newest first.
    pub async fn jobs(
        &self,
        ws: &WorkspaceId,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND ($2 IS NULL OR state = $2) \
             AND ($3 IS NULL OR kind = $3) ORDER BY id DESC LIMIT $4"
        );
        let rows: Vec<JobRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(state.map(JobState::as_str))
            .bind(kind)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(JobRow::into_record).collect()
    }

    pub async fn job(&self, ws: &WorkspaceId, id: i64) -> Result<JobRecord> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND id = $2");
        let row: Option<JobRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(id).fetch_optional(pool).await)?;
        row.ok_or(StoreError::UnknownJob(id))?.into_record()
    }

    /// PostgreSQL's statistics for this database: transactions (committed and rolled back)
    /// and rows written (inserted, updated, deleted) so far; `None` on SQLite.
    pub async fn database_activity(&self) -> Result<Option<(i64, i64)>> {
        let Pool::Postgres(pool) = &self.pool else { return Ok(None) };
        let sql = "SELECT (xact_commit + xact_rollback)::BIGINT, (tup_inserted + tup_updated + tup_deleted)::BIGINT \
                   FROM pg_stat_database WHERE datname = current_database()";
        Ok(Some(sqlx::query_as(sql).fetch_one(pool).await?))
    }

    /// How many of the workspace's jobs are in each state.
    pub async fn job_counts(&self, ws: &WorkspaceId) -> Result<Vec<(JobState, i64)>> {
        let sql = "SELECT state, COUNT(*) FROM jobs WHERE workspace_id = $1 GROUP BY state ORDER BY state";
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        rows.into_iter().map(|(s, n)| Ok((super::decode("jobs.state", &s)?, n))).collect()
    }

    /// Runs a discarded, cancelled, retryable or scheduled job again now (with one more
    /// attempt if it had none left). Running, awaiting and completed jobs are refused.
    pub async fn retry_job(&self, ws: &WorkspaceId, id: i64, now: DateTime<Utc>) -> Result<JobRecord> {
        let sql = "UPDATE jobs SET state = 'available', run_at = $1, finished_at = NULL, \
                   max_attempts = CASE WHEN attempt >= max_attempts THEN attempt + 1 ELSE max_attempts END, updated_at = $1 \
                   WHERE workspace_id = $2 AND id = $3 AND state IN ('discarded', 'cancelled', 'retryable', 'scheduled')";
        self.operator_change(ws, id, sql, now, "retried").await
    }

    /// Cancels a job that has not finished; a running job's result will then be ignored.
    pub async fn cancel_job(&self, ws: &WorkspaceId, id: i64, now: DateTime<Utc>) -> Result<JobRecord> {
        let sql =
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL, \
                   updated_at = $1 WHERE workspace_id = $2 AND id = $3 \
                   AND state IN ('available', 'scheduled', 'retryable', 'running', 'awaiting')";
        self.operator_change(ws, id, sql, now, "cancelled").await
    }

    async fn operator_change(
        &self,
        ws: &WorkspaceId,
        id: i64,
        sql: &str,
        now: DateTime<Utc>,
        verb: &'static str,
    ) -> Result<JobRecord> {
        let changed = on_pool!(self, |pool| sqlx::query(sql)
            .bind(now)
            .bind(ws.as_str())
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        let job = self.job(ws, id).await?;
        if changed == 0 {
            return Err(StoreError::JobNotChangeable { id, state: job.state, verb });
        }
        self.notify_all().await?;
        Ok(job)
    }

    /// The effect of a diagnostics probe job: one row per job, ever. `false` if it was
    /// already written (the job ran twice).
    pub async fn record_probe(&self, ws: &WorkspaceId, job_id: i64, worker: &str, now: DateTime<Utc>) -> Result<bool> {
        let sql = "INSERT INTO job_probes (workspace_id, job_id, worker, at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (job_id) DO NOTHING";
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(job_id)
            .bind(worker)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Probe rows per worker.
    pub async fn probe_counts(&self, ws: &WorkspaceId) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT worker, COUNT(*) FROM job_probes WHERE workspace_id = $1 GROUP BY worker ORDER BY worker";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?)
    }
}

/// PostgreSQL cannot store the NUL character in text or JSON; it carries no meaning in
/// anything pmbot keeps, so it is dropped on both backends alike.
pub(crate) fn without_nul(value: &Value) -> Value {
    match value {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "")),
        Value::Array(items) => Value::Array(items.iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.replace('\0', ""), without_nul(v))).collect()),
        other => other.clone(),
    }
}
