//! Conversation → tickets: every channel message the bot sees is read by a job against the
//! board (the matcher), and the decision is acted on, suggested or only logged as the
//! channel's policy says, each with its reason in the decision log.

pub mod apply;
mod board;
pub mod draft;
mod job;
pub use board::BoardCache;
pub mod model;
pub mod policy;
pub mod stats;

pub use job::{match_ticket, MatchJob, APPROVAL_SUBJECT, CREATE_ACTION, KIND, OTHER_ACTION, UNDO_ACTION};
