//! What pmbot reads from a tracker, in the tracker's terms but no tracker's wire format.

use chrono::{DateTime, Utc};

/// A workflow state: `kind` is the tracker's category (Linear's `type`: triage, backlog,
/// unstarted, started, completed, canceled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    pub id: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    pub id: String,
    pub name: String,
}

/// One status change of an issue's history.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteMove {
    pub at: DateTime<Utc>,
    pub from: Option<RemoteState>,
    pub to: RemoteState,
    pub actor: Option<RemoteUser>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteComment {
    pub id: String,
    pub body: String,
    pub author: Option<RemoteUser>,
    pub at: DateTime<Utc>,
}

/// A worklog as a time tracker (Tempo, or Jira's own) has it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWorklog {
    pub id: i64,
    /// The Jira issue's id.
    pub issue: String,
    pub seconds: i64,
    /// The day it was logged for, as the person logged it.
    pub day: chrono::NaiveDate,
    pub description: String,
    /// The Atlassian account id of who logged it.
    pub author: String,
}

/// One page of worklogs and where the next one is.
#[derive(Debug)]
pub struct WorklogPage {
    pub worklogs: Vec<RemoteWorklog>,
    pub next: Option<String>,
}

/// One page of issues and the cursor after it (`None`: the last page).
#[derive(Debug)]
pub struct Page {
    pub issues: Vec<RemoteIssue>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RemoteIssue {
    pub id: String,
    /// The tracker's key, `ENG-12`: the ticket's key on the board too.
    pub key: String,
    pub title: String,
    pub description: String,
    pub state: RemoteState,
    /// Linear's 0 (none) … 4 (low).
    pub priority: Option<f64>,
    pub estimate: Option<f64>,
    pub url: Option<String>,
    pub assignee: Option<RemoteUser>,
    pub creator: Option<RemoteUser>,
    pub labels: Vec<String>,
    /// The parent issue's key.
    pub parent: Option<String>,
    /// The epic: Linear's project.
    pub epic: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Archived or trashed on the tracker.
    pub gone: bool,
    /// Status changes, oldest first.
    pub history: Vec<RemoteMove>,
    pub comments: Vec<RemoteComment>,
}
