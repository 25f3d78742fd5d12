//! The optional language model's client: an OpenAI-compatible endpoint or the Anthropic API.
//! It carries the caller's instructions and prompt there and the text back, within the day's
//! token budget and a timeout; what to ask and how to read the answer are the caller's (the
//! conversation job's `workflows::conversation::model`). Every failure — over the budget,
//! slow, an HTTP error, an answer the caller's check refuses — is an `LlmError`, and the
//! caller keeps its deterministic decision.

use crate::config::LlmConfig;
use crate::store::{Store, WorkspaceId};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::Duration;

mod tools;
pub use tools::{Call, Tool, Turn};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("today's token budget is spent ({used} of {budget})")]
    Budget { used: u64, budget: u64 },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the model could not be reached: {0}")]
    Http(String),
    #[error("the model's API answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error("the answer is not the promised JSON: {0}")]
    NotJson(String),
    #[error("the answer does not hold up: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `POST {url}/chat/completions` (OpenAI, Azure-style gateways, vLLM, Ollama, llama.cpp).
    OpenAiCompatible,
    /// `POST {url}/v1/messages`.
    Anthropic,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAiCompatible => "openai-compatible",
            Provider::Anthropic => "anthropic",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct LlmSettings {
    pub provider: Provider,
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub daily_token_budget: u64,
    pub timeout: Duration,
}

/// The API key never printed.
impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("daily_token_budget", &self.daily_token_budget)
            .field("timeout", &self.timeout)
            .finish()
    }
}

const DEFAULT_ANTHROPIC_MODEL: &str = "claude-haiku-4-5";
const MAX_ANSWER_TOKENS: u32 = 400;

impl LlmSettings {
    /// From the environment: `PMBOT_LLM_URL` + `PMBOT_LLM_MODEL` (+ `PMBOT_LLM_API_KEY`) for an
    /// OpenAI-compatible endpoint, else `ANTHROPIC_API_KEY` (+ `PMBOT_LLM_MODEL`,
    /// `ANTHROPIC_BASE_URL`). `Ok(None)` when neither is set; an error names what is missing.
    pub fn from_env(config: &LlmConfig) -> Result<Option<LlmSettings>, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let timeout = Duration::from_secs(config.timeout_seconds);
        let budget = config.daily_token_budget;
        if let Some(url) = var("PMBOT_LLM_URL") {
            let model = var("PMBOT_LLM_MODEL").ok_or("PMBOT_LLM_URL is set but PMBOT_LLM_MODEL is not")?;
            url::Url::parse(&url).map_err(|e| format!("PMBOT_LLM_URL \"{url}\" is not a URL: {e}"))?;
            return Ok(Some(LlmSettings {
                provider: Provider::OpenAiCompatible,
                url,
                model,
                api_key: var("PMBOT_LLM_API_KEY"),
                daily_token_budget: budget,
                timeout,
            }));
        }
        Ok(var("ANTHROPIC_API_KEY").map(|key| LlmSettings {
            provider: Provider::Anthropic,
            url: var("ANTHROPIC_BASE_URL").unwrap_or_else(|| "https://api.anthropic.com".into()),
            model: var("PMBOT_LLM_MODEL").unwrap_or_else(|| DEFAULT_ANTHROPIC_MODEL.into()),
            api_key: Some(key),
            daily_token_budget: budget,
            timeout,
        }))
    }

    fn endpoint(&self) -> String {
        let base = self.url.trim_end_matches('/');
        match self.provider {
            Provider::OpenAiCompatible if base.ends_with("/chat/completions") => base.to_string(),
            Provider::OpenAiCompatible => format!("{base}/chat/completions"),
            Provider::Anthropic if base.ends_with("/v1/messages") => base.to_string(),
            Provider::Anthropic => format!("{base}/v1/messages"),
        }
    }
}

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

pub struct Llm {
    pub settings: LlmSettings,
    http: Client<Https, Full<Bytes>>,
}

/// A checked answer and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T> {
    pub answer: T,
    pub tokens: u64,
}

