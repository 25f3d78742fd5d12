//! Alertmanager's webhook, read and decided: which alerts, routed to which project, with
//! what title, description and priority, and what each one does to the board given what
//! pmbot knows of its fingerprint. Pure.

use crate::board::{Priority, TicketKey};
use crate::config::AlertRoute;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One alert of a notification (Alertmanager's webhook format, also SigNoz's).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alert {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    pub starts_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub alerts: Vec<Alert>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
}

/// The notification `value` holds, or why it is not one.
pub fn parse(value: &serde_json::Value) -> Result<Notification, String> {
    if !value.get("alerts").is_some_and(serde_json::Value::is_array) {
        return Err("an Alertmanager notification has an \"alerts\" array".into());
    }
    Notification::deserialize(value).map_err(|e| format!("not an Alertmanager notification: {e}"))
}

impl Alert {
    /// Alertmanager's fingerprint, or one made from the labels when a sender leaves it out.
    pub fn key(&self) -> String {
        if !self.fingerprint.trim().is_empty() {
            return self.fingerprint.trim().chars().take(64).collect();
        }
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("labels-{}", crate::digest::short(labels.join(",").as_bytes()))
    }

    pub fn firing(&self) -> bool {
        !self.status.eq_ignore_ascii_case("resolved")
    }

    /// "HighErrorRate: service=web, instance=a" — the name and the labels that tell this
    /// one apart (not the name itself, nor severity).
    pub fn title(&self) -> String {
        let name = self.labels.get("alertname").cloned().unwrap_or_else(|| "Alert".into());
        let rest: Vec<String> = self
            .labels
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "severity"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let title = if rest.is_empty() { name } else { format!("{name}: {}", rest.join(", ")) };
        title.chars().take(crate::board::MAX_TITLE_CHARS - 10).collect()
    }

    pub fn description(&self, external_url: &str) -> String {
        let mut out = String::new();
        for key in ["summary", "description", "message"] {
            if let Some(text) = self.annotations.get(key) {
                out.push_str(&format!("{text}\n\n"));
            }
        }
        for (key, text) in
            self.annotations.iter().filter(|(k, _)| !matches!(k.as_str(), "summary" | "description" | "message"))
        {
            out.push_str(&format!("{key}: {text}\n"));
        }
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("\nLabels: {}\nFiring since {}.", labels.join(", "), self.starts_at));
        let source = if self.generator_url.is_empty() { external_url } else { &self.generator_url };
        if !source.is_empty() {
            out.push_str(&format!("\nSource: {source}"));
        }
        out
    }

    pub fn priority(&self) -> Priority {
        match self.labels.get("severity").map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("critical" | "page" | "emergency" | "fatal") => Priority::Critical,
            Some("error" | "high" | "major") => Priority::High,
            Some("info" | "low" | "none") => Priority::Low,
            _ => Priority::Medium,
        }
    }
}

/// The project of the first route whose matchers all hold, else `fallback`.
pub fn route<'a>(alert: &Alert, routes: &'a [AlertRoute], fallback: Option<&'a str>) -> Option<&'a str> {
    routes
        .iter()
        .find(|r| r.matchers.iter().all(|(k, v)| alert.labels.get(k) == Some(v)))
        .map(|r| r.project.as_str())
        .or(fallback)
}

/// What pmbot knows of a fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub ticket: TicketKey,
    pub firing: bool,
    /// The ticket is still open.
    pub open: bool,
    pub opened_by_pmbot: bool,
    /// Nobody but pmbot has changed or commented on the ticket.
    pub untouched: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A new ticket for a new (or reopened after closing) alert.
    Open,
    /// Firing again after it had resolved: a comment, and the ticket reopened if closed.
    Refired,
    /// Still firing: nothing new.
    Nothing,
    /// Resolved: a comment, and the ticket closed when pmbot may.
    Resolved { close: bool },
}

