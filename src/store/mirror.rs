//! The board as a mirror of a real tracker: where each project's sync stands, and what each
//! tracker item became on the board (with the tracker's own clock for it).

use super::{on_pool, on_tx, Result, Store, StoreError, StoreTx, WorkspaceId};
use crate::board::{Priority, TicketKey};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

/// Where a project's sync stands.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct SyncPosition {
    pub tracker: String,
    /// Items updated at or after this were not all read yet (the last finished run began here).
    pub since: Option<DateTime<Utc>>,
    /// The run under way: the `since` it reads from, when it began, the tracker's cursor after
    /// its last committed page, and how many items it has committed.
    pub run_since: Option<DateTime<Utc>>,
    pub run_started: Option<DateTime<Utc>>,
    pub page_cursor: Option<String>,
    pub run_items: i64,
    /// Why syncing is paused (credentials refused), and a fingerprint of the key refused.
    pub paused: Option<String>,
    pub paused_key: Option<String>,
}

/// What a tracker item became on the board.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MirrorItem {
    /// The ticket's key for an issue, the comment's id for a comment.
    pub local_ref: String,
    pub remote_updated_at: DateTime<Utc>,
    pub remote_status: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Which kind of tracker item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Issue,
    Comment,
}

impl ItemKind {
    fn as_str(self) -> &'static str {
        match self {
            ItemKind::Issue => "issue",
            ItemKind::Comment => "comment",
        }
    }
}

/// A mirrored ticket's fields as the tracker has them now (its status moves separately, with
/// a transition).
#[derive(Debug, Clone, PartialEq)]
pub struct MirroredFields {
    pub title: String,
    pub description: String,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub epic: Option<String>,
    pub parent: Option<TicketKey>,
    pub estimate: Option<f64>,
    pub url: Option<String>,
}

const POSITION_COLUMNS: &str = "tracker, since, run_since, run_started, page_cursor, run_items, paused, paused_key";

const ITEM_SELECT: &str = "SELECT local_ref, remote_updated_at, remote_status, deleted_at FROM tracker_items \
     WHERE workspace_id = $1 AND tracker = $2 AND kind = $3 AND external_id = $4";

const SAVE_POSITION: &str = "INSERT INTO tracker_syncs (workspace_id, project_key, tracker, since, run_since, \
     run_started, page_cursor, run_items, paused, paused_key, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (workspace_id, project_key) DO UPDATE SET \
     tracker = excluded.tracker, since = excluded.since, run_since = excluded.run_since, \
     run_started = excluded.run_started, page_cursor = excluded.page_cursor, run_items = excluded.run_items, \
     paused = excluded.paused, paused_key = excluded.paused_key, updated_at = excluded.updated_at";

impl Store {
    /// Where `project`'s sync stands (`None`: it never ran).
    pub async fn sync_position(&self, ws: &WorkspaceId, project: &str) -> Result<Option<SyncPosition>> {
        let sql = format!("SELECT {POSITION_COLUMNS} FROM tracker_syncs WHERE workspace_id = $1 AND project_key = $2");
        on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(project).fetch_optional(pool).await)
            .map_err(StoreError::from)
    }

    /// Keeps where `project`'s sync stands.
    pub async fn save_sync_position(
        &self,
        ws: &WorkspaceId,
        project: &str,
        position: &SyncPosition,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.save_sync_position(ws, project, position, at).await?;
        tx.commit().await
    }

    /// What `external_id` of `tracker` became on the board, if anything.
    pub async fn mirror_item(
        &self,
        ws: &WorkspaceId,
        tracker: &str,
        kind: ItemKind,
        external_id: &str,
    ) -> Result<Option<MirrorItem>> {
        on_pool!(self, |pool| sqlx::query_as(ITEM_SELECT)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(kind.as_str())
            .bind(external_id)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::from)
    }

    /// The tracker's status names seen on `project`'s issues, with how many issues are in each.
    pub async fn remote_statuses(&self, ws: &WorkspaceId, tracker: &str, project: &str) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT remote_status, COUNT(*) FROM tracker_items WHERE workspace_id = $1 AND tracker = $2 \
                   AND project_key = $3 AND kind = 'issue' AND remote_status IS NOT NULL AND deleted_at IS NULL \
                   GROUP BY remote_status ORDER BY remote_status";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(tracker).bind(project).fetch_all(pool).await)
            .map_err(StoreError::from)
    }

    /// How many items of `kind` the board mirrors from `tracker`.
    pub async fn mirrored_count(&self, ws: &WorkspaceId, tracker: &str, kind: ItemKind) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM tracker_items WHERE workspace_id = $1 AND tracker = $2 AND kind = $3";
        on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(kind.as_str())
            .fetch_one(pool)
            .await)
        .map_err(StoreError::from)
    }
}

