//! `pmbot board …`: the built-in board from the command line, as text or `--json`.

use super::{print, CliError};
use crate::app::App;
use crate::board::{NewTicket, Priority, Status, Ticket, TicketKey};
use crate::service::{Actor, BoardService, Ctx};
use crate::store::TicketFilter;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BoardAction {
    /// List tickets, most urgent first.
    List {
        #[arg(long)]
        project: Option<String>,
        /// A handle.
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        status: Option<Status>,
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its history and comments.
    Show {
        key: TicketKey,
        #[arg(long)]
        json: bool,
    },
    /// Create a ticket.
    Add {
        title: String,
        /// A project key (default: the team's default project).
        #[arg(long)]
        project: Option<String>,
        #[arg(long, default_value = "medium")]
        priority: Priority,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long, default_value = "backlog")]
        status: Status,
        /// Who is doing this, for the history.
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a ticket to another status.
    Move {
        key: TicketKey,
        status: Status,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Comment on a ticket.
    Comment {
        key: TicketKey,
        text: String,
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Assign a ticket to a handle, or to `nobody`.
    Assign {
        key: TicketKey,
        person: String,
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, action: BoardAction) -> Result<(), CliError> {
    let (store, ws, now) = (&app.store, app.workspace(), chrono::Utc::now());
    let board = BoardService::new(store.clone(), ws.clone());
    match action {
        BoardAction::List { project, assignee, status, json } => {
            let filter = TicketFilter {
                project: project.map(|p| p.to_uppercase()),
                assignee,
                statuses: status.into_iter().collect(),
            };
            let tickets = store.tickets(&ws, &filter).await?;
            print(json, &tickets, || {
                tickets.iter().map(line).collect::<Vec<_>>().join("\n") + &format!("\n{} tickets", tickets.len())
            })
        }
        BoardAction::Show { key, json } => {
            let ticket = store.ticket(&ws, &key).await?;
            let history = store.history(&ws, &key).await?;
            let comments = store.comments(&ws, &key).await?;
            let shown = serde_json::json!({ "ticket": ticket, "history": history, "comments": comments });
            print(json, &shown, || {
                let mut text = format!("{}\n{}\n", line(&ticket), ticket.description);
                for t in &history {
                    let from = t.from.map_or("created".to_string(), |f| f.to_string());
                    let why = t.reason.as_deref().map_or(String::new(), |r| format!(" ({r})"));
                    text.push_str(&format!(
                        "  {} {from} → {} by {}{why}\n",
                        t.at.format("%Y-%m-%d %H:%M UTC"),
                        t.to,
                        t.actor
                    ));
                }
                for c in &comments {
                    text.push_str(&format!(
                        "  💬 {} {}: {}\n",
                        c.created_at.format("%Y-%m-%d %H:%M UTC"),
                        c.author,
                        c.body
                    ));
                }
                text.trim_end().to_string()
            })
        }
        BoardAction::Add { title, project, priority, assignee, status, actor: name, json } => {
            let project =
                project.map(|p| p.to_uppercase()).or_else(|| app.config.project_for_channel("").map(|p| p.key.clone()));
            let project = project
                .ok_or_else(|| CliError::Misuse("no project: pass --project or add one to pmbot.toml".into()))?;
            let mut new =
                NewTicket::new(&project, &title).map_err(|e| CliError::Misuse(format!("{e}; nothing was created")))?;
            new.priority = priority;
            new.status = status;
            new.assignee = assignee;
            new.reporter = Some(name.clone());
            let ticket = board.create(&actor(app, &name), &new, &Ctx::new(now)).await?;
            print(json, &ticket, || format!("Created {}", line(&ticket)))
        }
        BoardAction::Move { key, status, reason, actor: name, json } => {
            let moved = board.move_to(&actor(app, &name), &key, status, reason.as_deref(), &Ctx::new(now)).await?;
            let from = moved.from.map_or("-".to_string(), |s| s.to_string());
            print(json, &moved, || format!("{key}: {from} → {status}"))
        }
        BoardAction::Comment { key, text, actor: name, json } => {
            if text.trim().is_empty() {
                return Err(CliError::Misuse("the comment is empty; nothing was added".into()));
            }
            let comment = board.comment(&actor(app, &name), &key, text.trim(), &Ctx::new(now)).await?;
            print(json, &comment, || format!("Commented on {key}"))
        }
        BoardAction::Assign { key, person, actor: name, json } => {
            let assignee = (!matches!(person.as_str(), "nobody" | "none")).then_some(person.as_str());
            let ticket = board.assign(&actor(app, &name), &key, assignee, &Ctx::new(now)).await?;
            print(json, &ticket, || format!("{key} → {}", ticket.assignee.as_deref().unwrap_or("nobody")))
        }
    }
}

/// `--as HANDLE` acts as that person, with their rights; anything else (the default `cli`)
/// is the operator, who may do everything and is recorded under that name.
fn actor(app: &App, name: &str) -> Actor {
    Actor::named(&app.config.people(), name)
}

fn line(t: &Ticket) -> String {
    format!(
        "{:<8} {:<12} {:<8} {:<8} {}",
        t.key.as_str(),
        t.status.as_str(),
        t.priority.as_str(),
        t.assignee.as_deref().unwrap_or("-"),
        t.title
    )
}
