//! `email.poll` (on `[email] schedule`): the mailbox's unread messages, each handled once
//! (by its Message-ID) and then marked read; one that cannot be handled stays unread for
//! the next pass.

use super::imap::Mailbox;
use super::mail::{decide, keys_in_subject, read, Incoming, Step};
use crate::board::{NewTicket, Source, Status, TicketKey};
use crate::chat::Chat;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{Actor, BoardService, Ctx};
use crate::store::{NewDecision, Reporter, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const WHO: &str = "email";
/// Messages read per pass; the rest wait for the next.
const BATCH: usize = 50;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailJob {}

impl JobSpec for EmailJob {
    const KIND: &'static str = "email.poll";
    const MAX_ATTEMPTS: u32 = 2;
    const TIMEOUT: Duration = Duration::from_secs(300);
}

impl<C: Chat + 'static> Job<JobEnv<C>> for EmailJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl EmailJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let Some(project) = env.config.email.project.clone() else { return Ok(Outcome::Done) };
        let Some(settings) = env.imap.as_deref() else {
            return Err(StepError::Gone("[email] project is set but PMBOT_IMAP_URL is not: no mailbox to read".into()));
        };
        let mut mailbox = Mailbox::open(settings).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let unread = mailbox.unread(BATCH).await.map_err(|e| StepError::Failed(e.to_string()));
        let mut result = Ok(Outcome::Done);
        for (uid, raw) in unread? {
            // A message that fails stays unread; the others go on.
            match self.one(env, ctx, &project, &raw).await {
                Ok(()) => {
                    if let Err(err) = mailbox.mark_read(uid).await {
                        tracing::warn!(error = %err, uid, "a handled message was not marked read (it is not handled twice)");
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, uid, "a message was left unread for the next pass");
                    result = Err(err);
                }
            }
        }
        mailbox.close().await;
        result
    }

    async fn one<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        project: &str,
        raw: &[u8],
    ) -> Result<(), StepError> {
        let ws = &ctx.workspace;
        let Some(mail) = read(raw) else {
            return self.log(env, ctx, &crate::digest::short(raw), "skipped", "not a mail message".into()).await;
        };
        let id = if mail.message_id.is_empty() {
            format!("no-id-{}", crate::digest::short(raw))
        } else {
            mail.message_id.clone()
        };
        if env.store.mail_handled(ws, &id).await? {
            return Ok(()); // handled before (marking it read had failed)
        }
        let mut threads = HashMap::new();
        for answered in &mail.answers {
            if let Some(key) = env.store.mail_thread(ws, answered).await? {
                threads.insert(answered.clone(), key);
            }
        }
        let mut existing = Vec::new();
        // A key in the subject reaches only the mailbox's own project's tickets.
        for key in keys_in_subject(&mail.subject) {
            let Ok(parsed) = key.parse::<TicketKey>() else { continue };
            if !parsed.as_str().starts_with(&format!("{}-", project.to_ascii_uppercase())) {
                continue;
            }
            match env.store.ticket(ws, &parsed).await {
                Ok(_) => existing.push(key),
                Err(StoreError::UnknownTicket(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let step = decide(&mail, |m| threads.get(m).cloned(), |k| existing.iter().any(|e| e == k));
        let board = BoardService::new(env.store.clone(), ws.clone());
        let system = Actor::System(WHO.into());
        let once = |what: &str| Ctx::new(ctx.now).once(format!("mail:{id}:{what}")).kind(format!("email.{what}"));
        let key = match step {
            Step::Skip(why) => return self.log(env, ctx, &id, "skipped", why).await,
            Step::Comment(key) => {
                let key: TicketKey =
                    key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
                let mut text = format!(
                    "Email from {}:\n\n{}",
                    mail.who(),
                    if mail.text.is_empty() { "(no text)" } else { &mail.text }
                );
                if let Some(line) = mail.attachments_line() {
                    text.push_str(&format!("\n\n{line}"));
                }
                board.comment(&system, &key, &text, &once("comment")).await?;
                key
            }
            Step::Open => {
                let new = self.ticket(project, &mail)?;
                let why = format!("{} wrote to the support mailbox", mail.who());
                let ticket = board.create(&system, &new, &once("open").because(why)).await?;
                ticket.key
            }
        };
        let reporter = Reporter {
            ticket_key: key.to_string(),
            via: "email".into(),
            address: mail.from_address.clone(),
            name: mail.from_name.clone(),
            told_at: None,
        };
        env.store.add_reporter(ws, &reporter, ctx.now).await?;
        let opened = !mail.answers.iter().any(|a| threads.contains_key(a)) && !existing.contains(&key.to_string());
        if opened {
            self.acknowledge(env, ctx, &mail, &id, &key).await?;
        }
        // Last: the message is handled once this is recorded.
        env.store.add_mail_message(ws, &id, key.as_str(), ctx.now).await?;
        Ok(())
    }

    fn ticket(&self, project: &str, mail: &Incoming) -> Result<NewTicket, StepError> {
        let subject: String = mail.subject.chars().take(crate::intake::feedback::MAX_TITLE).collect();
        let title = if subject.trim().is_empty() { format!("Email from {}", mail.who()) } else { subject };
        let mut new = NewTicket::new(project, &title).map_err(|e| StepError::Gone(e.to_string()))?;
        new.status = Status::Todo;
        let mut description = format!("{}\n\nFrom {} by email.", mail.text, mail.who());
        if let Some(line) = mail.attachments_line() {
            description.push_str(&format!("\n{line}"));
        }
        new.description = description.trim().to_string();
        new.labels = vec!["email".into()];
        new.source = Source { tracker: Some("email".into()), external_id: Some(mail.message_id.clone()), url: None };
        Ok(new)
    }

    /// Tells the sender the ticket's key, answering their message (once).
    async fn acknowledge<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        mail: &Incoming,
        id: &str,
        key: &TicketKey,
    ) -> Result<(), StepError> {
        let ws = &ctx.workspace;
        let (Some(mailer), true) = (env.mailer.as_deref(), env.config.email.acknowledge) else { return Ok(()) };
        let source = format!("mail:{id}:ack");
        if env.store.decision_by_source(ws, &source).await?.is_some() {
            return Ok(());
        }
        let subject = format!("[{key}] {}", mail.subject.trim_start_matches("Re: ").trim());
        let text = format!(
            "Hello {},\n\nThank you for writing. We are tracking this as {key}; you will hear from us when it is fixed.\nReply to this mail to add to it.\n",
            if mail.from_name.is_empty() { "there" } else { &mail.from_name }
        );
        let sent = mailer
            .send(&mail.from_address, &format!("Re: {subject}"), &text, (!mail.message_id.is_empty()).then_some(id))
            .await;
        let (outcome, rationale) = match &sent {
            Ok(ours) => {
                env.store.add_mail_message(ws, ours, key.as_str(), ctx.now).await?;
                ("told", format!("{} was told the key {key} by mail", mail.from_address))
            }
            // The mail server is away: the message stays unread and is tried again.
            Err(err @ super::smtp::MailError::Send(_)) => return Err(StepError::Failed(err.to_string())),
            Err(err) => ("not told", format!("{} could not be told the key {key}: {err}", mail.from_address)),
        };
        let decision = NewDecision {
            kind: "email.acknowledge".into(),
            subject: key.to_string(),
            inputs: json!({ "message_id": id, "to": mail.from_address }),
            rationale,
            confidence: 1.0,
            action: "reply".into(),
            actor: WHO.into(),
            outcome: outcome.into(),
            source: Some(source),
        };
        let _ = env.store.log_decision_once(ws, &decision, ctx.now).await?;
        Ok(())
    }

    async fn log<C>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        id: &str,
        outcome: &str,
        why: String,
    ) -> Result<(), StepError> {
        let decision = NewDecision {
            kind: "email.skip".into(),
            subject: id.to_string(),
            inputs: json!({ "message_id": id }),
            rationale: why,
            confidence: 1.0,
            action: "skip".into(),
            actor: WHO.into(),
            outcome: outcome.into(),
            source: Some(format!("mail:{id}:skip")),
        };
        let _ = env.store.log_decision_once(&ctx.workspace, &decision, ctx.now).await?;
        // Recorded as handled (no ticket): it is not read again.
        env.store.add_mail_message(&ctx.workspace, id, "", ctx.now).await?;
        Ok(())
    }
}
