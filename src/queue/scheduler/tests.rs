//! Cron firings in time zones, DST included.

use super::*;
use chrono::TimeZone;
use chrono_tz::America::New_York;

fn schedule(expression: &str, timezone: Tz) -> Schedule {
    Schedule {
        name: "standup".into(),
        expression: expression.into(),
        cron: Schedule::parse("standup", expression).unwrap(),
        timezone,
        workspace: WorkspaceId::new("default"),
        kind: "standup.post".into(),
        queue: "default".into(),
        payload: serde_json::json!({ "channel": "#team" }),
        max_attempts: 3,
    }
}

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    New_York.with_ymd_and_hms(y, m, d, h, min, 0).earliest().unwrap().with_timezone(&Utc)
}

#[test]
fn weekday_mornings_in_new_york() {
    let s = schedule("0 9 * * MON-FRI", New_York);
    let friday_noon = local(2026, 11, 20, 12, 0);
    let next = s.next(friday_noon, 2);
    assert_eq!(next, vec![local(2026, 11, 23, 9, 0), local(2026, 11, 24, 9, 0)], "skips the weekend");
    assert_eq!(next[0], Utc.with_ymd_and_hms(2026, 11, 23, 14, 0, 0).unwrap());
}

#[test]
fn a_0230_schedule_fires_once_on_the_spring_forward_day() {
    // 8 March 2026: clocks jump from 02:00 to 03:00 in New York; 02:30 does not exist.
    let s = schedule("30 2 * * *", New_York);
    let day_before = local(2026, 3, 7, 12, 0);
    let day_after = local(2026, 3, 9, 12, 0);
    let firings = s.firings(day_before, day_after, 10);
    let on_the_day: Vec<_> =
        firings.iter().filter(|f| f.with_timezone(&New_York).date_naive().to_string() == "2026-03-08").collect();
    assert_eq!(on_the_day.len(), 1, "{firings:?}");
    assert_eq!(firings.len(), 2, "{firings:?}");
}

#[test]
fn a_0230_schedule_fires_once_on_the_fall_back_day() {
    // 1 November 2026: 01:00-02:00 happens twice in New York; 02:30 once.
    let s = schedule("30 2 * * *", New_York);
    let firings = s.firings(local(2026, 10, 31, 12, 0), local(2026, 11, 2, 12, 0), 10);
    assert_eq!(firings.len(), 2, "{firings:?}");
}

#[test]
fn a_0130_schedule_fires_once_on_the_fall_back_day() {
    // 01:30 happens twice on 1 November 2026; the standup is posted once.
    let s = schedule("30 1 * * *", New_York);
    let firings = s.firings(local(2026, 10, 31, 12, 0), local(2026, 11, 1, 12, 0), 10);
    assert_eq!(firings.len(), 1, "{firings:?}");
}

#[test]
fn each_firing_has_its_own_unique_key_and_instant() {
    let s = schedule("0 9 * * *", New_York);
    let at = local(2026, 11, 23, 9, 0);
    let job = s.job(at);
    assert_eq!(job.unique_key.as_deref(), Some("schedule:standup:2026-11-23T14:00:00Z"));
    assert_eq!(job.payload["at"], "2026-11-23T14:00:00Z");
    assert_eq!(job.payload["channel"], "#team");
    assert_eq!(job.run_at, at);
}

#[test]
fn a_bad_expression_names_the_schedule() {
    let err = Schedule::parse("ana-morning", "9 o'clock").unwrap_err();
    assert!(err.to_string().starts_with("schedule \"ana-morning\": \"9 o'clock\" is not a cron expression"), "{err}");
}
