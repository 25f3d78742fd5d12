//! Time-tracking compliance for the previous Monday–Sunday (team time zone). Pure: people,
//! their worklogs and `now` in; each person's hours, status and what is missing per day out.

use crate::calendar::local_date;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

/// Hours a full-time person is expected to log in a working day.
pub const FULL_DAY: f64 = 8.0;
/// A full-time week, against which part-time weeks are scaled.
pub const FULL_WEEK: f64 = 40.0;
/// How many earlier weeks are read to find repeat offenders.
pub const LOOKBACK_WEEKS: i64 = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub handle: String,
    /// Contracted hours a week (40 for full time).
    pub weekly_hours: f64,
    /// Days off, inclusive ranges.
    pub leave: Vec<(NaiveDate, NaiveDate)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub person: String,
    pub day: NaiveDate,
    pub hours: f64,
}

pub struct Input<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub working_days: &'a [Weekday],
    pub holidays: &'a [NaiveDate],
    pub people: &'a [Member],
    /// At least the last `LOOKBACK_WEEKS + 1` weeks.
    pub worklogs: &'a [Logged],
    /// Full-time thresholds (32 and 16 by default), scaled per person and week.
    pub compliant_hours: f64,
    pub partial_hours: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Compliant,
    Partial,
    NonCompliant,
    /// No working day to judge (leave or holidays all week).
    Away,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Compliant => "compliant",
            Status::Partial => "partial",
            Status::NonCompliant => "non-compliant",
            Status::Away => "away",
        }
    }

    fn short(self) -> bool {
        matches!(self, Status::Partial | Status::NonCompliant)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub handle: String,
    pub hours: f64,
    /// The compliant threshold for this person this week (pro rata).
    pub expected: f64,
    pub status: Status,
    /// Working days below the day's share, with the hours missing.
    pub missing: Vec<(NaiveDate, f64)>,
    /// Consecutive short weeks ending with this one (0 when compliant or away).
    pub short_weeks: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Whether anyone logged any time in the week: without any, there is nothing to judge
    /// (an import or a sync is missing), and nobody is told they are short.
    pub has_data: bool,
    /// Monday of the judged week.
    pub week: NaiveDate,
    pub verdicts: Vec<Verdict>,
}

impl Report {
    /// Compliant people over people judged (away ones are not); `None` with nobody judged.
    pub fn compliance(&self) -> Option<f64> {
        let judged: Vec<_> = self.verdicts.iter().filter(|v| v.status != Status::Away).collect();
        let compliant = judged.iter().filter(|v| v.status == Status::Compliant).count();
        (!judged.is_empty()).then(|| compliant as f64 / judged.len() as f64)
    }

    pub fn repeat_offenders(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.short_weeks >= 2)
    }
}

/// The previous Monday–Sunday as seen from `now` in the team's zone.
pub fn previous_week(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let today = local_date(now, tz);
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7)
}

pub fn decide(input: &Input) -> Report {
    let week = previous_week(input.now, input.tz);
    let has_data = anyone_logged(input, week);
    let verdicts = input
        .people
        .iter()
        .map(|member| {
            let mut verdict = judge(input, member, week);
            if verdict.status.short() {
                verdict.short_weeks = 1;
                for back in 1..=LOOKBACK_WEEKS {
                    let earlier = week - Duration::weeks(back);
                    // A week nobody logged is missing data, not a short week.
                    if !anyone_logged(input, earlier) || !judge(input, member, earlier).status.short() {
                        break;
                    }
                    verdict.short_weeks += 1;
                }
            }
            verdict
        })
        .collect();
    Report { has_data, week, verdicts }
}

fn anyone_logged(input: &Input, week: NaiveDate) -> bool {
    input.worklogs.iter().any(|w| w.day >= week && w.day < week + Duration::days(7))
}

