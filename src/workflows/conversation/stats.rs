//! How the bot's conversation decisions fared, per action: how many it did on its own and how
//! many of those were undone, how many it suggested and how people answered. Pure.

use crate::store::Decision;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActionStats {
    /// Done on its own (at or above `auto`).
    pub done: u32,
    /// …and then undone by a person.
    pub undone: u32,
    /// Suggested with buttons (between `ask` and `auto`).
    pub suggested: u32,
    pub accepted: u32,
    /// Answered "Different ticket…".
    pub redirected: u32,
    pub declined: u32,
    pub expired: u32,
    /// Below `ask`, or in a shadow channel: logged only.
    pub logged: u32,
}

impl ActionStats {
    /// Accepted suggestions over answered ones; `None` before any answer.
    pub fn acceptance(&self) -> Option<f64> {
        let answered = self.accepted + self.redirected + self.declined;
        (answered > 0).then(|| f64::from(self.accepted) / f64::from(answered))
    }

    /// Actions done on its own that nobody undid.
    pub fn kept(&self) -> Option<f64> {
        (self.done > 0).then(|| f64::from(self.done - self.undone.min(self.done)) / f64::from(self.done))
    }
}

/// What a suggestion's decision row may say: waiting, then how it was answered.
pub const SUGGESTION_OUTCOMES: &[&str] =
    &["asking", "asked", "accepted", "accepted+undone", "redirected", "declined", "expired"];

/// Per action (`comment`, `move`, `create`), from `conversation.match` and
/// `conversation.answer` decisions.
pub fn stats(decisions: &[Decision]) -> BTreeMap<String, ActionStats> {
    let mut out: BTreeMap<String, ActionStats> = BTreeMap::new();
    for d in decisions {
        let action = d.action.split(':').next().unwrap_or_default().to_string();
        if !matches!(action.as_str(), "comment" | "move" | "create") {
            continue;
        }
        let entry = out.entry(action).or_default();
        match (d.kind.as_str(), d.outcome.as_str()) {
            ("conversation.match", "done") => entry.done += 1,
            ("conversation.match", "undone") => {
                entry.done += 1;
                entry.undone += 1;
            }
            ("conversation.match", "logged" | "shadow") => entry.logged += 1,
            ("conversation.match", outcome) if SUGGESTION_OUTCOMES.contains(&outcome) => entry.suggested += 1,
            ("conversation.answer", "yes") => entry.accepted += 1,
            ("conversation.answer", "different") => entry.redirected += 1,
            ("conversation.answer", "no") => entry.declined += 1,
            ("conversation.answer", "expired") => entry.expired += 1,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn row(kind: &str, action: &str, outcome: &str) -> Decision {
        Decision {
            id: 0,
            kind: kind.into(),
            subject: "ENG-1".into(),
            inputs: json!({}),
            rationale: String::new(),
            confidence: 0.8,
            action: action.into(),
            actor: "pmbot".into(),
            outcome: outcome.into(),
            source: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn suggestions_and_answers_give_the_acceptance_rate() {
        let rows = vec![
            row("conversation.match", "comment", "accepted"),
            row("conversation.match", "comment", "declined"),
            row("conversation.match", "comment", "redirected"),
            row("conversation.match", "comment", "accepted+undone"),
            row("conversation.match", "comment", "asked"),
            row("conversation.answer", "comment", "yes"),
            row("conversation.answer", "comment", "no"),
            row("conversation.answer", "comment", "different"),
            row("conversation.match", "move:done", "done"),
            row("conversation.match", "move:in_review", "undone"),
            row("conversation.match", "create", "logged"),
            row("conversation.match", "none", "none"),
        ];
        let stats = stats(&rows);
        let comment = &stats["comment"];
        assert_eq!((comment.suggested, comment.accepted, comment.declined, comment.redirected), (5, 1, 1, 1));
        assert!((comment.acceptance().unwrap() - 1.0 / 3.0).abs() < 1e-9);
        let moves = &stats["move"];
        assert_eq!((moves.done, moves.undone), (2, 1));
        assert_eq!(moves.kept(), Some(0.5));
        assert_eq!(moves.acceptance(), None);
        assert_eq!(stats["create"].logged, 1);
        assert!(!stats.contains_key("none"));
    }
}
