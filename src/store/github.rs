//! Pull requests and issues on GitHub linked to tickets: what standups and the stuck-work
//! agent read about code review, and how an issue finds its ticket again.

use super::{on_pool, on_tx, Result, Store, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GithubLink {
    pub repo: String,
    /// `pull` or `issue`.
    pub kind: String,
    pub number: i64,
    pub ticket_key: String,
    pub title: String,
    pub url: String,
    pub author: String,
    /// `open`, `closed` or `merged`.
    pub state: String,
    pub draft: bool,
    /// The latest review's verdict: `approved` or `changes_requested`.
    pub review: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub review_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "repo, kind, number, ticket_key, title, url, author, state, draft, review, opened_at, review_at";

impl Store {
    /// Records `link` (its first `opened_at` is kept; the rest is replaced).
    pub async fn set_github_link(&self, ws: &WorkspaceId, link: &GithubLink, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.set_github_link(ws, link, at).await?;
        tx.commit().await
    }

    /// A review's verdict on every ticket pull request `number` of `repo` names.
    pub async fn set_github_review(
        &self,
        ws: &WorkspaceId,
        repo: &str,
        number: i64,
        review: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE github_links SET review = $4, review_at = $5, updated_at = $5 \
                   WHERE workspace_id = $1 AND repo = $2 AND kind = 'pull' AND number = $3";
        on_pool!(self, |pool| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(repo)
            .bind(number)
            .bind(review)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The ticket issue `number` of `repo` became.
    pub async fn github_issue(&self, ws: &WorkspaceId, repo: &str, number: i64) -> Result<Option<GithubLink>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM github_links WHERE workspace_id = $1 AND repo = $2 AND kind = 'issue' AND number = $3"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(repo)
            .bind(number)
            .fetch_optional(pool)
            .await)?)
    }

    /// What GitHub holds about `ticket`, newest first.
    pub async fn github_links_of(&self, ws: &WorkspaceId, ticket: &str) -> Result<Vec<GithubLink>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM github_links WHERE workspace_id = $1 AND ticket_key = $2 ORDER BY opened_at DESC"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(ticket).fetch_all(pool).await)?)
    }

    /// Every open pull request that names a ticket, oldest first.
    pub async fn open_pulls(&self, ws: &WorkspaceId) -> Result<Vec<GithubLink>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM github_links WHERE workspace_id = $1 AND kind = 'pull' AND state = 'open' \
             ORDER BY opened_at, number"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).fetch_all(pool).await)?)
    }
}

impl StoreTx {
    pub async fn set_github_link(&mut self, ws: &WorkspaceId, link: &GithubLink, at: DateTime<Utc>) -> Result<()> {
        let sql = "INSERT INTO github_links (workspace_id, repo, kind, number, ticket_key, title, url, author, state, \
                   draft, review, opened_at, review_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                   ON CONFLICT (workspace_id, repo, kind, number, ticket_key) DO UPDATE \
                   SET title = $6, url = $7, author = $8, state = $9, draft = $10, updated_at = $14";
        on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(&link.repo)
            .bind(&link.kind)
            .bind(link.number)
            .bind(&link.ticket_key)
            .bind(&link.title)
            .bind(&link.url)
            .bind(&link.author)
            .bind(&link.state)
            .bind(link.draft)
            .bind(&link.review)
            .bind(link.opened_at)
            .bind(link.review_at)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}
