//! The shape of `pmbot.toml`. Every field has a default; `pmbot.example.toml` documents each.

use crate::board::{Person, Project, ProjectKind, Role};
use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use serde::{de, Deserialize, Deserializer};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub team: TeamConfig,
    #[serde(default)]
    pub standup: StandupConfig,
    #[serde(default)]
    pub people: Vec<PersonConfig>,
    #[serde(default)]
    pub projects: Vec<ProjectConfig>,
    #[serde(default)]
    pub queue: QueueConfig,
    #[serde(default)]
    pub schedules: Vec<ScheduleConfig>,
    #[serde(default)]
    pub conversation: ConversationConfig,
    #[serde(default)]
    pub digest: DigestConfig,
    #[serde(default)]
    pub llm: LlmConfig,
    #[serde(default)]
    pub agents: AgentsConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub fix: FixConfig,
    #[serde(default)]
    pub intake: IntakeConfig,
    #[serde(default)]
    pub email: EmailConfig,
    #[serde(default)]
    pub hours: HoursConfig,
}

/// Bug reports from outside the chat: today, alerts from Prometheus Alertmanager (or
/// SigNoz) at `POST /alerts/alertmanager`, with the bearer token `PMBOT_ALERTS_TOKEN`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// The project of alerts no route claims; default the team's default project.
    pub alerts_project: Option<String>,
    /// A resolved alert closes the ticket pmbot opened for it, when nobody touched it.
    pub close_resolved: bool,
    /// Alerts go to the project of the first route whose label matchers all hold.
    pub routes: Vec<AlertRoute>,
    /// A GitHub issue given this label goes to the AI queue (its SPEC still waits for an
    /// approver). None: labels move nothing.
    pub auto_fix_label: Option<String>,
    /// Sources of `POST /api/feedback`: each has its own bearer token
    /// (`PMBOT_FEEDBACK_TOKEN_<NAME>`), project and allowed browser origins.
    pub feedback: Vec<FeedbackSourceConfig>,
    /// Reports one source's token may send a minute.
    pub feedback_per_minute: u32,
    /// Reports one client address may send a minute.
    pub feedback_per_ip_per_minute: u32,
    /// Read the client's address from `Fly-Client-IP` / `X-Forwarded-For` (only behind a
    /// proxy that sets them; otherwise anyone could pick their own).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSourceConfig {
    /// Lowercase letters, digits and `-`; names the token's variable.
    pub name: String,
    pub project: String,
    /// Browser origins allowed to post (CORS), e.g. `https://acme.example`.
    #[serde(default)]
    pub origins: Vec<String>,
}

impl FeedbackSourceConfig {
    /// `PMBOT_FEEDBACK_TOKEN_WEBSITE` for `website`.
    pub fn token_variable(&self) -> String {
        let name: String =
            self.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        format!("PMBOT_FEEDBACK_TOKEN_{name}")
    }
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            alerts_project: None,
            close_resolved: true,
            routes: Vec::new(),
            auto_fix_label: None,
            feedback: Vec::new(),
            feedback_per_minute: 60,
            feedback_per_ip_per_minute: 10,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRoute {
    pub project: String,
    /// Label = value, every one of which the alert must carry.
    #[serde(default)]
    pub matchers: std::collections::BTreeMap<String, String>,
}

/// Hours read from a time tracker (`[hours]`): worklogs read incrementally into the hours the
/// compliance, budget, forecast and month-end agents count (the CSV import stays).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoursConfig {
    pub enabled: bool,
    /// `tempo` (`TEMPO_API_TOKEN`) or `jira` (Jira Cloud's own worklogs).
    pub source: HoursSourceKind,
    /// How often: a cron expression in the team's time zone.
    pub schedule: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoursSourceKind {
    Tempo,
    Jira,
}

impl Default for HoursConfig {
    fn default() -> Self {
        HoursConfig { enabled: false, source: HoursSourceKind::Tempo, schedule: "20 * * * *".into() }
    }
}

/// The support mailbox (`[email]`); its server settings are secrets in the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    /// Where tickets from the mailbox go; unset, no mailbox is read.
    pub project: Option<String>,
    /// How often the mailbox is read: a cron expression in the team's time zone.
    pub schedule: String,
    /// The address pmbot's mail comes from (`Support <support@acme.example>`).
    pub from: Option<String>,
    /// A new ticket's sender is told its key by mail.
    pub acknowledge: bool,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig { project: None, schedule: "* * * * *".into(), from: None, acknowledge: true }
    }
}

