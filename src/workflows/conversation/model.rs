//! What the conversation job asks the language model and how its answer is read. Pure: the
//! prompt from the message and the matcher's candidates; the answer parsed from strict JSON
//! and checked against those candidates, so the model can only choose what the board offers.
//! The client (`crate::llm`) only carries the prompt there and the text back.

use crate::board::Status;
use crate::llm::LlmError;
use crate::workflows::matching::MatchTicket;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What the model is asked about: one message, its thread, the candidate tickets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub message: String,
    /// Earlier messages of the thread, oldest first.
    pub thread: Vec<String>,
    pub candidates: Vec<MatchTicket>,
    /// What the deterministic matcher decided, as a hint.
    pub matcher: Value,
}

/// The model's answer, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// comment | move | create | none
    pub decision: String,
    #[serde(default)]
    pub ticket: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    pub confidence: f64,
    pub rationale: String,
    /// For `create`: the new ticket's title and description.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

pub const SYSTEM: &str = "You keep a software team's ticket board in step with its chat. For one chat \
message (with its thread), decide exactly one of: \"comment\" (it is about one of the candidate tickets), \
\"move\" (it says a candidate ticket's work changed status: backlog, todo, in_progress, in_review, blocked, \
done), \"create\" (it asks for new work no candidate covers), \"none\" (chit-chat or nothing to do). \
Answer with one JSON object and nothing else: {\"decision\": string, \"ticket\": candidate key or null, \
\"status\": new status for a move or null, \"confidence\": number from 0 to 1, \"rationale\": one sentence \
naming the evidence, \"title\": for create a ticket title under 80 characters else null, \"description\": \
for create two or three sentences from the thread else null}. Only use keys from the candidates.";

/// The user turn: the question as JSON (the model reads structure better than prose).
pub fn prompt(question: &Question) -> String {
    let candidates: Vec<Value> = question
        .candidates
        .iter()
        .map(|t| {
            let description: String = t.description.chars().take(300).collect();
            json!({ "key": t.key, "title": t.title, "status": t.status, "description": description })
        })
        .collect();
    let message: String = question.message.chars().take(2000).collect();
    let thread: Vec<String> = question.thread.iter().map(|m| m.chars().take(500).collect()).collect();
    json!({ "message": message, "thread": thread, "candidates": candidates, "matcher": question.matcher }).to_string()
}

/// Reads the model's text: one JSON object (a fenced code block around it is tolerated),
/// valid against `candidates`.
pub fn parse(text: &str, candidates: &[MatchTicket]) -> Result<Answer, LlmError> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed)
        .trim();
    let answer: Answer = serde_json::from_str(unfenced).map_err(|e| {
        let start: String = unfenced.chars().take(80).collect();
        LlmError::NotJson(format!("{e} (answer began “{start}”)"))
    })?;
    check(answer, candidates)
}

