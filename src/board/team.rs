//! The people on the team and the projects they work on, as configured in `pmbot.toml`.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Pm,
    Lead,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pm => "pm",
            Role::Lead => "lead",
            Role::Member => "member",
        }
    }

    /// PMs and leads may triage and approve.
    pub fn can_triage(self) -> bool {
        matches!(self, Role::Pm | Role::Lead)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pm" => Ok(Role::Pm),
            "lead" => Ok(Role::Lead),
            "member" => Ok(Role::Member),
            other => Err(format!("unknown role \"{other}\"")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Person {
    /// Short unique name used on the board and in the terminal chat (`ana`).
    pub handle: String,
    pub display_name: String,
    pub role: Role,
    pub timezone: Tz,
    pub slack_id: Option<String>,
    pub discord_id: Option<String>,
    pub tracker_id: Option<String>,
    pub time_tracking_id: Option<String>,
}

impl Person {
    /// Whether `user` on `platform` (`shell`, `slack`, `discord`) is this person.
    pub fn answers_to(&self, platform: &str, user: &str) -> bool {
        match platform {
            "shell" => self.handle == user,
            "slack" => self.slack_id.as_deref() == Some(user),
            "discord" => self.discord_id.as_deref() == Some(user),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectKind {
    Retainer,
    Scope,
    Internal,
}

impl ProjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectKind::Retainer => "retainer",
            ProjectKind::Scope => "scope",
            ProjectKind::Internal => "internal",
        }
    }
}

impl FromStr for ProjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retainer" => Ok(ProjectKind::Retainer),
            "scope" => Ok(ProjectKind::Scope),
            "internal" => Ok(ProjectKind::Internal),
            other => Err(format!("unknown project type \"{other}\"")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub key: String,
    pub name: String,
    pub kind: ProjectKind,
    pub retainer_hours: Option<f64>,
    pub hourly_rate: Option<f64>,
    pub channel: Option<String>,
    pub pm: Option<String>,
}
