//! Hours from Tempo (API v4, bearer token; the `Tempo` client is here too) or Jira Cloud's own worklogs: worklogs updated since
//! the last run, page by page (Tempo's `metadata.next`, Jira's `nextPage`), into the hours the agents count — each worklog once by its Tempo id (a
//! corrected one updates its hours), on the ticket it was logged on (a Jira issue mirrored on
//! the board) and the person whose Atlassian account it is. `TEMPO_API_TOKEN`, and
//! `TEMPO_API_URL` for tests. The CSV import stays for teams without Tempo.

use super::jira::Jira;
use super::sync::SyncError;
use super::{RemoteWorklog, TrackerError, WorklogPage, JIRA};
use crate::config::Config;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{Imported, ItemKind, Store, SyncPosition, Worklog, WorkspaceId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const WHO: &str = "Tempo";
pub const DEFAULT_URL: &str = "https://api.tempo.io";
/// The sync's row in `tracker_syncs` (projects' keys are capitals: no clash).
const POSITION: &str = "tempo";
const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

#[derive(Debug, Clone)]
pub struct TempoSettings {
    pub api_url: String,
    pub token: String,
    pub page_size: u32,
    pub max_wait: Duration,
}

impl TempoSettings {
    pub fn from_env() -> Option<TempoSettings> {
        let token = std::env::var("TEMPO_API_TOKEN").ok().filter(|t| !t.trim().is_empty())?;
        Some(TempoSettings {
            api_url: std::env::var("TEMPO_API_URL").unwrap_or_else(|_| DEFAULT_URL.into()).trim_end_matches('/').into(),
            token: token.trim().into(),
            page_size: 500,
            max_wait: Duration::from_secs(30),
        })
    }
}

pub struct Tempo {
    http: reqwest::Client,
    settings: TempoSettings,
}

impl Tempo {
    pub fn new(settings: TempoSettings) -> Tempo {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("pmbot/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Tempo { http, settings }
    }

    pub fn key_fingerprint(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(self.settings.token.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// Worklogs updated on or after `since` (all without); `next` is the URL Tempo gave for the
    /// page after (only ever on Tempo's own host).
    pub async fn worklogs_page(
        &self,
        since: Option<NaiveDate>,
        next: Option<&str>,
    ) -> Result<WorklogPage, TrackerError> {
        let url = match next {
            Some(next) if next.starts_with(&format!("{}/", self.settings.api_url)) => next.to_string(),
            Some(next) => {
                return Err(TrackerError::Refused {
                    tracker: WHO,
                    message: format!("a next page off Tempo's host: {next}"),
                })
            }
            None => {
                let mut url =
                    format!("{}/4/worklogs?offset=0&limit={}", self.settings.api_url, self.settings.page_size);
                if let Some(since) = since {
                    url.push_str(&format!("&updatedFrom={since}"));
                }
                url
            }
        };
        let mut waited = Duration::ZERO;
        let answer = loop {
            match self.get(&url).await {
                Err(TrackerError::RateLimited { wait_seconds, .. })
                    if waited + Duration::from_secs(wait_seconds) <= self.settings.max_wait =>
                {
                    let wait = Duration::from_secs(wait_seconds.max(1));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
                other => break other?,
            }
        };
        let worklogs = answer["results"].as_array().into_iter().flatten().filter_map(read).collect();
        let next = answer["metadata"]["next"].as_str().map(str::to_string);
        Ok(WorklogPage { worklogs, next })
    }

    async fn get(&self, url: &str) -> Result<Value, TrackerError> {
        let unavailable = |detail: String| TrackerError::Unavailable { tracker: WHO, detail };
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.settings.token)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match status.as_u16() {
            200..=299 => Ok(body),
            401 | 403 => {
                Err(TrackerError::Auth { tracker: WHO, env: "TEMPO_API_TOKEN", detail: format!("HTTP {status}") })
            }
            429 => Err(TrackerError::RateLimited { tracker: WHO, wait_seconds: retry_after.unwrap_or(1) }),
            s if s >= 500 => Err(unavailable(format!("HTTP {status}"))),
            _ => {
                let said = body["errors"]["message"].as_str().or(body["errors"][0]["message"].as_str()).unwrap_or("");
                Err(TrackerError::Refused { tracker: WHO, message: format!("HTTP {status} {said}") })
            }
        }
    }
}

fn read(v: &Value) -> Option<RemoteWorklog> {
    Some(RemoteWorklog {
        id: v["tempoWorklogId"].as_i64()?,
        issue: match &v["issue"]["id"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return None,
        },
        seconds: v["timeSpentSeconds"].as_i64()?,
        day: NaiveDate::parse_from_str(v["startDate"].as_str()?, "%Y-%m-%d").ok()?,
        description: v["description"].as_str().unwrap_or_default().to_string(),
        author: v["author"]["accountId"].as_str()?.to_string(),
    })
}

/// Where hours come from: Tempo, or Jira Cloud's own worklogs.
#[derive(Clone, Copy)]
pub enum HoursSource<'a> {
    Tempo(&'a Tempo),
    Jira(&'a Jira),
}

impl HoursSource<'_> {
    /// The worklogs' identity prefix and the name unknown authors are listed under.
    fn name(&self) -> &'static str {
        match self {
            HoursSource::Tempo(_) => "tempo",
            HoursSource::Jira(_) => "jira-worklog",
        }
    }

    fn label(&self) -> &'static str {
        match self {
            HoursSource::Tempo(_) => "Tempo",
            HoursSource::Jira(_) => "Jira",
        }
    }

    fn key_fingerprint(&self) -> String {
        match self {
            HoursSource::Tempo(t) => t.key_fingerprint(),
            HoursSource::Jira(j) => j.key_fingerprint(),
        }
    }

    /// Worklogs updated since `since` (Tempo: from that day; Jira: from that instant).
    async fn page(&self, since: Option<DateTime<Utc>>, next: Option<&str>) -> Result<WorklogPage, TrackerError> {
        match self {
            HoursSource::Tempo(t) => t.worklogs_page(since.map(|s| s.date_naive()), next).await,
            HoursSource::Jira(j) => j.worklogs_page(since, next).await,
        }
    }
}

/// What a Tempo sync did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HoursReport {
    pub pages: u64,
    pub read: u64,
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Logged on an issue the board does not mirror: not counted (yet).
    pub unknown_issue: u64,
    /// Logged by an account no person has: not counted; `pmbot people doctor` lists them.
    pub unknown_person: u64,
}

/// Account id → handle: a person's `time_tracking_id`, else their `tracker_id` (both are
/// Atlassian account ids on Jira and Tempo).
fn people(config: &Config) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for p in &config.people {
        for id in [&p.tracker_id, &p.time_tracking_id].into_iter().flatten() {
            map.insert(id.clone(), p.handle.clone());
        }
    }
    map
}

