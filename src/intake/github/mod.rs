//! GitHub's webhooks: `POST /github/webhook` checks the signature, records the delivery as a
//! job (once per `X-GitHub-Delivery`) and acknowledges it; the job ([`GithubJob`]) moves
//! fix runs whose pull requests were merged, closed or reviewed on GitHub, links pull
//! requests to the tickets they name, turns issues into tickets, refreshes a repository's
//! knowledge on a push, and feeds CI results into fix runs.

pub mod event;
pub mod http;
mod job;

pub use event::{parse, Event};
pub use job::GithubJob;
