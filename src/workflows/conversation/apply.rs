//! Doing what a conversation decision says (comment, move, create), through the board
//! service. Shared by the conversation job (acting on its own or on a Yes) and the buttons
//! (Create ticket). Each step is safe to repeat: a job run again after a crash finds its work
//! done. Undo is the board service's (`BoardService::undo`).

use super::draft::{draft, private_draft, Said};
use crate::board::{NewTicket, Source, Status, TicketKey};
use crate::config::Config;
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{Decision, Store, StoreError, WorkspaceId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The chat message a decision is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageAt {
    pub platform: String,
    pub channel: String,
    pub ts: String,
    #[serde(default)]
    pub thread: Option<String>,
    pub user: String,
}

impl MessageAt {
    /// The decision log's `source` for the decision about this message.
    pub fn source(&self) -> String {
        source(&self.platform, &self.channel, &self.ts)
    }
}

pub fn source(platform: &str, channel: &str, ts: &str) -> String {
    format!("msg:{platform}:{channel}:{ts}")
}

/// What a `conversation.match` decision keeps in its `inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub message: MessageAt,
    /// The author's handle, when they are on the team.
    #[serde(default)]
    pub author: Option<String>,
    /// The start of the message.
    pub text: String,
    /// comment | move | create | none
    pub decision: String,
    #[serde(default)]
    pub ticket: Option<String>,
    /// The new status of a move.
    #[serde(default)]
    pub status: Option<String>,
    /// The ticket's status when decided (what Undo goes back to).
    #[serde(default)]
    pub from: Option<String>,
    /// A permalink to the message.
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub approval: Option<i64>,
    /// What was done: `{ticket, comment?, from?, to?, created?}`.
    #[serde(default)]
    pub result: Option<Value>,
    /// Set when a language model reranked or titled it.
    #[serde(default)]
    pub model: Option<Value>,
    /// Said in a private channel or a DM: quoted nowhere else, linked instead.
    #[serde(default)]
    pub private: bool,
    /// What was done has been said in the thread (until then a run again says it).
    #[serde(default)]
    pub replied: bool,
}

