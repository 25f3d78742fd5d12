//! The pure rules of talking to GitHub: when to wait and try again (rate limits, 5xx), how
//! a refusal reads to people, which repository a clone URL names, and the pull request's body.

use std::time::Duration;

/// What to do about a response that was not a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this long.
    After(Duration),
    /// Do not try again: the answer is final.
    No,
}

/// The headers the decision reads (lower-case names, as sent).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub retry_after: Option<String>,
    pub remaining: Option<String>,
    pub reset: Option<String>,
}

/// How many times a 5xx is tried again (1 s, 2 s, 4 s) before GitHub is called unavailable.
pub const SERVER_RETRIES: u32 = 3;

/// Whether and when to try again after `status`, on attempt `attempt` (0 = the first),
/// at `now` (Unix seconds). GitHub's rules: a `Retry-After` is obeyed; a primary limit
/// (`x-ratelimit-remaining: 0`) waits until `x-ratelimit-reset`; a secondary limit without
/// either waits at least a minute (docs.github.com, "Rate limits for the REST API").
pub fn retry(status: u16, limits: &Limits, body: &str, attempt: u32, now: i64) -> Retry {
    let limited = status == 429 || (status == 403 && is_rate_limit(limits, body));
    if limited {
        if let Some(secs) = limits.retry_after.as_deref().and_then(|v| v.trim().parse::<u64>().ok()) {
            return Retry::After(Duration::from_secs(secs.max(1)));
        }
        if limits.remaining.as_deref().map(str::trim) == Some("0") {
            if let Some(reset) = limits.reset.as_deref().and_then(|v| v.trim().parse::<i64>().ok()) {
                // A second of slack: GitHub's clock and ours.
                return Retry::After(Duration::from_secs(u64::try_from(reset - now).unwrap_or(0) + 1));
            }
        }
        return Retry::After(Duration::from_secs(60 << attempt.min(4)));
    }
    if status >= 500 && attempt < SERVER_RETRIES {
        return Retry::After(Duration::from_secs(1 << attempt));
    }
    Retry::No
}

fn is_rate_limit(limits: &Limits, body: &str) -> bool {
    limits.retry_after.is_some()
        || limits.remaining.as_deref().map(str::trim) == Some("0")
        || body.to_ascii_lowercase().contains("rate limit")
}

/// A refusal from GitHub in words for the run's thread: the message, what each error says,
/// and what the common 422s, 405s and 409s mean for the person reading.
pub fn in_words(status: u16, body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = value["message"].as_str().unwrap_or("").trim().to_string();
    let details: Vec<String> = value["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| match e.as_str() {
                    Some(text) => text.to_string(),
                    None => e["message"].as_str().map(str::to_string).unwrap_or_else(|| {
                        let field = e["field"].as_str().unwrap_or("?");
                        let code = e["code"].as_str().unwrap_or("invalid");
                        format!("{} {field} is {code}", e["resource"].as_str().unwrap_or("the request's"))
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    let all = format!("{message} {}", details.join(" ")).to_ascii_lowercase();
    let meaning = if all.contains("pull request already exists") {
        Some("a pull request for this branch is already open")
    } else if all.contains("reference already exists") {
        Some("the branch already exists on GitHub")
    } else if all.contains("protected branch") || all.contains("branch protection") {
        Some("the branch is protected: its rules (required reviews or checks) must be met on GitHub first")
    } else if status == 405 || all.contains("not mergeable") {
        Some("GitHub cannot merge it as it is (conflicts, or required checks or reviews missing)")
    } else if status == 409 || all.contains("head branch was modified") {
        Some("the branch changed since it was approved; nothing was merged")
    } else if status == 404 {
        Some("the repository or pull request is not there, or the app cannot see it")
    } else if status == 401 {
        Some("GitHub did not accept pmbot's credentials")
    } else if status == 403 {
        Some("pmbot's GitHub app or token lacks the permission for this")
    } else {
        None
    };
    let mut out = format!("GitHub said {status}");
    if !message.is_empty() {
        out.push_str(&format!(": {message}"));
    }
    if !details.is_empty() {
        out.push_str(&format!(" ({})", details.join("; ")));
    }
    if let Some(meaning) = meaning {
        out.push_str(&format!(" — {meaning}"));
    }
    out
}

/// `owner/name` from a clone URL (`https://github.com/o/r.git`, `git@github.com:o/r.git`,
/// a GHES URL with a path prefix): its last two path segments.
pub fn repo_slug(url: &str) -> Option<String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, p)| p)?,
        None => url.split_once(':').map(|(_, p)| p)?,
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.rsplit('/');
    let (name, owner) = (parts.next()?, parts.next()?);
    let fine = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    (fine(owner) && fine(name) && name != "." && name != "..").then(|| format!("{owner}/{name}"))
}

