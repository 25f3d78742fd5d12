//! Retainer budgets (09:00, 13:00 and 17:00 on working days by default): an alert when a
//! project's month crosses 75 %, 90 % or 100 % of its retainer (once per threshold, project
//! and month; at 100 % the project's channel hears it too), and a daily summary for the PMs.

pub mod decide;

use super::{hours, Agent, Ctx, Plan, Recipient, Send};
use crate::board::ProjectKind;
use crate::job_env::StepError;
use chrono::{Datelike, Duration};
use decide::{decide, Budget, Input, Retainer};
use serde_json::json;

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let today = crate::calendar::local_date(now, config.team.timezone);
    let month = today.with_day(1).unwrap_or(today);
    let projects: Vec<Retainer> = config
        .projects
        .iter()
        .filter(|p| p.kind == ProjectKind::Retainer)
        .map(|p| Retainer { key: p.key.clone(), name: p.name.clone(), hours: p.retainer_hours })
        .collect();
    let worklogs: Vec<_> = store
        .worklogs(ws, month, month + Duration::days(31))
        .await?
        .into_iter()
        .filter_map(|w| Some((w.project.clone(), w.date()?, w.hours)))
        .collect();
    let report = decide(&Input {
        now,
        tz: config.team.timezone,
        working_days: &config.team.working_days,
        holidays: &config.team.holidays,
        projects: &projects,
        worklogs: &worklogs,
        thresholds: &config.agents.budget.thresholds,
    });
    let pm_channel = config.agents.pm_channel.clone();
    let month_key = month.format("%Y-%m");
    let mut sends = Vec::new();
    for budget in &report.budgets {
        let Some(reached) = budget.reached else { continue };
        let context = json!({
            "name": budget.name, "key": budget.key, "percent": decide::percent_words(budget.percent), "threshold": reached,
            "used": hours(budget.used), "retainer": hours(budget.retainer), "projection": budget.projection_words(month),
            "rate": hours(budget.rate), "over": reached >= 100,
        });
        let message = templates.render("budget_alert", &context)?;
        let key = format!("budget:{}:{month_key}:{reached}", budget.key);
        sends.push(Send::new(key.clone(), Recipient::Channel(pm_channel.clone()), message.clone()));
        let channel = config.projects.iter().find(|p| p.key == budget.key).and_then(|p| p.channel.clone());
        if let Some(channel) = channel.filter(|c| reached >= 100 && c != &pm_channel) {
            sends.push(Send::new(format!("{key}:channel"), Recipient::Channel(channel), message));
        }
    }
    let rows: Vec<_> = report.budgets.iter().map(|b| row(b, month)).collect();
    let skipped: Vec<String> = report.skipped.iter().map(|(key, why)| format!("{key}: {why}")).collect();
    let summary = json!({
        "month": month.format("%B %Y").to_string(), "today": today.format("%a %-d %b").to_string(),
        "rows": rows, "skipped": skipped, "none": report.budgets.is_empty(),
    });
    // Nothing logged on any retainer this month is nothing to report.
    if report.budgets.iter().any(|b| b.used > 0.0) || !config.agents.quiet {
        let summary = templates.render("budget_summary", &summary)?;
        sends.push(Send::new(format!("budget:summary:{today}"), Recipient::Channel(pm_channel), summary));
    }
    Ok(Plan::new(Agent::Budget, format!("{} so far", month.format("%B %Y")), sends))
}

fn row(b: &Budget, month: chrono::NaiveDate) -> serde_json::Value {
    let mark = match b.reached {
        Some(t) if t >= 100 => "🔴",
        Some(_) => "🟡",
        None => "🟢",
    };
    json!({
        "mark": mark, "name": b.name, "key": b.key, "used": hours(b.used), "retainer": hours(b.retainer),
        "percent": decide::percent_words(b.percent), "rate": hours(b.rate), "projected": hours(b.projected),
        "projection": b.projection_words(month),
    })
}
