//! Bug reports and events from outside the chat: alerts from Prometheus Alertmanager (or
//! SigNoz), GitHub's webhooks, and a feedback form.

pub mod alerts;
pub mod feedback;
pub mod github;