/// Where GraphQL is, given the REST API's base: `https://api.github.com` for github.com,
/// `https://ghe.example/api` for GitHub Enterprise's `https://ghe.example/api/v3`.
pub fn graphql_base(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    trimmed.strip_suffix("/v3").unwrap_or(trimmed).to_string()
}

/// The header git sends to the repository with an installation or personal token
/// (`x-access-token` is GitHub's user name for tokens over HTTPS).
pub fn git_auth_header(token: &str) -> String {
    use base64::Engine;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    format!("Authorization: Basic {credentials}")
}

/// What a pull request's body says: the ticket, the SPEC's summary, the diff stat, the QA
/// results, and who asked.
pub struct Body<'a> {
    pub ticket: &'a str,
    pub ticket_url: Option<&'a str>,
    pub title: &'a str,
    pub summary: &'a str,
    pub checklist: &'a [String],
    pub stat: &'a str,
    pub qa: &'a [String],
    pub run: i64,
    pub requested_by: &'a str,
}

pub fn pr_body(b: &Body) -> String {
    let ticket = match b.ticket_url {
        Some(url) => format!("[{}]({url})", b.ticket),
        None => b.ticket.to_string(),
    };
    let mut out = format!("Fixes {ticket}: {}\n\n## What and why\n\n{}\n", b.title, b.summary.trim());
    if !b.checklist.is_empty() {
        out.push_str("\n## Acceptance\n\n");
        for item in b.checklist {
            out.push_str(&format!("- [ ] {item}\n"));
        }
    }
    if !b.stat.trim().is_empty() {
        out.push_str(&format!("\n## Changes\n\n```\n{}\n```\n", b.stat.trim()));
    }
    out.push_str("\n## QA\n\n");
    if b.qa.is_empty() {
        out.push_str("No QA gates are configured for this project: nothing was run.\n");
    }
    for line in b.qa {
        out.push_str(&format!("- {line}\n"));
    }
    out.push_str(&format!(
        "\n---\nOpened by pmbot's AI queue (fix run #{}, asked for by {}). Approve or request changes here or in the chat thread.\n",
        b.run, b.requested_by
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(retry_after: Option<&str>, remaining: Option<&str>, reset: Option<&str>) -> Limits {
        Limits {
            retry_after: retry_after.map(str::to_string),
            remaining: remaining.map(str::to_string),
            reset: reset.map(str::to_string),
        }
    }

    #[test]
    fn a_retry_after_is_obeyed() {
        let l = limits(Some("17"), None, None);
        assert_eq!(retry(429, &l, "", 0, 0), Retry::After(Duration::from_secs(17)));
        assert_eq!(retry(403, &l, "", 0, 0), Retry::After(Duration::from_secs(17)));
    }

    #[test]
    fn a_spent_primary_limit_waits_for_its_reset() {
        let l = limits(None, Some("0"), Some("1000"));
        assert_eq!(retry(403, &l, "API rate limit exceeded", 0, 970), Retry::After(Duration::from_secs(31)));
        // A reset in the past still waits a second, never a negative time.
        assert_eq!(retry(403, &l, "", 0, 2000), Retry::After(Duration::from_secs(1)));
    }

    #[test]
    fn a_secondary_limit_without_headers_waits_at_least_a_minute() {
        let body = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(retry(403, &Limits::default(), body, 0, 0), Retry::After(Duration::from_secs(60)));
        assert_eq!(retry(403, &Limits::default(), body, 2, 0), Retry::After(Duration::from_secs(240)));
    }

    #[test]
    fn a_permission_403_is_final() {
        let body = r#"{"message":"Resource not accessible by integration"}"#;
        assert_eq!(retry(403, &limits(None, Some("4999"), Some("1")), body, 0, 0), Retry::No);
    }

    #[test]
    fn server_errors_back_off_then_stop() {
        let l = Limits::default();
        assert_eq!(retry(502, &l, "", 0, 0), Retry::After(Duration::from_secs(1)));
        assert_eq!(retry(503, &l, "", 2, 0), Retry::After(Duration::from_secs(4)));
        assert_eq!(retry(500, &l, "", SERVER_RETRIES, 0), Retry::No);
        assert_eq!(retry(422, &l, "", 0, 0), Retry::No);
    }

    #[test]
    fn refusals_read_as_sentences() {
        // octokit/fixtures `errors` scenario: a 422 with one structured error.
        let recorded =
            r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"invalid","field":"color"}]}"#;
        assert_eq!(in_words(422, recorded), "GitHub said 422: Validation Failed (Label color is invalid)");
        let exists = r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:pmbot/fix-1."}]}"#;
        assert!(in_words(422, exists).ends_with("— a pull request for this branch is already open"));
        let merge = r#"{"message":"Pull Request is not mergeable"}"#;
        assert!(in_words(405, merge).contains("cannot merge it as it is"));
        let protected = r#"{"message":"Protected branch update failed for refs/heads/main."}"#;
        assert!(in_words(422, protected).contains("the branch is protected"));
        assert_eq!(in_words(502, "<html>"), "GitHub said 502");
    }

    #[test]
    fn slugs_come_from_clone_urls() {
        assert_eq!(repo_slug("https://github.com/acme/web.git").as_deref(), Some("acme/web"));
        assert_eq!(repo_slug("https://ghe.acme.io/scm/acme/web/").as_deref(), Some("acme/web"));
        assert_eq!(repo_slug("git@github.com:acme/web.git").as_deref(), Some("acme/web"));
        assert_eq!(repo_slug("http://127.0.0.1:9/acme/web.git").as_deref(), Some("acme/web"));
        assert_eq!(repo_slug("/srv/git/web"), None);
        assert_eq!(repo_slug("https://github.com/web"), None);
    }

    #[test]
    fn graphql_is_beside_the_rest_api() {
        assert_eq!(graphql_base("https://api.github.com"), "https://api.github.com");
        assert_eq!(graphql_base("https://ghe.acme.io/api/v3/"), "https://ghe.acme.io/api");
    }

    #[test]
    fn the_git_header_is_basic_auth_with_the_token() {
        assert_eq!(git_auth_header("t"), "Authorization: Basic eC1hY2Nlc3MtdG9rZW46dA==");
    }

    #[test]
    fn the_body_has_spec_stat_and_qa() {
        let qa = vec!["✅ test passed in 1.0 s".to_string()];
        let checklist = vec!["the button works".to_string()];
        let body = pr_body(&Body {
            ticket: "WEB-12",
            ticket_url: None,
            title: "Button broken",
            summary: "Fix the handler.",
            checklist: &checklist,
            stat: " src/a.rs | 2 +-",
            qa: &qa,
            run: 4,
            requested_by: "Pat Morgan",
        });
        assert!(body.starts_with("Fixes WEB-12: Button broken"));
        assert!(body.contains("- [ ] the button works") && body.contains("src/a.rs | 2 +-"));
        assert!(body.contains("- ✅ test passed") && body.contains("fix run #4"));
    }
}
