//! The board service: the one owner of every board change. Creating, moving, assigning,
//! commenting on, filing under an epic and undoing tickets, and opening and deciding
//! approvals all happen here, whoever asks (the CLI, chat commands, buttons, the
//! conversation job, triage, agents).
//!
//! Each operation takes *who* ([`Actor`]), asks the permission table ([`rules`]) and writes,
//! in one transaction, the change, its history row, its decision-log row and the jobs it
//! causes. A refusal changes nothing and is logged with who and why. An operation given an
//! idempotency key ([`Ctx::once`]) is done once: run again (a retried job, a redelivered
//! event) it finds its decision and answers with what it did the first time.

mod approvals;
pub mod fix;
pub mod mirror;
pub mod rules;
mod tickets;

pub use approvals::who_may;
pub use rules::{Op, Who};
pub use tickets::PastMove;

use crate::board::Person;
use crate::store::{Decision, NewDecision, NewJob, Store, StoreError, StoreTx, WorkspaceId};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Who asks for a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    /// A person of the workspace, acting themselves.
    Person(Person),
    /// pmbot acting on what a person said in chat: their rights, recorded as pmbot's act.
    OnBehalf(Person),
    /// pmbot's own scheduled work, or the operator at the command line (`name` says which).
    System(String),
    /// Someone not in pmbot.toml.
    Stranger { platform: String, user: String },
}

impl Actor {
    /// The person of the team with `handle`, acting themselves; any other name (the CLI's
    /// operator, pmbot) is the system under that name.
    pub fn named(people: &[Person], handle: &str) -> Actor {
        match people.iter().find(|p| p.handle == handle) {
            Some(person) => Actor::Person(person.clone()),
            None => Actor::System(handle.to_string()),
        }
    }

    pub fn who(&self) -> Who {
        match self {
            Actor::Person(p) | Actor::OnBehalf(p) => Who::of(p.role),
            Actor::System(_) => Who::System,
            Actor::Stranger { .. } => Who::Stranger,
        }
    }

    /// The person behind the request, if any.
    pub fn person(&self) -> Option<&Person> {
        match self {
            Actor::Person(p) | Actor::OnBehalf(p) => Some(p),
            _ => None,
        }
    }

    /// The name history and the decision log record.
    pub fn name(&self) -> String {
        match self {
            Actor::Person(p) => p.handle.clone(),
            Actor::OnBehalf(_) => "pmbot".into(),
            Actor::System(name) => name.clone(),
            Actor::Stranger { platform, user } => format!("{platform}:{user}"),
        }
    }

    /// How a message names them.
    pub fn display(&self) -> String {
        match self {
            Actor::Person(p) | Actor::OnBehalf(p) => p.display_name.clone(),
            Actor::System(name) => name.clone(),
            Actor::Stranger { user, .. } => user.clone(),
        }
    }

    fn handle(&self) -> Option<&str> {
        self.person().map(|p| p.handle.as_str())
    }

