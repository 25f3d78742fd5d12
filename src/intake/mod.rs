//! Bug reports and events from outside the chat: alerts from Prometheus Alertmanager (or
//! SigNoz) and GitHub's webhooks.

pub mod alerts;
pub mod github;
