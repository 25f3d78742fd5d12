//! GitHub's webhook deliveries, read into what pmbot acts on (pure). Fields are read
//! leniently: a payload missing something pmbot does not need is still understood, one
//! missing what it needs is an error in words (the delivery gets a 400).

use serde_json::Value;

/// A pull request as its events carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    pub number: i64,
    pub title: String,
    pub body: String,
    pub branch: String,
    pub head_sha: String,
    pub url: String,
    pub author: String,
    pub merged: bool,
    pub draft: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub number: i64,
    pub title: String,
    pub body: String,
    pub url: String,
    pub author: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ping,
    PullRequest {
        action: String,
        repo: String,
        pr: PullRequest,
        sender: String,
    },
    Review {
        action: String,
        repo: String,
        pr: PullRequest,
        state: String,
        reviewer: String,
        body: String,
        /// The commit the review was made on.
        commit: String,
    },
    Issue {
        action: String,
        repo: String,
        issue: Issue,
        label: Option<String>,
        sender: String,
    },
    IssueComment {
        repo: String,
        number: i64,
        id: i64,
        body: String,
        author: String,
        by_bot: bool,
        on_pr: bool,
    },
    Push {
        repo: String,
        branch: Option<String>,
        default_branch: String,
        after: String,
    },
    /// A check run or a workflow run that completed.
    Check {
        repo: String,
        branch: String,
        sha: String,
        name: String,
        conclusion: String,
        url: String,
    },
    /// An event pmbot does not act on (it is acknowledged all the same).
    Ignored(String),
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn repo_of(payload: &Value) -> Result<String, String> {
    payload["repository"]["full_name"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "the payload names no repository (repository.full_name)".to_string())
}

fn pull_request(v: &Value) -> Result<PullRequest, String> {
    let number = v["number"].as_i64().ok_or("the pull request has no number")?;
    Ok(PullRequest {
        number,
        title: text(&v["title"]),
        body: text(&v["body"]),
        branch: text(&v["head"]["ref"]),
        head_sha: text(&v["head"]["sha"]),
        url: text(&v["html_url"]),
        author: text(&v["user"]["login"]),
        merged: v["merged"].as_bool().unwrap_or(false) || v["merged_at"].is_string(),
        draft: v["draft"].as_bool().unwrap_or(false),
    })
}

