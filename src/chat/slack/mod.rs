//! Slack: Events API, slash commands and interactivity over HTTP (`http::slack`), and the
//! Web API through slack-morphism (`client`). Requests are verified, recorded as jobs and
//! acknowledged at once; the jobs run the chat core and answer through `SlackChat`.

pub mod client;
pub mod inbound;
pub mod render;

pub use client::{SlackChat, SlackSettings};
