//! Jira Cloud's REST API v3: a project's issues page by page (`POST /rest/api/3/search/jql`
//! with `nextPageToken`, the changelog and comments with them), one issue, the transitions an
//! issue can take, and the writes pmbot makes. `JIRA_URL` (the site), `JIRA_EMAIL` and
//! `JIRA_API_TOKEN` (basic auth, as Atlassian documents for API tokens).

use super::super::{
    Page, RemoteComment, RemoteIssue, RemoteMove, RemoteState, RemoteUser, RemoteWorklog, TrackerError, WorklogPage,
};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

const WHO: &str = "Jira";
/// Issues per page: Jira returns at most 100 with their changelogs.
pub const PAGE_SIZE: u32 = 50;
/// The fields pmbot reads (Jira's enhanced search returns ids only unless told).
const FIELDS: [&str; 13] = [
    "summary",
    "description",
    "status",
    "priority",
    "assignee",
    "reporter",
    "parent",
    "labels",
    "created",
    "updated",
    "comment",
    "issuetype",
    "timeoriginalestimate",
];
/// The entity property pmbot puts on the comments it writes: its idempotency key.
pub const COMMENT_PROPERTY: &str = "pmbot";

#[derive(Debug, Clone)]
pub struct JiraSettings {
    pub site: String,
    pub email: String,
    pub api_token: String,
    pub requests_per_minute: u32,
    pub page_size: u32,
    pub max_wait: Duration,
}

impl JiraSettings {
    /// From `JIRA_URL`, `JIRA_EMAIL` and `JIRA_API_TOKEN` (all three, or no Jira).
    pub fn from_env() -> Option<JiraSettings> {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Some(JiraSettings {
            site: var("JIRA_URL")?.trim_end_matches('/').to_string(),
            email: var("JIRA_EMAIL")?,
            api_token: var("JIRA_API_TOKEN")?,
            requests_per_minute: var("JIRA_REQUESTS_PER_MINUTE").and_then(|v| v.parse().ok()).unwrap_or(300),
            page_size: PAGE_SIZE,
            max_wait: Duration::from_secs(30),
        })
    }
}

pub struct Jira {
    http: reqwest::Client,
    settings: JiraSettings,
    pace: DefaultDirectRateLimiter,
    /// Each project's status names → categories, read once: a changelog names statuses
    /// without their category, which mapping by category needs.
    categories: tokio::sync::Mutex<HashMap<String, HashMap<String, String>>>,
}

/// A transition an issue can take now, and where it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: RemoteState,
}

