//! The support mailbox's threads: which ticket each message belongs to.

use super::{on_pool, Result, Store, WorkspaceId};
use chrono::{DateTime, Utc};

impl Store {
    /// Records that `message_id` belongs to `ticket` (the first record stands); `""` for a
    /// message handled without one.
    pub async fn add_mail_message(
        &self,
        ws: &WorkspaceId,
        message_id: &str,
        ticket: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql =
            "INSERT INTO mail_messages (workspace_id, message_id, ticket_key, created_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (workspace_id, message_id) DO NOTHING";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(message_id)
            .bind(ticket)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The ticket whose thread `message_id` is in (a message left alone has none).
    pub async fn mail_thread(&self, ws: &WorkspaceId, message_id: &str) -> Result<Option<String>> {
        let sql =
            "SELECT ticket_key FROM mail_messages WHERE workspace_id = $1 AND message_id = $2 AND ticket_key <> ''";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(message_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Whether `message_id` was handled (made a ticket or a comment, or was left alone).
    pub async fn mail_handled(&self, ws: &WorkspaceId, message_id: &str) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM mail_messages WHERE workspace_id = $1 AND message_id = $2";
        let n: i64 =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(message_id).fetch_one(pool).await)?;
        Ok(n > 0)
    }
}