/// Reads Tempo's worklogs updated since the last run (`full`: all) into the board's hours.
pub async fn run(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    source: HoursSource<'_>,
    full: bool,
    mut progress: impl FnMut(&HoursReport),
) -> Result<HoursReport, SyncError> {
    if !store.claim_sync(ws, POSITION, source.name(), Utc::now() + LEASE, Utc::now()).await? {
        return Err(SyncError::Busy("hours".into()));
    }
    let result = pages(store, ws, config, source, full, &mut progress).await;
    store.release_sync(ws, POSITION).await?;
    result
}

async fn pages(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    source: HoursSource<'_>,
    full: bool,
    progress: &mut impl FnMut(&HoursReport),
) -> Result<HoursReport, SyncError> {
    let people = people(config);
    let mut position = store
        .sync_position(ws, POSITION)
        .await?
        .unwrap_or(SyncPosition { tracker: "tempo".into(), ..Default::default() });
    if let Some(why) = &position.paused {
        if position.paused_key.as_deref() == Some(source.key_fingerprint().as_str()) && !full {
            return Err(SyncError::Paused { project: "hours".into(), why: why.clone() });
        }
        position.paused = None;
        position.paused_key = None;
    }
    // A run of another source (the configuration changed) starts over.
    if full || position.run_started.is_none() || position.tracker != source.name() {
        position.tracker = source.name().into();
        position.run_since = if full { None } else { position.since };
        position.run_started = Some(Utc::now());
        position.page_cursor = None;
    }
    let mut report = HoursReport::default();
    loop {
        // From a day before the last run began (Tempo's updatedFrom is a date), read again
        // harmlessly: once per worklog id, so only what changed counts.
        let page = source.page(position.run_since, position.page_cursor.as_deref()).await?;
        let mut tx = store.begin().await?;
        let mut unknown: BTreeMap<String, i64> = BTreeMap::new();
        for w in &page.worklogs {
            report.read += 1;
            let Some(person) = people.get(&w.author) else {
                *unknown.entry(w.author.clone()).or_default() += 1;
                report.unknown_person += 1;
                continue;
            };
            let Some(item) = tx.mirror_item(ws, JIRA, ItemKind::Issue, &w.issue).await? else {
                report.unknown_issue += 1;
                continue;
            };
            let key: crate::board::TicketKey = item.local_ref.parse().map_err(crate::store::StoreError::from)?;
            let ticket = tx.ticket(ws, &key).await?;
            let worklog = Worklog {
                person: person.clone(),
                day: w.day.format("%Y-%m-%d").to_string(),
                hours: w.seconds as f64 / 3600.0,
                project: ticket.project.clone(),
                epic: ticket.epic.clone(),
                ticket: Some(key.to_string()),
                description: w.description.clone(),
            };
            let identity = format!("{}:{}", source.name(), w.id);
            match tx.add_worklog(ws, &worklog, &identity, source.name(), Utc::now()).await? {
                Imported::Added => report.added += 1,
                Imported::Updated => report.updated += 1,
                Imported::Unchanged => report.unchanged += 1,
            }
        }
        for (id, seen) in &unknown {
            tx.note_unknown_person(ws, source.name(), id, "(a worklog's author)", *seen, Utc::now()).await?;
        }
        report.pages += 1;
        position.page_cursor = page.next.clone();
        if page.next.is_none() {
            position.since = position.run_started.map(|t| t - chrono::TimeDelta::days(1));
            position.run_since = None;
            position.run_started = None;
        }
        tx.save_sync_position(ws, POSITION, &position, Utc::now()).await?;
        tx.renew_sync(ws, POSITION, Utc::now() + LEASE).await?;
        tx.commit().await?;
        progress(&report);
        if page.next.is_none() {
            return Ok(report);
        }
    }
}