/// The AI queue for the whole team: who approves, limits, the sandbox, the default agent and
/// gates. Each project opts in with its own `[projects.fix]` (off by default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixConfig {
    /// Who may approve a SPEC: roles (`pm`, `lead` — a lead rule admits PMs too) or handles.
    pub spec_approvers: Vec<String>,
    /// Who may approve and merge a pull request.
    pub pr_approvers: Vec<String>,
    /// The PR gate must be decided by someone other than the SPEC's approver.
    pub distinct_approvers: bool,
    pub spec_timeout_hours: u64,
    pub pr_timeout_hours: u64,
    /// The agent's wall-clock limit; it is stopped (its whole process group) after this.
    pub max_execution_minutes: f64,
    pub max_runs_per_hour: u32,
    pub max_concurrent_runs: u32,
    /// Tokens a day for planning and the built-in agent.
    pub daily_token_budget: u64,
    /// Tokens one run's built-in agent may spend.
    pub max_tokens_per_run: u64,
    /// `bwrap` (default) or `none`, which must be chosen explicitly to run without one.
    pub sandbox: SandboxKind,
    /// Whether the agent may reach the network (an agent calling its model API needs it).
    /// QA gates never do.
    pub agent_network: bool,
    /// Address-space limit of everything in the sandbox, in MiB.
    pub memory_mb: u64,
    /// Processes the sandboxed user may have at once (a fork bomb stops here).
    pub max_processes: u32,
    /// `builtin` (the tool-calling loop over the language model), or a command template run
    /// in the worktree: `{prompt_file}`, `{spec_file}` and `{worktree}` are filled in.
    pub agent: String,
    /// Environment variables passed into the sandbox, by name (nothing else is).
    pub env: Vec<String>,
    /// More paths the sandbox sees, read-only (a toolchain outside /usr, e.g. ~/.cargo).
    pub read_only: Vec<std::path::PathBuf>,
    /// QA gates for projects that name none.
    pub gates: Vec<GateConfig>,
    /// Globs of paths whose change needs two approvals at the PR gate.
    pub critical_paths: Vec<String>,
    /// Where worktrees live; default `<data dir>/fix`.
    pub workspace_dir: Option<std::path::PathBuf>,
    /// Failed runs' worktrees are kept this long for inspection.
    pub workspace_cleanup_days: u32,
    /// Tickets estimated above this many hours are too big for the AI queue.
    pub max_estimate_hours: f64,
    /// Tickets with any of these labels never go to the AI queue.
    pub blocked_labels: Vec<String>,
    /// GitHub logins (or `org/team`) asked to review each pull request on the github forge.
    pub reviewers: Vec<String>,
    /// How the github forge merges an approved pull request: `squash`, `merge` or `rebase`.
    pub merge_method: MergeMethod,
    /// Labels put on each pull request on the github forge.
    pub pr_labels: Vec<String>,
    /// Open pull requests as drafts (the team's CI still runs; people are not asked yet).
    pub draft: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMethod {
    #[default]
    Squash,
    Merge,
    Rebase,
}

impl MergeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Squash => "squash",
            MergeMethod::Merge => "merge",
            MergeMethod::Rebase => "rebase",
        }
    }
}

