//! The standup's decisions with the clock pinned.

use super::*;
use crate::board::{Priority, Source};
use chrono::{Duration, TimeZone};
use chrono_tz::America::New_York;
use Weekday::*;

const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

/// Monday 16 November 2026, 09:00 in New York.
fn monday_9am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 14, 0, 0).unwrap()
}

fn ticket(n: i64, status: Status, priority: Priority, assignee: Option<&str>, updated_days_ago: i64) -> Ticket {
    let at = monday_9am() - Duration::days(updated_days_ago);
    Ticket {
        key: TicketKey::new("WEB", n),
        project: "WEB".into(),
        title: format!("ticket {n}"),
        description: String::new(),
        status,
        priority,
        labels: vec![],
        assignee: assignee.map(str::to_string),
        reporter: None,
        epic: None,
        parent: None,
        estimate: None,
        source: Source::default(),
        created_at: at - Duration::days(n),
        updated_at: at,
    }
}

fn done_at(n: i64, actor: &str, at: DateTime<Utc>) -> Transition {
    Transition {
        ticket: TicketKey::new("WEB", n),
        from: Some(Status::InReview),
        to: Status::Done,
        actor: actor.into(),
        reason: None,
        at,
    }
}

fn run(
    tickets: &[Ticket],
    transitions: &[Transition],
    blockers: &HashMap<TicketKey, BlockerNote>,
    person: Option<&str>,
) -> Standup {
    decide(&StandupInput {
        now: monday_9am(),
        tz: New_York,
        working_days: &WEEK,
        tickets,
        transitions,
        blockers,
        person,
        stale_after_days: 3,
        untracked: &[],
        pulls: &[],
        review_wait_hours: 4.0,
    })
}

#[test]
fn mondays_standup_looks_back_to_friday() {
    let tickets = [
        ticket(1, Status::Done, Priority::Medium, Some("ana"), 3),
        ticket(2, Status::Done, Priority::Medium, Some("ben"), 4),
    ];
    let friday_afternoon = Utc.with_ymd_and_hms(2026, 11, 13, 20, 0, 0).unwrap();
    let thursday = Utc.with_ymd_and_hms(2026, 11, 12, 20, 0, 0).unwrap();
    let transitions = [done_at(1, "ana", friday_afternoon), done_at(2, "ben", thursday)];
    let standup = run(&tickets, &transitions, &HashMap::new(), None);
    assert_eq!(standup.since_date, NaiveDate::from_ymd_opt(2026, 11, 13).unwrap());
    let finished: Vec<_> = standup.finished.iter().map(|f| (f.ticket.key.as_str(), f.by.as_str())).collect();
    assert_eq!(finished, [("WEB-1", "ana")], "Thursday's work is not Friday's");
}

#[test]
fn a_reopened_ticket_is_not_counted_as_finished() {
    let tickets = [ticket(1, Status::InProgress, Priority::Medium, Some("ana"), 0)];
    let transitions = [done_at(1, "ana", monday_9am() - Duration::hours(20))];
    assert!(run(&tickets, &transitions, &HashMap::new(), None).finished.is_empty());
}

#[test]
fn sections_list_most_urgent_first() {
    let tickets = [
        ticket(1, Status::Todo, Priority::Low, None, 0),
        ticket(2, Status::Todo, Priority::Critical, None, 0),
        ticket(3, Status::InReview, Priority::High, Some("ana"), 0),
        ticket(4, Status::Backlog, Priority::Medium, None, 0),
    ];
    let standup = run(&tickets, &[], &HashMap::new(), None);
    let todo: Vec<_> = standup.todo.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(todo, ["WEB-2", "WEB-1"]);
    assert_eq!(standup.in_progress.len(), 1, "in review counts as in progress");
    assert_eq!(standup.backlog.len(), 1);
}

