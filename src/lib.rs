//! pmbot: a chat-ops bot that takes the chores off a software team's project manager.
//!
//! See `docs/ARCHITECTURE.md` for how the modules fit together.

pub mod board;
pub mod config;
pub mod store;
pub mod calendar;
pub mod chat;
pub mod dispatch;
pub mod workflows;
pub mod app;
pub mod http;
pub mod demo;
pub mod cli;
