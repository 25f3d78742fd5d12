//! Approvals: something waiting for a named person or role to decide.
//!
//! The store records decisions and keeps the state consistent; who may decide is checked by
//! the caller with [`Approvers::allows`] before calling [`Store::decide_approval`].

use super::{decode, on_pool, on_tx, Result, Store, StoreError, StoreTx, WorkspaceId};
use crate::board::{Person, Role, Verdict};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
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

/// Who may decide: anyone with the role, or anyone named, but never anyone in `except`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Approvers {
    pub role: Option<Role>,
    pub people: Vec<String>,
    /// Handles who may not decide although their role could (the SPEC's approver at a PR
    /// gate that wants another pair of eyes).
    pub except: Vec<String>,
}

impl Approvers {
    pub fn allows(&self, person: &Person) -> bool {
        let by_role = match self.role {
            Some(Role::Lead) => person.role.can_triage(),
            Some(role) => person.role == role,
            None => false,
        };
        let excepted = self.except.iter().any(|h| h == &person.handle);
        !excepted && (by_role || self.people.iter().any(|h| h == &person.handle))
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
    approver_except: Json<Vec<String>>,
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
        let mut tx = self.begin().await?;
        let id = tx.create_approval(ws, new, at).await?;
        tx.commit().await?;
        self.approval(ws, id).await
    }

    pub async fn approval(&self, ws: &WorkspaceId, id: i64) -> Result<Approval> {
        let sql = "SELECT id, subject, description, approver_role, approver_people, approver_except, required, state, \
                   expires_at, created_at \
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
                except: row.approver_except.0,
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

    /// The workspace's pending approvals, oldest first.
    pub async fn pending_approvals(&self, ws: &WorkspaceId) -> Result<Vec<Approval>> {
        let sql = "SELECT id FROM approvals WHERE workspace_id = $1 AND state = 'pending' ORDER BY created_at, id";
        let ids: Vec<i64> = on_pool!(self, |pool| sqlx::query_scalar(sql).bind(ws.as_str()).fetch_all(pool).await)?;
        let mut approvals = Vec::with_capacity(ids.len());
        for id in ids {
            approvals.push(self.approval(ws, id).await?);
        }
        Ok(approvals)
    }

    /// Records `decider`'s verdict and moves the approval to its new state; once it is
    /// resolved, the jobs parked on it are made runnable in the same transaction, told the
    /// outcome. A decision on an approval that is no longer pending (or has expired by `at`)
    /// changes nothing and is refused with `ApprovalClosed`; a second decision by the same
    /// person, with `AlreadyDecided`.
    pub async fn decide_approval(
        &self,
        ws: &WorkspaceId,
        id: i64,
        decider: &str,
        verdict: Verdict,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Approval> {
        let mut tx = self.begin().await?;
        match tx.decide_approval(ws, id, decider, verdict, comment, at).await {
            Ok(_) => tx.commit().await?,
            Err(err @ StoreError::ApprovalClosed { state: ApprovalState::Expired, .. }) => {
                tx.commit().await?; // the expiry found here is kept
                return Err(err);
            }
            Err(err) => return Err(err),
        }
        self.approval(ws, id).await
    }

    /// Pending approvals past their expiry become expired and their parked jobs runnable;
    /// returns how many expired.
    pub async fn expire_approvals(&self, now: DateTime<Utc>) -> Result<usize> {
        let sql = "SELECT workspace_id, id FROM approvals WHERE state = 'pending' AND expires_at <= $1";
        let due: Vec<(String, i64)> = on_pool!(self, |pool| sqlx::query_as(sql).bind(now).fetch_all(pool).await)?;
        let mut expired = 0;
        for (ws, id) in due {
            let ws = WorkspaceId::new(ws);
            let mut tx = self.begin().await?;
            if tx.lock_approval(&ws, id).await?.0 == ApprovalState::Pending {
                tx.resolve_approval(&ws, id, ApprovalState::Expired, &json!({ "state": "expired" }), now).await?;
                expired += 1;
            }
            tx.commit().await?;
        }
        Ok(expired)
    }

    /// Jobs still parked on an approval that was resolved (a decision that raced the job
    /// parking): made runnable with the outcome. Returns how many.
    pub async fn resume_resolved(&self, now: DateTime<Utc>) -> Result<usize> {
        let sql = "SELECT DISTINCT j.workspace_id, j.approval_id FROM jobs j JOIN approvals a ON a.id = j.approval_id \
                   WHERE j.state = 'awaiting' AND a.state <> 'pending'";
        let stuck: Vec<(String, i64)> = on_pool!(self, |pool| sqlx::query_as(sql).fetch_all(pool).await)?;
        let mut resumed = 0;
        for (ws, id) in stuck {
            let ws = WorkspaceId::new(ws);
            let approval = self.approval(&ws, id).await?;
            resumed += self.resume_approval_jobs(&ws, id, &approval.resume_context(), now).await? as usize;
        }
        Ok(resumed)
    }
}

impl Approval {
    /// What a job parked on this approval is told when it resumes.
    pub fn resume_context(&self) -> Value {
        let last = self.decisions.last();
        json!({
            "state": self.state.as_str(),
            "by": last.map(|d| d.decider.clone()),
            "comment": last.and_then(|d| d.comment.clone()),
        })
    }
}

impl StoreTx {
    /// Opens an approval inside this transaction; its id.
    pub async fn create_approval(&mut self, ws: &WorkspaceId, new: &NewApproval, at: DateTime<Utc>) -> Result<i64> {
        let sql = "INSERT INTO approvals (workspace_id, subject, description, approver_role, approver_people, \
                   approver_except, required, state, expires_at, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $9, $6, 'pending', $7, $8, $8) RETURNING id";
        let required = i32::try_from(new.required.max(1)).unwrap_or(i32::MAX);
        Ok(on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(&new.subject)
            .bind(&new.description)
            .bind(new.approvers.role.map(Role::as_str))
            .bind(Json(&new.approvers.people))
            .bind(required)
            .bind(new.expires_at)
            .bind(at)
            .bind(Json(&new.approvers.except))
            .fetch_one(&mut *conn)
            .await)?)
    }

    /// The id of the pending approval about `subject`, if one is open.
    pub async fn pending_approval_about(&mut self, ws: &WorkspaceId, subject: &str) -> Result<Option<i64>> {
        let sql = "SELECT id FROM approvals WHERE workspace_id = $1 AND subject = $2 AND state = 'pending' \
                   ORDER BY id LIMIT 1";
        Ok(on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await)?)
    }

