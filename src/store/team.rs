//! Workspaces, people and projects: synced from `pmbot.toml` at start-up.

use super::{decode, on_pool, Result, Store, WorkspaceId};
use crate::board::{Person, Project};
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct PersonRow {
    handle: String,
    display_name: String,
    role: String,
    timezone: String,
    slack_id: Option<String>,
    discord_id: Option<String>,
    tracker_id: Option<String>,
    time_tracking_id: Option<String>,
}

impl PersonRow {
    fn into_person(self) -> Result<Person> {
        Ok(Person {
            role: decode("people.role", &self.role)?,
            timezone: decode("people.timezone", &self.timezone)?,
            handle: self.handle,
            display_name: self.display_name,
            slack_id: self.slack_id,
            discord_id: self.discord_id,
            tracker_id: self.tracker_id,
            time_tracking_id: self.time_tracking_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ProjectRow {
    key: String,
    name: String,
    kind: String,
    retainer_hours: Option<f64>,
    hourly_rate: Option<f64>,
    channel: Option<String>,
    pm: Option<String>,
}

const LOCK_WORKSPACE: &str = "UPDATE workspaces SET updated_at = updated_at WHERE id = $1";

const UPSERT_PERSON: &str = "INSERT INTO people (workspace_id, handle, display_name, role, timezone, slack_id, \
     discord_id, tracker_id, time_tracking_id, active, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, TRUE, $10, $10) \
     ON CONFLICT (workspace_id, handle) DO UPDATE SET display_name = excluded.display_name, \
     role = excluded.role, timezone = excluded.timezone, slack_id = excluded.slack_id, \
     discord_id = excluded.discord_id, tracker_id = excluded.tracker_id, \
     time_tracking_id = excluded.time_tracking_id, active = TRUE, updated_at = excluded.updated_at";

const UPSERT_PROJECT: &str = "INSERT INTO projects (workspace_id, key, name, kind, retainer_hours, hourly_rate, \
     channel, pm, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $9) \
     ON CONFLICT (workspace_id, key) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
     retainer_hours = excluded.retainer_hours, hourly_rate = excluded.hourly_rate, \
     channel = excluded.channel, pm = excluded.pm, active = TRUE, updated_at = excluded.updated_at";

impl Store {
    /// Creates the workspace if it does not exist yet.
    pub async fn ensure_workspace(&self, ws: &WorkspaceId, name: &str, now: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                   ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at";
        on_pool!(self, |pool| sqlx::query(sql).bind(ws.as_str()).bind(name).bind(now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Makes the workspace's active people exactly `people`; people no longer listed are
    /// kept (their tickets still name them) but marked inactive.
    pub async fn sync_people(&self, ws: &WorkspaceId, people: &[Person], now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Several processes start at once (replicas, workers): take the workspace row's
            // lock first so their syncs run one after another instead of deadlocking.
            sqlx::query(LOCK_WORKSPACE).bind(ws.as_str()).execute(&mut *tx).await?;
            sqlx::query("UPDATE people SET active = FALSE WHERE workspace_id = $1")
                .bind(ws.as_str())
                .execute(&mut *tx)
                .await?;
            for p in people {
                sqlx::query(UPSERT_PERSON)
                    .bind(ws.as_str())
                    .bind(&p.handle)
                    .bind(&p.display_name)
                    .bind(p.role.as_str())
                    .bind(p.timezone.name())
                    .bind(&p.slack_id)
                    .bind(&p.discord_id)
                    .bind(&p.tracker_id)
                    .bind(&p.time_tracking_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Like [`Store::sync_people`], for projects.
    pub async fn sync_projects(&self, ws: &WorkspaceId, projects: &[Project], now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Several processes start at once (replicas, workers): take the workspace row's
            // lock first so their syncs run one after another instead of deadlocking.
            sqlx::query(LOCK_WORKSPACE).bind(ws.as_str()).execute(&mut *tx).await?;
            sqlx::query("UPDATE projects SET active = FALSE WHERE workspace_id = $1")
                .bind(ws.as_str())
                .execute(&mut *tx)
                .await?;
            for p in projects {
                sqlx::query(UPSERT_PROJECT)
                    .bind(ws.as_str())
                    .bind(&p.key)
                    .bind(&p.name)
                    .bind(p.kind.as_str())
                    .bind(p.retainer_hours)
                    .bind(p.hourly_rate)
                    .bind(&p.channel)
                    .bind(&p.pm)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The workspace's active people, by handle.
    pub async fn people(&self, ws: &WorkspaceId) -> Result<Vec<Person>> {
        let sql = "SELECT handle, display_name, role, timezone, slack_id, discord_id, tracker_id, time_tracking_id \
                   FROM people WHERE workspace_id = $1 AND active = TRUE ORDER BY handle";
        let rows: Vec<PersonRow> = on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        rows.into_iter().map(PersonRow::into_person).collect()
    }

    /// The workspace's active projects, by key.
    pub async fn projects(&self, ws: &WorkspaceId) -> Result<Vec<Project>> {
        let sql = "SELECT key, name, kind, retainer_hours, hourly_rate, channel, pm \
                   FROM projects WHERE workspace_id = $1 AND active = TRUE ORDER BY key";
        let rows: Vec<ProjectRow> = on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| {
                Ok(Project {
                    kind: decode("projects.kind", &r.kind)?,
                    key: r.key,
                    name: r.name,
                    retainer_hours: r.retainer_hours,
                    hourly_rate: r.hourly_rate,
                    channel: r.channel,
                    pm: r.pm,
                })
            })
            .collect()
    }
}
