//! Forecast variance (Mondays and the 1st, 11:00, by default): per epic of scope projects
//! with a forecast, hours against it, the estimate at completion, risk and why; a summary of
//! the epics over 20 % to the PM channel, an alert to the project's PM over 30 %, and the
//! project's channel too over 50 % (each alert once per epic and month).

pub mod decide;

use super::{hours, Agent, Ctx, Plan, Recipient, Send};
use crate::board::ProjectKind;
use crate::job_env::StepError;
use crate::store::TicketFilter;
use chrono::{Datelike, NaiveDate};
use decide::{decide, Forecast, Input, Logged, Tier, Variance};
use serde_json::json;

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let scope: Vec<&str> =
        config.projects.iter().filter(|p| p.kind == ProjectKind::Scope).map(|p| p.key.as_str()).collect();
    let months = store.forecast_months(ws).await?;
    let forecasts: Vec<Forecast> = store
        .forecasts(ws)
        .await?
        .into_iter()
        .filter(|(project, ..)| scope.contains(&project.as_str()))
        .map(|(project, epic, hours, set_at)| {
            let months = months
                .iter()
                .filter(|(p, e, ..)| *p == project && *e == epic)
                .filter_map(|(_, _, month, hours)| {
                    Some((NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?, *hours))
                })
                .collect();
            Forecast { project, epic, hours, set_at, months }
        })
        .collect();
    let today = crate::calendar::local_date(now, config.team.timezone);
    let since = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(today);
    let worklogs: Vec<Logged> = store
        .worklogs(ws, since, today)
        .await?
        .into_iter()
        .filter_map(|w| {
            Some(Logged { day: w.date()?, project: w.project, epic: w.epic, person: w.person, hours: w.hours })
        })
        .collect();
    let tickets = store.tickets(ws, &TicketFilter::default()).await?;
    let variances =
        decide(&Input { now, tz: config.team.timezone, forecasts: &forecasts, worklogs: &worklogs, tickets: &tickets });
    let month = today.with_day(1).unwrap_or(today).format("%Y-%m");
    let pm_channel = config.agents.pm_channel.clone();
    let mut sends = Vec::new();
    for v in variances.iter().filter(|v| v.tier >= Tier::Alert) {
        let project = config.projects.iter().find(|p| p.key == v.project);
        let message = templates.render("forecast_alert", &row(v))?;
        let pm = project.and_then(|p| p.pm.clone());
        let key = format!("forecast:{}:{}:{month}", v.project, v.epic);
        let to = pm.map_or_else(|| Recipient::Channel(pm_channel.clone()), Recipient::Person);
        sends.push(Send::new(format!("{key}:alert"), to, message.clone()));
        if let Some(channel) = project.and_then(|p| p.channel.clone()).filter(|_| v.tier == Tier::Critical) {
            sends.push(Send::new(format!("{key}:critical"), Recipient::Channel(channel), message));
        }
    }
    let flagged: Vec<_> = variances.iter().filter(|v| v.tier >= Tier::Watch).map(row).collect();
    if !flagged.is_empty() || !config.agents.quiet {
        let context = json!({
            "date": today.format("%a %-d %b").to_string(), "flagged": flagged, "epics": variances.len(),
            "none": forecasts.is_empty(),
        });
        let summary = templates.render("forecast_summary", &context)?;
        sends.push(Send::new(format!("forecast:summary:{today}"), Recipient::Channel(pm_channel), summary));
    }
    Ok(Plan::new(Agent::Forecast, format!("forecasts as of {}", today.format("%a %-d %b")), sends))
}

fn row(v: &Variance) -> serde_json::Value {
    let mark = match v.tier {
        Tier::Critical => "🔴",
        Tier::Alert => "🟠",
        Tier::Watch => "🟡",
        Tier::Fine => "🟢",
    };
    json!({
        "mark": mark, "project": v.project, "epic": v.epic, "forecast": hours(v.forecast), "actual": hours(v.actual),
        "mtd": hours(v.month_to_date), "done": v.done, "total": v.total, "eac": hours(v.at_completion),
        "variance": format!("{:+.0}", v.variance_pct), "risk": v.risk, "reasons": v.reasons.join("; "),
        "month_forecast": v.month_forecast.map(hours), "cumulative_forecast": v.cumulative_forecast.map(hours),
    })
}
