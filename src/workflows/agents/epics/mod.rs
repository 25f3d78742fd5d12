//! Epic hygiene (daily 14:00 by default): for each scope project, how many open tickets have
//! an epic, and a card per ticket without one (up to `MAX_CARDS`) with **Assign to <epic>**
//! for the best matches, **Pick another…** and **Skip**, sent to the project's PM. The
//! buttons work for a PM or lead and update the card in place (`dispatch/epics.rs`).

pub mod decide;

use super::{Agent, Ctx, Plan, Recipient, Send};
use crate::board::ProjectKind;
use crate::job_env::StepError;
use crate::store::TicketFilter;
use decide::decide;
use serde_json::json;

pub const ASSIGN_ACTION: &str = "epic.assign";
pub const PICK_ACTION: &str = "epic.pick";
pub const SKIP_ACTION: &str = "epic.skip";
/// Cards per project per run; the rest wait for the next run.
const MAX_CARDS: usize = 10;
/// The `agent_sends` key prefix marking a ticket a PM skipped.
pub const SKIPPED: &str = "epics:skip:";

/// `APP-6|Offline+mode`: a ticket and an epic in one button value (values cannot hold spaces).
pub fn assign_value(key: &str, epic: &str) -> String {
    format!("{key}|{}", url::form_urlencoded::byte_serialize(epic.as_bytes()).collect::<String>())
}

pub fn parse_assign_value(value: &str) -> Option<(String, String)> {
    let (key, epic) = value.split_once('|')?;
    let epic: String = url::form_urlencoded::parse(format!("e={epic}").as_bytes()).next()?.1.into_owned();
    Some((key.to_string(), epic))
}

pub async fn plan(ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    let Ctx { store, ws, config, templates, now } = *ctx;
    let tickets = store.tickets(ws, &TicketFilter::default()).await?;
    let scope: Vec<String> =
        config.projects.iter().filter(|p| p.kind == ProjectKind::Scope).map(|p| p.key.clone()).collect();
    let skipped: Vec<String> = store
        .sends(ws, Agent::Epics.as_str())
        .await?
        .into_iter()
        .filter_map(|(key, _, _)| key.strip_prefix(SKIPPED).map(str::to_string))
        .collect();
    let report = decide(&tickets, &scope, &skipped);
    let today = crate::calendar::local_date(now, config.team.timezone);
    let mut sends = Vec::new();
    for hygiene in &report.projects {
        let project = config.projects.iter().find(|p| p.key == hygiene.project);
        let to = match project.and_then(|p| p.pm.clone()) {
            Some(pm) => Recipient::Person(pm),
            None => Recipient::Channel(config.agents.pm_channel.clone()),
        };
        let orphans: Vec<_> = report.orphans.iter().filter(|o| o.ticket.project == hygiene.project).collect();
        if orphans.is_empty() && config.agents.quiet {
            continue;
        }
        let context = json!({
            "project": project.map_or(hygiene.project.as_str(), |p| p.name.as_str()), "key": hygiene.project,
            "percent": format!("{:.0}", hygiene.percent()), "with_epic": hygiene.with_epic, "open": hygiene.open,
            "orphans": orphans.len(), "shown": orphans.len().min(MAX_CARDS), "more": orphans.len().saturating_sub(MAX_CARDS),
            "date": today.format("%a %-d %b").to_string(),
        });
        sends.push(Send::new(
            format!("epics:{today}:{}", hygiene.project),
            to.clone(),
            templates.render("epic_summary", &context)?,
        ));
        for orphan in orphans.into_iter().take(MAX_CARDS) {
            let key = orphan.ticket.key.to_string();
            let matches: Vec<String> =
                orphan.suggestions.iter().map(|(e, c)| format!("{e} ({:.0}%)", c * 100.0)).collect();
            let buttons: Vec<_> = orphan
                .suggestions
                .iter()
                .map(|(epic, _)| json!({ "epic": epic, "value": assign_value(&key, epic) }))
                .collect();
            let context = json!({
                "key": key, "title": orphan.ticket.title, "matches": matches.join(", "), "buttons": buttons,
                "assign": ASSIGN_ACTION, "pick": PICK_ACTION, "skip": SKIP_ACTION,
            });
            sends.push(Send::new(format!("epics:{today}:{key}"), to.clone(), templates.render("epic_card", &context)?));
        }
    }
    Ok(Plan::new(Agent::Epics, format!("the board on {}", today.format("%a %-d %b")), sends))
}
