//! Wiring: configuration + store + templates into a running bot, and the HTTP server.

use crate::chat::discord::DiscordChat;
use crate::chat::slack::SlackChat;
use crate::chat::{Chat, Templates};
use crate::config::{self, Config};
use crate::dispatch::Bot;
use crate::jobs::{self, JobEnv};
use crate::queue::{Registry, RegistryError, Worker};
use crate::store::{Store, StoreError, WorkspaceId};
use chrono::Utc;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// A configured, migrated store with the team synced into it.
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub templates: Arc<Templates>,
    /// Set when `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET` are.
    pub slack: Option<config::SlackEnv>,
    /// Set when `DISCORD_BOT_TOKEN`, `DISCORD_PUBLIC_KEY` and `DISCORD_APPLICATION_ID` are.
    pub discord: Option<config::DiscordEnv>,
    /// `PMBOT_ALERTS_TOKEN`: the alert endpoint is served when set.
    pub alerts_token: Option<String>,
    /// The optional language model (see `LlmSettings::from_env`); `None` keeps every
    /// decision deterministic.
    pub llm: Option<Arc<crate::llm::Llm>>,
    /// GitHub's API (`GITHUB_TOKEN` or a GitHub App's settings); the github forge needs it.
    pub github: Option<Arc<crate::forge::github::Github>>,
    /// `GITHUB_WEBHOOK_SECRET`: `POST /github/webhook` is served when set.
    pub github_webhook_secret: Option<String>,
    /// Linear's API (`LINEAR_API_KEY`): projects with `[projects.tracker] kind = "linear"` sync.
    pub linear: Option<Arc<crate::tracker::linear::Linear>>,
    /// `LINEAR_WEBHOOK_SECRET`: `POST /linear/webhook` is served when set.
    pub linear_webhook_secret: Option<String>,
    /// Jira Cloud's API (`JIRA_URL`, `JIRA_EMAIL`, `JIRA_API_TOKEN`): projects with `kind = "jira"` sync.
    pub jira: Option<Arc<crate::tracker::jira::Jira>>,
    /// `JIRA_WEBHOOK_SECRET` (the admin webhook's secret): `POST /jira/webhook` is served when set.
    pub jira_webhook_secret: Option<String>,
    /// Tempo's API (`TEMPO_API_TOKEN`): `[tempo] enabled` reads hours from it.
    pub tempo: Option<Arc<crate::tracker::hours::Tempo>>,
    /// Feedback sources whose tokens are set: `POST /api/feedback` is served when any is.
    pub feedback: Vec<crate::intake::feedback::http::Source>,
    /// The support mailbox and the mail pmbot sends, when set.
    pub imap: Option<Arc<crate::intake::email::ImapSettings>>,
    pub mailer: Option<Arc<crate::intake::email::Mailer>>,
    /// Whether matching may read meaning with the local embedding model (when installed):
    /// off with `PMBOT_EMBEDDINGS=off`.
    pub embeddings: bool,
}

