//! The store contract: every test here runs against SQLite (`sqlite::…`) and against the
//! real PostgreSQL server (`postgres::…`), each in its own fresh database.

mod common;

use chrono::Duration;
use common::t0;
use pmbot::board::{NewTicket, Person, Priority, Project, ProjectKind, Role, Status, TicketKey};
use pmbot::store::{
    ApprovalState, Approvers, ChatMessageSeen, NewApproval, NewDecision, Store, StoreError, TicketFilter, Verdict,
    WorkspaceId,
};

on_both_backends!(
    store:
    tickets_get_sequential_keys_per_project,
    a_ticket_round_trips_every_field,
    moving_a_ticket_records_who_when_and_why,
    moving_to_the_current_status_changes_nothing,
    an_unknown_ticket_is_a_clear_error,
    assigning_to_someone_off_the_team_is_refused,
    comments_are_kept_in_order_and_count_as_activity,
    tickets_filter_by_project_assignee_and_status,
    transitions_since_returns_only_newer_changes,
    a_chat_message_is_stored_once,
    decisions_are_logged_and_listed_by_subject,
    an_approval_needs_its_quorum_and_closes_once,
    an_expired_approval_refuses_decisions,
    people_removed_from_config_become_inactive,
    one_workspace_cannot_read_or_change_anothers_rows,
    concurrent_creates_get_distinct_keys,
    migrating_twice_is_harmless,
    ticket_vectors_are_kept_per_workspace_and_replaced_by_newer_ones,
);

fn person(handle: &str, role: Role) -> Person {
    Person {
        handle: handle.into(),
        display_name: handle.to_uppercase(),
        role,
        timezone: chrono_tz::Europe::Lisbon,
        slack_id: Some(format!("U{}", handle.to_uppercase())),
        discord_id: None,
        tracker_id: None,
        time_tracking_id: None,
    }
}

fn project(key: &str) -> Project {
    Project {
        key: key.into(),
        name: format!("{key} project"),
        kind: ProjectKind::Retainer,
        retainer_hours: Some(80.0),
        hourly_rate: Some(120.0),
        channel: Some(format!("#{}", key.to_lowercase())),
        pm: Some("pat".into()),
    }
}

async fn team(store: &Store, ws: &str) -> WorkspaceId {
    let ws = WorkspaceId::new(ws);
    store.ensure_workspace(&ws, "Team", t0()).await.unwrap();
    let people = [person("pat", Role::Pm), person("ana", Role::Lead), person("ben", Role::Member)];
    store.sync_people(&ws, &people, t0()).await.unwrap();
    store.sync_projects(&ws, &[project("WEB"), project("APP")], t0()).await.unwrap();
    ws
}

fn key(k: &str) -> TicketKey {
    k.parse().unwrap()
}

async fn add(store: &Store, ws: &WorkspaceId, project: &str, title: &str) -> TicketKey {
    let new = NewTicket::new(project, title).unwrap();
    store.create_ticket(ws, &new, "pat", t0()).await.unwrap().key
}

async fn tickets_get_sequential_keys_per_project(store: &Store) {
    let ws = team(store, "acme").await;
    assert_eq!(add(store, &ws, "WEB", "one").await, key("WEB-1"));
    assert_eq!(add(store, &ws, "WEB", "two").await, key("WEB-2"));
    assert_eq!(add(store, &ws, "APP", "three").await, key("APP-1"));
    let err = store.create_ticket(&ws, &NewTicket::new("NOPE", "x").unwrap(), "pat", t0()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownProject(p) if p == "NOPE"));
}

async fn a_ticket_round_trips_every_field(store: &Store) {
    let ws = team(store, "acme").await;
    let parent = add(store, &ws, "WEB", "parent").await;
    let mut new = NewTicket::new("WEB", "Login times out — «ünïcode» title").unwrap();
    new.description = "Steps:\n1. log in\n2. wait".into();
    new.status = Status::InProgress;
    new.priority = Priority::High;
    new.labels = vec!["bug".into(), "auth".into()];
    new.assignee = Some("ana".into());
    new.reporter = Some("ben".into());
    new.epic = Some("Auth".into());
    new.parent = Some(parent.clone());
    new.estimate = Some(3.5);
    new.source.tracker = Some("linear".into());
    new.source.external_id = Some("lin_123".into());
    new.source.url = Some("https://linear.app/acme/issue/WEB-2".into());
    let created = store.create_ticket(&ws, &new, "ben", t0()).await.unwrap();
    let read = store.ticket(&ws, &created.key).await.unwrap();
    assert_eq!(read, created);
    assert_eq!(read.title, new.title);
    assert_eq!(read.labels, new.labels);
    assert_eq!(read.parent, Some(parent));
    assert_eq!(read.source, new.source);
    assert_eq!(read.estimate, Some(3.5));
    assert_eq!(read.created_at, t0());
    let history = store.history(&ws, &created.key).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].from, history[0].to, history[0].actor.as_str()), (None, Status::InProgress, "ben"));
}

