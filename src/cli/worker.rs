//! `pmbot worker` and the background half of `pmbot serve`: the job worker and the
//! scheduler, stopped together on SIGINT/SIGTERM.

use super::CliError;
use crate::app::App;
use crate::chat::discord::{DiscordChat, DiscordSettings};
use crate::chat::shell::{render::Style, ShellChat};
use crate::chat::slack::{SlackChat, SlackSettings};
use crate::queue::scheduler::Scheduler;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Jobs of one queue run at once (default: [queue] concurrency).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Most jobs leased per claim.
    #[arg(long)]
    pub batch: Option<u32>,
    /// Lease length (default: [queue] lease_seconds).
    #[arg(long)]
    pub lease_seconds: Option<u64>,
    /// Fallback polling interval in milliseconds.
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Record completions in batches.
    #[arg(long)]
    pub batch_completions: bool,
    /// This worker's name in leases (default: host-pid).
    #[arg(long)]
    pub id: Option<String>,
    /// Also run the scheduler (any number of replicas may; each firing is enqueued once).
    #[arg(long)]
    pub scheduler: bool,
}

/// A shutdown every part can wait for.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Completes when SIGINT or SIGTERM arrives.
    pub fn on_signal() -> Stop {
        let (sender, receiver) = watch::channel(false);
        tokio::spawn(async move {
            super::shutdown_signal().await;
            tracing::info!("shutting down");
            let _ = sender.send(true);
        });
        Stop(receiver)
    }

    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

pub async fn run(app: &App, args: WorkerArgs) -> Result<(), CliError> {
    if app.embeddings {
        crate::models::load_embedder();
    }
    let stop = Stop::on_signal();
    let scheduler = args.scheduler.then(|| scheduler_task(app, stop.clone()));
    let stats = run_worker(app, &args, stop).await?;
    if let Some(task) = scheduler {
        let _ = task.await;
    }
    tracing::info!(completed = stats.completed, failed = stats.failed, released = stats.released, "worker stopped");
    Ok(())
}

/// Runs the worker until `stop`. Jobs speak through Slack and Discord, each message on the
/// platform its channel or person is on, when both are configured; else through the one
/// configured; else through the terminal chat on stdout.
pub async fn run_worker(app: &App, args: &WorkerArgs, stop: Stop) -> Result<crate::queue::WorkerStats, CliError> {
    let failure = |e: crate::queue::RegistryError| CliError::Failure(e.to_string());
    let discord_chat = app.discord.as_ref().map(|discord| Arc::new(DiscordChat::new(&DiscordSettings::from(discord))));
    if let Some(slack) = &app.slack {
        let settings = SlackSettings { bot_token: slack.bot_token.clone(), api_url: slack.api_url.clone() };
        let slack_chat = Arc::new(SlackChat::new(&settings));
        let Some(discord_chat) = discord_chat else {
            let mut worker = app.slack_worker(slack_chat).map_err(failure)?;
            apply(worker.config_mut(), args);
            tracing::info!(worker = %worker.config_mut().id, database = app.store.backend(), chat = "slack", "worker started");
            return Ok(worker.run(stop.wait()).await);
        };
        // Both: each platform's own jobs on a worker of their own (their own queues), and the
        // rest speaking through whichever platform a channel is on.
        let routed = Arc::new(crate::chat::routed::RoutedChat::new(slack_chat.clone(), discord_chat.clone()));
        let mut worker = app.worker(routed).map_err(failure)?;
        let mut slack = app.slack_only_worker(slack_chat).map_err(failure)?;
        let mut discord = app.discord_only_worker(discord_chat).map_err(failure)?;
        for (config, suffix) in
            [(worker.config_mut(), ""), (slack.config_mut(), "-slack"), (discord.config_mut(), "-discord")]
        {
            apply(config, args);
            config.id.push_str(suffix);
        }
        tracing::info!(worker = %worker.config_mut().id, database = app.store.backend(), chat = "slack+discord", "worker started");
        let (stats, _, _) =
            tokio::join!(worker.run(stop.clone().wait()), slack.run(stop.clone().wait()), discord.run(stop.wait()));
        return Ok(stats);
    }
    if let Some(chat) = discord_chat {
        let mut worker = app.discord_worker(chat).map_err(failure)?;
        apply(worker.config_mut(), args);
        tracing::info!(worker = %worker.config_mut().id, database = app.store.backend(), chat = "discord", "worker started");
        return Ok(worker.run(stop.wait()).await);
    }
    let style = Style { color: std::io::stdout().is_terminal() && crate::config::color_allowed() };
    let chat = Arc::new(ShellChat::new(Box::new(std::io::stdout()), style));
    let mut worker = app.worker(chat).map_err(failure)?;
    apply(worker.config_mut(), args);
    tracing::info!(worker = %worker.config_mut().id, database = app.store.backend(), chat = "terminal", "worker started");
    Ok(worker.run(stop.wait()).await)
}

fn apply(config: &mut crate::queue::WorkerConfig, args: &WorkerArgs) {
    if let Some(n) = args.concurrency {
        config.concurrency = n.max(1);
    }
    if let Some(n) = args.batch {
        config.batch = n.max(1);
    }
    if let Some(s) = args.lease_seconds {
        config.lease = Duration::from_secs(s.max(1));
    }
    if let Some(ms) = args.poll_ms {
        config.poll = Duration::from_millis(ms.max(1));
    }
    if let Some(id) = &args.id {
        config.id = id.clone();
    }
    config.batch_completions = args.batch_completions;
}

/// The scheduler in the background until `stop`.
pub fn scheduler_task(app: &App, stop: Stop) -> tokio::task::JoinHandle<()> {
    let schedules = crate::jobs::schedules(&app.config);
    let catch_up = Duration::from_secs(app.config.queue.catch_up_minutes * 60);
    let scheduler = Scheduler::new(app.store.clone(), schedules, catch_up);
    tokio::spawn(scheduler.run(Duration::from_secs(30), stop.wait()))
}
