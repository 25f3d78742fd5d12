//! The conversation job: one per channel message the bot sees. It reads the message with its
//! thread against the board, logs the decision, and acts, suggests or only logs as the
//! channel's policy says. A suggestion parks the job on an approval; the answer resumes it.

use super::apply::{apply, source, Applied, MessageAt, Proposal};
use super::model::{self, Question};
use super::policy::{self, Act};
use crate::board::{Person, Role, Ticket, TicketKey};
use crate::chat::Chat;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{rules, Actor, BoardService, Ctx, Op, Who};
use crate::store::{Approvers, ChatMessageSeen, Decision, NewApproval, NewDecision, StoreError};
use crate::workflows::matching::{MatchDecision, MatchMessage, MatchTicket};
use crate::workflows::triage::Resume;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub const KIND: &str = "conversation.match";
pub const UNDO_ACTION: &str = "conversation.undo";
pub const OTHER_ACTION: &str = "conversation.other";
pub const CREATE_ACTION: &str = "conversation.create";
/// The prefix of a suggestion's approval subject, followed by the decision id.
pub const APPROVAL_SUBJECT: &str = "decision:";
/// How much of a message the decision log keeps.
const KEPT_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchJob {
    pub platform: String,
    pub channel: String,
    pub ts: String,
}

impl JobSpec for MatchJob {
    const KIND: &'static str = KIND;
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(60);

    fn unique_key(&self) -> Option<String> {
        Some(source(&self.platform, &self.channel, &self.ts))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for MatchJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl MatchJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let ws = &ctx.workspace;
        let source = source(&self.platform, &self.channel, &self.ts);
        if let Some(resume) = &ctx.resume {
            let resume: Resume = serde_json::from_value(resume.clone())
                .map_err(|e| StepError::Gone(format!("unreadable answer: {e}")))?;
            let decision = env.store.decision_by_source(ws, &source).await?;
            let decision = decision.ok_or_else(|| StepError::Gone("the suggestion is no longer logged".into()))?;
            return self.answered(env, ctx, decision, &resume).await;
        }
        let decision = match env.store.decision_by_source(ws, &source).await? {
            Some(earlier) => earlier,
            None => {
                let Some(message) = env.store.message(ws, &self.platform, &self.channel, &self.ts).await? else {
                    return Ok(Outcome::Cancel("the message is no longer stored".into()));
                };
                let logged = match author_of(env, &self.platform, &message.user_id) {
                    Some(author) => self.decide(env, ctx, &message, &author).await?,
                    None => self.ignored(&message),
                };
                match env.store.log_decision_once(ws, &logged, ctx.now).await? {
                    Ok(id) => env.store.decision(ws, id).await?,
                    Err(earlier) => earlier,
                }
            }
        };
        match decision.outcome.as_str() {
            "acting" => self.act(env, ctx, &decision).await,
            "asking" => self.ask(env, ctx, &decision).await,
            // Done by an earlier run that stopped before saying so: said now.
            "done" => self.say_again(env, ctx, &decision, None).await,
            // Logged, shadowed, none, or done and said.
            _ => Ok(Outcome::Done),
        }
    }

    /// A stranger's message: kept, logged, never acted on or suggested.
    fn ignored(&self, message: &ChatMessageSeen) -> NewDecision {
        NewDecision {
            kind: KIND.into(),
            subject: self.channel.clone(),
            inputs: json!({ "message": { "platform": self.platform, "channel": self.channel, "ts": self.ts, "user": message.user_id } }),
            rationale: format!("{} is not in pmbot.toml; strangers' messages change nothing", message.user_id),
            confidence: 1.0,
            action: "none".into(),
            actor: "pmbot".into(),
            outcome: "ignored: unknown author".into(),
            source: Some(source(&self.platform, &self.channel, &self.ts)),
        }
    }