async fn moving_a_ticket_records_who_when_and_why(store: &Store) {
    let ws = team(store, "acme").await;
    let k = add(store, &ws, "WEB", "fix login").await;
    let later = t0() + Duration::hours(3);
    let moved =
        store.move_ticket(&ws, &k, Status::Blocked, "ana", Some("waiting on the API key"), later).await.unwrap();
    assert_eq!(moved.from, Some(Status::Backlog));
    let ticket = store.ticket(&ws, &k).await.unwrap();
    assert_eq!((ticket.status, ticket.updated_at), (Status::Blocked, later));
    let history = store.history(&ws, &k).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Backlog), Status::Blocked));
    assert_eq!((last.actor.as_str(), last.reason.as_deref(), last.at), ("ana", Some("waiting on the API key"), later));
}

async fn moving_to_the_current_status_changes_nothing(store: &Store) {
    let ws = team(store, "acme").await;
    let k = add(store, &ws, "WEB", "fix login").await;
    let err = store.move_ticket(&ws, &k, Status::Backlog, "ana", None, t0() + Duration::hours(1)).await.unwrap_err();
    assert_eq!(err.to_string(), "WEB-1 is already backlog");
    assert_eq!(store.history(&ws, &k).await.unwrap().len(), 1);
    assert_eq!(store.ticket(&ws, &k).await.unwrap().updated_at, t0());
}

async fn an_unknown_ticket_is_a_clear_error(store: &Store) {
    let ws = team(store, "acme").await;
    let missing = key("WEB-99");
    let err = store.ticket(&ws, &missing).await.unwrap_err();
    assert_eq!(err.to_string(), "WEB-99 is not a ticket on this board");
    assert!(err.is_user_error());
    assert!(matches!(
        store.move_ticket(&ws, &missing, Status::Done, "ana", None, t0()).await,
        Err(StoreError::UnknownTicket(_))
    ));
    assert!(matches!(store.add_comment(&ws, &missing, "ana", "hi", t0()).await, Err(StoreError::UnknownTicket(_))));
    assert!(matches!(store.assign_ticket(&ws, &missing, Some("ana"), t0()).await, Err(StoreError::UnknownTicket(_))));
}

async fn assigning_to_someone_off_the_team_is_refused(store: &Store) {
    let ws = team(store, "acme").await;
    let k = add(store, &ws, "WEB", "fix login").await;
    let err = store.assign_ticket(&ws, &k, Some("zed"), t0()).await.unwrap_err();
    assert_eq!(err.to_string(), "zed is not a person on this team");
    assert_eq!(store.ticket(&ws, &k).await.unwrap().assignee, None);
    let assigned = store.assign_ticket(&ws, &k, Some("ben"), t0()).await.unwrap();
    assert_eq!(assigned.assignee.as_deref(), Some("ben"));
    let cleared = store.assign_ticket(&ws, &k, None, t0()).await.unwrap();
    assert_eq!(cleared.assignee, None);
}

async fn comments_are_kept_in_order_and_count_as_activity(store: &Store) {
    let ws = team(store, "acme").await;
    let k = add(store, &ws, "WEB", "fix login").await;
    store.add_comment(&ws, &k, "ana", "first", t0() + Duration::minutes(1)).await.unwrap();
    store.add_comment(&ws, &k, "ben", "second — ✓", t0() + Duration::minutes(2)).await.unwrap();
    let comments = store.comments(&ws, &k).await.unwrap();
    let bodies: Vec<_> = comments.iter().map(|c| (c.author.as_str(), c.body.as_str())).collect();
    assert_eq!(bodies, [("ana", "first"), ("ben", "second — ✓")]);
    assert_eq!(store.ticket(&ws, &k).await.unwrap().updated_at, t0() + Duration::minutes(2));
}

async fn tickets_filter_by_project_assignee_and_status(store: &Store) {
    let ws = team(store, "acme").await;
    let mut urgent = NewTicket::new("WEB", "urgent").unwrap();
    urgent.priority = Priority::Critical;
    urgent.assignee = Some("ana".into());
    urgent.status = Status::InProgress;
    add(store, &ws, "WEB", "plain web").await;
    store.create_ticket(&ws, &urgent, "pat", t0()).await.unwrap();
    add(store, &ws, "APP", "plain app").await;
    let all = store.tickets(&ws, &TicketFilter::default()).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].title, "urgent", "most urgent first");
    let web = TicketFilter { project: Some("WEB".into()), ..Default::default() };
    assert_eq!(store.tickets(&ws, &web).await.unwrap().len(), 2);
    let ana = TicketFilter { assignee: Some("ana".into()), ..Default::default() };
    assert_eq!(store.tickets(&ws, &ana).await.unwrap().len(), 1);
    let backlog = TicketFilter { statuses: vec![Status::Backlog], ..Default::default() };
    assert_eq!(store.tickets(&ws, &backlog).await.unwrap().len(), 2);
}

