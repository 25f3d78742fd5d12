//! The reporter loop: whoever reported a bug hears back, on the channel it came from, when
//! its fix is merged (or, for a project that deploys, when it is live). A person of the team
//! gets a DM; a chat thread that asked for it gets a reply in the thread; a GitHub issue a
//! comment; a feedback form's or a mailbox's reporter an email (when pmbot can send mail).
//! Each is told once: what was said is in the decision log, keyed by run and reporter.

use crate::board::TicketKey;
use crate::chat::{Chat, Message};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{NewDecision, Reporter};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `reply.tell`: the reporters of a fix run's ticket told its news (a job of its own, so a
/// chat or mail outage is retried without touching the run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyJob {
    pub ticket: String,
    pub run: i64,
    pub news: News,
}

impl JobSpec for ReplyJob {
    const KIND: &'static str = "reply.tell";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

    fn unique_key(&self) -> Option<String> {
        Some(format!("reply:{}:{}", self.run, self.news.as_str()))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for ReplyJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        let told = async {
            let key: TicketKey =
                self.ticket.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
            tell_reporters(env, &key, self.run, self.news, ctx.now).await.map(|()| Outcome::Done)
        };
        crate::job_env::finish(told.await)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum News {
    Merged,
    Deployed,
}

impl News {
    fn as_str(self) -> &'static str {
        match self {
            News::Merged => "merged",
            News::Deployed => "deployed",
        }
    }
}

/// The words a reporter reads.
pub fn words(news: News, key: &str, title: &str) -> String {
    match news {
        News::Merged => format!("✓ {key} “{title}” is fixed: the change was reviewed and merged."),
        News::Deployed => format!("🚀 {key} “{title}” is fixed and deployed: it is live now."),
    }
}

/// `msg:slack:C123:1700000000.000100` → `("slack", "C123", "1700000000.000100")`.
fn chat_origin(external_id: &str) -> Option<(&str, &str, &str)> {
    let rest = external_id.strip_prefix("msg:")?;
    let (platform, rest) = rest.split_once(':')?;
    let (channel, ts) = rest.rsplit_once(':')?;
    (!channel.is_empty() && !ts.is_empty()).then_some((platform, channel, ts))
}

/// Tells everyone who reported `key` that fix run `run` brought `news`.
pub async fn tell_reporters<C: Chat>(
    env: &JobEnv<C>,
    key: &TicketKey,
    run: i64,
    news: News,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let ws = env.workspace();
    let ticket = env.store.ticket(&ws, key).await?;
    let text = words(news, key.as_str(), &ticket.title);
    // (way, address, and the recorded reporter to mark told, for those outside the team)
    let mut ways: Vec<(String, String, Option<Reporter>)> = Vec::new();
    if let Some(handle) = &ticket.reporter {
        ways.push(("person".into(), handle.clone(), None));
    }
    if ticket.source.tracker.as_deref() == Some("chat") {
        if let Some(id) = ticket.source.external_id.as_deref().filter(|id| chat_origin(id).is_some()) {
            ways.push(("thread".into(), id.to_string(), None));
        }
    }
    for r in env.store.reporters_of(&ws, key.as_str()).await? {
        ways.push((r.via.clone(), r.address.clone(), Some(r)));
    }
    let mut later = Vec::new();
    for (via, address, recorded) in ways {
        let once = format!("reply:{run}:{}:{via}:{address}", news.as_str());
        if env.store.decision_by_source(&ws, &once).await?.is_some() {
            continue;
        }
        let told = tell(env, &via, &address, &text, key).await;
        let (outcome, rationale) = match &told {
            Ok(()) => ("told", format!("the reporter ({via} {address}) was told {key} is {}", news.as_str())),
            Err(Failure::Never(why)) => {
                ("not told", format!("the reporter ({via} {address}) could not be told: {why}"))
            }
            // The platform is away: nothing is recorded, and the job tries again.
            Err(Failure::Later(why)) => {
                later.push(format!("{via} {address}: {why}"));
                continue;
            }
        };
        let decision = NewDecision {
            kind: "reporter.reply".into(),
            subject: key.to_string(),
            inputs: json!({ "run": run, "via": via, "address": address, "news": news.as_str() }),
            rationale,
            confidence: 1.0,
            action: "reply".into(),
            actor: "pmbot".into(),
            outcome: outcome.into(),
            source: Some(once),
        };
        // Logged once per reporter and news; a retry finds it and says nothing again.
        let _ = env.store.log_decision_once(&ws, &decision, now).await?;
        if let (Some(r), Ok(())) = (recorded, &told) {
            env.store.mark_reporter_told(&ws, &r, now).await?;
        }
    }
    if later.is_empty() {
        Ok(())
    } else {
        Err(StepError::Failed(format!("reporters not told yet: {}", later.join("; "))))
    }
}

/// Why a reporter was not told: for good, or for now.
enum Failure {
    Never(String),
    Later(String),
}

async fn tell<C: Chat>(env: &JobEnv<C>, via: &str, address: &str, text: &str, key: &TicketKey) -> Result<(), Failure> {
    let never = |why: &str| Failure::Never(why.to_string());
    let later = |why: String| Failure::Later(why);
    match via {
        "person" => {
            let people = env.config.people();
            let person = people.iter().find(|p| p.handle == address).ok_or_else(|| never("no longer on the team"))?;
            let user = env.chat.address(person).ok_or_else(|| never("no id on this chat platform"))?;
            env.chat.dm(&user, &Message::text(text)).await.map(|_| ()).map_err(|e| later(e.to_string()))
        }
        "thread" => {
            let (platform, channel, ts) = chat_origin(address).ok_or_else(|| never("not a message"))?;
            if !env.chat.speaks(platform) {
                let why = format!("the thread is on {platform}, pmbot speaks on {} here", env.chat.platform());
                return Err(Failure::Never(why));
            }
            env.chat.post(channel, Some(ts), &Message::text(text)).await.map(|_| ()).map_err(|e| later(e.to_string()))
        }
        "github" => {
            use crate::forge::github::GithubError;
            let github = env.github.as_deref().ok_or_else(|| never("no GitHub credentials"))?;
            let (repo, number) = address.rsplit_once('#').ok_or_else(|| never("not owner/name#number"))?;
            let number: i64 = number.parse().map_err(|_| never("not owner/name#number"))?;
            github.comment(repo, number, text).await.map_err(|e| match e {
                GithubError::Refused { .. } | GithubError::Settings(_) => Failure::Never(e.to_string()),
                GithubError::RateLimited(_) | GithubError::Unavailable(_) => later(e.to_string()),
            })
        }
        "feedback" | "email" => match env.mailer.as_deref() {
            Some(mailer) => {
                let sent = mailer.send(address, &format!("[{key}] fixed"), text, None).await;
                sent.map(|_| ()).map_err(|e| match e {
                    crate::intake::email::smtp::MailError::Send(_) => later(e.to_string()),
                    _ => Failure::Never(e.to_string()),
                })
            }
            None => Err(never("pmbot sends no email here (no PMBOT_SMTP_URL and [email] from)")),
        },
        other => Err(Failure::Never(format!("no way to reach a reporter by {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_origin_is_read_from_the_ticket_source() {
        assert_eq!(chat_origin("msg:slack:C123:1700000000.000100"), Some(("slack", "C123", "1700000000.000100")));
        assert_eq!(chat_origin("msg:shell:#acme-web:1.000004"), Some(("shell", "#acme-web", "1.000004")));
        assert_eq!(chat_origin("acme/web#3"), None);
        assert_eq!(chat_origin("msg:slack:"), None);
    }
}
