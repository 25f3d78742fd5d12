//! Finding and parsing the configuration file, and the data directory.

use super::{validate::validate, Config, ConfigError};
use std::path::{Path, PathBuf};

/// The sample team used when there is no `pmbot.toml`: the commented example file itself.
pub const BUILT_IN: &str = include_str!("../../pmbot.example.toml");

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    File(PathBuf),
    BuiltIn,
}

#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: ConfigSource,
}

/// Reads `path`. When the path was not given explicitly (`explicit == false`) and the file
/// does not exist, the built-in sample team is used instead.
pub fn load(path: &Path, explicit: bool) -> Result<Loaded, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Loaded { config: parse(path, &text)?, source: ConfigSource::File(path.to_path_buf()) }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !explicit => {
            let config = parse(Path::new("pmbot.example.toml (built in)"), BUILT_IN)?;
            Ok(Loaded { config, source: ConfigSource::BuiltIn })
        }
        Err(err) => Err(ConfigError { file: path.to_path_buf(), location: "file".into(), reason: err.to_string() }),
    }
}

/// Parses and validates one file's text; `file` is only used in error messages.
pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
    let error = |location: String, reason: String| ConfigError { file: file.to_path_buf(), location, reason };
    let config: Config = serde_path_to_error::deserialize(toml::Deserializer::new(text)).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let location = if path.is_empty() || path == "." {
            inner.span().map_or_else(|| "file".to_string(), |span| line_and_column(text, span.start))
        } else {
            path
        };
        error(location, inner.message().to_string())
    })?;
    validate(&config).map_err(|(path, reason)| error(path, reason))?;
    Ok(config)
}

fn line_and_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
    format!("line {line}, column {column}")
}

/// Where pmbot keeps its SQLite database when `DATABASE_URL` is not set:
/// `$PMBOT_DATA_DIR`, else `$XDG_DATA_HOME/pmbot`, else `~/.local/share/pmbot`, else `./.pmbot`.
pub fn data_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("PMBOT_DATA_DIR")
        .or_else(|| var("XDG_DATA_HOME").map(|d| d.join("pmbot")))
        .or_else(|| var("HOME").map(|h| h.join(".local/share/pmbot")))
        .unwrap_or_else(|| PathBuf::from(".pmbot"))
}

/// Slack's secrets and endpoint, from the environment.
#[derive(Clone)]
pub struct SlackEnv {
    pub bot_token: String,
    /// HTTP mode: verifies requests (`SLACK_SIGNING_SECRET`).
    pub signing_secret: Option<String>,
    /// Socket Mode: the app-level token (`SLACK_APP_TOKEN`, `xapp-…`).
    pub app_token: Option<String>,
    /// `SLACK_API_URL`, default `https://slack.com/api`.
    pub api_url: String,
    /// `SLACK_TEAM_ID` (T…) and `SLACK_APP_ID` (A…): when set, requests from another
    /// workspace or app are refused.
    pub team_id: Option<String>,
    pub app_id: Option<String>,
}

impl std::fmt::Debug for SlackEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackEnv").field("api_url", &self.api_url).finish_non_exhaustive()
    }
}

/// `Some` when `SLACK_BOT_TOKEN` is set with `SLACK_SIGNING_SECRET` (HTTP mode) and/or
/// `SLACK_APP_TOKEN` (Socket Mode).
pub fn slack_env() -> Option<SlackEnv> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let env = SlackEnv {
        bot_token: var("SLACK_BOT_TOKEN")?,
        signing_secret: var("SLACK_SIGNING_SECRET"),
        app_token: var("SLACK_APP_TOKEN"),
        api_url: var("SLACK_API_URL").unwrap_or_else(|| "https://slack.com/api".into()),
        team_id: var("SLACK_TEAM_ID"),
        app_id: var("SLACK_APP_ID"),
    };
    (env.signing_secret.is_some() || env.app_token.is_some()).then_some(env)
}

/// Discord's secrets and endpoint, from the environment.
#[derive(Clone)]
pub struct DiscordEnv {
    pub bot_token: String,
    /// Hex; verifies interactions.
    pub public_key: String,
    pub application_id: String,
    /// `DISCORD_API_URL`, default `https://discord.com/api/v10`.
    pub api_url: String,
    /// `DISCORD_GUILD_ID`: when set, only this server is served.
    pub guild_id: Option<String>,
}

impl std::fmt::Debug for DiscordEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordEnv")
            .field("application_id", &self.application_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// `Some` when `DISCORD_BOT_TOKEN`, `DISCORD_PUBLIC_KEY` and `DISCORD_APPLICATION_ID` are set.
pub fn discord_env() -> Option<DiscordEnv> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Some(DiscordEnv {
        bot_token: var("DISCORD_BOT_TOKEN")?,
        public_key: var("DISCORD_PUBLIC_KEY")?,
        application_id: var("DISCORD_APPLICATION_ID")?,
        api_url: var("DISCORD_API_URL").unwrap_or_else(|| "https://discord.com/api/v10".into()),
        guild_id: var("DISCORD_GUILD_ID"),
    })
}

