//! Stuck work. Pure: open tickets, their status history and latest activity, and `now` in;
//! which tickets sit far longer in their status than that project × status usually takes,
//! and why they probably do.
//!
//! Time is counted in working hours (09:00–17:00, working days, holidays off). The baseline
//! is learned from the history: the median stay and its MAD (median absolute deviation); a
//! ticket is stuck when its robust z-score passes `Z_STUCK` and it has sat at least the
//! floor. With fewer than `MIN_SAMPLES` finished stays, fixed thresholds apply instead.

use crate::board::{Status, Ticket, Transition};
use crate::calendar::{working_hours_between, WORKDAY_HOURS};
use crate::store::GithubLink;
use crate::workflows::agents::median;
use chrono::{DateTime, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::HashMap;

pub const MIN_SAMPLES: usize = 5;
/// Robust z-score (0.6745 × (x − median) / MAD) above which a stay is far from usual.
pub const Z_STUCK: f64 = 3.5;
/// Activity (a comment, a message about it, a move) this recent means someone is on it.
const ACTIVE_HOURS: f64 = WORKDAY_HOURS;

/// Latest activity per ticket key, newest first: `(when, who, what was said or done)`.
pub type Activity = HashMap<String, Vec<(DateTime<Utc>, String, String)>>;

pub struct Input<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub working_days: &'a [Weekday],
    pub holidays: &'a [NaiveDate],
    pub tickets: &'a [Ticket],
    /// The whole history (for baselines and for when each ticket entered its status).
    pub transitions: &'a [Transition],
    pub activity: &'a Activity,
    /// Nothing is stuck before this many working days.
    pub floor_days: f64,
    /// Open pull requests naming tickets (GitHub): a ticket in review has been in review
    /// since its pull request opened, and waits on a reviewer or on its author.
    pub pulls: &'a [GithubLink],
}

#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    /// Someone did something about it within the last working day.
    ActivelyWorked {
        by: String,
    },
    /// The latest note says it waits on someone.
    WaitingOn {
        who: String,
    },
    Blocked {
        reason: Option<String>,
    },
    SilentlyStuck,
}