impl Proposal {
    pub fn of(decision: &Decision) -> Result<Proposal, StoreError> {
        serde_json::from_value(decision.inputs.clone())
            .map_err(|e| StoreError::Corrupt(format!("decision #{}: unreadable inputs: {e}", decision.id)))
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What was done, for the reply and the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub key: String,
    /// "Commented on *ENG-12* Fix the login timeout", …
    pub what: String,
    pub result: Value,
    /// False when it had been done already and nothing was written now.
    pub changed: bool,
}

/// Does what `proposal` says through the board service, as `actor`; with `other`, about that
/// ticket instead (a create pointed at an existing ticket becomes a comment on it). `ctx`
/// usually resolves the conversation decision in the same transaction; when there was
/// nothing left to do (done before a crash), `changed` is false and nothing was written.
pub async fn apply(
    board: &BoardService,
    config: &Config,
    proposal: &Proposal,
    actor: &Actor,
    other: Option<&TicketKey>,
    ctx: &Ctx,
) -> Result<Applied, ServiceError> {
    let (store, ws) = (board.store(), board.workspace());
    let decision = if other.is_some() && proposal.decision == "create" { "comment" } else { &proposal.decision };
    let key = || -> Result<TicketKey, StoreError> {
        match other {
            Some(key) => Ok(key.clone()),
            None => Ok(proposal.ticket.as_deref().unwrap_or_default().parse()?),
        }
    };
    match decision {
        "comment" => {
            let key = key()?;
            let ticket = store.ticket(ws, &key).await?;
            // Once: the comment and the decision it carries out commit together.
            let id = board.comment(actor, &key, &comment_body(config, proposal), ctx).await?.id;
            let changed = true;
            Ok(Applied {
                what: format!("Added this to *{key}* {} as a comment", ticket.title),
                result: json!({ "ticket": key.as_str(), "comment": id }),
                key: key.to_string(),
                changed,
            })
        }
        "move" => {
            let key = key()?;
            let to: Status = proposal.status.as_deref().unwrap_or_default().parse().map_err(StoreError::from)?;
            let ticket = store.ticket(ws, &key).await?;
            let (from, changed) = if ticket.status == to {
                // Already there: moved by this decision before a crash, or by someone.
                (proposal.from.as_deref().and_then(|s| s.parse().ok()).unwrap_or(to), false)
            } else {
                board.move_to(actor, &key, to, Some("said in chat"), ctx).await?;
                (ticket.status, true)
            };
            Ok(Applied {
                what: format!("Moved *{key}* {} from {} to {}", ticket.title, from.label(), to.label()),
                result: json!({ "ticket": key.as_str(), "from": from.as_str(), "to": to.as_str() }),
                key: key.to_string(),
                changed,
            })
        }
        "create" => {
            let source = proposal.message.source();
            let (ticket, changed) = match store.ticket_from(ws, "chat", &source).await? {
                Some(ticket) => (ticket, false),
                None => {
                    let new = new_ticket(store, config, ws, proposal).await?;
                    (board.create(actor, &new, ctx).await?, true)
                }
            };
            Ok(Applied {
                what: format!("Created *{}* {} in the {} backlog", ticket.key, ticket.title, ticket.project),
                result: json!({ "ticket": ticket.key.as_str(), "created": true }),
                key: ticket.key.to_string(),
                changed,
            })
        }
        other => Err(StoreError::Corrupt(format!("nothing to do for a \"{other}\" decision")).into()),
    }
}

/// What `result` (of [`apply`]) did, in words, as the reply says it: for a run again after a
/// crash between the change and the reply.
pub async fn described(store: &Store, ws: &WorkspaceId, result: &Value) -> Result<Applied, StoreError> {
    let key: TicketKey = result["ticket"].as_str().unwrap_or_default().parse()?;
    let ticket = store.ticket(ws, &key).await?;
    let status = |field: &str| result[field].as_str().and_then(|s| s.parse::<Status>().ok());
    let what = if result["comment"].is_i64() {
        format!("Added this to *{key}* {} as a comment", ticket.title)
    } else if result["created"].as_bool() == Some(true) {
        format!("Created *{key}* {} in the {} backlog", ticket.title, ticket.project)
    } else {
        let (from, to) = (status("from").map_or("?", |s| s.label()), status("to").map_or("?", |s| s.label()));
        format!("Moved *{key}* {} from {from} to {to}", ticket.title)
    };
    Ok(Applied { key: key.to_string(), what, result: result.clone(), changed: false })
}

fn who(config: &Config, proposal: &Proposal) -> String {
    let people = config.people();
    proposal
        .author
        .as_ref()
        .and_then(|h| people.iter().find(|p| &p.handle == h))
        .map_or_else(|| proposal.message.user.clone(), |p| p.display_name.clone())
}

fn channel_name(channel: &str) -> String {
    if channel.starts_with('#') {
        channel.to_string()
    } else {
        format!("#{channel}")
    }
}

fn comment_body(config: &Config, proposal: &Proposal) -> String {
    if proposal.private {
        let see = proposal.link.as_deref().map_or_else(|| "ask them for it".into(), |l| format!("see {l}"));
        return format!("{} said something about this in a private conversation ({see}).", who(config, proposal));
    }
    let mut body =
        format!("{} in {}: “{}”", who(config, proposal), channel_name(&proposal.message.channel), proposal.text);
    if let Some(link) = &proposal.link {
        body.push_str(&format!(" ({link})"));
    }
    body
}

async fn new_ticket(
    store: &Store,
    config: &Config,
    ws: &WorkspaceId,
    proposal: &Proposal,
) -> Result<NewTicket, StoreError> {
    let m = &proposal.message;
    let project = config.project_for_channel(&m.channel).ok_or_else(|| StoreError::UnknownProject("(none)".into()))?;
    let people = config.people();
    let name = |user: &str| {
        people
            .iter()
            .find(|p| p.answers_to(&m.platform, user))
            .map_or_else(|| user.to_string(), |p| p.display_name.clone())
    };
    let thread: Vec<Said> = match &m.thread {
        Some(root) => store
            .thread_messages(ws, &m.platform, &m.channel, root, 12)
            .await?
            .into_iter()
            .map(|said| Said { who: name(&said.user_id), text: said.text })
            .collect(),
        None => Vec::new(),
    };
    let request = Said { who: who(config, proposal), text: proposal.text.clone() };
    let drafted = if proposal.private {
        private_draft(&request, proposal.link.as_deref())
    } else {
        draft(&request, &thread, &channel_name(&m.channel), proposal.link.as_deref())
    };
    // A language model's title and summary, when it wrote them; the quote stays either way.
    // A model's title and summary are made of the message's words: not for a private one.
    let written = |field: &str| {
        let model = proposal.model.as_ref().filter(|_| !proposal.private);
        model.and_then(|m| m["answer"][field].as_str()).filter(|t| !t.trim().is_empty())
    };
    let title = written("title").map_or(drafted.title, str::to_string);
    let mut new = NewTicket::new(&project.key, &title)?;
    new.description = match written("description") {
        Some(summary) => format!("{summary}\n\n{}", drafted.description),
        None => drafted.description,
    };
    new.labels = vec![config.conversation.label.clone()];
    new.reporter = proposal.author.clone();
    new.source = Source { tracker: Some("chat".into()), external_id: Some(m.source()), url: proposal.link.clone() };
    Ok(new)
}
