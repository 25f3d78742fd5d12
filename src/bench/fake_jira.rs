//! A local Jira Cloud: the REST v3 endpoints pmbot calls, answered in the shapes of
//! `tests/fixtures/jira/` (see its README for their sources), over issues held as Jira's JSON.
//! It pages the enhanced search by `nextPageToken`, filters by the relative `updated >= "-Nm"`
//! pmbot sends, moves issues through the recorded transitions (with a changelog entry), keeps
//! comments with their properties, and fails on purpose: a 500, a 429, refused credentials,
//! answers lost after the write.

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

pub use super::fake_linear::Failure;

#[derive(Default)]
struct State {
    issues: Vec<Value>,
    transitions: Vec<Value>,
    failures: VecDeque<Failure>,
    lose_answers: usize,
    refuse_credentials: bool,
    requests: Vec<(String, Value)>,
    next_comment: u64,
    worklogs: Vec<Value>,
    site: String,
}

#[derive(Clone)]
pub struct FakeJira {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn fixture(dir: &std::path::Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap_or_default()).unwrap_or(Value::Null)
}

pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn updated(issue: &Value) -> Option<DateTime<Utc>> {
    let text = issue["fields"]["updated"].as_str()?;
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").ok().map(|t| t.with_timezone(&Utc))
}

impl FakeJira {
    /// The recorded issues and transitions of `dir`.
    pub async fn from_fixtures(dir: &std::path::Path) -> std::io::Result<FakeJira> {
        let mut issues = Vec::new();
        for page in ["search_page1.json", "search_page2.json"] {
            issues.extend(fixture(dir, page)["issues"].as_array().cloned().unwrap_or_default());
        }
        let transitions = fixture(dir, "transitions_OPS-2.json")["transitions"].as_array().cloned().unwrap_or_default();
        let worklogs = fixture(dir, "worklog_list.json").as_array().cloned().unwrap_or_default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state =
            State { issues, transitions, next_comment: 20_000, worklogs, site: url.clone(), ..State::default() };
        let state = Arc::new(Mutex::new(state));
        let app = Router::new()
            .route("/rest/api/3/search/jql", post(search))
            .route("/rest/api/3/issue/{id}", get(issue).put(edit_issue))
            .route("/rest/api/3/issue/{id}/transitions", get(list_transitions).post(make_transition))
            .route("/rest/api/3/issue/{id}/assignee", axum::routing::put(assign))
            .route("/rest/api/3/issue/{id}/comment", get(comments).post(add_comment))
            .route("/rest/api/3/comment/list", post(comment_list))
            .route("/rest/api/3/project/{key}/statuses", get(statuses))
            .route("/rest/api/3/worklog/updated", get(worklogs_updated))
            .route("/rest/api/3/worklog/list", post(worklog_list))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeJira { url, state })
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

    pub fn requests(&self) -> Vec<(String, Value)> {
        self.lock().requests.clone()
    }

    pub fn issue(&self, key: &str) -> Option<Value> {
        self.lock().issues.iter().find(|i| i["key"] == key || i["id"] == key).cloned()
    }

    /// Changes an issue as someone on Jira would (its `updated` moves on).
    pub fn change(&self, key: &str, change: impl FnOnce(&mut Value)) {
        if let Some(issue) = self.lock().issues.iter_mut().find(|i| i["key"] == key) {
            change(issue);
            issue["fields"]["updated"] = json!(stamp(Utc::now()));
        }
    }

    /// Moves an issue as someone on Jira would: through the transition leading to `status`.
    pub fn move_issue(&self, key: &str, status: &str, author: Value) {
        let mut state = self.lock();
        let to = state.transitions.iter().find(|t| t["to"]["name"] == status).map(|t| t["to"].clone());
        if let (Some(to), Some(issue)) = (to, state.issues.iter_mut().find(|i| i["key"] == key)) {
            set_status(issue, &to, author);
        }
    }

    /// Changes a worklog as its author correcting it would (its `updated` moves on).
    pub fn change_worklog(&self, id: &str, change: impl FnOnce(&mut Value)) {
        if let Some(w) = self.lock().worklogs.iter_mut().find(|w| w["id"] == id) {
            change(w);
            w["updated"] = json!(stamp(Utc::now()));
        }
    }

