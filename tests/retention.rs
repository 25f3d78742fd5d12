//! Bounded storage: the retention job removes what is past its age and keeps the rest
//! (recent rows, pending approvals, an epic's Skip). Each test on SQLite and PostgreSQL.

mod common;

use chrono::Duration;
use common::{t0, RecordingChat};
use pmbot::app::App;
use pmbot::board::{Role, Verdict};
use pmbot::config::{load::parse, BUILT_IN};
use pmbot::queue::Clock;
use pmbot::store::{Approvers, ChatMessageSeen, NewApproval, NewDecision, NewJob};
use std::path::Path;
use std::sync::Arc;

on_both_backends!(
    url:
    the_daily_prune_removes_only_what_is_past_its_retention,
);

fn decision(subject: &str) -> NewDecision {
    NewDecision {
        kind: "ticket.comment".into(),
        subject: subject.into(),
        inputs: serde_json::json!({}),
        rationale: "test".into(),
        confidence: 1.0,
        action: "comment".into(),
        actor: "ana".into(),
        outcome: "done".into(),
        source: None,
    }
}

async fn the_daily_prune_removes_only_what_is_past_its_retention(url: &str) {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(url)).await.unwrap();
    let (store, ws) = (&app.store, app.workspace());
    let (old, recent) = (t0() - Duration::days(800), t0() - Duration::days(1));
    for (ts, at) in [("1.0", old), ("2.0", recent)] {
        let said = ChatMessageSeen {
            platform: "shell".into(),
            channel: "#acme-web".into(),
            user_id: "ana".into(),
            ts: ts.into(),
            thread_ts: None,
            text: "secret plans".into(),
            created_at: at,
            private: false,
        };
        store.record_message(&ws, &said).await.unwrap();
        store.log_decision(&ws, &decision(ts), at).await.unwrap();
        store.record_send(&ws, "compliance", &format!("compliance:{ts}"), "@ana", "hi", at).await.unwrap();
        store.save_report(&ws, &format!("report-{ts}.xlsx"), b"bytes", at).await.unwrap();
    }
    store.record_send(&ws, "epics", "epics:skip:WEB-3", "ana", "skipped", old).await.unwrap();
    let approval = |subject: &str| NewApproval {
        subject: subject.into(),
        description: "d".into(),
        approvers: Approvers { role: Some(Role::Lead), people: vec![], except: vec![] },
        required: 1,
        expires_at: None,
    };
    let decided = store.create_approval(&ws, &approval("old-decided"), old).await.unwrap();
    store.decide_approval(&ws, decided.id, "ana", Verdict::Approve, None, old).await.unwrap();
    let pending = store.create_approval(&ws, &approval("old-pending"), old).await.unwrap();
    // What intake keeps: an old and a recent mail thread, an old merged and an old open pull
    // request, an old reporter.
    store.add_mail_message(&ws, "old@example.com", "WEB-1", old).await.unwrap();
    store.add_mail_message(&ws, "new@example.com", "WEB-1", recent).await.unwrap();
    let link = |number: i64, state: &str| pmbot::store::GithubLink {
        repo: "acme/web".into(),
        kind: "pull".into(),
        number,
        ticket_key: "WEB-1".into(),
        title: "t".into(),
        url: String::new(),
        author: "octocat".into(),
        state: state.into(),
        draft: false,
        review: None,
        opened_at: old,
        review_at: None,
    };
    store.set_github_link(&ws, &link(1, "merged"), old).await.unwrap();
    store.set_github_link(&ws, &link(2, "open"), old).await.unwrap();
    let reporter = pmbot::store::Reporter {
        ticket_key: "WEB-1".into(),
        via: "email".into(),
        address: "kim@example.com".into(),
        name: "Kim".into(),
        told_at: None,
    };
    store.add_reporter(&ws, &reporter, old).await.unwrap();

    // The schedule's firing runs the job.
    let job = NewJob {
        kind: "retention.prune".into(),
        queue: "maintenance".into(),
        payload: serde_json::json!({}),
        priority: 0,
        max_attempts: 3,
        run_at: t0(),
        unique_key: None,
    };
    store.enqueue(&ws, &job, t0()).await.unwrap();
    let clock: Clock = Arc::new(t0);
    app.worker(Arc::new(RecordingChat::default())).unwrap().with_clock(clock).run_until_idle().await;

    assert_eq!(store.message_count(&ws).await.unwrap(), 1, "the 800-day-old message text is gone");
    let subjects: Vec<String> = store.decisions(&ws, None, 100).await.unwrap().into_iter().map(|d| d.subject).collect();
    assert!(subjects.contains(&"2.0".to_string()) && !subjects.contains(&"1.0".to_string()), "{subjects:?}");
    assert!(store.was_sent(&ws, "compliance:2.0").await.unwrap());
    assert!(!store.was_sent(&ws, "compliance:1.0").await.unwrap());
    assert!(store.was_sent(&ws, "epics:skip:WEB-3").await.unwrap(), "a Skip is a person's choice, kept");
    assert!(store.report(&ws, "report-2.0.xlsx").await.unwrap().is_some());
    assert!(store.report(&ws, "report-1.0.xlsx").await.unwrap().is_none());
    assert!(store.approval(&ws, decided.id).await.is_err(), "an old decided approval is gone");
    assert!(store.approval(&ws, pending.id).await.is_ok(), "a pending one stays");
    assert!(!store.mail_handled(&ws, "old@example.com").await.unwrap(), "an old mail thread is gone");
    assert!(store.mail_handled(&ws, "new@example.com").await.unwrap());
    let links: Vec<i64> = store.github_links_of(&ws, "WEB-1").await.unwrap().iter().map(|l| l.number).collect();
    assert_eq!(links, [2], "an old merged pull request's link is gone; an open one stays");
    assert!(store.reporters_of(&ws, "WEB-1").await.unwrap().is_empty());
}
