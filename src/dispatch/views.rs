//! Template contexts for board messages: the ticket card, the board, a created ticket.

use crate::board::{Comment, Status, Ticket};
use crate::workflows::views::{shorten, ticket_line, ListView, Names};
use serde::Serialize;

pub const MOVE: &str = "ticket.move";
pub const ASSIGN_ME: &str = "ticket.assign_me";

#[derive(Serialize)]
pub struct TicketView {
    key: String,
    title: String,
    status: String,
    priority: String,
    assignee: String,
    project: String,
    labels: String,
    description: String,
    comments: Vec<String>,
    /// What just happened, shown under the card; empty for none.
    note: String,
    buttons: Vec<ButtonView>,
}

#[derive(Serialize)]
struct ButtonView {
    label: String,
    action: &'static str,
    value: String,
    style: &'static str,
}

impl TicketView {
    /// The card with buttons for the next moves; `note` (non-empty) replaces the buttons with
    /// what was done, for updating a card in place.
    pub fn new(ticket: &Ticket, comments: &[Comment], names: &Names, note: &str) -> Self {
        let key = ticket.key.to_string();
        let mut buttons: Vec<ButtonView> = Vec::new();
        if note.is_empty() {
            buttons = next_moves(ticket.status)
                .iter()
                .map(|(label, to, style)| ButtonView {
                    label: label.to_string(),
                    action: MOVE,
                    value: format!("{key}:{to}"),
                    style,
                })
                .collect();
            if ticket.assignee.is_none() && ticket.status.is_open() {
                buttons.push(ButtonView {
                    label: "Assign to me".into(),
                    action: ASSIGN_ME,
                    value: key.clone(),
                    style: "",
                });
            }
        }
        TicketView {
            title: ticket.title.clone(),
            status: ticket.status.label().to_string(),
            priority: ticket.priority.as_str().to_string(),
            assignee: ticket.assignee.as_deref().map_or_else(|| "nobody yet".to_string(), |a| names.full(a)),
            project: ticket.project.clone(),
            labels: ticket.labels.join(", "),
            description: shorten(&ticket.description, 300),
            comments: comments
                .iter()
                .rev()
                .take(3)
                .rev()
                .map(|c| format!("{}: {}", names.short(&c.author), shorten(&c.body, 200)))
                .collect(),
            note: note.to_string(),
            buttons,
            key,
        }
    }
}

/// Buttons offered on a card, by current status: (label, target, style).
fn next_moves(status: Status) -> &'static [(&'static str, Status, &'static str)] {
    match status {
        Status::Backlog => &[("Move to to do", Status::Todo, ""), ("Start", Status::InProgress, "primary")],
        Status::Todo | Status::AiQueue => {
            &[("Start", Status::InProgress, "primary"), ("Blocked", Status::Blocked, "danger")]
        }
        Status::InProgress => &[
            ("Ready for review", Status::InReview, "primary"),
            ("Blocked", Status::Blocked, "danger"),
            ("Done", Status::Done, ""),
        ],
        Status::InReview => &[("Done", Status::Done, "primary"), ("Back to in progress", Status::InProgress, "")],
        Status::Blocked => &[("Unblocked: resume", Status::InProgress, "primary")],
        Status::Done | Status::Cancelled => &[("Reopen", Status::Todo, "")],
    }
}

#[derive(Serialize)]
pub struct BoardView {
    title: String,
    columns: Vec<Column>,
    open: usize,
    done: usize,
}

#[derive(Serialize)]
struct Column {
    name: String,
    list: ListView,
}

/// Board columns in working order; without a status filter, only open columns with tickets.
pub fn board(title: String, tickets: &[Ticket], status: Option<Status>, names: &Names, limit: usize) -> BoardView {
    let order = [Status::Blocked, Status::InProgress, Status::InReview, Status::AiQueue, Status::Todo, Status::Backlog];
    let shown: Vec<Status> = match status {
        Some(s) => vec![s],
        None => order.to_vec(),
    };
    let columns = shown
        .into_iter()
        .filter_map(|s| {
            let lines: Vec<String> =
                tickets.iter().filter(|t| t.status == s).map(|t| ticket_line(t, names, false)).collect();
            (!lines.is_empty() || status.is_some())
                .then(|| Column { name: capitalise(s.label()), list: ListView::new(lines, limit) })
        })
        .collect();
    BoardView {
        title,
        columns,
        open: tickets.iter().filter(|t| t.status.is_open()).count(),
        done: tickets.iter().filter(|t| t.status == Status::Done).count(),
    }
}

#[derive(Serialize)]
pub struct CreatedView {
    pub key: String,
    pub title: String,
    pub project: String,
    pub reporter: String,
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
