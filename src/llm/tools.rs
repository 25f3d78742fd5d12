//! Tool calling: one turn of a conversation in which the model may ask for tools (the
//! built-in coding agent's). The conversation is kept provider-neutral ([`Turn`]) and
//! written in each API's own shape; every turn is counted against the day's budget.

use super::{Llm, LlmError, Provider};
use crate::store::{Store, WorkspaceId};
use serde_json::{json, Value};

/// A tool the model may call: its name, what it does, and its JSON Schema.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: String,
    pub name: String,
    /// The arguments; `Value::Null` when the model sent something that is not JSON.
    pub input: Value,
}

/// One step of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    User(String),
    /// The model's answer: its text and the tools it asked for (none: it is done).
    Model {
        text: String,
        calls: Vec<Call>,
        tokens: u64,
    },
    /// What the tools answered, by call id.
    Results(Vec<(String, String)>),
}

const MAX_TURN_TOKENS: u32 = 4096;

impl Llm {
    /// Asks the model for its next turn of `conversation` under `system`, offering `tools`.
    pub async fn turn(
        &self,
        store: &Store,
        ws: &WorkspaceId,
        day: &str,
        system: &str,
        conversation: &[Turn],
        tools: &[Tool],
    ) -> Result<Turn, LlmError> {
        let budget = self.settings.daily_token_budget;
        let used = store.llm_tokens_used(ws, day).await?;
        if used >= budget {
            return Err(LlmError::Budget { used, budget });
        }
        let body = request(self.settings.provider, &self.settings.model, system, conversation, tools);
        let answered = match tokio::time::timeout(self.settings.timeout, self.post(&body)).await {
            Ok(result) => result,
            Err(_) => Err(LlmError::Timeout(self.settings.timeout)),
        };
        match answered.and_then(|value| read_turn(self.settings.provider, &value)) {
            Ok(turn) => {
                let tokens = match &turn {
                    Turn::Model { tokens, .. } => *tokens,
                    _ => 0,
                };
                store.record_llm_use(ws, day, tokens, false).await?;
                Ok(turn)
            }
            Err(err) => {
                store.record_llm_use(ws, day, 0, true).await?;
                Err(err)
            }
        }
    }
}

/// The request body for `provider`.
pub(super) fn request(provider: Provider, model: &str, system: &str, conversation: &[Turn], tools: &[Tool]) -> Value {
    match provider {
        Provider::OpenAiCompatible => {
            let mut messages = vec![json!({ "role": "system", "content": system })];
            for turn in conversation {
                match turn {
                    Turn::User(text) => messages.push(json!({ "role": "user", "content": text })),
                    Turn::Model { text, calls, .. } => {
                        let mut message = json!({ "role": "assistant", "content": text });
                        if !calls.is_empty() {
                            message["tool_calls"] = calls
                                .iter()
                                .map(|c| json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.input.to_string() } }))
                                .collect();
                        }
                        messages.push(message);
                    }
                    Turn::Results(results) => {
                        for (id, content) in results {
                            messages.push(json!({ "role": "tool", "tool_call_id": id, "content": content }));
                        }
                    }
                }
            }
            let tools: Vec<Value> = tools
                .iter()
                .map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } }))
                .collect();
            json!({ "model": model, "temperature": 0, "max_tokens": MAX_TURN_TOKENS, "messages": messages, "tools": tools })
        }
        Provider::Anthropic => {
            let mut messages = Vec::new();
            for turn in conversation {
                match turn {
                    Turn::User(text) => messages.push(json!({ "role": "user", "content": text })),
                    Turn::Model { text, calls, .. } => {
                        let mut content = Vec::new();
                        if !text.is_empty() {
                            content.push(json!({ "type": "text", "text": text }));
                        }
                        content.extend(
                            calls
                                .iter()
                                .map(|c| json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": c.input })),
                        );
                        messages.push(json!({ "role": "assistant", "content": content }));
                    }
                    Turn::Results(results) => {
                        let content: Vec<Value> = results
                            .iter()
                            .map(|(id, text)| json!({ "type": "tool_result", "tool_use_id": id, "content": text }))
                            .collect();
                        messages.push(json!({ "role": "user", "content": content }));
                    }
                }
            }
            let tools: Vec<Value> = tools
                .iter()
                .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
                .collect();
            json!({ "model": model, "temperature": 0, "max_tokens": MAX_TURN_TOKENS, "system": system, "messages": messages, "tools": tools })
        }
    }
}