    fn describe(&self) -> Value {
        match self {
            Actor::Person(p) => json!({ "person": p.handle, "role": p.role.as_str() }),
            Actor::OnBehalf(p) => json!({ "pmbot_for": p.handle, "role": p.role.as_str() }),
            Actor::System(name) => json!({ "system": name }),
            Actor::Stranger { platform, user } => json!({ "stranger": user, "platform": platform }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Not allowed; logged. Safe to show the person.
    #[error("⛔ {why}. Nothing changed.")]
    Refused { why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    pub fn is_user_error(&self) -> bool {
        match self {
            ServiceError::Refused { .. } => true,
            ServiceError::Store(err) => err.is_user_error(),
        }
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// The circumstances of one change: when, why, what it is part of, and what it causes.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    /// Done once per key: the decision log's `source`.
    pub once: Option<String>,
    /// The decision-log kind; `ticket.<op>` when not set.
    pub kind: Option<String>,
    pub rationale: Option<String>,
    /// Kept in the decision's inputs (where it came from: a command, a decision id, …).
    pub via: Value,
    pub confidence: f64,
    /// Jobs the change causes, enqueued in its transaction.
    pub jobs: Vec<NewJob>,
    /// The decision this change carries out (a conversation decision): it is updated in the
    /// change's transaction, with the change's `result`, instead of a new row being logged.
    pub resolves: Option<Resolve>,
}

/// A logged decision that a change carries out, and what it becomes.
#[derive(Debug, Clone)]
pub struct Resolve {
    pub id: i64,
    pub outcome: String,
    /// Its inputs; the change's `result` is set in them.
    pub inputs: Value,
}

impl Ctx {
    pub fn new(now: DateTime<Utc>) -> Ctx {
        Ctx {
            now,
            once: None,
            kind: None,
            rationale: None,
            via: Value::Null,
            confidence: 1.0,
            jobs: Vec::new(),
            resolves: None,
        }
    }

    pub fn once(mut self, key: impl Into<String>) -> Ctx {
        self.once = Some(key.into());
        self
    }

    pub fn kind(mut self, kind: impl Into<String>) -> Ctx {
        self.kind = Some(kind.into());
        self
    }

    pub fn because(mut self, rationale: impl Into<String>) -> Ctx {
        self.rationale = Some(rationale.into());
        self
    }

    pub fn via(mut self, via: Value) -> Ctx {
        self.via = via;
        self
    }

    pub fn sure(mut self, confidence: f64) -> Ctx {
        self.confidence = confidence;
        self
    }

    pub fn causing(mut self, job: NewJob) -> Ctx {
        self.jobs.push(job);
        self
    }

    pub fn resolving(mut self, id: i64, outcome: impl Into<String>, inputs: Value) -> Ctx {
        self.resolves = Some(Resolve { id, outcome: outcome.into(), inputs });
        self
    }
}

/// The board of one workspace, changed only through here.
#[derive(Clone)]
pub struct BoardService {
    store: Store,
    ws: WorkspaceId,
}

impl BoardService {
    pub fn new(store: Store, ws: WorkspaceId) -> BoardService {
        BoardService { store, ws }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn workspace(&self) -> &WorkspaceId {
        &self.ws
    }

    /// Starts a change: the earlier decision when it was done before under `ctx.once`.
    async fn begin(&self, ctx: &Ctx) -> Result<(StoreTx, Option<Decision>)> {
        let mut tx = self.store.begin().await?;
        let earlier = match &ctx.once {
            Some(key) => tx.decision_by_source(&self.ws, key).await?,
            None => None,
        };
        Ok((tx, earlier))
    }

    /// Writes the decision row and the jobs, then commits: the last step of every change.
    async fn finish(&self, mut tx: StoreTx, ctx: &Ctx, record: Record<'_>) -> Result<i64> {
        let id = match &ctx.resolves {
            Some(resolve) => {
                let mut inputs = resolve.inputs.clone();
                if let Value::Object(map) = &mut inputs {
                    map.insert("result".into(), record.inputs["result"].clone());
                }
                tx.update_decision(&self.ws, resolve.id, &resolve.outcome, record.subject, &inputs).await?;
                resolve.id
            }
            None => self.log_change(&mut tx, ctx, record).await?,
        };
        for job in &ctx.jobs {
            tx.enqueue(&self.ws, job, ctx.now).await?;
        }
        self.store.fault("board.before_commit")?;
        tx.commit().await?;
        Ok(id)
    }

    async fn log_change(&self, tx: &mut StoreTx, ctx: &Ctx, record: Record<'_>) -> Result<i64> {
        let kind = ctx.kind.clone().unwrap_or_else(|| format!("ticket.{}", record.action_kind()));
        let mut inputs = json!({ "by": record.actor.describe(), "via": ctx.via });
        if let (Value::Object(map), Value::Object(extra)) = (&mut inputs, record.inputs) {
            map.extend(extra);
        }
        let decision = NewDecision {
            kind,
            subject: record.subject.to_string(),
            inputs,
            rationale: ctx.rationale.clone().unwrap_or_else(|| format!("{} asked for it", record.actor.display())),
            confidence: ctx.confidence,
            action: record.action.to_string(),
            actor: record.actor.name(),
            outcome: record.outcome,
            source: ctx.once.clone(),
        };
        Ok(tx.log_decision(&self.ws, &decision, ctx.now).await?)
    }

    /// Checks the table; a refusal is logged (outside any change) and returned.
    async fn allow(&self, actor: &Actor, op: Op, subject: &str, now: DateTime<Utc>) -> Result<()> {
        match rules::check(actor.who(), op) {
            Ok(()) => Ok(()),
            Err(why) => Err(self.refuse(actor, op.kind(), subject, why, now).await),
        }
    }

    /// Logs that `actor` was refused a `kind` of change (`ticket.move`, `approval.decide`, …)
    /// on `subject`, with why, and returns the refusal to show them.
    pub async fn refuse(
        &self,
        actor: &Actor,
        kind: &str,
        subject: &str,
        why: &str,
        now: DateTime<Utc>,
    ) -> ServiceError {
        let why = match actor {
            Actor::Stranger { platform, user } => format!("I don't know you yet ({platform} user {user}): {why}"),
            _ => why.to_string(),
        };
        let decision = NewDecision {
            kind: kind.into(),
            subject: subject.into(),
            inputs: json!({ "by": actor.describe() }),
            rationale: format!("{}: {why}", actor.display()),
            confidence: 1.0,
            action: "none".into(),
            actor: actor.name(),
            outcome: "refused".into(),
            source: None,
        };
        if let Err(err) = self.store.log_decision(&self.ws, &decision, now).await {
            return err.into();
        }
        tracing::debug!(actor = %actor.name(), kind, subject, why, "refused");
        ServiceError::Refused { why: capitalised(&why) }
    }
}

/// What a change's decision row says.
struct Record<'a> {
    actor: &'a Actor,
    subject: &'a str,
    action: String,
    outcome: String,
    inputs: Value,
}

impl Record<'_> {
    fn action_kind(&self) -> &str {
        self.action.split(':').next().unwrap_or("change")
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
