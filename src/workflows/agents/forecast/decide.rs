//! Forecast variance per epic of scope projects. Pure: forecasts, worklogs, tickets and `now`
//! in; per epic the hours against the forecast, the estimate at completion from the share of
//! tickets done, a risk score and the evidence for why it drifts.

use crate::board::{Status, Ticket};
use crate::calendar::local_date;
use crate::workflows::agents::median;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub project: String,
    pub epic: String,
    pub hours: f64,
    pub set_at: DateTime<Utc>,
    /// Per month (first day, hours), when the forecast was given by month.
    pub months: Vec<(NaiveDate, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub project: String,
    pub epic: Option<String>,
    pub person: String,
    pub day: NaiveDate,
    pub hours: f64,
}

pub struct Input<'a> {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub forecasts: &'a [Forecast],
    pub worklogs: &'a [Logged],
    pub tickets: &'a [Ticket],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Within 20 %.
    Fine,
    /// Over 20 %: in the weekly summary.
    Watch,
    /// Over 30 %: the PM hears at once.
    Alert,
    /// Over 50 %: the PM and the project's channel.
    Critical,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variance {
    pub project: String,
    pub epic: String,
    pub forecast: f64,
    pub actual: f64,
    pub month_to_date: f64,
    /// With a forecast by month: this month's, and the months' up to this one summed (the hours
    /// that should be spent by now, against `actual`).
    pub month_forecast: Option<f64>,
    pub cumulative_forecast: Option<f64>,
    /// Done over all (cancelled left out) tickets of the epic, 0..1.
    pub done_share: f64,
    pub done: usize,
    pub total: usize,
    /// Hours at completion at this pace (with nothing done, the forecast or the hours so far).
    pub at_completion: f64,
    /// (at completion − forecast) / forecast, in per cent.
    pub variance_pct: f64,
    /// 1 (fine) to 10.
    pub risk: u32,
    pub tier: Tier,
    /// Why it drifts, from the evidence; empty when it does not.
    pub reasons: Vec<String>,
}

pub fn tier(variance_pct: f64) -> Tier {
    match variance_pct.abs() {
        v if v > 50.0 => Tier::Critical,
        v if v > 30.0 => Tier::Alert,
        v if v > 20.0 => Tier::Watch,
        _ => Tier::Fine,
    }
}