fn issue(v: &Value) -> Result<Issue, String> {
    Ok(Issue {
        number: v["number"].as_i64().ok_or("the issue has no number")?,
        title: text(&v["title"]),
        body: text(&v["body"]),
        url: text(&v["html_url"]),
        author: text(&v["user"]["login"]),
        labels: v["labels"]
            .as_array()
            .map(|l| l.iter().filter_map(|l| l["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    })
}

/// The event `name` (the `X-GitHub-Event` header) with its `payload`.
pub fn parse(name: &str, payload: &Value) -> Result<Event, String> {
    if !payload.is_object() {
        return Err("the payload is not a JSON object".into());
    }
    let action = text(&payload["action"]);
    Ok(match name {
        "ping" => Event::Ping,
        "pull_request" => Event::PullRequest {
            action,
            repo: repo_of(payload)?,
            pr: pull_request(&payload["pull_request"])?,
            sender: text(&payload["sender"]["login"]),
        },
        "pull_request_review" => {
            let review = &payload["review"];
            Event::Review {
                action,
                repo: repo_of(payload)?,
                pr: pull_request(&payload["pull_request"])?,
                state: text(&review["state"]).to_ascii_lowercase(),
                reviewer: text(&review["user"]["login"]),
                commit: text(&review["commit_id"]),
                body: text(&review["body"]),
            }
        }
        "issues" => Event::Issue {
            action,
            repo: repo_of(payload)?,
            issue: issue(&payload["issue"])?,
            label: payload["label"]["name"].as_str().map(str::to_string),
            sender: text(&payload["sender"]["login"]),
        },
        "issue_comment" => {
            let comment = &payload["comment"];
            Event::IssueComment {
                repo: repo_of(payload)?,
                number: payload["issue"]["number"].as_i64().ok_or("the comment's issue has no number")?,
                id: comment["id"].as_i64().ok_or("the comment has no id")?,
                body: text(&comment["body"]),
                author: text(&comment["user"]["login"]),
                by_bot: comment["user"]["type"].as_str() == Some("Bot")
                    || comment["performed_via_github_app"].is_object(),
                on_pr: payload["issue"]["pull_request"].is_object(),
            }
        }
        "push" => {
            let reference = text(&payload["ref"]);
            Event::Push {
                repo: repo_of(payload)?,
                branch: reference.strip_prefix("refs/heads/").map(str::to_string),
                default_branch: text(&payload["repository"]["default_branch"]),
                after: text(&payload["after"]),
            }
        }
        "check_run" | "workflow_run" if action == "completed" => {
            let run = if name == "check_run" { &payload["check_run"] } else { &payload["workflow_run"] };
            let branch = match name {
                "check_run" => run["check_suite"]["head_branch"].as_str().unwrap_or_default().to_string(),
                _ => text(&run["head_branch"]),
            };
            Event::Check {
                repo: repo_of(payload)?,
                branch,
                sha: text(&run["head_sha"]),
                name: text(&run["name"]),
                conclusion: run["conclusion"].as_str().unwrap_or("neutral").to_string(),
                url: text(&run["html_url"]),
            }
        }
        other => Event::Ignored(if action.is_empty() { other.to_string() } else { format!("{other}.{action}") }),
    })
}

/// Ticket keys named in a pull request's title, branch and body (`WEB-12`, `web-12`).
pub fn keys_named(pr: &PullRequest) -> Vec<String> {
    let mut keys = Vec::new();
    for part in [&pr.title, &pr.branch, &pr.body] {
        for key in crate::workflows::matching::ticket_keys(part, None) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys
}

/// Whether `signature` (`X-Hub-Signature-256: sha256=<hex>`) is the HMAC-SHA256 of `body`
/// under `secret`, compared in constant time.
pub fn signed(secret: &str, body: &[u8], signature: &str) -> bool {
    use hmac::{KeyInit, Mac};
    let Some(hex) = signature.trim().strip_prefix("sha256=") else { return false };
    let Some(expected) = decode_hex(hex) else { return false };
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Value {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github").join(path);
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
    }

    #[test]
    fn recorded_pull_request_events_are_read() {
        let Event::PullRequest { action, repo, pr, .. } =
            parse("pull_request", &fixture("pull_request/closed.payload.json")).unwrap()
        else {
            panic!("a pull request event")
        };
        assert_eq!((action.as_str(), repo.as_str(), pr.number), ("closed", "Codertocat/Hello-World", 2));
        assert_eq!(pr.branch, "changes");
        assert!(!pr.merged, "the recorded close is not a merge");
    }

    #[test]
    fn recorded_reviews_issues_comments_pushes_and_checks_are_read() {
        let review = parse("pull_request_review", &fixture("pull_request_review/submitted.payload.json")).unwrap();
        assert!(matches!(review, Event::Review { ref state, .. } if state == "commented"), "{review:?}");
        let labeled = parse("issues", &fixture("issues/labeled.payload.json")).unwrap();
        assert!(matches!(labeled, Event::Issue { ref label, .. } if label.as_deref() == Some("bug")), "{labeled:?}");
        let comment = parse("issue_comment", &fixture("issue_comment/created.payload.json")).unwrap();
        assert!(matches!(comment, Event::IssueComment { number: 1, on_pr: false, .. }), "{comment:?}");
        let push = parse("push", &fixture("push/payload.json")).unwrap();
        assert!(matches!(push, Event::Push { branch: None, .. }), "a tag push names no branch: {push:?}");
        let check = parse("check_run", &fixture("check_run/completed.payload.json")).unwrap();
        assert!(matches!(check, Event::Check { ref conclusion, .. } if conclusion == "success"), "{check:?}");
        let workflow = parse("workflow_run", &fixture("workflow_run/completed.payload.json")).unwrap();
        assert!(matches!(workflow, Event::Check { .. }), "{workflow:?}");
        assert_eq!(parse("ping", &fixture("ping/payload.json")).unwrap(), Event::Ping);
        let suite = parse("check_suite", &fixture("check_suite/completed.payload.json")).unwrap();
        assert_eq!(suite, Event::Ignored("check_suite.completed".into()));
    }

    #[test]
    fn a_payload_without_what_is_needed_is_an_error_in_words() {
        assert!(parse("pull_request", &serde_json::json!({ "action": "opened" })).unwrap_err().contains("repository"));
        assert!(parse("issues", &serde_json::json!([])).is_err());
    }

    #[test]
    fn keys_come_from_title_branch_and_body() {
        let pr = PullRequest {
            number: 1,
            title: "WEB-12: fix the header".into(),
            body: "Also touches app-3.".into(),
            branch: "web-12-header".into(),
            head_sha: String::new(),
            url: String::new(),
            author: String::new(),
            merged: false,
            draft: false,
        };
        assert_eq!(keys_named(&pr), ["WEB-12", "APP-3"]);
    }

    #[test]
    fn signatures_are_checked() {
        // GitHub's documented example: secret "It's a Secret to Everybody", body "Hello, World!".
        let signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signed("It's a Secret to Everybody", b"Hello, World!", signature));
        assert!(!signed("It's a Secret to Everybody", b"Hello, World?", signature));
        assert!(!signed("another secret", b"Hello, World!", signature));
        assert!(!signed("It's a Secret to Everybody", b"Hello, World!", "sha1=757107"));
        assert!(!signed("It's a Secret to Everybody", b"Hello, World!", "sha256=zz"));
    }
}
