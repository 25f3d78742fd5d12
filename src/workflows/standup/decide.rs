//! What goes into a standup, decided from board data and `now` alone.

use crate::board::{Status, Ticket, TicketKey, Transition};
use crate::calendar::{local_date, previous_working_day, start_of_day, working_days_between, working_hours_between};
use crate::store::GithubLink;
use chrono::{DateTime, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What is known about why a blocked ticket is blocked.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockerNote {
    pub text: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

pub struct StandupInput<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub working_days: &'a [Weekday],
    pub tickets: &'a [Ticket],
    /// At least every transition since the start of the previous working day.
    pub transitions: &'a [Transition],
    pub blockers: &'a HashMap<TicketKey, BlockerNote>,
    /// Only this person's work, when set (a handle).
    pub person: Option<&'a str>,
    pub stale_after_days: u32,
    /// Conversations that looked like work and have no ticket (any age; filtered here).
    pub untracked: &'a [Untracked],
    /// Open pull requests that name tickets (GitHub), oldest first.
    pub pulls: &'a [GithubLink],
    /// A pull request nobody reviewed for this many working hours is called out.
    pub review_wait_hours: f64,
}

/// A pull request the standup calls out: waiting for a review, or sent back for changes.
#[derive(Debug, Clone, PartialEq)]
pub struct InReview {
    pub ticket: String,
    pub number: i64,
    pub title: String,
    pub url: String,
    pub author: String,
    /// Working hours since it was opened, or since changes were asked for.
    pub hours: f64,
    pub changes_requested: bool,
}

/// A thread that looked like a work request but matched no ticket, and none was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Untracked {
    /// The decision about it (the Create ticket button carries it).
    pub decision: i64,
    pub channel: String,
    /// The author's handle, when on the team.
    pub author: Option<String>,
    pub text: String,
    pub at: DateTime<Utc>,
    /// Said in a private channel or a DM: listed without its words.
    pub private: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Standup {
    pub date: NaiveDate,
    /// The previous working day; finished work is counted from its start.
    pub since_date: NaiveDate,
    pub person: Option<String>,
    pub in_progress: Vec<Ticket>,
    pub todo: Vec<Ticket>,
    pub backlog: Vec<Ticket>,
    pub blocked: Vec<Blocked>,
    pub stale: Vec<Stale>,
    pub finished: Vec<Finished>,
    /// Per person (by handle), their most important open items.
    pub focus: BTreeMap<String, Vec<Ticket>>,
    /// Per person, what comes after today's focus: tomorrow's plan.
    pub plan: BTreeMap<String, Vec<Ticket>>,
    /// Since the previous working day's start, oldest first.
    pub untracked: Vec<Untracked>,
    /// Pull requests waiting for a review too long, or with changes requested; longest first.
    pub reviews: Vec<InReview>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Blocked {
    pub ticket: Ticket,
    pub note: BlockerNote,
    /// Working days since it was blocked, when known.
    pub days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub ticket: Ticket,
    pub idle_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub ticket: Ticket,
    /// Who finished it: the assignee, else whoever moved it.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// How many items each person's focus lists, and their plan after it.
const FOCUS_ITEMS: usize = 2;
const PLAN_ITEMS: usize = 2;

pub fn decide(input: &StandupInput) -> Standup {
    let date = local_date(input.now, input.tz);
    let since_date = previous_working_day(date, input.working_days);
    let since = start_of_day(since_date, input.tz);
    let mine = |t: &&Ticket| input.person.is_none_or(|p| t.assignee.as_deref() == Some(p));
    let scoped: Vec<&Ticket> = input.tickets.iter().filter(mine).collect();
    let with_status = |statuses: &[Status]| -> Vec<Ticket> {
        let mut list: Vec<Ticket> =
            scoped.iter().filter(|t| statuses.contains(&t.status)).map(|t| (*t).clone()).collect();
        list.sort_by_key(|t| (t.priority.rank(), t.created_at));
        list
    };
    let queues = queues(&scoped);
    Standup {
        date,
        since_date,
        person: input.person.map(str::to_string),
        in_progress: with_status(&[Status::InProgress, Status::InReview, Status::AiQueue]),
        todo: with_status(&[Status::Todo]),
        backlog: with_status(&[Status::Backlog]),
        blocked: blocked(input, &scoped, date),
        stale: stale(input, &scoped, date),
        finished: finished(input, since),
        focus: queues
            .iter()
            .map(|(who, queue)| (who.clone(), queue.iter().take(FOCUS_ITEMS).cloned().collect()))
            .collect(),
        plan: queues
            .into_iter()
            .map(|(who, queue)| (who, queue.into_iter().skip(FOCUS_ITEMS).take(PLAN_ITEMS).collect::<Vec<_>>()))
            .filter(|(_, plan)| !plan.is_empty())
            .collect(),
        untracked: untracked(input, since),
        reviews: reviews(input, &scoped),
    }
}

/// Open, non-draft pull requests on the scoped tickets: those nobody reviewed within
/// `review_wait_hours` working hours, and those with changes requested.
fn reviews(input: &StandupInput, scoped: &[&Ticket]) -> Vec<InReview> {
    let keys: HashSet<&str> = scoped.iter().map(|t| t.key.as_str()).collect();
    let mut out: Vec<InReview> = input
        .pulls
        .iter()
        .filter(|p| p.kind == "pull" && p.state == "open" && !p.draft && keys.contains(p.ticket_key.as_str()))
        .filter_map(|p| {
            let changes = p.review.as_deref() == Some("changes_requested");
            let from = if changes { p.review_at.unwrap_or(p.opened_at) } else { p.opened_at };
            let hours = working_hours_between(from, input.now, input.tz, input.working_days, &[]);
            let waiting = p.review.is_none() && hours >= input.review_wait_hours;
            (waiting || changes).then(|| InReview {
                ticket: p.ticket_key.clone(),
                number: p.number,
                title: p.title.clone(),
                url: p.url.clone(),
                author: p.author.clone(),
                hours: (hours * 10.0).round() / 10.0,
                changes_requested: changes,
            })
        })
        .collect();
    out.sort_by(|a, b| b.hours.total_cmp(&a.hours).then(a.number.cmp(&b.number)));
    out
}

fn untracked(input: &StandupInput, since: DateTime<Utc>) -> Vec<Untracked> {
    let mut list: Vec<Untracked> = input
        .untracked
        .iter()
        .filter(|u| u.at >= since && u.at <= input.now)
        .filter(|u| input.person.is_none_or(|p| u.author.as_deref() == Some(p)))
        .cloned()
        .collect();
    list.sort_by_key(|u| (u.at, u.decision));
    list
}

fn blocked(input: &StandupInput, scoped: &[&Ticket], today: NaiveDate) -> Vec<Blocked> {
    let mut list: Vec<Blocked> = scoped
        .iter()
        .filter(|t| t.status == Status::Blocked)
        .map(|t| {
            let note = input.blockers.get(&t.key).cloned().unwrap_or(BlockerNote { text: None, since: None });
            let days = note.since.map(|s| working_days_between(local_date(s, input.tz), today, input.working_days));
            Blocked { ticket: (*t).clone(), note, days }
        })
        .collect();
    list.sort_by_key(|b| (std::cmp::Reverse(b.days), b.ticket.priority.rank()));
    list
}

fn stale(input: &StandupInput, scoped: &[&Ticket], today: NaiveDate) -> Vec<Stale> {
    let watched = [Status::Todo, Status::InProgress, Status::InReview, Status::Blocked];
    let mut list: Vec<Stale> = scoped
        .iter()
        .filter(|t| watched.contains(&t.status))
        .map(|t| Stale {
            ticket: (*t).clone(),
            idle_days: working_days_between(local_date(t.updated_at, input.tz), today, input.working_days),
        })
        .filter(|s| s.idle_days > input.stale_after_days)
        .collect();
    list.sort_by_key(|s| (std::cmp::Reverse(s.idle_days), s.ticket.priority.rank()));
    list
}

fn finished(input: &StandupInput, since: DateTime<Utc>) -> Vec<Finished> {
    let by_key: HashMap<&TicketKey, &Ticket> = input.tickets.iter().map(|t| (&t.key, t)).collect();
    let mut seen = HashSet::new();
    let mut list: Vec<Finished> = input
        .transitions
        .iter()
        .rev()
        .filter(|tr| tr.to == Status::Done && tr.at >= since && tr.at <= input.now)
        .filter_map(|tr| {
            let ticket = by_key.get(&tr.ticket)?;
            let by = ticket.assignee.clone().unwrap_or_else(|| tr.actor.clone());
            let counts = ticket.status == Status::Done && input.person.is_none_or(|p| by == p || tr.actor == p);
            (counts && seen.insert(tr.ticket.clone())).then(|| Finished { ticket: (*ticket).clone(), by, at: tr.at })
        })
        .collect();
    list.sort_by_key(|f| f.at);
    list
}

/// Per person, their open work in the order they would take it: started work first, then
/// to do, then their backlog; most urgent first within each.
fn queues(scoped: &[&Ticket]) -> BTreeMap<String, Vec<Ticket>> {
    let order = |s: Status| match s {
        Status::InProgress => 0,
        Status::InReview => 1,
        Status::Todo => 2,
        Status::Backlog => 3,
        _ => 4,
    };
    let mut by_person: BTreeMap<String, Vec<Ticket>> = BTreeMap::new();
    for ticket in scoped.iter().filter(|t| order(t.status) < 4) {
        if let Some(assignee) = &ticket.assignee {
            by_person.entry(assignee.clone()).or_default().push((*ticket).clone());
        }
    }
    for tickets in by_person.values_mut() {
        // The backlog comes last whatever its priority: it is not committed work.
        tickets.sort_by_key(|t| (order(t.status) == 3, t.priority.rank(), order(t.status), t.created_at));
    }
    // Someone whose only work is backlog has no focus today.
    by_person.retain(|_, tickets| tickets.first().is_some_and(|t| t.status != Status::Backlog));
    by_person
}

#[cfg(test)]
mod tests;
