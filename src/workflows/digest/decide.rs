//! What the week's digest says: per person and for the team, the tickets done, moved and
//! created from the start of the week (Monday, team time zone) until now. Pure.

use crate::board::{Status, Ticket, TicketKey, Transition};
use crate::calendar::{local_date, start_of_day};
use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Week {
    pub done: Vec<TicketKey>,
    /// Moves other than to done (starting, review, blocking, …), one per ticket.
    pub moved: Vec<TicketKey>,
    pub created: Vec<TicketKey>,
}

impl Week {
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.moved.is_empty() && self.created.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub since: DateTime<Utc>,
    pub team: Week,
    /// By handle; people with nothing this week are left out.
    pub people: BTreeMap<String, Week>,
}

/// `transitions` must hold at least those since the start of the week; `None` as a
/// transition's `from` is a creation.
pub fn decide(now: DateTime<Utc>, tz: Tz, tickets: &[Ticket], transitions: &[Transition]) -> Digest {
    let today = local_date(now, tz);
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let since = start_of_day(monday, tz);
    let by_key: HashMap<&TicketKey, &Ticket> = tickets.iter().map(|t| (&t.key, t)).collect();
    let mut team = Week::default();
    let mut people: BTreeMap<String, Week> = BTreeMap::new();
    let mut add = |who: &str, pick: fn(&mut Week) -> &mut Vec<TicketKey>, key: &TicketKey| {
        let list = pick(people.entry(who.to_string()).or_default());
        if !list.contains(key) {
            list.push(key.clone());
        }
        let list = pick(&mut team);
        if !list.contains(key) {
            list.push(key.clone());
        }
    };
    for t in transitions.iter().filter(|t| t.at >= since && t.at <= now) {
        let ticket = by_key.get(&t.ticket);
        match (t.from, t.to) {
            (None, _) => {
                let reporter = ticket.and_then(|t| t.reporter.clone()).unwrap_or_else(|| t.actor.clone());
                add(&reporter, |w| &mut w.created, &t.ticket);
            }
            // Done counts only if it is still done (a reopened ticket was not finished).
            (Some(_), Status::Done) if ticket.is_some_and(|t| t.status == Status::Done) => {
                let by = ticket.and_then(|t| t.assignee.clone()).unwrap_or_else(|| t.actor.clone());
                add(&by, |w| &mut w.done, &t.ticket);
            }
            (Some(_), Status::Done) => {}
            (Some(_), _) => add(&t.actor, |w| &mut w.moved, &t.ticket),
        }
    }
    // A ticket finished this week is listed as done, not also as moved.
    for week in people.values_mut().chain(std::iter::once(&mut team)) {
        let done = week.done.clone();
        week.moved.retain(|k| !done.contains(k));
    }
    people.retain(|_, week| !week.is_empty());
    Digest { since, team, people }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    fn ticket(n: u32, status: Status, assignee: Option<&str>, reporter: Option<&str>) -> Ticket {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        Ticket {
            assignee: assignee.map(str::to_string),
            reporter: reporter.map(str::to_string),
            ..Ticket::sample(&format!("WEB-{n}"), status, at)
        }
    }

    fn moved(n: u32, from: Option<Status>, to: Status, actor: &str, at: DateTime<Utc>) -> Transition {
        Transition { ticket: format!("WEB-{n}").parse().unwrap(), from, to, actor: actor.into(), reason: None, at }
    }

    /// Friday 20 November 2026, 16:00 in New York.
    fn friday_4pm() -> DateTime<Utc> {
        New_York.with_ymd_and_hms(2026, 11, 20, 16, 0, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_week_counts_done_moved_and_created_per_person_and_team() {
        let monday_early = New_York.with_ymd_and_hms(2026, 11, 16, 0, 5, 0).unwrap().with_timezone(&Utc);
        let sunday_late = New_York.with_ymd_and_hms(2026, 11, 15, 23, 55, 0).unwrap().with_timezone(&Utc);
        let tickets = [
            ticket(1, Status::Done, Some("ana"), None),
            ticket(2, Status::InReview, Some("ben"), None),
            ticket(3, Status::Backlog, None, Some("chloe")),
            ticket(4, Status::InProgress, Some("ana"), None),
            ticket(5, Status::Done, Some("ben"), None),
        ];
        let transitions = [
            moved(1, Some(Status::InProgress), Status::InReview, "ana", monday_early),
            moved(1, Some(Status::InReview), Status::Done, "pat", friday_4pm() - Duration::hours(1)),
            moved(2, Some(Status::Todo), Status::InReview, "ben", friday_4pm() - Duration::hours(30)),
            moved(3, None, Status::Backlog, "pmbot", friday_4pm() - Duration::hours(2)),
            // Reopened after being done: not finished this week.
            moved(4, Some(Status::InReview), Status::Done, "ana", friday_4pm() - Duration::hours(5)),
            moved(4, Some(Status::Done), Status::InProgress, "ana", friday_4pm() - Duration::hours(4)),
            // Last week, and later than now: neither counts.
            moved(5, Some(Status::InReview), Status::Done, "ben", sunday_late),
            moved(2, Some(Status::InReview), Status::Done, "ben", friday_4pm() + Duration::minutes(1)),
        ];
        let digest = decide(friday_4pm(), New_York, &tickets, &transitions);
        let keys = |list: &[TicketKey]| list.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        assert_eq!(digest.since, monday_early - Duration::minutes(5));
        assert_eq!(keys(&digest.people["ana"].done), ["WEB-1"], "credited to the assignee, not to who moved it");
        assert_eq!(keys(&digest.people["ana"].moved), ["WEB-4"], "WEB-1 is done, so not also moved");
        assert_eq!(keys(&digest.people["ben"].moved), ["WEB-2"]);
        assert!(digest.people["ben"].done.is_empty());
        assert_eq!(keys(&digest.people["chloe"].created), ["WEB-3"], "the reporter, not the bot, created it");
        assert!(!digest.people.contains_key("pat"), "moving someone's ticket to done is theirs");
        assert_eq!((digest.team.done.len(), digest.team.moved.len(), digest.team.created.len()), (1, 2, 1));
    }

    #[test]
    fn a_quiet_week_is_empty() {
        let digest = decide(friday_4pm(), New_York, &[], &[]);
        assert!(digest.team.is_empty() && digest.people.is_empty());
    }
}
