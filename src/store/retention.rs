//! Pruning by age, for every workspace: what the retention job deletes.

use super::{on_tx, Result, Store};
use chrono::{DateTime, Utc};

/// Rows older than these instants go.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    pub chat_messages: DateTime<Utc>,
    pub decisions: DateTime<Utc>,
    pub approvals: DateTime<Utc>,
    pub agent_sends: DateTime<Utc>,
    pub reports: DateTime<Utc>,
}

/// How many rows each prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub chat_messages: u64,
    pub decisions: u64,
    pub approvals: u64,
    pub agent_sends: u64,
    pub reports: u64,
    /// What intake keeps to thread and answer (mail threads, closed pull requests' and
    /// resolved alerts' links, reporters), past the decision log's age: that record is gone too.
    pub intake: u64,
}

impl Store {
    /// Deletes what is older than its cutoff. Pending approvals stay (a job waits on them),
    /// and so do the epics agent's "Skip" marks (a person's choice, not a message).
    pub async fn prune_retained(&self, cut: &Cutoffs) -> Result<Pruned> {
        // One transaction per table, so on SQLite each takes this process's writer turn
        // rather than racing the other writers for the file lock.
        let delete = |sql: &'static str, before: DateTime<Utc>| async move {
            let mut tx = self.begin().await?;
            let done =
                on_tx!(tx, |conn| sqlx::query(sql).bind(before).execute(&mut *conn).await.map(|r| r.rows_affected()))?;
            tx.commit().await?;
            Ok::<u64, super::StoreError>(done)
        };
        Ok(Pruned {
            chat_messages: delete("DELETE FROM chat_messages WHERE created_at < $1", cut.chat_messages).await?,
            decisions: delete("DELETE FROM decisions WHERE created_at < $1", cut.decisions).await?,
            approvals: delete(
                "DELETE FROM approvals WHERE state <> 'pending' AND updated_at < $1 \
                 AND id NOT IN (SELECT approval_id FROM jobs WHERE state = 'awaiting' AND approval_id IS NOT NULL)",
                cut.approvals,
            )
            .await?,
            agent_sends: delete(
                "DELETE FROM agent_sends WHERE sent_at < $1 AND key NOT LIKE 'epics:skip:%'",
                cut.agent_sends,
            )
            .await?,
            reports: delete("DELETE FROM reports WHERE created_at < $1", cut.reports).await?,
            intake: delete("DELETE FROM mail_messages WHERE created_at < $1", cut.decisions).await?
                + delete("DELETE FROM github_links WHERE state <> 'open' AND updated_at < $1", cut.decisions).await?
                + delete("DELETE FROM alert_links WHERE NOT firing AND updated_at < $1", cut.decisions).await?
                + delete("DELETE FROM reporters WHERE created_at < $1", cut.decisions).await?,
        })
    }
}
