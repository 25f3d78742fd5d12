//! pmbot: a chat-ops bot that takes the chores off a software team's project manager.
//!
//! See `docs/ARCHITECTURE.md` for how the modules fit together.

pub mod app;
pub mod bench;
pub mod board;
pub mod calendar;
pub mod chat;
pub mod cli;
pub mod config;
pub mod demo;
pub mod digest;
pub mod dispatch;
pub mod forge;
pub mod http;
pub mod intake;
pub mod job_env;
pub mod jobs;
pub mod llm;
pub mod models;
pub mod queue;
pub mod service;
pub mod store;
pub mod tracker;
pub mod workflows;