impl Default for FixConfig {
    fn default() -> Self {
        FixConfig {
            spec_approvers: vec!["lead".into()],
            pr_approvers: vec!["lead".into()],
            distinct_approvers: true,
            spec_timeout_hours: 24,
            pr_timeout_hours: 48,
            max_execution_minutes: 30.0,
            max_runs_per_hour: 10,
            max_concurrent_runs: 2,
            daily_token_budget: 200_000,
            max_tokens_per_run: 100_000,
            sandbox: SandboxKind::Bwrap,
            agent_network: false,
            memory_mb: 4096,
            max_processes: 256,
            agent: "builtin".into(),
            env: vec!["LANG".into()],
            read_only: Vec::new(),
            gates: Vec::new(),
            critical_paths: Vec::new(),
            workspace_dir: None,
            workspace_cleanup_days: 7,
            max_estimate_hours: 8.0,
            blocked_labels: vec!["security".into(), "no-ai".into()],
            reviewers: Vec::new(),
            merge_method: MergeMethod::Squash,
            pr_labels: vec!["pmbot".into()],
            draft: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxKind {
    Bwrap,
    None,
}

/// A QA gate: a command run in the worktree, in the sandbox, without network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    pub name: String,
    pub command: String,
    #[serde(default = "gate_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "yes")]
    pub required: bool,
}

fn gate_timeout() -> u64 {
    600
}

fn yes() -> bool {
    true
}

/// A project's AI queue: its repository, forge, agent and gates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFixConfig {
    /// Whether tickets of this project may be fixed by an agent at all.
    #[serde(default)]
    pub enabled: bool,
    /// A local path or a clone URL.
    pub repository: String,
    #[serde(default = "main_branch")]
    pub default_branch: String,
    #[serde(default)]
    pub forge: ForgeKind,
    /// `owner/name` on GitHub; default: read from `repository`'s URL.
    #[serde(default)]
    pub github_repo: Option<String>,
    /// Overrides `[fix] agent`.
    #[serde(default)]
    pub agent: Option<String>,
    /// Overrides `[fix] gates`.
    #[serde(default)]
    pub gates: Option<Vec<GateConfig>>,
    /// Added to `[fix] critical_paths`.
    #[serde(default)]
    pub critical_paths: Vec<String>,
}

fn main_branch() -> String {
    "main".into()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// A plain git remote: the pull request is a record in pmbot, merging is a git merge.
    #[default]
    Local,
    Github,
}

/// How long what people said and what pmbot decided is kept; pruned daily by a job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub enabled: bool,
    /// A cron expression in the team's time zone. Default: 03:30 every day.
    pub schedule: String,
    /// Chat messages the bot read (their text). Default: 90 days.
    pub chat_messages_days: u32,
    /// The decision log. Default: 365 days.
    pub decisions_days: u32,
    /// Decided or expired approvals (pending ones are kept). Default: 180 days.
    pub approvals_days: u32,
    /// The record of what agents sent (an epic's "Skip" is kept). Default: 400 days.
    pub agent_sends_days: u32,
    /// Stored reports (month-end workbooks). Default: 730 days.
    pub reports_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            enabled: true,
            schedule: "30 3 * * *".into(),
            chat_messages_days: 90,
            decisions_days: 365,
            approvals_days: 180,
            agent_sends_days: 400,
            reports_days: 730,
        }
    }
}

/// The scheduled PM agents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// Where summaries for the PMs go.
    pub pm_channel: String,
    /// An agent with nothing to report says nothing (no "Nothing is stuck"); `false` posts
    /// its all-clear summaries too.
    pub quiet: bool,
    pub compliance: ComplianceConfig,
    pub budget: BudgetConfig,
    pub stuck: StuckConfig,
    pub epics: EpicsConfig,
    pub forecast: ForecastConfig,
    pub month_end: MonthEndConfig,
}

/// Month-end reconciliation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonthEndConfig {
    pub enabled: bool,
    /// Default: the 1st at 09:00, team time zone (for the previous month).
    pub schedule: String,
}

impl Default for MonthEndConfig {
    fn default() -> Self {
        MonthEndConfig { enabled: true, schedule: "0 9 1 * *".into() }
    }
}

/// Forecast variance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastConfig {
    pub enabled: bool,
    /// Default: Mondays 11:00 and the 1st of the month 11:00, team time zone.
    pub schedules: Vec<String>,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        ForecastConfig { enabled: true, schedules: vec!["0 11 * * MON".into(), "0 11 1 * *".into()] }
    }
}

