//! GitHub's REST API through octocrab: authentication as a GitHub App (octocrab mints the
//! installation token from the app's JWT, caches it and mints a new one before it expires)
//! or with a token; pull requests, reviewers, merges and branches. Every call goes through
//! [`Github::call`], which obeys GitHub's rate limits and retries 5xx answers
//! ([`policy::retry`]); a refusal comes back in words ([`policy::in_words`]).
//!
//! Settings come from the environment: `GITHUB_TOKEN`, or `GITHUB_APP_ID`,
//! `GITHUB_APP_INSTALLATION_ID` and `GITHUB_APP_PRIVATE_KEY` (the PEM, or
//! `GITHUB_APP_PRIVATE_KEY_FILE`); `GITHUB_API_URL` for GitHub Enterprise (and the tests).

pub mod policy;

use axum::http::Method;
use octocrab::Octocrab;
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("GitHub settings: {0}")]
    Settings(String),
    /// GitHub answered and said no; `words` is for people.
    #[error("{words}")]
    Refused { status: u16, words: String },
    /// Over a rate limit for longer than is worth waiting in place.
    #[error("GitHub's rate limit is reached; trying again in {} s", .0.as_secs())]
    RateLimited(Duration),
    #[error("GitHub did not answer: {0}")]
    Unavailable(String),
}

impl GithubError {
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub enum Credentials {
    Token(String),
    App { id: u64, installation: u64, private_key: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(…)"),
            Credentials::App { id, installation, .. } => write!(f, "App {{ id: {id}, installation: {installation} }}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GithubSettings {
    pub api_url: String,
    pub credentials: Credentials,
}

pub const DEFAULT_API_URL: &str = "https://api.github.com";

impl GithubSettings {
    /// From the environment; `None` when no credentials are set.
    pub fn from_env() -> Result<Option<GithubSettings>, GithubError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let api_url = var("GITHUB_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into());
        let credentials = match (var("GITHUB_APP_ID"), var("GITHUB_TOKEN")) {
            (Some(id), _) => {
                let number = |name: &str, value: Option<String>| {
                    value
                        .ok_or_else(|| GithubError::Settings(format!("GITHUB_APP_ID is set, {name} is not")))?
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| GithubError::Settings(format!("{name} must be a number")))
                };
                let private_key = match (var("GITHUB_APP_PRIVATE_KEY"), var("GITHUB_APP_PRIVATE_KEY_FILE")) {
                    (Some(pem), _) => pem.replace("\\n", "\n"),
                    (None, Some(path)) => std::fs::read_to_string(&path)
                        .map_err(|e| GithubError::Settings(format!("GITHUB_APP_PRIVATE_KEY_FILE {path}: {e}")))?,
                    (None, None) => {
                        return Err(GithubError::Settings(
                            "GITHUB_APP_ID is set: set GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE too"
                                .into(),
                        ))
                    }
                };
                Credentials::App {
                    id: number("GITHUB_APP_ID", Some(id))?,
                    installation: number("GITHUB_APP_INSTALLATION_ID", var("GITHUB_APP_INSTALLATION_ID"))?,
                    private_key,
                }
            }
            (None, Some(token)) => Credentials::Token(token),
            (None, None) => return Ok(None),
        };
        Ok(Some(GithubSettings { api_url, credentials }))
    }
}

/// A pull request as pmbot needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pr {
    pub number: i64,
    pub url: String,
    pub state: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub head_sha: String,
    pub head_ref: String,
    pub node_id: Option<String>,
    pub draft: bool,
}

impl Pr {
    pub fn from_value(v: &Value) -> Option<Pr> {
        Some(Pr {
            number: v["number"].as_i64()?,
            url: v["html_url"].as_str().unwrap_or_default().to_string(),
            state: v["state"].as_str().unwrap_or("open").to_string(),
            merged: v["merged"].as_bool().unwrap_or(false) || v["merged_at"].is_string(),
            merge_commit_sha: v["merge_commit_sha"].as_str().map(str::to_string),
            head_sha: v["head"]["sha"].as_str().unwrap_or_default().to_string(),
            head_ref: v["head"]["ref"].as_str().unwrap_or_default().to_string(),
            node_id: v["node_id"].as_str().map(str::to_string),
            draft: v["draft"].as_bool().unwrap_or(false),
        })
    }
}

pub struct NewPr<'a> {
    pub title: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    pub draft: bool,
}

