//! Sending to Slack through slack-morphism's Web API client: post, reply in thread, update,
//! ephemeral, DM, and replies to a slash command's `response_url`. A per-channel limiter
//! keeps to about one message a second; a 429 is waited out (`Retry-After`) and retried, and
//! past that the error is handed back for the job to retry later.

use super::render::blocks;
use crate::chat::{Chat, ChatError, Form, Message, MessageRef};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Where the Web API is and how to authenticate (from the environment: `SLACK_BOT_TOKEN`,
/// `SLACK_API_URL`).
#[derive(Clone)]
pub struct SlackSettings {
    pub bot_token: String,
    /// Default `https://slack.com/api`; GovSlack and tests use another.
    pub api_url: String,
}

impl std::fmt::Debug for SlackSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings").field("api_url", &self.api_url).field("bot_token", &"***").finish()
    }
}

pub(super) type Connector =
    SlackClientHyperConnector<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>>;

/// How often a 429 is waited out before the error goes back to the job.
const RATE_LIMIT_RETRIES: u32 = 3;
const LONGEST_WAIT: Duration = Duration::from_secs(30);

pub struct SlackChat {
    client: SlackClient<Connector>,
    token: SlackApiToken,
    per_channel: Arc<DefaultKeyedRateLimiter<String>>,
    /// For the one call that is not the Web API: sending a file's bytes to its upload URL.
    uploads: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Full<hyper::body::Bytes>,
    >,
}

impl SlackChat {
    pub fn new(settings: &SlackSettings) -> Self {
        let quota = Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        SlackChat {
            client: SlackClient::new(connector(settings)),
            token: SlackApiToken::new(settings.bot_token.clone().into()),
            per_channel: Arc::new(RateLimiter::keyed(quota)),
            uploads: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(
                hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build(),
            ),
        }
    }

    /// Slack's upload URL answers plain text ("OK - 1234"), not the Web API's JSON.
    async fn send_bytes(&self, url: &str, name: &str, bytes: &[u8]) -> Result<(), ChatError> {
        let request = hyper::Request::builder()
            .method("POST")
            .uri(url)
            .header("content-type", content_type(name))
            .body(http_body_util::Full::new(hyper::body::Bytes::copy_from_slice(bytes)))
            .map_err(|e| ChatError::Platform(e.to_string()))?;
        let response =
            self.uploads.request(request).await.map_err(|e| ChatError::Platform(format!("Slack upload: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ChatError::Platform(format!("Slack's upload URL answered {}", response.status())))
        }
    }

    /// Answers a slash command through its `response_url` (seen only by the person who ran it).
    pub async fn respond(&self, response_url: &str, message: &Message) -> Result<(), ChatError> {
        let url = url::Url::parse(response_url).map_err(|e| ChatError::Platform(format!("bad response_url: {e}")))?;
        let request = SlackApiPostWebhookMessageRequest::new(content(message)?);
        self.retrying("", || async {
            self.client.respond_to_event(&SlackResponseUrl::new(url.clone()), &request).await.map(|_| ())
        })
        .await
    }

    async fn retrying<T, F, Fut>(&self, channel: &str, call: F) -> Result<T, ChatError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ClientResult<T>>,
    {
        if !channel.is_empty() {
            self.per_channel.until_key_ready(&channel.to_string()).await;
        }
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(SlackClientError::RateLimitError(limit)) if attempt < RATE_LIMIT_RETRIES => {
                    let wait = limit.retry_after.unwrap_or(Duration::from_secs(1)).min(LONGEST_WAIT);
                    tracing::info!(wait_ms = wait.as_millis() as u64, "Slack asked to slow down; waiting");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => return Err(chat_error(err, channel)),
            }
        }
    }
}

/// slack-morphism's connector, allowing `http://` too (for tests and proxies) and pointed at
/// `settings.api_url`.
pub(super) fn connector(settings: &SlackSettings) -> Connector {
    // Only ring is compiled in; say so once, before any TLS client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
    SlackClientHyperConnector::with_connector(https).with_slack_api_url(settings.api_url.trim_end_matches('/'))
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "application/octet-stream"
    }
}

fn content(message: &Message) -> Result<SlackMessageContent, ChatError> {
    let (blocks, text) = blocks(message);
    let blocks: Vec<SlackBlock> = serde_json::from_value(serde_json::Value::Array(blocks))
        .map_err(|e| ChatError::Platform(format!("rendering Block Kit: {e}")))?;
    Ok(SlackMessageContent::new().with_text(text).with_blocks(blocks))
}

fn chat_error(err: SlackClientError, channel: &str) -> ChatError {
    match err {
        SlackClientError::ApiError(api) if api.code == "not_in_channel" || api.code == "channel_not_found" => {
            ChatError::NotInChannel(channel.to_string())
        }
        SlackClientError::RateLimitError(limit) => ChatError::RateLimited { retry_after: limit.retry_after },
        other => ChatError::Platform(other.to_string()),
    }
}

