//! Alerts from Prometheus Alertmanager become tickets, through the real server on port 0 and
//! the job queue, on SQLite and on PostgreSQL.

mod common;

use common::{seeded_app, RecordingChat};
use pmbot::board::{Priority, Status};
use pmbot::jobs::JobEnv;
use pmbot::queue::Worker;
use pmbot::store::TicketFilter;
use serde_json::{json, Value};
use std::sync::Arc;

on_both_backends!(
    url:
    every_recorded_alertmanager_payload_is_accepted_and_handled,
    without_the_token_nothing_is_recorded,
    bad_bodies_get_clear_4xx,
    an_alert_is_one_ticket_until_it_resolves_and_then_comes_back,
    an_alert_storm_makes_one_ticket_per_fingerprint_and_loses_nothing,
    a_ticket_someone_worked_on_is_not_closed_by_a_resolved_alert,
);

const TOKEN: &str = "alerts-token-1";

struct Harness {
    base: String,
    app: pmbot::app::App,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
    http: reqwest::Client,
}

async fn harness(url: &str) -> Harness {
    let mut app = seeded_app(url, |c| {
        c.intake.routes = vec![toml::from_str("project = \"APP\"\nmatchers = { service = \"mobile\" }").unwrap()];
        c.intake.alerts_project = Some("WEB".into());
    })
    .await;
    app.alerts_token = Some(TOKEN.into());
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let chat = Arc::new(RecordingChat::default());
    let worker = app.worker(chat.clone()).unwrap();
    Harness { base: format!("http://{addr}"), app, worker, chat, http: reqwest::Client::new() }
}

impl Harness {
    async fn post(&self, token: Option<&str>, body: &str) -> reqwest::StatusCode {
        let mut request = self.http.post(format!("{}/alerts/alertmanager", self.base)).body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.header("content-type", "application/json").send().await.unwrap().status()
    }

    async fn alert_tickets(&self) -> Vec<pmbot::board::Ticket> {
        let all = self.app.store.tickets(&self.app.workspace(), &TicketFilter::default()).await.unwrap();
        all.into_iter().filter(|t| t.labels.contains(&"alert".to_string())).collect()
    }

    async fn jobs(&self) -> Vec<pmbot::store::JobRecord> {
        self.app.store.jobs(&self.app.workspace(), None, None, 10_000).await.unwrap()
    }
}

fn notification(alerts: Vec<Value>) -> String {
    json!({ "version": "4", "status": "firing", "receiver": "pmbot", "externalURL": "http://am:9093", "alerts": alerts }).to_string()
}

fn alert(status: &str, fingerprint: &str, labels: Value) -> Value {
    json!({ "status": status, "labels": labels, "annotations": { "summary": "Error rate above 5%" },
            "startsAt": "2026-12-01T10:00:00Z", "generatorURL": "http://prometheus/graph?g0.expr=rate", "fingerprint": fingerprint })
}

