//! A local Tempo (API v4): `GET /4/worklogs` over worklogs held as Tempo's JSON (the fixtures
//! of `tests/fixtures/tempo/`), filtered by `updatedFrom`, paged by `offset`/`limit` with
//! `metadata.next` on its own host; a bearer token checked; credentials refused on purpose.

use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    worklogs: Vec<Value>,
    token: String,
    refuse_credentials: bool,
    base: String,
    asked: Vec<HashMap<String, String>>,
}

#[derive(Clone)]
pub struct FakeTempo {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeTempo {
    /// The recorded worklogs of `dir`; requests must carry `Bearer {token}`.
    pub async fn from_fixtures(dir: &std::path::Path, token: &str) -> std::io::Result<FakeTempo> {
        let mut worklogs = Vec::new();
        for page in ["worklogs_page1.json", "worklogs_page2.json"] {
            let text = std::fs::read_to_string(dir.join(page)).unwrap_or_default();
            let page: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            worklogs.extend(page["results"].as_array().cloned().unwrap_or_default());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = State { worklogs, token: token.into(), base: url.clone(), ..State::default() };
        let state = Arc::new(Mutex::new(state));
        let app = Router::new().route("/4/worklogs", get(list_worklogs)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeTempo { url, state })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn refuse_credentials(&self, refuse: bool) {
        self.lock().refuse_credentials = refuse;
    }

    /// The query of every request, oldest first.
    pub fn asked(&self) -> Vec<HashMap<String, String>> {
        self.lock().asked.clone()
    }

    /// Changes a worklog as someone correcting it in Tempo would.
    pub fn change(&self, id: i64, change: impl FnOnce(&mut Value)) {
        if let Some(w) = self.lock().worklogs.iter_mut().find(|w| w["tempoWorklogId"] == id) {
            change(w);
            w["updatedAt"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }

    pub fn add(&self, worklog: Value) {
        self.lock().worklogs.push(worklog);
    }
}

async fn list_worklogs(
    AxumState(state): AxumState<Arc<Mutex<State>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    s.asked.push(query.clone());
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if s.refuse_credentials || bearer != format!("Bearer {}", s.token) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "errors": { "message": "Invalid token" } }))).into_response();
    }
    let since = query.get("updatedFrom").cloned().unwrap_or_default();
    let offset: usize = query.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50).clamp(1, 5000);
    let matching: Vec<&Value> = s
        .worklogs
        .iter()
        .filter(|w| w["updatedAt"].as_str().and_then(|u| u.get(..10)).is_some_and(|day| day >= since.as_str()))
        .collect();
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).map(|w| (*w).clone()).collect();
    let mut metadata = json!({ "count": page.len(), "offset": offset, "limit": limit });
    if offset + page.len() < matching.len() {
        let from = if since.is_empty() { String::new() } else { format!("&updatedFrom={since}") };
        metadata["next"] = json!(format!("{}/4/worklogs?offset={}&limit={limit}{from}", s.base, offset + page.len()));
    }
    Json(json!({ "self": format!("{}/4/worklogs", s.base), "metadata": metadata, "results": page })).into_response()
}
