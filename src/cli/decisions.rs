//! `pmbot decisions …`: the decision log, and how the bot's suggestions were answered.

use super::{print, CliError};
use crate::app::App;
use crate::store::{Decision, DecisionFilter};
use crate::workflows::conversation::stats::stats;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DecisionsAction {
    /// Decisions, newest first.
    List {
        /// Only kinds starting with this (`conversation.`, `ticket.triage`, …).
        #[arg(long)]
        kind: Option<String>,
        /// Only decisions about this (usually a ticket key).
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One decision with its inputs.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Per action (comment, move, create): done on its own and undone, suggested and how
    /// people answered — the evidence for raising a channel's autonomy.
    Stats {
        /// Only the last N days.
        #[arg(long, default_value_t = 30)]
        days: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, action: DecisionsAction) -> Result<(), CliError> {
    let (store, ws) = (&app.store, app.workspace());
    match action {
        DecisionsAction::List { kind, subject, limit, json } => {
            let subject = subject.map(|s| s.trim().to_string());
            let filter = DecisionFilter { kind_prefix: kind, subject, limit: limit.clamp(1, 10_000), since: None };
            let found = store.find_decisions(&ws, &filter).await?;
            print(json, &found, || {
                let lines = found.iter().map(line).collect::<Vec<_>>().join("\n");
                format!("{lines}\n{} decisions shown", found.len())
            })
        }
        DecisionsAction::Show { id, json } => {
            let decision = store.decision(&ws, id).await?;
            print(json, &decision, || details(&decision))
        }
        DecisionsAction::Stats { days, json } => {
            let since = chrono::Utc::now() - chrono::Duration::days(days.clamp(1, 3650));
            let filter =
                DecisionFilter { kind_prefix: Some("conversation.".into()), since: Some(since), ..Default::default() };
            let per_action = stats(&store.find_decisions(&ws, &filter).await?);
            print(json, &per_action, || {
                let mut text = format!(
                    "Conversation decisions, last {days} days\n{:<8} {:>5} {:>7} {:>6} {:>9} {:>9} {:>8} {:>7} {:>7}  {}",
                    "action", "done", "undone", "asked", "accepted", "elsewhere", "declined", "expired", "logged", "acceptance"
                );
                for (action, s) in &per_action {
                    let rate = s.acceptance().map_or("—".to_string(), |r| format!("{:.0}%", r * 100.0));
                    text.push_str(&format!(
                        "\n{action:<8} {:>5} {:>7} {:>6} {:>9} {:>9} {:>8} {:>7} {:>7}  {rate}",
                        s.done, s.undone, s.suggested, s.accepted, s.redirected, s.declined, s.expired, s.logged
                    ));
                }
                if per_action.is_empty() {
                    text.push_str("\n(no conversation decisions yet)");
                }
                text.push_str(
                    "\nacceptance = accepted / answered suggestions; expired = nobody answered in time. \
                     A high acceptance is the evidence for lowering that action's `auto` threshold.",
                );
                text
            })
        }
    }
}

fn line(d: &Decision) -> String {
    format!(
        "#{:<6} {}  {:<22} {:<10} {:<16} {:<14} {:>3}%  {}",
        d.id,
        d.created_at.format("%Y-%m-%d %H:%M"),
        d.kind,
        d.subject,
        d.action,
        d.outcome,
        (d.confidence * 100.0).round(),
        d.rationale
    )
}

fn details(d: &Decision) -> String {
    format!(
        "Decision #{} · {} about {}\nWhen: {}\nAction: {} · outcome: {} · confidence {:.0}% · by {}\nWhy: {}\n{}Inputs: {}",
        d.id,
        d.kind,
        d.subject,
        d.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        d.action,
        d.outcome,
        d.confidence * 100.0,
        d.actor,
        d.rationale,
        d.source.as_ref().map_or(String::new(), |s| format!("Source: {s}\n")),
        serde_json::to_string_pretty(&d.inputs).unwrap_or_default()
    )
}