impl Jira {
    pub fn new(settings: JiraSettings) -> Jira {
        let per_minute = NonZeroU32::new(settings.requests_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("pmbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Jira {
            http,
            settings,
            pace: RateLimiter::direct(Quota::per_minute(per_minute)),
            categories: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn page_size(&self) -> u32 {
        self.settings.page_size.clamp(1, 100)
    }

    pub fn key_fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{}:{}", self.settings.email, self.settings.api_token).as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// The project's issues updated since `since` (all without), oldest update first.
    pub async fn issues_page(
        &self,
        project: &str,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
        first: u32,
    ) -> Result<Page, TrackerError> {
        let mut jql = format!("project = \"{}\"", project.replace('"', ""));
        if let Some(since) = since {
            // JQL dates are in the reading user's zone and to the minute; a relative time is
            // neither: minutes ago, rounded up.
            let minutes = (Utc::now() - since).num_seconds().max(0).div_euclid(60) + 1;
            jql.push_str(&format!(" AND updated >= \"-{minutes}m\""));
        }
        jql.push_str(" ORDER BY updated ASC, key ASC");
        let mut body = json!({ "jql": jql, "fields": FIELDS, "expand": "changelog", "maxResults": first });
        if let Some(token) = after {
            body["nextPageToken"] = json!(token);
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Search {
            #[serde(default)]
            issues: Vec<WireIssue>,
            next_page_token: Option<String>,
            #[serde(default)]
            is_last: Option<bool>,
        }
        let mut found: Search = self.call(reqwest::Method::POST, "/rest/api/3/search/jql", Some(body)).await?.json()?;
        let next = found.next_page_token.filter(|_| found.is_last != Some(true));
        for issue in &mut found.issues {
            self.complete(issue).await?;
        }
        let categories = self.categories(project).await?;
        Ok(Page { issues: into_remote(found.issues, &self.settings.site, categories), next })
    }

    /// One issue as it is now; `None` when Jira has no such issue (deleted).
    pub async fn issue(&self, id: &str) -> Result<Option<RemoteIssue>, TrackerError> {
        let path = format!("/rest/api/3/issue/{}?fields={}&expand=changelog", segment(id), FIELDS.join(","));
        match self.call(reqwest::Method::GET, &path, None).await {
            Ok(answer) => {
                let mut wire: WireIssue = answer.json()?;
                self.complete(&mut wire).await?;
                let project = wire.key.split_once('-').map_or(String::new(), |(p, _)| p.to_string());
                let categories = self.categories(&project).await?;
                Ok(into_remote(vec![wire], &self.settings.site, categories).pop())
            }
            Err(TrackerError::Refused { message, .. }) if message.starts_with("404") => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Reads the rest of an issue's comments and changelog when Jira sent only their first part
    /// (`total` above what came).
    async fn complete(&self, wire: &mut WireIssue) -> Result<(), TrackerError> {
        let count = |v: &Value| v.as_array().map_or(0, Vec::len);
        loop {
            let have = count(&wire.fields["comment"]["comments"]);
            let total = wire.fields["comment"]["total"].as_u64().unwrap_or(0) as usize;
            if have >= total {
                break;
            }
            let path = format!("/rest/api/3/issue/{}/comment?startAt={have}&maxResults=100", segment(&wire.key));
            let more: Value = self.call(reqwest::Method::GET, &path, None).await?.json()?;
            let Some(rest) = more["comments"].as_array().filter(|r| !r.is_empty()) else { break };
            if let Some(list) = wire.fields["comment"]["comments"].as_array_mut() {
                list.extend(rest.iter().cloned());
            }
        }
        loop {
            let have = count(&wire.changelog["histories"]);
            let total = wire.changelog["total"].as_u64().unwrap_or(0) as usize;
            if have >= total {
                break;
            }
            let path = format!("/rest/api/3/issue/{}/changelog?startAt={have}&maxResults=100", segment(&wire.key));
            let more: Value = self.call(reqwest::Method::GET, &path, None).await?.json()?;
            let Some(rest) = more["values"].as_array().filter(|r| !r.is_empty()) else { break };
            if let Some(list) = wire.changelog["histories"].as_array_mut() {
                list.extend(rest.iter().cloned());
            }
        }
        Ok(())
    }

    /// The project's status names → categories (read once per project and kept).
    async fn categories(&self, project: &str) -> Result<HashMap<String, String>, TrackerError> {
        if let Some(known) = self.categories.lock().await.get(project) {
            return Ok(known.clone());
        }
        let found: HashMap<String, String> =
            self.statuses(project).await?.into_iter().map(|s| (s.name, s.kind)).collect();
        self.categories.lock().await.insert(project.to_string(), found.clone());
        Ok(found)
    }

    /// Every status of the project's workflows (once each), as `GET /project/{key}/statuses`
    /// lists them per issue type.
    pub async fn statuses(&self, project: &str) -> Result<Vec<RemoteState>, TrackerError> {
        #[derive(Deserialize)]
        struct OfType {
            statuses: Vec<WireStatus>,
        }
        let path = format!("/rest/api/3/project/{}/statuses", segment(project));
        let types: Vec<OfType> = self.call(reqwest::Method::GET, &path, None).await?.json()?;
        let mut out: Vec<RemoteState> = Vec::new();
        for status in types.into_iter().flat_map(|t| t.statuses) {
            if !out.iter().any(|s| s.name == status.name) {
                out.push(status.into_remote());
            }
        }
        Ok(out)
    }

    /// Worklogs updated since `since` (Jira's own time tracking): the ids from
    /// `worklog/updated` (paged by its `nextPage`), then the worklogs from `worklog/list`.
    pub async fn worklogs_page(
        &self,
        since: Option<DateTime<Utc>>,
        next: Option<&str>,
    ) -> Result<WorklogPage, TrackerError> {
        let path = match next {
            Some(next) => match next.strip_prefix(&self.settings.site) {
                Some(path) if path.starts_with("/rest/api/3/worklog/updated") => path.to_string(),
                _ => {
                    let message = format!("a next page off the Jira site: {next}");
                    return Err(TrackerError::Refused { tracker: WHO, message });
                }
            },
            None => format!("/rest/api/3/worklog/updated?since={}", since.map_or(0, |s| s.timestamp_millis().max(0))),
        };
        let updated: Value = self.call(reqwest::Method::GET, &path, None).await?.json()?;
        let ids: Vec<Value> =
            updated["values"].as_array().into_iter().flatten().map(|v| v["worklogId"].clone()).collect();
        let next = match updated["lastPage"].as_bool() {
            Some(false) => updated["nextPage"].as_str().map(str::to_string),
            _ => None,
        };
        if ids.is_empty() {
            return Ok(WorklogPage { worklogs: Vec::new(), next });
        }
        let listed: Vec<Value> =
            self.call(reqwest::Method::POST, "/rest/api/3/worklog/list", Some(json!({ "ids": ids }))).await?.json()?;
        let number = |v: &Value| v.as_i64().or_else(|| v.as_str()?.parse().ok());
        let worklogs = listed
            .iter()
            .filter_map(|w| {
                Some(RemoteWorklog {
                    id: number(&w["id"])?,
                    issue: w["issueId"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| number(&w["issueId"]).map(|n| n.to_string()))?,
                    seconds: w["timeSpentSeconds"].as_i64()?,
                    // The day as the person logged it (the offset is theirs).
                    day: chrono::NaiveDate::parse_from_str(w["started"].as_str()?.get(..10)?, "%Y-%m-%d").ok()?,
                    description: adf_text(&w["comment"]),
                    author: w["author"]["accountId"].as_str()?.to_string(),
                })
            })
            .collect();
        Ok(WorklogPage { worklogs, next })
    }

    /// The transitions `key` can take now.
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>, TrackerError> {
        #[derive(Deserialize)]
        struct Transitions {
            transitions: Vec<WireTransition>,
        }
        #[derive(Deserialize)]
        struct WireTransition {
            id: String,
            name: String,
            to: WireStatus,
        }
        let path = format!("/rest/api/3/issue/{}/transitions", segment(key));
        let found: Transitions = self.call(reqwest::Method::GET, &path, None).await?.json()?;
        Ok(found
            .transitions
            .into_iter()
            .map(|t| Transition { id: t.id, name: t.name, to: t.to.into_remote() })
            .collect())
    }

    pub async fn transition(&self, key: &str, transition: &str) -> Result<(), TrackerError> {
        let path = format!("/rest/api/3/issue/{}/transitions", segment(key));
        self.call(reqwest::Method::POST, &path, Some(json!({ "transition": { "id": transition } }))).await?;
        Ok(())
    }

    /// The key of the project's epic whose summary is `name`, if there is one.
    pub async fn epic_key(&self, project: &str, name: &str) -> Result<Option<String>, TrackerError> {
        let jql = format!(
            "project = \"{}\" AND issuetype = Epic AND summary ~ \"{}\"",
            project.replace('"', ""),
            name.replace(['"', '\\'], " ")
        );
        let body = json!({ "jql": jql, "fields": ["summary"], "maxResults": 20 });
        let found: Value = self.call(reqwest::Method::POST, "/rest/api/3/search/jql", Some(body)).await?.json()?;
        // `~` matches words; the epic is the one named exactly.
        let exact = found["issues"].as_array().into_iter().flatten().find(|i| i["fields"]["summary"] == name);
        Ok(exact.and_then(|i| i["key"].as_str()).map(str::to_string))
    }

    /// Files `key` under the epic `parent` (or none).
    pub async fn set_parent(&self, key: &str, parent: Option<&str>) -> Result<(), TrackerError> {
        let path = format!("/rest/api/3/issue/{}", segment(key));
        let parent = parent.map_or(Value::Null, |p| json!({ "key": p }));
        self.call(reqwest::Method::PUT, &path, Some(json!({ "fields": { "parent": parent } }))).await?;
        Ok(())
    }

    pub async fn assign(&self, key: &str, account: Option<&str>) -> Result<(), TrackerError> {
        let path = format!("/rest/api/3/issue/{}/assignee", segment(key));
        self.call(reqwest::Method::PUT, &path, Some(json!({ "accountId": account }))).await?;
        Ok(())
    }

    /// Adds a comment marked with `idempotency` (a comment property), unless one so marked is
    /// there already (a retry after a lost answer); the comment's id either way.
    pub async fn create_comment(&self, key: &str, body: &str, idempotency: &str) -> Result<String, TrackerError> {
        if let Some(id) = self.marked_comment(key, idempotency).await? {
            return Ok(id);
        }
        let path = format!("/rest/api/3/issue/{}/comment", segment(key));
        let request = json!({
            "body": adf(body),
            "properties": [{ "key": COMMENT_PROPERTY, "value": { "write": idempotency } }],
        });
        let created: Value = self.call(reqwest::Method::POST, &path, Some(request)).await?.json()?;
        Ok(created["id"].as_str().unwrap_or_default().to_string())
    }

    /// The comment on `key` marked with `idempotency`, if any (Jira's documented bulk read of
    /// comments with their properties).
    async fn marked_comment(&self, key: &str, idempotency: &str) -> Result<Option<String>, TrackerError> {
        let path = format!("/rest/api/3/issue/{}/comment?maxResults=100&orderBy=-created", segment(key));
        let page: Value = self.call(reqwest::Method::GET, &path, None).await?.json()?;
        let ids: Vec<Value> = page["comments"].as_array().into_iter().flatten().map(|c| c["id"].clone()).collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let listed: Value = self
            .call(reqwest::Method::POST, "/rest/api/3/comment/list?expand=properties", Some(json!({ "ids": ids })))
            .await?
            .json()?;
        let marked = listed["values"].as_array().into_iter().flatten().find(|c| {
            c["properties"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["key"] == COMMENT_PROPERTY && p["value"]["write"].as_str() == Some(idempotency))
        });
        Ok(marked.and_then(|c| c["id"].as_str()).map(str::to_string))
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Answer, TrackerError> {
        let mut waited = Duration::ZERO;
        loop {
            self.pace.until_ready().await;
            match self.send(method.clone(), path, body.as_ref()).await {
                Err(TrackerError::RateLimited { wait_seconds, .. })
                    if waited + Duration::from_secs(wait_seconds) <= self.settings.max_wait =>
                {
                    let wait = Duration::from_secs(wait_seconds.max(1));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                other => return other,
            }
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Answer, TrackerError> {
        let unavailable = |detail: String| TrackerError::Unavailable { tracker: WHO, detail };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.settings.site))
            .basic_auth(&self.settings.email, Some(&self.settings.api_token))
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response.bytes().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        match status.as_u16() {
            200..=299 => Ok(Answer(bytes.to_vec())),
            401 | 403 => Err(TrackerError::Auth {
                tracker: WHO,
                env: "JIRA_EMAIL and JIRA_API_TOKEN",
                detail: format!("HTTP {status}"),
            }),
            429 => Err(TrackerError::RateLimited { tracker: WHO, wait_seconds: retry_after.unwrap_or(10) }),
            s if s >= 500 => Err(unavailable(format!("HTTP {status}"))),
            _ => {
                let said: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let messages: Vec<String> = said["errorMessages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .chain(said["errors"].as_object().into_iter().flatten().map(|(k, v)| format!("{k}: {v}")))
                    .collect();
                let message = format!("{} {}", status.as_u16(), messages.join("; ")).chars().take(300).collect();
                Err(TrackerError::Refused { tracker: WHO, message })
            }
        }
    }
}

/// A 2xx answer's body.
struct Answer(Vec<u8>);

impl Answer {
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, TrackerError> {
        serde_json::from_slice(&self.0).map_err(|e| TrackerError::Malformed { tracker: WHO, detail: e.to_string() })
    }
}

/// An issue key or id as one path segment (nothing else gets through).
fn segment(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

/// Plain text as an Atlassian Document: one paragraph per line.
pub fn adf(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .lines()
        .map(|line| {
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

/// An Atlassian Document's text: its text nodes, blocks on lines of their own.
pub fn adf_text(doc: &Value) -> String {
    fn walk(node: &Value, out: &mut String) {
        match node["type"].as_str() {
            Some("text") => out.push_str(node["text"].as_str().unwrap_or_default()),
            Some("hardBreak") => out.push('\n'),
            Some("mention") => out.push_str(node["attrs"]["text"].as_str().unwrap_or_default()),
            _ => {}
        }
        for child in node["content"].as_array().into_iter().flatten() {
            walk(child, out);
        }
        if matches!(node["type"].as_str(), Some("paragraph" | "heading" | "listItem" | "codeBlock" | "blockquote")) {
            out.push('\n');
        }
    }
    if let Some(text) = doc.as_str() {
        // API v2 (and webhooks) carry plain text.
        return text.to_string();
    }
    let mut out = String::new();
    walk(doc, &mut out);
    out.trim_end().to_string()
}

/// Jira's priority names on Linear's scale (1 urgent … 4 low), which the mapping reads.
fn priority(name: &str) -> Option<f64> {
    Some(match name.to_lowercase().as_str() {
        "highest" | "blocker" | "critical" => 1.0,
        "high" | "major" => 2.0,
        "medium" => 3.0,
        "low" | "lowest" | "minor" | "trivial" => 4.0,
        _ => return None,
    })
}

/// Jira's times: `2026-11-20T16:41:55.003+0000` (no colon in the offset).
fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z").ok().map(|t| t.with_timezone(&Utc))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUser {
    account_id: String,
    #[serde(default)]
    display_name: String,
}

impl WireUser {
    fn into_remote(self) -> RemoteUser {
        RemoteUser { id: self.account_id, name: self.display_name }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStatus {
    #[serde(default)]
    id: String,
    name: String,
    status_category: Option<WireCategory>,
}

#[derive(Deserialize)]
struct WireCategory {
    key: String,
}

impl WireStatus {
    fn into_remote(self) -> RemoteState {
        RemoteState { id: self.id, name: self.name, kind: self.status_category.map(|c| c.key).unwrap_or_default() }
    }
}

#[derive(Deserialize)]
struct WireIssue {
    id: String,
    key: String,
    #[serde(default)]
    fields: Value,
    #[serde(default)]
    changelog: Value,
}

/// Issues read, their history states given the project's categories and those on the page.
fn into_remote(issues: Vec<WireIssue>, site: &str, mut categories: HashMap<String, String>) -> Vec<RemoteIssue> {
    for issue in &issues {
        let status = &issue.fields["status"];
        if let (Some(name), Some(kind)) = (status["name"].as_str(), status["statusCategory"]["key"].as_str()) {
            categories.insert(name.to_string(), kind.to_string());
        }
    }
    issues.into_iter().filter_map(|issue| issue.into_remote(site, &categories)).collect()
}

impl WireIssue {
    fn into_remote(self, site: &str, categories: &HashMap<String, String>) -> Option<RemoteIssue> {
        let f = &self.fields;
        let user = |v: &Value| serde_json::from_value::<WireUser>(v.clone()).ok().map(WireUser::into_remote);
        let state = serde_json::from_value::<WireStatus>(f["status"].clone()).ok()?.into_remote();
        let state_named = |id: &Value, name: &Value| {
            let name = name.as_str()?.to_string();
            let kind = categories.get(&name).cloned().unwrap_or_default();
            Some(RemoteState { id: id.as_str().unwrap_or_default().to_string(), kind, name })
        };
        let mut history: Vec<RemoteMove> = self.changelog["histories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| {
                let item = h["items"].as_array()?.iter().find(|i| i["field"] == "status")?;
                Some(RemoteMove {
                    at: time(h["created"].as_str()?)?,
                    from: state_named(&item["from"], &item["fromString"]),
                    to: state_named(&item["to"], &item["toString"])?,
                    actor: user(&h["author"]),
                })
            })
            .collect();
        history.sort_by_key(|m| m.at);
        let mut comments: Vec<RemoteComment> = f["comment"]["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some(RemoteComment {
                    id: c["id"].as_str()?.to_string(),
                    body: adf_text(&c["body"]),
                    author: user(&c["author"]),
                    at: time(c["created"].as_str()?)?,
                })
            })
            .collect();
        comments.sort_by_key(|c| c.at);
        // An epic above (hierarchy level 1) is the epic; an issue above a subtask is its parent.
        let parent = &f["parent"];
        let parent_is_epic = parent["fields"]["issuetype"]["hierarchyLevel"].as_i64() == Some(1)
            || parent["fields"]["issuetype"]["name"] == "Epic";
        let (epic, parent_key) = match parent["key"].as_str() {
            Some(_) if parent_is_epic => (parent["fields"]["summary"].as_str().map(str::to_string), None),
            Some(key) => (None, Some(key.to_string())),
            None => (None, None),
        };
        Some(RemoteIssue {
            url: Some(format!("{site}/browse/{}", self.key)),
            id: self.id,
            key: self.key,
            title: f["summary"].as_str().unwrap_or_default().to_string(),
            description: adf_text(&f["description"]),
            state,
            priority: f["priority"]["name"].as_str().and_then(priority),
            estimate: f["timeoriginalestimate"].as_f64().map(|seconds| seconds / 3600.0),
            assignee: user(&f["assignee"]),
            creator: user(&f["reporter"]),
            labels: f["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect(),
            parent: parent_key,
            epic,
            created_at: f["created"].as_str().and_then(time)?,
            updated_at: f["updated"].as_str().and_then(time)?,
            gone: false,
            history,
            comments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/jira/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn a_search_page_reads_with_changelog_comments_and_parents() {
        let page = fixture("search_page1.json");
        let wire: Vec<WireIssue> = serde_json::from_value(page["issues"].clone()).unwrap();
        let issues = into_remote(
            wire,
            "https://acme.atlassian.net",
            HashMap::from([("In Progress".into(), "indeterminate".into())]),
        );
        let two = issues.iter().find(|i| i.key == "OPS-2").unwrap();
        assert_eq!(two.state.kind, "indeterminate");
        assert_eq!(two.history.iter().map(|m| m.to.name.as_str()).collect::<Vec<_>>(), ["In Progress", "QA"]);
        assert_eq!(two.history[0].from.as_ref().map(|s| s.name.as_str()), Some("To Do"));
        assert_eq!(two.comments[0].body, "Deployed to staging, please verify the new alert routes.");
        assert_eq!(two.estimate, Some(8.0));
        assert_eq!(two.url.as_deref(), Some("https://acme.atlassian.net/browse/OPS-2"));
        assert!(two.description.starts_with("Route payments alerts"));
    }

    #[test]
    fn documents_read_as_text_and_text_writes_as_a_document() {
        assert_eq!(adf_text(&adf("one\ntwo")), "one\ntwo");
        assert_eq!(adf_text(&json!("plain (API v2)")), "plain (API v2)");
        assert_eq!(time("2026-11-20T16:41:55.003+0000").unwrap().to_rfc3339(), "2026-11-20T16:41:55.003+00:00");
    }
}
