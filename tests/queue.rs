//! The job queue's guarantees, on SQLite and on PostgreSQL: unique enqueue, leases and
//! fencing, retries into the dead-letter set, panics, timeouts, bad payloads, graceful
//! release, and the scheduler's exactly-once firings across replicas.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::t0;
use pmbot::queue::scheduler::{Schedule, Scheduler};
use pmbot::queue::{Clock, Job, JobContext, JobSpec, Outcome, Registry, Worker, WorkerConfig};
use pmbot::store::{Finish, JobState, NewJob, Store, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

on_both_backends!(
    store:
    a_duplicate_enqueue_from_two_connections_makes_one_job,
    a_late_completion_from_a_lost_lease_is_refused,
    a_job_that_always_fails_ends_discarded_with_every_error,
    a_panic_is_a_failed_attempt_not_a_crash,
    a_job_over_its_timeout_is_stopped_and_retried,
    unknown_kinds_and_old_payloads_are_discarded_with_a_reason,
    a_snoozed_job_waits_without_using_an_attempt,
    shutdown_releases_unfinished_jobs_without_counting_the_attempt,
    enqueue_inside_a_rolled_back_transaction_leaves_nothing,
    three_schedulers_over_a_day_enqueue_each_firing_once,
    a_scheduler_that_was_down_catches_up_only_within_its_window,
    operators_can_retry_a_discarded_job_and_cancel_a_waiting_one,
    a_long_job_keeps_its_lease_by_heartbeat,
    finished_jobs_are_pruned_after_the_retention,
);

/// What test jobs can touch: a counter of attempts.
#[derive(Default)]
struct Counters {
    runs: AtomicU32,
}

#[derive(Serialize, Deserialize)]
struct Flaky {
    mode: String,
}

impl JobSpec for Flaky {
    const KIND: &'static str = "test.flaky";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);
}

impl Job<Counters> for Flaky {
    async fn run(&self, counters: &Counters, _ctx: &JobContext) -> Outcome {
        counters.runs.fetch_add(1, Ordering::SeqCst);
        match self.mode.as_str() {
            "fail" => Outcome::retry("the API answered 503"),
            "panic" => panic!("index out of bounds"),
            "slow" => {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                Outcome::Done
            }
            "snooze" => Outcome::Snooze(std::time::Duration::from_secs(600)),
            _ => Outcome::Done,
        }
    }
}

fn ws() -> WorkspaceId {
    WorkspaceId::new("default")
}

async fn setup(store: &Store) {
    store.ensure_workspace(&ws(), "Team", t0()).await.unwrap();
}

fn worker_at(store: &Store, counters: &Arc<Counters>, at: DateTime<Utc>) -> Worker<Counters> {
    let registry = Arc::new(Registry::new().register::<Flaky>().unwrap());
    let config = WorkerConfig { id: "test-worker".into(), ..WorkerConfig::default() };
    let clock: Clock = Arc::new(move || at);
    Worker::new(store.clone(), registry, counters.clone(), config).with_clock(clock)
}

async fn enqueue_flaky(store: &Store, mode: &str) -> i64 {
    let job = Flaky { mode: mode.into() }.to_new_job(t0());
    store.enqueue(&ws(), &job, t0()).await.unwrap().unwrap()
}

fn plain(kind: &str, key: Option<&str>) -> NewJob {
    NewJob {
        kind: kind.into(),
        queue: "default".into(),
        payload: serde_json::json!({}),
        priority: 0,
        max_attempts: 3,
        run_at: t0(),
        unique_key: key.map(str::to_string),
    }
}

async fn a_duplicate_enqueue_from_two_connections_makes_one_job(store: &Store) {
    setup(store).await;
    for round in 0..10 {
        let key = format!("standup:2026-11-16T14:00:00Z:{round}");
        let (a, b) = tokio::join!(
            {
                let (s, k) = (store.clone(), key.clone());
                async move { s.enqueue(&ws(), &plain("x", Some(&k)), t0()).await.unwrap() }
            },
            {
                let (s, k) = (store.clone(), key.clone());
                async move { s.enqueue(&ws(), &plain("x", Some(&k)), t0()).await.unwrap() }
            },
        );
        assert_eq!(a.is_some() as u8 + b.is_some() as u8, 1, "round {round}: exactly one insert wins");
    }
    assert_eq!(store.jobs(&ws(), None, Some("x"), 100).await.unwrap().len(), 10);
}

async fn a_late_completion_from_a_lost_lease_is_refused(store: &Store) {
    setup(store).await;
    let id = store.enqueue(&ws(), &plain("x", None), t0()).await.unwrap().unwrap();
    let first = store.claim("default", "worker-a", 10, t0() + Duration::seconds(10), t0()).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        store.claim("default", "worker-b", 10, t0() + Duration::seconds(10), t0()).await.unwrap().is_empty(),
        "leased jobs are not claimed twice"
    );
    // worker-a goes silent; its lease runs out and the job is rescued and re-leased.
    assert_eq!(store.rescue_expired(t0() + Duration::seconds(20)).await.unwrap(), 1);
    let second = store
        .claim("default", "worker-b", 10, t0() + Duration::seconds(60), t0() + Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!((second[0].id, second[0].attempt), (id, 2));
    assert!(!store
        .heartbeat(id, first[0].lease_count, t0() + Duration::seconds(90), t0() + Duration::seconds(21))
        .await
        .unwrap());
    assert!(
        !store.finish(id, first[0].lease_count, &Finish::Completed, t0() + Duration::seconds(21)).await.unwrap(),
        "the dead worker's completion is refused"
    );
    assert!(store.finish(id, second[0].lease_count, &Finish::Completed, t0() + Duration::seconds(22)).await.unwrap());
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!((job.state, job.errors.len()), (JobState::Completed, 1));
    assert!(job.errors[0].message.contains("lease expired"));
}

async fn a_job_that_always_fails_ends_discarded_with_every_error(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let id = enqueue_flaky(store, "fail").await;
    for hour in 0..5 {
        worker_at(store, &counters, t0() + Duration::hours(hour)).run_until_idle().await;
    }
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!(job.state, JobState::Discarded);
    assert_eq!(counters.runs.load(Ordering::SeqCst), 3, "max attempts, then stop");
    let attempts: Vec<u32> = job.errors.iter().map(|e| e.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(job.errors[2].message.ends_with("(attempt 3 of 3; giving up)"), "{}", job.errors[2].message);
}

async fn a_panic_is_a_failed_attempt_not_a_crash(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let id = enqueue_flaky(store, "panic").await;
    worker_at(store, &counters, t0()).run_until_idle().await;
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!(job.state, JobState::Retryable);
    assert_eq!(job.errors[0].message, "the job panicked: index out of bounds");
    assert!(job.run_at > t0(), "retried later, with backoff");
}

async fn a_job_over_its_timeout_is_stopped_and_retried(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let id = enqueue_flaky(store, "slow").await;
    let started = std::time::Instant::now();
    worker_at(store, &counters, t0()).run_until_idle().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "stopped at the 300 ms timeout");
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!(job.state, JobState::Retryable);
    assert_eq!(job.errors[0].message, "timed out after 0.3 s");
}

async fn unknown_kinds_and_old_payloads_are_discarded_with_a_reason(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let unknown = store.enqueue(&ws(), &plain("report.quarterly", None), t0()).await.unwrap().unwrap();
    let mut old = plain(Flaky::KIND, None);
    old.payload = serde_json::json!({ "mood": "fail" });
    let old = store.enqueue(&ws(), &old, t0()).await.unwrap().unwrap();
    worker_at(store, &counters, t0()).run_until_idle().await;
    let unknown = store.job(&ws(), unknown).await.unwrap();
    assert_eq!(unknown.state, JobState::Discarded);
    assert_eq!(unknown.errors[0].message, "job kind \"report.quarterly\" is unknown to this version of pmbot");
    let old = store.job(&ws(), old).await.unwrap();
    assert_eq!((old.state, old.attempt), (JobState::Discarded, 1), "not retried forever");
    assert!(old.errors[0].message.starts_with("the payload no longer fits job kind test.flaky: missing field `mode`"));
    assert_eq!(counters.runs.load(Ordering::SeqCst), 0);
}

async fn a_snoozed_job_waits_without_using_an_attempt(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let id = enqueue_flaky(store, "snooze").await;
    worker_at(store, &counters, t0()).run_until_idle().await;
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!((job.state, job.attempt), (JobState::Scheduled, 0));
    assert_eq!(job.run_at, t0() + Duration::minutes(10));
}

async fn shutdown_releases_unfinished_jobs_without_counting_the_attempt(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let mut job = Flaky { mode: "slow".into() }.to_new_job(t0());
    job.max_attempts = 1;
    let id = store.enqueue(&ws(), &job, t0()).await.unwrap().unwrap();
    let mut worker = worker_at(store, &counters, t0());
    worker.config_mut().shutdown_grace = std::time::Duration::from_millis(100);
    let stop = async {
        while counters.runs.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let stats = worker.run(stop).await;
    assert_eq!(stats.released, 1);
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!((job.state, job.attempt, job.lease_owner), (JobState::Scheduled, 0, None));
}

async fn enqueue_inside_a_rolled_back_transaction_leaves_nothing(store: &Store) {
    setup(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(&ws(), &plain("x", Some("k")), t0()).await.unwrap();
    drop(tx);
    assert!(store.jobs(&ws(), None, None, 10).await.unwrap().is_empty());
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(&ws(), &plain("x", Some("k")), t0()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.jobs(&ws(), None, None, 10).await.unwrap().len(), 1);
}

fn every_quarter_hour(store: &Store) -> Scheduler {
    let schedule = Schedule {
        name: "pulse".into(),
        expression: "*/15 * * * *".into(),
        cron: Schedule::parse("pulse", "*/15 * * * *").unwrap(),
        timezone: chrono_tz::America::New_York,
        workspace: ws(),
        kind: "standup.post".into(),
        queue: "default".into(),
        payload: serde_json::json!({ "channel": "#team" }),
        max_attempts: 3,
    };
    Scheduler::new(store.clone(), vec![schedule], std::time::Duration::from_secs(3600))
}

async fn three_schedulers_over_a_day_enqueue_each_firing_once(store: &Store) {
    setup(store).await;
    let mut replicas = [every_quarter_hour(store), every_quarter_hour(store), every_quarter_hour(store)];
    let start = t0();
    let mut enqueued = 0;
    // Each replica ticks on its own rhythm (every 7, 11 and 13 minutes) for 24 hours.
    for minute in 0..=(24 * 60) {
        for (replica, every) in replicas.iter_mut().zip([7, 11, 13]) {
            if minute % every == 0 {
                enqueued += replica.tick(start + Duration::minutes(minute)).await.unwrap().enqueued;
            }
        }
    }
    let jobs = store.jobs(&ws(), None, Some("standup.post"), 1000).await.unwrap();
    let mut keys: Vec<_> = jobs.iter().filter_map(|j| j.unique_key.clone()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(enqueued, jobs.len());
    assert_eq!(keys.len(), jobs.len(), "one job per firing");
    // Every firing from the catch-up window before the first tick to the last tick.
    let last_tick = [7, 11, 13].iter().map(|every| 1440 - 1440 % every).max().unwrap();
    let expected =
        replicas[0].schedules()[0].firings(start - Duration::hours(1), start + Duration::minutes(last_tick), 1000);
    assert_eq!(jobs.len(), expected.len(), "24 h of quarter hours, plus the hour caught up at start");
}

async fn a_scheduler_that_was_down_catches_up_only_within_its_window(store: &Store) {
    setup(store).await;
    let mut scheduler = every_quarter_hour(store);
    // First tick after a week offline: only the last hour's firings (4) are enqueued.
    let tick = scheduler.tick(t0() + Duration::days(7)).await.unwrap();
    assert_eq!(tick.enqueued, 4);
    let tick = scheduler.tick(t0() + Duration::days(7) + Duration::minutes(20)).await.unwrap();
    assert_eq!(tick.enqueued, 1);
}

async fn operators_can_retry_a_discarded_job_and_cancel_a_waiting_one(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let id = enqueue_flaky(store, "fail").await;
    for hour in 0..4 {
        worker_at(store, &counters, t0() + Duration::hours(hour)).run_until_idle().await;
    }
    let retried = store.retry_job(&ws(), id, t0() + Duration::hours(5)).await.unwrap();
    assert_eq!((retried.state, retried.max_attempts), (JobState::Available, 4));
    let cancelled = store.cancel_job(&ws(), id, t0() + Duration::hours(5)).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let again = store.cancel_job(&ws(), id, t0() + Duration::hours(5)).await.unwrap_err();
    assert_eq!(again.to_string(), format!("job #{id} is cancelled, so it cannot be cancelled"));
    let other = WorkspaceId::new("globex");
    assert!(store.job(&other, id).await.is_err(), "operators see only their workspace");
}

#[derive(Serialize, Deserialize)]
struct Steady;

impl JobSpec for Steady {
    const KIND: &'static str = "test.steady";
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
}

impl Job<Counters> for Steady {
    async fn run(&self, counters: &Counters, _ctx: &JobContext) -> Outcome {
        counters.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        Outcome::Done
    }
}

async fn a_long_job_keeps_its_lease_by_heartbeat(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let now = Utc::now();
    let id = store.enqueue(&ws(), &Steady.to_new_job(now), now).await.unwrap().unwrap();
    let registry = Arc::new(Registry::new().register::<Steady>().unwrap());
    let config = WorkerConfig { lease: std::time::Duration::from_millis(600), ..WorkerConfig::default() };
    let worker = Worker::new(store.clone(), registry, counters.clone(), config);
    let rescuer = async {
        // Well past the first lease: without heartbeats the job would be taken away.
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        store.rescue_expired(Utc::now()).await.unwrap()
    };
    let (_, rescued) = tokio::join!(worker.run_until_idle(), rescuer);
    assert_eq!(rescued, 0);
    let job = store.job(&ws(), id).await.unwrap();
    assert_eq!((job.state, job.attempt, job.errors.len()), (JobState::Completed, 1, 0));
    assert_eq!(counters.runs.load(Ordering::SeqCst), 1);
}

async fn finished_jobs_are_pruned_after_the_retention(store: &Store) {
    setup(store).await;
    let counters = Arc::new(Counters::default());
    let done = enqueue_flaky(store, "ok").await;
    let waiting = store
        .enqueue(&ws(), &NewJob { run_at: t0() + Duration::days(30), ..plain("x", None) }, t0())
        .await
        .unwrap()
        .unwrap();
    worker_at(store, &counters, t0()).run_until_idle().await;
    assert_eq!(store.prune_jobs(t0() - Duration::days(1)).await.unwrap(), 0, "within the retention");
    assert_eq!(store.prune_jobs(t0() + Duration::days(8)).await.unwrap(), 1);
    assert!(store.job(&ws(), done).await.is_err());
    assert_eq!(store.job(&ws(), waiting).await.unwrap().state, JobState::Scheduled, "unfinished jobs stay");
}