async fn transitions_since_returns_only_newer_changes(store: &Store) {
    let ws = team(store, "acme").await;
    let k = add(store, &ws, "WEB", "fix login").await;
    store.move_ticket(&ws, &k, Status::Todo, "pat", None, t0() + Duration::milliseconds(1500)).await.unwrap();
    store.move_ticket(&ws, &k, Status::InProgress, "ana", None, t0() + Duration::hours(26)).await.unwrap();
    let since = store.transitions_since(&ws, t0() + Duration::seconds(1)).await.unwrap();
    let tos: Vec<_> = since.iter().map(|t| t.to).collect();
    assert_eq!(tos, [Status::Todo, Status::InProgress]);
    let since = store.transitions_since(&ws, t0() + Duration::hours(2)).await.unwrap();
    assert_eq!(since.len(), 1);
}

async fn a_chat_message_is_stored_once(store: &Store) {
    let ws = team(store, "acme").await;
    let message = ChatMessageSeen {
        platform: "slack".into(),
        channel: "C1".into(),
        user_id: "UANA".into(),
        ts: "1700000000.000100".into(),
        thread_ts: None,
        text: "WEB-1 is merged 🎉".into(),
        created_at: t0(),
        private: false,
    };
    assert!(store.record_message(&ws, &message).await.unwrap());
    assert!(!store.record_message(&ws, &message).await.unwrap(), "a redelivery is not stored twice");
    assert_eq!(store.recent_messages(&ws, "C1", 10).await.unwrap(), vec![message]);
}

async fn decisions_are_logged_and_listed_by_subject(store: &Store) {
    let ws = team(store, "acme").await;
    let decision = |subject: &str| NewDecision {
        kind: "ticket.triage".into(),
        subject: subject.into(),
        inputs: serde_json::json!({"pressed": "accept", "by": "pat"}),
        rationale: "Pat accepted it into to do".into(),
        confidence: 1.0,
        action: "move:todo".into(),
        actor: "pat".into(),
        outcome: "moved".into(),
        source: None,
    };
    store.log_decision(&ws, &decision("WEB-1"), t0()).await.unwrap();
    store.log_decision(&ws, &decision("WEB-2"), t0() + Duration::minutes(1)).await.unwrap();
    let about = store.decisions(&ws, Some("WEB-1"), 10).await.unwrap();
    assert_eq!(about.len(), 1);
    assert_eq!(about[0].inputs["pressed"], "accept");
    assert_eq!(about[0].confidence, 1.0);
    let all = store.decisions(&ws, None, 10).await.unwrap();
    assert_eq!(all[0].subject, "WEB-2", "newest first");
}

fn approval(required: u32, expires_in: Option<Duration>) -> NewApproval {
    NewApproval {
        subject: "WEB-1".into(),
        description: "Merge the fix for WEB-1".into(),
        approvers: Approvers { role: Some(Role::Pm), people: vec!["ana".into()], except: vec![] },
        required,
        expires_at: expires_in.map(|d| t0() + d),
    }
}

async fn an_approval_needs_its_quorum_and_closes_once(store: &Store) {
    let ws = team(store, "acme").await;
    let created = store.create_approval(&ws, &approval(2, None), t0()).await.unwrap();
    assert_eq!(created.state, ApprovalState::Pending);
    let once = store.decide_approval(&ws, created.id, "pat", Verdict::Approve, None, t0()).await.unwrap();
    assert_eq!(once.state, ApprovalState::Pending, "one of two approvals");
    let again = store.decide_approval(&ws, created.id, "pat", Verdict::Approve, None, t0()).await.unwrap_err();
    assert!(matches!(again, StoreError::AlreadyDecided { .. }));
    let twice = store.decide_approval(&ws, created.id, "ana", Verdict::Approve, Some("lgtm"), t0()).await.unwrap();
    assert_eq!(twice.state, ApprovalState::Approved);
    assert_eq!(twice.decisions.len(), 2);
    assert_eq!(twice.decisions[1].comment.as_deref(), Some("lgtm"));
    let late = store.decide_approval(&ws, created.id, "ben", Verdict::Reject, None, t0()).await.unwrap_err();
    assert_eq!(late.to_string(), format!("approval #{} is already approved; nothing changed", created.id));
    assert_eq!(store.approval(&ws, created.id).await.unwrap().state, ApprovalState::Approved);
}

