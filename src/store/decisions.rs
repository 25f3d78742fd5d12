//! The decision log: what the bot (or a person through it) decided, from what, and why.

use super::{on_pool, on_tx, Result, Store, StoreError, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    /// What sort of decision: `ticket.create`, `ticket.triage`, `conversation.match`, …
    pub kind: String,
    /// What it is about, usually a ticket key.
    pub subject: String,
    pub inputs: Value,
    pub rationale: String,
    /// 0..=1; 1 for a person's explicit choice.
    pub confidence: f64,
    pub action: String,
    pub actor: String,
    pub outcome: String,
    /// What the decision was made once for (a chat message, an answer); `None` for many.
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Decision {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    #[sqlx(json)]
    pub inputs: Value,
    pub rationale: String,
    pub confidence: f64,
    pub action: String,
    pub actor: String,
    pub outcome: String,
    pub source: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Which decisions to list; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct DecisionFilter {
    /// Kinds starting with this (`conversation.` for every conversation decision).
    pub kind_prefix: Option<String>,
    pub subject: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

const COLUMNS: &str = "id, kind, subject, inputs, rationale, confidence, action, actor, outcome, source, created_at";

impl Store {
    pub async fn log_decision(&self, ws: &WorkspaceId, d: &NewDecision, at: DateTime<Utc>) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = tx.log_decision(ws, d, at).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Logs `d` unless a decision with its `source` exists: `Ok(id)` for the new row,
    /// `Err(earlier)` with the decision made before (a job run again after a crash).
    pub async fn log_decision_once(
        &self,
        ws: &WorkspaceId,
        d: &NewDecision,
        at: DateTime<Utc>,
    ) -> Result<std::result::Result<i64, Decision>> {
        let sql = "INSERT INTO decisions (workspace_id, kind, subject, inputs, rationale, confidence, action, actor, \
                   outcome, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                   ON CONFLICT (workspace_id, source) WHERE source IS NOT NULL DO NOTHING RETURNING id";
        let inserted: Option<i64> = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(&d.kind)
            .bind(&d.subject)
            .bind(Json(&d.inputs))
            .bind(&d.rationale)
            .bind(d.confidence.clamp(0.0, 1.0))
            .bind(&d.action)
            .bind(&d.actor)
            .bind(&d.outcome)
            .bind(&d.source)
            .bind(at)
            .fetch_optional(pool)
            .await)?;
        match (inserted, &d.source) {
            (Some(id), _) => Ok(Ok(id)),
            (None, Some(source)) => match self.decision_by_source(ws, source).await? {
                Some(earlier) => Ok(Err(earlier)),
                None => Err(StoreError::Corrupt(format!("decision for {source} neither inserted nor found"))),
            },
            (None, None) => Err(StoreError::Corrupt("a decision without a source was not inserted".into())),
        }
    }

    pub async fn decision(&self, ws: &WorkspaceId, id: i64) -> Result<Decision> {
        let sql = format!("SELECT {COLUMNS} FROM decisions WHERE workspace_id = $1 AND id = $2");
        let found: Option<Decision> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(id).fetch_optional(pool).await)?;
        found.ok_or(StoreError::UnknownDecision(id))
    }

    pub async fn decision_by_source(&self, ws: &WorkspaceId, source: &str) -> Result<Option<Decision>> {
        let sql = format!("SELECT {COLUMNS} FROM decisions WHERE workspace_id = $1 AND source = $2");
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql).bind(ws.as_str()).bind(source).fetch_optional(pool).await)?)
    }

    /// Records what became of a decision (a suggestion answered, an action done or undone),
    /// with what it did in `inputs`.
    pub async fn update_decision(
        &self,
        ws: &WorkspaceId,
        id: i64,
        outcome: &str,
        subject: &str,
        inputs: &Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.update_decision(ws, id, outcome, subject, inputs).await?;
        tx.commit().await
    }

    /// The newest `limit` decisions, about `subject` when given, newest first.
    pub async fn decisions(&self, ws: &WorkspaceId, subject: Option<&str>, limit: i64) -> Result<Vec<Decision>> {
        let filter = DecisionFilter { subject: subject.map(str::to_string), limit, ..DecisionFilter::default() };
        self.find_decisions(ws, &filter).await
    }

    /// Decisions matching `filter`, newest first.
    pub async fn find_decisions(&self, ws: &WorkspaceId, filter: &DecisionFilter) -> Result<Vec<Decision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM decisions WHERE workspace_id = $1 AND ($2 IS NULL OR subject = $2) \
             AND ($3 IS NULL OR substr(kind, 1, length($3)) = $3) AND ($4 IS NULL OR created_at >= $4) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        let limit = if filter.limit > 0 { filter.limit } else { i64::MAX };
        Ok(on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(ws.as_str())
            .bind(&filter.subject)
            .bind(&filter.kind_prefix)
            .bind(filter.since)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}

impl StoreTx {
    pub async fn decision_by_source(&mut self, ws: &WorkspaceId, source: &str) -> Result<Option<Decision>> {
        let sql = format!("SELECT {COLUMNS} FROM decisions WHERE workspace_id = $1 AND source = $2");
        Ok(on_tx!(self, |conn| sqlx::query_as(&sql).bind(ws.as_str()).bind(source).fetch_optional(&mut *conn).await)?)
    }

    pub async fn decision(&mut self, ws: &WorkspaceId, id: i64) -> Result<Decision> {
        let sql = format!("SELECT {COLUMNS} FROM decisions WHERE workspace_id = $1 AND id = $2");
        let found: Option<Decision> =
            on_tx!(self, |conn| sqlx::query_as(&sql).bind(ws.as_str()).bind(id).fetch_optional(&mut *conn).await)?;
        found.ok_or(StoreError::UnknownDecision(id))
    }

    /// Like [`Store::update_decision`], inside this transaction.
    pub async fn update_decision(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
        outcome: &str,
        subject: &str,
        inputs: &Value,
    ) -> Result<()> {
        let sql = "UPDATE decisions SET outcome = $1, subject = $2, inputs = $3 WHERE workspace_id = $4 AND id = $5";
        let done = on_tx!(self, |conn| sqlx::query(sql)
            .bind(outcome)
            .bind(subject)
            .bind(Json(inputs))
            .bind(ws.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::UnknownDecision(id));
        }
        Ok(())
    }

    /// Logs the decision inside this transaction.
    pub async fn log_decision(&mut self, ws: &WorkspaceId, d: &NewDecision, at: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO decisions (workspace_id, kind, subject, inputs, rationale, confidence, action, actor, \
                   outcome, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
        let confidence = d.confidence.clamp(0.0, 1.0);
        Ok(on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(&d.kind)
            .bind(&d.subject)
            .bind(Json(&d.inputs))
            .bind(&d.rationale)
            .bind(confidence)
            .bind(&d.action)
            .bind(&d.actor)
            .bind(&d.outcome)
            .bind(&d.source)
            .bind(at)
            .fetch_one(&mut *conn)
            .await)?)
    }
}
