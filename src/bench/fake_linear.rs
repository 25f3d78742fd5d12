//! A local Linear: answers pmbot's GraphQL operations (by their operation names) in the
//! shapes of Linear's API (see `tests/fixtures/linear/README.md`), over issues given as
//! Linear's JSON — the recorded fixtures, or any number generated on demand for `pmbot bench
//! sync` (made per page, never held, so the fake's memory does not blur the sync's). It can
//! fail on purpose: a 500, refused credentials, a rate limit, answers lost after the write.

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// A failure the next request meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 500.
    ServerError,
    /// Linear's rate-limited answer, with the quota's reset a second away.
    RateLimited,
}

#[derive(Default)]
struct State {
    issues: Vec<Value>,
    generated: usize,
    generated_from: Option<DateTime<Utc>>,
    states: Vec<Value>,
    failures: VecDeque<Failure>,
    /// Writes applied whose answers are then lost (answered 500).
    lose_answers: usize,
    refuse_credentials: bool,
    requests: Vec<(String, Value)>,
}

#[derive(Clone)]
pub struct FakeLinear {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// The workspace's projects (pmbot's epics): the recorded one and another.
const PROJECTS: [(&str, &str); 2] = [
    ("3e5a7c9b-2d4f-4b6a-8c0e-9f1a2b3c4d5e", "Q4 Reliability"),
    ("4f6b8d0c-3e5a-4c7b-9d1f-0a2b3c4d5e6f", "Checkout revamp"),
];

/// The recorded team's workflow states (Backlog … QA … Canceled).
pub const STATES: &str = include_str!("../../tests/fixtures/linear/workflow_states.json");

fn fixture(dir: &std::path::Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

impl FakeLinear {
    /// Serves `issues` (Linear's JSON for an issue, as the fixtures hold it), `generated`
    /// more made on demand, and the workflow states of [`STATES`].
    pub async fn start(issues: Vec<Value>, generated: usize) -> std::io::Result<FakeLinear> {
        let states: Value = serde_json::from_str(STATES).unwrap_or(Value::Null);
        let states = states["data"]["workflowStates"]["nodes"].as_array().cloned().unwrap_or_default();
        let state = State {
            issues,
            generated,
            generated_from: Some(Utc::now() - TimeDelta::days(30)),
            states,
            ..State::default()
        };
        let state = Arc::new(Mutex::new(state));
        let app = Router::new().route("/graphql", post(graphql)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/graphql", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeLinear { url, state })
    }

    /// The recorded issues of `dir` (`issues_page1.json`, `issues_page2.json`).
    pub async fn from_fixtures(dir: &std::path::Path) -> std::io::Result<FakeLinear> {
        let mut issues = Vec::new();
        for page in ["issues_page1.json", "issues_page2.json"] {
            if let Some(nodes) = fixture(dir, page)["data"]["issues"]["nodes"].as_array() {
                issues.extend(nodes.iter().cloned());
            }
        }
        FakeLinear::start(issues, 0).await
    }

    /// The recorded issues (ENG-101…103), built in: for `pmbot demo --tracker linear`.
    pub async fn recorded() -> std::io::Result<FakeLinear> {
        let mut issues = Vec::new();
        for page in [
            include_str!("../../tests/fixtures/linear/issues_page1.json"),
            include_str!("../../tests/fixtures/linear/issues_page2.json"),
        ] {
            let page: Value = serde_json::from_str(page).unwrap_or(Value::Null);
            issues.extend(page["data"]["issues"]["nodes"].as_array().cloned().unwrap_or_default());
        }
        FakeLinear::start(issues, 0).await
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    pub fn lose_answers(&self, writes: usize) {
        self.lock().lose_answers = writes;
    }

    pub fn refuse_credentials(&self, refuse: bool) {
        self.lock().refuse_credentials = refuse;
    }

    /// Every operation asked, with its variables, oldest first.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.lock().requests.clone()
    }

    pub fn issue(&self, id: &str) -> Option<Value> {
        self.lock().issues.iter().find(|i| i["id"] == id).cloned()
    }

    /// Changes an issue as someone on Linear would (its `updatedAt` moves on).
    pub fn change(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        if let Some(issue) = state.issues.iter_mut().find(|i| i["id"] == id) {
            change(issue);
            issue["updatedAt"] = json!(stamp(Utc::now()));
        }
    }

    /// Moves an issue to the state named `name`, with a history entry by `actor`.
    pub fn move_issue(&self, id: &str, name: &str, actor: Value) {
        let to = self.lock().states.iter().find(|s| s["name"] == name).cloned().unwrap_or(Value::Null);
        self.change(id, |issue| {
            push_history(issue, &to, actor);
            issue["state"] = json!({ "id": to["id"], "name": to["name"], "type": to["type"] });
        });
    }

    /// Deletes an issue for good.
    pub fn delete(&self, id: &str) {
        self.lock().issues.retain(|i| i["id"] != id);
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn push_history(issue: &mut Value, to: &Value, actor: Value) {
    let entry = json!({
        "createdAt": stamp(Utc::now()),
        "actor": actor,
        "toState": { "id": to["id"], "name": to["name"], "type": to["type"] },
    });
    if let Some(nodes) = issue["history"]["nodes"].as_array_mut() {
        nodes.insert(0, entry);
    } else {
        issue["history"] = json!({ "nodes": [entry] });
    }
}

/// Generated issue `i` (0-based): a realistic size, with history and a comment.
fn generated(i: usize, from: DateTime<Utc>, states: &[Value]) -> Value {
    let at = from + TimeDelta::milliseconds(i as i64 * 10);
    let state = states.get(i % states.len().max(1)).cloned().unwrap_or(Value::Null);
    let first = states.first().cloned().unwrap_or(Value::Null);
    let number = 10_000 + i;
    json!({
        "id": format!("gen-{i:08}"),
        "identifier": format!("ENG-{number}"),
        "title": format!("Generated issue {number}: checkout total rounds the discount wrong for some currencies"),
        "description": "When a discount code applies to a basket in a currency with three decimals, the total shown on the last step differs from the invoice by one minor unit. Steps to reproduce are in the linked thread.",
        "priority": (i % 5) as f64,
        "estimate": ((i % 8) + 1) as f64,
        "url": format!("https://linear.app/acme/issue/ENG-{number}"),
        "createdAt": stamp(at - TimeDelta::hours(2)),
        "updatedAt": stamp(at),
        "trashed": null,
        "state": { "id": state["id"], "name": state["name"], "type": state["type"] },
        "assignee": { "id": "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c01", "name": "Alice Chen" },
        "creator": { "id": "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c02", "name": "Bob Okafor" },
        "project": { "name": "Q4 Reliability" },
        "parent": null,
        "labels": { "nodes": [{ "name": "Bug" }] },
        "history": { "nodes": [
            { "createdAt": stamp(at - TimeDelta::hours(1)), "actor": { "id": "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c01", "name": "Alice Chen" },
              "toState": { "id": state["id"], "name": state["name"], "type": state["type"] } },
            { "createdAt": stamp(at - TimeDelta::hours(2)), "actor": null,
              "toState": { "id": first["id"], "name": first["name"], "type": first["type"] } }
        ] },
        "comments": { "nodes": [
            { "id": format!("gen-comment-{i:08}"), "body": "Seen on the staging shop too.", "createdAt": stamp(at - TimeDelta::minutes(30)),
              "user": { "id": "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c02", "name": "Bob Okafor" } }
        ] }
    })
}

fn updated_at(issue: &Value) -> Option<DateTime<Utc>> {
    issue["updatedAt"].as_str()?.parse().ok()
}

fn error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "type": kind, "code": code } }] });
    (status, Json(body)).into_response()
}

