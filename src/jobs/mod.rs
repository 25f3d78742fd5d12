//! The app's job kinds and schedules: the one place that maps kinds to handlers and turns
//! `pmbot.toml` schedules into cron schedules. What a job works with (`JobEnv`, `StepError`)
//! is below the workflows, in `job_env`; each platform's own jobs are in its folder.

mod probe;
mod retention;

pub use crate::chat::discord::jobs::{DiscordInboundJob, DiscordMessageJob, DiscordSendJob};
pub use crate::chat::slack::jobs::{SlackInboundJob, SlackSendJob, SlackSource};
pub use crate::job_env::{JobEnv, StepError};
pub use probe::ProbeJob;
pub use retention::{cutoffs, RetentionJob};

use crate::chat::Chat;
use crate::config::Config;
use crate::queue::scheduler::Schedule;
use crate::queue::{JobSpec, Registry, RegistryError, WorkerConfig};
use crate::store::WorkspaceId;
use crate::workflows::agents::{Agent, AgentJob};
use crate::workflows::conversation::MatchJob;
use crate::workflows::fix::FixJob;
use crate::workflows::{digest::DigestJob, standup::StandupJob, triage::TriageJob};
use std::time::Duration;

/// Every job kind pmbot runs.
pub fn registry<C: Chat + 'static>() -> Result<Registry<JobEnv<C>>, RegistryError> {
    Registry::new()
        .register::<StandupJob>()?
        .register::<TriageJob>()?
        .register::<ProbeJob>()?
        .register::<MatchJob>()?
        .register::<DigestJob>()?
        .register::<RetentionJob>()?
        .register::<FixJob>()?
        .register::<crate::intake::alerts::AlertsJob>()?
        .register::<crate::intake::github::GithubJob>()?
        .register::<crate::intake::email::EmailJob>()?
        .register::<crate::workflows::deploy::DeployJob>()?
        .register::<crate::intake::reply::ReplyJob>()?
        .register::<crate::tracker::SyncJob>()?
        .register::<crate::tracker::WriteJob>()?
        .register::<crate::tracker::event::EventJob>()?
        .register::<crate::tracker::hours::HoursJob>()?
        .register::<AgentJob>()
}

/// Every job kind, plus Slack's own, for a worker that speaks to Slack.
pub fn slack_registry() -> Result<Registry<JobEnv<crate::chat::slack::SlackChat>>, RegistryError> {
    registry()?.register::<SlackInboundJob>()?.register::<SlackSendJob>()
}

/// Only Slack's own job kinds (its own queue), for a worker beside the others.
pub fn slack_only_registry() -> Result<Registry<JobEnv<crate::chat::slack::SlackChat>>, RegistryError> {
    Registry::new().register::<SlackInboundJob>()?.register::<SlackSendJob>()
}

/// Every job kind, plus Discord's own, for a worker that speaks to Discord.
pub fn discord_registry() -> Result<Registry<JobEnv<crate::chat::discord::DiscordChat>>, RegistryError> {
    registry()?.register::<DiscordInboundJob>()?.register::<DiscordMessageJob>()?.register::<DiscordSendJob>()
}

/// Only Discord's own job kinds (its own queue), for a second worker beside Slack's.
pub fn discord_only_registry() -> Result<Registry<JobEnv<crate::chat::discord::DiscordChat>>, RegistryError> {
    Registry::new().register::<DiscordInboundJob>()?.register::<DiscordMessageJob>()?.register::<DiscordSendJob>()
}

/// The worker's settings from `[queue]`.
pub fn worker_config(config: &Config) -> WorkerConfig {
    let queue = &config.queue;
    WorkerConfig {
        concurrency: queue.concurrency,
        lease: Duration::from_secs(queue.lease_seconds),
        poll: Duration::from_secs(queue.poll_seconds),
        shutdown_grace: Duration::from_secs(queue.shutdown_grace_seconds),
        retention: Duration::from_secs(queue.retention_hours * 3600),
        ..WorkerConfig::default()
    }
}

