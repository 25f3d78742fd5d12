//! Workflows: each a folder with a pure `decide` core and a thin shell that loads data,
//! calls it, and renders or acts.

pub mod agents;
pub mod conversation;
pub mod deploy;
pub mod digest;
pub mod fix;
pub mod matching;
pub mod standup;
pub mod triage;
pub mod views;
