//! Who may do what on the board: one table, pure. The board service asks it before every
//! change; README.md shows the same table to people.

use crate::board::{Role, Status};

/// Who is asking, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Not in pmbot.toml.
    Stranger,
    Member,
    Lead,
    Pm,
    /// pmbot's own scheduled work and the operator's CLI.
    System,
}

impl Who {
    pub fn of(role: Role) -> Who {
        match role {
            Role::Pm => Who::Pm,
            Role::Lead => Who::Lead,
            Role::Member => Who::Member,
        }
    }

    pub fn decides(self) -> bool {
        matches!(self, Who::Pm | Who::Lead | Who::System)
    }
}

/// What is being done. `own` says the ticket is assigned to the person asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A new ticket, in `status`.
    Create {
        status: Status,
    },
    Comment,
    Move {
        from: Status,
        to: Status,
        own: bool,
    },
    /// `to_self`: the new assignee is the asker; `to_nobody`: no new assignee; `own`: the
    /// ticket is assigned to the asker now; `free`: it is assigned to nobody now.
    Assign {
        to_self: bool,
        to_nobody: bool,
        own: bool,
        free: bool,
    },
    SetEpic,
    /// Undoing something pmbot did; `author` says the person wrote the message it acted on.
    Undo {
        author: bool,
    },
}

impl Op {
    /// The decision-log kind of this change (and of its refusal).
    pub fn kind(self) -> &'static str {
        match self {
            Op::Create { .. } => "ticket.create",
            Op::Comment => "ticket.comment",
            Op::Move { .. } => "ticket.move",
            Op::Assign { .. } => "ticket.assign",
            Op::SetEpic => "epic.assign",
            Op::Undo { .. } => "conversation.undo",
        }
    }
}

/// The statuses a member moves their own work between.
const WORKING: [Status; 5] = [Status::Todo, Status::InProgress, Status::InReview, Status::Blocked, Status::Done];

/// `Ok` when `who` may do `op`; otherwise why not, in words for the person.
pub fn check(who: Who, op: Op) -> Result<(), &'static str> {
    if who == Who::Stranger {
        return Err("ask a PM to add you to pmbot.toml to change the board");
    }
    if who.decides() {
        return Ok(());
    }
    // A member from here on.
    match op {
        Op::Create { status: Status::Backlog } | Op::Comment => Ok(()),
        Op::Create { .. } => Err("new tickets start in the backlog; a PM or lead triages them"),
        Op::Move { from: Status::Backlog, .. } => Err("moving a ticket out of the backlog is triage, for a PM or lead"),
        Op::Move { own: false, .. } => Err("members move only their own tickets; ask its assignee, a PM or a lead"),
        Op::Move { from, to, own: true } if WORKING.contains(&from) && WORKING.contains(&to) => Ok(()),
        Op::Move { .. } => Err("members move their tickets between to do, in progress, in review, blocked and done"),
        Op::Assign { to_self: true, free: true, .. } | Op::Assign { own: true, to_nobody: true, .. } => Ok(()),
        Op::Assign { to_self: true, .. } => Err("that ticket is someone else's; a PM or lead can reassign it"),
        Op::Assign { .. } => Err("members take tickets for themselves; a PM or lead assigns others"),
        Op::SetEpic => Err("only a PM or lead can file tickets under epics"),
        Op::Undo { author: true } => Ok(()),
        Op::Undo { author: false } => Err("only the person who wrote the message, a PM or a lead can undo this"),
    }
}

