//! Discord's REST API: channel messages, DMs, and answers to interactions through their
//! webhook token. 429s are waited out (`retry_after`) and retried; past that the job retries.

use super::render::message as body_of;
use crate::chat::{Chat, ChatError, Message, MessageRef};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::Duration;

/// From the environment: `DISCORD_BOT_TOKEN`, `DISCORD_APPLICATION_ID`, `DISCORD_API_URL`.
#[derive(Clone)]
pub struct DiscordSettings {
    pub bot_token: String,
    pub application_id: String,
    /// Default `https://discord.com/api/v10`.
    pub api_url: String,
}

type Https = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

const RATE_LIMIT_RETRIES: u32 = 3;

pub struct DiscordChat {
    http: Client<Https, Full<Bytes>>,
    settings: DiscordSettings,
}

impl DiscordChat {
    pub fn new(settings: &DiscordSettings) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        DiscordChat { http: Client::builder(TokioExecutor::new()).build(https), settings: settings.clone() }
    }

    /// Replaces the interaction's original response (the deferred "thinking" message, or the
    /// message whose button was pressed).
    pub async fn edit_original(&self, token: &str, message: &Message) -> Result<(), ChatError> {
        let path = format!("/webhooks/{}/{token}/messages/@original", self.settings.application_id);
        self.call("PATCH", &path, Some(body_of(message)), false).await.map(|_| ())
    }

    /// A follow-up to the interaction, only for its author when `ephemeral`.
    pub async fn followup(&self, token: &str, message: &Message, ephemeral: bool) -> Result<(), ChatError> {
        let mut body = body_of(message);
        if ephemeral {
            body["flags"] = json!(64);
        }
        let path = format!("/webhooks/{}/{token}", self.settings.application_id);
        self.call("POST", &path, Some(body), false).await.map(|_| ())
    }

    /// Replaces the application's slash commands with `commands` (a JSON array).
    pub async fn register_commands(&self, commands: &Value) -> Result<usize, ChatError> {
        let path = format!("/applications/{}/commands", self.settings.application_id);
        let answer = self.call("PUT", &path, Some(commands.clone()), true).await?;
        Ok(answer.as_array().map_or(0, Vec::len))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>, auth: bool) -> Result<Value, ChatError> {
        let url = format!("{}{path}", self.settings.api_url.trim_end_matches('/'));
        let mut attempt = 0;
        loop {
            let mut request =
                hyper::Request::builder().method(method).uri(&url).header("content-type", "application/json");
            if auth || !path.starts_with("/webhooks/") {
                request = request.header("authorization", format!("Bot {}", self.settings.bot_token));
            }
            let payload = body.as_ref().map_or_else(Vec::new, |b| b.to_string().into_bytes());
            let request =
                request.body(Full::new(Bytes::from(payload))).map_err(|e| ChatError::Platform(e.to_string()))?;
            let response =
                self.http.request(request).await.map_err(|e| ChatError::Platform(format!("Discord: {e}")))?;
            let status = response.status();
            let bytes =
                response.into_body().collect().await.map_err(|e| ChatError::Platform(e.to_string()))?.to_bytes();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status.as_u16() == 429 {
                let wait = Duration::from_secs_f64(answer["retry_after"].as_f64().unwrap_or(1.0).clamp(0.0, 30.0));
                if attempt >= RATE_LIMIT_RETRIES {
                    return Err(ChatError::RateLimited { retry_after: Some(wait) });
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            if status.is_success() {
                return Ok(answer);
            }
            // 50001 Missing Access, 50013 Missing Permissions, 10003 Unknown Channel: the bot
            // cannot post there. 10015 Unknown Webhook: the interaction's token expired.
            match answer["code"].as_i64() {
                Some(50001 | 50013 | 10003) => return Err(ChatError::NotInChannel(path.to_string())),
                Some(10015) => return Err(ChatError::Gone("the interaction expired (15 minutes)".into())),
                _ => {}
            }
            return Err(ChatError::Platform(format!(
                "Discord answered {status}: {}",
                answer["message"].as_str().unwrap_or("no detail")
            )));
        }
    }
}

impl Chat for DiscordChat {
    fn platform(&self) -> &'static str {
        "discord"
    }

    fn address(&self, person: &crate::board::Person) -> Option<String> {
        person.discord_id.clone()
    }

    async fn post(&self, channel: &str, _thread: Option<&str>, message: &Message) -> Result<MessageRef, ChatError> {
        let answer = self.call("POST", &format!("/channels/{channel}/messages"), Some(body_of(message)), true).await?;
        Ok(MessageRef { channel: channel.to_string(), ts: answer["id"].as_str().unwrap_or_default().to_string() })
    }

    async fn update(&self, target: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let path = format!("/channels/{}/messages/{}", target.channel, target.ts);
        self.call("PATCH", &path, Some(body_of(message)), true).await.map(|_| ())
    }

    /// Discord has no ephemeral channel messages outside an interaction: a DM instead.
    async fn ephemeral(&self, _channel: &str, user: &str, message: &Message) -> Result<(), ChatError> {
        self.dm(user, message).await.map(|_| ())
    }

    async fn dm(&self, user: &str, message: &Message) -> Result<MessageRef, ChatError> {
        let channel = self.call("POST", "/users/@me/channels", Some(json!({ "recipient_id": user })), true).await?;
        let id = channel["id"]
            .as_str()
            .ok_or_else(|| ChatError::Platform("Discord opened no DM channel".into()))?
            .to_string();
        self.post(&id, None, message).await
    }

    /// Discord has no per-person home view.
    async fn home(&self, _user: &str, _message: &Message) -> Result<(), ChatError> {
        Ok(())
    }
}
