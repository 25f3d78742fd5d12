//! The standup: `/standup [@person]` (and, with the job queue, a scheduled post).
//!
//! Loads the board, asks `decide` what matters today, and renders `templates/standup.hbs`.

pub mod decide;
mod job;

pub use job::StandupJob;

use crate::board::{Status, TicketKey};
use crate::chat::{Message, Templates};
use crate::config::Config;
use crate::store::{DecisionFilter, Store, StoreError, TicketFilter, WorkspaceId};
use crate::workflows::conversation::apply::Proposal;
use crate::workflows::views::{long_date, shorten, ticket_line, ListView, Names};
use chrono::{DateTime, Duration, Utc};
use decide::{decide, BlockerNote, Standup, StandupInput, Untracked};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum StandupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] crate::chat::TemplateError),
}

/// Who a standup is for: the team, or someone not on it (who sees the board, not the
/// team's conversations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Team,
    Outsider,
}

/// Builds today's standup for the team, or for one person (a handle).
pub async fn build(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    templates: &Templates,
    person: Option<&str>,
    audience: Audience,
    now: DateTime<Utc>,
) -> Result<Message, StandupError> {
    let tickets = store.tickets(ws, &TicketFilter::default()).await?;
    // A week back covers the previous working day even after a long weekend.
    let transitions = store.transitions_since(ws, now - Duration::days(7)).await?;
    let mut blockers = HashMap::new();
    for ticket in tickets.iter().filter(|t| t.status == Status::Blocked) {
        blockers.insert(ticket.key.clone(), blocker_note(store, ws, &ticket.key).await?);
    }
    let untracked = match audience {
        Audience::Team => untracked(store, ws, now - Duration::days(7)).await?,
        Audience::Outsider => Vec::new(),
    };
    let pulls = store.open_pulls(ws).await?;
    let standup = decide(&StandupInput {
        now,
        tz: config.team.timezone,
        working_days: &config.team.working_days,
        tickets: &tickets,
        transitions: &transitions,
        blockers: &blockers,
        person,
        stale_after_days: config.standup.stale_after_days,
        untracked: &untracked,
        pulls: &pulls,
        review_wait_hours: config.standup.review_wait_hours,
    });
    let names = Names::new(&store.people(ws).await?);
    Ok(templates.render("standup", &view(&standup, config, &names))?)
}

/// Threads since `since` that asked for work no ticket covers, and got none: only logged,
/// shadowed, or suggested and not (yet) taken up.
async fn untracked(store: &Store, ws: &WorkspaceId, since: DateTime<Utc>) -> Result<Vec<Untracked>, StoreError> {
    let filter = DecisionFilter {
        kind_prefix: Some(crate::workflows::conversation::KIND.into()),
        since: Some(since),
        limit: 500,
        ..DecisionFilter::default()
    };
    let decisions = store.find_decisions(ws, &filter).await?;
    Ok(decisions
        .iter()
        .filter(|d| d.kind == crate::workflows::conversation::KIND && d.action == "create")
        .filter(|d| matches!(d.outcome.as_str(), "logged" | "shadow" | "asked" | "expired"))
        .filter_map(|d| Proposal::of(d).ok().map(|p| (d, p)))
        .filter(|(_, p)| p.result.is_none() && p.message.thread.as_ref().is_none_or(|t| t == &p.message.ts))
        .map(|(d, p)| Untracked {
            decision: d.id,
            channel: p.message.channel,
            author: p.author,
            text: p.text,
            at: d.created_at,
            private: p.private,
        })
        .collect())
}

/// The reason given when it was blocked, else the latest comment.
async fn blocker_note(store: &Store, ws: &WorkspaceId, key: &TicketKey) -> Result<BlockerNote, StoreError> {
    let history = store.history(ws, key).await?;
    let blocked = history.iter().rev().find(|t| t.to == Status::Blocked);
    let reason = blocked.and_then(|t| t.reason.clone());
    let text = match reason {
        Some(reason) => Some(reason),
        None => store.comments(ws, key).await?.pop().map(|c| c.body),
    };
    Ok(BlockerNote { text, since: blocked.map(|t| t.at) })
}

/// A quote of the request and who asked where; a private conversation's words stay in it.
fn untracked_line(u: &Untracked, names: &Names) -> String {
    let who = u.author.as_deref().map_or_else(|| "someone".into(), |h| names.short(h));
    if u.private {
        return format!("a request {who} made in a private conversation");
    }
    format!("“{}” — {who} in {}", shorten(&u.text, 100), u.channel)
}

