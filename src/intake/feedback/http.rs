//! `POST /api/feedback` (a bearer token per source, CORS for the source's origins, limits
//! per token and per client address) and its preflight, served when at least one source has
//! its token; and `GET /api/openapi.json`, the description of pmbot's intake endpoints.

use super::read;
use crate::board::{NewTicket, Status};
use crate::service::{Actor, BoardService, Ctx};
use crate::store::{Reporter, Store, WorkspaceId};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

pub const PATH: &str = "/api/feedback";
pub const OPENAPI_PATH: &str = "/api/openapi.json";
pub const MAX_BODY: usize = 64 << 10;

/// What the endpoints promise, for the teams that build forms against them.
pub const OPENAPI: &str = include_str!("openapi.json");

/// A configured source whose token is set.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub project: String,
    pub origins: Vec<String>,
    pub token: String,
}

pub struct FeedbackHttp {
    pub store: Store,
    pub workspace: WorkspaceId,
    pub sources: Vec<Source>,
    pub trust_forwarded_for: bool,
    per_token: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    seen: std::sync::atomic::AtomicU64,
}

impl FeedbackHttp {
    pub fn new(
        store: Store,
        workspace: WorkspaceId,
        sources: Vec<Source>,
        per_token_per_minute: u32,
        per_ip_per_minute: u32,
        trust_forwarded_for: bool,
    ) -> FeedbackHttp {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        FeedbackHttp {
            store,
            workspace,
            sources,
            trust_forwarded_for,
            per_token: RateLimiter::keyed(quota(per_token_per_minute)),
            per_ip: RateLimiter::keyed(quota(per_ip_per_minute)),
            seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Sources from `[[intake.feedback]]` whose `PMBOT_FEEDBACK_TOKEN_<NAME>` is set.
    pub fn sources_from_env(config: &crate::config::Config) -> Vec<Source> {
        config
            .intake
            .feedback
            .iter()
            .filter_map(|s| {
                let token = std::env::var(s.token_variable()).ok().filter(|t| !t.trim().is_empty());
                if token.is_none() {
                    tracing::warn!(source = %s.name, variable = %s.token_variable(), "a feedback source without its token is not served");
                }
                Some(Source { name: s.name.clone(), project: s.project.clone(), origins: s.origins.clone(), token: token? })
            })
            .collect()
    }
}

pub fn routes(state: Arc<FeedbackHttp>) -> Router {
    Router::new().route(PATH, post(submit).options(preflight)).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(state)
}

/// `GET /api/openapi.json`, served whatever is configured.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn error(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Json(json!({ "error": why.into() }))).into_response()
}

/// The CORS headers for `origin`, when one of `sources` allows it.
fn cors(response: &mut Response, origin: Option<&str>, sources: &[&Source]) {
    let Some(origin) = origin.filter(|o| sources.iter().any(|s| s.origins.iter().any(|a| a == o))) else { return };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

async fn preflight(State(state): State<Arc<FeedbackHttp>>, headers: HeaderMap) -> Response {
    let all: Vec<&Source> = state.sources.iter().collect();
    let mut response = StatusCode::NO_CONTENT.into_response();
    cors(&mut response, origin_of(&headers), &all);
    if !response.headers().contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        return error(StatusCode::FORBIDDEN, "this origin may not send feedback");
    }
    response
}

/// The client's address: the connection's peer, or the proxy's word when trusted.
fn client(state: &FeedbackHttp, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
    if state.trust_forwarded_for {
        // Fly-Client-IP is the proxy's alone; of X-Forwarded-For only the last entry is the
        // proxy's own (the ones before it are whatever the client sent).
        let forwarded = headers
            .get("fly-client-ip")
            .and_then(|v| v.to_str().ok())
            .or_else(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()))
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    extensions.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

fn too_many(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, format!("too many reports; try again in {secs} s"));
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn submit(
    State(state): State<Arc<FeedbackHttp>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    let origin = origin_of(&headers);
    let all: Vec<&Source> = state.sources.iter().collect();
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Every source's token is compared, so the time taken does not say which came close.
    let mut found = None;
    for source in &state.sources {
        if given.is_some_and(|g| crate::digest::same(g.trim().as_bytes(), source.token.as_bytes())) {
            found = Some(source);
        }
    }
    let Some(source) = found else {
        let mut response = error(StatusCode::UNAUTHORIZED, "a source's bearer token is required");
        cors(&mut response, origin, &all);
        return response;
    };
    let mut response = answer(&state, source, origin, &headers, &extensions, &body).await;
    cors(&mut response, origin, &[source]);
    response
}

async fn answer(
    state: &FeedbackHttp,
    source: &Source,
    origin: Option<&str>,
    headers: &HeaderMap,
    extensions: &Extensions,
    body: &[u8],
) -> Response {
    if let Some(origin) = origin {
        if !source.origins.iter().any(|o| o == origin) {
            return error(StatusCode::FORBIDDEN, format!("{origin} may not send feedback for {}", source.name));
        }
    }
    let now = governor::clock::DefaultClock::default();
    // The address first: one client spends its own allowance, not the whole source's (a
    // form's token is public).
    if let Some(ip) = client(state, headers, extensions) {
        if let Err(not_until) = state.per_ip.check_key(&ip) {
            return too_many(not_until.wait_time_from(governor::clock::Clock::now(&now)));
        }
    }
    if let Err(not_until) = state.per_token.check_key(&source.name) {
        return too_many(not_until.wait_time_from(governor::clock::Clock::now(&now)));
    }
    // Addresses seen long ago are forgotten now and then (the map would only grow).
    if state.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1024 == 1023 {
        state.per_ip.retain_recent();
        state.per_token.retain_recent();
    }
    let report = match read(body) {
        Ok(report) => report,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let mut new = match NewTicket::new(&source.project, report.title.trim()) {
        Ok(new) => new,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("title: {err}")),
    };
    new.status = Status::Todo;
    new.description = report.description(&source.name);
    new.labels = vec!["feedback".into()];
    new.source =
        crate::board::Source { tracker: Some("feedback".into()), external_id: None, url: report.page_url.clone() };
    let at = chrono::Utc::now();
    // The same report sent twice (a double click, a retry) is one ticket
    // (within the day: the same words next month are a new report).
    let once = format!("feedback:{}:{}:{}", source.name, at.format("%Y-%m-%d"), crate::digest::short(body));
    let why = format!("{} reported it through the {} feedback form", report.who(), source.name);
    let board = BoardService::new(state.store.clone(), state.workspace.clone());
    let system = Actor::System(format!("feedback:{}", source.name));
    let ticket = match board.create(&system, &new, &Ctx::new(at).once(once).kind("feedback.report").because(why)).await
    {
        Ok(ticket) => ticket,
        Err(err) if err.is_user_error() => return error(StatusCode::BAD_REQUEST, err.to_string()),
        Err(err) => {
            tracing::error!(error = %err, "a feedback report could not be recorded");
            return error(StatusCode::SERVICE_UNAVAILABLE, "not recorded; send it again");
        }
    };
    if let Some(email) = report.email() {
        let reporter = Reporter {
            ticket_key: ticket.key.to_string(),
            via: "feedback".into(),
            address: email,
            name: report.reporter.name.clone().unwrap_or_default(),
            told_at: None,
        };
        if let Err(err) = state.store.add_reporter(&state.workspace, &reporter, at).await {
            tracing::warn!(error = %err, "the reporter was not recorded");
        }
    }
    let message = format!("Thank you! We are tracking this as {}.", ticket.key);
    (StatusCode::CREATED, Json(json!({ "ticket": ticket.key.as_str(), "message": message }))).into_response()
}