fn check(mut answer: Answer, candidates: &[MatchTicket]) -> Result<Answer, LlmError> {
    let invalid = |why: String| Err(LlmError::Invalid(why));
    if !answer.confidence.is_finite() || !(0.0..=1.0).contains(&answer.confidence) {
        return invalid(format!("confidence {} is not between 0 and 1", answer.confidence));
    }
    answer.rationale = answer.rationale.split_whitespace().collect::<Vec<_>>().join(" ");
    if answer.rationale.is_empty() {
        return invalid("no rationale".into());
    }
    answer.rationale = answer.rationale.chars().take(300).collect();
    let known = |key: &str| candidates.iter().find(|t| t.key.eq_ignore_ascii_case(key)).map(|t| t.key.clone());
    match answer.decision.as_str() {
        "comment" | "move" => {
            let Some(key) = answer.ticket.as_deref() else {
                return invalid(format!("a {} without a ticket", answer.decision));
            };
            let Some(key) = known(key) else {
                return invalid(format!("{key} is not among the candidates"));
            };
            answer.ticket = Some(key);
            if answer.decision == "move" {
                let status: Status = match answer.status.as_deref().map(str::parse) {
                    Some(Ok(status)) => status,
                    _ => return invalid(format!("a move to an unknown status ({:?})", answer.status)),
                };
                answer.status = Some(status.as_str().to_string());
            } else {
                answer.status = None;
            }
        }
        "create" | "none" => {
            answer.ticket = None;
            answer.status = None;
        }
        other => return invalid(format!("unknown decision \"{other}\"")),
    }
    let tidy = |s: Option<String>, max: usize| {
        s.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(max).collect::<String>())
    };
    if answer.decision == "create" {
        answer.title = tidy(answer.title, 120);
        answer.description =
            answer.description.map(|d| d.chars().take(2000).collect::<String>()).filter(|d| !d.trim().is_empty());
    } else {
        answer.title = None;
        answer.description = None;
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates() -> Vec<MatchTicket> {
        vec![MatchTicket {
            key: "WEB-6".into(),
            title: "Checkout: show the VAT breakdown per line".into(),
            description: String::new(),
            status: "in_progress".into(),
            assignee: None,
            epic: None,
            labels: vec![],
            comments: vec![],
            updated_at: None,
        }]
    }

    #[test]
    fn a_valid_answer_is_read_and_normalised() {
        let text = r#"```json
{"decision": "move", "ticket": "web-6", "status": "in review", "confidence": 0.88, "rationale": "It says the VAT PR is up."}
```"#;
        let answer = parse(text, &candidates()).unwrap();
        assert_eq!((answer.ticket.as_deref(), answer.status.as_deref()), (Some("WEB-6"), Some("in_review")));
    }

    #[test]
    fn answers_outside_the_promise_are_refused() {
        let cases = [
            ("Sure! I think it is WEB-6.", "not the promised JSON"),
            (r#"{"decision": "comment", "ticket": "WEB-99", "confidence": 0.9, "rationale": "x"}"#, "not among"),
            (
                r#"{"decision": "move", "ticket": "WEB-6", "status": "shipped-ish", "confidence": 0.9, "rationale": "x"}"#,
                "unknown status",
            ),
            (r#"{"decision": "comment", "ticket": "WEB-6", "confidence": 1.7, "rationale": "x"}"#, "between 0 and 1"),
            (r#"{"decision": "delete", "confidence": 0.9, "rationale": "x"}"#, "unknown decision"),
            (r#"{"decision": "none", "confidence": 0.9, "rationale": "  "}"#, "no rationale"),
            (r#"{"decision": "comment", "confidence": 0.9, "rationale": "x"}"#, "without a ticket"),
            ("", "not the promised JSON"),
        ];
        for (text, why) in cases {
            let err = parse(text, &candidates()).unwrap_err();
            assert!(err.to_string().contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn a_create_keeps_a_tidy_title_and_drops_any_ticket() {
        let text = r#"{"decision": "create", "ticket": "WEB-6", "confidence": 0.7, "rationale": "New work.",
            "title": "  CSV   export for orders ", "description": "Finance wants the orders page as CSV."}"#;
        let answer = parse(text, &candidates()).unwrap();
        assert_eq!((answer.ticket, answer.title.as_deref()), (None, Some("CSV export for orders")));
    }

    #[test]
    fn the_prompt_carries_message_thread_and_candidates_clipped() {
        let question = Question {
            message: "x".repeat(10_000),
            thread: vec!["first".into()],
            candidates: candidates(),
            matcher: json!({ "decision": "comment" }),
        };
        let prompt: Value = serde_json::from_str(&prompt(&question)).unwrap();
        assert_eq!(prompt["message"].as_str().unwrap().len(), 2000);
        assert_eq!(prompt["candidates"][0]["key"], "WEB-6");
        assert_eq!(prompt["thread"][0], "first");
    }
}