#[derive(Serialize)]
struct StandupView {
    title: String,
    team: String,
    timezone: String,
    since: String,
    finished: ListView,
    in_progress: ListView,
    todo: ListView,
    backlog: ListView,
    blocked: ListView,
    stale: ListView,
    stale_after_days: u32,
    focus: Vec<FocusView>,
    plan: Vec<FocusView>,
    untracked: Vec<UntrackedView>,
    untracked_more: usize,
    create: &'static str,
    reviews: ListView,
}

#[derive(Serialize)]
struct UntrackedView {
    n: usize,
    decision: i64,
    line: String,
}

#[derive(Serialize)]
struct FocusView {
    name: String,
    items: Vec<String>,
}

fn view(standup: &Standup, config: &Config, names: &Names) -> StandupView {
    let limit = config.standup.top_items;
    let lines = |tickets: &[crate::board::Ticket]| {
        // The in-progress section also holds reviews and AI-queue work; say which is which.
        let tagged = |t: &crate::board::Ticket| matches!(t.status, Status::InReview | Status::AiQueue);
        ListView::new(tickets.iter().map(|t| ticket_line(t, names, tagged(t))).collect(), limit)
    };
    let title = match &standup.person {
        Some(handle) => format!("Standup for {} · {}", names.full(handle), long_date(standup.date)),
        None => format!("Standup · {}", long_date(standup.date)),
    };
    let blocked = standup
        .blocked
        .iter()
        .map(|b| {
            let why = b.note.text.as_deref().unwrap_or("no reason recorded");
            let age = match (b.days, b.note.since) {
                (Some(0), Some(since)) => {
                    format!(" (since {})", since.with_timezone(&config.team.timezone).format("%A"))
                }
                (Some(d), _) => format!(" ({d} working day{})", plural(d)),
                _ => String::new(),
            };
            format!("{} — _{}_{age}", ticket_line(&b.ticket, names, false), shorten(why, 140))
        })
        .collect();
    let stale = standup
        .stale
        .iter()
        .map(|s| format!("{} — idle {} working days", ticket_line(&s.ticket, names, true), s.idle_days))
        .collect();
    let finished = standup
        .finished
        .iter()
        .map(|f| format!("*{}* {} · {}", f.ticket.key, f.ticket.title, names.short(&f.by)))
        .collect();
    StandupView {
        title,
        team: config.team.name.clone(),
        timezone: config.team.timezone.name().to_string(),
        since: long_date(standup.since_date),
        finished: ListView::new(finished, limit),
        in_progress: lines(&standup.in_progress),
        todo: lines(&standup.todo),
        backlog: lines(&standup.backlog),
        blocked: ListView::new(blocked, limit),
        stale: ListView::new(stale, limit),
        stale_after_days: config.standup.stale_after_days,
        focus: standup
            .focus
            .iter()
            .map(|(handle, tickets)| FocusView {
                name: names.short(handle),
                items: tickets.iter().map(|t| format!("*{}* {}", t.key, t.title)).collect(),
            })
            .collect(),
        plan: standup
            .plan
            .iter()
            .map(|(handle, tickets)| FocusView {
                name: names.short(handle),
                items: tickets.iter().map(|t| format!("*{}* {}", t.key, t.title)).collect(),
            })
            .collect(),
        untracked: standup
            .untracked
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, u)| UntrackedView { n: i + 1, decision: u.decision, line: untracked_line(u, names) })
            .collect(),
        untracked_more: standup.untracked.len().saturating_sub(limit),
        create: crate::workflows::conversation::CREATE_ACTION,
        reviews: ListView::new(standup.reviews.iter().map(review_line).collect(), limit),
    }
}

/// "*WEB-12* PR #4 Fix the header — waiting for review 6.5 working hours (@octocat) <url>".
fn review_line(r: &decide::InReview) -> String {
    let state = if r.changes_requested {
        format!("changes requested {} working hours ago", r.hours)
    } else {
        format!("waiting for review {} working hours", r.hours)
    };
    let line = format!("*{}* PR #{} {} — {state} (@{})", r.ticket, r.number, shorten(&r.title, 80), r.author);
    if r.url.is_empty() {
        line
    } else {
        format!("{line} {}", r.url)
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
