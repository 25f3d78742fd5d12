//! Month-end reconciliation (the 1st, 09:00, by default): the previous month's workbook —
//! executive summary per project, epic details, the epics over 10 % off their forecast, team
//! performance — posted to the PM channel and kept in the store (`pmbot reports`).

pub mod decide;
pub mod workbook;

use super::{hours, Agent, Ctx, Plan, Recipient, Send};
use crate::job_env::StepError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use decide::{decide, Input, Logged, PersonInfo, ProjectInfo};
use serde_json::json;

/// The first day of the month before the one `now` is in (team zone).
pub fn previous_month(now: DateTime<Utc>, tz: chrono_tz::Tz) -> NaiveDate {
    let today = crate::calendar::local_date(now, tz);
    let first = today.with_day(1).unwrap_or(today);
    (first - Duration::days(1)).with_day(1).unwrap_or(first)
}

pub fn file_name(month: NaiveDate) -> String {
    format!("month-end-{}.xlsx", month.format("%Y-%m"))
}

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let month = previous_month(now, config.team.timezone);
    let next = (month + Duration::days(32)).with_day(1).unwrap_or(month);
    let since = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(month);
    let worklogs: Vec<Logged> = store
        .worklogs(ws, since, next - Duration::days(1))
        .await?
        .into_iter()
        .filter_map(|w| {
            Some(Logged { day: w.date()?, person: w.person, project: w.project, epic: w.epic, hours: w.hours })
        })
        .collect();
    let projects: Vec<ProjectInfo> = config
        .projects
        .iter()
        .map(|p| ProjectInfo {
            key: p.key.clone(),
            name: p.name.clone(),
            kind: p.kind.as_str().to_string(),
            retainer_hours: p.retainer_hours,
            hourly_rate: p.hourly_rate,
        })
        .collect();
    let people: Vec<PersonInfo> = config
        .people
        .iter()
        .map(|p| PersonInfo { handle: p.handle.clone(), name: p.name.clone(), weekly_hours: p.weekly_hours })
        .collect();
    let forecasts: Vec<(String, String, f64)> =
        store.forecasts(ws).await?.into_iter().map(|(project, epic, h, _)| (project, epic, h)).collect();
    let reconciliation = decide(&Input {
        month,
        working_days: &config.team.working_days,
        holidays: &config.team.holidays,
        projects: &projects,
        people: &people,
        forecasts: &forecasts,
        worklogs: &worklogs,
    });
    let bytes = workbook::build(&reconciliation)
        .map_err(|e| StepError::Failed(format!("the workbook could not be written: {e}")))?;
    let name = file_name(month);
    let amount: f64 = reconciliation.projects.iter().filter_map(|p| p.amount).sum();
    let context = json!({
        "month": month.format("%B %Y").to_string(), "name": name, "hours": hours(reconciliation.total_hours),
        "amount": format!("{amount:.2}"), "flagged": reconciliation.variances().count(),
        "projects": reconciliation.projects.len(), "people": reconciliation.people.len(),
    });
    let key = format!("month-end:{}", month.format("%Y-%m"));
    let send = Send::new(
        key.clone(),
        Recipient::Channel(config.agents.pm_channel.clone()),
        templates.render("month_end", &context)?,
    );
    Ok(Plan {
        agent: Agent::MonthEnd,
        period: month.format("%B %Y").to_string(),
        sends: vec![send],
        attachments: vec![(key, name, bytes)],
    })
}
