//! Slack, all of it: the Events API, slash commands and interactivity over HTTP (`http`) or
//! Socket Mode (`socket`), the jobs that run them (`jobs`), requests into `Inbound`
//! (`inbound`), messages into Block Kit (`render`) and the Web API through slack-morphism
//! (`client`). Requests are verified, recorded as jobs and acknowledged at once; the jobs
//! run the chat core and answer through `SlackChat`.

pub mod client;
pub mod http;
pub mod inbound;
pub mod jobs;
pub mod render;
pub mod socket;

pub use client::{SlackChat, SlackSettings};

/// The slash commands pmbot answers in Slack (`/pm` takes every other command as text).
pub const SLASH_COMMANDS: &[&str] = &["/standup", "/fix", "/pm"];

/// The Events API subscriptions pmbot handles (`message.*` all arrive as `message`).
pub const EVENTS: &[&str] =
    &["app_mention", "message.channels", "message.groups", "message.im", "member_joined_channel", "app_home_opened"];

/// The `callback_id` of the modals pmbot opens for `Outbound::Form`.
pub const FORM_CALLBACK: &str = "pmbot.form";

/// The request paths of HTTP mode.
pub const PATHS: [&str; 3] = ["/slack/events", "/slack/commands", "/slack/interactions"];