    /// Records `decider`'s verdict and moves the approval to its new state; once resolved, the
    /// jobs parked on it are made runnable, told the outcome. A closed approval (or one that
    /// expired by `at`: the expiry is written, commit to keep it) is `ApprovalClosed`; a
    /// second decision by the same person, `AlreadyDecided`.
    pub async fn decide_approval(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
        decider: &str,
        verdict: Verdict,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<ApprovalState> {
        let (state, required, expires_at) = self.lock_approval(ws, id).await?;
        if state != ApprovalState::Pending {
            return Err(StoreError::ApprovalClosed { id, state });
        }
        if expires_at.is_some_and(|e| e <= at) {
            self.resolve_approval(ws, id, ApprovalState::Expired, &json!({ "state": "expired" }), at).await?;
            return Err(StoreError::ApprovalClosed { id, state: ApprovalState::Expired });
        }
        if !self.insert_decision(ws, id, decider, verdict, comment, at).await? {
            return Err(StoreError::AlreadyDecided { id, decider: decider.to_string() });
        }
        let new_state = match verdict {
            Verdict::Reject => ApprovalState::Rejected,
            Verdict::RequestChanges => ApprovalState::ChangesRequested,
            Verdict::Approve if self.approvals_given(id).await? >= i64::from(required) => ApprovalState::Approved,
            Verdict::Approve => ApprovalState::Pending,
        };
        if new_state != ApprovalState::Pending {
            let resume = json!({ "state": new_state.as_str(), "by": decider, "comment": comment });
            self.resolve_approval(ws, id, new_state, &resume, at).await?;
        }
        Ok(new_state)
    }

    /// Locks the approval row (see `LOCK_APPROVAL`); `(state, required, expires_at)`.
    async fn lock_approval(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
    ) -> Result<(ApprovalState, i32, Option<DateTime<Utc>>)> {
        let locked: Option<(String, i32, Option<DateTime<Utc>>)> = on_tx!(self, |conn| sqlx::query_as(LOCK_APPROVAL)
            .bind(ws.as_str())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await)?;
        let (state, required, expires_at) = locked.ok_or(StoreError::UnknownApproval(id))?;
        Ok((decode("approvals.state", &state)?, required, expires_at))
    }

    /// `false` when this person had already decided.
    async fn insert_decision(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
        decider: &str,
        verdict: Verdict,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let sql = "INSERT INTO approval_decisions (workspace_id, approval_id, decider, decision, comment, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (approval_id, decider) DO NOTHING";
        let inserted = on_tx!(self, |conn| sqlx::query(sql)
            .bind(ws.as_str())
            .bind(id)
            .bind(decider)
            .bind(verdict.as_str())
            .bind(comment)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(inserted == 1)
    }

    async fn approvals_given(&mut self, id: i64) -> Result<i64> {
        let sql = "SELECT COUNT(*) FROM approval_decisions WHERE approval_id = $1 AND decision = 'approve'";
        Ok(on_tx!(self, |conn| sqlx::query_scalar(sql).bind(id).fetch_one(&mut *conn).await)?)
    }

    /// The ids of pending approvals whose subject starts with `prefix` (a fix run's gates).
    pub async fn pending_approvals_starting(&mut self, ws: &WorkspaceId, prefix: &str) -> Result<Vec<i64>> {
        let sql =
            "SELECT id FROM approvals WHERE workspace_id = $1 AND state = 'pending' AND substr(subject, 1, $3) = $2";
        let len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        Ok(on_tx!(self, |conn| sqlx::query_scalar(sql)
            .bind(ws.as_str())
            .bind(prefix)
            .bind(len)
            .fetch_all(&mut *conn)
            .await)?)
    }

    /// Approval `id`'s state, its row locked until the transaction ends (so nobody decides
    /// it meanwhile).
    pub async fn locked_approval_state(&mut self, ws: &WorkspaceId, id: i64) -> Result<ApprovalState> {
        Ok(self.lock_approval(ws, id).await?.0)
    }

    /// Closes approval `id` if it is still pending, because nobody needs it any more (the
    /// run it gates was cancelled); the job parked on it resumes, told it was withdrawn.
    pub async fn withdraw_approval(&mut self, ws: &WorkspaceId, id: i64, why: &str, at: DateTime<Utc>) -> Result<bool> {
        let (state, _, _) = self.lock_approval(ws, id).await?;
        if state != ApprovalState::Pending {
            return Ok(false);
        }
        let resume = json!({ "state": "withdrawn", "comment": why });
        self.resolve_approval(ws, id, ApprovalState::Rejected, &resume, at).await?;
        Ok(true)
    }

    /// Sets the approval's final state and makes its parked jobs runnable, told `resume`.
    async fn resolve_approval(
        &mut self,
        ws: &WorkspaceId,
        id: i64,
        state: ApprovalState,
        resume: &Value,
        at: DateTime<Utc>,
    ) -> Result<()> {
        on_tx!(self, |conn| {
            sqlx::query("UPDATE approvals SET state = $1, updated_at = $2 WHERE workspace_id = $3 AND id = $4")
                .bind(state.as_str())
                .bind(at)
                .bind(ws.as_str())
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE jobs SET state = 'available', run_at = $1, resume = $2, updated_at = $1 \
                 WHERE workspace_id = $3 AND approval_id = $4 AND state = 'awaiting'",
            )
            .bind(at)
            .bind(Json(resume))
            .bind(ws.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        });
        self.notify_workers().await
    }
}
