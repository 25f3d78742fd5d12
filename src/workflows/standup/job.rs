//! The scheduled standup: a job that builds the standup for its firing time and posts it
//! to the channel, or DMs it to the person it is for.

use crate::chat::Chat;
use crate::job_env::JobEnv;
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StandupJob {
    /// Where to post; `None` with a person means a DM to them.
    pub channel: Option<String>,
    /// Whose standup (a handle); `None` for the team.
    pub person: Option<String>,
    /// The firing: the standup describes the board as of this instant.
    pub at: DateTime<Utc>,
}

impl JobSpec for StandupJob {
    const KIND: &'static str = "standup.post";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(60);
}

impl<C: Chat + 'static> Job<JobEnv<C>> for StandupJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        let person = self.person.as_deref();
        let built = super::build(
            &env.store,
            &ctx.workspace,
            &env.config,
            &env.templates,
            person,
            super::Audience::Team,
            self.at,
        )
        .await;
        let message = match built {
            Ok(message) => message,
            Err(err) => return Outcome::retry(err.to_string()),
        };
        let sent = match (&self.channel, person) {
            (Some(channel), _) => env.chat.post(channel, None, &message).await.map(|_| ()),
            (None, Some(handle)) => {
                let person = env.config.people().into_iter().find(|p| p.handle == handle);
                match person.and_then(|p| env.chat.address(&p)) {
                    Some(user) => env.chat.dm(&user, &message).await.map(|_| ()),
                    None => return Outcome::Discard(format!("@{handle} has no id on this chat platform to DM")),
                }
            }
            (None, None) => return Outcome::Discard("a standup job needs a channel or a person".into()),
        };
        match sent {
            Ok(()) => Outcome::Done,
            Err(err) => Outcome::retry(err.to_string()),
        }
    }
}