/// Epic hygiene.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpicsConfig {
    pub enabled: bool,
    /// Default: 14:00 on working days, team time zone.
    pub schedule: String,
}

impl Default for EpicsConfig {
    fn default() -> Self {
        EpicsConfig { enabled: true, schedule: "0 14 * * MON-FRI".into() }
    }
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            pm_channel: "#pm".into(),
            quiet: true,
            compliance: ComplianceConfig::default(),
            budget: BudgetConfig::default(),
            stuck: StuckConfig::default(),
            epics: EpicsConfig::default(),
            forecast: ForecastConfig::default(),
            month_end: MonthEndConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StuckConfig {
    pub enabled: bool,
    /// Default: 09:00, 11:00, 14:00 and 16:00 on working days, team time zone.
    pub schedule: String,
    /// Nothing counts as stuck before this many working days in its status.
    pub floor_days: f64,
    /// The assignee gets a DM after this many working days stuck…
    pub dm_after_days: f64,
    /// …and the project's PM after this many.
    pub escalate_after_days: f64,
}

impl Default for StuckConfig {
    fn default() -> Self {
        StuckConfig {
            enabled: true,
            schedule: "0 9,11,14,16 * * MON-FRI".into(),
            floor_days: 2.0,
            dm_after_days: 5.0,
            escalate_after_days: 10.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    pub enabled: bool,
    /// Default: Mondays 10:00, team time zone.
    pub schedule: String,
    /// Full-time hours a week to be compliant, and to be partial (scaled pro rata).
    pub compliant_hours: f64,
    pub partial_hours: f64,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        ComplianceConfig { enabled: true, schedule: "0 10 * * MON".into(), compliant_hours: 32.0, partial_hours: 16.0 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    pub enabled: bool,
    /// Default: 09:00, 13:00 and 17:00 on working days, team time zone.
    pub schedule: String,
    /// Percentages of the monthly retainer that alert, once each per project and month.
    pub thresholds: Vec<u32>,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig { enabled: true, schedule: "0 9,13,17 * * MON-FRI".into(), thresholds: vec![75, 90, 100] }
    }
}

/// Conversation → tickets: which channels are read and how sure the bot must be to act.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// Read channel messages and match them to tickets.
    pub enabled: bool,
    /// Only these channels (empty: every channel the bot is in).
    pub channels: Vec<String>,
    /// Channels where decisions are logged but nothing is done or said.
    pub shadow_channels: Vec<String>,
    /// Private channels whose words are never quoted into public channels or tickets (DMs
    /// and Slack's `G…` channels are private anyway; Slack events also say so themselves).
    pub private_channels: Vec<String>,
    /// The label put on tickets created from conversation.
    pub label: String,
    /// How long a suggestion's buttons wait for an answer.
    pub suggestion_expiry_hours: u64,
    pub comment: Thresholds,
    #[serde(rename = "move")]
    pub move_: Thresholds,
    pub create: Thresholds,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            enabled: true,
            channels: Vec::new(),
            shadow_channels: Vec::new(),
            private_channels: Vec::new(),
            label: "from-chat".into(),
            suggestion_expiry_hours: 48,
            comment: Thresholds { auto: 0.9, ask: 0.6 },
            move_: Thresholds { auto: 0.9, ask: 0.6 },
            create: Thresholds { auto: 0.95, ask: 0.55 },
        }
    }
}

/// At or above `auto` the bot acts (with Undo); from `ask` it suggests; below, it only logs.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub auto: f64,
    pub ask: f64,
}

/// The weekly digest of what the team got done.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestConfig {
    pub enabled: bool,
    /// A cron expression in the team's time zone. Default: Fridays at 16:00.
    pub schedule: String,
    /// Default: the standup channel.
    pub channel: Option<String>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig { enabled: true, schedule: "0 16 * * FRI".into(), channel: None }
    }
}

