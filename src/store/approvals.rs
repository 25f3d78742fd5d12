//! Approvals: something waiting for a named person or role to decide.
//!
//! The store records decisions and keeps the state consistent; who may decide is checked by
//! the caller with [`Approvers::allows`] before calling [`Store::decide_approval`].

use super::{decode, on_pool, Result, Store, StoreError, WorkspaceId};
use crate::board::{Person, Role, Verdict};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    ChangesRequested,
    Expired,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::ChangesRequested => "changes_requested",
            ApprovalState::Expired => "expired",
        }
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ApprovalState::Pending,
            ApprovalState::Approved,
            ApprovalState::Rejected,
            ApprovalState::ChangesRequested,
            ApprovalState::Expired,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown approval state \"{s}\""))
    }
}

/// Who may decide: anyone with the role, or anyone named.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Approvers {
    pub role: Option<Role>,
    pub people: Vec<String>,
}

impl Approvers {
    pub fn allows(&self, person: &Person) -> bool {
        let by_role = match self.role {
            Some(Role::Lead) => person.role.can_triage(),
            Some(role) => person.role == role,
            None => false,
        };
        by_role || self.people.iter().any(|h| h == &person.handle)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval {
    pub subject: String,
    pub description: String,
    pub approvers: Approvers,
    /// How many approvals make it approved.
    pub required: u32,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalDecision {
    pub decider: String,
    pub verdict: Verdict,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: i64,
    pub subject: String,
    pub description: String,
    pub approvers: Approvers,
    pub required: u32,
    pub state: ApprovalState,
    pub expires_at: Option<DateTime<Utc>>,
    pub decisions: Vec<ApprovalDecision>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ApprovalRow {
    id: i64,
    subject: String,
    description: String,
    approver_role: Option<String>,
    approver_people: Json<Vec<String>>,
    required: i32,
    state: String,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DecisionRow {
    decider: String,
    decision: String,
    comment: Option<String>,
    created_at: DateTime<Utc>,
}

/// Locks the approval row (see `LOCK_TICKET` in tickets.rs for why a no-op update).
const LOCK_APPROVAL: &str = "UPDATE approvals SET updated_at = updated_at WHERE workspace_id = $1 AND id = $2 \
     RETURNING state, required, expires_at";

impl Store {
    pub async fn create_approval(&self, ws: &WorkspaceId, new: &NewApproval, at: DateTime<Utc>) -> Result<Approval> {
        let sql = "INSERT INTO approvals (workspace_id, subject, description, approver_role, approver_people, required, \
                   state, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $8) RETURNING id";
        let required = i32::try_from(new.required.max(1)).unwrap_or(i32::MAX);
        let id: i64 = on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(&new.subject)
            .bind(&new.description)
            .bind(new.approvers.role.map(Role::as_str))
            .bind(Json(&new.approvers.people))
            .bind(required)
            .bind(new.expires_at)
            .bind(at)
            .fetch_one(pool)
            .await)?;
        self.approval(ws, id).await
    }

    pub async fn approval(&self, ws: &WorkspaceId, id: i64) -> Result<Approval> {
        let sql =
            "SELECT id, subject, description, approver_role, approver_people, required, state, expires_at, created_at \
                   FROM approvals WHERE workspace_id = $1 AND id = $2";
        let decisions_sql = "SELECT decider, decision, comment, created_at FROM approval_decisions \
                             WHERE workspace_id = $1 AND approval_id = $2 ORDER BY created_at, id";
        let (row, decisions): (Option<ApprovalRow>, Vec<DecisionRow>) = on_pool!(self, |pool| {
            let row = sqlx::query_as(sql).bind(ws.as_str()).bind(id).fetch_optional(pool).await?;
            let decisions = sqlx::query_as(decisions_sql).bind(ws.as_str()).bind(id).fetch_all(pool).await?;
            (row, decisions)
        });
        let row = row.ok_or(StoreError::UnknownApproval(id))?;
        Ok(Approval {
            id: row.id,
            subject: row.subject,
            description: row.description,
            approvers: Approvers {
                role: row.approver_role.as_deref().map(|r| decode("approvals.approver_role", r)).transpose()?,
                people: row.approver_people.0,
            },
            required: u32::try_from(row.required).unwrap_or(1),
            state: decode("approvals.state", &row.state)?,
            expires_at: row.expires_at,
            decisions: decisions
                .into_iter()
                .map(|d| {
                    Ok(ApprovalDecision {
                        verdict: decode("approval_decisions.decision", &d.decision)?,
                        decider: d.decider,
                        comment: d.comment,
                        at: d.created_at,
                    })
                })
                .collect::<Result<_>>()?,
            created_at: row.created_at,
        })
    }

    /// Records `decider`'s verdict and moves the approval to its new state. A decision on an
    /// approval that is no longer pending (or has expired by `at`) changes nothing and is
    /// refused with `ApprovalClosed`; a second decision by the same person, with
    /// `AlreadyDecided`.
    pub async fn decide_approval(
        &self,
        ws: &WorkspaceId,
        id: i64,
        decider: &str,
        verdict: Verdict,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Approval> {
        let closed: Option<ApprovalState> = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let locked: Option<(String, i32, Option<DateTime<Utc>>)> =
                sqlx::query_as(LOCK_APPROVAL).bind(ws.as_str()).bind(id).fetch_optional(&mut *tx).await?;
            let (state, required, expires_at) = locked.ok_or(StoreError::UnknownApproval(id))?;
            let state: ApprovalState = decode("approvals.state", &state)?;
            let expired = state == ApprovalState::Pending && expires_at.is_some_and(|e| e <= at);
            let new_state = if state != ApprovalState::Pending {
                Err(state)
            } else if expired {
                Err(ApprovalState::Expired)
            } else {
                let inserted = sqlx::query(
                    "INSERT INTO approval_decisions (workspace_id, approval_id, decider, decision, comment, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (approval_id, decider) DO NOTHING",
                )
                .bind(ws.as_str())
                .bind(id)
                .bind(decider)
                .bind(verdict.as_str())
                .bind(comment)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    return Err(StoreError::AlreadyDecided { id, decider: decider.to_string() });
                }
                let approvals: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM approval_decisions WHERE approval_id = $1 AND decision = 'approve'",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                Ok(match verdict {
                    Verdict::Reject => ApprovalState::Rejected,
                    Verdict::RequestChanges => ApprovalState::ChangesRequested,
                    Verdict::Approve if approvals >= i64::from(required) => ApprovalState::Approved,
                    Verdict::Approve => ApprovalState::Pending,
                })
            };
            let written = new_state.unwrap_or(ApprovalState::Expired);
            if new_state.is_ok() || expired {
                sqlx::query("UPDATE approvals SET state = $1, updated_at = $2 WHERE id = $3")
                    .bind(written.as_str())
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            new_state.err()
        });
        match closed {
            Some(state) => Err(StoreError::ApprovalClosed { id, state }),
            None => self.approval(ws, id).await,
        }
    }
}
