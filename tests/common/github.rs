//! A local GitHub for the forge's tests: the REST routes pmbot calls, answering with GitHub's
//! own recorded objects (the pull request of octokit/webhooks' `pull_request` payloads, the
//! `errors` scenario of octokit/fixtures, the docs' installation token), and git's smart
//! HTTP through the real `git http-backend`, which wants the token like github.com does.
//! Pushes, merges and deleted branches happen in a real bare repository.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
pub const APP_ID: u64 = 7;
pub const INSTALLATION: u64 = 42;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent; `path` is it without GitHub Enterprise's `/api/v3` prefix.
    pub raw_path: String,
    pub path: String,
    pub query: String,
    pub auth: Option<String>,
    pub body: Value,
}

/// An answer to give instead of the normal one, once, to the first request it matches.
pub struct Injected {
    pub method: &'static str,
    pub path_ends: &'static str,
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

#[derive(Default)]
pub struct Recorded {
    pub requests: Vec<Request>,
    pub injected: VecDeque<Injected>,
    pub prs: Vec<Value>,
    /// Git requests that came without the token.
    pub git_refused: usize,
    pub git_served: usize,
}

struct Shared {
    root: PathBuf,
    recorded: Mutex<Recorded>,
}

pub struct FakeGithub {
    pub url: String,
    shared: Arc<Shared>,
    _root: tempfile::TempDir,
}

impl FakeGithub {
    /// Serves `bare` as `acme/web.git`.
    pub async fn start(bare: &Path) -> FakeGithub {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("acme")).unwrap();
        std::os::unix::fs::symlink(bare, root.path().join("acme/web.git")).unwrap();
        let shared = Arc::new(Shared { root: root.path().to_path_buf(), recorded: Mutex::default() });
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeGithub { url, shared, _root: root }
    }

    pub fn clone_url(&self) -> String {
        format!("{}/acme/web.git", self.url)
    }

    pub fn inject(&self, injected: Injected) {
        self.shared.recorded.lock().unwrap().injected.push_back(injected);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.recorded.lock().unwrap().requests.clone()
    }

    pub fn calls(&self, method: &str, path_ends: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method == method && r.path.ends_with(path_ends)).collect()
    }

    pub fn git_refused(&self) -> usize {
        self.shared.recorded.lock().unwrap().git_refused
    }

    pub fn git_served(&self) -> usize {
        self.shared.recorded.lock().unwrap().git_served
    }
}

