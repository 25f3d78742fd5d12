//! The reporter loop: whoever reported a bug hears back, on the channel it came from, when
//! its fix is merged (or, for a project that deploys, when it is live). A person of the team
//! gets a DM; a chat thread that asked for it gets a reply in the thread; a GitHub issue a
//! comment; a feedback form's or a mailbox's reporter an email (when pmbot can send mail).
//! Each is told once: what was said is in the decision log, keyed by run and reporter.

use crate::board::TicketKey;
use crate::chat::{Chat, Message};
use crate::job_env::{JobEnv, StepError};
use crate::store::NewDecision;
use chrono::{DateTime, Utc};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    let mut ways: Vec<(String, String)> = Vec::new();
    if let Some(handle) = &ticket.reporter {
        ways.push(("person".into(), handle.clone()));
    }
    if ticket.source.tracker.as_deref() == Some("chat") {
        if let Some(id) = ticket.source.external_id.as_deref().filter(|id| chat_origin(id).is_some()) {
            ways.push(("thread".into(), id.to_string()));
        }
    }
    for r in env.store.reporters_of(&ws, key.as_str()).await? {
        ways.push((r.via, r.address));
    }
    for (via, address) in ways {
        let once = format!("reply:{run}:{}:{via}:{address}", news.as_str());
        if env.store.decision_by_source(&ws, &once).await?.is_some() {
            continue;
        }
        let told = tell(env, &via, &address, &text, key).await;
        let (outcome, rationale) = match &told {
            Ok(()) => ("told", format!("the reporter ({via} {address}) was told {key} is {}", news.as_str())),
            Err(why) => ("not told", format!("the reporter ({via} {address}) could not be told: {why}")),
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
        if let Some(r) =
            env.store.reporters_of(&ws, key.as_str()).await?.into_iter().find(|r| r.via == via && r.address == address)
        {
            if told.is_ok() {
                env.store.mark_reporter_told(&ws, &r, now).await?;
            }
        }
    }
    Ok(())
}

async fn tell<C: Chat>(env: &JobEnv<C>, via: &str, address: &str, text: &str, key: &TicketKey) -> Result<(), String> {
    match via {
        "person" => {
            let people = env.config.people();
            let person = people.iter().find(|p| p.handle == address).ok_or("no longer on the team")?;
            let user = env.chat.address(person).ok_or("no id on this chat platform")?;
            env.chat.dm(&user, &Message::text(text)).await.map(|_| ()).map_err(|e| e.to_string())
        }
        "thread" => {
            let (platform, channel, ts) = chat_origin(address).ok_or("not a message")?;
            if platform != env.chat.platform() {
                return Err(format!("the thread is on {platform}, pmbot speaks on {} here", env.chat.platform()));
            }
            env.chat.post(channel, Some(ts), &Message::text(text)).await.map(|_| ()).map_err(|e| e.to_string())
        }
        "github" => {
            let github = env.github.as_deref().ok_or("no GitHub credentials")?;
            let (repo, number) = address.rsplit_once('#').ok_or("not owner/name#number")?;
            let number: i64 = number.parse().map_err(|_| "not owner/name#number")?;
            github.comment(repo, number, text).await.map_err(|e| e.to_string())
        }
        "feedback" | "email" => match env.mailer.as_deref() {
            Some(mailer) => {
                mailer.send(address, &format!("[{key}] fixed"), text, None).await.map(|_| ()).map_err(|e| e.to_string())
            }
            None => Err("pmbot sends no email here (no [email] smtp settings)".into()),
        },
        other => Err(format!("no way to reach a reporter by {other}")),
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