#[test]
fn blocked_tickets_carry_their_blocker_and_age() {
    let tickets = [ticket(5, Status::Blocked, Priority::High, Some("ben"), 0)];
    let wednesday = Utc.with_ymd_and_hms(2026, 11, 11, 15, 0, 0).unwrap();
    let blockers = HashMap::from([(
        TicketKey::new("WEB", 5),
        BlockerNote { text: Some("waiting on the API key".into()), since: Some(wednesday) },
    )]);
    let standup = run(&tickets, &[], &blockers, None);
    assert_eq!(standup.blocked[0].note.text.as_deref(), Some("waiting on the API key"));
    assert_eq!(standup.blocked[0].days, Some(3), "Thu, Fri, Mon");
}

#[test]
fn untouched_work_is_counted_in_working_days() {
    let tickets = [
        ticket(1, Status::InProgress, Priority::Medium, Some("ana"), 3),
        ticket(2, Status::InProgress, Priority::Medium, Some("ana"), 7),
        ticket(3, Status::Backlog, Priority::Medium, None, 30),
    ];
    let standup = run(&tickets, &[], &HashMap::new(), None);
    let stale: Vec<_> = standup.stale.iter().map(|s| (s.ticket.key.as_str(), s.idle_days)).collect();
    assert_eq!(stale, [("WEB-2", 5)], "Friday is 1 working day ago; the backlog is not watched");
}

#[test]
fn focus_takes_each_persons_most_urgent_open_items() {
    let tickets = [
        ticket(1, Status::Todo, Priority::Critical, Some("ana"), 0),
        ticket(2, Status::InProgress, Priority::Medium, Some("ana"), 0),
        ticket(3, Status::InProgress, Priority::Low, Some("ana"), 0),
        ticket(4, Status::Done, Priority::Critical, Some("ben"), 0),
    ];
    let standup = run(&tickets, &[], &HashMap::new(), None);
    let ana: Vec<_> = standup.focus["ana"].iter().map(|t| t.key.as_str()).collect();
    assert_eq!(ana, ["WEB-1", "WEB-2"]);
    assert!(!standup.focus.contains_key("ben"), "done work is not a focus");
}

#[test]
fn tomorrows_plan_is_what_comes_after_the_focus_backlog_last() {
    let tickets = [
        ticket(1, Status::Backlog, Priority::Critical, Some("ana"), 0),
        ticket(2, Status::InProgress, Priority::Medium, Some("ana"), 0),
        ticket(3, Status::Todo, Priority::High, Some("ana"), 0),
        ticket(4, Status::Todo, Priority::Low, Some("ana"), 0),
        ticket(5, Status::Blocked, Priority::Critical, Some("ana"), 0),
        ticket(6, Status::Backlog, Priority::High, Some("ben"), 0),
    ];
    let standup = run(&tickets, &[], &HashMap::new(), None);
    let keys = |list: &[Ticket]| list.iter().map(|t| t.key.to_string()).collect::<Vec<_>>();
    assert_eq!(keys(&standup.focus["ana"]), ["WEB-3", "WEB-2"]);
    assert_eq!(keys(&standup.plan["ana"]), ["WEB-4", "WEB-1"], "blocked work is not planned; backlog comes last");
    assert!(!standup.plan.contains_key("ben") && !standup.focus.contains_key("ben"), "backlog alone is no plan");
}