/// The bearer token `POST /alerts/alertmanager` wants (`PMBOT_ALERTS_TOKEN`); without it the
/// endpoint is not served.
pub fn alerts_token() -> Option<String> {
    std::env::var("PMBOT_ALERTS_TOKEN").ok().filter(|v| !v.trim().is_empty())
}

/// The secret GitHub signs webhook deliveries with (`GITHUB_WEBHOOK_SECRET`); without it
/// `POST /github/webhook` is not served.
pub fn github_webhook_secret() -> Option<String> {
    std::env::var("GITHUB_WEBHOOK_SECRET").ok().filter(|v| !v.trim().is_empty())
}

/// Colour in the terminal unless `NO_COLOR` is set (https://no-color.org).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        parse(Path::new("pmbot.toml"), text).unwrap_err().to_string()
    }

    const TWO_PEOPLE: &str =
        "[[people]]\nhandle = \"ana\"\nname = \"Ana\"\n[[people]]\nhandle = \"ben\"\nname = \"Ben\"\n";

    #[test]
    fn the_built_in_team_is_valid() {
        let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
        assert!(config.people.len() >= 5);
        assert_eq!(config.projects.len(), 2);
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let config = parse(Path::new("pmbot.toml"), "").unwrap();
        assert_eq!(config.team.workspace, "default");
        assert_eq!(config.standup.schedule, "0 9 * * MON-FRI");
        assert_eq!(config.team.working_days.len(), 5);
    }

    #[test]
    fn a_bad_time_zone_names_the_file_the_field_and_the_value() {
        let text = format!("{TWO_PEOPLE}[[people]]\nhandle = \"eve\"\nname = \"Eve\"\ntimezone = \"Mars/Base\"\n");
        assert_eq!(
            error_of(&text),
            "pmbot.toml: people[2].timezone: unknown time zone \"Mars/Base\" (use an IANA name such as Europe/Lisbon)"
        );
    }

    #[test]
    fn unknown_fields_are_errors_that_name_the_field() {
        let err = error_of("[team]\nnmae = \"x\"\n");
        assert!(err.starts_with("pmbot.toml: team.nmae: unknown field `nmae`, expected one of `name`"), "{err}");
    }

    #[test]
    fn syntax_errors_give_a_line_and_column() {
        let err = error_of("[team]\nname = \n");
        assert!(err.starts_with("pmbot.toml: line 2, column "), "{err}");
    }

    #[test]
    fn a_project_pm_must_be_a_person() {
        let text = format!("{TWO_PEOPLE}[[projects]]\nkey = \"WEB\"\nname = \"Web\"\npm = \"zed\"\n");
        assert_eq!(error_of(&text), "pmbot.toml: projects[0].pm: no person has the handle \"zed\"");
    }

    #[test]
    fn a_bad_cron_schedule_is_refused() {
        let err = error_of("[standup]\nschedule = \"every morning\"\n");
        assert!(err.starts_with("pmbot.toml: standup.schedule: \"every morning\" is not a cron expression"), "{err}");
    }

    #[test]
    fn a_bad_schedule_names_itself_and_the_reason() {
        let text =
            format!("{TWO_PEOPLE}[[schedules]]\nname = \"ana-morning\"\ncron = \"61 8 * * *\"\nperson = \"ana\"\n");
        let err = error_of(&text);
        assert!(
            err.starts_with(
                "pmbot.toml: schedules[0].cron: schedule \"ana-morning\": \"61 8 * * *\" is not a cron expression"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_schedule_in_an_unknown_zone_stops_start_up() {
        let text = format!("{TWO_PEOPLE}[[schedules]]\nname = \"x\"\ncron = \"0 8 * * *\"\nchannel = \"#a\"\ntimezone = \"Mars/Base\"\n");
        assert!(error_of(&text).starts_with("pmbot.toml: schedules[0].timezone: unknown time zone \"Mars/Base\""));
    }

    #[test]
    fn duplicate_handles_are_refused() {
        let text = format!("{TWO_PEOPLE}[[people]]\nhandle = \"ana\"\nname = \"Ana two\"\n");
        assert_eq!(error_of(&text), "pmbot.toml: people[2].handle: \"ana\" is used by two people");
    }

    #[test]
    fn a_retainer_needs_its_hours() {
        let err = error_of("[[projects]]\nkey = \"WEB\"\nname = \"Web\"\ntype = \"retainer\"\n");
        assert_eq!(err, "pmbot.toml: projects[0].retainer_hours: a retainer project needs its monthly hours");
    }
}
