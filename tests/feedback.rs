//! The feedback form: `POST /api/feedback` through the real server on port 0, on SQLite and
//! on PostgreSQL — tokens per source, CORS, limits per token and per address, clear 4xx.

mod common;

use common::seeded_app;
use pmbot::intake::feedback::http::Source;
use serde_json::{json, Value};

on_both_backends!(
    url:
    a_report_becomes_a_ticket_and_the_answer_names_it,
    tokens_and_origins_are_checked,
    bad_reports_get_clear_4xx_and_change_nothing,
    a_flood_is_limited_per_token_and_per_address,
    the_intake_endpoints_are_described,
);

struct Harness {
    base: String,
    app: pmbot::app::App,
    http: reqwest::Client,
}

const WEBSITE: &str = "fb-token-website";
const APP: &str = "fb-token-app";

async fn harness(url: &str, change: impl FnOnce(&mut pmbot::config::Config)) -> Harness {
    let mut app = seeded_app(url, change).await;
    app.feedback = vec![
        Source {
            name: "website".into(),
            project: "WEB".into(),
            origins: vec!["https://acme.example".into()],
            token: WEBSITE.into(),
        },
        Source { name: "app".into(), project: "APP".into(), origins: vec![], token: APP.into() },
    ];
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    Harness { base: format!("http://{addr}"), app, http: reqwest::Client::new() }
}

impl Harness {
    async fn send(
        &self,
        token: Option<&str>,
        origin: Option<&str>,
        body: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.http.post(format!("{}/api/feedback", self.base)).body(body.to_string());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.header("content-type", "application/json").send().await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (status, headers, response.json().await.unwrap_or(Value::Null))
    }

    async fn tickets(&self, label: &str) -> Vec<pmbot::board::Ticket> {
        let all = self.app.store.tickets(&self.app.workspace(), &pmbot::store::TicketFilter::default()).await.unwrap();
        all.into_iter().filter(|t| t.labels.iter().any(|l| l == label)).collect()
    }
}

const REPORT: &str = r#"{"title":"Checkout button does nothing","description":"I clicked it twice and nothing happened.",
  "reporter":{"email":"kim@example.com","name":"Kim Lee"},"page_url":"https://acme.example/cart",
  "screenshot_url":"https://cdn.acme.example/s1.png","metadata":{"browser":"Firefox 133","app_version":"4.2.0"}}"#;

async fn a_report_becomes_a_ticket_and_the_answer_names_it(url: &str) {
    let h = harness(url, |_| {}).await;
    let (status, headers, answer) = h.send(Some(WEBSITE), Some("https://acme.example"), REPORT).await;
    assert_eq!(status, 201, "{answer}");
    let key = answer["ticket"].as_str().unwrap().to_string();
    assert!(key.starts_with("WEB-"), "{answer}");
    assert_eq!(answer["message"], format!("Thank you! We are tracking this as {key}."));
    assert_eq!(headers["access-control-allow-origin"], "https://acme.example");
    let ticket = h.app.store.ticket(&h.app.workspace(), &key.parse().unwrap()).await.unwrap();
    assert_eq!((ticket.title.as_str(), ticket.status), ("Checkout button does nothing", pmbot::board::Status::Todo));
    assert!(ticket.description.contains(
        "Reported by Kim Lee <kim@example.com> through the website feedback form on https://acme.example/cart"
    ));
    assert!(
        ticket.description.contains("Screenshot: https://cdn.acme.example/s1.png")
            && ticket.description.contains("Firefox 133")
    );
    let reporters = h.app.store.reporters_of(&h.app.workspace(), &key).await.unwrap();
    assert_eq!((reporters[0].via.as_str(), reporters[0].address.as_str()), ("feedback", "kim@example.com"));
    let log = h.app.store.decisions(&h.app.workspace(), Some(&key), 10).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "feedback.report" && d.actor == "feedback:website"), "{log:#?}");

    // The same report again (a double click, a retry): the same ticket, not a second one.
    let (status, _, again) = h.send(Some(WEBSITE), None, REPORT).await;
    assert_eq!((status, again["ticket"].as_str()), (201, Some(key.as_str())));
    assert_eq!(h.tickets("feedback").await.len(), 1);
    // The app's token files into APP.
    let (_, _, other) = h.send(Some(APP), None, r#"{"title":"Crash on launch"}"#).await;
    assert!(other["ticket"].as_str().unwrap().starts_with("APP-"), "{other}");
}

