//! Alerts become tickets: `POST /alerts/alertmanager` (bearer `PMBOT_ALERTS_TOKEN`) records
//! each notification as a job and acknowledges it; the job gives each alert fingerprint one
//! ticket while it fires, comments when it fires again or resolves, closes what pmbot opened
//! and nobody touched, and tells the project's channel at once of critical ones.

mod decide;
pub mod http;
mod job;

pub use decide::{decide, parse, route, Alert, Known, Notification, Step};
pub use job::AlertsJob;