#[test]
fn untracked_conversations_since_the_previous_working_day_are_listed() {
    let said = |decision: i64, author: &str, at: DateTime<Utc>| Untracked {
        decision,
        channel: "#eng".into(),
        author: Some(author.into()),
        text: "can we add CSV export".into(),
        at,
        private: false,
    };
    let friday_noon = monday_9am() - chrono::Duration::hours(69);
    let thursday = monday_9am() - chrono::Duration::days(4);
    let untracked = [
        said(2, "ben", friday_noon),
        said(1, "ana", thursday),
        said(3, "ana", monday_9am() + chrono::Duration::minutes(5)),
    ];
    let blockers = HashMap::new();
    let input = |person| StandupInput {
        now: monday_9am(),
        tz: New_York,
        working_days: &WEEK,
        tickets: &[],
        transitions: &[],
        blockers: &blockers,
        person,
        stale_after_days: 3,
        untracked: &untracked,
        pulls: &[],
        review_wait_hours: 4.0,
    };
    let team = decide(&input(None));
    assert_eq!(
        team.untracked.iter().map(|u| u.decision).collect::<Vec<_>>(),
        [2],
        "Thursday is before Friday; later is not yet"
    );
    assert!(decide(&input(Some("ana"))).untracked.is_empty());
}

#[test]
fn a_personal_standup_shows_only_that_persons_work() {
    let tickets = [
        ticket(1, Status::Todo, Priority::High, Some("ana"), 0),
        ticket(2, Status::Todo, Priority::High, Some("ben"), 0),
    ];
    let standup = run(&tickets, &[], &HashMap::new(), Some("ben"));
    assert_eq!(standup.todo.len(), 1);
    assert_eq!(standup.todo[0].assignee.as_deref(), Some("ben"));
    assert_eq!(standup.focus.keys().collect::<Vec<_>>(), ["ben"]);
}

fn pull(n: i64, ticket: i64, opened: DateTime<Utc>) -> GithubLink {
    GithubLink {
        repo: "acme/web".into(),
        kind: "pull".into(),
        number: n,
        ticket_key: format!("WEB-{ticket}"),
        title: format!("Fix ticket {ticket}"),
        url: format!("https://github.com/acme/web/pull/{n}"),
        author: "octocat".into(),
        state: "open".into(),
        draft: false,
        review: None,
        opened_at: opened,
        review_at: None,
    }
}

#[test]
fn pull_requests_waiting_for_review_or_sent_back_are_called_out() {
    let tickets = [
        ticket(1, Status::InReview, Priority::Medium, Some("ben"), 1),
        ticket(2, Status::InReview, Priority::Medium, Some("ben"), 1),
        ticket(3, Status::InReview, Priority::Medium, Some("chloe"), 1),
        ticket(4, Status::InReview, Priority::Medium, Some("ben"), 1),
    ];
    let friday_1pm = Utc.with_ymd_and_hms(2026, 11, 13, 18, 0, 0).unwrap();
    let mut sent_back = pull(3, 3, friday_1pm - Duration::days(3));
    sent_back.review = Some("changes_requested".into());
    sent_back.review_at = Some(friday_1pm + Duration::hours(2));
    let mut draft = pull(4, 4, friday_1pm - Duration::days(3));
    draft.draft = true;
    let mut approved = pull(5, 1, friday_1pm - Duration::days(3));
    approved.review = Some("approved".into());
    let pulls = [
        pull(1, 1, friday_1pm),                        // 4 working hours by Monday 09:00: listed
        pull(2, 2, monday_9am() - Duration::hours(1)), // opened before work started: 0 hours
        sent_back,
        draft,
        approved,
    ];
    let blockers = HashMap::new();
    let input = |person| StandupInput {
        now: monday_9am(),
        tz: New_York,
        working_days: &WEEK,
        tickets: &tickets,
        transitions: &[],
        blockers: &blockers,
        person,
        stale_after_days: 3,
        untracked: &[],
        pulls: &pulls,
        review_wait_hours: 4.0,
    };
    let team = decide(&input(None));
    let listed: Vec<(i64, f64, bool)> = team.reviews.iter().map(|r| (r.number, r.hours, r.changes_requested)).collect();
    assert_eq!(listed, [(1, 4.0, false), (3, 2.0, true)]);
    // Ben's standup has only his tickets' pull requests.
    let ben = decide(&input(Some("ben")));
    assert_eq!(ben.reviews.iter().map(|r| r.number).collect::<Vec<_>>(), [1]);
}