/// The table as README.md shows it: `(operation, stranger, member, lead, pm)`
/// (`tests/architecture.rs` checks README.md has each row).
pub const TABLE: &[(&str, &str, &str, &str, &str)] = &[
    ("create a ticket in the backlog", "no", "yes", "yes", "yes"),
    ("create a ticket in another status", "no", "no", "yes", "yes"),
    ("comment on a ticket", "no", "yes", "yes", "yes"),
    ("move a ticket out of the backlog (triage)", "no", "no", "yes", "yes"),
    ("move own ticket between to do / in progress / in review / blocked / done", "no", "yes", "yes", "yes"),
    ("move someone else's ticket, or to backlog / AI queue / cancelled", "no", "no", "yes", "yes"),
    ("take an unassigned ticket, or give up one's own", "no", "yes", "yes", "yes"),
    ("assign a ticket to someone else", "no", "no", "yes", "yes"),
    ("file a ticket under an epic, or skip it", "no", "no", "yes", "yes"),
    ("undo what pmbot did on a message", "no", "the message's author", "yes", "yes"),
    ("decide an approval, open its form", "no", "if named on it", "if its role allows", "if its role allows"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn mv(from: Status, to: Status, own: bool) -> Op {
        Op::Move { from, to, own }
    }

    #[test]
    fn strangers_may_do_nothing() {
        for op in [
            Op::Create { status: Backlog },
            Op::Comment,
            mv(Todo, InProgress, true),
            Op::Assign { to_self: true, to_nobody: false, own: false, free: true },
            Op::SetEpic,
            Op::Undo { author: true },
        ] {
            assert!(check(Who::Stranger, op).is_err(), "{op:?}");
        }
    }

    #[test]
    fn members_create_in_the_backlog_only() {
        assert_eq!(check(Who::Member, Op::Create { status: Backlog }), Ok(()));
        assert!(check(Who::Member, Op::Create { status: Todo }).is_err());
        assert_eq!(check(Who::Lead, Op::Create { status: Todo }), Ok(()));
    }

    #[test]
    fn members_comment() {
        assert_eq!(check(Who::Member, Op::Comment), Ok(()));
    }

    #[test]
    fn leaving_the_backlog_is_triage_for_pms_and_leads_only() {
        assert!(check(Who::Member, mv(Backlog, Todo, true)).is_err());
        assert_eq!(check(Who::Lead, mv(Backlog, Todo, false)), Ok(()));
        assert_eq!(check(Who::Pm, mv(Backlog, Cancelled, false)), Ok(()));
        assert_eq!(check(Who::System, mv(Backlog, Todo, false)), Ok(()));
    }

    #[test]
    fn members_move_their_own_tickets_between_working_statuses() {
        assert_eq!(check(Who::Member, mv(Todo, InProgress, true)), Ok(()));
        assert_eq!(check(Who::Member, mv(InReview, Done, true)), Ok(()));
        assert_eq!(check(Who::Member, mv(Blocked, InProgress, true)), Ok(()));
        assert!(check(Who::Member, mv(Todo, InProgress, false)).is_err());
        assert!(check(Who::Member, mv(Todo, Cancelled, true)).is_err());
        assert!(check(Who::Member, mv(Todo, AiQueue, true)).is_err());
        assert!(check(Who::Member, mv(Todo, Backlog, true)).is_err());
    }

    #[test]
    fn members_take_free_tickets_but_do_not_hand_them_out() {
        let assign = |to_self, to_nobody, own, free| Op::Assign { to_self, to_nobody, own, free };
        assert_eq!(check(Who::Member, assign(true, false, false, true)), Ok(()), "takes a free ticket");
        assert!(check(Who::Member, assign(true, false, false, false)).is_err(), "not someone else's");
        assert_eq!(check(Who::Member, assign(false, true, true, false)), Ok(()), "gives up their own");
        assert!(check(Who::Member, assign(false, false, true, false)).is_err(), "does not hand their own to another");
        assert!(check(Who::Member, assign(false, false, false, true)).is_err(), "does not hand out a free one");
        assert_eq!(check(Who::Pm, assign(false, false, false, false)), Ok(()));
    }

    #[test]
    fn epics_are_for_pms_and_leads() {
        assert!(check(Who::Member, Op::SetEpic).is_err());
        assert_eq!(check(Who::Lead, Op::SetEpic), Ok(()));
    }

    #[test]
    fn undo_is_for_the_author_pms_and_leads() {
        assert_eq!(check(Who::Member, Op::Undo { author: true }), Ok(()));
        assert!(check(Who::Member, Op::Undo { author: false }).is_err());
        assert_eq!(check(Who::Pm, Op::Undo { author: false }), Ok(()));
    }
}