async fn graphql(AxumState(state): AxumState<Arc<Mutex<State>>>, Json(request): Json<Value>) -> Response {
    let query = request["query"].as_str().unwrap_or_default().trim().to_string();
    let vars = request["variables"].clone();
    let operation: String = query.split(['(', ' ', '{']).take(2).collect::<Vec<_>>().join(" ");
    let mut s = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    s.requests.push((operation.clone(), vars.clone()));
    if s.refuse_credentials {
        return error(
            StatusCode::BAD_REQUEST,
            "Authentication required, not authenticated",
            "authentication error",
            "AUTHENTICATION_ERROR",
        );
    }
    match s.failures.pop_front() {
        Some(Failure::ServerError) => return (StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response(),
        Some(Failure::RateLimited) => {
            let mut response = error(StatusCode::BAD_REQUEST, "Rate limit exceeded.", "ratelimited", "RATELIMITED");
            let reset = (Utc::now().timestamp_millis() + 1_000).to_string();
            let headers: &mut HeaderMap = response.headers_mut();
            headers.insert("x-ratelimit-requests-remaining", HeaderValue::from_static("0"));
            if let Ok(reset) = HeaderValue::from_str(&reset) {
                headers.insert("x-ratelimit-requests-reset", reset);
            }
            return response;
        }
        None => {}
    }
    // As GraphQL does: a declared variable must be used.
    let header = query.split('{').next().unwrap_or_default();
    for declared in header.split('$').skip(1).filter_map(|v| v.split(':').next()) {
        if query.matches(&format!("${declared}")).count() < 2 {
            let message = format!("Variable \"${declared}\" is never used in operation \"{operation}\".");
            return error(StatusCode::BAD_REQUEST, &message, "graphql error", "GRAPHQL_VALIDATION_FAILED");
        }
    }
    let data = match operation.as_str() {
        "query Issues" => issues_page(&s, &vars),
        "query Issue" => json!({ "issue": s.issues.iter().find(|i| i["id"] == vars["id"]).map(shaped) }),
        "query More" => {
            let Some(issue) = s.issues.iter().find(|i| i["id"] == vars["id"]) else {
                return (StatusCode::OK, Json(json!({ "data": { "issue": null } }))).into_response();
            };
            let which = if query.contains("history(") { "history" } else { "comments" };
            let from: usize =
                vars["after"].as_str().and_then(|c| c.strip_prefix('c')).and_then(|n| n.parse().ok()).unwrap_or(0);
            json!({ "issue": { which: slice(&issue[which], from, 100) } })
        }
        "query States" => json!({ "workflowStates": { "nodes": s.states } }),
        "query Projects" => {
            let found: Vec<Value> = PROJECTS
                .iter()
                .filter(|(_, name)| vars["name"] == *name)
                .map(|(id, name)| json!({ "id": id, "name": name }))
                .collect();
            json!({ "projects": { "nodes": found } })
        }
        "query Comment" => {
            let found = s
                .issues
                .iter()
                .flat_map(|i| i["comments"]["nodes"].as_array().cloned().unwrap_or_default())
                .find(|c| c["id"] == vars["id"]);
            match found {
                Some(comment) => json!({ "comment": { "id": comment["id"] } }),
                None => return error(StatusCode::OK, "Entity not found: Comment", "invalid input", "INVALID_INPUT"),
            }
        }
        "mutation Comment" => {
            let input = &vars["input"];
            let exists = s
                .issues
                .iter()
                .any(|i| i["comments"]["nodes"].as_array().is_some_and(|n| n.iter().any(|c| c["id"] == input["id"])));
            if exists {
                return error(StatusCode::OK, "Entity already exists", "invalid input", "INVALID_INPUT");
            }
            let Some(issue) = s.issues.iter_mut().find(|i| i["id"] == input["issueId"]) else {
                return error(StatusCode::OK, "Entity not found: Issue", "invalid input", "INVALID_INPUT");
            };
            let comment = json!({ "id": input["id"], "body": input["body"], "createdAt": stamp(Utc::now()), "user": { "id": "pmbot-app", "name": "pmbot" } });
            if let Some(nodes) = issue["comments"]["nodes"].as_array_mut() {
                nodes.push(comment.clone());
            } else {
                issue["comments"] = json!({ "nodes": [comment.clone()] });
            }
            issue["updatedAt"] = json!(stamp(Utc::now()));
            json!({ "commentCreate": { "success": true, "comment": { "id": comment["id"] } } })
        }
        "mutation Update" => {
            let input = vars["input"].clone();
            let to = input["stateId"].as_str().and_then(|id| s.states.iter().find(|st| st["id"] == id).cloned());
            let Some(issue) = s.issues.iter_mut().find(|i| i["id"] == vars["id"]) else {
                return error(StatusCode::OK, "Entity not found: Issue", "invalid input", "INVALID_INPUT");
            };
            if let Some(to) = to {
                push_history(issue, &to, json!({ "id": "pmbot-app", "name": "pmbot" }));
                issue["state"] = json!({ "id": to["id"], "name": to["name"], "type": to["type"] });
            }
            if let Some(project) = input.get("projectId") {
                issue["project"] = match PROJECTS.iter().find(|(id, _)| project == id) {
                    Some((id, name)) => json!({ "id": id, "name": name }),
                    None => Value::Null,
                };
            }
            if let Some(assignee) = input.get("assigneeId") {
                issue["assignee"] = match assignee.as_str() {
                    Some(id) => json!({ "id": id, "name": format!("User {id}") }),
                    None => Value::Null,
                };
            }
            issue["updatedAt"] = json!(stamp(Utc::now()));
            json!({ "issueUpdate": { "success": true, "issue": shaped(issue) } })
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("unknown operation {operation}"),
                "graphql error",
                "GRAPHQL_VALIDATION_FAILED",
            )
        }
    };
    if operation.starts_with("mutation") && s.lose_answers > 0 {
        s.lose_answers -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer was lost").into_response();
    }
    (StatusCode::OK, Json(json!({ "data": data }))).into_response()
}