async fn an_expired_approval_refuses_decisions(store: &Store) {
    let ws = team(store, "acme").await;
    let created = store.create_approval(&ws, &approval(1, Some(Duration::hours(1))), t0()).await.unwrap();
    let err = store
        .decide_approval(&ws, created.id, "pat", Verdict::Approve, None, t0() + Duration::hours(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ApprovalClosed { state: ApprovalState::Expired, .. }));
    let read = store.approval(&ws, created.id).await.unwrap();
    assert_eq!(read.state, ApprovalState::Expired);
    assert!(read.decisions.is_empty());
}

async fn people_removed_from_config_become_inactive(store: &Store) {
    let ws = team(store, "acme").await;
    store.sync_people(&ws, &[person("pat", Role::Pm)], t0()).await.unwrap();
    let handles: Vec<_> = store.people(&ws).await.unwrap().into_iter().map(|p| p.handle).collect();
    assert_eq!(handles, ["pat"]);
    let k = add(store, &ws, "WEB", "x").await;
    assert!(matches!(store.assign_ticket(&ws, &k, Some("ben"), t0()).await, Err(StoreError::UnknownPerson(_))));
    let people = store.people(&ws).await.unwrap();
    assert_eq!(people[0].timezone, chrono_tz::Europe::Lisbon);
    assert_eq!(people[0].slack_id.as_deref(), Some("UPAT"));
}

async fn one_workspace_cannot_read_or_change_anothers_rows(store: &Store) {
    let a = team(store, "acme").await;
    let b = team(store, "globex").await;
    let k = add(store, &a, "WEB", "acme's ticket").await;
    store.add_comment(&a, &k, "ana", "acme only", t0()).await.unwrap();
    let approval = store.create_approval(&a, &approval(1, None), t0()).await.unwrap();

    assert!(store.tickets(&b, &TicketFilter::default()).await.unwrap().is_empty());
    assert!(matches!(store.ticket(&b, &k).await, Err(StoreError::UnknownTicket(_))));
    assert!(matches!(
        store.move_ticket(&b, &k, Status::Done, "ana", None, t0()).await,
        Err(StoreError::UnknownTicket(_))
    ));
    assert!(matches!(store.assign_ticket(&b, &k, Some("ana"), t0()).await, Err(StoreError::UnknownTicket(_))));
    assert!(matches!(store.add_comment(&b, &k, "ana", "sneaky", t0()).await, Err(StoreError::UnknownTicket(_))));
    assert!(store.comments(&b, &k).await.unwrap().is_empty());
    assert!(store.history(&b, &k).await.unwrap().is_empty());
    assert!(store.transitions_since(&b, t0() - Duration::days(1)).await.unwrap().is_empty());
    assert!(matches!(store.approval(&b, approval.id).await, Err(StoreError::UnknownApproval(_))));
    let decide = store.decide_approval(&b, approval.id, "pat", Verdict::Approve, None, t0()).await;
    assert!(matches!(decide, Err(StoreError::UnknownApproval(_))));

    assert_eq!(add(store, &b, "WEB", "globex's own").await, k, "keys are per workspace");
    let untouched = store.ticket(&a, &k).await.unwrap();
    assert_eq!((untouched.title.as_str(), untouched.status), ("acme's ticket", Status::Backlog));
    assert_eq!(store.comments(&a, &k).await.unwrap().len(), 1);
    assert_eq!(store.approval(&a, approval.id).await.unwrap().state, ApprovalState::Pending);
}

async fn concurrent_creates_get_distinct_keys(store: &Store) {
    let ws = team(store, "acme").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, ws) = (store.clone(), ws.clone());
            tokio::spawn(async move { add(&store, &ws, "WEB", &format!("ticket {i}")).await })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8);
}

async fn migrating_twice_is_harmless(store: &Store) {
    store.migrate().await.unwrap();
    let ws = team(store, "acme").await;
    assert_eq!(store.projects(&ws).await.unwrap().len(), 2);
}

async fn ticket_vectors_are_kept_per_workspace_and_replaced_by_newer_ones(store: &Store) {
    use pmbot::workflows::matching::TicketVector;
    let (acme, other) = (team(store, "acme").await, team(store, "other").await);
    let vector = |key: &str, print: &str, x: f32| TicketVector {
        key: key.into(),
        fingerprint: print.into(),
        vector: vec![x, -x, 0.5, f32::MIN_POSITIVE],
    };
    store.put_ticket_vectors(&acme, &[vector("ENG-1", "a", 0.25), vector("ENG-2", "b", 1.0)], t0()).await.unwrap();
    store.put_ticket_vectors(&acme, &[vector("ENG-1", "c", 0.75)], t0()).await.unwrap();
    let mut kept = store.ticket_vectors(&acme).await.unwrap();
    kept.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(kept, vec![vector("ENG-1", "c", 0.75), vector("ENG-2", "b", 1.0)]);
    assert!(store.ticket_vectors(&other).await.unwrap().is_empty(), "another workspace sees none");
}
