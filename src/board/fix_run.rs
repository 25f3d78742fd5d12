//! A fix run's states and which changes between them are legal. Pure: the store keeps the
//! state, the fix workflow moves it, and both ask [`RunState::may_go`] first.

use super::Status;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    Pending,
    Planning,
    AwaitingSpecApproval,
    SpecApproved,
    Executing,
    QaRunning,
    PrCreated,
    AwaitingPrApproval,
    Completed,
    SpecRejected,
    QaFailed,
    Error,
    Cancelled,
}

use RunState::*;

impl RunState {
    pub const ALL: [RunState; 13] = [
        Pending,
        Planning,
        AwaitingSpecApproval,
        SpecApproved,
        Executing,
        QaRunning,
        PrCreated,
        AwaitingPrApproval,
        Completed,
        SpecRejected,
        QaFailed,
        Error,
        Cancelled,
    ];

    /// The active states: a ticket has at most one run in one of these.
    pub const ACTIVE: [RunState; 8] =
        [Pending, Planning, AwaitingSpecApproval, SpecApproved, Executing, QaRunning, PrCreated, AwaitingPrApproval];

    pub fn as_str(self) -> &'static str {
        match self {
            Pending => "PENDING",
            Planning => "PLANNING",
            AwaitingSpecApproval => "AWAITING_SPEC_APPROVAL",
            SpecApproved => "SPEC_APPROVED",
            Executing => "EXECUTING",
            QaRunning => "QA_RUNNING",
            PrCreated => "PR_CREATED",
            AwaitingPrApproval => "AWAITING_PR_APPROVAL",
            Completed => "COMPLETED",
            SpecRejected => "SPEC_REJECTED",
            QaFailed => "QA_FAILED",
            Error => "ERROR",
            Cancelled => "CANCELLED",
        }
    }

    pub fn is_final(self) -> bool {
        !Self::ACTIVE.contains(&self)
    }

    /// Whether the run may go from `self` to `to`. Any active state may end in ERROR or
    /// CANCELLED; the rest is the pipeline's order, with the two "request changes" loops
    /// (the SPEC gate back to PLANNING, the PR gate back to EXECUTING) and QA's one retry.
    pub fn may_go(self, to: RunState) -> bool {
        if !self.is_final() && matches!(to, Error | Cancelled) {
            return true;
        }
        matches!(
            (self, to),
            (Pending, Planning)
                | (Planning, AwaitingSpecApproval)
                | (AwaitingSpecApproval, SpecApproved | Planning | SpecRejected)
                | (SpecApproved, Executing)
                | (Executing, QaRunning)
                | (QaRunning, PrCreated | Executing | QaFailed)
                | (PrCreated, AwaitingPrApproval)
                | (AwaitingPrApproval, Completed | Executing)
        )
    }

    /// Where the ticket stands on the board while the run is here; `None` leaves it.
    pub fn board_status(self) -> Option<Status> {
        match self {
            Executing | QaRunning => Some(Status::InProgress),
            PrCreated | AwaitingPrApproval => Some(Status::InReview),
            Completed => Some(Status::Done),
            SpecRejected | QaFailed | Error | Cancelled => Some(Status::Todo),
            Pending | Planning | AwaitingSpecApproval | SpecApproved => None,
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_uppercase().replace(['-', ' '], "_");
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == wanted)
            .ok_or_else(|| format!("\"{s}\" is not a run state"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table: every pair, legal or not, as the issue states it.
    #[test]
    fn the_legal_transitions_are_exactly_these() {
        let legal: &[(RunState, RunState)] = &[
            (Pending, Planning),
            (Planning, AwaitingSpecApproval),
            (AwaitingSpecApproval, SpecApproved),
            (AwaitingSpecApproval, Planning),
            (AwaitingSpecApproval, SpecRejected),
            (SpecApproved, Executing),
            (Executing, QaRunning),
            (QaRunning, PrCreated),
            (QaRunning, Executing),
            (QaRunning, QaFailed),
            (PrCreated, AwaitingPrApproval),
            (AwaitingPrApproval, Completed),
            (AwaitingPrApproval, Executing),
        ];
        for from in RunState::ALL {
            for to in RunState::ALL {
                let expected = legal.contains(&(from, to)) || (!from.is_final() && matches!(to, Error | Cancelled));
                assert_eq!(from.may_go(to), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn final_states_go_nowhere() {
        for from in [Completed, SpecRejected, QaFailed, Error, Cancelled] {
            assert!(RunState::ALL.iter().all(|to| !from.may_go(*to)), "{from}");
        }
    }

    #[test]
    fn names_round_trip() {
        for state in RunState::ALL {
            assert_eq!(state.as_str().parse::<RunState>(), Ok(state));
        }
        assert_eq!("awaiting-spec-approval".parse::<RunState>(), Ok(AwaitingSpecApproval));
        assert!("MERGED".parse::<RunState>().is_err());
    }

    #[test]
    fn the_board_follows_the_run() {
        assert_eq!(Executing.board_status(), Some(Status::InProgress));
        assert_eq!(AwaitingPrApproval.board_status(), Some(Status::InReview));
        assert_eq!(Completed.board_status(), Some(Status::Done));
        assert_eq!(QaFailed.board_status(), Some(Status::Todo));
        assert_eq!(Planning.board_status(), None);
    }
}