fn fixture(path: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github").join(path);
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn number_is(pr: &Value, n: &str) -> bool {
    n.parse::<i64>().ok().is_some_and(|n| pr["number"].as_i64() == Some(n))
}

fn json_response(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn git_out(bare: &Path, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("git").arg("-C").arg(bare).args(args).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // GitHub Enterprise's layout: REST under /api/v3, GraphQL at /api/graphql.
    let path = match uri.path() {
        "/api/graphql" => "/graphql".to_string(),
        p => p.strip_prefix("/api/v3").unwrap_or(p).to_string(),
    };
    if path.contains(".git/") {
        return git_http(&shared, &method, &uri, &headers, body).await;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut recorded = shared.recorded.lock().unwrap();
    recorded.requests.push(Request {
        method: method.to_string(),
        raw_path: uri.path().to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or_default().to_string(),
        auth: auth.clone(),
        body: value.clone(),
    });
    if let Some(i) =
        recorded.injected.iter().position(|inj| inj.method == method.as_str() && path.ends_with(inj.path_ends))
    {
        let inj = recorded.injected.remove(i).unwrap();
        let mut response = (StatusCode::from_u16(inj.status).unwrap(), inj.body).into_response();
        for (name, v) in inj.headers {
            response.headers_mut().insert(name, v.parse().unwrap());
        }
        response.headers_mut().insert("content-type", "application/json; charset=utf-8".parse().unwrap());
        return response;
    }
    // The app's JWT mints the installation token; every other call must carry that token.
    if path == format!("/app/installations/{INSTALLATION}/access_tokens") {
        let jwt = auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
        let claims = jwt.split('.').nth(1).unwrap_or_default();
        use base64::Engine;
        let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if claims["iss"].as_str() != Some(&APP_ID.to_string()) && claims["iss"].as_u64() != Some(APP_ID) {
            return json_response(401, json!({ "message": "A JSON web token could not be decoded" }));
        }
        let expires =
            (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // docs.github.com, "Create an installation access token for an app": the example answer.
        return json_response(
            201,
            json!({ "token": TOKEN, "expires_at": expires,
                    "permissions": { "contents": "write", "pull_requests": "write", "issues": "write" },
                    "repository_selection": "selected" }),
        );
    }
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return json_response(
            401,
            json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest" }),
        );
    }
    // GraphQL: only the draft → ready mutation pmbot uses.
    if method == Method::POST && path == "/graphql" {
        let id = value["variables"]["id"].clone();
        let Some(pr) = recorded.prs.iter_mut().find(|p| p["node_id"] == id) else {
            return json_response(
                200,
                json!({ "errors": [{ "message": "Could not resolve to a node with the global id" }] }),
            );
        };
        pr["draft"] = json!(false);
        return json_response(
            200,
            json!({ "data": { "markPullRequestReadyForReview": { "pullRequest": { "isDraft": false } } } }),
        );
    }
    // Comments on any repository's issues are taken (the reporter loop writes to them).
    if method == Method::POST && path.starts_with("/repos/") && path.contains("/issues/") && path.ends_with("/comments")
    {
        return json_response(201, json!({ "id": recorded.requests.len(), "body": value["body"] }));
    }
    let bare = shared.root.join("acme/web.git");
    let Some(rest) = path.strip_prefix("/repos/acme/web/") else {
        return json_response(404, json!({ "message": "Not Found" }));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["pulls"]) => {
            let head = uri.query().unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("head=")).unwrap_or("");
            let branch = head.replace("%3A", ":").split_once(':').map(|(_, b)| b.to_string()).unwrap_or_default();
            let open: Vec<Value> = recorded
                .prs
                .iter()
                .filter(|p| p["state"] == "open" && p["head"]["ref"] == branch.as_str())
                .cloned()
                .collect();
            json_response(200, Value::Array(open))
        }
        ("POST", ["pulls"]) => {
            let head = value["head"].as_str().unwrap_or_default().to_string();
            let Ok(sha) = git_out(&bare, &["rev-parse", &format!("refs/heads/{head}")]) else {
                return json_response(
                    422,
                    json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "field": "head", "code": "invalid" }] }),
                );
            };
            // GitHub's own pull request object, as its webhook carries it, renumbered.
            let mut pr = fixture("pull_request/opened.payload.json")["pull_request"].clone();
            let number = recorded.prs.len() as i64 + 1;
            pr["number"] = json!(number);
            pr["html_url"] = json!(format!("https://github.com/acme/web/pull/{number}"));
            pr["title"] = value["title"].clone();
            pr["body"] = value["body"].clone();
            pr["draft"] = value["draft"].clone();
            pr["head"]["ref"] = json!(head);
            pr["head"]["sha"] = json!(sha);
            pr["base"]["ref"] = value["base"].clone();
            recorded.prs.push(pr.clone());
            json_response(201, pr)
        }
        ("GET" | "PATCH", ["pulls", n]) => {
            let Some(pr) = recorded.prs.iter_mut().find(|p| number_is(p, n)) else {
                return json_response(404, json!({ "message": "Not Found" }));
            };
            if method == Method::PATCH {
                pr["body"] = value["body"].clone();
            }
            json_response(200, pr.clone())
        }
        ("POST", ["issues", _, "labels"]) => json_response(200, json!([])),
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let pr = recorded.prs.iter().find(|p| number_is(p, n)).cloned().unwrap_or_default();
            json_response(201, pr)
        }
        ("PUT", ["pulls", n, "merge"]) => {
            let Some(pr) = recorded.prs.iter_mut().find(|p| number_is(p, n)) else {
                return json_response(404, json!({ "message": "Not Found" }));
            };
            let head = pr["head"]["ref"].as_str().unwrap_or_default().to_string();
            let tip = git_out(&bare, &["rev-parse", &format!("refs/heads/{head}")]).unwrap_or_default();
            if value["sha"].as_str() != Some(tip.as_str()) {
                return json_response(
                    409,
                    json!({ "message": "Head branch was modified. Review and try the merge again." }),
                );
            }
            // A squash: the branch's tree on top of main, one commit.
            let title = value["commit_title"].as_str().unwrap_or("merge");
            let merged = git_out(&bare, &["merge-tree", "--write-tree", "main", &tip])
                .and_then(|tree| {
                    git_out(
                        &bare,
                        &[
                            "-c",
                            "user.name=GitHub",
                            "-c",
                            "user.email=noreply@github.com",
                            "commit-tree",
                            &tree,
                            "-p",
                            "main",
                            "-m",
                            title,
                        ],
                    )
                })
                .and_then(|sha| git_out(&bare, &["update-ref", "refs/heads/main", &sha]).map(|_| sha));
            match merged {
                Ok(sha) => {
                    pr["state"] = json!("closed");
                    pr["merged"] = json!(true);
                    pr["merge_commit_sha"] = json!(sha);
                    json_response(
                        200,
                        json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
                    )
                }
                Err(_) => json_response(405, json!({ "message": "Pull Request is not mergeable" })),
            }
        }
        ("DELETE", ["git", "refs", "heads", branch @ ..]) => {
            match git_out(&bare, &["update-ref", "-d", &format!("refs/heads/{}", branch.join("/"))]) {
                Ok(_) => StatusCode::NO_CONTENT.into_response(),
                Err(_) => json_response(422, json!({ "message": "Reference does not exist" })),
            }
        }
        _ => json_response(404, json!({ "message": "Not Found" })),
    }
}

/// git's smart HTTP through `git http-backend` (CGI), for requests with the token only.
async fn git_http(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> Response {
    use base64::Engine;
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{TOKEN}")));
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if given != expected {
        shared.recorded.lock().unwrap().git_refused += 1;
        let mut response = (StatusCode::UNAUTHORIZED, "authentication required").into_response();
        response.headers_mut().insert("www-authenticate", "Basic realm=\"GitHub\"".parse().unwrap());
        return response;
    }
    shared.recorded.lock().unwrap().git_served += 1;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &shared.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", uri.path())
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    });
    let out = child.wait_with_output().await.unwrap().stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, gap)) = split else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad CGI answer").into_response();
    };
    let head = String::from_utf8_lossy(&out[..at]).into_owned();
    let mut response = Response::new(axum::body::Body::from(out[at + gap..].to_vec()));
    for line in head.lines() {
        let Some((name, v)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("status") {
            let code = v.trim().split(' ').next().and_then(|c| c.parse().ok()).unwrap_or(200);
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
        } else if let (Ok(n), Ok(v)) = (name.trim().parse::<axum::http::HeaderName>(), v.trim().parse()) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}
