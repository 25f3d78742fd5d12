//! `pmbot fix …` and `pmbot repo scan`: the AI queue from the command line. Commands that
//! change something run the queue's due jobs afterwards (unless `--no-wait`), speaking
//! through the terminal chat, so a run goes on until it waits at a gate.

use super::{print, stdout_style, CliError};
use crate::app::App;
use crate::board::{TicketKey, Verdict};
use crate::chat::shell::ShellChat;
use crate::service::{Actor, BoardService, Ctx};
use crate::workflows::fix::{self, git, knowledge, RunData};
use clap::Subcommand;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum FixAction {
    /// Hand a ticket to the AI queue.
    Start {
        key: TicketKey,
        /// Whose rights to use (a PM or lead); default the operator.
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        /// Where the run's thread goes (default the project's channel).
        #[arg(long)]
        channel: Option<String>,
        /// Only enqueue; a worker runs it.
        #[arg(long)]
        no_wait: bool,
    },
    /// The runs, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One run: its state, every transition, the SPEC, QA and the pull request.
    Show {
        run: i64,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a run (its agent is stopped).
    Cancel {
        run: i64,
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// The kill switch: no fix step starts, running agents stop; state is kept.
    Pause {
        #[arg(long = "as", default_value = "cli")]
        actor: String,
    },
    /// Lift the kill switch.
    Resume {
        #[arg(long = "as", default_value = "cli")]
        actor: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Completion rate, time in each state, approval response times, QA pass rate.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Approve the gate the run waits at (the SPEC, or the pull request).
    Approve(Decide),
    /// Reject the SPEC, or close the pull request.
    Reject(Decide),
    /// Request changes at the gate the run waits at, in words.
    Changes(Decide),
}

#[derive(Debug, clap::Args)]
pub struct Decide {
    run: i64,
    /// Who decides: a person of the team whose role the gate admits.
    #[arg(long = "as")]
    actor: String,
    /// A comment (for changes: what should change).
    comment: Vec<String>,
    #[arg(long)]
    no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum RepoAction {
    /// What a project's repository is made of and how it is built and tested.
    Scan {
        /// A project key with a [projects.fix] repository.
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(app: &App, action: FixAction) -> Result<(), CliError> {
    let (ws, now) = (app.workspace(), chrono::Utc::now());
    let board = BoardService::new(app.store.clone(), ws.clone());
    let actor = |name: &str| Actor::named(&app.config.people(), name);
    match action {
        FixAction::Start { key, actor: who, channel, no_wait } => {
            let run = board.start_fix(&actor(&who), &key, channel.as_deref(), &Ctx::new(now)).await?;
            println!("Fix run #{} started for {key}.", run.id);
            drive(app, no_wait).await
        }
        FixAction::List { limit, json } => {
            let runs = app.store.fix_runs(&ws, limit.clamp(1, 1000)).await?;
            let mut shown = Vec::new();
            for run in &runs {
                let states: Vec<String> =
                    app.store.fix_transitions(&ws, run.id).await?.iter().map(|t| t.to.to_string()).collect();
                shown.push(json!({
                    "id": run.id, "ticket": run.ticket, "state": run.state, "requested_by": run.requested_by,
                    "states": states, "created_at": run.created_at, "finished_at": run.finished_at,
                }));
            }
            print(json, &shown, || {
                if runs.is_empty() {
                    return "No fix runs yet: `pmbot fix start WEB-12 --as pat`, or /fix in chat.".into();
                }
                runs.iter()
                    .map(|r| {
                        format!(
                            "#{:<4} {:<8} {:<24} by {:<8} {}",
                            r.id,
                            r.ticket,
                            r.state,
                            r.requested_by,
                            r.created_at.format("%Y-%m-%d %H:%M")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        FixAction::Show { run, json } => {
            let found = app.store.fix_run(&ws, run).await?;
            let transitions = app.store.fix_transitions(&ws, run).await?;
            let data: RunData = serde_json::from_value(found.data.clone()).unwrap_or_default();
            let shown = json!({
                "id": found.id, "ticket": found.ticket, "state": found.state, "requested_by": found.requested_by,
                "data": found.data,
                "transitions": transitions.iter().map(|t| json!({
                    "from": t.from, "to": t.to, "by": t.actor, "at": t.at, "why": t.reason,
                })).collect::<Vec<_>>(),
            });
            print(json, &shown, || describe(&found, &transitions, &data))
        }
        FixAction::Cancel { run, actor: who, no_wait } => {
            let run = board.cancel_fix(&actor(&who), run, &Ctx::new(now)).await?;
            println!("Fix run #{} for {} is cancelled.", run.id, run.ticket);
            drive(app, no_wait).await
        }
        FixAction::Pause { actor: who } => {
            board.pause_fixes(&actor(&who), true, &Ctx::new(now)).await?;
            println!(
                "The AI queue is paused: no step starts and running agents are stopped. `pmbot fix resume` lifts it."
            );
            Ok(())
        }
        FixAction::Resume { actor: who, no_wait } => {
            board.pause_fixes(&actor(&who), false, &Ctx::new(now)).await?;
            println!("The AI queue is running again.");
            drive(app, no_wait).await
        }
        FixAction::Stats { json } => {
            let mut runs = Vec::new();
            for run in app.store.fix_runs(&ws, 10_000).await? {
                let transitions = app.store.fix_transitions(&ws, run.id).await?;
                runs.push((run, transitions));
            }
            let stats = fix::stats(&runs, now);
            print(json, &stats, || fix::describe_stats(&stats))
        }
        FixAction::Approve(d) => decide(app, &board, d, Verdict::Approve).await,
        FixAction::Reject(d) => decide(app, &board, d, Verdict::Reject).await,
        FixAction::Changes(d) => decide(app, &board, d, Verdict::RequestChanges).await,
    }
}

async fn decide(app: &App, board: &BoardService, d: Decide, verdict: Verdict) -> Result<(), CliError> {
    let ws = app.workspace();
    let run = app.store.fix_run(&ws, d.run).await?;
    let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
    let approval = match run.state {
        crate::board::RunState::AwaitingSpecApproval => data.spec_approval,
        crate::board::RunState::AwaitingPrApproval => data.pr_approval,
        _ => None,
    }
    .ok_or_else(|| CliError::Misuse(format!("Fix run #{} is {}: it waits at no gate.", run.id, run.state)))?;
    let comment = d.comment.join(" ");
    if verdict == Verdict::RequestChanges && comment.trim().is_empty() {
        return Err(CliError::Misuse("Say what should change: pmbot fix changes RUN --as PERSON <what>".into()));
    }
    let actor = Actor::named(&app.config.people(), &d.actor);
    let comment = (!comment.trim().is_empty()).then_some(comment.trim());
    let decided = board.decide(&actor, approval, verdict, comment, &Ctx::new(chrono::Utc::now())).await?;
    println!("{} {} approval #{} ({}).", actor.display(), verdict.past_tense(), approval, decided.state);
    drive(app, d.no_wait).await
}

/// Runs due jobs, speaking through the terminal, until nothing is due.
async fn drive(app: &App, no_wait: bool) -> Result<(), CliError> {
    if no_wait {
        return Ok(());
    }
    let chat = Arc::new(ShellChat::new(Box::new(std::io::stdout()), stdout_style()));
    let worker = app.worker(chat).map_err(|e| CliError::Failure(e.to_string()))?;
    worker.run_until_idle().await;
    Ok(())
}

fn describe(run: &crate::store::FixRun, transitions: &[crate::store::FixTransition], data: &RunData) -> String {
    let mut out = format!("Fix run #{} for {} — {} (started by {})\n", run.id, run.ticket, run.state, run.requested_by);
    for t in transitions {
        let from = t.from.map_or("start".to_string(), |s| s.to_string());
        let why = t.reason.lines().next().unwrap_or_default();
        out.push_str(&format!("  {}  {from} → {}  by {}: {why}\n", t.at.format("%Y-%m-%d %H:%M:%S"), t.to, t.actor));
    }
    if let Some(spec) = &data.spec {
        let files: Vec<String> =
            spec.files.iter().map(|f| if f.new { format!("{} (new)", f.path) } else { f.path.clone() }).collect();
        out.push_str(&format!("SPEC: {} — files: {}\n", spec.title, files.join(", ")));
    }
    if let Some(branch) = &data.branch {
        out.push_str(&format!(
            "Branch: {branch}{}\n",
            data.diff_stat.as_ref().map_or(String::new(), |s| format!(" ({s})"))
        ));
    }
    for gate in &data.qa {
        out.push_str(&format!("QA: {}\n", gate.line()));
    }
    if let Some(sha) = &data.merged {
        out.push_str(&format!("Merged as {sha}\n"));
    }
    out.push_str(&format!("Time in the agent {:.1} s, in the gates {:.1} s", data.agent_seconds, data.gate_seconds));
    out
}

pub async fn repo(app: &App, action: RepoAction) -> Result<(), CliError> {
    let RepoAction::Scan { name, json } = action;
    let repo = fix::Repo::of(&app.config, &name).ok_or_else(|| {
        CliError::Misuse(format!("{name} is not a project with a [projects.fix] repository in pmbot.toml"))
    })?;
    let clone = repo.clone_dir(&app.config);
    let head = git::refresh_clone(&repo.fix.repository, &clone, &repo.fix.default_branch, None)
        .await
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let mut known = fix::scan(&clone, &head).await.map_err(|e| CliError::Failure(e.to_string()))?;
    let day = chrono::Utc::now().with_timezone(&app.config.team.timezone).format("%Y-%m-%d").to_string();
    fix::summarize(app.llm.as_deref(), &app.store, &app.workspace(), &day, &clone, &mut known).await;
    print(json, &known, || knowledge::describe(&repo.project, &known))
}