/// The optional language model. The endpoint and key come from the environment
/// (`PMBOT_LLM_URL`, `PMBOT_LLM_MODEL`, `PMBOT_LLM_API_KEY`, or `ANTHROPIC_API_KEY`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Tokens (prompt and answer) the model may use per day; then the deterministic path.
    pub daily_token_budget: u64,
    /// How long one answer may take before the deterministic path is used.
    pub timeout_seconds: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig { daily_token_budget: 200_000, timeout_seconds: 10 }
    }
}

/// The job queue's limits and timings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Jobs of one queue a worker runs at once.
    pub concurrency: usize,
    /// How often idle workers look for jobs when no notification arrives.
    pub poll_seconds: u64,
    /// How long a claimed job is leased; a worker that stops heartbeating loses it after this.
    pub lease_seconds: u64,
    /// Firings missed while no scheduler ran are caught up within this window; older are skipped.
    pub catch_up_minutes: u64,
    /// Finished jobs are kept this long (at least the catch-up window).
    pub retention_hours: u64,
    /// On SIGTERM, how long running jobs may finish before being handed back.
    pub shutdown_grace_seconds: u64,
    /// How long a triage request waits for a PM or lead.
    pub triage_expiry_hours: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            concurrency: 4,
            poll_seconds: 2,
            lease_seconds: 30,
            catch_up_minutes: 60,
            retention_hours: 168,
            shutdown_grace_seconds: 20,
            triage_expiry_hours: 72,
        }
    }
}

/// An extra schedule, e.g. a standup DM'd to one person at their morning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    pub name: String,
    /// minute hour day month weekday.
    pub cron: String,
    /// What runs: "standup".
    #[serde(default = "standup_job")]
    pub job: String,
    /// The standup is this person's, and is DM'd to them unless a channel is given.
    #[serde(default)]
    pub person: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    /// Default: the person's time zone, else the team's.
    #[serde(default, deserialize_with = "optional_time_zone")]
    pub timezone: Option<Tz>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamConfig {
    pub name: String,
    /// The workspace (tenant) this team's rows belong to.
    pub workspace: String,
    #[serde(deserialize_with = "time_zone")]
    pub timezone: Tz,
    #[serde(deserialize_with = "weekdays")]
    pub working_days: Vec<Weekday>,
    /// Where tickets created from chat go when the channel names no project.
    pub default_project: Option<String>,
    /// The name people mention the bot by (`@pmbot`).
    pub bot_name: String,
    /// Days nobody works ("2026-11-26"); not expected in time tracking or budgets.
    #[serde(deserialize_with = "dates")]
    pub holidays: Vec<NaiveDate>,
}

