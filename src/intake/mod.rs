//! Bug reports and events from outside the chat: alerts from Prometheus Alertmanager (or
//! SigNoz), GitHub's webhooks, a feedback form and a support mailbox; and the reporter loop
//! that tells whoever reported a bug when it is fixed ([`reply`]).

pub mod alerts;
pub mod email;
pub mod feedback;
pub mod github;
pub mod reply;