async fn every_recorded_alertmanager_payload_is_accepted_and_handled(url: &str) {
    let h = harness(url).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alertmanager");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 4);
    for file in &files {
        let body = std::fs::read_to_string(file).unwrap();
        assert_eq!(h.post(Some(TOKEN), &body).await, 202, "{}", file.display());
    }
    h.worker.run_until_idle().await;
    let failed: Vec<_> = h.jobs().await.into_iter().filter(|j| !j.errors.is_empty()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    let tickets = h.alert_tickets().await;
    assert!(tickets.len() >= 3, "{tickets:#?}");
    assert!(tickets.iter().all(|t| t.project == "WEB"));
}

async fn without_the_token_nothing_is_recorded(url: &str) {
    let h = harness(url).await;
    let body = notification(vec![alert("firing", "f1", json!({ "alertname": "Down" }))]);
    assert_eq!(h.post(None, &body).await, 401);
    assert_eq!(h.post(Some("wrong-token-1"), &body).await, 401);
    assert!(h.jobs().await.iter().all(|j| j.kind != "alerts.ingest"), "nothing recorded");
    // Without PMBOT_ALERTS_TOKEN the endpoint is not there at all.
    let config = pmbot::config::load::parse(std::path::Path::new("built-in"), pmbot::config::BUILT_IN).unwrap();
    let mut app = pmbot::app::App::open(config, Some(url)).await.unwrap();
    app.alerts_token = None;
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let status = h.http.post(format!("http://{addr}/alerts/alertmanager")).body(body).send().await.unwrap().status();
    assert_eq!(status, 404);
}

async fn bad_bodies_get_clear_4xx(url: &str) {
    let h = harness(url).await;
    assert_eq!(h.post(Some(TOKEN), "not json").await, 400);
    assert_eq!(h.post(Some(TOKEN), "{\"alerts\": 3}").await, 400);
    assert_eq!(h.post(Some(TOKEN), "[]").await, 400);
    let huge = format!("{{\"alerts\": [], \"pad\": \"{}\"}}", "x".repeat(5 << 20));
    assert_eq!(h.post(Some(TOKEN), &huge).await, 413);
}

async fn an_alert_is_one_ticket_until_it_resolves_and_then_comes_back(url: &str) {
    let h = harness(url).await;
    let labels = json!({ "alertname": "HighErrorRate", "service": "mobile", "severity": "critical" });
    let firing = notification(vec![alert("firing", "fp-1", labels.clone())]);
    assert_eq!(h.post(Some(TOKEN), &firing).await, 202);
    assert_eq!(h.post(Some(TOKEN), &firing).await, 202, "Alertmanager's retry: the same job");
    h.worker.run_until_idle().await;
    let tickets = h.alert_tickets().await;
    assert_eq!(tickets.len(), 1);
    let ticket = &tickets[0];
    assert_eq!(
        (ticket.project.as_str(), ticket.title.as_str()),
        ("APP", "HighErrorRate: service=mobile"),
        "routed by label"
    );
    assert_eq!(ticket.priority, Priority::Critical);
    assert!(ticket.description.contains("Source: http://prometheus/graph"), "{}", ticket.description);
    assert!(
        h.chat.texts().iter().any(|(to, text)| to == "#mobile-app" && text.contains("critical alert")),
        "{:?}",
        h.chat.texts()
    );

    // Still firing, reported again (a new notification): nothing new.
    let again = notification(vec![
        alert("firing", "fp-1", labels.clone()),
        json!({"status": "firing", "labels": {"alertname": "Other"}, "fingerprint": "fp-2"}),
    ]);
    h.post(Some(TOKEN), &again).await;
    h.worker.run_until_idle().await;
    assert_eq!(h.alert_tickets().await.len(), 2, "fp-1 kept its ticket, fp-2 got one");

    let resolved = notification(vec![alert("resolved", "fp-1", labels.clone())]);
    h.post(Some(TOKEN), &resolved).await;
    h.worker.run_until_idle().await;
    let key = ticket.key.clone();
    let now = h.app.store.ticket(&h.app.workspace(), &key).await.unwrap();
    assert_eq!(now.status, Status::Done, "pmbot opened it and nobody touched it");
    let comments = h.app.store.comments(&h.app.workspace(), &key).await.unwrap();
    assert!(comments.iter().any(|c| c.body.contains("resolved")));

    let mut refire = alert("firing", "fp-1", labels);
    refire["startsAt"] = json!("2026-12-01T12:00:00Z");
    h.post(Some(TOKEN), &notification(vec![refire])).await;
    h.worker.run_until_idle().await;
    let now = h.app.store.ticket(&h.app.workspace(), &key).await.unwrap();
    assert_eq!(now.status, Status::Todo, "reopened");
    let comments = h.app.store.comments(&h.app.workspace(), &key).await.unwrap();
    assert!(comments.last().unwrap().body.contains("fired again"), "{comments:?}");
    assert_eq!(h.alert_tickets().await.len(), 2);
}

async fn an_alert_storm_makes_one_ticket_per_fingerprint_and_loses_nothing(url: &str) {
    let h = harness(url).await;
    // A thousand alerts in one notification, ten of them distinct.
    let storm: Vec<Value> = (0..1000)
        .map(|i| alert("firing", &format!("storm-{}", i % 10), json!({ "alertname": format!("Storm{}", i % 10) })))
        .collect();
    assert_eq!(h.post(Some(TOKEN), &notification(storm)).await, 202);
    // A hundred notifications at once, each its own alert.
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..100 {
        let body =
            notification(vec![alert("firing", &format!("burst-{i}"), json!({ "alertname": format!("Burst{i}") }))]);
        let (http, url) = (h.http.clone(), format!("{}/alerts/alertmanager", h.base));
        sends.spawn(async move {
            http.post(url).header("authorization", format!("Bearer {TOKEN}")).body(body).send().await.unwrap().status()
        });
    }
    let statuses: Vec<_> = sends.join_all().await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    h.worker.run_until_idle().await;
    assert_eq!(h.alert_tickets().await.len(), 110);
}

async fn a_ticket_someone_worked_on_is_not_closed_by_a_resolved_alert(url: &str) {
    let h = harness(url).await;
    let labels = json!({ "alertname": "DiskFull" });
    h.post(Some(TOKEN), &notification(vec![alert("firing", "disk", labels.clone())])).await;
    h.worker.run_until_idle().await;
    let key = h.alert_tickets().await[0].key.clone();
    let board = pmbot::service::BoardService::new(h.app.store.clone(), h.app.workspace());
    let ana = pmbot::service::Actor::named(&h.app.config.people(), "ana");
    board.comment(&ana, &key, "Looking into it", &pmbot::service::Ctx::new(chrono::Utc::now())).await.unwrap();
    h.post(Some(TOKEN), &notification(vec![alert("resolved", "disk", labels)])).await;
    h.worker.run_until_idle().await;
    let now = h.app.store.ticket(&h.app.workspace(), &key).await.unwrap();
    assert_eq!(now.status, Status::Todo, "Ana works on it: only a comment");
    let comments = h.app.store.comments(&h.app.workspace(), &key).await.unwrap();
    assert!(comments.last().unwrap().body.contains("resolved"));
}
