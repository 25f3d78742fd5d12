//! Chat messages the bot has seen, stored once per platform message.

use super::{on_pool, on_tx, Result, Store, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ChatMessageSeen {
    pub platform: String,
    pub channel: String,
    pub user_id: String,
    /// The platform's message id (Slack `ts`).
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Said in a private channel or a DM: never quoted where others read.
    pub private: bool,
}

impl StoreTx {
    /// Stores the message inside this transaction; `false` when it was already stored.
    pub async fn record_message(&mut self, ws: &WorkspaceId, m: &ChatMessageSeen) -> Result<bool> {
        let sql =
            "INSERT INTO chat_messages (workspace_id, platform, channel, user_id, ts, thread_ts, text, created_at, \
                   private) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                   ON CONFLICT (workspace_id, platform, channel, ts) DO NOTHING";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&m.platform)
            .bind(&m.channel)
            .bind(&m.user_id)
            .bind(&m.ts)
            .bind(&m.thread_ts)
            .bind(m.text.replace('\0', ""))
            .bind(m.created_at)
            .bind(m.private)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}

impl Store {
    /// Stores the message; `false` when it was already stored (a redelivery).
    pub async fn record_message(&self, ws: &WorkspaceId, m: &ChatMessageSeen) -> Result<bool> {
        let mut tx = self.begin().await?;
        let stored = tx.record_message(ws, m).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The newest `limit` messages of a channel, oldest first.
    pub async fn recent_messages(&self, ws: &WorkspaceId, channel: &str, limit: i64) -> Result<Vec<ChatMessageSeen>> {
        let sql = "SELECT platform, channel, user_id, ts, thread_ts, text, created_at, private FROM chat_messages \
                   WHERE workspace_id = $1 AND channel = $2 ORDER BY created_at DESC, id DESC LIMIT $3";
        let mut rows: Vec<ChatMessageSeen> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(channel)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.reverse();
        Ok(rows)
    }

    /// The newest stored message id of each of the platform's channels, for ids that order
    /// by number (Discord's snowflakes): the longer id is the newer, then the greater.
    /// Newest channels first, at most `limit`.
    pub async fn last_message_ids(
        &self,
        ws: &WorkspaceId,
        platform: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>> {
        let sql = "SELECT channel, MAX(ts) AS ts FROM chat_messages WHERE workspace_id = $1 AND platform = $2 \
                   GROUP BY channel, LENGTH(ts)";
        let rows: Vec<(String, String)> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(platform).fetch_all(pool).await)?;
        let mut newest: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (channel, ts) in rows {
            let entry = newest.entry(channel).or_default();
            if (ts.len(), &ts) > (entry.len(), &*entry) {
                *entry = ts;
            }
        }
        let mut out: Vec<(String, String)> = newest.into_iter().collect();
        out.sort_by(|a, b| (b.1.len(), &b.1).cmp(&(a.1.len(), &a.1)));
        out.truncate(limit);
        Ok(out)
    }

    /// One stored message.
    pub async fn message(
        &self,
        ws: &WorkspaceId,
        platform: &str,
        channel: &str,
        ts: &str,
    ) -> Result<Option<ChatMessageSeen>> {
        let sql = "SELECT platform, channel, user_id, ts, thread_ts, text, created_at, private FROM chat_messages \
                   WHERE workspace_id = $1 AND platform = $2 AND channel = $3 AND ts = $4";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(platform)
            .bind(channel)
            .bind(ts)
            .fetch_optional(pool)
            .await)?)
    }

    /// A thread's messages up to and including `until` (its first message and the replies),
    /// oldest first, at most `limit` of the newest.
    pub async fn thread_messages(
        &self,
        ws: &WorkspaceId,
        platform: &str,
        channel: &str,
        thread: &str,
        limit: i64,
    ) -> Result<Vec<ChatMessageSeen>> {
        let sql = "SELECT platform, channel, user_id, ts, thread_ts, text, created_at, private FROM chat_messages \
                   WHERE workspace_id = $1 AND platform = $2 AND channel = $3 AND (ts = $4 OR thread_ts = $4) \
                   ORDER BY created_at DESC, id DESC LIMIT $5";
        let mut rows: Vec<ChatMessageSeen> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(platform)
            .bind(channel)
            .bind(thread)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.reverse();
        Ok(rows)
    }

    pub async fn message_count(&self, ws: &WorkspaceId) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM chat_messages WHERE workspace_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).fetch_one(pool).await)?)
    }
}
