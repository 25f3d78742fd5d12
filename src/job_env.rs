//! What a job has to work with (`JobEnv`: store, configuration, templates, a chat, the
//! optional language model) and how a step says it stopped (`StepError`). Below the
//! workflows and the platforms, which all run as jobs; the registry of kinds (`crate::jobs`)
//! sits above them.

use crate::chat::Templates;
use crate::config::Config;
use crate::queue::{JobContext, JobSpec, Outcome};
use crate::store::{Store, WorkspaceId};
use std::sync::Arc;

/// What jobs can use: the store, the configuration, the templates and a chat to speak in.
pub struct JobEnv<C> {
    pub store: Store,
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
    pub chat: Arc<C>,
    pub llm: Option<Arc<crate::llm::Llm>>,
    /// GitHub's API, when credentials are set (the github forge needs it).
    pub github: Option<Arc<crate::forge::github::Github>>,
    /// The support mailbox (`PMBOT_IMAP_URL`).
    pub imap: Option<Arc<crate::intake::email::ImapSettings>>,
    /// Mail pmbot sends (`PMBOT_SMTP_URL` and `[email] from`).
    pub mailer: Option<Arc<crate::intake::email::Mailer>>,
    /// Linear's API (`LINEAR_API_KEY`), for projects mirrored from Linear.
    pub linear: Option<Arc<crate::tracker::linear::Linear>>,
    /// Jira Cloud's API (`JIRA_URL`, `JIRA_EMAIL`, `JIRA_API_TOKEN`), for projects mirrored from Jira.
    pub jira: Option<Arc<crate::tracker::jira::Jira>>,
    /// Tempo's API (`TEMPO_API_TOKEN`), for `[tempo]`.
    pub tempo: Option<Arc<crate::tracker::hours::Tempo>>,
    /// The worker's matcher, kept current (built once, not per message).
    pub boards: Arc<crate::workflows::conversation::BoardCache>,
}

impl<C> JobEnv<C> {
    pub fn workspace(&self) -> WorkspaceId {
        WorkspaceId::new(self.config.team.workspace.clone())
    }
}

/// Why a job's step stopped: what is gone for good, or what may work on a retry.
#[derive(Debug)]
pub enum StepError {
    Gone(String),
    Failed(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Gone(why) | StepError::Failed(why) => f.write_str(why),
        }
    }
}

/// A step's result as the queue understands it.
pub fn finish(result: Result<Outcome, StepError>) -> Outcome {
    match result {
        Ok(outcome) => outcome,
        Err(StepError::Gone(reason)) => Outcome::Cancel(reason),
        Err(StepError::Failed(reason)) => Outcome::retry(reason),
    }
}

impl From<crate::store::StoreError> for StepError {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_user_error() {
            StepError::Gone(err.to_string())
        } else {
            StepError::Failed(err.to_string())
        }
    }
}

impl From<crate::chat::ChatError> for StepError {
    fn from(err: crate::chat::ChatError) -> Self {
        StepError::Failed(err.to_string())
    }
}

impl From<crate::chat::TemplateError> for StepError {
    fn from(err: crate::chat::TemplateError) -> Self {
        StepError::Failed(err.to_string())
    }
}

/// Enqueues `jobs` together (all or none) and says how the job that made them ended.
pub(crate) async fn enqueue_all<J: JobSpec>(
    store: &Store,
    ctx: &JobContext,
    jobs: impl IntoIterator<Item = J>,
) -> Outcome {
    let enqueued = async {
        let mut tx = store.begin().await?;
        for job in jobs {
            tx.enqueue(&ctx.workspace, &job.to_new_job(ctx.now), ctx.now).await?;
        }
        tx.commit().await
    };
    match enqueued.await {
        Ok(()) => Outcome::Done,
        Err(err) => Outcome::retry(err.to_string()),
    }
}
