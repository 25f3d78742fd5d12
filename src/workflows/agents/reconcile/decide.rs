//! Month-end reconciliation figures for one month. Pure: projects, people, forecasts and
//! worklogs in; the rows of the workbook's four sheets out.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectInfo {
    pub key: String,
    pub name: String,
    /// retainer | scope | internal
    pub kind: String,
    pub retainer_hours: Option<f64>,
    pub hourly_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonInfo {
    pub handle: String,
    pub name: String,
    pub weekly_hours: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub person: String,
    pub project: String,
    pub epic: Option<String>,
    pub day: NaiveDate,
    pub hours: f64,
}

pub struct Input<'a> {
    /// The first day of the month reconciled.
    pub month: NaiveDate,
    pub working_days: &'a [Weekday],
    pub holidays: &'a [NaiveDate],
    pub projects: &'a [ProjectInfo],
    pub people: &'a [PersonInfo],
    /// `(project, epic, hours)`.
    pub forecasts: &'a [(String, String, f64)],
    /// Everything up to the month's end (epics compare cumulative hours).
    pub worklogs: &'a [Logged],
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRow {
    pub key: String,
    pub name: String,
    pub kind: String,
    pub hours: f64,
    /// The retainer's monthly hours, or the sum of a scope project's forecasts.
    pub budget: Option<f64>,
    /// Month hours over the retainer; cumulative hours over the forecasts for scope.
    pub used: Option<f64>,
    pub rate: Option<f64>,
    pub amount: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EpicRow {
    pub project: String,
    pub epic: String,
    pub forecast: f64,
    pub actual: f64,
    pub month_hours: f64,
    pub variance: f64,
    /// Of the forecast (0.25 is 25 %).
    pub variance_share: f64,
    pub team: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    pub name: String,
    pub hours: f64,
    pub expected: f64,
    pub share: f64,
    pub days_logged: usize,
    pub projects: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reconciliation {
    pub month: NaiveDate,
    pub projects: Vec<ProjectRow>,
    pub epics: Vec<EpicRow>,
    pub people: Vec<PersonRow>,
    pub total_hours: f64,
}

impl Reconciliation {
    /// Epics more than 10 % off their forecast, either way.
    pub fn variances(&self) -> impl Iterator<Item = &EpicRow> {
        self.epics.iter().filter(|e| e.variance_share.abs() > 0.10)
    }
}

pub fn decide(input: &Input) -> Reconciliation {
    let month = input.month;
    let next = (month + Duration::days(32)).with_day(1).unwrap_or(month);
    let in_month = |l: &&Logged| l.day >= month && l.day < next;
    let upto_end = |l: &&Logged| l.day < next;
    let working = month
        .iter_days()
        .take_while(|d| *d < next)
        .filter(|d| input.working_days.contains(&d.weekday()) && !input.holidays.contains(d))
        .count();
    let projects = input
        .projects
        .iter()
        .map(|p| {
            let hours: f64 =
                input.worklogs.iter().filter(in_month).filter(|l| l.project == p.key).map(|l| l.hours).sum();
            let forecast: f64 = input.forecasts.iter().filter(|(k, ..)| k == &p.key).map(|(_, _, h)| h).sum();
            let (budget, used) = match p.kind.as_str() {
                "retainer" => (p.retainer_hours, p.retainer_hours.filter(|r| *r > 0.0).map(|r| hours / r)),
                "scope" if forecast > 0.0 => {
                    let cumulative: f64 =
                        input.worklogs.iter().filter(upto_end).filter(|l| l.project == p.key).map(|l| l.hours).sum();
                    (Some(forecast), Some(cumulative / forecast))
                }
                _ => (None, None),
            };
            ProjectRow {
                key: p.key.clone(),
                name: p.name.clone(),
                kind: p.kind.clone(),
                hours,
                budget,
                used,
                rate: p.hourly_rate,
                amount: p.hourly_rate.map(|r| r * hours),
            }
        })
        .collect();
    let name_of = |handle: &str| {
        input.people.iter().find(|p| p.handle == handle).map_or_else(|| handle.to_string(), |p| p.name.clone())
    };
    let epics = input
        .forecasts
        .iter()
        .map(|(project, epic, forecast)| {
            let logs: Vec<&Logged> = input
                .worklogs
                .iter()
                .filter(upto_end)
                .filter(|l| &l.project == project && l.epic.as_deref() == Some(epic.as_str()))
                .collect();
            let actual: f64 = logs.iter().map(|l| l.hours).sum();
            let month_hours: f64 = logs.iter().filter(|l| l.day >= month).map(|l| l.hours).sum();
            let team: BTreeSet<String> = logs.iter().map(|l| name_of(&l.person)).collect();
            EpicRow {
                project: project.clone(),
                epic: epic.clone(),
                forecast: *forecast,
                actual,
                month_hours,
                variance: actual - forecast,
                variance_share: if *forecast > 0.0 { (actual - forecast) / forecast } else { 0.0 },
                team: team.into_iter().collect::<Vec<_>>().join(", "),
            }
        })
        .collect();
    let people = input
        .people
        .iter()
        .map(|p| {
            let logs: Vec<&Logged> = input.worklogs.iter().filter(in_month).filter(|l| l.person == p.handle).collect();
            let hours: f64 = logs.iter().map(|l| l.hours).sum();
            let expected = 8.0 * working as f64 * p.weekly_hours / 40.0;
            let days: BTreeSet<NaiveDate> = logs.iter().map(|l| l.day).collect();
            let mut projects: BTreeMap<&str, f64> = BTreeMap::new();
            for l in &logs {
                *projects.entry(l.project.as_str()).or_default() += l.hours;
            }
            PersonRow {
                name: p.name.clone(),
                hours,
                expected,
                share: if expected > 0.0 { hours / expected } else { 0.0 },
                days_logged: days.len(),
                projects: projects.iter().map(|(k, h)| format!("{k} {h:.1} h")).collect::<Vec<_>>().join(", "),
            }
        })
        .collect();
    let total_hours = input.worklogs.iter().filter(in_month).map(|l| l.hours).sum();
    Reconciliation { month, projects, epics, people, total_hours }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    const WEEK: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn log(person: &str, project: &str, epic: Option<&str>, day: NaiveDate, hours: f64) -> Logged {
        Logged { person: person.into(), project: project.into(), epic: epic.map(str::to_string), day, hours }
    }

    #[test]
    fn the_month_is_reconciled_per_project_epic_and_person() {
        let projects = [
            ProjectInfo {
                key: "WEB".into(),
                name: "Web".into(),
                kind: "retainer".into(),
                retainer_hours: Some(80.0),
                hourly_rate: Some(100.0),
            },
            ProjectInfo {
                key: "APP".into(),
                name: "App".into(),
                kind: "scope".into(),
                retainer_hours: None,
                hourly_rate: None,
            },
        ];
        let people = [
            PersonInfo { handle: "ana".into(), name: "Ana".into(), weekly_hours: 40.0 },
            PersonInfo { handle: "ben".into(), name: "Ben".into(), weekly_hours: 20.0 },
        ];
        let logs = [
            log("ana", "WEB", None, d(10, 5), 60.0),
            log("ana", "APP", Some("Orders"), d(9, 30), 50.0),
            log("ben", "APP", Some("Orders"), d(10, 6), 30.0),
            log("ben", "APP", Some("Orders"), d(11, 2), 99.0),
        ];
        let forecasts =
            [("APP".to_string(), "Orders".to_string(), 100.0), ("APP".to_string(), "Search".to_string(), 40.0)];
        // October 2026 has 22 working days.
        let r = decide(&Input {
            month: d(10, 1),
            working_days: &WEEK,
            holidays: &[],
            projects: &projects,
            people: &people,
            forecasts: &forecasts,
            worklogs: &logs,
        });
        assert_eq!(r.total_hours, 90.0, "September and November are not October");
        assert_eq!((r.projects[0].hours, r.projects[0].used, r.projects[0].amount), (60.0, Some(0.75), Some(6000.0)));
        assert_eq!((r.projects[1].budget, r.projects[1].used), (Some(140.0), Some(80.0 / 140.0)));
        let orders = &r.epics[0];
        assert_eq!(
            (orders.actual, orders.month_hours, orders.variance, orders.team.as_str()),
            (80.0, 30.0, -20.0, "Ana, Ben")
        );
        assert_eq!(r.variances().map(|e| e.epic.as_str()).collect::<Vec<_>>(), ["Orders", "Search"]);
        assert_eq!((r.people[0].expected, r.people[1].expected), (176.0, 88.0));
        assert_eq!(r.people[1].projects, "APP 30.0 h");
    }
}