    pub fn delete(&self, key: &str) {
        self.lock().issues.retain(|i| i["key"] != key);
    }
}

fn set_status(issue: &mut Value, to: &Value, author: Value) {
    let now = stamp(Utc::now());
    let from = issue["fields"]["status"].clone();
    let entry = json!({
        "id": format!("h{}", Utc::now().timestamp_micros()),
        "author": author,
        "created": now,
        "items": [{ "field": "status", "fieldtype": "jira", "fieldId": "status",
                    "from": from["id"], "fromString": from["name"], "to": to["id"], "toString": to["name"] }],
    });
    if let Some(histories) = issue["changelog"]["histories"].as_array_mut() {
        histories.insert(0, entry);
    } else {
        issue["changelog"] = json!({ "histories": [entry] });
    }
    issue["fields"]["status"] = to.clone();
    issue["fields"]["updated"] = json!(now);
}

type Shared = AxumState<Arc<Mutex<State>>>;

fn lock(state: &Arc<Mutex<State>>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The injected failure or refusal for this request, if any, and the request noted.
fn gate(s: &mut State, what: &str, detail: Value) -> Option<Response> {
    s.requests.push((what.to_string(), detail));
    if s.refuse_credentials {
        return Some(
            (StatusCode::UNAUTHORIZED, "Client must be authenticated to access this resource.").into_response(),
        );
    }
    match s.failures.pop_front()? {
        Failure::ServerError => Some((StatusCode::INTERNAL_SERVER_ERROR, "upstream error").into_response()),
        Failure::RateLimited => {
            let body = json!({ "errorMessages": ["Rate limit exceeded."], "errors": {} });
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
            response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            Some(response)
        }
    }
}

fn not_found() -> Response {
    let body =
        json!({ "errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {} });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn lost_or(s: &mut State, answer: Response) -> Response {
    if s.lose_answers > 0 {
        s.lose_answers -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer was lost").into_response();
    }
    answer
}

async fn search(AxumState(state): Shared, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "search", body.clone()) {
        return refused;
    }
    let jql = body["jql"].as_str().unwrap_or_default();
    let project = jql.split('"').nth(1).unwrap_or_default().to_string();
    let since = jql
        .split("updated >= \"-")
        .nth(1)
        .and_then(|rest| rest.split('m').next())
        .and_then(|m| m.parse::<i64>().ok())
        .map(|minutes| Utc::now() - TimeDelta::minutes(minutes));
    let mut found: Vec<&Value> = s
        .issues
        .iter()
        .filter(|i| {
            i["fields"]["project"]["key"] == project.as_str()
                || i["key"].as_str().is_some_and(|k| k.starts_with(&format!("{project}-")))
        })
        .filter(|i| since.is_none_or(|since| updated(i).is_some_and(|at| at >= since)))
        .collect();
    found.sort_by_key(|i| (updated(i), i["key"].as_str().map(str::to_string)));
    let start: usize =
        body["nextPageToken"].as_str().and_then(|t| t.strip_prefix('p')).and_then(|n| n.parse().ok()).unwrap_or(0);
    let size = body["maxResults"].as_u64().unwrap_or(50) as usize;
    let page: Vec<Value> = found.iter().skip(start).take(size).map(|i| shaped(i)).collect();
    let end = start + page.len();
    let mut answer = json!({ "issues": page, "isLast": end >= found.len() });
    if end < found.len() {
        answer["nextPageToken"] = json!(format!("p{end}"));
    }
    Json(answer).into_response()
}

async fn issue(AxumState(state): Shared, Path(id): Path<String>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "issue", json!(id)) {
        return refused;
    }
    match s.issues.iter().find(|i| i["id"] == id.as_str() || i["key"] == id.as_str()) {
        Some(issue) => Json(issue.clone()).into_response(),
        None => not_found(),
    }
}

async fn list_transitions(AxumState(state): Shared, Path(id): Path<String>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "transitions", json!(id)) {
        return refused;
    }
    if !s.issues.iter().any(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) {
        return not_found();
    }
    Json(json!({ "expand": "transitions", "transitions": s.transitions })).into_response()
}

