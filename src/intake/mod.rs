//! Bug reports from outside the chat. Today: alerts from Prometheus Alertmanager (or SigNoz).

pub mod alerts;
