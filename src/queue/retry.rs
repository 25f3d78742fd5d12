//! When a failed job runs again: exponential backoff with jitter, as a pure function of the
//! attempt, `now` and a seed (the job id), honouring a server's `Retry-After`. And how an
//! [`Outcome`] becomes the row's next state.

use super::Outcome;
use crate::store::{Finish, JobError};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 60 * 60);

/// `2^attempt` seconds (attempt 1 → 2 s, 10 → ~17 min), capped, scaled by a jitter in
/// [0.75, 1.25) derived from `seed` and `attempt`, and never sooner than `retry_after`.
pub fn backoff(attempt: u32, seed: i64, retry_after: Option<Duration>) -> Duration {
    let base = 2f64.powi(attempt.min(30) as i32).min(MAX_BACKOFF.as_secs_f64());
    let jitter = 0.75 + 0.5 * unit_interval(seed, attempt);
    let wait = Duration::from_secs_f64(base * jitter);
    retry_after.map_or(wait, |server| wait.max(server))
}

/// A well-mixed number in [0, 1) from the seed and attempt (splitmix64).
fn unit_interval(seed: i64, attempt: u32) -> f64 {
    let mut x = (seed as u64) ^ (u64::from(attempt) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The row's next state for `outcome` of attempt `attempt` (of `max_attempts`) of job `id`.
pub fn finish_for(
    outcome: Outcome,
    id: i64,
    attempt: u32,
    max_attempts: u32,
    errors: &[JobError],
    now: DateTime<Utc>,
) -> Finish {
    let with = |message: String| {
        let mut all = errors.to_vec();
        all.push(JobError { attempt, message, at: now });
        all
    };
    match outcome {
        Outcome::Done => Finish::Completed,
        Outcome::Retry { error, .. } if attempt >= max_attempts => {
            Finish::Discarded { errors: with(format!("{error} (attempt {attempt} of {max_attempts}; giving up)")) }
        }
        Outcome::Retry { error, after } => {
            let wait = backoff(attempt, id, after);
            Finish::Retry {
                at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()),
                errors: with(error),
            }
        }
        Outcome::Snooze(wait) => {
            Finish::Snooze { at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()) }
        }
        Outcome::Cancel(reason) => Finish::Cancelled { errors: with(reason) },
        Outcome::Discard(error) => Finish::Discarded { errors: with(error) },
        Outcome::Await { approval_id } => Finish::Awaiting { approval_id },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 14, 0, 0).unwrap()
    }

    #[test]
    fn backoff_grows_exponentially_within_its_jitter() {
        for attempt in 1..=10 {
            let base = 2f64.powi(attempt as i32);
            let wait = backoff(attempt, 42, None).as_secs_f64();
            assert!(wait >= base * 0.75 && wait < base * 1.25, "attempt {attempt}: {wait}");
        }
    }

    #[test]
    fn backoff_is_capped() {
        assert!(backoff(40, 7, None) < MAX_BACKOFF.mul_f64(1.25));
    }

    #[test]
    fn backoff_is_a_pure_function_that_spreads_jobs() {
        assert_eq!(backoff(3, 1, None), backoff(3, 1, None));
        let spread: std::collections::HashSet<u128> = (0..50).map(|id| backoff(3, id, None).as_millis()).collect();
        assert!(spread.len() > 40, "different jobs retry at different times");
    }

    #[test]
    fn a_servers_retry_after_is_honoured() {
        assert_eq!(backoff(1, 1, Some(Duration::from_secs(120))), Duration::from_secs(120));
    }

    #[test]
    fn the_last_failed_attempt_is_discarded_with_every_error_kept() {
        let earlier = vec![JobError { attempt: 1, message: "boom".into(), at: now() }];
        let finish = finish_for(Outcome::retry("boom again"), 1, 2, 2, &earlier, now());
        let Finish::Discarded { errors } = finish else { panic!("{finish:?}") };
        assert_eq!(errors.len(), 2);
        assert!(errors[1].message.starts_with("boom again (attempt 2 of 2"));
    }

    #[test]
    fn an_earlier_failure_is_retried_later() {
        let Finish::Retry { at, errors } = finish_for(Outcome::retry("503"), 9, 1, 5, &[], now()) else { panic!() };
        assert!(at > now() && at < now() + chrono::Duration::seconds(3));
        assert_eq!(errors[0].attempt, 1);
    }
}