/// `hours.sync` on `[hours] schedule`: from Tempo or Jira, as `[hours] source` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HoursJob {
    #[serde(default)]
    pub full: bool,
}

impl JobSpec for HoursJob {
    const KIND: &'static str = "hours.sync";
    const MAX_ATTEMPTS: u32 = 25;
    const TIMEOUT: Duration = Duration::from_secs(3600);
}

/// The configured source of hours, when its credentials are set.
pub fn source<'a>(
    config: &Config,
    tempo: Option<&'a Tempo>,
    jira: Option<&'a Jira>,
) -> Result<HoursSource<'a>, String> {
    use crate::config::HoursSourceKind;
    match config.hours.source {
        HoursSourceKind::Tempo => tempo.map(HoursSource::Tempo).ok_or_else(|| "TEMPO_API_TOKEN is not set".into()),
        HoursSourceKind::Jira => {
            jira.map(HoursSource::Jira).ok_or_else(|| "JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN are not all set".into())
        }
    }
}

impl<C: crate::chat::Chat + 'static> Job<JobEnv<C>> for HoursJob {
    async fn run(&self, env: &JobEnv<C>, _ctx: &JobContext) -> Outcome {
        let source = match source(&env.config, env.tempo.as_deref(), env.jira.as_deref()) {
            Ok(source) => source,
            Err(why) => return Outcome::Cancel(format!("{why}: no hours are read")),
        };
        match run(&env.store, &env.workspace(), &env.config, source, self.full, |_| {}).await {
            Ok(report) => {
                tracing::info!(read = report.read, added = report.added, updated = report.updated, "hours read");
                Outcome::Done
            }
            Err(SyncError::Busy(_)) => Outcome::Done,
            Err(SyncError::Paused { why, .. }) => Outcome::Cancel(why),
            Err(SyncError::Tracker(err @ TrackerError::Auth { .. })) => {
                let paused = super::sync::Paused {
                    position: POSITION,
                    tracker: source.name(),
                    what: format!("reading hours from {}", source.label()),
                    fingerprint: source.key_fingerprint(),
                    pm: None,
                    channel: Some(&env.config.agents.pm_channel),
                };
                if let Err(e) = super::sync::pause(env, paused, &err.to_string()).await {
                    return crate::job_env::finish(Err(e));
                }
                Outcome::Cancel(err.to_string())
            }
            Err(SyncError::Tracker(err)) => Outcome::retry(err.to_string()),
            Err(SyncError::Store(err)) => crate::job_env::finish(Err(StepError::from(err))),
            Err(SyncError::NotSynced(why)) => Outcome::Cancel(why),
        }
    }
}
