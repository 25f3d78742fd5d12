//! Retainer budgets for the month so far. Pure: projects, this month's worklogs and `now` in;
//! per project the hours used, the burn rate, the projection and the thresholds crossed out.

use crate::calendar::local_date;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq)]
pub struct Retainer {
    pub key: String,
    pub name: String,
    /// Hours a month; `None` (or 0) is skipped with a note.
    pub hours: Option<f64>,
}

pub struct Input<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub working_days: &'a [Weekday],
    pub holidays: &'a [NaiveDate],
    pub projects: &'a [Retainer],
    /// `(project, day, hours)`; other months are ignored.
    pub worklogs: &'a [(String, NaiveDate, f64)],
    /// Percentages that alert, ascending (75, 90, 100).
    pub thresholds: &'a [u32],
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub key: String,
    pub name: String,
    pub retainer: f64,
    pub used: f64,
    /// Of the retainer, in per cent.
    pub percent: f64,
    /// Hours per working day over the working days elapsed before today.
    pub rate: f64,
    pub elapsed_days: u32,
    /// Working days from today to the month's end, today included.
    pub remaining_days: u32,
    pub projected: f64,
    /// The working day the retainer runs out at this pace; `None` when it lasts the month.
    pub runs_out: Option<NaiveDate>,
    /// The highest threshold reached, if any.
    pub reached: Option<u32>,
}

