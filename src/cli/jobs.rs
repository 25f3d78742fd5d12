//! `pmbot jobs …` and `pmbot schedules`: looking at and steering the queue.

use super::{print, CliError};
use crate::app::App;
use crate::jobs::ProbeJob;
use crate::queue::JobSpec;
use crate::store::{JobRecord, JobState};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Jobs, newest first.
    List {
        #[arg(long)]
        state: Option<JobState>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One job: payload, attempts and every error.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Run a discarded, cancelled, retryable or scheduled job again now.
    Retry { id: i64 },
    /// Cancel a job that has not finished.
    Cancel { id: i64 },
    /// Enqueue diagnostic probe jobs: each writes one row naming the worker that ran it.
    Probe {
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
}

pub async fn run(app: &App, action: JobsAction) -> Result<(), CliError> {
    let (store, ws, now) = (&app.store, app.workspace(), Utc::now());
    match action {
        JobsAction::List { state, kind, limit, json } => {
            let mut jobs = store.jobs(&ws, state, kind.as_deref(), limit.clamp(1, 10_000)).await?;
            jobs.iter_mut().for_each(|job| job.payload = redacted(&job.payload));
            print(json, &jobs, || {
                let counts = jobs.iter().map(line).collect::<Vec<_>>().join("\n");
                format!("{counts}\n{} jobs shown", jobs.len())
            })
        }
        JobsAction::Show { id, json } => {
            let mut job = store.job(&ws, id).await?;
            job.payload = redacted(&job.payload);
            print(json, &job, || details(&job))
        }
        JobsAction::Retry { id } => {
            let job = store.retry_job(&ws, id, now).await?;
            println!("Job #{id} ({}) will run again now.", job.kind);
            Ok(())
        }
        JobsAction::Cancel { id } => {
            let job = store.cancel_job(&ws, id, now).await?;
            println!("Job #{id} ({}) is cancelled.", job.kind);
            Ok(())
        }
        JobsAction::Probe { count } => {
            let mut tx = store.begin().await?;
            for _ in 0..count {
                tx.enqueue(&ws, &ProbeJob::default().to_new_job(now), now).await?;
            }
            tx.commit().await?;
            println!("Enqueued {count} {} jobs on queue {}.", ProbeJob::KIND, ProbeJob::QUEUE);
            Ok(())
        }
    }
}

/// Interaction tokens and response URLs can answer as the bot: never printed.
fn redacted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (k.clone(), if matches!(k.as_str(), "token" | "response_url") { "***".into() } else { redacted(v) })
            })
            .collect(),
        serde_json::Value::Array(items) => items.iter().map(redacted).collect(),
        other => other.clone(),
    }
}

fn line(job: &JobRecord) -> String {
    let when = match job.state {
        JobState::Completed | JobState::Discarded | JobState::Cancelled => job.finished_at.unwrap_or(job.run_at),
        _ => job.run_at,
    };
    format!(
        "#{:<6} {:<10} {:<20} attempt {}/{}  {}  {}",
        job.id,
        job.state.as_str(),
        job.kind,
        job.attempt,
        job.max_attempts,
        when.format("%Y-%m-%d %H:%M:%S UTC"),
        job.errors.last().map_or(String::new(), |e| format!("last error: {}", e.message))
    )
}

fn details(job: &JobRecord) -> String {
    let mut text = format!(
        "Job #{} · {} on queue {}\nState: {} · attempt {} of {} · priority {}\nRun at: {}\n",
        job.id,
        job.kind,
        job.queue,
        job.state,
        job.attempt,
        job.max_attempts,
        job.priority,
        job.run_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if let Some(key) = &job.unique_key {
        text.push_str(&format!("Unique key: {key}\n"));
    }
    if let (Some(owner), Some(until)) = (&job.lease_owner, job.lease_expires_at) {
        text.push_str(&format!("Leased by {owner} until {}\n", until.format("%H:%M:%S UTC")));
    }
    if let Some(approval) = job.approval_id {
        text.push_str(&format!("Waits on approval #{approval}\n"));
    }
    text.push_str(&format!("Payload: {}\n", serde_json::to_string_pretty(&job.payload).unwrap_or_default()));
    if job.errors.is_empty() {
        text.push_str("No errors.");
    } else {
        text.push_str("Errors:\n");
        for error in &job.errors {
            text.push_str(&format!(
                "  attempt {} at {}: {}\n",
                error.attempt,
                error.at.format("%Y-%m-%d %H:%M:%S UTC"),
                error.message
            ));
        }
    }
    text.trim_end().to_string()
}

#[derive(Serialize)]
struct Firings {
    schedule: String,
    cron: String,
    timezone: String,
    job: String,
    next: Vec<Firing>,
}

#[derive(Serialize)]
struct Firing {
    local: String,
    utc: DateTime<Utc>,
}

/// Each schedule's next `count` firings after `from`, in its zone and in UTC.
pub fn schedules(app: &App, from: Option<DateTime<Utc>>, count: usize, json: bool) -> Result<(), CliError> {
    let from = from.unwrap_or_else(Utc::now);
    let all: Vec<Firings> = crate::jobs::schedules(&app.config)
        .iter()
        .map(|s| Firings {
            schedule: s.name.clone(),
            cron: s.expression.clone(),
            timezone: s.timezone.name().to_string(),
            job: format!("{} {}", s.kind, s.payload),
            next: s
                .next(from, count)
                .into_iter()
                .map(|utc| Firing {
                    local: utc.with_timezone(&s.timezone).format("%a %Y-%m-%d %H:%M %Z").to_string(),
                    utc,
                })
                .collect(),
        })
        .collect();
    print(json, &all, || {
        if all.is_empty() {
            return "No schedules: the team standup is disabled and [[schedules]] is empty.".into();
        }
        let mut text = format!("Next firings after {}:\n", from.format("%Y-%m-%d %H:%M UTC"));
        for s in &all {
            text.push_str(&format!("{} · \"{}\" in {} → {}\n", s.schedule, s.cron, s.timezone, s.job));
            for f in &s.next {
                text.push_str(&format!("  {}  ({})\n", f.local, f.utc.format("%Y-%m-%d %H:%M UTC")));
            }
        }
        text.trim_end().to_string()
    })
}
