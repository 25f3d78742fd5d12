//! People outside the team who reported a ticket, and how to tell them it is fixed.

use super::{on_pool, Result, Store, WorkspaceId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Reporter {
    pub ticket_key: String,
    /// `feedback`, `email` or `github`.
    pub via: String,
    /// An email address, or `owner/name#number` for a GitHub issue.
    pub address: String,
    pub name: String,
    pub told_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Records who reported `reporter.ticket_key` (once per way and address).
    pub async fn add_reporter(&self, ws: &WorkspaceId, reporter: &Reporter, at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO reporters (workspace_id, ticket_key, via, address, name, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, ticket_key, via, address) DO NOTHING";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&reporter.ticket_key)
            .bind(&reporter.via)
            .bind(&reporter.address)
            .bind(&reporter.name)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn reporters_of(&self, ws: &WorkspaceId, ticket: &str) -> Result<Vec<Reporter>> {
        let sql = "SELECT ticket_key, via, address, name, told_at FROM reporters \
                   WHERE workspace_id = $1 AND ticket_key = $2 ORDER BY created_at, via, address";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(ticket).fetch_all(pool).await)?)
    }

    /// Marks the reporter told; `false` when someone marked them first (told once only).
    pub async fn mark_reporter_told(&self, ws: &WorkspaceId, r: &Reporter, at: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE reporters SET told_at = $5 WHERE workspace_id = $1 AND ticket_key = $2 AND via = $3 \
                   AND address = $4 AND told_at IS NULL";
        let done = on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&r.ticket_key)
            .bind(&r.via)
            .bind(&r.address)
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}
