//! Discord, all of it: HTTP interactions (`http`), Ed25519-verified (`verify`), and channel
//! messages from the Gateway (`gateway`), into `Inbound` (`inbound`), run by jobs (`jobs`)
//! that answer through serenity's REST client (`client`) with embeds and buttons (`render`). Slash commands `/standup`, `/fix` and `/pm`; buttons
//! carry `action_id|value`.

pub mod client;
pub mod gateway;
pub mod http;
pub mod inbound;
pub mod invite;
pub mod jobs;
pub mod render;
pub mod verify;

pub use client::{DiscordChat, DiscordSettings};

/// The commands in `manifest/discord-commands.json`.
pub const COMMANDS: &[&str] = &["standup", "fix", "pm"];

/// `manifest/discord-commands.json`, as `pmbot discord register-commands` sends it.
pub const COMMANDS_JSON: &str = include_str!("../../../manifest/discord-commands.json");
