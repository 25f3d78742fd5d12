//! Fix runs (the AI queue): a run's state, what its steps produced (`data`, owned by the fix
//! workflow), every transition, and the workspace's kill switch.
//!
//! A transition is a compare-and-set on the state: two workers (or a retry racing a cancel)
//! cannot both move a run from the same state.

use super::{decode, on_pool, on_tx, Result, Store, StoreError, StoreTx, WorkspaceId};
use crate::board::{RunState, TicketKey};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq)]
pub struct FixRun {
    pub id: i64,
    pub ticket: TicketKey,
    pub project: String,
    pub state: RunState,
    pub requested_by: String,
    /// What the steps produced; the fix workflow reads and writes it.
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixTransition {
    pub id: i64,
    pub run_id: i64,
    /// `None` for the run's start.
    pub from: Option<RunState>,
    pub to: RunState,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    ticket_key: String,
    project: String,
    state: String,
    requested_by: String,
    data: Json<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    fn into_run(self) -> Result<FixRun> {
        Ok(FixRun {
            id: self.id,
            ticket: self.ticket_key.parse().map_err(StoreError::from)?,
            project: self.project,
            state: decode("fix_runs.state", &self.state)?,
            requested_by: self.requested_by,
            data: self.data.0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TransitionRow {
    id: i64,
    run_id: i64,
    from_state: Option<String>,
    to_state: String,
    actor: String,
    reason: String,
    at: DateTime<Utc>,
    posted_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str = "id, ticket_key, project, state, requested_by, data, created_at, updated_at, finished_at";
const TRANSITION_COLUMNS: &str = "id, run_id, from_state, to_state, actor, reason, at, posted_at";

impl Store {
    pub async fn fix_run(&self, ws: &WorkspaceId, id: i64) -> Result<FixRun> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM fix_runs WHERE workspace_id = $1 AND id = $2");
        let row: Option<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(id).fetch_optional(pool).await)?;
        row.ok_or(StoreError::UnknownFixRun(id))?.into_run()
    }

    /// The newest runs first, at most `limit`.
    pub async fn fix_runs(&self, ws: &WorkspaceId, limit: i64) -> Result<Vec<FixRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM fix_runs WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2");
        let rows: Vec<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    /// The ticket's runs, newest first.
    pub async fn fix_runs_of(&self, ws: &WorkspaceId, ticket: &TicketKey) -> Result<Vec<FixRun>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM fix_runs WHERE workspace_id = $1 AND ticket_key = $2 ORDER BY id DESC");
        let rows: Vec<RunRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(ticket.as_str()).fetch_all(pool).await)?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    pub async fn fix_transitions(&self, ws: &WorkspaceId, run: i64) -> Result<Vec<FixTransition>> {
        let sql = format!(
            "SELECT {TRANSITION_COLUMNS} FROM fix_transitions WHERE workspace_id = $1 AND run_id = $2 ORDER BY id"
        );
        let rows: Vec<TransitionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(run).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(FixTransition {
                    id: r.id,
                    run_id: r.run_id,
                    from: r.from_state.as_deref().map(|s| decode("fix_transitions.from_state", s)).transpose()?,
                    to: decode("fix_transitions.to_state", &r.to_state)?,
                    actor: r.actor,
                    reason: r.reason,
                    at: r.at,
                    posted_at: r.posted_at,
                })
            })
            .collect()
    }

    /// Notes that transition `id` was said in the run's thread.
    pub async fn mark_fix_transition_posted(&self, ws: &WorkspaceId, id: i64, at: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE fix_transitions SET posted_at = $3 WHERE workspace_id = $1 AND id = $2";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(id)
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces what the run's steps produced, without changing its state; `false` when the
    /// run has left `state` meanwhile (cancelled, say).
    pub async fn set_fix_data(
        &self,
        ws: &WorkspaceId,
        id: i64,
        state: RunState,
        data: &Value,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE fix_runs SET data = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2 AND state = $3";
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(id)
            .bind(state.as_str())
            .bind(Json(data))
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// How many runs started at or after `since` (the hourly limit).
    pub async fn fix_runs_started_since(&self, ws: &WorkspaceId, since: DateTime<Utc>) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM fix_runs WHERE workspace_id = $1 AND created_at >= $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(since).fetch_one(pool).await)?)
    }