/// A client for one installation (or token).
pub struct Github {
    octo: Octocrab,
    /// The REST API's base (GraphQL is beside it: see [`policy::graphql_base`]).
    api_url: String,
    credentials: Credentials,
    /// Longer waits are handed back as [`GithubError::RateLimited`] (the job snoozes).
    pub max_wait: Duration,
}

/// One call's time limit: GitHub answers in seconds or not at all.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl Github {
    pub fn new(settings: &GithubSettings) -> Result<Github, GithubError> {
        let octo = client(&settings.api_url, &settings.credentials)?;
        Ok(Github {
            octo,
            api_url: settings.api_url.clone(),
            credentials: settings.credentials.clone(),
            max_wait: Duration::from_secs(60),
        })
    }

    /// The token git pushes with: the personal token, or the installation's current token
    /// (minted again when it has under a minute left). Kept in memory only.
    pub async fn git_token(&self) -> Result<String, GithubError> {
        use octocrab::secrecy::ExposeSecret;
        match &self.credentials {
            Credentials::Token(token) => Ok(token.clone()),
            Credentials::App { .. } => self
                .octo
                .installation_token_with_buffer(chrono::Duration::seconds(60))
                .await
                .map(|t| t.expose_secret().to_string())
                .map_err(|e| GithubError::Unavailable(format!("no installation token: {}", describe(&e)))),
        }
    }

    /// One REST call: waits out rate limits (up to `max_wait`), retries 5xx and lost
    /// connections, and reads the answer as JSON (`null` when empty).
    pub async fn call(&self, method: Method, route: &str, body: Option<&Value>) -> Result<Value, GithubError> {
        self.call_on(&self.octo, method, route, body).await
    }

    async fn call_on(
        &self,
        octo: &Octocrab,
        method: Method,
        route: &str,
        body: Option<&Value>,
    ) -> Result<Value, GithubError> {
        let mut attempt = 0u32;
        loop {
            let sent = tokio::time::timeout(CALL_TIMEOUT, self.send(octo, &method, route, body)).await;
            let sent = sent.unwrap_or_else(|_| Err(format!("no answer within {} s", CALL_TIMEOUT.as_secs())));
            let (status, limits, text) = match sent {
                Ok(answer) => answer,
                // A POST whose answer was lost may have been done: not sent again here (the
                // job's own retry looks first, as opening a pull request does).
                Err(why) if attempt < policy::SERVER_RETRIES && method != Method::POST => {
                    tracing::warn!(%route, %why, "GitHub call failed; trying again");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(why) => return Err(GithubError::Unavailable(why)),
            };
            if (200..300).contains(&status) {
                return Ok(if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(Value::Null)
                });
            }
            let now = chrono::Utc::now().timestamp();
            match policy::retry(status, &limits, &text, attempt, now) {
                policy::Retry::After(wait) if status < 500 && (wait > self.max_wait || attempt >= 3) => {
                    return Err(GithubError::RateLimited(wait));
                }
                policy::Retry::After(wait) => {
                    tracing::info!(%route, status, wait_s = wait.as_secs(), "GitHub asked to wait");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                policy::Retry::No if status >= 500 => {
                    return Err(GithubError::Unavailable(policy::in_words(status, &text)));
                }
                policy::Retry::No => {
                    return Err(GithubError::Refused { status, words: policy::in_words(status, &text) })
                }
            }
        }
    }

    async fn send(
        &self,
        octo: &Octocrab,
        method: &Method,
        route: &str,
        body: Option<&Value>,
    ) -> Result<(u16, policy::Limits, String), String> {
        // A path without a host: octocrab puts the base URI in front and the credentials on.
        let uri = route.to_string();
        let response = match *method {
            Method::GET => octo._get(uri).await,
            Method::POST => octo._post(uri, body).await,
            Method::PUT => octo._put(uri, body).await,
            Method::PATCH => octo._patch(uri, body).await,
            Method::DELETE => octo._delete(uri, body).await,
            _ => return Err(format!("{method} is not used")),
        }
        .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let limits = policy::Limits {
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
        };
        let text = octo.body_to_string(response).await.map_err(|e| describe(&e))?;
        Ok((status, limits, text))
    }

    /// The open pull request from `branch` of `repo` (`owner/name`), if there is one.
    pub async fn open_pr_for(&self, repo: &str, branch: &str) -> Result<Option<Pr>, GithubError> {
        let owner = repo.split('/').next().unwrap_or_default();
        let head: String = url::form_urlencoded::byte_serialize(format!("{owner}:{branch}").as_bytes()).collect();
        let list = self.call(Method::GET, &format!("/repos/{repo}/pulls?state=open&head={head}"), None).await?;
        Ok(list.as_array().and_then(|prs| prs.iter().find_map(Pr::from_value)))
    }

    /// Opens a pull request, or finds the one already open from its branch (a retry after a
    /// crash, or GitHub's 422 "already exists") and brings its body up to date.
    pub async fn open_pr(&self, repo: &str, new: &NewPr<'_>) -> Result<Pr, GithubError> {
        if let Some(pr) = self.open_pr_for(repo, new.head).await? {
            let patch = json!({ "title": new.title, "body": new.body });
            self.call(Method::PATCH, &format!("/repos/{repo}/pulls/{}", pr.number), Some(&patch)).await?;
            return Ok(pr);
        }
        let body =
            json!({ "title": new.title, "head": new.head, "base": new.base, "body": new.body, "draft": new.draft });
        match self.call(Method::POST, &format!("/repos/{repo}/pulls"), Some(&body)).await {
            Ok(value) => Pr::from_value(&value)
                .ok_or_else(|| GithubError::Unavailable("GitHub's answer has no pull request number".into())),
            Err(GithubError::Refused { status: 422, words }) if words.contains("already open") => {
                self.open_pr_for(repo, new.head).await?.ok_or(GithubError::Refused { status: 422, words })
            }
            Err(err) => Err(err),
        }
    }

    pub async fn pr(&self, repo: &str, number: i64) -> Result<Pr, GithubError> {
        let value = self.call(Method::GET, &format!("/repos/{repo}/pulls/{number}"), None).await?;
        Pr::from_value(&value).ok_or_else(|| GithubError::Unavailable("GitHub's answer has no pull request".into()))
    }

    pub async fn add_labels(&self, repo: &str, number: i64, labels: &[String]) -> Result<(), GithubError> {
        if labels.is_empty() {
            return Ok(());
        }
        let body = json!({ "labels": labels });
        self.call(Method::POST, &format!("/repos/{repo}/issues/{number}/labels"), Some(&body)).await.map(|_| ())
    }

    /// Asks `reviewers` (logins, or `org/team` for a team) to review.
    pub async fn request_reviewers(&self, repo: &str, number: i64, reviewers: &[String]) -> Result<(), GithubError> {
        let (teams, people): (Vec<&String>, Vec<&String>) = reviewers.iter().partition(|r| r.contains('/'));
        if reviewers.is_empty() {
            return Ok(());
        }
        let teams: Vec<&str> = teams.iter().filter_map(|t| t.split('/').nth(1)).collect();
        let body = json!({ "reviewers": people, "team_reviewers": teams });
        let route = format!("/repos/{repo}/pulls/{number}/requested_reviewers");
        self.call(Method::POST, &route, Some(&body)).await.map(|_| ())
    }

    /// Merges pull request `number` at exactly `sha` (what was approved); the merge commit.
    /// A pull request already merged answers its merge commit (a retry after a crash).
    pub async fn merge(
        &self,
        repo: &str,
        number: i64,
        method: &str,
        sha: &str,
        title: &str,
    ) -> Result<String, GithubError> {
        let pr = self.pr(repo, number).await?;
        if pr.merged {
            return Ok(pr.merge_commit_sha.unwrap_or_default());
        }
        let body = json!({ "merge_method": method, "sha": sha, "commit_title": title });
        match self.call(Method::PUT, &format!("/repos/{repo}/pulls/{number}/merge"), Some(&body)).await {
            Ok(answer) => Ok(answer["sha"].as_str().unwrap_or_default().to_string()),
            // The merge may have happened with its answer lost (a retry then hears "not
            // mergeable"): the pull request says.
            Err(err) => match self.pr(repo, number).await {
                Ok(pr) if pr.merged => Ok(pr.merge_commit_sha.unwrap_or_default()),
                _ => Err(err),
            },
        }
    }

    /// Deletes `branch`; one that is gone already is fine.
    pub async fn delete_branch(&self, repo: &str, branch: &str) -> Result<(), GithubError> {
        match self.call(Method::DELETE, &format!("/repos/{repo}/git/refs/heads/{branch}"), None).await {
            Ok(_) | Err(GithubError::Refused { status: 404 | 422, .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Marks a draft pull request ready for review (GraphQL: REST cannot).
    pub async fn ready_for_review(&self, node_id: &str) -> Result<(), GithubError> {
        let body = json!({
            "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
            "variables": { "id": node_id },
        });
        // GraphQL's endpoint is beside the REST API's, not under it on GitHub Enterprise
        // (`/api/graphql` next to `/api/v3`): a client there, with the token the REST one holds.
        let graphql = client(&policy::graphql_base(&self.api_url), &Credentials::Token(self.git_token().await?))?;
        let answer = self.call_on(&graphql, Method::POST, "/graphql", Some(&body)).await?;
        match answer["errors"].as_array().and_then(|e| e.first()) {
            Some(error) => Err(GithubError::Refused {
                status: 200,
                words: format!(
                    "GitHub said: {}",
                    error["message"].as_str().unwrap_or("the pull request stays a draft")
                ),
            }),
            None => Ok(()),
        }
    }

    /// Comments on an issue or pull request.
    pub async fn comment(&self, repo: &str, number: i64, text: &str) -> Result<(), GithubError> {
        let body = json!({ "body": text });
        self.call(Method::POST, &format!("/repos/{repo}/issues/{number}/comments"), Some(&body)).await.map(|_| ())
    }
}

/// An octocrab client on `base` with `credentials` (an App's installation, or a token).
fn client(base: &str, credentials: &Credentials) -> Result<Octocrab, GithubError> {
    let bad = |e: octocrab::Error| GithubError::Settings(e.to_string());
    let builder = Octocrab::builder().base_uri(base).map_err(bad)?;
    Ok(match credentials {
        Credentials::Token(token) => builder.personal_token(token.clone()).build().map_err(bad)?,
        Credentials::App { id, installation, private_key } => {
            let key = octocrab::EncodingKey::from_rsa_pem(private_key.as_bytes())
                .map_err(|e| GithubError::Settings(format!("GITHUB_APP_PRIVATE_KEY is not an RSA key: {e}")))?;
            let app = builder.app((*id).into(), key).build().map_err(bad)?;
            app.installation((*installation).into()).map_err(bad)?
        }
    })
}

/// An octocrab error in one line (its Display is terse for transport errors).
fn describe(err: &octocrab::Error) -> String {
    let text = err.to_string();
    match std::error::Error::source(err) {
        Some(source) => format!("{text}: {source}"),
        None => text,
    }
}
