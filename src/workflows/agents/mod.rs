//! The PM agents: scheduled workflows that read the board and the hours worked and tell the
//! right people. Each agent has a pure `decide`, and here a plan: the messages it would send,
//! each under a key (`compliance:2026-11-09:ana`) recorded when sent, so running an agent
//! twice for the same period sends nothing the second time.

pub mod budget;
pub mod compliance;
pub mod epics;
pub mod forecast;
pub mod import;
pub mod reconcile;
pub mod stuck;

use crate::chat::{Chat, Message, Templates};
use crate::config::Config;
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::store::{Store, WorkspaceId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The agents `pmbot run` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// Time-tracking compliance for the previous week.
    Compliance,
    /// Retainer budgets this month.
    Budget,
    /// Tickets sitting far longer than usual in their status.
    Stuck,
    /// Open tickets of scope projects without an epic.
    Epics,
    /// Epics' hours against their forecasts.
    Forecast,
    /// The previous month's workbook.
    MonthEnd,
}

impl Agent {
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Compliance => "compliance",
            Agent::Budget => "budget",
            Agent::Stuck => "stuck",
            Agent::Epics => "epics",
            Agent::Forecast => "forecast",
            Agent::MonthEnd => "month-end",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Recipient {
    /// A DM to the person (a handle).
    Person(String),
    Channel(String),
}

impl Recipient {
    pub fn describe(&self) -> String {
        match self {
            Recipient::Person(handle) => format!("DM @{handle}"),
            Recipient::Channel(channel) => channel.clone(),
        }
    }
}

/// One message, sent once per `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub key: String,
    pub to: Recipient,
    pub message: Message,
}

impl Send {
    pub fn new(key: String, to: Recipient, message: Message) -> Self {
        Send { key, to, message }
    }
}

/// What an agent plans from: the store, the team, the templates, and the instant it judges.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub ws: &'a WorkspaceId,
    pub config: &'a Config,
    pub templates: &'a Templates,
    pub now: DateTime<Utc>,
}

/// What an agent would send now.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub agent: Agent,
    /// The period it is about, for people reading the output ("week of Monday 9 November").
    pub period: String,
    pub sends: Vec<Send>,
    /// Files that go with a send: `(send key, file name, bytes)`.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl Plan {
    pub fn new(agent: Agent, period: String, sends: Vec<Send>) -> Self {
        Plan { agent, period, sends, attachments: Vec::new() }
    }
}

pub async fn plan(
    agent: Agent,
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<Plan, StepError> {
    let ctx = Ctx { store, ws, config, templates, now };
    match agent {
        Agent::Compliance => compliance::plan(&ctx).await,
        Agent::Budget => budget::plan(&ctx).await,
        Agent::Stuck => stuck::plan(&ctx).await,
        Agent::Epics => epics::plan(&ctx).await,
        Agent::Forecast => forecast::plan(&ctx).await,
        Agent::MonthEnd => reconcile::plan(&ctx).await,
    }
}

/// How one planned message ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Sent,
    /// Its key was sent before (a second run for the same period).
    Already,
    /// Would be sent (a dry run).
    Would,
    /// The person has no id on this chat platform.
    NoAddress,
}

/// Sends what was not sent before; with `dry_run`, only says what would be.
pub async fn deliver<C: Chat>(
    plan: &Plan,
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    chat: &C,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vec<Sent>, StepError> {
    let people = config.people();
    let mut out = Vec::with_capacity(plan.sends.len());
    for send in &plan.sends {
        if dry_run {
            out.push(if store.was_sent(ws, &send.key).await? { Sent::Already } else { Sent::Would });
            continue;
        }
        let address = match &send.to {
            Recipient::Person(handle) => people.iter().find(|p| &p.handle == handle).and_then(|p| chat.address(p)),
            Recipient::Channel(channel) => Some(channel.clone()),
        };
        let Some(address) = address else {
            out.push(Sent::NoAddress);
            continue;
        };
        // At least once: recorded only after the platform took it, so a crash in between
        // sends it again once; the next run finds it recorded and sends nothing.
        if store.was_sent(ws, &send.key).await? {
            out.push(Sent::Already);
            continue;
        }
        let attachment = plan.attachments.iter().find(|(key, ..)| key == &send.key);
        if let Some((_, name, bytes)) = attachment {
            // Kept first, so the file can be fetched even where the platform takes no uploads.
            store.save_report(ws, name, bytes, now).await?;
        }
        let sent = match (&send.to, attachment) {
            (_, Some((_, name, bytes))) => match chat.upload(&address, name, bytes, &send.message).await {
                Ok(true) => Ok(()),
                Ok(false) => chat.post(&address, None, &send.message).await.map(|_| ()),
                Err(err) => Err(err),
            },
            (Recipient::Person(_), None) => chat.dm(&address, &send.message).await.map(|_| ()),
            (Recipient::Channel(_), None) => chat.post(&address, None, &send.message).await.map(|_| ()),
        };
        sent?;
        store.fault("agent.after_send")?;
        let body = send.message.fallback_text();
        store.record_send(ws, plan.agent.as_str(), &send.key, &send.to.describe(), &body, now).await?;
        out.push(Sent::Sent);
    }
    Ok(out)
}

/// A scheduled agent run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentJob {
    pub agent: Agent,
    /// The firing: the agent judges the data as of this instant.
    pub at: DateTime<Utc>,
}

impl JobSpec for AgentJob {
    const KIND: &'static str = "agent.run";
    const MAX_ATTEMPTS: u32 = 5;
    const TIMEOUT: Duration = Duration::from_secs(120);
}

impl<C: Chat + 'static> Job<JobEnv<C>> for AgentJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        let ran = async {
            let plan = plan(self.agent, &env.store, &ctx.workspace, &env.config, &env.templates, self.at).await?;
            deliver(&plan, &env.store, &ctx.workspace, &env.config, env.chat.as_ref(), ctx.now, false).await?;
            Ok::<_, StepError>(Outcome::Done)
        };
        crate::job_env::finish(ran.await)
    }
}

/// The middle value (the mean of the two middle ones for an even count); `None` for none.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] })
}

/// "1 h", "7.5 h".
pub(crate) fn hours(h: f64) -> String {
    // `+ 0.0` turns a negative zero (no hours, rounded) into zero: never "-0 h".
    let rounded = (h * 100.0).round() / 100.0 + 0.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0} h")
    } else {
        format!("{} h", format!("{rounded:.2}").trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hours_read_naturally() {
        assert_eq!(super::hours(8.0), "8 h");
        assert_eq!(super::hours(7.5), "7.5 h");
        assert_eq!(super::hours(31.99), "31.99 h");
        assert_eq!(super::hours(0.0), "0 h");
        assert_eq!(super::hours(-0.0), "0 h");
        assert_eq!(super::hours(-0.001), "0 h");
    }
}