pub fn decide(input: &Input) -> Vec<Variance> {
    let today = local_date(input.now, input.tz);
    let month = today.with_day(1).unwrap_or(today);
    let in_epic = |l: &&Logged, f: &Forecast| l.project == f.project && l.epic.as_deref() == Some(f.epic.as_str());
    // Hours per done ticket for every forecast epic, for the project's median.
    let per_done: HashMap<(&str, &str), f64> = input
        .forecasts
        .iter()
        .filter_map(|f| {
            let hours: f64 = input.worklogs.iter().filter(|l| in_epic(l, f)).map(|l| l.hours).sum();
            let done = epic_tickets(input.tickets, f).filter(|t| t.status == Status::Done).count();
            (done > 0).then(|| ((f.project.as_str(), f.epic.as_str()), hours / done as f64))
        })
        .collect();
    let mut out: Vec<Variance> = input
        .forecasts
        .iter()
        .filter(|f| f.hours > 0.0)
        .map(|f| {
            let logs: Vec<&Logged> = input.worklogs.iter().filter(|l| in_epic(l, f) && l.day <= today).collect();
            let actual: f64 = logs.iter().map(|l| l.hours).sum();
            let month_to_date: f64 = logs.iter().filter(|l| l.day >= month).map(|l| l.hours).sum();
            let tickets: Vec<&Ticket> =
                epic_tickets(input.tickets, f).filter(|t| t.status != Status::Cancelled).collect();
            let done = tickets.iter().filter(|t| t.status == Status::Done).count();
            let done_share = if tickets.is_empty() { 0.0 } else { done as f64 / tickets.len() as f64 };
            // With nothing done yet there is no pace: only hours beyond the forecast count.
            let at_completion = if done_share > 0.0 { actual / done_share } else { actual.max(f.hours) };
            let variance_pct = (at_completion - f.hours) / f.hours * 100.0;
            let gap = (actual / f.hours - done_share).max(0.0);
            let risk = (1.0 + variance_pct.abs() / 10.0 + gap * 10.0).round().clamp(1.0, 10.0) as u32;
            let mut reasons = Vec::new();
            let tier = tier(variance_pct);
            if tier != Tier::Fine {
                let added = tickets.iter().filter(|t| t.created_at > f.set_at).count();
                if added > 0 {
                    reasons.push(format!("scope grew: {added} ticket{} added since the forecast", plural(added)));
                }
                let mut medians: Vec<f64> =
                    per_done.iter().filter(|((p, _), _)| *p == f.project).map(|(_, h)| *h).collect();
                if let (Some(mine), Some(median)) =
                    (per_done.get(&(f.project.as_str(), f.epic.as_str())), median(&mut medians))
                {
                    if *mine > median * 1.25 {
                        reasons.push(format!(
                            "under-estimated: {mine:.1} h per done ticket against the project's median of {median:.1} h"
                        ));
                    }
                }
                let recent = today - Duration::days(14);
                let before: BTreeSet<&str> =
                    logs.iter().filter(|l| l.day < recent).map(|l| l.person.as_str()).collect();
                let new: BTreeSet<&str> = logs
                    .iter()
                    .filter(|l| l.day >= recent && !before.is_empty() && !before.contains(l.person.as_str()))
                    .map(|l| l.person.as_str())
                    .collect();
                if !new.is_empty() {
                    reasons.push(format!(
                        "team change: {} joined in the last two weeks",
                        new.into_iter().collect::<Vec<_>>().join(", ")
                    ));
                }
                if reasons.is_empty() {
                    reasons.push("no single cause in the data: hours run ahead of tickets done".into());
                }
            }
            let by_month = !f.months.is_empty();
            let month_forecast =
                by_month.then(|| f.months.iter().filter(|(m, _)| *m == month).map(|(_, h)| h).sum::<f64>());
            let cumulative_forecast =
                by_month.then(|| f.months.iter().filter(|(m, _)| *m <= month).map(|(_, h)| h).sum::<f64>());
            Variance {
                project: f.project.clone(),
                epic: f.epic.clone(),
                forecast: f.hours,
                actual: round1(actual),
                month_to_date: round1(month_to_date),
                month_forecast,
                cumulative_forecast,
                done_share,
                done,
                total: tickets.len(),
                at_completion: round1(at_completion),
                variance_pct: round1(variance_pct),
                risk,
                tier,
                reasons,
            }
        })
        .collect();
    out.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| (&a.project, &a.epic).cmp(&(&b.project, &b.epic))));
    out
}