    /// Runs working right now (executing or in QA), other than `except`.
    pub async fn fix_runs_working(&self, ws: &WorkspaceId, except: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM fix_runs WHERE workspace_id = $1 AND id <> $2 \
                   AND state IN ('EXECUTING', 'QA_RUNNING')";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(except).fetch_one(pool).await)?)
    }

    pub async fn fix_paused(&self, ws: &WorkspaceId) -> Result<bool> {
        let sql = "SELECT paused FROM fix_controls WHERE workspace_id = $1";
        let paused: Option<bool> =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).fetch_optional(pool).await)?;
        Ok(paused.unwrap_or(false))
    }
}

impl StoreTx {
    /// The kill switch, on or off.
    pub async fn set_fix_paused(&mut self, ws: &WorkspaceId, paused: bool, by: &str, at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO fix_controls (workspace_id, paused, changed_by, changed_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (workspace_id) DO UPDATE SET paused = $2, changed_by = $3, changed_at = $4";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(paused)
            .bind(by)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The ticket's active run, if it has one.
    pub async fn active_fix_run(&mut self, ws: &WorkspaceId, ticket: &TicketKey) -> Result<Option<FixRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM fix_runs WHERE workspace_id = $1 AND ticket_key = $2 \
             AND state NOT IN ('COMPLETED', 'SPEC_REJECTED', 'QA_FAILED', 'ERROR', 'CANCELLED')"
        );
        let row: Option<RunRow> = on_tx!(self, |conn| sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(ticket.as_str())
            .fetch_optional(&mut *conn)
            .await)?;
        row.map(RunRow::into_run).transpose()
    }

    /// Starts a run in PENDING, with its first transition row; its id. A ticket with an
    /// active run gets `FixRunActive` (checked here, and by the unique index).
    pub async fn create_fix_run(
        &mut self,
        ws: &WorkspaceId,
        ticket: &TicketKey,
        requested_by: &str,
        data: &Value,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        if let Some(active) = self.active_fix_run(ws, ticket).await? {
            return Err(StoreError::FixRunActive { ticket: ticket.clone(), id: active.id, state: active.state });
        }
        let sql = "INSERT INTO fix_runs (workspace_id, ticket_key, project, state, requested_by, data, created_at, \
                   updated_at) VALUES ($1, $2, $3, 'PENDING', $4, $5, $6, $6) RETURNING id";
        let id: i64 = on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(ticket.as_str())
            .bind(ticket.project())
            .bind(requested_by)
            .bind(Json(data))
            .bind(at)
            .fetch_one(&mut *conn)
            .await)?;
        self.insert_fix_transition(ws, id, None, RunState::Pending, requested_by, reason, at).await?;
        Ok(id)
    }

    /// Moves run `id` from `from` to `to` (with `data`, what its steps produced, or keeping
    /// what is there when `None`) and records the transition; `false`, changing nothing, when
    /// the run is no longer in `from`.
    #[allow(clippy::too_many_arguments)]
    pub async fn transition_fix_run(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
        from: RunState,
        to: RunState,
        actor: &str,
        reason: &str,
        data: Option<&Value>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let finished = to.is_final().then_some(at);
        let sql = "UPDATE fix_runs SET state = $4, data = COALESCE($5, data), updated_at = $6, finished_at = $7 \
                   WHERE workspace_id = $1 AND id = $2 AND state = $3";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(data.map(Json))
            .bind(at)
            .bind(finished)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if done != 1 {
            return Ok(false);
        }
        self.insert_fix_transition(ws, id, Some(from), to, actor, reason, at).await?;
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_fix_transition(
        &mut self,
        ws: &WorkspaceId,
        run: i64,
        from: Option<RunState>,
        to: RunState,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO fix_transitions (workspace_id, run_id, from_state, to_state, actor, reason, at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(run)
            .bind(from.map(RunState::as_str))
            .bind(to.as_str())
            .bind(actor)
            .bind(reason)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