/// The team standup (`[standup]`) and every `[[schedules]]` entry. The configuration was
/// validated at load, so expressions parse; a schedule that does not is left out and logged.
pub fn schedules(config: &Config) -> Vec<Schedule> {
    let workspace = WorkspaceId::new(config.team.workspace.clone());
    let mut out = Vec::new();
    // (kind, queue, max attempts) of the job a schedule enqueues.
    let standup = (StandupJob::KIND, StandupJob::QUEUE, StandupJob::MAX_ATTEMPTS);
    let digest = (DigestJob::KIND, DigestJob::QUEUE, DigestJob::MAX_ATTEMPTS);
    let agent = (AgentJob::KIND, AgentJob::QUEUE, AgentJob::MAX_ATTEMPTS);
    let mut add = |name: &str, expression: &str, timezone, job: (&str, &str, u32), payload: serde_json::Value| {
        match Schedule::parse(name, expression) {
            Ok(cron) => out.push(Schedule {
                name: name.into(),
                expression: expression.into(),
                cron,
                timezone,
                workspace: workspace.clone(),
                kind: job.0.into(),
                queue: job.1.into(),
                payload,
                max_attempts: job.2,
            }),
            Err(err) => tracing::error!(error = %err, "schedule left out"),
        }
    };
    if config.standup.enabled {
        let payload = serde_json::json!({ "channel": config.standup.channel, "person": null });
        add("standup", &config.standup.schedule, config.team.timezone, standup, payload);
    }
    if config.digest.enabled {
        let channel = config.digest.channel.clone().unwrap_or_else(|| config.standup.channel.clone());
        add("digest", &config.digest.schedule, config.team.timezone, digest, serde_json::json!({ "channel": channel }));
    }
    if config.email.project.is_some() {
        use crate::intake::email::EmailJob;
        let poll = (EmailJob::KIND, EmailJob::QUEUE, EmailJob::MAX_ATTEMPTS);
        add("email", &config.email.schedule, config.team.timezone, poll, serde_json::json!({}));
    }
    if config.retention.enabled {
        let prune = (RetentionJob::KIND, RetentionJob::QUEUE, RetentionJob::MAX_ATTEMPTS);
        add("retention", &config.retention.schedule, config.team.timezone, prune, serde_json::json!({}));
    }
    for project in &config.projects {
        use crate::config::TrackerKind;
        use crate::tracker::SyncJob;
        if let Some(tracker) =
            project.tracker.as_ref().filter(|t| matches!(t.kind, TrackerKind::Linear | TrackerKind::Jira))
        {
            let sync = (SyncJob::KIND, SyncJob::QUEUE, SyncJob::MAX_ATTEMPTS);
            let payload = serde_json::json!({ "project": project.key, "full": false });
            add(&format!("sync-{}", project.key), &tracker.poll, config.team.timezone, sync, payload);
        }
    }
    if config.hours.enabled {
        use crate::tracker::hours::HoursJob;
        let hours = (HoursJob::KIND, HoursJob::QUEUE, HoursJob::MAX_ATTEMPTS);
        add("hours", &config.hours.schedule, config.team.timezone, hours, serde_json::json!({ "full": false }));
    }
    let agents = &config.agents;
    for (on, name, expression, which) in [
        (agents.compliance.enabled, "compliance", &agents.compliance.schedule, Agent::Compliance),
        (agents.budget.enabled, "budget", &agents.budget.schedule, Agent::Budget),
        (agents.stuck.enabled, "stuck", &agents.stuck.schedule, Agent::Stuck),
        (agents.epics.enabled, "epics", &agents.epics.schedule, Agent::Epics),
        (agents.month_end.enabled, "month-end", &agents.month_end.schedule, Agent::MonthEnd),
    ] {
        if on {
            add(name, expression, config.team.timezone, agent, serde_json::json!({ "agent": which }));
        }
    }
    if agents.forecast.enabled {
        for (i, expression) in agents.forecast.schedules.iter().enumerate() {
            let name = if i == 0 { "forecast".to_string() } else { format!("forecast-{}", i + 1) };
            add(&name, expression, config.team.timezone, agent, serde_json::json!({ "agent": Agent::Forecast }));
        }
    }
    for schedule in &config.schedules {
        let person_zone = schedule
            .person
            .as_ref()
            .and_then(|h| config.people.iter().find(|p| &p.handle == h))
            .and_then(|p| p.timezone);
        let timezone = schedule.timezone.or(person_zone).unwrap_or(config.team.timezone);
        let payload = serde_json::json!({ "channel": schedule.channel, "person": schedule.person });
        add(&schedule.name, &schedule.cron, timezone, standup, payload);
    }
    out
}