    /// Reads the message against the board and says what the policy makes of it.
    async fn decide<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        message: &ChatMessageSeen,
        author: &Person,
    ) -> Result<NewDecision, StepError> {
        let ws = &ctx.workspace;
        let root = message.thread_ts.clone().filter(|t| t != &message.ts);
        let mut root_text = None;
        let mut earlier_subject = None;
        if let Some(root) = &root {
            if let Some(first) = env.store.message(ws, &self.platform, &self.channel, root).await? {
                let earlier = env.store.decision_by_source(ws, &source(&self.platform, &self.channel, root)).await?;
                earlier_subject = Some(earlier.as_ref().and_then(subject_of));
                root_text = Some(first.text);
            }
        }
        let said = MatchMessage {
            id: message.ts.clone(),
            channel: message.channel.clone(),
            user: message.user_id.clone(),
            ts: message.ts.clone(),
            text: message.text.clone(),
            thread: message.thread_ts.clone(),
        };
        let project = env.config.project_for_channel(&self.channel).map(|p| p.key.clone());
        let (decided, candidates) = env
            .boards
            .with(&env.store, ws, ctx.now, |matcher| {
                if let Some(project) = &project {
                    matcher.set_channel_project(&self.channel, project);
                }
                if let (Some(root), Some(text), Some(subject)) = (&root, &root_text, earlier_subject.clone()) {
                    matcher.remember(root, text, subject);
                }
                let decided = matcher.decide(&said);
                let candidates = matcher.candidates(&said, 5);
                let touched = decided.ticket.iter().cloned().collect();
                ((decided, candidates), touched)
            })
            .await?;
        let (decided, model) = consult(env, ctx, candidates, &said, root_text, decided).await;
        let by_model = model.as_ref().is_some_and(|m| m.get("answer").is_some());
        let ticket = match decided.ticket.as_ref().and_then(|key| key.parse().ok()) {
            Some(key) => match env.store.ticket(ws, &key).await {
                Ok(ticket) => Some(ticket),
                Err(StoreError::UnknownTicket(_)) => None,
                Err(err) => return Err(err.into()),
            },
            None => None,
        };
        let ticket = ticket.as_ref();
        let alone = !by_model && author_may(author, decided.decision, decided.status.as_deref(), ticket);
        let act = policy::capped(policy::act(&env.config.conversation, &self.channel, &decided), alone);
        let link = if matches!(act, Act::Auto | Act::Ask) && (decided.decision == "create" || message.private) {
            // Only new tickets quote the link; a failure to get one is no reason to stop.
            env.chat.permalink(&self.channel, &self.ts).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, "no permalink for a conversation message");
                None
            })
        } else {
            None
        };
        let from = ticket.map(|t| t.status.as_str().to_string());
        let proposal = Proposal {
            message: MessageAt {
                platform: self.platform.clone(),
                channel: self.channel.clone(),
                ts: self.ts.clone(),
                thread: message.thread_ts.clone(),
                user: message.user_id.clone(),
            },
            author: Some(author.handle.clone()),
            text: message.text.chars().take(KEPT_CHARS).collect(),
            decision: decided.decision.to_string(),
            ticket: decided.ticket.clone(),
            status: decided.status.clone(),
            from,
            link,
            approval: None,
            result: None,
            model,
            private: message.private,
            replied: false,
        };
        Ok(NewDecision {
            kind: KIND.into(),
            subject: decided.ticket.clone().unwrap_or_else(|| self.channel.clone()),
            inputs: proposal.to_value(),
            rationale: decided.rationale.clone(),
            confidence: decided.confidence,
            action: action_name(&decided),
            actor: "pmbot".into(),
            outcome: act.outcome().into(),
            source: Some(source(&self.platform, &self.channel, &self.ts)),
        })
    }

    /// Confident enough: do it for the author and say so in the thread, with Undo.
    async fn act<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, decision: &Decision) -> Result<Outcome, StepError> {
        let mut proposal = Proposal::of(decision)?;
        let actor = match proposal.author.as_deref().and_then(|h| person(env, h)) {
            Some(author) => Actor::OnBehalf(author),
            None => Actor::Stranger { platform: self.platform.clone(), user: proposal.message.user.clone() },
        };
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let change = Ctx::new(ctx.now).resolving(decision.id, "done", proposal.to_value());
        match apply(&board, &env.config, &proposal, &actor, None, &change).await {
            Ok(applied) => {
                proposal.result = Some(applied.result.clone());
                if !applied.changed {
                    env.store
                        .update_decision(&ctx.workspace, decision.id, "done", &applied.key, &proposal.to_value())
                        .await?;
                }
                self.say_done(env, ctx, decision, "done", &proposal, &applied, None).await?;
            }
            Err(err) if err.is_user_error() => {
                // The ticket went away or changed meanwhile, or the author may not: logged, nothing said.
                let outcome = format!("skipped: {err}");
                env.store
                    .update_decision(&ctx.workspace, decision.id, &outcome, &decision.subject, &decision.inputs)
                    .await?;
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Outcome::Done)
    }

    /// Unsure: suggest it in the thread with Yes / No / Different ticket… and wait.
    async fn ask<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, decision: &Decision) -> Result<Outcome, StepError> {
        let ws = &ctx.workspace;
        let mut proposal = Proposal::of(decision)?;
        let subject = format!("{APPROVAL_SUBJECT}{}", decision.id);
        let hours = env.config.conversation.suggestion_expiry_hours;
        let expires_at = ctx.now + chrono::Duration::hours(i64::try_from(hours).unwrap_or(48));
        let question = self.question(env, ws, &proposal).await?;
        // The author answers only what they could have done themselves.
        let author = proposal.author.as_deref().and_then(|h| person(env, h));
        let ticket = match proposal.ticket.as_deref().map(str::parse::<TicketKey>) {
            Some(Ok(key)) => env.store.ticket(ws, &key).await.ok(),
            _ => None,
        };
        let may = |a: &&Person| author_may(a, &proposal.decision, proposal.status.as_deref(), ticket.as_ref());
        let author_decides = author.as_ref().filter(may);
        let request = NewApproval {
            subject,
            description: question.replace('*', ""),
            approvers: Approvers {
                role: Some(Role::Lead),
                people: author_decides.map(|a| a.handle.clone()).into_iter().collect(),
                except: vec![],
            },
            required: 1,
            expires_at: Some(expires_at),
        };
        // A run after a crash finds the approval it made before.
        let board = BoardService::new(env.store.clone(), ws.clone());
        let approval = board.open_approval(&Actor::System("pmbot".into()), &request, &Ctx::new(ctx.now)).await?;
        proposal.approval = Some(approval.id);
        env.store.update_decision(ws, decision.id, "asked", &decision.subject, &proposal.to_value()).await?;
        let expires = expires_at.with_timezone(&env.config.team.timezone).format("%a %-d %b %H:%M").to_string();
        let who = match author_decides {
            Some(author) => format!("@{} or a PM/lead", author.handle),
            None => "A PM or lead".into(),
        };
        let context = json!({
            "question": question, "why": decision.rationale, "confidence": percent(decision.confidence),
            "who": who, "expires": expires, "approval": approval.id, "decide": crate::workflows::triage::DECIDE_ACTION,
            "other": OTHER_ACTION, "create": proposal.decision == "create",
        });
        let message = env.templates.render("conversation_suggest", &context)?;
        env.chat.post(&self.channel, Some(thread_of(&proposal)), &message).await?;
        Ok(Outcome::Await { approval_id: approval.id })
    }

    async fn question<C>(
        &self,
        env: &JobEnv<C>,
        ws: &crate::store::WorkspaceId,
        p: &Proposal,
    ) -> Result<String, StepError> {
        let ticket = match p.ticket.as_deref().map(str::parse::<TicketKey>) {
            Some(Ok(key)) => Some(env.store.ticket(ws, &key).await?),
            _ => None,
        };
        let named = |t: &Option<Ticket>| t.as_ref().map_or_else(String::new, |t| format!("*{}* {}", t.key, t.title));
        Ok(match p.decision.as_str() {
            "comment" => format!("Is this about {}? I'd add it there as a comment.", named(&ticket)),
            "move" => format!(
                "Should I move {} to {}?",
                named(&ticket),
                p.status.as_deref().and_then(|s| s.parse::<crate::board::Status>().ok()).map_or("?", |s| s.label())
            ),
            _ => {
                let written = p.model.as_ref().and_then(|m| m["answer"]["title"].as_str()).map(str::to_string);
                let title = written.or_else(|| super::draft::title(&p.text)).unwrap_or_else(|| "this request".into());
                format!("Should I create a ticket for this: “{title}”?")
            }
        })
    }

    /// A person answered the suggestion (or nobody did in time).
    async fn answered<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        decision: Decision,
        resume: &Resume,
    ) -> Result<Outcome, StepError> {
        let ws = &ctx.workspace;
        let mut proposal = Proposal::of(&decision)?;
        let by = resume.by.clone().unwrap_or_else(|| "pmbot".into());
        let (answer, other) = match resume.state.as_str() {
            "approved" => ("yes", None),
            "changes_requested" => {
                let key = resume.comment.as_deref().unwrap_or_default().trim().parse::<TicketKey>();
                ("different", Some(key.map_err(|e| StepError::Gone(e.to_string()))?))
            }
            "rejected" => ("no", None),
            _ => ("expired", None),
        };
        let answer_log = NewDecision {
            kind: "conversation.answer".into(),
            subject: other.as_ref().map_or_else(|| decision.subject.clone(), |k| k.to_string()),
            inputs: json!({ "decision": decision.id, "answer": answer, "by": by, "ticket": other.as_ref().map(|k| k.as_str()) }),
            rationale: format!("{by} answered {answer} to: {}", decision.rationale),
            confidence: 1.0,
            action: decision.action.clone(),
            actor: by.clone(),
            outcome: answer.into(),
            source: Some(format!("answer:{}", decision.id)),
        };
        // A run again after a crash finds the answer logged already, which is fine.
        let _ = env.store.log_decision_once(ws, &answer_log, ctx.now).await?;
        let outcome = match answer {
            "yes" => "accepted",
            "different" => "redirected",
            "no" => "declined",
            _ => "expired",
        };
        if matches!(answer, "no" | "expired") {
            env.store.update_decision(ws, decision.id, outcome, &decision.subject, &decision.inputs).await?;
            return Ok(Outcome::Done);
        }
        if proposal.result.is_some() {
            // Applied by an earlier run (in the same transaction as the decision's outcome).
            return self.say_again(env, ctx, &decision, Some(&by)).await;
        }
        let actor = Actor::named(&env.config.people(), &by);
        let board = BoardService::new(env.store.clone(), ws.clone());
        let change = Ctx::new(ctx.now).resolving(decision.id, outcome, proposal.to_value());
        match apply(&board, &env.config, &proposal, &actor, other.as_ref(), &change).await {
            Ok(applied) => {
                proposal.result = Some(applied.result.clone());
                if !applied.changed {
                    env.store.update_decision(ws, decision.id, outcome, &applied.key, &proposal.to_value()).await?;
                }
                self.say_done(env, ctx, &decision, outcome, &proposal, &applied, Some(&by)).await?;
            }
            Err(err) if err.is_user_error() => {
                let text = format!("⚠️ I could not do that: {err}. Nothing changed.");
                env.store
                    .update_decision(ws, decision.id, &format!("failed: {err}"), &decision.subject, &decision.inputs)
                    .await?;
                env.chat.post(&self.channel, Some(thread_of(&proposal)), &crate::chat::Message::text(text)).await?;
            }
            Err(err) => return Err(err.into()),
        }
        Ok(Outcome::Done)
    }

    /// Says in the thread what was done, with Undo, then records that it was said: at least
    /// once (a crash between the two says it again).
    #[allow(clippy::too_many_arguments)]
    async fn say_done<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        decision: &Decision,
        outcome: &str,
        proposal: &Proposal,
        applied: &Applied,
        by: Option<&str>,
    ) -> Result<(), StepError> {
        let by = by.map(|handle| crate::workflows::views::Names::new(&env.config.people()).full(handle));
        let context = json!({
            "what": applied.what, "why": decision.rationale, "confidence": percent(decision.confidence),
            "by": by, "decision": decision.id, "undo": UNDO_ACTION,
        });
        let message = env.templates.render("conversation_done", &context)?;
        env.store.fault("conversation.before_reply")?;
        env.chat.post(&self.channel, Some(thread_of(proposal)), &message).await?;
        let mut said = proposal.clone();
        said.replied = true;
        env.store.update_decision(&ctx.workspace, decision.id, outcome, &applied.key, &said.to_value()).await?;
        Ok(())
    }

    /// A decision carried out by an earlier run: its reply, unless it was said.
    async fn say_again<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        decision: &Decision,
        by: Option<&str>,
    ) -> Result<Outcome, StepError> {
        let proposal = Proposal::of(decision)?;
        let Some(result) = proposal.result.as_ref().filter(|_| !proposal.replied) else {
            return Ok(Outcome::Done);
        };
        let applied = super::apply::described(&env.store, &ctx.workspace, result).await?;
        self.say_done(env, ctx, decision, &decision.outcome, &proposal, &applied, by).await?;
        Ok(Outcome::Done)
    }
}

