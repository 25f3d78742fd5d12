//! HTTP routes served by `pmbot serve`: liveness, readiness, and each configured platform's
//! routes (from `chat::slack::http`, `chat::discord::http`) behind the shared limits.

pub mod limits;
pub mod serve;

use crate::chat::{discord, slack};

use crate::store::Store;
use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// The routes each configured endpoint adds; an endpoint without its secret is not there.
#[derive(Default)]
pub struct Endpoints {
    pub slack: Option<Arc<slack::http::SlackHttp>>,
    pub discord: Option<Arc<discord::http::DiscordHttp>>,
    pub alerts: Option<Arc<crate::intake::alerts::http::AlertsHttp>>,
    pub github: Option<Arc<crate::intake::github::http::GithubHttp>>,
    pub linear: Option<Arc<crate::tracker::linear::LinearHttp>>,
    pub jira: Option<Arc<crate::tracker::jira::JiraHttp>>,
    pub feedback: Option<Arc<crate::intake::feedback::http::FeedbackHttp>>,
}

pub fn router(store: Store, endpoints: Endpoints) -> Router {
    let Endpoints { slack, discord, alerts, github, linear, jira, feedback } = endpoints;
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(crate::intake::feedback::http::OPENAPI_PATH, get(crate::intake::feedback::http::openapi))
        .with_state(store);
    // One gate for both platforms: the limits hold for the process, not per route.
    let gate = limits::Gate::new(limits::RequestLimits::default());
    let guarded =
        |routes: Router| routes.route_layer(axum::middleware::from_fn_with_state(gate.clone(), limits::guard));
    if let Some(slack) = slack {
        router = router.merge(guarded(slack::http::routes(slack)));
    }
    if let Some(discord) = discord {
        router = router.merge(guarded(discord::http::routes(discord)));
    }
    // Without its token the endpoint is not there at all (404), never open.
    if let Some(alerts) = alerts {
        router = router.merge(guarded(crate::intake::alerts::http::routes(alerts)));
    }
    if let Some(github) = github {
        router = router.merge(guarded(crate::intake::github::http::routes(github)));
    }
    if let Some(linear) = linear {
        router = router.merge(guarded(crate::tracker::linear::webhook::routes(linear)));
    }
    if let Some(jira) = jira {
        router = router.merge(guarded(crate::tracker::jira::webhook::routes(jira)));
    }
    if let Some(feedback) = feedback {
        router = router.merge(guarded(crate::intake::feedback::http::routes(feedback)));
    }
    router
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database answers.
async fn readyz(State(store): State<Store>) -> (StatusCode, Json<Value>) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": store.backend() }))),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": store.backend() })))
        }
    }
}
