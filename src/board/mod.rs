//! The board's vocabulary: tickets, statuses, priorities, people and projects.
//!
//! Pure domain types with parsing and validation. They know no database, chat or HTTP.

mod fix_run;
mod status;
mod team;
mod ticket;
mod verdict;

pub use fix_run::RunState;
pub use status::{Priority, Status};
pub use team::{Person, Project, ProjectKind, Role};
pub use ticket::{Comment, NewTicket, Source, Ticket, TicketKey, Transition, MAX_TITLE_CHARS};
pub use verdict::Verdict;

/// A value a user typed that the board does not accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BoardError {
    #[error("\"{0}\" is not a status; use one of: {names}", names = Status::names())]
    UnknownStatus(String),
    #[error("\"{0}\" is not a priority; use one of: critical, high, medium, low")]
    UnknownPriority(String),
    #[error("\"{0}\" is not a ticket key; keys look like WEB-12")]
    InvalidKey(String),
    #[error("a ticket needs a title")]
    EmptyTitle,
    #[error("a title is at most {max} characters (this one has {len})")]
    TitleTooLong { len: usize, max: usize },
}