/// With a language model configured, an unsure decision (or any new ticket, for its title)
/// is put to the model, which chooses among the matcher's candidates. Any failure keeps the
/// matcher's decision; either way `inputs.model` says what happened.
async fn consult<C>(
    env: &JobEnv<C>,
    ctx: &JobContext,
    candidates: Vec<MatchTicket>,
    said: &MatchMessage,
    root_text: Option<String>,
    decided: MatchDecision,
) -> (MatchDecision, Option<serde_json::Value>) {
    let Some(llm) = &env.llm else { return (decided, None) };
    let worth_asking = policy::thresholds(&env.config.conversation, decided.decision)
        .is_some_and(|t| decided.confidence < t.auto || decided.decision == "create");
    if !worth_asking {
        return (decided, None);
    }
    let hint = json!({
        "decision": decided.decision, "ticket": decided.ticket, "status": decided.status, "confidence": decided.confidence,
    });
    let question = Question {
        message: said.text.clone(),
        thread: root_text.into_iter().collect(),
        candidates,
        matcher: hint.clone(),
    };
    let day = crate::calendar::local_date(ctx.now, env.config.team.timezone).to_string();
    let settings = &llm.settings;
    let check = |text: &str| model::parse(text, &question.candidates);
    match llm.ask(&env.store, &ctx.workspace, &day, model::SYSTEM, &model::prompt(&question), check).await {
        Ok(reply) => {
            let answer = reply.answer;
            let decision = match answer.decision.as_str() {
                "comment" => "comment",
                "move" => "move",
                "create" => "create",
                _ => "none",
            };
            let model = json!({
                "provider": settings.provider.as_str(), "model": settings.model, "tokens": reply.tokens,
                "answer": answer, "matcher": hint,
            });
            let reranked = MatchDecision {
                id: decided.id,
                decision,
                ticket: answer.ticket,
                status: answer.status,
                // The model chooses; it does not get to be surer than a named ticket.
                confidence: answer.confidence.min(0.95),
                rationale: format!("{} (read by {})", answer.rationale, settings.model),
            };
            (reranked, Some(model))
        }
        Err(err) => {
            tracing::warn!(error = %err, "the language model was not used; the matcher decides");
            let model =
                json!({ "provider": settings.provider.as_str(), "model": settings.model, "fallback": err.to_string() });
            (decided, Some(model))
        }
    }
}