impl Chat for SlackChat {
    async fn post(&self, channel: &str, thread: Option<&str>, message: &Message) -> Result<MessageRef, ChatError> {
        let content = content(message)?;
        let session = self.client.open_session(&self.token);
        let request =
            SlackApiChatPostMessageRequest::new(channel.into(), content).opt_thread_ts(thread.map(|t| t.into()));
        let posted = self.retrying(channel, || session.chat_post_message(&request)).await?;
        Ok(MessageRef { channel: posted.channel.to_string(), ts: posted.ts.to_string() })
    }

    fn platform(&self) -> &'static str {
        "slack"
    }

    fn address(&self, person: &crate::board::Person) -> Option<String> {
        person.slack_id.clone()
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<Option<String>, ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatGetPermalinkRequest::new(channel.into(), ts.into());
        let found = self.retrying(channel, || session.chat_get_permalink(&request)).await?;
        Ok(Some(found.permalink.to_string()))
    }

    /// Files upload v2: ask for an upload URL, send the bytes there, then share the file in
    /// the channel with the message as its comment.
    async fn upload(&self, channel: &str, name: &str, bytes: &[u8], message: &Message) -> Result<bool, ChatError> {
        let session = self.client.open_session(&self.token);
        let ask = SlackApiFilesGetUploadUrlExternalRequest::new(name.into(), bytes.len());
        let slot = self.retrying(channel, || session.get_upload_url_external(&ask)).await?;
        self.send_bytes(slot.upload_url.value().as_str(), name, bytes).await?;
        let file = SlackApiFilesComplete::new(slot.file_id.clone()).with_title(name.into());
        let share = SlackApiFilesCompleteUploadExternalRequest::new(vec![file])
            .with_channel_id(channel.into())
            .with_initial_comment(message.fallback_text());
        self.retrying(channel, || session.files_complete_upload_external(&share)).await?;
        Ok(true)
    }

    async fn update(&self, target: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let request =
            SlackApiChatUpdateRequest::new(target.channel.clone().into(), content(message)?, target.ts.clone().into());
        self.retrying(&target.channel, || session.chat_update(&request)).await.map(|_| ())
    }

    async fn ephemeral(&self, channel: &str, user: &str, message: &Message) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content(message)?);
        self.retrying(channel, || session.chat_post_ephemeral(&request)).await.map(|_| ())
    }

    async fn home(&self, user: &str, message: &Message) -> Result<(), ChatError> {
        let session = self.client.open_session(&self.token);
        let blocks = content(message)?.blocks.unwrap_or_default();
        let request = SlackApiViewsPublishRequest::new(user.into(), SlackView::Home(SlackHomeView::new(blocks)));
        self.retrying("", || session.views_publish(&request)).await.map(|_| ())
    }

    async fn form(&self, trigger: Option<&str>, form: &Form) -> Result<bool, ChatError> {
        let Some(trigger) = trigger else { return Ok(false) };
        let metadata = serde_json::json!({
            "action": form.action_id, "value": form.value,
            "channel": form.message.as_ref().map(|m| m.channel.clone()),
            "ts": form.message.as_ref().map(|m| m.ts.clone()),
        });
        let view = serde_json::json!({
            "type": "modal",
            "callback_id": super::FORM_CALLBACK,
            "private_metadata": metadata.to_string(),
            "title": { "type": "plain_text", "text": form.title.chars().take(24).collect::<String>() },
            "submit": { "type": "plain_text", "text": form.submit.chars().take(24).collect::<String>() },
            "close": { "type": "plain_text", "text": "Cancel" },
            "blocks": [{
                "type": "input", "block_id": "answer",
                "label": { "type": "plain_text", "text": form.question.chars().take(2000).collect::<String>() },
                "element": { "type": "plain_text_input", "action_id": "answer", "multiline": true, "max_length": 3000 }
            }]
        });
        let view: SlackView =
            serde_json::from_value(view).map_err(|e| ChatError::Platform(format!("building the modal: {e}")))?;
        let session = self.client.open_session(&self.token);
        let request = SlackApiViewsOpenRequest::new(trigger.into(), view);
        match self.retrying("", || session.views_open(&request)).await {
            Ok(_) => Ok(true),
            // The trigger lives 3 s; past that, say it another way.
            Err(ChatError::Platform(reason)) if reason.contains("expired_trigger_id") => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn dm(&self, user: &str, message: &Message) -> Result<MessageRef, ChatError> {
        let session = self.client.open_session(&self.token);
        let open = SlackApiConversationsOpenRequest::new().with_users(vec![user.into()]);
        let opened = self.retrying("", || session.conversations_open(&open)).await?;
        self.post(opened.channel.id.as_ref(), None, message).await
    }
}
