//! The built-in board: tickets, their status history and comments.

use super::{decode, on_pool, on_tx, Result, Store, StoreError, StoreTx, WorkspaceId};
use crate::board::{Comment, NewTicket, Source, Status, Ticket, TicketKey, Transition};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::sync::LazyLock;

/// Which tickets to list; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub project: Option<String>,
    pub assignee: Option<String>,
    pub statuses: Vec<Status>,
}

#[derive(sqlx::FromRow)]
struct TicketRow {
    key: String,
    project_key: String,
    title: String,
    description: String,
    status: String,
    priority: String,
    labels: Json<Vec<String>>,
    assignee: Option<String>,
    reporter: Option<String>,
    epic: Option<String>,
    parent_key: Option<String>,
    estimate: Option<f64>,
    source_tracker: Option<String>,
    external_id: Option<String>,
    url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TicketRow {
    fn into_ticket(self) -> Result<Ticket> {
        Ok(Ticket {
            key: decode("tickets.key", &self.key)?,
            status: decode("tickets.status", &self.status)?,
            priority: decode("tickets.priority", &self.priority)?,
            parent: self.parent_key.as_deref().map(|k| decode("tickets.parent_key", k)).transpose()?,
            project: self.project_key,
            title: self.title,
            description: self.description,
            labels: self.labels.0,
            assignee: self.assignee,
            reporter: self.reporter,
            epic: self.epic,
            estimate: self.estimate,
            source: Source { tracker: self.source_tracker, external_id: self.external_id, url: self.url },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TransitionRow {
    key: String,
    from_status: Option<String>,
    to_status: String,
    actor: String,
    reason: Option<String>,
    at: DateTime<Utc>,
}

impl TransitionRow {
    fn into_transition(self) -> Result<Transition> {
        Ok(Transition {
            ticket: decode("tickets.key", &self.key)?,
            from: self.from_status.as_deref().map(|s| decode("ticket_transitions.from_status", s)).transpose()?,
            to: decode("ticket_transitions.to_status", &self.to_status)?,
            actor: self.actor,
            reason: self.reason,
            at: self.at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    key: String,
    author: String,
    body: String,
    created_at: DateTime<Utc>,
}

impl CommentRow {
    fn into_comment(self) -> Result<Comment> {
        Ok(Comment {
            id: self.id,
            ticket: decode("tickets.key", &self.key)?,
            author: self.author,
            body: self.body,
            created_at: self.created_at,
        })
    }
}

const TICKET_COLUMNS: &str = "key, project_key, title, description, status, priority, labels, assignee, \
     reporter, epic, parent_key, estimate, source_tracker, external_id, url, created_at, updated_at";

static TICKET_BY_KEY: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE workspace_id = $1 AND key = $2"));

static TICKET_BY_SOURCE: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE workspace_id = $1 AND source_tracker = $2 AND external_id = $3")
});

const COMMENTS_OF_TICKET: &str = "SELECT c.id, t.key, c.author, c.body, c.created_at FROM comments c \
     JOIN tickets t ON t.id = c.ticket_id WHERE c.workspace_id = $1 AND t.key = $2 ORDER BY c.created_at, c.id";

const NEXT_NUMBER: &str = "UPDATE projects SET next_ticket_number = next_ticket_number + 1 \
     WHERE workspace_id = $1 AND key = $2 RETURNING next_ticket_number - 1";

const BUMP_NUMBER: &str = "UPDATE projects SET next_ticket_number = CASE WHEN next_ticket_number > $3 \
     THEN next_ticket_number ELSE $3 END WHERE workspace_id = $1 AND key = $2";

const INSERT_TICKET: &str = "INSERT INTO tickets (workspace_id, key, project_key, title, description, status, \
     priority, labels, assignee, reporter, epic, parent_key, estimate, source_tracker, external_id, url, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) \
     RETURNING id";

const INSERT_TRANSITION: &str = "INSERT INTO ticket_transitions (workspace_id, ticket_id, from_status, to_status, \
     actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// A no-op write that returns the row: it takes the row lock on PostgreSQL and the write
/// lock on SQLite before the transaction reads, so concurrent changes serialise.
const LOCK_TICKET: &str = "UPDATE tickets SET updated_at = updated_at WHERE workspace_id = $1 AND key = $2 \
     RETURNING id, status";

const TRANSITION_SELECT: &str = "SELECT t.key, h.from_status, h.to_status, h.actor, h.reason, h.at \
     FROM ticket_transitions h JOIN tickets t ON t.id = h.ticket_id";

impl Store {
    /// Puts a ticket on the board with the next key of its project, recording its first status.
    pub async fn create_ticket(
        &self,
        ws: &WorkspaceId,
        new: &NewTicket,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Ticket> {
        let mut tx = self.begin().await?;
        let key = tx.create_ticket(ws, new, actor, at).await?;
        tx.commit().await?;
        self.ticket(ws, &key).await
    }

    /// The ticket, or `UnknownTicket`.
    pub async fn ticket(&self, ws: &WorkspaceId, key: &TicketKey) -> Result<Ticket> {
        let sql = TICKET_BY_KEY.as_str();
        let row: Option<TicketRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(key.as_str()).fetch_optional(pool).await)?;
        row.ok_or_else(|| StoreError::UnknownTicket(key.clone()))?.into_ticket()
    }

    /// Tickets matching `filter`, most urgent first, then oldest first.
    pub async fn tickets(&self, ws: &WorkspaceId, filter: &TicketFilter) -> Result<Vec<Ticket>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE workspace_id = $1 \
             AND ($2 IS NULL OR project_key = $2) AND ($3 IS NULL OR assignee = $3) ORDER BY id"
        );
        let rows: Vec<TicketRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(&filter.project)
            .bind(&filter.assignee)
            .fetch_all(pool)
            .await)?;
        let mut tickets = rows
            .into_iter()
            .map(TicketRow::into_ticket)
            .filter(|t| t.as_ref().map_or(true, |t| filter.statuses.is_empty() || filter.statuses.contains(&t.status)))
            .collect::<Result<Vec<_>>>()?;
        tickets.sort_by_key(|t| (t.priority.rank(), t.created_at));
        Ok(tickets)
    }

    /// Tickets changed at or after `since` (created, moved, edited, commented on).
    pub async fn tickets_changed_since(&self, ws: &WorkspaceId, since: DateTime<Utc>) -> Result<Vec<Ticket>> {
        let sql =
            format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE workspace_id = $1 AND updated_at >= $2 ORDER BY id");
        let rows: Vec<TicketRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(since).fetch_all(pool).await)?;
        rows.into_iter().map(TicketRow::into_ticket).collect()
    }

    /// Moves a ticket and records the transition; moving to its current status is an error
    /// that changes nothing.
    pub async fn move_ticket(
        &self,
        ws: &WorkspaceId,
        key: &TicketKey,
        to: Status,
        actor: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Transition> {
        let mut tx = self.begin().await?;
        let moved = tx.move_ticket(ws, key, to, actor, reason, at).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Sets (or with `None` clears) the assignee, who must be on the team.
    pub async fn assign_ticket(
        &self,
        ws: &WorkspaceId,
        key: &TicketKey,
        assignee: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Ticket> {
        let mut tx = self.begin().await?;
        tx.assign_ticket(ws, key, assignee, at).await?;
        tx.commit().await?;
        self.ticket(ws, key).await
    }

    /// Adds a comment and counts it as activity on the ticket.
    pub async fn add_comment(
        &self,
        ws: &WorkspaceId,
        key: &TicketKey,
        author: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Comment> {
        let mut tx = self.begin().await?;
        let comment = tx.add_comment(ws, key, author, body, at).await?;
        tx.commit().await?;
        Ok(comment)
    }

    /// The ticket made from `external_id` of `tracker` (e.g. a chat message), if any.
    pub async fn ticket_from(&self, ws: &WorkspaceId, tracker: &str, external_id: &str) -> Result<Option<Ticket>> {
        let sql = TICKET_BY_SOURCE.as_str();
        let row: Option<TicketRow> = on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(external_id)
            .fetch_optional(pool)
            .await)?;
        row.map(TicketRow::into_ticket).transpose()
    }

    /// Sets (or with `None` clears) the ticket's epic.
    pub async fn set_epic(
        &self,
        ws: &WorkspaceId,
        key: &TicketKey,
        epic: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.set_epic(ws, key, epic, at).await?;
        tx.commit().await
    }

    /// Removes a comment (an undone automatic comment); `false` when it was gone already.
    pub async fn delete_comment(&self, ws: &WorkspaceId, id: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = tx.delete_comment(ws, id).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The newest `limit` comments of open tickets, newest first: `(ticket key, body)`.
    pub async fn recent_comments(&self, ws: &WorkspaceId, limit: i64) -> Result<Vec<(String, String)>> {
        let sql = "SELECT t.key, c.body FROM comments c JOIN tickets t ON t.id = c.ticket_id \
                   WHERE c.workspace_id = $1 AND t.status NOT IN ('done', 'cancelled') \
                   ORDER BY c.created_at DESC, c.id DESC LIMIT $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(limit).fetch_all(pool).await)?)
    }

    /// Every comment made at or after `since`, newest first.
    pub async fn comments_since(&self, ws: &WorkspaceId, since: DateTime<Utc>) -> Result<Vec<Comment>> {
        let sql =
            "SELECT c.id, t.key, c.author, c.body, c.created_at FROM comments c JOIN tickets t ON t.id = c.ticket_id \
                   WHERE c.workspace_id = $1 AND c.created_at >= $2 ORDER BY c.created_at DESC, c.id DESC";
        let rows: Vec<CommentRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(since).fetch_all(pool).await)?;
        rows.into_iter().map(CommentRow::into_comment).collect()
    }

    /// A ticket's comments, oldest first.
    pub async fn comments(&self, ws: &WorkspaceId, key: &TicketKey) -> Result<Vec<Comment>> {
        let sql = COMMENTS_OF_TICKET;
        let rows: Vec<CommentRow> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(ws.as_str()).bind(key.as_str()).fetch_all(pool).await)?;
        rows.into_iter().map(CommentRow::into_comment).collect()
    }

    /// A ticket's status history, oldest first.
    pub async fn history(&self, ws: &WorkspaceId, key: &TicketKey) -> Result<Vec<Transition>> {
        let sql = format!("{TRANSITION_SELECT} WHERE h.workspace_id = $1 AND t.key = $2 ORDER BY h.at, h.id");
        let rows: Vec<TransitionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(key.as_str()).fetch_all(pool).await)?;
        rows.into_iter().map(TransitionRow::into_transition).collect()
    }

    /// Every transition on the board at or after `since`, oldest first.
    pub async fn transitions_since(&self, ws: &WorkspaceId, since: DateTime<Utc>) -> Result<Vec<Transition>> {
        let sql = format!("{TRANSITION_SELECT} WHERE h.workspace_id = $1 AND h.at >= $2 ORDER BY h.at, h.id");
        let rows: Vec<TransitionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(since).fetch_all(pool).await)?;
        rows.into_iter().map(TransitionRow::into_transition).collect()
    }
}

impl StoreTx {
    /// Creates the ticket inside this transaction and returns its key.
    pub async fn create_ticket(
        &mut self,
        ws: &WorkspaceId,
        new: &NewTicket,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<TicketKey> {
        if let Some(assignee) = &new.assignee {
            self.require_person(ws, assignee).await?;
        }
        let number: Option<i64> = on_tx!(self, |conn| sqlx::query_scalar(NEXT_NUMBER)
            .bind(ws.as_str())
            .bind(&new.project)
            .fetch_optional(&mut *conn)
            .await)?;
        let key = TicketKey::new(&new.project, number.ok_or_else(|| StoreError::UnknownProject(new.project.clone()))?);
        self.insert_ticket(ws, &key, new, actor, at).await?;
        Ok(key)
    }

    /// Puts a ticket on the board under the key it has elsewhere (a tracker's `ENG-12`): the
    /// project's own numbering moves past it, so a ticket made here later never takes it.
    pub async fn create_ticket_keyed(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        new: &NewTicket,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let number: i64 = key.as_str().rsplit_once('-').and_then(|(_, n)| n.parse().ok()).unwrap_or(0);
        let bumped = on_tx!(self, |conn| sqlx::query(BUMP_NUMBER)
            .bind(ws.as_str())
            .bind(&new.project)
            .bind(number + 1)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if bumped == 0 {
            return Err(StoreError::UnknownProject(new.project.clone()));
        }
        self.insert_ticket(ws, key, new, actor, at).await
    }

    async fn insert_ticket(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        new: &NewTicket,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, |conn| {
            let id: i64 = sqlx::query_scalar(INSERT_TICKET)
                .bind(ws.as_str())
                .bind(key.as_str())
                .bind(&new.project)
                .bind(&new.title)
                .bind(&new.description)
                .bind(new.status.as_str())
                .bind(new.priority.as_str())
                .bind(Json(&new.labels))
                .bind(&new.assignee)
                .bind(&new.reporter)
                .bind(&new.epic)
                .bind(new.parent.as_ref().map(TicketKey::as_str))
                .bind(new.estimate)
                .bind(&new.source.tracker)
                .bind(&new.source.external_id)
                .bind(&new.source.url)
                .bind(at)
                .fetch_one(&mut *conn)
                .await?;
            sqlx::query(INSERT_TRANSITION)
                .bind(ws.as_str())
                .bind(id)
                .bind(None::<&str>)
                .bind(new.status.as_str())
                .bind(actor)
                .bind(None::<&str>)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// The ticket, locked until this transaction ends (see `LOCK_TICKET`).
    pub async fn lock_ticket(&mut self, ws: &WorkspaceId, key: &TicketKey) -> Result<Ticket> {
        let locked: Option<(i64, String)> = on_tx!(self, |conn| sqlx::query_as(LOCK_TICKET)
            .bind(ws.as_str())
            .bind(key.as_str())
            .fetch_optional(&mut *conn)
            .await)?;
        locked.ok_or_else(|| StoreError::UnknownTicket(key.clone()))?;
        self.ticket(ws, key).await
    }

    pub async fn ticket(&mut self, ws: &WorkspaceId, key: &TicketKey) -> Result<Ticket> {
        let sql = TICKET_BY_KEY.as_str();
        let row: Option<TicketRow> = on_tx!(self, |conn| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(key.as_str())
            .fetch_optional(&mut *conn)
            .await)?;
        row.ok_or_else(|| StoreError::UnknownTicket(key.clone()))?.into_ticket()
    }

    /// The ticket made from `external_id` of `tracker`, if any.
    pub async fn ticket_from(&mut self, ws: &WorkspaceId, tracker: &str, external_id: &str) -> Result<Option<Ticket>> {
        let sql = TICKET_BY_SOURCE.as_str();
        let row: Option<TicketRow> = on_tx!(self, |conn| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(tracker)
            .bind(external_id)
            .fetch_optional(&mut *conn)
            .await)?;
        row.map(TicketRow::into_ticket).transpose()
    }

    /// Moves the ticket and records the transition; to its current status, `AlreadyInStatus`.
    pub async fn move_ticket(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        to: Status,
        actor: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Transition> {
        let locked: Option<(i64, String)> = on_tx!(self, |conn| sqlx::query_as(LOCK_TICKET)
            .bind(ws.as_str())
            .bind(key.as_str())
            .fetch_optional(&mut *conn)
            .await)?;
        let (id, from) = locked.ok_or_else(|| StoreError::UnknownTicket(key.clone()))?;
        let from: Status = decode("tickets.status", &from)?;
        if from == to {
            return Err(StoreError::AlreadyInStatus { key: key.clone(), status: to });
        }
        on_tx!(self, |conn| {
            sqlx::query("UPDATE tickets SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(to.as_str())
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(INSERT_TRANSITION)
                .bind(ws.as_str())
                .bind(id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(actor)
                .bind(reason)
                .bind(at)
                .execute(&mut *conn)
                .await?;
        });
        Ok(Transition {
            ticket: key.clone(),
            from: Some(from),
            to,
            actor: actor.to_string(),
            reason: reason.map(str::to_string),
            at,
        })
    }

    /// Sets (or with `None` clears) the assignee, who must be on the team.
    pub async fn assign_ticket(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        assignee: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(handle) = assignee {
            self.require_person(ws, handle).await?;
        }
        self.set_text_field(ws, key, "assignee", assignee, at).await
    }

    /// Sets (or with `None` clears) the ticket's epic.
    pub async fn set_epic(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        epic: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.set_text_field(ws, key, "epic", epic, at).await
    }

    /// Sets one of the ticket's text columns (a name from this file, never user input).
    async fn set_text_field(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        column: &'static str,
        value: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = format!("UPDATE tickets SET {column} = $1, updated_at = $2 WHERE workspace_id = $3 AND key = $4");
        let done = on_tx!(self, |conn| sqlx::query(&sql)
            .bind(value)
            .bind(at)
            .bind(ws.as_str())
            .bind(key.as_str())
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::UnknownTicket(key.clone()));
        }
        Ok(())
    }

    /// Adds a comment and counts it as activity on the ticket.
    pub async fn add_comment(
        &mut self,
        ws: &WorkspaceId,
        key: &TicketKey,
        author: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<Comment> {
        let id: i64 = on_tx!(self, |conn| {
            // Touching the ticket first also takes its lock (see LOCK_TICKET).
            let ticket_id: Option<i64> = sqlx::query_scalar(
                "UPDATE tickets SET updated_at = $3 WHERE workspace_id = $1 AND key = $2 RETURNING id",
            )
            .bind(ws.as_str())
            .bind(key.as_str())
            .bind(at)
            .fetch_optional(&mut *conn)
            .await?;
            let ticket_id = ticket_id.ok_or_else(|| StoreError::UnknownTicket(key.clone()))?;
            sqlx::query_scalar(
                "INSERT INTO comments (workspace_id, ticket_id, author, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(ws.as_str())
            .bind(ticket_id)
            .bind(author)
            .bind(body)
            .bind(at)
            .fetch_one(&mut *conn)
            .await?
        });
        Ok(Comment { id, ticket: key.clone(), author: author.to_string(), body: body.to_string(), created_at: at })
    }

    /// A ticket's comments, oldest first.
    pub async fn comments(&mut self, ws: &WorkspaceId, key: &TicketKey) -> Result<Vec<Comment>> {
        let sql = COMMENTS_OF_TICKET;
        let rows: Vec<CommentRow> =
            on_tx!(self, |conn| sqlx::query_as(sql).bind(ws.as_str()).bind(key.as_str()).fetch_all(&mut *conn).await)?;
        rows.into_iter().map(CommentRow::into_comment).collect()
    }

    /// Removes a comment; `false` when it was gone already.
    pub async fn delete_comment(&mut self, ws: &WorkspaceId, id: i64) -> Result<bool> {
        let sql = "DELETE FROM comments WHERE workspace_id = $1 AND id = $2";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn require_person(&mut self, ws: &WorkspaceId, handle: &str) -> Result<()> {
        let sql = "SELECT COUNT(*) FROM people WHERE workspace_id = $1 AND handle = $2 AND active = TRUE";
        let count: i64 =
            on_tx!(self, |conn| sqlx::query_scalar(sql).bind(ws.as_str()).bind(handle).fetch_one(&mut *conn).await)?;
        if count == 0 {
            return Err(StoreError::UnknownPerson(handle.to_string()));
        }
        Ok(())
    }
}
