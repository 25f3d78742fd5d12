//! The weekly digest (Fridays by default): what each person and the team got done, moved
//! and created this week, posted to the team channel.

pub mod decide;

use crate::chat::{Chat, Message, Templates};
use crate::config::Config;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{Store, TicketFilter, WorkspaceId};
use crate::workflows::views::{long_date, Names};
use chrono::{DateTime, Utc};
use decide::{decide, Week};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestJob {
    pub channel: String,
    /// The firing: the digest covers the week up to this instant.
    pub at: DateTime<Utc>,
}

impl JobSpec for DigestJob {
    const KIND: &'static str = "digest.weekly";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(60);
}

impl<C: Chat + 'static> Job<JobEnv<C>> for DigestJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        let posted = async {
            let message = build(&env.store, &ctx.workspace, &env.config, &env.templates, self.at).await?;
            env.chat.post(&self.channel, None, &message).await?;
            Ok::<_, StepError>(Outcome::Done)
        };
        crate::job_env::finish(posted.await)
    }
}

/// The digest of the week up to `now`.
pub async fn build(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<Message, StepError> {
    let tickets = store.tickets(ws, &TicketFilter::default()).await?;
    let transitions = store.transitions_since(ws, now - chrono::Duration::days(8)).await?;
    let digest = decide(now, config.team.timezone, &tickets, &transitions);
    let names = Names::new(&store.people(ws).await?);
    let titles: HashMap<String, &str> = tickets.iter().map(|t| (t.key.to_string(), t.title.as_str())).collect();
    let list = |keys: &[crate::board::TicketKey]| -> Vec<String> {
        keys.iter().map(|k| format!("*{k}* {}", titles.get(k.as_str()).copied().unwrap_or(""))).collect()
    };
    let summary = |w: &Week| format!("{} done · {} moved · {} created", w.done.len(), w.moved.len(), w.created.len());
    let people: Vec<_> = digest
        .people
        .iter()
        .map(|(handle, week)| {
            json!({
                "name": names.full(handle), "summary": summary(week),
                "done": list(&week.done), "created": list(&week.created),
            })
        })
        .collect();
    let context = json!({
        "title": format!("Week in review · {} to {}", long_date(crate::calendar::local_date(digest.since, config.team.timezone)),
            long_date(crate::calendar::local_date(now, config.team.timezone))),
        "team": config.team.name, "summary": summary(&digest.team), "people": people,
        "done": list(&digest.team.done), "quiet": digest.team.is_empty(),
    });
    Ok(templates.render("digest", &context)?)
}
