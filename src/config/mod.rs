//! `pmbot.toml` and the environment, read and validated once at start-up.
//!
//! A bad file stops start-up with the file, the field path and the reason, e.g.
//! `pmbot.toml: people[2].timezone: unknown time zone "Mars/Base"`.

pub mod load;
mod model;
mod validate;

pub use load::{
    alerts_token, color_allowed, data_dir, discord_env, github_webhook_secret, load, slack_env, ConfigSource,
    DiscordEnv, Loaded, SlackEnv, BUILT_IN,
};
pub use model::{
    same_channel, AgentsConfig, AlertRoute, BudgetConfig, ComplianceConfig, Config, ConversationConfig, DeployConfig,
    DigestConfig, EmailConfig, EpicsConfig, FixConfig, ForgeKind, GateConfig, HoursConfig, HoursSourceKind,
    IntakeConfig, LlmConfig, MergeMethod, PersonConfig, ProjectConfig, ProjectFixConfig, QueueConfig, RetentionConfig,
    SandboxKind, ScheduleConfig, StandupConfig, StuckConfig, TeamConfig, Thresholds, TrackerConfig, TrackerKind,
};

use std::path::PathBuf;

/// What is wrong with a configuration file, and where.
#[derive(Debug, thiserror::Error)]
#[error("{}: {location}: {reason}", file.display())]
pub struct ConfigError {
    pub file: PathBuf,
    /// A field path (`people[2].timezone`) or a position (`line 4, column 9`).
    pub location: String,
    pub reason: String,
}
