//! Time-tracking compliance (Mondays 10:00 by default): a DM to each person short of hours
//! last week with their figure and what is missing per day, and a summary to each PM with
//! the team's compliance, the list and the repeat offenders.

pub mod decide;

use super::{hours, Agent, Ctx, Plan, Recipient, Send};
use crate::board::Role;
use crate::job_env::StepError;
use crate::workflows::views::{long_date, Names};
use chrono::Duration;
use decide::{decide, Input, Logged, Member, Status, LOOKBACK_WEEKS};
use serde_json::json;

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let week = decide::previous_week(now, config.team.timezone);
    let worklogs: Vec<Logged> = store
        .worklogs(ws, week - Duration::weeks(LOOKBACK_WEEKS), week + Duration::days(6))
        .await?
        .into_iter()
        .filter_map(|w| Some(Logged { day: w.date()?, person: w.person, hours: w.hours }))
        .collect();
    let members: Vec<Member> = config
        .people
        .iter()
        .map(|p| Member { handle: p.handle.clone(), weekly_hours: p.weekly_hours, leave: p.leave.clone() })
        .collect();
    let settings = &config.agents.compliance;
    let report = decide(&Input {
        now,
        tz: config.team.timezone,
        working_days: &config.team.working_days,
        holidays: &config.team.holidays,
        people: &members,
        worklogs: &worklogs,
        compliant_hours: settings.compliant_hours,
        partial_hours: settings.partial_hours,
    });
    let names = Names::new(&config.people());
    let period = format!("{} – {}", long_date(week), long_date(week + Duration::days(6)));
    if !report.has_data {
        return no_data(ctx, week, &period);
    }
    let mut sends = Vec::new();
    for v in report.verdicts.iter().filter(|v| matches!(v.status, Status::Partial | Status::NonCompliant)) {
        let missing: Vec<String> =
            v.missing.iter().map(|(day, h)| format!("{}: {} missing", day.format("%a %-d %b"), hours(*h))).collect();
        let context = json!({
            "name": names.short(&v.handle), "period": period, "hours": hours(v.hours), "expected": hours(v.expected),
            "status": v.status.as_str(), "missing": missing, "weeks": v.short_weeks, "repeat": v.short_weeks >= 2,
        });
        sends.push(Send::new(
            format!("compliance:{week}:{}", v.handle),
            Recipient::Person(v.handle.clone()),
            templates.render("compliance_dm", &context)?,
        ));
    }
    let rows: Vec<serde_json::Value> = report
        .verdicts
        .iter()
        .map(|v| {
            let mark = match v.status {
                Status::Compliant => "✅",
                Status::Partial => "🟡",
                Status::NonCompliant => "🔴",
                Status::Away => "🌴",
            };
            json!({ "mark": mark, "name": names.full(&v.handle), "hours": hours(v.hours), "expected": hours(v.expected), "status": v.status.as_str() })
        })
        .collect();
    let repeat: Vec<String> = report
        .repeat_offenders()
        .map(|v| format!("{} ({} weeks running)", names.full(&v.handle), v.short_weeks))
        .collect();
    let percent = report.compliance().map(|c| format!("{:.0}%", c * 100.0)).unwrap_or_else(|| "—".into());
    let summary = json!({ "period": period, "percent": percent, "rows": rows, "repeat": repeat });
    for pm in config.people.iter().filter(|p| p.role == Role::Pm) {
        sends.push(Send::new(
            format!("compliance:{week}:summary:{}", pm.handle),
            Recipient::Person(pm.handle.clone()),
            templates.render("compliance_summary", &summary)?,
        ));
    }
    Ok(Plan::new(Agent::Compliance, format!("the week {period}"), sends))
}

/// Nobody logged anything: the time data is missing, not the people's hours. The PMs are
/// told so; nobody is DMed.
fn no_data(ctx: &Ctx<'_>, week: chrono::NaiveDate, period: &str) -> Result<Plan, StepError> {
    let context = json!({ "period": period });
    let sends = ctx
        .config
        .people
        .iter()
        .filter(|p| p.role == Role::Pm)
        .map(|pm| {
            let message = ctx.templates.render("compliance_no_data", &context)?;
            Ok(Send::new(
                format!("compliance:{week}:no-data:{}", pm.handle),
                Recipient::Person(pm.handle.clone()),
                message,
            ))
        })
        .collect::<Result<Vec<_>, crate::chat::TemplateError>>()?;
    Ok(Plan::new(Agent::Compliance, format!("the week {period}"), sends))
}
