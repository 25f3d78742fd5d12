//! `pmbot demo`: a fresh SQLite database, the sample team, and a scripted conversation in
//! the terminal chat: a standup, a ticket created from chat, a PM's button press, the board.

pub mod fix;
pub mod linear;
pub mod seed;

use crate::app::App;
use crate::chat::shell::{render::Style, ShellChat, ShellSession};
use crate::config;
use crate::store::{sqlite_url, TicketFilter};
use crate::workflows::agents::{self, Agent, Sent};
use chrono::Utc;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot create the demo directory: {0}")]
    Dir(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error(transparent)]
    Chat(#[from] crate::chat::ChatError),
    #[error(transparent)]
    Registry(#[from] crate::queue::RegistryError),
    #[error("an agent failed: {0}")]
    Agent(String),
    #[error(transparent)]
    Fix(#[from] fix::FixDemoError),
}

impl From<crate::job_env::StepError> for DemoError {
    fn from(err: crate::job_env::StepError) -> Self {
        DemoError::Agent(err.to_string())
    }
}

/// Runs the demo, printing to `out`; returns the directory holding its database.
/// `program` is how the reader runs pmbot (shown in the closing hints).
pub async fn run(out: Box<dyn Write + Send>, style: Style, program: &str) -> Result<PathBuf, DemoError> {
    let dir = tempfile::Builder::new().prefix("pmbot-demo-").tempdir()?.keep();
    // The demo always uses the built-in team, whatever ./pmbot.toml says.
    let mut config = config::load::parse(Path::new("pmbot.example.toml (built in)"), config::BUILT_IN)?;
    let unsandboxed = fix::prepare(&dir, &mut config).await?;
    let database = dir.join("pmbot.db");
    let app = App::open(config, Some(&sqlite_url(&database))).await?;
    let ws = app.workspace();
    let start = Utc::now();
    let seeded = seed::seed(&app.store, &ws, &app.config, start, false).await?;
    let bot = app.bot();
    let chat = Arc::new(ShellChat::new(out, style));
    chat.note(&banner(&app, &seeded, &database))?;
    let worker = app.worker(chat.clone())?;
    let mut session = ShellSession::new(&bot, chat, "ana", &app.config.standup.channel, true).with_worker(worker);

    let login = seeded.keys["Login times out after 30 seconds on slow networks"].clone();
    let next_web = seeded.keys.values().filter(|k| k.project() == "WEB").count() + 1;
    let script: Vec<(&str, &str, String)> = vec![
        ("ana", "#team", "/standup".into()),
        ("ben", "#acme-web", "@pmbot create \"Export invoices as CSV from the account page\"".into()),
        ("ben", "#acme-web", "!1".into()),
        ("pat", "#acme-web", "!1".into()),
        ("pat", "#acme-web", format!("@pmbot assign WEB-{next_web} to ben")),
        // Plain chat: the bot reads it against the board.
        ("ana", "#acme-web", format!("{login} is merged and deployed 🎉")),
        ("chloe", "#acme-web", "hey team, can we add a dark mode toggle to the site header? two clients asked".into()),
        ("pat", "#acme-web", "press Yes".into()),
        ("ben", "#acme-web", "/board @ben".into()),
        ("pat", "#acme-web", format!("@pmbot why {login}")),
        // The AI queue: a bug described to /fix becomes a ticket and a run.
        ("pat", "#acme-web", format!("/fix {}", fix::TICKET)),
        ("ana", "#acme-web", "press Approve SPEC".into()),
        ("pat", "#acme-web", "press Approve & merge".into()),
    ];
    if let Some(note) = &unsandboxed {
        session.chat.note(&format!("Note: {note}"))?;
    }
    let mut fix_started = None;
    for (user, channel, line) in &script {
        if line.starts_with("/fix") {
            session.chat.note("\n──── The AI queue: from a bug report to a merged change ────")?;
            fix_started = Some(std::time::Instant::now());
        }
        session.user = user.to_string();
        session.channel = channel.to_string();
        // "press Yes" presses the newest button labelled Yes, whatever its number.
        let line = match line.strip_prefix("press ") {
            Some(label) => session.chat.newest_button(label).map_or_else(|| line.clone(), |n| format!("!{n}")),
            None => line.clone(),
        };
        session.line(&line, Utc::now()).await?;
    }

    let fix_story = fix_story(&app, fix_started.map(|t| t.elapsed())).await?;

    // Two of the PM agents, as their schedules would run them (Monday 10:00, working days).
    // What the summary says of them is what they sent: the sample data is relative to today,
    // so on some dates no threshold is crossed.
    let mut told = Vec::new();
    for agent in [Agent::Compliance, Agent::Budget] {
        session.chat.note(&format!("\n──── The {} agent runs, as its schedule would ────", agent.as_str()))?;
        let plan = agents::plan(agent, &app.store, &ws, &app.config, &app.templates, Utc::now()).await?;
        let sent =
            agents::deliver(&plan, &app.store, &ws, &app.config, session.chat.as_ref(), Utc::now(), false).await?;
        let keys: Vec<&str> = plan
            .sends
            .iter()
            .zip(&sent)
            .filter(|(_, s)| **s == Sent::Sent)
            .map(|(send, _)| send.key.as_str())
            .collect();
        told.push(agent_story(agent, &keys));
    }

    let decisions = app.store.decisions(&ws, None, 1000).await?.len();
    let tickets = app.store.tickets(&ws, &TicketFilter::default()).await?.len();
    let moves = app.store.transitions_since(&ws, start).await?.len();
    session.chat.note(&summary(program, &database, tickets, moves, decisions, &told.join("; "), &fix_story))?;
    app.store.close().await;
    Ok(dir)
}

fn banner(app: &App, seeded: &seed::Seeded, database: &Path) -> String {
    let people: Vec<String> = app.config.people.iter().map(|p| format!("{} ({})", p.name, p.role)).collect();
    format!(
        "pmbot demo — {team}, a sample team in a fresh SQLite database\n\
         People: {people}\n\
         Projects: {projects}\n\
         Seeded {tickets} tickets with their history, {comments} comments and {messages} chat messages.\n\
         Database: {db}\n\
         What follows is a scripted conversation in the terminal chat; buttons show as [N] and are pressed with !N.",
        team = app.config.team.name,
        people = people.join(", "),
        projects = app.config.projects.iter().map(|p| format!("{} {}", p.key, p.name)).collect::<Vec<_>>().join(", "),
        tickets = seeded.tickets,
        comments = seeded.comments,
        messages = seeded.messages,
        db = database.display(),
    )
}

/// What an agent's sends (their keys) amount to, in a line of the closing summary.
fn agent_story(agent: Agent, keys: &[&str]) -> String {
    let count = |part: &str| keys.iter().filter(|k| k.contains(part)).count();
    match agent {
        Agent::Compliance => match (count(":no-data:"), keys.iter().filter(|k| !k.contains(":summary:")).count()) {
            (1.., _) => "the compliance agent found no hours logged last week and told Pat (PM) so".into(),
            (_, 0) => "the compliance agent found everyone's hours in order and sent Pat (PM) the summary".into(),
            (_, n) => format!("the compliance agent DM'd {n} people short of hours last week with what is missing per day, and sent Pat (PM) the team's summary"),
        },
        Agent::Budget => {
            let alerts: Vec<String> = keys
                .iter()
                .filter(|k| !k.contains(":summary:") && !k.ends_with(":channel"))
                .filter_map(|k| k.split(':').nth(1).map(|project| format!("the {project} retainer")))
                .collect();
            if alerts.is_empty() {
                "the budget agent posted the retainers' summary; no threshold is crossed yet".into()
            } else {
                format!("the budget agent alerted the PM channel about {}", alerts.join(" and "))
            }
        }
        other => format!("the {} agent ran", other.as_str()),
    }
}

/// What the demo's fix run amounted to: its states, and where its time went.
async fn fix_story(app: &App, took: Option<std::time::Duration>) -> Result<String, DemoError> {
    let ws = app.workspace();
    let Some(run) = app.store.fix_runs(&ws, 1).await?.into_iter().next() else {
        return Ok("the fix run did not start".into());
    };
    let states: Vec<String> = app.store.fix_transitions(&ws, run.id).await?.iter().map(|t| t.to.to_string()).collect();
    let data: crate::workflows::fix::RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
    let took = took.map_or(0.0, |d| d.as_secs_f64());
    let overhead = (took - data.agent_seconds - data.gate_seconds).max(0.0);
    Ok(format!(
        "{key} went {states}, in {took:.1} s: {agent:.2} s in the agent, {gates:.2} s in the QA gate, {overhead:.2} s pmbot's own work (git, the store, the sandbox, the chat)",
        key = run.ticket,
        states = states.join(" → "),
        agent = data.agent_seconds,
        gates = data.gate_seconds,
    ))
}

fn summary(
    program: &str,
    database: &Path,
    tickets: usize,
    moves: usize,
    decisions: usize,
    agents: &str,
    fix: &str,
) -> String {
    let url = sqlite_url(database);
    format!(
        "\n──── What happened ────\n\
         • Ana asked for the standup: it read the board's history in the team's time zone.\n\
         • Ben created a ticket from chat. A triage job asked for a PM or lead's decision and parked in the queue.\n\
         • Ben pressed Accept: as a member he may not decide, and the refusal was logged.\n\
         • Pat (the PM) pressed Accept: the card updated in place, the job resumed and moved the ticket to to do.\n\
         • Pat assigned it to Ben.\n\
         • Ana said in the channel that her ticket is merged and deployed: the bot moved it, said so in the thread, offered Undo.\n\
         • Chloé asked for new work: unsure, the bot suggested a ticket; Pat pressed Yes and it was created, quoting the thread.\n\
         • `why` showed every decision about Ana's ticket, with its reason and confidence.\n\
         • Pat described a bug with /fix: it became a ticket and a fix run. pmbot read the repository, wrote a SPEC naming the files the\n\
         \x20 agent may touch; Ana approved it; the scripted agent edited greet.sh in a sandboxed git worktree; the repository's tests\n\
         \x20 passed; a pull request was opened; Pat (not Ana: two people decide) approved it and it was merged. {fix}.\n\
         \x20 `{program} --database-url {url} fix list --json` lists the run with its states.\n\
         • The PM agents ran: {agents}.\n\
         \x20 Run again for the same period, they send nothing: `pmbot run compliance --dry-run` shows it.\n\
         The board now has {tickets} tickets; {moves} status changes were recorded during the demo and {decisions} decisions are in the log.\n\n\
         The data lives in {db}. Look around:\n\
         \x20 {program} --database-url {url} board list\n\
         \x20 {program} --database-url {url} shell --as pat\n\
         \x20 {program} --database-url {url} decisions list\n\
         Or start your own team: cp pmbot.example.toml pmbot.toml, edit it, then pmbot seed / pmbot shell.",
        db = database.display(),
    )
}