impl Default for TeamConfig {
    fn default() -> Self {
        TeamConfig {
            name: "My team".into(),
            workspace: "default".into(),
            timezone: Tz::UTC,
            working_days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            default_project: None,
            bot_name: "pmbot".into(),
            holidays: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StandupConfig {
    /// Post the team standup on the schedule (it can always be asked for with /standup).
    pub enabled: bool,
    /// A cron expression in the team's time zone.
    pub schedule: String,
    pub channel: String,
    /// Open tickets with no activity for more working days than this are called out.
    pub stale_after_days: u32,
    /// How many items each section lists before "…and N more".
    pub top_items: usize,
    /// A pull request nobody reviewed for this many working hours is listed as waiting.
    pub review_wait_hours: f64,
}

impl Default for StandupConfig {
    fn default() -> Self {
        StandupConfig {
            enabled: true,
            schedule: "0 9 * * MON-FRI".into(),
            channel: "#team".into(),
            stale_after_days: 3,
            top_items: 5,
            review_wait_hours: 4.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    pub handle: String,
    pub name: String,
    #[serde(default = "member")]
    pub role: Role,
    #[serde(default, deserialize_with = "optional_time_zone")]
    pub timezone: Option<Tz>,
    #[serde(default)]
    pub slack_id: Option<String>,
    #[serde(default)]
    pub discord_id: Option<String>,
    /// Their GitHub login: their reviews on GitHub count as theirs in pmbot.
    #[serde(default)]
    pub github: Option<String>,
    #[serde(default)]
    pub tracker_id: Option<String>,
    #[serde(default)]
    pub time_tracking_id: Option<String>,
    /// Contracted hours a week; part-time people are judged pro rata. Default: 40.
    #[serde(default = "full_week")]
    pub weekly_hours: f64,
    /// Days off: "2026-12-24" or "2026-12-21..2026-12-31".
    #[serde(default, deserialize_with = "date_ranges")]
    pub leave: Vec<(NaiveDate, NaiveDate)>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub key: String,
    pub name: String,
    #[serde(rename = "type", default = "internal")]
    pub kind: ProjectKind,
    #[serde(default)]
    pub retainer_hours: Option<f64>,
    #[serde(default)]
    pub hourly_rate: Option<f64>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub pm: Option<String>,
    /// The project's AI queue (`[projects.fix]`); without it, no fixes.
    #[serde(default)]
    pub fix: Option<ProjectFixConfig>,
    /// The project's GitHub repository (`[projects.github]`): its pull requests and issues.
    #[serde(default)]
    pub github: Option<ProjectGithubConfig>,
    /// What runs after a fix is merged (`[projects.deploy]`).
    #[serde(default)]
    pub deploy: Option<DeployConfig>,
    /// The project's real tracker (`[projects.tracker]`); without it, pmbot's own board.
    #[serde(default)]
    pub tracker: Option<TrackerConfig>,
}

/// Which tracker holds a project's tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackerKind {
    /// pmbot's own board (the default).
    Builtin,
    Linear,
    Jira,
    Github,
}

/// A project mirrored from its tracker: issues, history and comments read in, pmbot's own
/// changes written back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    pub kind: TrackerKind,
    /// Linear: the team's key. It must be the project's key: the tracker's keys (`ENG-12`)
    /// are the tickets' keys in chat.
    #[serde(default)]
    pub team: Option<String>,
    /// Tracker status name → pmbot status (`"QA" = "in_review"`), matched without case.
    #[serde(default)]
    pub statuses: std::collections::BTreeMap<String, crate::board::Status>,
    /// Statuses not named above map by their category (Linear: backlog, unstarted, started,
    /// completed, canceled). Off: an unnamed status maps to nothing (logged; the ticket stays).
    #[serde(default = "yes")]
    pub map_by_kind: bool,
    /// How often the tracker is polled (cron, the team's zone); webhooks come in between.
    #[serde(default = "poll_every_ten_minutes")]
    pub poll: String,
    /// Whether pmbot's changes to the project's tickets are written to the tracker.
    #[serde(default = "yes")]
    pub write_back: bool,
}

fn poll_every_ten_minutes() -> String {
    "*/10 * * * *".into()
}

/// A project's deploy after a merge: a command (in a checkout of the merged commit, in the
/// sandbox, with network) or a deploy hook URL (POSTed), or both (the command first).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    #[serde(default)]
    pub command: Option<String>,
    /// A Fly, Vercel, Netlify… deploy hook; sent `{project, ticket, run, sha}` as JSON.
    #[serde(default)]
    pub webhook: Option<String>,
    #[serde(default = "deploy_timeout")]
    pub timeout_seconds: u64,
    /// Environment variables the command gets, by name (its credentials).
    #[serde(default)]
    pub env: Vec<String>,
}

fn deploy_timeout() -> u64 {
    900
}

/// What GitHub's webhooks do for a project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectGithubConfig {
    /// `owner/name`.
    pub repo: String,
    /// GitHub Issues are an intake: an issue opened there becomes a ticket, its comments
    /// the ticket's comments, and closing it closes the ticket.
    #[serde(default)]
    pub issues: bool,
    /// A pull request naming a ticket moves it: to `in_review` when opened, `done` when merged.
    #[serde(default = "yes")]
    pub move_tickets: bool,
}

impl Config {
    /// The project whose GitHub repository is `slug` (`owner/name`, any case): named in
    /// `[projects.github]`, or the github forge's repository of `[projects.fix]`.
    pub fn project_of_repo(&self, slug: &str) -> Option<&ProjectConfig> {
        let same = |s: &str| s.eq_ignore_ascii_case(slug);
        self.projects.iter().find(|p| p.github.as_ref().is_some_and(|g| same(&g.repo))).or_else(|| {
            self.projects.iter().find(|p| {
                p.fix.as_ref().is_some_and(|f| {
                    f.github_repo
                        .as_deref()
                        .or(crate::forge::github::policy::repo_slug(&f.repository).as_deref())
                        .is_some_and(same)
                })
            })
        })
    }

