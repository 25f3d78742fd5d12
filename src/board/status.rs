//! Canonical ticket statuses and priorities, with the spellings people type.

use super::BoardError;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Backlog,
    Todo,
    AiQueue,
    InProgress,
    InReview,
    Blocked,
    Done,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Backlog,
        Status::Todo,
        Status::AiQueue,
        Status::InProgress,
        Status::InReview,
        Status::Blocked,
        Status::Done,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Backlog => "backlog",
            Status::Todo => "todo",
            Status::AiQueue => "ai_queue",
            Status::InProgress => "in_progress",
            Status::InReview => "in_review",
            Status::Blocked => "blocked",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }

    /// How the status reads in a sentence ("moved to in review").
    pub fn label(self) -> &'static str {
        match self {
            Status::Backlog => "backlog",
            Status::Todo => "to do",
            Status::AiQueue => "AI queue",
            Status::InProgress => "in progress",
            Status::InReview => "in review",
            Status::Blocked => "blocked",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }

    /// Work that is still to be finished.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Done | Status::Cancelled)
    }

    pub(super) fn names() -> String {
        Status::ALL.map(Status::as_str).join(", ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = BoardError;

    /// Accepts the canonical names and the spellings people use in chat
    /// ("In Progress", "in-progress", "wip", "review", "to do").
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let folded: String =
            input.trim().to_lowercase().chars().map(|c| if c == '-' || c == ' ' { '_' } else { c }).collect();
        let status = match folded.as_str() {
            "backlog" => Status::Backlog,
            "todo" | "to_do" | "ready" => Status::Todo,
            "ai_queue" | "ai" => Status::AiQueue,
            "in_progress" | "inprogress" | "doing" | "wip" | "started" => Status::InProgress,
            "in_review" | "inreview" | "review" | "reviewing" => Status::InReview,
            "blocked" => Status::Blocked,
            "done" | "closed" | "finished" => Status::Done,
            "cancelled" | "canceled" | "wontfix" | "won't_do" => Status::Cancelled,
            _ => return Err(BoardError::UnknownStatus(input.trim().to_string())),
        };
        Ok(status)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Critical,
    High,
    Medium,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Critical => "critical",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }

    /// Lower is more urgent; used to sort.
    pub fn rank(self) -> u8 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Medium => 2,
            Priority::Low => 3,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Priority {
    type Err = BoardError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim().to_lowercase().as_str() {
            "critical" | "urgent" | "p0" => Ok(Priority::Critical),
            "high" | "p1" => Ok(Priority::High),
            "medium" | "normal" | "p2" => Ok(Priority::Medium),
            "low" | "p3" => Ok(Priority::Low),
            _ => Err(BoardError::UnknownPriority(input.trim().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_from_the_spellings_people_type() {
        for (input, want) in [
            ("in_progress", Status::InProgress),
            ("In Progress", Status::InProgress),
            ("in-progress", Status::InProgress),
            ("WIP", Status::InProgress),
            ("review", Status::InReview),
            ("to do", Status::Todo),
            (" done ", Status::Done),
            ("canceled", Status::Cancelled),
        ] {
            assert_eq!(input.parse::<Status>(), Ok(want), "{input}");
        }
    }

    #[test]
    fn an_unknown_status_names_the_valid_ones() {
        let err = "shipped-ish".parse::<Status>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"shipped-ish\" is not a status; use one of: backlog, todo, ai_queue, in_progress, \
             in_review, blocked, done, cancelled"
        );
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
    }

    #[test]
    fn priorities_sort_most_urgent_first() {
        assert!(Priority::Critical.rank() < Priority::Low.rank());
        assert_eq!("P1".parse::<Priority>(), Ok(Priority::High));
    }
}