impl Budget {
    /// "At the current pace the November budget runs out on Nov 22", or that it lasts.
    pub fn projection_words(&self, month: NaiveDate) -> String {
        let month_name = month.format("%B");
        if self.used >= self.retainer {
            return format!("The {month_name} budget is used up");
        }
        match self.runs_out {
            Some(day) => format!("At the current pace the {month_name} budget runs out on {}", day.format("%b %-d")),
            None => format!(
                "At the current pace the {month_name} budget lasts the month ({:.0} h projected of {:.0} h)",
                self.projected + 0.0,
                self.retainer
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The first of the month.
    pub month: NaiveDate,
    pub today: NaiveDate,
    pub budgets: Vec<Budget>,
    /// Projects left out, with why.
    pub skipped: Vec<(String, String)>,
}

/// A share as people read it next to thresholds: never rounded up to one not reached
/// (74.96 is "74.9", not "75"); whole numbers without decimals.
pub fn percent_words(percent: f64) -> String {
    let floored = (percent * 10.0 + 1e-9).floor() / 10.0;
    if floored.fract() == 0.0 {
        format!("{floored:.0}")
    } else {
        format!("{floored:.1}")
    }
}

pub fn decide(input: &Input) -> Report {
    let today = local_date(input.now, input.tz);
    let month = today.with_day(1).unwrap_or(today);
    let next_month = (month + Duration::days(32)).with_day(1).unwrap_or(month);
    let working = |d: &NaiveDate| input.working_days.contains(&d.weekday()) && !input.holidays.contains(d);
    let days = |from: NaiveDate, to: NaiveDate| -> Vec<NaiveDate> {
        (0..(to - from).num_days().max(0)).map(|n| from + Duration::days(n)).filter(|d| working(d)).collect()
    };
    let elapsed = days(month, today);
    let remaining = days(today, next_month);
    let mut budgets = Vec::new();
    let mut skipped = Vec::new();
    for project in input.projects {
        let Some(retainer) = project.hours.filter(|h| *h > 0.0) else {
            skipped.push((project.key.clone(), "no retainer hours in pmbot.toml".to_string()));
            continue;
        };
        let used: f64 = input
            .worklogs
            .iter()
            .filter(|(p, day, _)| p == &project.key && *day >= month && *day < next_month && *day <= today)
            .map(|(_, _, h)| h)
            .sum();
        // On the month's first working day nothing has elapsed yet: today's hours are the
        // pace, and the days ahead start tomorrow.
        let first_day = elapsed.is_empty() && used > 0.0;
        let (days_so_far, ahead) =
            if first_day { (1, remaining.get(1..).unwrap_or(&[])) } else { (elapsed.len(), &remaining[..]) };
        let rate = if days_so_far == 0 { 0.0 } else { used / days_so_far as f64 };
        let projected = used + rate * ahead.len() as f64;
        let runs_out = if used >= retainer || rate <= 0.0 {
            None
        } else {
            let mut left = retainer - used;
            ahead.iter().copied().find(|_| {
                left -= rate;
                left <= 1e-9
            })
        };
        let percent = used / retainer * 100.0;
        let reached = input.thresholds.iter().copied().filter(|t| percent + 1e-9 >= f64::from(*t)).max();
        budgets.push(Budget {
            key: project.key.clone(),
            name: project.name.clone(),
            retainer,
            used: round1(used),
            // Floored, so a share is never shown as a threshold it has not reached.
            percent: (percent * 10.0 + 1e-9).floor() / 10.0,
            rate: round1(rate),
            elapsed_days: days_so_far as u32,
            remaining_days: remaining.len() as u32,
            projected: round1(projected),
            runs_out,
            reached,
        });
    }
    Report { month, today, budgets, skipped }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;
    use Weekday::*;

    const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        New_York.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap().with_timezone(&Utc)
    }

    fn project(key: &str, hours: Option<f64>) -> Retainer {
        Retainer { key: key.into(), name: format!("{key} retainer"), hours }
    }

    /// `per_day` hours on every working day of November before `until`.
    fn burn(key: &str, per_day: f64, until: u32) -> Vec<(String, NaiveDate, f64)> {
        (1..until).map(date).filter(|d| WEEK.contains(&d.weekday())).map(|d| (key.to_string(), d, per_day)).collect()
    }

    fn run(
        now: DateTime<Utc>,
        projects: &[Retainer],
        logs: &[(String, NaiveDate, f64)],
        holidays: &[NaiveDate],
    ) -> Report {
        decide(&Input {
            now,
            tz: New_York,
            working_days: &WEEK,
            holidays,
            projects,
            worklogs: logs,
            thresholds: &[75, 90, 100],
        })
    }

    #[test]
    fn the_pace_projects_the_month_and_the_day_it_runs_out() {
        // Monday 16 November: 10 working days elapsed at 8 h a day, 11 remain (16th..30th).
        let report = run(at(16, 9), &[project("WEB", Some(160.0))], &burn("WEB", 8.0, 16), &[]);
        let b = &report.budgets[0];
        assert_eq!((b.used, b.percent, b.rate, b.elapsed_days, b.remaining_days), (80.0, 50.0, 8.0, 10, 11));
        assert_eq!(b.projected, 168.0);
        assert_eq!(b.runs_out, Some(date(27)), "80 h left at 8 h a day: the tenth working day from today");
        assert_eq!(b.reached, None);
        assert_eq!(b.projection_words(report.month), "At the current pace the November budget runs out on Nov 27");
    }

    #[test]
    fn thresholds_are_reached_at_exactly_75_90_and_100_percent() {
        for (used, reached) in
            [(74.9, None), (75.0, Some(75)), (90.0, Some(90)), (99.9, Some(90)), (100.0, Some(100)), (130.0, Some(100))]
        {
            let logs = vec![("WEB".to_string(), date(2), used)];
            let report = run(at(16, 9), &[project("WEB", Some(100.0))], &logs, &[]);
            assert_eq!(report.budgets[0].reached, reached, "{used} h of 100");
        }
        let logs = vec![("WEB".to_string(), date(2), 100.0)];
        let used_up = &run(at(16, 9), &[project("WEB", Some(100.0))], &logs, &[]).budgets[0];
        assert_eq!(used_up.projection_words(date(1)), "The November budget is used up");
    }

    #[test]
    fn a_share_is_never_shown_as_a_threshold_not_reached() {
        for (used, shown) in [(74.9, "74.9"), (74.96, "74.9"), (75.0, "75"), (89.99, "89.9"), (100.0, "100")] {
            let logs = vec![("WEB".to_string(), date(2), used)];
            let b = &run(at(16, 9), &[project("WEB", Some(100.0))], &logs, &[]).budgets[0];
            assert_eq!(percent_words(b.percent), shown, "{used} h of 100");
        }
    }

    #[test]
    fn on_the_first_working_day_todays_hours_are_the_pace() {
        // Monday 2 November is the month's first working day; 16 h logged by 17:00.
        let logs = vec![("WEB".to_string(), date(2), 16.0)];
        let b = &run(at(2, 17), &[project("WEB", Some(160.0))], &logs, &[]).budgets[0];
        assert_eq!((b.rate, b.elapsed_days), (16.0, 1), "not 0 h a working day");
        assert_eq!(b.projected, 16.0 + 16.0 * 20.0, "20 working days after today");
        assert_eq!(b.runs_out, Some(date(13)), "144 h left at 16 h a day: nine working days after today");
    }

    #[test]
    fn a_holiday_is_not_a_working_day_and_a_slow_month_lasts() {
        // Thanksgiving (26th) is off: 10 elapsed, 10 remaining.
        let report = run(at(16, 9), &[project("WEB", Some(160.0))], &burn("WEB", 4.0, 16), &[date(26)]);
        let b = &report.budgets[0];
        assert_eq!((b.remaining_days, b.projected, b.runs_out), (10, 80.0, None));
        assert!(b.projection_words(report.month).contains("lasts the month (80 h projected of 160 h)"));
    }

    #[test]
    fn projects_without_hours_are_skipped_and_no_data_is_zero() {
        let report = run(at(2, 9), &[project("WEB", Some(160.0)), project("INT", None)], &[], &[]);
        assert_eq!(report.skipped, [("INT".to_string(), "no retainer hours in pmbot.toml".to_string())]);
        let b = &report.budgets[0];
        assert_eq!((b.used, b.rate, b.elapsed_days, b.runs_out), (0.0, 0.0, 0, None), "the 1st was a Sunday");
        // Last month's hours do not count.
        let october = vec![("WEB".to_string(), NaiveDate::from_ymd_opt(2026, 10, 30).unwrap(), 50.0)];
        assert_eq!(run(at(2, 9), &[project("WEB", Some(160.0))], &october, &[]).budgets[0].used, 0.0);
    }
}
