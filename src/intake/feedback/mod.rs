//! The feedback form: `POST /api/feedback` from a team's website or app. A report becomes a
//! ticket in its source's project with the reporter recorded, and the answer carries the
//! ticket's key. The pure part: reading and checking a report, and the ticket it makes.

pub mod http;

use serde::Deserialize;
use serde_json::Value;

/// One report, as the form sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub reporter: Reporter,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub screenshot_url: Option<String>,
    /// Anything the form knows (browser, app version, user id): kept with the ticket.
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reporter {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 20_000;
const MAX_METADATA: usize = 4_000;

/// Reads `body`; what is wrong, said with the field's path.
pub fn read(body: &[u8]) -> Result<Report, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err("the report must be a JSON object: {\"title\": …}".into());
    }
    let report: Report = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    check(&report)?;
    Ok(report)
}

fn check(r: &Report) -> Result<(), String> {
    let title = r.title.trim();
    if title.is_empty() {
        return Err("title: required".into());
    }
    if title.chars().count() > MAX_TITLE {
        return Err(format!("title: at most {MAX_TITLE} characters"));
    }
    if r.description.chars().count() > MAX_DESCRIPTION {
        return Err(format!("description: at most {MAX_DESCRIPTION} characters"));
    }
    if let Some(email) = r.reporter.email.as_deref().filter(|e| !e.trim().is_empty()) {
        let email = email.trim();
        let (user, domain) = email.split_once('@').unwrap_or_default();
        if user.is_empty() || !domain.contains('.') || email.contains(char::is_whitespace) || email.len() > 254 {
            return Err("reporter.email: not an email address".into());
        }
    }
    for (field, url) in [("page_url", &r.page_url), ("screenshot_url", &r.screenshot_url)] {
        if let Some(url) = url.as_deref().filter(|u| !u.is_empty()) {
            let parsed = url::Url::parse(url).map_err(|_| format!("{field}: not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("{field}: only http and https URLs"));
            }
        }
    }
    if r.metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err("metadata: must be an object".into());
    }
    Ok(())
}

impl Report {
    pub fn email(&self) -> Option<String> {
        self.reporter.email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(str::to_ascii_lowercase)
    }

    /// "Ana Ruiz <ana@example.com>", or whichever part is known, or "someone".
    pub fn who(&self) -> String {
        match (self.reporter.name.as_deref().map(str::trim).filter(|n| !n.is_empty()), self.email()) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            (Some(name), None) => name.to_string(),
            (None, Some(email)) => email,
            (None, None) => "someone".into(),
        }
    }

    /// The ticket's description: what they wrote, where, who, and what the form knew.
    pub fn description(&self, source: &str) -> String {
        let mut out = self.description.trim().to_string();
        out.push_str(&format!("\n\nReported by {} through the {source} feedback form", self.who()));
        match self.page_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => out.push_str(&format!(" on {url}.")),
            None => out.push('.'),
        }
        if let Some(url) = self.screenshot_url.as_deref().filter(|u| !u.is_empty()) {
            out.push_str(&format!("\nScreenshot: {url}"));
        }
        if let Some(metadata) = self.metadata.as_ref().filter(|m| m.as_object().is_some_and(|o| !o.is_empty())) {
            let text = serde_json::to_string_pretty(metadata).unwrap_or_default();
            let text: String = text.chars().take(MAX_METADATA).collect();
            out.push_str(&format!("\n\n```\n{text}\n```"));
        }
        out.trim_start().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_report_is_read_and_described() {
        let body = br#"{"title":"Checkout button does nothing","description":"Clicked it twice.",
            "reporter":{"email":"Kim@Example.com","name":"Kim Lee"},"page_url":"https://shop.example/cart",
            "screenshot_url":"https://cdn.example/s.png","metadata":{"browser":"Firefox 133"}}"#;
        let report = read(body).unwrap();
        assert_eq!(report.email().as_deref(), Some("kim@example.com"));
        let text = report.description("website");
        assert!(text.starts_with("Clicked it twice.\n\nReported by Kim Lee <kim@example.com> through the website feedback form on https://shop.example/cart."));
        assert!(
            text.contains("Screenshot: https://cdn.example/s.png") && text.contains("\"browser\": \"Firefox 133\"")
        );
    }

    #[test]
    fn mistakes_are_named_by_their_field() {
        assert_eq!(read(br#"{"description":"x"}"#).unwrap_err(), "missing field `title`");
        assert!(read(b"[]").unwrap_err().starts_with("the report must be a JSON object"));
        assert!(read(b"{").unwrap_err().starts_with("not JSON"));
        assert_eq!(read(br#"{"title":"  "}"#).unwrap_err(), "title: required");
        assert!(read(br#"{"title":"t","reporter":{"email":"nope"}}"#).unwrap_err().starts_with("reporter.email"));
        assert!(read(br#"{"title":"t","page_url":"javascript:alert(1)"}"#).unwrap_err().starts_with("page_url"));
        assert!(read(br#"{"title":"t","metadata":[1]}"#).unwrap_err().starts_with("metadata"));
        assert!(read(br#"{"title":"t","colour":"red"}"#).unwrap_err().contains("unknown field `colour`"));
        assert!(read(br#"{"title":3}"#).unwrap_err().starts_with("title: invalid type"));
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(MAX_TITLE + 1));
        assert!(read(long.as_bytes()).unwrap_err().contains("at most"));
    }

    #[test]
    fn an_anonymous_report_says_someone() {
        let report = read(br#"{"title":"Typo on the about page"}"#).unwrap();
        assert_eq!(report.description("app"), "Reported by someone through the app feedback form.");
    }
}