impl App {
    /// Opens `database_url` (or the SQLite file in the data directory), migrates it and
    /// syncs the team's people and projects from the configuration.
    pub async fn open(config: Config, database_url: Option<&str>) -> Result<App, StoreError> {
        let store = match database_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => Store::connect(url).await?,
            None => Store::open_in_dir(&config::data_dir()).await?,
        };
        store.migrate().await?;
        let feedback = crate::intake::feedback::http::FeedbackHttp::sources_from_env(&config);
        let said = |what: &str, err: String| tracing::error!(error = %err, "{what} is not available");
        let imap =
            crate::intake::email::ImapSettings::from_env().map_err(|e| said("the support mailbox", e)).ok().flatten();
        let mailer = crate::intake::email::mailer_from_env(&config).map_err(|e| said("sending mail", e)).ok().flatten();
        let app = App {
            config: Arc::new(config),
            store,
            templates: Arc::new(Templates::new()),
            slack: config::slack_env(),
            alerts_token: config::alerts_token(),
            discord: config::discord_env(),
            llm: None,
            github: github_from_env(),
            github_webhook_secret: config::github_webhook_secret(),
            linear: crate::tracker::linear::LinearSettings::from_env()
                .map(|s| Arc::new(crate::tracker::linear::Linear::new(s))),
            linear_webhook_secret: std::env::var("LINEAR_WEBHOOK_SECRET").ok().filter(|s| !s.trim().is_empty()),
            jira: crate::tracker::jira::JiraSettings::from_env().map(|s| Arc::new(crate::tracker::jira::Jira::new(s))),
            jira_webhook_secret: std::env::var("JIRA_WEBHOOK_SECRET").ok().filter(|s| !s.trim().is_empty()),
            tempo: crate::tracker::hours::TempoSettings::from_env()
                .map(|s| Arc::new(crate::tracker::hours::Tempo::new(s))),
            feedback,
            imap: imap.map(Arc::new),
            mailer: mailer.map(Arc::new),
            embeddings: std::env::var("PMBOT_EMBEDDINGS").map_or(true, |v| !v.eq_ignore_ascii_case("off")),
        };
        app.sync_team().await?;
        Ok(app)
    }

    pub fn workspace(&self) -> WorkspaceId {
        WorkspaceId::new(self.config.team.workspace.clone())
    }

    pub fn bot(&self) -> Bot {
        Bot::new(self.store.clone(), self.config.clone(), self.templates.clone())
    }

    /// A worker running pmbot's job kinds, speaking through `chat`.
    pub fn worker<C: Chat + 'static>(&self, chat: Arc<C>) -> Result<Worker<JobEnv<C>>, RegistryError> {
        Ok(self.worker_with(chat, jobs::registry::<C>()?))
    }

    /// A worker that also runs Slack's job kinds, speaking through `chat`.
    pub fn slack_worker(&self, chat: Arc<SlackChat>) -> Result<Worker<JobEnv<SlackChat>>, RegistryError> {
        Ok(self.worker_with(chat, jobs::slack_registry()?))
    }

    /// A worker for Slack's job kinds only (beside the others, when Discord is there too).
    pub fn slack_only_worker(&self, chat: Arc<SlackChat>) -> Result<Worker<JobEnv<SlackChat>>, RegistryError> {
        Ok(self.worker_with(chat, jobs::slack_only_registry()?))
    }

    /// A worker for Discord's job kinds only (beside the others).
    pub fn discord_only_worker(&self, chat: Arc<DiscordChat>) -> Result<Worker<JobEnv<DiscordChat>>, RegistryError> {
        Ok(self.worker_with(chat, jobs::discord_only_registry()?))
    }

    /// A worker that also runs Discord's job kinds, speaking through `chat`.
    pub fn discord_worker(&self, chat: Arc<DiscordChat>) -> Result<Worker<JobEnv<DiscordChat>>, RegistryError> {
        Ok(self.worker_with(chat, jobs::discord_registry()?))
    }

    /// What a job works with, speaking through `chat` (the worker's; also for running a
    /// step outside the queue).
    pub fn job_env<C>(&self, chat: Arc<C>) -> JobEnv<C> {
        JobEnv {
            store: self.store.clone(),
            config: self.config.clone(),
            templates: self.templates.clone(),
            chat,
            llm: self.llm.clone(),
            github: self.github.clone(),
            linear: self.linear.clone(),
            jira: self.jira.clone(),
            tempo: self.tempo.clone(),
            imap: self.imap.clone(),
            mailer: self.mailer.clone(),
            boards: Arc::new(crate::workflows::conversation::BoardCache::new(self.embeddings)),
        }
    }

    fn worker_with<C: Send + Sync + 'static>(&self, chat: Arc<C>, registry: Registry<JobEnv<C>>) -> Worker<JobEnv<C>> {
        let env = self.job_env(chat);
        Worker::new(self.store.clone(), Arc::new(registry), Arc::new(env), jobs::worker_config(&self.config))
    }

    async fn sync_team(&self) -> Result<(), StoreError> {
        let (ws, now) = (self.workspace(), Utc::now());
        self.store.ensure_workspace(&ws, &self.config.team.name, now).await?;
        self.store.sync_people(&ws, &self.config.people(), now).await?;
        self.store.sync_projects(&ws, &self.config.projects(), now).await
    }

    /// Binds `listen` (port 0 picks a free port) and serves until `shutdown` completes.
    /// Returns the bound address and the server's future.
    pub async fn serve(
        &self,
        listen: &str,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let slack = self.slack.as_ref().and_then(|settings| {
            let chat = crate::chat::slack::SlackChat::new(&crate::chat::slack::SlackSettings {
                bot_token: settings.bot_token.clone(),
                api_url: settings.api_url.clone(),
            });
            Some(Arc::new(crate::chat::slack::http::SlackHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                signing_secret: settings.signing_secret.clone()?,
                chat: Arc::new(chat),
                team_id: settings.team_id.clone(),
                app_id: settings.app_id.clone(),
                people: Arc::new(self.config.people()),
            }))
        });
        let discord = self.discord.as_ref().and_then(|settings| {
            let public_key = crate::chat::discord::verify::public_key(&settings.public_key).ok()?;
            Some(Arc::new(crate::chat::discord::http::DiscordHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                public_key,
                guild_id: settings.guild_id.clone(),
                people: Arc::new(self.config.people()),
            }))
        });
        let alerts = self.alerts_token.as_ref().map(|token| {
            Arc::new(crate::intake::alerts::http::AlertsHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                token: token.clone(),
            })
        });
        let github = self.github_webhook_secret.as_ref().map(|secret| {
            Arc::new(crate::intake::github::http::GithubHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                secret: secret.clone(),
            })
        });
        let linear = self.linear_webhook_secret.as_ref().map(|secret| {
            Arc::new(crate::tracker::linear::LinearHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                secret: secret.clone(),
            })
        });
        let jira = self.jira_webhook_secret.as_ref().map(|secret| {
            Arc::new(crate::tracker::jira::JiraHttp {
                store: self.store.clone(),
                workspace: self.workspace(),
                secret: secret.clone(),
            })
        });
        let feedback = (!self.feedback.is_empty()).then(|| {
            let intake = &self.config.intake;
            Arc::new(crate::intake::feedback::http::FeedbackHttp::new(
                self.store.clone(),
                self.workspace(),
                self.feedback.clone(),
                intake.feedback_per_minute,
                intake.feedback_per_ip_per_minute,
                intake.trust_forwarded_for,
            ))
        });
        let endpoints = crate::http::Endpoints { slack, discord, alerts, github, linear, jira, feedback };
        let router = crate::http::router(self.store.clone(), endpoints);
        let limits = crate::http::serve::ConnectionLimits::default();
        let server = crate::http::serve::serve(listener, router, limits, shutdown);
        Ok((addr, server))
    }
}

/// The GitHub client from the environment; settings that do not work are said once and
/// leave the github forge unavailable (runs on it say so in their thread).
fn github_from_env() -> Option<Arc<crate::forge::github::Github>> {
    use crate::forge::github::{Github, GithubSettings};
    match GithubSettings::from_env().and_then(|s| s.map(|s| Github::new(&s)).transpose()) {
        Ok(github) => github.map(Arc::new),
        Err(err) => {
            tracing::error!(error = %err, "GitHub is not available");
            None
        }
    }
}