impl Why {
    pub fn suggestion(&self) -> String {
        match self {
            Why::ActivelyWorked { by } => format!("{by} is on it; check whether it should be split"),
            Why::WaitingOn { who } => format!("nudge {who}, or agree a date"),
            Why::Blocked { .. } => "escalate the blocker, or park the ticket".to_string(),
            Why::SilentlyStuck => "ask the assignee for a status, or unassign it".to_string(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Why::ActivelyWorked { .. } => "actively worked".into(),
            Why::WaitingOn { who } => format!("waiting on {who}"),
            Why::Blocked { reason: Some(reason) } => format!("blocked: {reason}"),
            Why::Blocked { reason: None } => "blocked".into(),
            Why::SilentlyStuck => "silently stuck".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stuck {
    pub ticket: Ticket,
    /// When it entered its current status (its creation when the history is missing).
    pub since: DateTime<Utc>,
    pub days: f64,
    /// The usual stay for its project and status, in working days, when learned.
    pub usual_days: Option<f64>,
    pub why: Why,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub stuck: Vec<Stuck>,
    /// Tickets blocked since the last working day (for an immediate notice).
    pub newly_blocked: Vec<(Ticket, DateTime<Utc>)>,
    /// `project:status` pairs judged by fixed thresholds for want of history.
    pub fixed: Vec<String>,
}

/// Working days a status may last before it counts as stuck without a baseline.
pub fn fixed_days(status: Status) -> f64 {
    match status {
        Status::InReview | Status::Blocked => 2.0,
        Status::InProgress => 5.0,
        _ => 10.0,
    }
}

fn watched(status: Status) -> bool {
    matches!(status, Status::Todo | Status::InProgress | Status::InReview | Status::Blocked)
}

pub fn decide(input: &Input) -> Report {
    let hours = |from: DateTime<Utc>, to: DateTime<Utc>| {
        working_hours_between(from, to, input.tz, input.working_days, input.holidays) / WORKDAY_HOURS
    };
    // Finished stays per project × status, in working days.
    let mut by_ticket: HashMap<&str, Vec<&Transition>> = HashMap::new();
    for t in input.transitions {
        by_ticket.entry(t.ticket.as_str()).or_default().push(t);
    }
    let project_of = |key: &str| key.split_once('-').map_or(key.to_string(), |(p, _)| p.to_string());
    let mut stays: HashMap<(String, Status), Vec<f64>> = HashMap::new();
    for (key, history) in &mut by_ticket {
        history.sort_by_key(|t| t.at);
        for pair in history.windows(2) {
            stays.entry((project_of(key), pair[0].to)).or_default().push(hours(pair[0].at, pair[1].at));
        }
    }
    let baselines: HashMap<(String, Status), (f64, f64)> = stays
        .into_iter()
        .filter(|(_, v)| v.len() >= MIN_SAMPLES)
        .map(|(k, mut v)| {
            let m = median(&mut v).unwrap_or(0.0);
            let mut deviations: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
            (k, (m, median(&mut deviations).unwrap_or(0.0)))
        })
        .collect();

    let mut report = Report { stuck: Vec::new(), newly_blocked: Vec::new(), fixed: Vec::new() };
    for ticket in input.tickets.iter().filter(|t| watched(t.status)) {
        let entered = by_ticket
            .get(ticket.key.as_str())
            .and_then(|h| h.iter().rev().find(|t| t.to == ticket.status).map(|t| t.at))
            .unwrap_or(ticket.created_at);
        // In review: the pull request's own events say since when, better than the board.
        let pull = open_pull(input, ticket);
        let entered = match (ticket.status, pull) {
            (Status::InReview, Some(p)) => p.opened_at,
            _ => entered,
        };
        let days = hours(entered, input.now);
        if ticket.status == Status::Blocked && days <= 1.0 {
            report.newly_blocked.push((ticket.clone(), entered));
        }
        let pair = (ticket.project.clone(), ticket.status);
        let (is_stuck, usual) = match baselines.get(&pair) {
            Some(&(median, mad)) => {
                // A MAD of 0 (all stays alike) would make every longer stay infinitely far.
                let spread = mad.max(0.25);
                (0.6745 * (days - median) / spread > Z_STUCK, Some(median))
            }
            None => {
                let label = format!("{}:{}", ticket.project, ticket.status.as_str());
                if !report.fixed.contains(&label) {
                    report.fixed.push(label);
                }
                (days > fixed_days(ticket.status), None)
            }
        };
        if is_stuck && days >= input.floor_days {
            let why = why(input, ticket);
            report.stuck.push(Stuck {
                ticket: ticket.clone(),
                since: entered,
                days: round1(days),
                usual_days: usual.map(round1),
                why,
            });
        }
    }
    report.stuck.sort_by(|a, b| b.days.total_cmp(&a.days).then_with(|| a.ticket.key.cmp(&b.ticket.key)));
    report.fixed.sort();
    report
}

/// The ticket's oldest open pull request that is not a draft.
fn open_pull<'a>(input: &'a Input, ticket: &Ticket) -> Option<&'a GithubLink> {
    input
        .pulls
        .iter()
        .filter(|p| p.kind == "pull" && p.state == "open" && !p.draft && p.ticket_key == ticket.key.as_str())
        .min_by_key(|p| p.opened_at)
}

fn why(input: &Input, ticket: &Ticket) -> Why {
    let activity = input.activity.get(ticket.key.as_str()).map(Vec::as_slice).unwrap_or_default();
    let latest = activity.first();
    if let Some((at, who, _)) = latest {
        let since = working_hours_between(*at, input.now, input.tz, input.working_days, input.holidays);
        if since <= ACTIVE_HOURS && ticket.status != Status::Blocked {
            return Why::ActivelyWorked { by: who.clone() };
        }
    }
    if let (Status::InReview, Some(p)) = (ticket.status, open_pull(input, ticket)) {
        let who = match p.review.as_deref() {
            Some("changes_requested") => format!("@{} to address the review of PR #{}", p.author, p.number),
            _ => format!("a reviewer for PR #{}", p.number),
        };
        return Why::WaitingOn { who };
    }
    let waiting = activity.iter().find_map(|(_, _, text)| waiting_on(text));
    if ticket.status == Status::Blocked {
        let reason = activity.first().map(|(_, _, text)| text.chars().take(120).collect());
        return Why::Blocked { reason };
    }
    match waiting {
        Some(who) => Why::WaitingOn { who },
        None => Why::SilentlyStuck,
    }
}

/// "waiting on Acme IT", "waiting for @ben to …", "blocked on legal" → who.
fn waiting_on(text: &str) -> Option<String> {
    // Found in the text itself, ignoring ASCII case: offsets from a lower-cased copy would
    // not be offsets into the text (lower-casing "İ" changes its length).
    let cue_at = |cue: &str| {
        text.char_indices()
            .map(|(i, _)| i)
            .find(|&i| text.get(i..i + cue.len()).is_some_and(|s| s.eq_ignore_ascii_case(cue)))
            .map(|i| i + cue.len())
    };
    let at =
        ["waiting on ", "waiting for ", "blocked on ", "blocked by ", "pending "].iter().find_map(|cue| cue_at(cue))?;
    let rest = &text[at..];
    let who: Vec<&str> = rest
        .split(['.', ',', ';', '\n', '('])
        .next()?
        .split_whitespace()
        .take_while(|w| !matches!(w.to_lowercase().as_str(), "to" | "before" | "until" | "so" | "and" | "for"))
        .take(4)
        .collect();
    (!who.is_empty()).then(|| who.join(" "))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod fuzz {
    use super::waiting_on;
    use proptest::prelude::*;

    #[test]
    fn text_that_changes_length_when_lower_cased_is_read_safely() {
        assert_eq!(waiting_on("İİİİİ waiting on x"), Some("x".into()));
        assert_eq!(waiting_on("ẞ Waiting For Acme IT to reply"), Some("Acme IT".into()));
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_a_panic(text in "\\PC*", cue in prop::sample::select(vec!["waiting on ", "BLOCKED BY ", "pending "])) {
            let _ = waiting_on(&text);
            let _ = waiting_on(&format!("{text}{cue}{text}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use chrono_tz::America::New_York;
    use Weekday::*;

    const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        New_York.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap().with_timezone(&Utc)
    }

    fn ticket(n: u32, status: Status, created: DateTime<Utc>) -> Ticket {
        Ticket { assignee: Some("ana".into()), ..Ticket::sample(&format!("WEB-{n}"), status, created) }
    }

    fn moved(n: u32, from: Option<Status>, to: Status, when: DateTime<Utc>) -> Transition {
        Transition {
            ticket: format!("WEB-{n}").parse().unwrap(),
            from,
            to,
            actor: "ana".into(),
            reason: None,
            at: when,
        }
    }

    fn run(now: DateTime<Utc>, tickets: &[Ticket], transitions: &[Transition], activity: &Activity) -> Report {
        decide(&Input {
            now,
            tz: New_York,
            working_days: &WEEK,
            holidays: &[],
            tickets,
            transitions,
            activity,
            floor_days: 2.0,
            pulls: &[],
        })
    }

    /// Six finished reviews of one working day each (WEB-101..106), for a baseline.
    fn quick_reviews() -> Vec<Transition> {
        (0..6)
            .flat_map(|i| {
                let start = at(2 + i, 9);
                vec![
                    moved(101 + i, Some(Status::InProgress), Status::InReview, start),
                    moved(101 + i, Some(Status::InReview), Status::Done, start + Duration::hours(24)),
                ]
            })
            .collect()
    }

    #[test]
    fn a_stay_far_above_the_learned_baseline_is_stuck() {
        let now = at(20, 17);
        let mut history = quick_reviews();
        history.push(moved(1, Some(Status::InProgress), Status::InReview, at(16, 9)));
        history.push(moved(2, Some(Status::InProgress), Status::InReview, at(19, 9)));
        let tickets = [ticket(1, Status::InReview, at(2, 9)), ticket(2, Status::InReview, at(2, 9))];
        let report = run(now, &tickets, &history, &HashMap::new());
        assert_eq!(report.stuck.len(), 1, "{report:?}");
        let s = &report.stuck[0];
        assert_eq!((s.ticket.key.as_str(), s.days, s.usual_days), ("WEB-1", 5.0, Some(1.0)));
        assert_eq!(s.why, Why::SilentlyStuck);
        assert!(report.fixed.is_empty());
    }

    #[test]
    fn without_history_fixed_thresholds_apply_and_are_named() {
        let tickets = [ticket(1, Status::InProgress, at(9, 9)), ticket(2, Status::InProgress, at(16, 9))];
        let report = run(at(20, 17), &tickets, &[], &HashMap::new());
        assert_eq!(report.fixed, ["WEB:in_progress"]);
        let keys: Vec<_> = report.stuck.iter().map(|s| s.ticket.key.to_string()).collect();
        assert_eq!(keys, ["WEB-1"], "judged from its creation: 10 working days > 5; WEB-2 has 5, not more");
    }

    #[test]
    fn the_latest_activity_says_why() {
        let tickets = [
            ticket(1, Status::InProgress, at(2, 9)),
            ticket(2, Status::InProgress, at(2, 9)),
            ticket(3, Status::Blocked, at(2, 9)),
            ticket(4, Status::InProgress, at(2, 9)),
        ];
        let mut activity = HashMap::new();
        activity.insert("WEB-1".to_string(), vec![(at(20, 15), "dev".to_string(), "pushed a fix".to_string())]);
        activity.insert(
            "WEB-2".to_string(),
            vec![(at(10, 10), "ana".into(), "Waiting on Acme IT for the tenant id.".into())],
        );
        activity.insert("WEB-3".to_string(), vec![(at(3, 10), "ana".into(), "needs legal sign-off".into())]);
        let report = run(at(20, 17), &tickets, &[], &activity);
        let why: HashMap<String, Why> =
            report.stuck.iter().map(|s| (s.ticket.key.to_string(), s.why.clone())).collect();
        assert_eq!(why["WEB-1"], Why::ActivelyWorked { by: "dev".into() });
        assert_eq!(why["WEB-2"], Why::WaitingOn { who: "Acme IT".into() });
        assert_eq!(why["WEB-3"], Why::Blocked { reason: Some("needs legal sign-off".into()) });
        assert_eq!(why["WEB-4"], Why::SilentlyStuck);
    }

    #[test]
    fn a_ticket_blocked_today_is_new_and_the_floor_holds() {
        let history = [moved(1, Some(Status::InProgress), Status::Blocked, at(20, 10))];
        let tickets = [ticket(1, Status::Blocked, at(2, 9))];
        let report = run(at(20, 15), &tickets, &history, &HashMap::new());
        assert_eq!(report.newly_blocked.len(), 1);
        assert!(report.stuck.is_empty(), "5 working hours is under the 2-day floor");
    }

    #[test]
    fn time_in_review_counts_from_the_pull_request_and_says_who_it_waits_on() {
        // The board moved both to review only yesterday; their pull requests opened long before.
        let history = [
            moved(1, Some(Status::InProgress), Status::InReview, at(19, 9)),
            moved(2, Some(Status::InProgress), Status::InReview, at(19, 9)),
        ];
        let tickets = [ticket(1, Status::InReview, at(2, 9)), ticket(2, Status::InReview, at(2, 9))];
        let link = |n: i64, review: Option<&str>| GithubLink {
            repo: "acme/web".into(),
            kind: "pull".into(),
            number: n,
            ticket_key: format!("WEB-{n}"),
            title: String::new(),
            url: String::new(),
            author: "octocat".into(),
            state: "open".into(),
            draft: false,
            review: review.map(str::to_string),
            opened_at: at(13, 9),
            review_at: None,
        };
        let pulls = [link(1, None), link(2, Some("changes_requested"))];
        let input = Input {
            now: at(20, 17),
            tz: New_York,
            working_days: &WEEK,
            holidays: &[],
            tickets: &tickets,
            transitions: &history,
            activity: &HashMap::new(),
            floor_days: 2.0,
            pulls: &pulls,
        };
        let report = decide(&input);
        let stuck: Vec<(String, f64, Why)> =
            report.stuck.iter().map(|s| (s.ticket.key.to_string(), s.days, s.why.clone())).collect();
        assert_eq!(
            stuck,
            [
                ("WEB-1".to_string(), 6.0, Why::WaitingOn { who: "a reviewer for PR #1".into() }),
                ("WEB-2".to_string(), 6.0, Why::WaitingOn { who: "@octocat to address the review of PR #2".into() }),
            ]
        );
        // Without the pull requests, one working day in review is not stuck.
        assert!(decide(&Input { pulls: &[], ..input }).stuck.is_empty());
    }
}