/// The team's issues updated at or after `since`, oldest update first, after the cursor.
fn issues_page(s: &State, vars: &Value) -> Value {
    let team = vars["team"].as_str().unwrap_or_default();
    let since: Option<DateTime<Utc>> = vars["since"].as_str().and_then(|t| t.parse().ok());
    let first = vars["first"].as_u64().unwrap_or(50) as usize;
    let after = vars["after"].as_str();
    let of_team = |issue: &Value| issue["identifier"].as_str().is_some_and(|k| k.starts_with(&format!("{team}-")));
    let fresh = |issue: &Value| since.is_none_or(|since| updated_at(issue).is_some_and(|at| at >= since));
    let mut fixed: Vec<&Value> = s.issues.iter().filter(|i| of_team(i) && fresh(i)).collect();
    fixed.sort_by_key(|i| (updated_at(i), i["id"].as_str().map(str::to_string)));
    // Generated issues come after the fixed ones, made only for the page asked.
    let start = match after {
        None => 0,
        Some(cursor) => match fixed.iter().position(|i| i["id"] == cursor) {
            Some(at) => at + 1,
            None => cursor
                .strip_prefix("gen-")
                .and_then(|n| n.parse::<usize>().ok())
                .map_or(usize::MAX, |n| fixed.len() + n + 1),
        },
    };
    let total = fixed.len() + if team == "ENG" { s.generated } else { 0 };
    let from = s.generated_from.unwrap_or_else(Utc::now);
    let mut nodes = Vec::with_capacity(first);
    let mut at = start;
    while at < total && nodes.len() < first {
        let issue = if at < fixed.len() { fixed[at].clone() } else { generated(at - fixed.len(), from, &s.states) };
        if at >= fixed.len() && !fresh(&issue) {
            at += 1;
            continue;
        }
        nodes.push(shaped(&issue));
        at += 1;
    }
    let end = nodes.last().map(|n| n["id"].clone()).unwrap_or(Value::Null);
    json!({ "issues": { "nodes": nodes, "pageInfo": { "hasNextPage": at < total, "endCursor": end } } })
}

/// Nested connections as Linear answers them: the first 50, and where the rest begins.
const NESTED: usize = 50;

fn shaped(issue: &Value) -> Value {
    let mut issue = issue.clone();
    for which in ["history", "comments"] {
        if issue[which]["nodes"].is_array() {
            issue[which] = slice(&issue[which], 0, NESTED);
        }
    }
    issue
}

/// `count` nodes of a connection from `from`, with its pageInfo (cursors are positions).
fn slice(connection: &Value, from: usize, count: usize) -> Value {
    let all = connection["nodes"].as_array().cloned().unwrap_or_default();
    let nodes: Vec<Value> = all.iter().skip(from).take(count).cloned().collect();
    let end = from + nodes.len();
    json!({ "nodes": nodes, "pageInfo": { "hasNextPage": end < all.len(), "endCursor": format!("c{end}") } })
}