/// The model's turn from an API answer.
pub(super) fn read_turn(provider: Provider, value: &Value) -> Result<Turn, LlmError> {
    match provider {
        Provider::OpenAiCompatible => {
            let message = &value["choices"][0]["message"];
            if message.is_null() {
                return Err(LlmError::NotJson("the API's answer holds no message".into()));
            }
            let calls = message["tool_calls"]
                .as_array()
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| Call {
                            id: c["id"].as_str().unwrap_or_default().to_string(),
                            name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
                            // The arguments arrive as a JSON string.
                            input: c["function"]["arguments"]
                                .as_str()
                                .and_then(|a| serde_json::from_str(a).ok())
                                .unwrap_or(Value::Null),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let text = message["content"].as_str().unwrap_or_default().to_string();
            Ok(Turn::Model { text, calls, tokens: value["usage"]["total_tokens"].as_u64().unwrap_or(0) })
        }
        Provider::Anthropic => {
            let blocks = value["content"]
                .as_array()
                .ok_or_else(|| LlmError::NotJson("the API's answer holds no content".into()))?;
            let text: Vec<&str> =
                blocks.iter().filter(|b| b["type"] == "text").filter_map(|b| b["text"].as_str()).collect();
            let calls = blocks
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .map(|b| Call {
                    id: b["id"].as_str().unwrap_or_default().to_string(),
                    name: b["name"].as_str().unwrap_or_default().to_string(),
                    input: b["input"].clone(),
                })
                .collect();
            let usage = &value["usage"];
            let tokens = usage["input_tokens"].as_u64().unwrap_or(0) + usage["output_tokens"].as_u64().unwrap_or(0);
            Ok(Turn::Model { text: text.join("\n"), calls, tokens })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool() -> Tool {
        Tool { name: "read_file", description: "Reads a file", parameters: json!({ "type": "object" }) }
    }

    #[test]
    fn calls_are_read_from_either_api() {
        let openai = json!({ "choices": [{ "message": { "content": null, "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": "read_file", "arguments": "{\"path\":\"a.rs\"}" } }] } }], "usage": { "total_tokens": 99 } });
        let Turn::Model { calls, tokens, .. } = read_turn(Provider::OpenAiCompatible, &openai).unwrap() else {
            panic!()
        };
        assert_eq!((calls[0].name.as_str(), &calls[0].input, tokens), ("read_file", &json!({ "path": "a.rs" }), 99));
        let anthropic = json!({ "content": [{ "type": "text", "text": "Reading." }, { "type": "tool_use", "id": "toolu_1", "name": "read_file", "input": { "path": "a.rs" } }], "usage": { "input_tokens": 3, "output_tokens": 4 } });
        let Turn::Model { text, calls, tokens } = read_turn(Provider::Anthropic, &anthropic).unwrap() else { panic!() };
        assert_eq!((text.as_str(), calls[0].id.as_str(), tokens), ("Reading.", "toolu_1", 7));
    }

    #[test]
    fn conversations_are_written_in_each_apis_shape() {
        let call = Call { id: "c1".into(), name: "read_file".into(), input: json!({ "path": "a.rs" }) };
        let conversation = vec![
            Turn::User("fix it".into()),
            Turn::Model { text: String::new(), calls: vec![call], tokens: 5 },
            Turn::Results(vec![("c1".into(), "fn a() {}".into())]),
        ];
        let openai = request(Provider::OpenAiCompatible, "m", "sys", &conversation, &[tool()]);
        assert_eq!(openai["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"path\":\"a.rs\"}");
        assert_eq!(openai["messages"][3]["role"], "tool");
        assert_eq!(openai["tools"][0]["function"]["name"], "read_file");
        let anthropic = request(Provider::Anthropic, "m", "sys", &conversation, &[tool()]);
        assert_eq!(anthropic["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(anthropic["messages"][2]["content"][0]["tool_use_id"], "c1");
        assert_eq!(anthropic["tools"][0]["input_schema"], json!({ "type": "object" }));
    }
}
