//! Discord: HTTP interactions (`http::discord`), Ed25519-verified, answered by jobs through
//! the REST API (`client`). Slash commands `/standup`, `/fix` and `/pm`; buttons carry
//! `action_id|value`.

pub mod client;
pub mod inbound;
pub mod render;
pub mod verify;

pub use client::{DiscordChat, DiscordSettings};

/// The commands in `manifest/discord-commands.json`.
pub const COMMANDS: &[&str] = &["standup", "fix", "pm"];

/// `manifest/discord-commands.json`, as `pmbot discord register-commands` sends it.
pub const COMMANDS_JSON: &str = include_str!("../../../manifest/discord-commands.json");
