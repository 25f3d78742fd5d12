//! Jira Cloud: the REST client (`client`) and its webhooks (`webhook`).

pub mod client;
pub mod webhook;

pub use client::{Jira, JiraSettings, Transition, PAGE_SIZE};
pub use webhook::JiraHttp;