impl Store {
    /// Takes `project`'s sync lease until `until` unless another run holds it; `false` when one does.
    pub async fn claim_sync(
        &self,
        ws: &WorkspaceId,
        project: &str,
        tracker: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let ensure = "INSERT INTO tracker_syncs (workspace_id, project_key, tracker, run_items, updated_at) \
                      VALUES ($1, $2, $3, 0, $4) ON CONFLICT (workspace_id, project_key) DO NOTHING";
        on_tx!(tx, |conn| sqlx::query(ensure)
            .bind(ws.as_str())
            .bind(project)
            .bind(tracker)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        let claim = "UPDATE tracker_syncs SET lease_until = $3, updated_at = $4 WHERE workspace_id = $1 \
                     AND project_key = $2 AND (lease_until IS NULL OR lease_until < $4)";
        let claimed = on_tx!(tx, |conn| sqlx::query(claim)
            .bind(ws.as_str())
            .bind(project)
            .bind(until)
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(claimed == 1)
    }

    /// Gives the lease back (the run is over, finished or not).
    pub async fn release_sync(&self, ws: &WorkspaceId, project: &str) -> Result<()> {
        let sql = "UPDATE tracker_syncs SET lease_until = NULL WHERE workspace_id = $1 AND project_key = $2";
        on_pool!(self, |pool| sqlx::query(sql).bind(ws.as_str()).bind(project).execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

/// Someone seen in a tracker's data whom no person's ids match.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UnknownPerson {
    pub source: String,
    pub external_id: String,
    pub name: String,
    pub seen: i64,
    pub last_seen: DateTime<Utc>,
}

impl Store {
    /// Everyone seen in the data whom no person's ids match, most seen first.
    pub async fn unknown_people(&self, ws: &WorkspaceId) -> Result<Vec<UnknownPerson>> {
        let sql = "SELECT source, external_id, name, seen, last_seen FROM unknown_people WHERE workspace_id = $1 \
                   ORDER BY seen DESC, source, external_id";
        on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await).map_err(StoreError::from)
    }
}

impl StoreTx {
    /// Counts `seen` more sightings of an id that maps to nobody.
    pub async fn note_unknown_person(
        &mut self,
        ws: &WorkspaceId,
        source: &str,
        external_id: &str,
        name: &str,
        seen: i64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "INSERT INTO unknown_people (workspace_id, source, external_id, name, seen, last_seen) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET \
                   name = excluded.name, seen = unknown_people.seen + excluded.seen, last_seen = excluded.last_seen";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(source)
            .bind(external_id)
            .bind(name)
            .bind(seen)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Renews `project`'s sync lease with the page being committed.
    pub async fn renew_sync(&mut self, ws: &WorkspaceId, project: &str, until: DateTime<Utc>) -> Result<()> {
        let sql = "UPDATE tracker_syncs SET lease_until = $3 WHERE workspace_id = $1 AND project_key = $2";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(project)
            .bind(until)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn save_sync_position(
        &mut self,
        ws: &WorkspaceId,
        project: &str,
        p: &SyncPosition,
        at: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, |conn| sqlx::query(SAVE_POSITION)
            .bind(ws.as_str())
            .bind(project)
            .bind(&p.tracker)
            .bind(p.since)
            .bind(p.run_since)
            .bind(p.run_started)
            .bind(&p.page_cursor)
            .bind(p.run_items)
            .bind(&p.paused)
            .bind(&p.paused_key)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn mirror_item(
        &mut self,
        ws: &WorkspaceId,
        tracker: &str,
        kind: ItemKind,
        external_id: &str,
    ) -> Result<Option<MirrorItem>> {
        on_tx!(self, |conn| sqlx::query_as(ITEM_SELECT)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(kind.as_str())
            .bind(external_id)
            .fetch_optional(&mut *conn)
            .await)
        .map_err(StoreError::from)
    }

    /// Records (or brings up to date) what `external_id` became on the board.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_mirror_item(
        &mut self,
        ws: &WorkspaceId,
        tracker: &str,
        kind: ItemKind,
        external_id: &str,
        project: &str,
        local_ref: &str,
        remote_updated_at: DateTime<Utc>,
        remote_status: Option<&str>,
    ) -> Result<()> {
        let sql = "INSERT INTO tracker_items (workspace_id, tracker, kind, external_id, project_key, local_ref, \
                   remote_updated_at, remote_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (workspace_id, tracker, kind, external_id) DO UPDATE SET \
                   remote_updated_at = excluded.remote_updated_at, remote_status = excluded.remote_status \
                   WHERE tracker_items.remote_updated_at <= excluded.remote_updated_at";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(kind.as_str())
            .bind(external_id)
            .bind(project)
            .bind(local_ref)
            .bind(remote_updated_at)
            .bind(remote_status)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks an item deleted on the tracker (kept on the board, said so).
    pub async fn mark_mirror_deleted(
        &mut self,
        ws: &WorkspaceId,
        tracker: &str,
        kind: ItemKind,
        external_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "UPDATE tracker_items SET deleted_at = $5 WHERE workspace_id = $1 AND tracker = $2 AND kind = $3 \
                   AND external_id = $4 AND deleted_at IS NULL";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(kind.as_str())
            .bind(external_id)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Sets a mirrored ticket's fields to the tracker's.
    pub async fn update_mirrored_ticket(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        f: &MirroredFields,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE tickets SET title = $3, description = $4, priority = $5, labels = $6, assignee = $7, \
                   epic = $8, parent_key = $9, estimate = $10, url = $11, updated_at = $12 \
                   WHERE workspace_id = $1 AND key = $2";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(key.as_str())
            .bind(&f.title)
            .bind(&f.description)
            .bind(f.priority.as_str())
            .bind(Json(&f.labels))
            .bind(&f.assignee)
            .bind(&f.epic)
            .bind(f.parent.as_ref().map(TicketKey::as_str))
            .bind(f.estimate)
            .bind(&f.url)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::UnknownTicket(key.clone()));
        }
        Ok(())
    }
}
