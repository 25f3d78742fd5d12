//! What the triage job does next, from the decision it was resumed with and the ticket's
//! status. Pure.

use crate::board::Status;
use serde::Deserialize;

/// What an approval's resolution tells the job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Resume {
    /// approved | rejected | changes_requested | expired
    pub state: String,
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// First run: ask a PM or lead.
    Ask,
    /// Someone moved it by hand meanwhile: nothing to do.
    AlreadyTriaged(Status),
    Move {
        to: Status,
        by: String,
    },
    Changes {
        by: String,
        comment: String,
    },
    Expired,
}

/// The next step. A ticket already where the decision puts it is still a `Move`: a retry
/// after the move (say the announcement failed) must announce, not stay silent.
pub fn decide(resume: Option<&Resume>, status: Status) -> Step {
    let step = match resume {
        None => Step::Ask,
        Some(resume) => {
            let by = resume.by.clone().unwrap_or_else(|| "pmbot".into());
            match resume.state.as_str() {
                "approved" => Step::Move { to: Status::Todo, by },
                "rejected" => Step::Move { to: Status::Cancelled, by },
                "changes_requested" => {
                    Step::Changes { by, comment: resume.comment.clone().unwrap_or_else(|| "(no comment)".into()) }
                }
                _ => Step::Expired,
            }
        }
    };
    let moved_there_already = matches!(&step, Step::Move { to, .. } if *to == status);
    if status == Status::Backlog || moved_there_already {
        step
    } else {
        Step::AlreadyTriaged(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resume(state: &str) -> Resume {
        Resume { state: state.into(), by: Some("pat".into()), comment: Some("split it in two".into()) }
    }

    #[test]
    fn the_first_run_asks() {
        assert_eq!(decide(None, Status::Backlog), Step::Ask);
    }

    #[test]
    fn decisions_become_moves_or_comments() {
        assert_eq!(
            decide(Some(&resume("approved")), Status::Backlog),
            Step::Move { to: Status::Todo, by: "pat".into() }
        );
        assert_eq!(
            decide(Some(&resume("rejected")), Status::Backlog),
            Step::Move { to: Status::Cancelled, by: "pat".into() }
        );
        assert_eq!(
            decide(Some(&resume("changes_requested")), Status::Backlog),
            Step::Changes { by: "pat".into(), comment: "split it in two".into() }
        );
        assert_eq!(decide(Some(&resume("expired")), Status::Backlog), Step::Expired);
    }

    #[test]
    fn a_retry_after_the_move_still_announces_it() {
        assert_eq!(decide(Some(&resume("approved")), Status::Todo), Step::Move { to: Status::Todo, by: "pat".into() });
    }

    #[test]
    fn a_ticket_moved_by_hand_is_left_alone() {
        assert_eq!(decide(Some(&resume("approved")), Status::InProgress), Step::AlreadyTriaged(Status::InProgress));
        assert_eq!(decide(None, Status::Todo), Step::AlreadyTriaged(Status::Todo));
    }
}