fn epic_tickets<'a>(tickets: &'a [Ticket], f: &'a Forecast) -> impl Iterator<Item = &'a Ticket> + 'a {
    tickets.iter().filter(move |t| t.project == f.project && t.epic.as_deref() == Some(f.epic.as_str()))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::America::New_York;

    fn now() -> DateTime<Utc> {
        New_York.with_ymd_and_hms(2026, 11, 16, 11, 0, 0).unwrap().with_timezone(&Utc)
    }

    fn set_at() -> DateTime<Utc> {
        now() - Duration::days(30)
    }

    fn ticket(n: u32, epic: &str, status: Status, created: DateTime<Utc>) -> Ticket {
        Ticket { epic: Some(epic.into()), ..Ticket::sample(&format!("APP-{n}"), status, created) }
    }

    fn log(epic: &str, person: &str, day: u32, hours: f64) -> Logged {
        Logged {
            project: "APP".into(),
            epic: Some(epic.into()),
            person: person.into(),
            day: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            hours,
        }
    }

    fn forecast(epic: &str, hours: f64) -> Forecast {
        Forecast { project: "APP".into(), epic: epic.into(), hours, set_at: set_at(), months: vec![] }
    }

    #[test]
    fn a_forecast_by_month_gives_this_months_and_the_cumulative_plan() {
        let month = |m: u32| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
        let by_month = Forecast {
            months: vec![(month(10), 30.0), (month(11), 40.0), (month(12), 30.0)],
            ..forecast("Orders", 100.0)
        };
        let logs = vec![log("Orders", "ben", 2, 25.0), log("Orders", "ben", 12, 10.0)];
        let out = decide(&Input { now: now(), tz: New_York, forecasts: &[by_month], worklogs: &logs, tickets: &[] });
        // November: 35 h so far this month of 40 planned; 35 h to date of the 70 planned by now.
        assert_eq!(
            (out[0].month_to_date, out[0].month_forecast, out[0].cumulative_forecast),
            (35.0, Some(40.0), Some(70.0))
        );
        let plain = decide(&Input {
            now: now(),
            tz: New_York,
            forecasts: &[forecast("Orders", 100.0)],
            worklogs: &logs,
            tickets: &[],
        });
        assert_eq!(plain[0].month_forecast, None);
    }

    #[test]
    fn tiers_start_just_above_20_30_and_50_percent() {
        assert_eq!(tier(20.0), Tier::Fine);
        assert_eq!(tier(20.1), Tier::Watch);
        assert_eq!(tier(30.0), Tier::Watch);
        assert_eq!(tier(30.1), Tier::Alert);
        assert_eq!(tier(50.1), Tier::Critical);
        assert_eq!(tier(-35.0), Tier::Alert, "far under is worth a look too");
    }

    #[test]
    fn the_estimate_at_completion_drives_the_variance_and_the_evidence_explains_it() {
        let old = set_at() - Duration::days(1);
        let tickets = vec![
            // Orders: half done for 80 h of a 100 h forecast → 160 h at completion, +60 %.
            ticket(1, "Orders", Status::Done, old),
            ticket(2, "Orders", Status::Todo, old),
            ticket(3, "Orders", Status::Todo, now() - Duration::days(3)),
            ticket(4, "Orders", Status::Done, old),
            // Payments: on track.
            ticket(5, "Payments", Status::Done, old),
            ticket(6, "Payments", Status::Todo, old),
        ];
        let logs = vec![log("Orders", "ben", 1, 40.0), log("Orders", "dev", 12, 40.0), log("Payments", "eli", 3, 20.0)];
        let out = decide(&Input {
            now: now(),
            tz: New_York,
            forecasts: &[forecast("Orders", 100.0), forecast("Payments", 40.0)],
            worklogs: &logs,
            tickets: &tickets,
        });
        let orders = out.iter().find(|v| v.epic == "Orders").unwrap();
        assert_eq!((orders.actual, orders.done, orders.total, orders.at_completion), (80.0, 2, 4, 160.0));
        assert_eq!((orders.variance_pct, orders.tier), (60.0, Tier::Critical));
        assert_eq!(orders.risk, 10);
        assert_eq!(orders.month_to_date, 80.0);
        assert_eq!(
            orders.reasons,
            [
                "scope grew: 1 ticket added since the forecast",
                "under-estimated: 40.0 h per done ticket against the project's median of 30.0 h",
                "team change: dev joined in the last two weeks",
            ]
        );
        let payments = out.iter().find(|v| v.epic == "Payments").unwrap();
        assert_eq!((payments.variance_pct, payments.tier, payments.reasons.len()), (0.0, Tier::Fine, 0));
        assert_eq!(out[0].epic, "Orders", "riskiest first");
    }

    #[test]
    fn nothing_done_and_no_hours_is_no_variance() {
        let tickets = vec![ticket(1, "Orders", Status::Todo, set_at())];
        let out = decide(&Input {
            now: now(),
            tz: New_York,
            forecasts: &[forecast("Orders", 100.0)],
            worklogs: &[],
            tickets: &tickets,
        });
        assert_eq!((out[0].variance_pct, out[0].risk, out[0].tier), (0.0, 1, Tier::Fine));
        let spent = [log("Orders", "ben", 10, 130.0)];
        let out = decide(&Input {
            now: now(),
            tz: New_York,
            forecasts: &[forecast("Orders", 100.0)],
            worklogs: &spent,
            tickets: &tickets,
        });
        assert_eq!(
            (out[0].variance_pct, out[0].tier),
            (30.0, Tier::Watch),
            "hours past the forecast with nothing done"
        );
    }
}