async fn tokens_and_origins_are_checked(url: &str) {
    let h = harness(url, |_| {}).await;
    assert_eq!(h.send(None, None, REPORT).await.0, 401);
    assert_eq!(h.send(Some("fb-token-websitX"), None, REPORT).await.0, 401);
    let (status, _, answer) = h.send(Some(WEBSITE), Some("https://evil.example"), REPORT).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(h.send(Some(APP), Some("https://acme.example"), REPORT).await.0, 403, "another source's origin");
    assert!(h.tickets("feedback").await.is_empty(), "nothing refused was recorded");

    let preflight = |origin: &'static str| {
        h.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/feedback", h.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://acme.example").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://acme.example");
    assert!(allowed.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    let refused = preflight("https://evil.example").await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // Without a source whose token is set, the endpoint is not there.
    let config = pmbot::config::load::parse(std::path::Path::new("built-in"), pmbot::config::BUILT_IN).unwrap();
    let mut app = pmbot::app::App::open(config, Some(url)).await.unwrap();
    app.feedback = vec![];
    let (addr, server) = app.serve("127.0.0.1:0", std::future::pending()).await.unwrap();
    tokio::spawn(server);
    let status = h.http.post(format!("http://{addr}/api/feedback")).body(REPORT).send().await.unwrap().status();
    assert_eq!(status, 404);
}

async fn bad_reports_get_clear_4xx_and_change_nothing(url: &str) {
    let h = harness(url, |_| {}).await;
    for (body, says) in [
        ("not json", "not JSON"),
        ("[]", "must be a JSON object"),
        (r#"{"description":"no title"}"#, "missing field `title`"),
        (r#"{"title":""}"#, "title: required"),
        (r#"{"title":"x","reporter":{"email":"kim at example"}}"#, "reporter.email"),
        (r#"{"title":"x","page_url":"file:///etc/passwd"}"#, "page_url"),
        (r#"{"title":"x","priority":"urgent"}"#, "unknown field `priority`"),
    ] {
        let (status, _, answer) = h.send(Some(APP), None, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{body}: {answer}");
    }
    let huge = json!({ "title": "big", "description": "x".repeat(70_000) }).to_string();
    assert_eq!(h.send(Some(APP), None, &huge).await.0, 413);
    assert!(h.tickets("feedback").await.is_empty());
}

async fn a_flood_is_limited_per_token_and_per_address(url: &str) {
    let h = harness(url, |c| {
        c.intake.feedback_per_minute = 3;
        c.intake.feedback_per_ip_per_minute = 6;
    })
    .await;
    let report = |n: usize| json!({ "title": format!("Report {n}") }).to_string();
    for n in 0..3 {
        assert_eq!(h.send(Some(WEBSITE), None, &report(n)).await.0, 201);
    }
    let (status, headers, answer) = h.send(Some(WEBSITE), None, &report(3)).await;
    assert_eq!(status, 429, "{answer}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Another source still gets through, until this address has sent its six (the refused
    // one counts: the address is checked first).
    assert_eq!(h.send(Some(APP), None, &report(4)).await.0, 201);
    assert_eq!(h.send(Some(APP), None, &report(5)).await.0, 201);
    assert_eq!(h.send(Some(APP), None, &report(6)).await.0, 429, "the address's limit");
    assert_eq!(h.tickets("feedback").await.len(), 5);
}

async fn the_intake_endpoints_are_described(url: &str) {
    let h = harness(url, |_| {}).await;
    let response = h.http.get(format!("{}/api/openapi.json", h.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/feedback", "/alerts/alertmanager", "/github/webhook"] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert_eq!(doc["components"]["schemas"]["Report"]["required"], json!(["title"]));
}