impl Llm {
    pub fn new(settings: LlmSettings) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        Llm { settings, http: Client::builder(TokioExecutor::new()).build(https) }
    }

    /// Asks `prompt` under `system` instructions within the day's budget (`day` is the
    /// team's `YYYY-MM-DD`), and reads the text with `check`; every call, failed or not, is
    /// counted.
    pub async fn ask<T>(
        &self,
        store: &Store,
        ws: &WorkspaceId,
        day: &str,
        system: &str,
        prompt: &str,
        check: impl FnOnce(&str) -> Result<T, LlmError>,
    ) -> Result<Reply<T>, LlmError> {
        self.ask_with(MAX_ANSWER_TOKENS, store, ws, day, system, prompt, check).await
    }

    /// [`ask`](Self::ask) for a longer answer (up to `max_tokens`), such as a SPEC.
    #[allow(clippy::too_many_arguments)]
    pub async fn ask_with<T>(
        &self,
        max_tokens: u32,
        store: &Store,
        ws: &WorkspaceId,
        day: &str,
        system: &str,
        prompt: &str,
        check: impl FnOnce(&str) -> Result<T, LlmError>,
    ) -> Result<Reply<T>, LlmError> {
        let budget = self.settings.daily_token_budget;
        let used = store.llm_tokens_used(ws, day).await?;
        if used >= budget {
            return Err(LlmError::Budget { used, budget });
        }
        let called = tokio::time::timeout(self.settings.timeout, self.call(max_tokens, system, prompt)).await;
        let result = match called {
            Ok(result) => result,
            Err(_) => Err(LlmError::Timeout(self.settings.timeout)),
        };
        match result {
            Ok((text, tokens)) => {
                // Counted before checking: a wrong answer still cost its tokens.
                let tokens = tokens.unwrap_or_else(|| estimate(system, prompt, &text));
                let parsed = check(&text);
                store.record_llm_use(ws, day, tokens, parsed.is_err()).await?;
                Ok(Reply { answer: parsed?, tokens })
            }
            Err(err) => {
                store.record_llm_use(ws, day, 0, true).await?;
                Err(err)
            }
        }
    }

    /// The model's text and, when the API says, the tokens used.
    async fn call(&self, max_tokens: u32, system: &str, prompt: &str) -> Result<(String, Option<u64>), LlmError> {
        let s = &self.settings;
        let body = match s.provider {
            Provider::OpenAiCompatible => json!({
                "model": s.model, "temperature": 0, "max_tokens": max_tokens,
                "response_format": { "type": "json_object" },
                "messages": [{ "role": "system", "content": system }, { "role": "user", "content": prompt }],
            }),
            Provider::Anthropic => json!({
                "model": s.model, "temperature": 0, "max_tokens": max_tokens, "system": system,
                "messages": [{ "role": "user", "content": prompt }],
            }),
        };
        let value = self.post(&body).await?;
        read_reply(s.provider, &value)
    }

    /// Posts `body` to the provider's endpoint; the answer's JSON, or the API's error.
    async fn post(&self, body: &Value) -> Result<Value, LlmError> {
        let s = &self.settings;
        let mut request = hyper::Request::builder()
            .method("POST")
            .uri(s.endpoint())
            .header("content-type", "application/json")
            .header("user-agent", concat!("pmbot/", env!("CARGO_PKG_VERSION")));
        request = match (s.provider, &s.api_key) {
            (Provider::OpenAiCompatible, Some(key)) => request.header("authorization", format!("Bearer {key}")),
            (Provider::Anthropic, Some(key)) => {
                request.header("x-api-key", key.as_str()).header("anthropic-version", "2023-06-01")
            }
            (_, None) => request,
        };
        let request =
            request.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| LlmError::Http(e.to_string()))?;
        let response = self.http.request(request).await.map_err(|e| LlmError::Http(e.to_string()))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| LlmError::Http(e.to_string()))?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let detail = value["error"]["message"].as_str().unwrap_or("no detail").chars().take(200).collect();
            return Err(LlmError::Status { status: status.as_u16(), detail });
        }
        Ok(value)
    }
}

/// The text and token count of a successful API answer.
fn read_reply(provider: Provider, value: &Value) -> Result<(String, Option<u64>), LlmError> {
    let (text, tokens) = match provider {
        Provider::OpenAiCompatible => {
            (value["choices"][0]["message"]["content"].as_str(), value["usage"]["total_tokens"].as_u64())
        }
        Provider::Anthropic => {
            let text = value["content"]
                .as_array()
                .and_then(|blocks| blocks.iter().find(|b| b["type"] == "text").and_then(|b| b["text"].as_str()));
            let usage = &value["usage"];
            let tokens = match (usage["input_tokens"].as_u64(), usage["output_tokens"].as_u64()) {
                (Some(i), Some(o)) => Some(i + o),
                _ => None,
            };
            (text, tokens)
        }
    };
    let text = text.ok_or_else(|| LlmError::NotJson("the API's answer holds no text".into()))?;
    Ok((text.to_string(), tokens))
}

/// About four characters a token, when the API does not say.
fn estimate(system: &str, prompt: &str, answer: &str) -> u64 {
    ((prompt.len() + system.len() + answer.len()) / 4) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_from_either_api() {
        let openai = json!({ "choices": [{ "message": { "role": "assistant", "content": "{}" } }], "usage": { "total_tokens": 321 } });
        assert_eq!(read_reply(Provider::OpenAiCompatible, &openai).unwrap(), ("{}".into(), Some(321)));
        let anthropic = json!({ "content": [{ "type": "text", "text": "{}" }], "usage": { "input_tokens": 300, "output_tokens": 21 } });
        assert_eq!(read_reply(Provider::Anthropic, &anthropic).unwrap(), ("{}".into(), Some(321)));
        assert!(read_reply(Provider::Anthropic, &json!({ "content": [] })).is_err());
    }

    #[test]
    fn endpoints_accept_a_base_or_the_full_path() {
        let mut s = LlmSettings {
            provider: Provider::OpenAiCompatible,
            url: "http://127.0.0.1:11434/v1/".into(),
            model: "m".into(),
            api_key: None,
            daily_token_budget: 1,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(s.endpoint(), "http://127.0.0.1:11434/v1/chat/completions");
        s.url = "https://gateway.test/v1/chat/completions".into();
        assert_eq!(s.endpoint(), "https://gateway.test/v1/chat/completions");
        s.provider = Provider::Anthropic;
        s.url = "https://api.anthropic.com".into();
        assert_eq!(s.endpoint(), "https://api.anthropic.com/v1/messages");
    }
}
