//! Language-model use per workspace and day, against the daily token budget.

use super::{on_pool, Result, Store, WorkspaceId};

impl Store {
    /// Tokens used on `day` (`YYYY-MM-DD`).
    pub async fn llm_tokens_used(&self, ws: &WorkspaceId, day: &str) -> Result<u64> {
        let sql = "SELECT tokens FROM llm_usage WHERE workspace_id = $1 AND day = $2";
        let used: Option<i64> =
            on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).bind(day).fetch_optional(pool).await)?;
        Ok(used.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
    }

    /// Adds one call's tokens (and whether it failed) to `day`.
    pub async fn record_llm_use(&self, ws: &WorkspaceId, day: &str, tokens: u64, failed: bool) -> Result<()> {
        let sql = "INSERT INTO llm_usage (workspace_id, day, tokens, calls, failures) VALUES ($1, $2, $3, 1, $4) \
                   ON CONFLICT (workspace_id, day) DO UPDATE SET tokens = llm_usage.tokens + excluded.tokens, \
                   calls = llm_usage.calls + 1, failures = llm_usage.failures + excluded.failures";
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(day)
            .bind(tokens)
            .bind(i64::from(failed))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