fn judge(input: &Input, member: &Member, week: NaiveDate) -> Verdict {
    let days: Vec<NaiveDate> = (0..7).map(|d| week + Duration::days(d)).collect();
    let on_leave = |day: NaiveDate| member.leave.iter().any(|(from, to)| (*from..=*to).contains(&day));
    let available: Vec<NaiveDate> = days
        .iter()
        .copied()
        .filter(|d| input.working_days.contains(&d.weekday()))
        .filter(|d| !input.holidays.contains(d) && !on_leave(*d))
        .collect();
    let logged = |day: NaiveDate| -> f64 {
        input.worklogs.iter().filter(|w| w.person == member.handle && w.day == day).map(|w| w.hours).sum()
    };
    let hours = round2(days.iter().map(|d| logged(*d)).sum());
    let part = (member.weekly_hours / FULL_WEEK).clamp(0.0, 2.0);
    let normal_days = input.working_days.len().max(1) as f64;
    let share = available.len() as f64 / normal_days;
    let expected = round2(input.compliant_hours * part * share);
    let partial_at = round2(input.partial_hours * part * share);
    let status = if available.is_empty() || part == 0.0 {
        Status::Away
    } else if hours >= expected {
        Status::Compliant
    } else if hours >= partial_at {
        Status::Partial
    } else {
        Status::NonCompliant
    };
    let per_day = FULL_DAY * part;
    let missing = if status.short() {
        available.iter().filter_map(|d| Some((*d, round2(per_day - logged(*d)))).filter(|(_, m)| *m > 0.0)).collect()
    } else {
        Vec::new()
    };
    Verdict { handle: member.handle.clone(), hours, expected, status, missing, short_weeks: 0 }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::{America::New_York, Europe::Lisbon};
    use Weekday::*;

    const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    /// Monday 16 November 2026, 10:00 in New York: the judged week is 9–15 November.
    fn monday_10am() -> DateTime<Utc> {
        New_York.with_ymd_and_hms(2026, 11, 16, 10, 0, 0).unwrap().with_timezone(&Utc)
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn member(handle: &str) -> Member {
        Member { handle: handle.into(), weekly_hours: 40.0, leave: vec![] }
    }

    fn log(person: &str, day: NaiveDate, hours: f64) -> Logged {
        Logged { person: person.into(), day, hours }
    }

    fn run(now: DateTime<Utc>, people: &[Member], worklogs: &[Logged], holidays: &[NaiveDate]) -> Report {
        decide(&Input {
            now,
            tz: New_York,
            working_days: &WEEK,
            holidays,
            people,
            worklogs,
            compliant_hours: 32.0,
            partial_hours: 16.0,
        })
    }

    /// `hours` spread over Monday–Friday of the week starting `monday`.
    fn week_of(person: &str, monday: NaiveDate, hours: f64) -> Vec<Logged> {
        (0..5).map(|d| log(person, monday + Duration::days(d), hours / 5.0)).collect()
    }

    #[test]
    fn thresholds_are_inclusive_at_32_and_16() {
        let people = [member("a"), member("b"), member("c"), member("d")];
        let mut logs = week_of("a", date(9), 32.0);
        logs.extend(week_of("b", date(9), 31.99));
        logs.extend(week_of("c", date(9), 16.0));
        logs.extend(week_of("d", date(9), 15.99));
        let report = run(monday_10am(), &people, &logs, &[]);
        let statuses: Vec<_> = report.verdicts.iter().map(|v| v.status).collect();
        assert_eq!(statuses, [Status::Compliant, Status::Partial, Status::Partial, Status::NonCompliant]);
        assert_eq!(report.week, date(9));
        assert_eq!(report.compliance(), Some(0.25));
    }

    #[test]
    fn missing_hours_are_listed_per_working_day() {
        let logs = [log("a", date(9), 8.0), log("a", date(10), 4.5), log("a", date(12), 8.0), log("a", date(14), 6.0)];
        let report = run(monday_10am(), &[member("a")], &logs, &[]);
        let v = &report.verdicts[0];
        assert_eq!((v.hours, v.status), (26.5, Status::Partial));
        assert_eq!(
            v.missing,
            [(date(10), 3.5), (date(11), 8.0), (date(13), 8.0)],
            "Saturday's work counts, it is not a day owed"
        );
    }

    #[test]
    fn a_holiday_and_leave_lower_what_is_expected() {
        // Wednesday 11 November is a holiday: 4 working days, 25.6 h expected.
        let mut ben = member("ben");
        ben.leave = vec![(date(12), date(13))];
        let logs: Vec<Logged> = [9, 10, 12, 13].iter().map(|d| log("ana", date(*d), 6.4)).collect();
        let report = run(monday_10am(), &[member("ana"), ben], &logs, &[date(11)]);
        assert_eq!((report.verdicts[0].expected, report.verdicts[0].status), (25.6, Status::Compliant));
        assert_eq!(report.verdicts[1].expected, 12.8, "two days left for Ben");
        let mut away = member("eli");
        away.leave = vec![(date(9), date(15))];
        let report = run(monday_10am(), &[away], &[], &[]);
        assert_eq!(report.verdicts[0].status, Status::Away);
        assert_eq!(report.compliance(), None, "nobody to judge");
    }

    #[test]
    fn part_time_is_judged_pro_rata() {
        let mut half = member("dev");
        half.weekly_hours = 20.0;
        let report = run(monday_10am(), &[half], &week_of("dev", date(9), 16.0), &[]);
        assert_eq!((report.verdicts[0].expected, report.verdicts[0].status), (16.0, Status::Compliant));
    }

    #[test]
    fn no_data_at_all_is_said_and_weeks_without_data_are_not_short_weeks() {
        let report = run(monday_10am(), &[member("a"), member("b")], &week_of("b", date(2), 10.0), &[]);
        assert!(!report.has_data, "nobody logged anything last week");
        assert_eq!(report.verdicts[0].short_weeks, 2, "the week of the 2nd had b's data; the weeks before had none");
        let mut logs = week_of("b", date(9), 40.0);
        for monday in [2, 9] {
            logs.extend(week_of("c", date(monday), 40.0));
        }
        let report = run(monday_10am(), &[member("a"), member("b"), member("c")], &logs, &[]);
        assert!(report.has_data);
        assert_eq!(report.verdicts[0].short_weeks, 2, "a logged nothing while others did: two short weeks");
        let mut logs = week_of("a", date(2), 40.0);
        logs.extend(week_of("a", date(9), 20.0));
        let report = run(monday_10am(), &[member("a")], &logs, &[]);
        assert_eq!(report.verdicts[0].short_weeks, 1, "short this week only: not a repeat");
        assert_eq!(report.repeat_offenders().count(), 0);
    }

    #[test]
    fn the_week_is_the_team_zones_and_survives_the_dst_change() {
        // Monday 2 November 2026, 00:30 in New York, the day after clocks went back.
        let just_after = New_York.with_ymd_and_hms(2026, 11, 2, 0, 30, 0).unwrap().with_timezone(&Utc);
        assert_eq!(previous_week(just_after, New_York), NaiveDate::from_ymd_opt(2026, 10, 26).unwrap());
        // Sunday 23:30 in New York is already Monday in Lisbon: still the same week for the team.
        let sunday_late = New_York.with_ymd_and_hms(2026, 11, 15, 23, 30, 0).unwrap().with_timezone(&Utc);
        assert_eq!(previous_week(sunday_late, New_York), date(2));
        assert_eq!(previous_week(sunday_late, Lisbon), date(9));
    }
}
