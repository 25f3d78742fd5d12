//! The decision log: what the bot (or a person through it) decided, from what, and why.

use super::{on_pool, on_tx, Result, Store, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

#[derive(Debug, Clone, PartialEq)]
pub struct NewDecision {
    /// What sort of decision: `ticket.create`, `ticket.triage`, …
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
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
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
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn log_decision(&self, ws: &WorkspaceId, d: &NewDecision, at: DateTime<Utc>) -> Result<i64> {
        let mut tx = self.begin().await?;
        let id = tx.log_decision(ws, d, at).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest `limit` decisions, about `subject` when given, newest first.
    pub async fn decisions(&self, ws: &WorkspaceId, subject: Option<&str>, limit: i64) -> Result<Vec<Decision>> {
        let sql = "SELECT id, kind, subject, inputs, rationale, confidence, action, actor, outcome, created_at \
                   FROM decisions WHERE workspace_id = $1 AND ($2 IS NULL OR subject = $2) \
                   ORDER BY created_at DESC, id DESC LIMIT $3";
        Ok(on_pool!(self, |pool| sqlx::query_as(sql)
            .bind(ws.as_str())
            .bind(subject)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }
}

impl StoreTx {
    /// Logs the decision inside this transaction.
    pub async fn log_decision(&mut self, ws: &WorkspaceId, d: &NewDecision, at: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO decisions (workspace_id, kind, subject, inputs, rationale, confidence, action, actor, \
                   outcome, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id";
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
            .bind(at)
            .fetch_one(&mut *conn)
            .await)?)
    }
}