/// The team member who wrote as `user` on `platform`, if any.
fn author_of<C>(env: &JobEnv<C>, platform: &str, user: &str) -> Option<Person> {
    env.config.people().into_iter().find(|p| p.answers_to(platform, user))
}

fn person<C>(env: &JobEnv<C>, handle: &str) -> Option<Person> {
    env.config.people().into_iter().find(|p| p.handle == handle)
}

/// Whether the author could make this change (`decision`, to `status` for a move) by hand:
/// the permission table.
fn author_may(author: &Person, decision: &str, status: Option<&str>, ticket: Option<&Ticket>) -> bool {
    let who = Who::of(author.role);
    let op = match (decision, ticket) {
        ("comment", _) => Op::Comment,
        ("create", _) => Op::Create { status: crate::board::Status::Backlog },
        ("move", Some(ticket)) => match status.map(str::parse) {
            Some(Ok(to)) => {
                Op::Move { from: ticket.status, to, own: ticket.assignee.as_deref() == Some(&author.handle) }
            }
            _ => return false,
        },
        _ => return false,
    };
    rules::check(who, op).is_ok()
}

/// Replies go in the message's thread (or start one under it).
fn thread_of(proposal: &Proposal) -> &str {
    proposal.message.thread.as_deref().unwrap_or(&proposal.message.ts)
}

fn percent(confidence: f64) -> u32 {
    (confidence.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// `comment`, `move:done`, `create`, `none`.
fn action_name(decided: &MatchDecision) -> String {
    match (&decided.status, decided.decision) {
        (Some(status), "move") => format!("move:{status}"),
        (_, decision) => decision.to_string(),
    }
}

/// The ticket an earlier decision was about, or created.
fn subject_of(decision: &Decision) -> Option<String> {
    let proposal = Proposal::of(decision).ok()?;
    proposal.result.as_ref().and_then(|r| r["ticket"].as_str().map(str::to_string)).or(proposal.ticket)
}

/// A board ticket as the matcher reads it, with its latest comments (newest first).
pub fn match_ticket(ticket: &Ticket, comments: Vec<String>) -> MatchTicket {
    MatchTicket {
        key: ticket.key.to_string(),
        title: ticket.title.clone(),
        description: ticket.description.clone(),
        status: ticket.status.as_str().to_string(),
        assignee: ticket.assignee.clone(),
        epic: ticket.epic.clone(),
        labels: ticket.labels.clone(),
        comments,
        updated_at: Some(ticket.updated_at),
    }
}
