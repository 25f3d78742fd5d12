//! Stuck work (four times a working day by default): a daily digest for the PMs with each
//! stuck ticket, why it probably is, and a suggested action; a DM to the assignee after
//! `dm_after_days` stuck, the project's PM after `escalate_after_days`, and an immediate
//! notice when a ticket is newly blocked.

pub mod decide;

use super::{Agent, Ctx, Plan, Recipient, Send};
use crate::job_env::StepError;
use crate::store::TicketFilter;
use crate::workflows::views::Names;
use chrono::Duration;
use decide::{decide, Input};
use serde_json::json;

/// How far back the status history is read for baselines.
const HISTORY_DAYS: i64 = 180;

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let tickets = store.tickets(ws, &TicketFilter::default()).await?;
    let transitions = store.transitions_since(ws, now - Duration::days(HISTORY_DAYS)).await?;
    let mut activity = decide::Activity::new();
    for c in store.comments_since(ws, now - Duration::days(60)).await? {
        activity.entry(c.ticket.to_string()).or_default().push((c.created_at, c.author, c.body));
    }
    for t in transitions.iter().rev().filter(|t| t.from.is_some()) {
        let said = t.reason.clone().unwrap_or_else(|| format!("moved it to {}", t.to.label()));
        activity.entry(t.ticket.to_string()).or_default().push((t.at, t.actor.clone(), said));
    }
    for list in activity.values_mut() {
        list.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    }
    let settings = &config.agents.stuck;
    let pulls = store.open_pulls(ws).await?;
    let report = decide(&Input {
        now,
        tz: config.team.timezone,
        working_days: &config.team.working_days,
        holidays: &config.team.holidays,
        tickets: &tickets,
        transitions: &transitions,
        activity: &activity,
        floor_days: settings.floor_days,
        pulls: &pulls,
    });
    let names = Names::new(&config.people());
    // A ticket mirrored from a tracker is said in the tracker's own status too ("QA (in review)").
    let mut tracker_status: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for s in &report.stuck {
        let (Some(tracker), Some(id)) = (&s.ticket.source.tracker, &s.ticket.source.external_id) else { continue };
        if let Some(item) = store.mirror_item(ws, tracker, crate::store::ItemKind::Issue, id).await? {
            if let Some(name) = item.remote_status.filter(|n| !n.eq_ignore_ascii_case(s.ticket.status.label())) {
                tracker_status.insert(s.ticket.key.to_string(), format!("{name} ({})", s.ticket.status.label()));
            }
        }
    }
    let today = crate::calendar::local_date(now, config.team.timezone);
    let pm_channel = config.agents.pm_channel.clone();
    let mut sends = Vec::new();
    for (ticket, since) in &report.newly_blocked {
        let reason = activity.get(ticket.key.as_str()).and_then(|a| a.first()).map(|(_, _, text)| text.clone());
        let context = json!({
            "key": ticket.key.as_str(), "title": ticket.title,
            "who": ticket.assignee.as_deref().map(|h| names.full(h)).unwrap_or_else(|| "unassigned".into()),
            "reason": reason,
        });
        sends.push(Send::new(
            format!("stuck:blocked:{}:{}", ticket.key, since.timestamp()),
            Recipient::Channel(pm_channel.clone()),
            templates.render("blocked_notice", &context)?,
        ));
    }
    let line = |s: &decide::Stuck| {
        let usual = s.usual_days.map_or_else(|| "no baseline yet".to_string(), |d| format!("usually {d} days"));
        let who = s.ticket.assignee.as_deref().map(|h| names.short(h)).unwrap_or_else(|| "unassigned".into());
        json!({
            "key": s.ticket.key.as_str(), "title": s.ticket.title, "days": s.days,
            "status": tracker_status.get(s.ticket.key.as_str()).cloned().unwrap_or_else(|| s.ticket.status.label().into()),
            "usual": usual, "who": who, "why": s.why.label(), "suggestion": s.why.suggestion(),
        })
    };
    for s in &report.stuck {
        let since = s.since.timestamp();
        if let Some(assignee) = s.ticket.assignee.clone().filter(|_| s.days >= settings.dm_after_days) {
            sends.push(Send::new(
                format!("stuck:{}:{since}:dm", s.ticket.key),
                Recipient::Person(assignee),
                templates.render("stuck_dm", &line(s))?,
            ));
        }
        let pm = config.projects.iter().find(|p| p.key == s.ticket.project).and_then(|p| p.pm.clone());
        if let Some(pm) = pm.filter(|_| s.days >= settings.escalate_after_days) {
            let mut context = line(s);
            context["escalated"] = json!(true);
            sends.push(Send::new(
                format!("stuck:{}:{since}:pm", s.ticket.key),
                Recipient::Person(pm),
                templates.render("stuck_dm", &context)?,
            ));
        }
    }
    let rows: Vec<_> = report.stuck.iter().map(line).collect();
    let context = json!({
        "date": today.format("%a %-d %b").to_string(), "rows": &rows, "count": rows.len(), "fixed": report.fixed.join(", "),
    });
    if !rows.is_empty() || !config.agents.quiet {
        sends.push(Send::new(
            format!("stuck:digest:{today}"),
            Recipient::Channel(pm_channel),
            templates.render("stuck_digest", &context)?,
        ));
    }
    Ok(Plan::new(Agent::Stuck, format!("the board on {}", today.format("%a %-d %b")), sends))
}