/// What `alert` does, given what is `known` of it.
pub fn decide(alert: &Alert, known: Option<&Known>, close_resolved: bool) -> Step {
    match (alert.firing(), known) {
        (true, None) => Step::Open,
        // Resolved before (and maybe closed by pmbot): the same ticket, reopened.
        (true, Some(k)) if !k.firing => Step::Refired,
        // Closed by a person while it still fired: they are done with it; a new ticket.
        (true, Some(k)) if !k.open => Step::Open,
        (true, Some(_)) => Step::Nothing,
        (false, None) => Step::Nothing,
        (false, Some(k)) if !k.firing || !k.open => Step::Nothing,
        (false, Some(k)) => Step::Resolved { close: close_resolved && k.opened_by_pmbot && k.untouched },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            status: status.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: BTreeMap::from([("summary".to_string(), "Error rate above 5%".to_string())]),
            starts_at: "2026-12-01T10:00:00Z".into(),
            generator_url: "http://prometheus/graph".into(),
            fingerprint: "abc".into(),
        }
    }

    fn known(firing: bool, open: bool, untouched: bool) -> Known {
        Known { ticket: "WEB-1".parse().unwrap(), firing, open, opened_by_pmbot: true, untouched }
    }

    #[test]
    fn titles_priorities_and_descriptions() {
        let a = alert("firing", &[("alertname", "HighErrorRate"), ("service", "web"), ("severity", "critical")]);
        assert_eq!(a.title(), "HighErrorRate: service=web");
        assert_eq!(a.priority(), Priority::Critical);
        let d = a.description("");
        assert!(d.starts_with("Error rate above 5%") && d.contains("Source: http://prometheus/graph"), "{d}");
        assert_eq!(alert("firing", &[]).priority(), Priority::Medium);
    }

    #[test]
    fn routes_match_every_label_they_name() {
        let routes: Vec<AlertRoute> = vec![
            toml::from_str("project = \"APP\"\nmatchers = { service = \"mobile\", env = \"prod\" }").unwrap(),
            toml::from_str("project = \"WEB\"\nmatchers = { service = \"web\" }").unwrap(),
        ];
        assert_eq!(route(&alert("firing", &[("service", "web")]), &routes, Some("OPS")), Some("WEB"));
        assert_eq!(route(&alert("firing", &[("service", "mobile")]), &routes, Some("OPS")), Some("OPS"));
        assert_eq!(route(&alert("firing", &[("service", "mobile"), ("env", "prod")]), &routes, None), Some("APP"));
    }

    #[test]
    fn one_ticket_per_fingerprint_while_firing() {
        let firing = alert("firing", &[]);
        let resolved = alert("resolved", &[]);
        assert_eq!(decide(&firing, None, true), Step::Open);
        assert_eq!(decide(&firing, Some(&known(true, true, true)), true), Step::Nothing);
        assert_eq!(decide(&firing, Some(&known(false, true, true)), true), Step::Refired);
        assert_eq!(decide(&firing, Some(&known(false, false, true)), true), Step::Refired);
        assert_eq!(decide(&firing, Some(&known(true, false, true)), true), Step::Open);
        assert_eq!(decide(&resolved, Some(&known(true, true, true)), true), Step::Resolved { close: true });
        assert_eq!(decide(&resolved, Some(&known(true, true, false)), true), Step::Resolved { close: false });
        assert_eq!(decide(&resolved, Some(&known(true, true, true)), false), Step::Resolved { close: false });
        assert_eq!(decide(&resolved, None, true), Step::Nothing);
    }

    #[test]
    fn fingerprints_come_from_labels_when_missing() {
        let mut a = alert("firing", &[("alertname", "X")]);
        a.fingerprint.clear();
        let b = a.clone();
        assert_eq!(a.key(), b.key());
        assert!(a.key().starts_with("labels-"));
        assert!(parse(&serde_json::json!({ "alerts": 3 })).is_err());
        assert!(parse(&serde_json::json!([])).is_err());
    }
}
