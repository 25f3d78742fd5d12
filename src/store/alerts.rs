//! What pmbot knows of each alert (by fingerprint): its ticket and whether it fires.

use super::{on_pool, on_tx, Result, Store, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AlertLink {
    pub fingerprint: String,
    pub ticket_key: String,
    pub firing: bool,
    pub opened_by_pmbot: bool,
}

impl Store {
    pub async fn alert_link(&self, ws: &WorkspaceId, fingerprint: &str) -> Result<Option<AlertLink>> {
        let sql = "SELECT fingerprint, ticket_key, firing, opened_by_pmbot FROM alert_links \
                   WHERE workspace_id = $1 AND fingerprint = $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(fingerprint).fetch_optional(pool).await)?)
    }

    /// Records the alert's ticket and whether it fires (replacing what was known).
    pub async fn set_alert_link(&self, ws: &WorkspaceId, link: &AlertLink, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.set_alert_link(ws, link, at).await?;
        tx.commit().await
    }
}

impl StoreTx {
    pub async fn set_alert_link(&mut self, ws: &WorkspaceId, link: &AlertLink, at: DateTime<Utc>) -> Result<()> {
        let sql =
            "INSERT INTO alert_links (workspace_id, fingerprint, ticket_key, firing, opened_by_pmbot, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, fingerprint) DO UPDATE \
                   SET ticket_key = $3, firing = $4, opened_by_pmbot = $5, updated_at = $6";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&link.fingerprint)
            .bind(&link.ticket_key)
            .bind(link.firing)
            .bind(link.opened_by_pmbot)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
