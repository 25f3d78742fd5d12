//! The scheduler: cron expressions in a time zone become jobs. Each firing is enqueued with
//! the unique key `schedule:<name>:<fire time>`, so any number of replicas enqueue it once.
//! After downtime, firings within the catch-up window are enqueued; older ones are skipped.

use crate::store::{NewJob, Store, StoreError, WorkspaceId};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// A named cron schedule and the job each firing enqueues.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub expression: String,
    pub cron: Cron,
    pub timezone: Tz,
    pub workspace: WorkspaceId,
    pub kind: String,
    pub queue: String,
    /// A JSON object; the firing's instant is added as `"at"`.
    pub payload: Value,
    pub max_attempts: u32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("schedule \"{name}\": \"{expression}\" is not a cron expression: {reason}")]
pub struct ScheduleError {
    pub name: String,
    pub expression: String,
    pub reason: String,
}

impl Schedule {
    /// Parses `expression` (5 fields: minute hour day month weekday, or 6 with seconds).
    pub fn parse(name: &str, expression: &str) -> Result<Cron, ScheduleError> {
        expression.parse::<Cron>().map_err(|err| ScheduleError {
            name: name.into(),
            expression: expression.into(),
            reason: err.to_string(),
        })
    }

    /// Firings after `after`, up to and including `until`, as UTC instants (at most `limit`).
    pub fn firings(&self, after: DateTime<Utc>, until: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = after.with_timezone(&self.timezone);
        while out.len() < limit {
            match self.cron.find_next_occurrence(&cursor, false) {
                Ok(next) if next.with_timezone(&Utc) <= until => {
                    out.push(next.with_timezone(&Utc));
                    cursor = next;
                }
                _ => break,
            }
        }
        out
    }

    /// The next `count` firings after `from`.
    pub fn next(&self, from: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        self.firings(from, DateTime::<Utc>::MAX_UTC, count)
    }

    /// The job for the firing at `at`.
    pub fn job(&self, at: DateTime<Utc>) -> NewJob {
        let stamp = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut payload = self.payload.clone();
        if let Value::Object(map) = &mut payload {
            map.insert("at".into(), Value::String(stamp.clone()));
        }
        NewJob {
            kind: self.kind.clone(),
            queue: self.queue.clone(),
            payload,
            priority: 0,
            max_attempts: self.max_attempts,
            run_at: at,
            unique_key: Some(format!("schedule:{}:{stamp}", self.name)),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// Firings this replica enqueued (another replica may have enqueued the rest).
    pub enqueued: usize,
    /// Firings already enqueued by someone.
    pub duplicates: usize,
}

pub struct Scheduler {
    store: Store,
    schedules: Vec<Schedule>,
    catch_up: Duration,
    /// Up to when each schedule's firings have been enqueued by this replica.
    done_until: HashMap<String, DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(store: Store, schedules: Vec<Schedule>, catch_up: Duration) -> Self {
        Scheduler { store, schedules, catch_up, done_until: HashMap::new() }
    }

    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// Enqueues every firing due by `now` not yet enqueued, within the catch-up window.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<Tick, StoreError> {
        let window_start = now - chrono::Duration::from_std(self.catch_up).unwrap_or(chrono::Duration::hours(1));
        let mut tick = Tick::default();
        for schedule in &self.schedules {
            let after = self.done_until.get(&schedule.name).copied().unwrap_or(window_start).max(window_start);
            for at in schedule.firings(after, now, 1000) {
                match self.store.enqueue(&schedule.workspace, &schedule.job(at), now).await? {
                    Some(_) => tick.enqueued += 1,
                    None => tick.duplicates += 1,
                }
            }
            self.done_until.insert(schedule.name.clone(), now);
        }
        Ok(tick)
    }

    /// The next firing of any schedule after `now`.
    pub fn next_firing(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedules.iter().filter_map(|s| s.next(now, 1).into_iter().next()).min()
    }

    /// Ticks at each firing (and at least every `poll`) until `shutdown`.
    pub async fn run(mut self, poll: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = Utc::now();
            match self.tick(now).await {
                Ok(tick) if tick.enqueued > 0 => tracing::info!(enqueued = tick.enqueued, "scheduled jobs enqueued"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "the scheduler could not enqueue; will try again"),
            }
            let until_next = self.next_firing(now).and_then(|next| (next - now).to_std().ok()).unwrap_or(poll);
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(until_next.min(poll) + Duration::from_millis(5)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
