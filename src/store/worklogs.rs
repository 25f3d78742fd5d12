//! Hours worked (worklogs), forecasts per epic, and what the agents have sent.

use super::{on_pool, on_tx, Result, Store, StoreTx, WorkspaceId};
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Worklog {
    pub person: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub hours: f64,
    pub project: String,
    pub epic: Option<String>,
    pub ticket: Option<String>,
    pub description: String,
}

impl Worklog {
    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.day, "%Y-%m-%d").ok()
    }
}

/// What importing a worklog did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Added,
    /// The same entry was there with other hours; it has these now.
    Updated,
    /// The same entry was there already.
    Unchanged,
}

impl Worklog {
    /// The row's identity: its fields but the hours, and `occurrence` (0 for the first of
    /// identical entries in one import, 1 for the second, …).
    pub fn identity(&self, occurrence: usize) -> String {
        serde_json::json!([self.person, self.day, self.project, self.epic, self.ticket, self.description, occurrence])
            .to_string()
    }
}

/// The identity of each of `rows`, read as one import (identical rows get 0, 1, 2, …).
pub fn identities(rows: &[Worklog]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    rows.iter()
        .map(|row| {
            let base = row.identity(0);
            let occurrence = seen.entry(base).or_insert(0);
            let identity = row.identity(*occurrence);
            *occurrence += 1;
            identity
        })
        .collect()
}

impl StoreTx {
    /// Records `key` as sent; `false` when it had been.
    pub async fn record_send(
        &mut self,
        ws: &WorkspaceId,
        agent: &str,
        key: &str,
        recipient: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO agent_sends (workspace_id, agent, key, recipient, body, sent_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, key) DO NOTHING";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(agent)
            .bind(key)
            .bind(recipient)
            .bind(body)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Adds the worklog under `identity` (see [`Worklog::identity`]), or finds it there.
    pub async fn add_worklog(
        &mut self,
        ws: &WorkspaceId,
        w: &Worklog,
        identity: &str,
        source: &str,
        at: DateTime<Utc>,
    ) -> Result<Imported> {
        let sql =
            "INSERT INTO worklogs (workspace_id, person, day, hours, project, epic, ticket, description, source, \
                   created_at, identity) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                   ON CONFLICT (workspace_id, identity) DO NOTHING";
        let added = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&w.person)
            .bind(&w.day)
            .bind(w.hours)
            .bind(&w.project)
            .bind(&w.epic)
            .bind(&w.ticket)
            .bind(&w.description)
            .bind(source)
            .bind(at)
            .bind(identity)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if added == 1 {
            return Ok(Imported::Added);
        }
        let sql = "UPDATE worklogs SET hours = $1 WHERE workspace_id = $2 AND identity = $3 AND hours <> $1";
        let updated = on_tx!(self, |conn| sqlx::query(sql)
            .bind(w.hours)
            .bind(ws.as_str())
            .bind(identity)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(if updated == 1 { Imported::Updated } else { Imported::Unchanged })
    }

    /// Sets an epic's forecast for `month` (`YYYY-MM`), replacing an earlier one, and makes
    /// the epic's total the sum of its months.
    pub async fn set_forecast_month(
        &mut self,
        ws: &WorkspaceId,
        project: &str,
        epic: &str,
        month: &str,
        hours: f64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO forecast_months (workspace_id, project, epic, month, hours, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, project, epic, month) \
                   DO UPDATE SET hours = excluded.hours, created_at = excluded.created_at";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(project)
            .bind(epic)
            .bind(month)
            .bind(hours)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        let total = "SELECT COALESCE(SUM(hours), 0) FROM forecast_months WHERE workspace_id = $1 AND project = $2 AND epic = $3";
        let total: f64 = on_tx!(self, |conn| sqlx::query_scalar(total)
            .bind(ws.as_str())
            .bind(project)
            .bind(epic)
            .fetch_one(&mut *conn)
            .await)?;
        self.set_forecast(ws, project, epic, total, at).await
    }

    /// Sets an epic's forecast, replacing an earlier one.
    pub async fn set_forecast(
        &mut self,
        ws: &WorkspaceId,
        project: &str,
        epic: &str,
        hours: f64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO forecasts (workspace_id, project, epic, hours, created_at) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (workspace_id, project, epic) DO UPDATE SET hours = excluded.hours, created_at = excluded.created_at";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(project)
            .bind(epic)
            .bind(hours)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    /// Worklogs with `from <= day <= to` (dates as `YYYY-MM-DD`), oldest first.
    pub async fn worklogs(&self, ws: &WorkspaceId, from: NaiveDate, to: NaiveDate) -> Result<Vec<Worklog>> {
        let sql = "SELECT person, day, hours, project, epic, ticket, description FROM worklogs \
                   WHERE workspace_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, id";
        let (from, to) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(&from).bind(&to).fetch_all(pool).await)?)
    }

    /// Every monthly forecast: `(project, epic, month as YYYY-MM, hours)`.
    pub async fn forecast_months(&self, ws: &WorkspaceId) -> Result<Vec<(String, String, String, f64)>> {
        let sql = "SELECT project, epic, month, hours FROM forecast_months WHERE workspace_id = $1 ORDER BY project, epic, month";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?)
    }

    /// Every forecast: `(project, epic, hours, when it was set)`.
    pub async fn forecasts(&self, ws: &WorkspaceId) -> Result<Vec<(String, String, f64, DateTime<Utc>)>> {
        let sql =
            "SELECT project, epic, hours, created_at FROM forecasts WHERE workspace_id = $1 ORDER BY project, epic";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?)
    }

    pub async fn forecast_count(&self, ws: &WorkspaceId) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM forecasts WHERE workspace_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).fetch_one(pool).await)?)
    }

    /// Records that `agent` sent `body` to `recipient` under `key`; `false` (and nothing
    /// recorded) when that key was sent already.
    pub async fn record_send(
        &self,
        ws: &WorkspaceId,
        agent: &str,
        key: &str,
        recipient: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let recorded = tx.record_send(ws, agent, key, recipient, body, at).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    pub async fn was_sent(&self, ws: &WorkspaceId, key: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM agent_sends WHERE workspace_id = $1 AND key = $2";
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(key).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn sends(&self, ws: &WorkspaceId, agent: &str) -> Result<Vec<(String, String, String)>> {
        let sql =
            "SELECT key, recipient, body FROM agent_sends WHERE workspace_id = $1 AND agent = $2 ORDER BY sent_at, key";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(agent).fetch_all(pool).await)?)
    }
}

impl Store {
    /// Keeps a generated file under `name`, replacing an earlier one.
    pub async fn save_report(&self, ws: &WorkspaceId, name: &str, bytes: &[u8], at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO reports (workspace_id, name, bytes, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (workspace_id, name) DO UPDATE SET bytes = excluded.bytes, created_at = excluded.created_at";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(name)
            .bind(bytes)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn report(&self, ws: &WorkspaceId, name: &str) -> Result<Option<Vec<u8>>> {
        let sql = "SELECT bytes FROM reports WHERE workspace_id = $1 AND name = $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(name).fetch_optional(pool).await)?)
    }

    /// `(name, size in bytes, when made)`, newest first.
    pub async fn reports(&self, ws: &WorkspaceId) -> Result<Vec<(String, i64, DateTime<Utc>)>> {
        let sql =
            "SELECT name, length(bytes), created_at FROM reports WHERE workspace_id = $1 ORDER BY created_at DESC";
        let rows: Vec<(String, i32, DateTime<Utc>)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(n, s, t)| (n, i64::from(s), t)).collect())
    }
}
