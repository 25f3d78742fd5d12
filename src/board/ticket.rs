//! Tickets on pmbot's own board, their transitions and comments.

use super::{BoardError, Priority, Status};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::{fmt, str::FromStr};

pub const MAX_TITLE_CHARS: usize = 200;

/// A ticket key such as `WEB-12`: a project key, a dash and a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TicketKey(String);

impl TicketKey {
    pub fn new(project: &str, number: i64) -> Self {
        TicketKey(format!("{}-{number}", project.to_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn project(&self) -> &str {
        self.0.split_once('-').map_or("", |(project, _)| project)
    }
}

impl fmt::Display for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TicketKey {
    type Err = BoardError;

    /// Case-insensitive: `web-12` is `WEB-12`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        let invalid = || BoardError::InvalidKey(trimmed.to_string());
        let (project, number) = trimmed.split_once('-').ok_or_else(invalid)?;
        let project_ok = (1..=10).contains(&project.len())
            && project.starts_with(|c: char| c.is_ascii_alphabetic())
            && project.chars().all(|c| c.is_ascii_alphanumeric());
        let number_ok = !number.is_empty()
            && number.len() <= 9
            && number.chars().all(|c| c.is_ascii_digit())
            && !number.starts_with('0');
        if project_ok && number_ok {
            Ok(TicketKey(format!("{}-{number}", project.to_ascii_uppercase())))
        } else {
            Err(invalid())
        }
    }
}

/// Where a ticket came from when it mirrors an external tracker.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Source {
    pub tracker: Option<String>,
    pub external_id: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ticket {
    pub key: TicketKey,
    pub project: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub reporter: Option<String>,
    pub epic: Option<String>,
    pub parent: Option<TicketKey>,
    pub estimate: Option<f64>,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is needed to put a new ticket on the board; the store allocates the key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub project: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub assignee: Option<String>,
    pub reporter: Option<String>,
    pub epic: Option<String>,
    pub parent: Option<TicketKey>,
    pub estimate: Option<f64>,
    pub source: Source,
}

impl NewTicket {
    /// A backlog ticket of medium priority with a validated title.
    pub fn new(project: &str, title: &str) -> Result<Self, BoardError> {
        Ok(NewTicket {
            project: project.to_uppercase(),
            title: validate_title(title)?,
            description: String::new(),
            status: Status::Backlog,
            priority: Priority::Medium,
            labels: Vec::new(),
            assignee: None,
            reporter: None,
            epic: None,
            parent: None,
            estimate: None,
            source: Source::default(),
        })
    }
}

/// Trims the title and rejects empty or overlong ones.
pub fn validate_title(title: &str) -> Result<String, BoardError> {
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    let len = title.chars().count();
    if len == 0 {
        Err(BoardError::EmptyTitle)
    } else if len > MAX_TITLE_CHARS {
        Err(BoardError::TitleTooLong { len, max: MAX_TITLE_CHARS })
    } else {
        Ok(title)
    }
}

/// One recorded status change; `from` is `None` when the ticket was created.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub ticket: TicketKey,
    pub from: Option<Status>,
    pub to: Status,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comment {
    pub id: i64,
    pub ticket: TicketKey,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
impl Ticket {
    /// A medium-priority ticket of `key`'s project for tests, created and changed at `at`.
    pub fn sample(key: &str, status: Status, at: DateTime<Utc>) -> Ticket {
        let key: TicketKey = key.parse().unwrap_or_else(|e| panic!("sample ticket key {key}: {e}"));
        Ticket {
            project: key.project().to_string(),
            title: format!("Ticket {key}"),
            key,
            description: String::new(),
            status,
            priority: Priority::Medium,
            labels: vec![],
            assignee: None,
            reporter: None,
            epic: None,
            parent: None,
            estimate: None,
            source: Source::default(),
            created_at: at,
            updated_at: at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_normalised() {
        let key: TicketKey = " web-12 ".parse().unwrap();
        assert_eq!(key.as_str(), "WEB-12");
        assert_eq!(key.project(), "WEB");
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in ["", "WEB", "WEB-", "-12", "WEB-0", "WEB-012", "WEB-1x", "12-3", "WÉB-1"] {
            assert!(bad.parse::<TicketKey>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(validate_title("  fix \n login  ").unwrap(), "fix login");
        assert_eq!(validate_title("   "), Err(BoardError::EmptyTitle));
        assert!(matches!(validate_title(&"x".repeat(201)), Err(BoardError::TitleTooLong { len: 201, .. })));
    }
}