    /// The person of the team whose GitHub login is `login`.
    pub fn person_on_github(&self, login: &str) -> Option<Person> {
        let handle = self.people.iter().find(|p| p.github.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(login)))?;
        self.people().into_iter().find(|p| p.handle == handle.handle)
    }

    /// The team as board people, each with a time zone (the team's when not set).
    pub fn people(&self) -> Vec<Person> {
        self.people
            .iter()
            .map(|p| Person {
                handle: p.handle.clone(),
                display_name: p.name.clone(),
                role: p.role,
                timezone: p.timezone.unwrap_or(self.team.timezone),
                slack_id: p.slack_id.clone(),
                discord_id: p.discord_id.clone(),
                tracker_id: p.tracker_id.clone(),
                time_tracking_id: p.time_tracking_id.clone(),
            })
            .collect()
    }

    pub fn projects(&self) -> Vec<Project> {
        self.projects
            .iter()
            .map(|p| Project {
                key: p.key.clone(),
                name: p.name.clone(),
                kind: p.kind,
                retainer_hours: p.retainer_hours,
                hourly_rate: p.hourly_rate,
                channel: p.channel.clone(),
                pm: p.pm.clone(),
            })
            .collect()
    }

    /// The project for tickets created in `channel`: the project whose channel it is,
    /// else the team's default project, else the first project.
    pub fn project_for_channel(&self, channel: &str) -> Option<&ProjectConfig> {
        let by_channel = self.projects.iter().find(|p| p.channel.as_deref().is_some_and(|c| same_channel(c, channel)));
        let by_default = || {
            let key = self.team.default_project.as_deref()?;
            self.projects.iter().find(|p| p.key == key)
        };
        by_channel.or_else(by_default).or_else(|| self.projects.first())
    }
}

fn standup_job() -> String {
    "standup".into()
}

fn member() -> Role {
    Role::Member
}

fn internal() -> ProjectKind {
    ProjectKind::Internal
}

fn parse_time_zone<E: de::Error>(name: &str) -> Result<Tz, E> {
    name.parse::<Tz>()
        .map_err(|_| E::custom(format!("unknown time zone \"{name}\" (use an IANA name such as Europe/Lisbon)")))
}

fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    parse_time_zone(&String::deserialize(d)?)
}

fn optional_time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
    Ok(Some(parse_time_zone(&String::deserialize(d)?)?))
}

/// `#eng` in the config and `eng` (or a Slack id written either way) name the same channel.
pub fn same_channel(configured: &str, channel: &str) -> bool {
    configured.trim_start_matches('#').eq_ignore_ascii_case(channel.trim_start_matches('#'))
}

fn full_week() -> f64 {
    40.0
}

fn parse_date<E: de::Error>(text: &str) -> Result<NaiveDate, E> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| E::custom(format!("\"{text}\" is not a date (use YYYY-MM-DD)")))
}

fn dates<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    Vec::<String>::deserialize(d)?.iter().map(|day| parse_date(day)).collect()
}

/// "2026-12-24" (one day) or "2026-12-21..2026-12-31" (inclusive).
fn date_ranges<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(NaiveDate, NaiveDate)>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|range| {
            let (from, to) = range.split_once("..").unwrap_or((range, range));
            let (from, to) = (parse_date(from)?, parse_date(to)?);
            if to < from {
                return Err(de::Error::custom(format!("\"{range}\" ends before it starts")));
            }
            Ok((from, to))
        })
        .collect()
}

fn weekdays<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|day| {
            day.parse::<Weekday>()
                .map_err(|_| de::Error::custom(format!("unknown weekday \"{day}\" (use mon, tue, …, sun)")))
        })
        .collect()
}
