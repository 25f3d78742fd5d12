//! Formatting shared by the messages: names, ticket lines, dates. Pure.

use crate::board::{Person, Ticket};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// Display names by handle; unknown handles show as `@handle`.
#[derive(Debug, Clone, Default)]
pub struct Names(HashMap<String, String>);

impl Names {
    pub fn new(people: &[Person]) -> Self {
        Names(people.iter().map(|p| (p.handle.clone(), p.display_name.clone())).collect())
    }

    /// The full display name.
    pub fn full(&self, handle: &str) -> String {
        self.0.get(handle).cloned().unwrap_or_else(|| format!("@{handle}"))
    }

    /// The first name, for compact lines.
    pub fn short(&self, handle: &str) -> String {
        self.0
            .get(handle)
            .and_then(|name| name.split_whitespace().next())
            .map_or_else(|| format!("@{handle}"), str::to_string)
    }
}

/// `*WEB-3* Fix the login timeout · Ana · high` (priority only when not medium; status when asked).
pub fn ticket_line(ticket: &Ticket, names: &Names, with_status: bool) -> String {
    let mut line = format!("*{}* {}", ticket.key, ticket.title);
    let mut tags = Vec::new();
    if with_status {
        tags.push(ticket.status.label().to_string());
    }
    tags.push(ticket.assignee.as_deref().map_or_else(|| "unassigned".to_string(), |a| names.short(a)));
    if ticket.priority != crate::board::Priority::Medium {
        tags.push(ticket.priority.as_str().to_string());
    }
    line.push_str(" · ");
    line.push_str(&tags.join(" · "));
    line
}

/// `Monday 16 November`.
pub fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B").to_string()
}

/// A capped list for a template: the first `limit` items and how many were left out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ListView {
    pub count: usize,
    pub items: Vec<String>,
    pub more: usize,
}

impl ListView {
    pub fn new(items: Vec<String>, limit: usize) -> Self {
        let count = items.len();
        let items: Vec<String> = items.into_iter().take(limit).collect();
        ListView { count, more: count - items.len(), items }
    }
}

/// Folds whitespace and cuts to `max` characters with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}