async fn make_transition(AxumState(state): Shared, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "transition", body.clone()) {
        return refused;
    }
    let Some(to) = s.transitions.iter().find(|t| t["id"] == body["transition"]["id"]).map(|t| t["to"].clone()) else {
        let said = format!(
            "Transition id '{}' is not valid for this issue.",
            body["transition"]["id"].as_str().unwrap_or("?")
        );
        return (StatusCode::BAD_REQUEST, Json(json!({ "errorMessages": [said], "errors": {} }))).into_response();
    };
    let Some(issue) = s.issues.iter_mut().find(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) else {
        return not_found();
    };
    set_status(issue, &to, json!({ "accountId": "5d53f3cbc6b9320d9ea5bdc2", "displayName": "pmbot" }));
    lost_or(&mut s, StatusCode::NO_CONTENT.into_response())
}

async fn assign(AxumState(state): Shared, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "assign", body.clone()) {
        return refused;
    }
    let Some(issue) = s.issues.iter_mut().find(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) else {
        return not_found();
    };
    issue["fields"]["assignee"] = match body["accountId"].as_str() {
        Some(account) => json!({ "accountId": account, "displayName": format!("User {account}") }),
        None => Value::Null,
    };
    issue["fields"]["updated"] = json!(stamp(Utc::now()));
    lost_or(&mut s, StatusCode::NO_CONTENT.into_response())
}

async fn comments(
    AxumState(state): Shared,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "comments", json!(id)) {
        return refused;
    }
    let Some(issue) = s.issues.iter().find(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) else {
        return not_found();
    };
    // Properties only come with the bulk read (`/comment/list?expand=properties`).
    let list: Vec<Value> = issue["fields"]["comment"]["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut c = c.clone();
            if let Some(map) = c.as_object_mut() {
                map.remove("properties");
            }
            c
        })
        .collect();
    let (start, max) = (number(query.get("startAt"), 0), number(query.get("maxResults"), 100));
    let total = list.len();
    let page: Vec<Value> = list.into_iter().skip(start).take(max).collect();
    Json(json!({ "startAt": start, "maxResults": max, "total": total, "comments": page })).into_response()
}

async fn add_comment(AxumState(state): Shared, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "add_comment", body.clone()) {
        return refused;
    }
    s.next_comment += 1;
    let number = s.next_comment;
    let Some(issue) = s.issues.iter_mut().find(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) else {
        return not_found();
    };
    let now = stamp(Utc::now());
    let comment = json!({
        "id": number.to_string(),
        "author": { "accountId": "5d53f3cbc6b9320d9ea5bdc2", "displayName": "pmbot" },
        "body": body["body"],
        "created": now,
        "updated": now,
        "properties": body["properties"],
    });
    if let Some(list) = issue["fields"]["comment"]["comments"].as_array_mut() {
        list.push(comment.clone());
    } else {
        issue["fields"]["comment"] = json!({ "comments": [comment.clone()] });
    }
    issue["fields"]["updated"] = json!(now);
    let mut answer = comment;
    if let Some(map) = answer.as_object_mut() {
        map.remove("properties");
    }
    lost_or(&mut s, (StatusCode::CREATED, Json(answer)).into_response())
}

async fn comment_list(
    AxumState(state): Shared,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "comment_list", body.clone()) {
        return refused;
    }
    let with_properties = query.get("expand").is_some_and(|e| e.contains("properties"));
    let ids: Vec<&Value> = body["ids"].as_array().into_iter().flatten().collect();
    let values: Vec<Value> = s
        .issues
        .iter()
        .flat_map(|i| i["fields"]["comment"]["comments"].as_array().cloned().unwrap_or_default())
        .filter(|c| {
            ids.iter().any(|id| {
                id.as_str() == c["id"].as_str() || id.as_i64().map(|n| n.to_string()).as_deref() == c["id"].as_str()
            })
        })
        .map(|mut c| {
            if !with_properties {
                if let Some(map) = c.as_object_mut() {
                    map.remove("properties");
                }
            } else if c["properties"].is_null() {
                c["properties"] = json!([]);
            }
            c
        })
        .collect();
    Json(json!({ "isLast": true, "maxResults": 1000, "startAt": 0, "total": values.len(), "values": values }))
        .into_response()
}

async fn statuses(AxumState(state): Shared, Path(key): Path<String>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "statuses", json!(key)) {
        return refused;
    }
    let mut seen: Vec<Value> = Vec::new();
    let current = s.issues.iter().map(|i| i["fields"]["status"].clone());
    for status in current.chain(s.transitions.iter().map(|t| t["to"].clone())) {
        if !seen.iter().any(|x| x["name"] == status["name"]) {
            seen.push(status);
        }
    }
    Json(json!([{ "id": "10001", "name": "Task", "subtask": false, "statuses": seen }])).into_response()
}

fn updated_ms(worklog: &Value) -> i64 {
    let text = worklog["updated"].as_str().unwrap_or_default();
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").map_or(0, |t| t.timestamp_millis())
}

/// Two ids a page (Jira gives up to 1000), `nextPage` from the last one's time on.
async fn worklogs_updated(AxumState(state): Shared, Query(query): Query<HashMap<String, String>>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "worklogs_updated", json!(query)) {
        return refused;
    }
    let since: i64 = query.get("since").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut found: Vec<(i64, Value)> =
        s.worklogs.iter().map(|w| (updated_ms(w), w["id"].clone())).filter(|(at, _)| *at >= since).collect();
    found.sort_by_key(|(at, _)| *at);
    let page: Vec<&(i64, Value)> = found.iter().take(2).collect();
    let values: Vec<Value> = page
        .iter()
        .map(|(at, id)| json!({ "worklogId": id.as_str().and_then(|i| i.parse::<i64>().ok()), "updatedTime": at, "properties": [] }))
        .collect();
    let until = page.last().map_or(since, |(at, _)| *at);
    let last = found.len() <= 2;
    let mut answer = json!({ "values": values, "since": since, "until": until, "lastPage": last,
                             "self": format!("{}/rest/api/3/worklog/updated?since={since}", s.site) });
    if !last {
        answer["nextPage"] = json!(format!("{}/rest/api/3/worklog/updated?since={}", s.site, until + 1));
    }
    Json(answer).into_response()
}

async fn worklog_list(AxumState(state): Shared, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "worklog_list", body.clone()) {
        return refused;
    }
    let ids: Vec<String> = body["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_i64().map(|n| n.to_string()).or_else(|| id.as_str().map(str::to_string)))
        .collect();
    let found: Vec<Value> =
        s.worklogs.iter().filter(|w| ids.iter().any(|id| w["id"] == id.as_str())).cloned().collect();
    Json(found).into_response()
}

/// `PUT /issue/{id}`: the `parent` field (filing under an epic), as pmbot sets it.
async fn edit_issue(AxumState(state): Shared, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let mut s = lock(&state);
    if let Some(refused) = gate(&mut s, "edit_issue", body.clone()) {
        return refused;
    }
    let parent =
        match body["fields"]["parent"]["key"].as_str() {
            Some(key) => match s.issues.iter().find(|i| i["key"] == key) {
                Some(epic) => json!({ "id": epic["id"], "key": epic["key"], "fields": {
                "summary": epic["fields"]["summary"], "issuetype": epic["fields"]["issuetype"] } }),
                None => return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "errorMessages": [], "errors": { "parent": "Could not find issue by id or key." } })),
                )
                    .into_response(),
            },
            None => Value::Null,
        };
    let Some(issue) = s.issues.iter_mut().find(|i| i["key"] == id.as_str() || i["id"] == id.as_str()) else {
        return not_found();
    };
    issue["fields"]["parent"] = parent;
    issue["fields"]["updated"] = json!(stamp(Utc::now()));
    StatusCode::NO_CONTENT.into_response()
}

fn number(value: Option<&String>, default: usize) -> usize {
    value.and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Comments in a search answer as Jira caps them: the first 20 and the total.
const COMMENTS_IN_SEARCH: usize = 20;

fn shaped(issue: &Value) -> Value {
    let mut issue = issue.clone();
    if let Some(all) = issue["fields"]["comment"]["comments"].as_array().cloned() {
        let first: Vec<Value> = all.iter().take(COMMENTS_IN_SEARCH).cloned().collect();
        issue["fields"]["comment"]["comments"] = json!(first);
        issue["fields"]["comment"]["total"] = json!(all.len());
        issue["fields"]["comment"]["maxResults"] = json!(COMMENTS_IN_SEARCH);
    }
    issue
}
