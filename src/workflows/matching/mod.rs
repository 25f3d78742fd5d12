//! Conversation → tickets: for each message the bot sees, whether it comments on a ticket,
//! moves one, asks for a new one, or is none of those — with a confidence and a one-sentence
//! reason. Deterministic and offline: ticket keys first, then BM25 over the open tickets,
//! read together with the thread the message is in. The board changes as messages move
//! tickets, and later messages see the change.

pub mod calibration;
mod index;
pub mod intent;
pub mod semantic;
mod signals;
pub use signals::ticket_keys;
mod text;

use crate::models::{Embedder, Embedding, ModelError};
use chrono::{DateTime, Utc};
use index::Index;
use semantic::{Bank, Vectors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The matcher's terms for `text`: lower-cased, stemmed, stop words out, identifiers split.
pub fn terms(text: &str) -> Vec<String> {
    text::terms(text)
}

/// Ranks free-standing documents `(id, text)` against `query` with the matcher's BM25 and
/// tokenizer: the best `k`, each with its share of the query's weight matched (0..1).
pub fn rank_documents(docs: &[(String, String)], query: &str, k: usize) -> Vec<(String, f64, f64)> {
    let as_tickets: Vec<MatchTicket> = docs
        .iter()
        .map(|(id, text)| MatchTicket {
            key: id.clone(),
            title: id.clone(),
            description: text.clone(),
            status: "todo".into(),
            assignee: None,
            epic: None,
            labels: vec![],
            comments: vec![],
            updated_at: None,
        })
        .collect();
    Index::new(as_tickets.iter()).search_top(&text::terms(query), k)
}

/// A ticket as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchTicket {
    pub key: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub status: String,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub epic: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Its latest comments, newest first (indexed with the description).
    #[serde(default)]
    pub comments: Vec<String>,
    /// When it last changed, for the recency boost.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchMessage {
    pub id: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub ts: String,
    pub text: String,
    /// The id of the thread's first message, for a reply.
    #[serde(default)]
    pub thread: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchDecision {
    pub id: String,
    /// comment | move | create | none
    pub decision: &'static str,
    pub ticket: Option<String>,
    pub status: Option<String>,
    pub confidence: f64,
    pub rationale: String,
}

/// How much of a message's weight must match a ticket for the ticket to be the subject.
const MIN_COVERAGE: f64 = 0.2;
const MIN_SCORE: f64 = 2.0;
/// A request counts as being about a ticket only at this confidence or above.
const STRONG_MATCH: f64 = 0.7;
/// The confidence of "nothing here", from `pmbot match --calibration` on the public sets.
const NOTHING_MATCHED: f64 = 0.55;
/// Below this, a comment guessed from shared words on a message that asks nothing is none.
const WEAK_GUESS: f64 = 0.5;
/// How a subject found by its words alone is explained.
const WORDS: &str = "its words match the ticket";
/// How a subject named by its key is explained.
const NAMED: &str = "it names the ticket";
/// How a subject found by meaning, with few words in common, is explained.
const MEANING: &str = "it means much what the ticket says";
/// The same for a bug report.
const BUG_MATCH: f64 = 0.6;
/// A topic before a colon must be mostly the ticket's words to name it.
const HEAD_COVERAGE: f64 = 0.5;
/// How many BM25 hits the context boosts may reorder.
const RERANKED: usize = 5;

/// Reads a conversation message by message, keeping the board as the messages change it.
pub struct Matcher {
    tickets: HashMap<String, MatchTicket>,
    index: Index,
    /// What each message was about, for the replies in its thread.
    subjects: HashMap<String, Option<String>>,
    texts: HashMap<String, String>,
    default_project: Option<String>,
    /// channel → the project it is about, for the channel boost.
    channel_projects: HashMap<String, String>,
    /// The instant recency is measured from; `None` turns the recency boost off.
    now: Option<DateTime<Utc>>,
    /// Meaning beside words, when the embedding model is installed.
    semantic: Option<Semantic>,
}

struct Semantic {
    embedder: Arc<Embedder>,
    bank: Arc<Bank>,
    vectors: Vectors,
    /// ticket → the fingerprint of the text its vector was made from
    prints: HashMap<String, String>,
    /// Vectors computed here since the caller last took them (to be stored).
    fresh: Vec<TicketVector>,
}

/// A ticket's embedding and the fingerprint of the text it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketVector {
    pub key: String,
    pub fingerprint: String,
    pub vector: Vec<f32>,
}

/// A message's embedding, read once for both intent and retrieval.
struct Read {
    vector: Vec<f32>,
    truncated: bool,
}

impl Matcher {
    /// Tickets with duplicate keys keep the last; tickets without a title are left out.
    pub fn new(tickets: Vec<MatchTicket>) -> Self {
        let tickets: HashMap<String, MatchTicket> =
            tickets.into_iter().filter(|t| !t.title.trim().is_empty()).map(|t| (t.key.clone(), t)).collect();
        let index = Index::new(tickets.values().filter(|t| is_open(&t.status)));
        let default_project = most_common_project(tickets.keys());
        Matcher {
            tickets,
            index,
            subjects: HashMap::new(),
            texts: HashMap::new(),
            default_project,
            channel_projects: HashMap::new(),
            now: None,
            semantic: None,
        }
    }

    /// Reads meaning as well as words: every open ticket is embedded (a `stored` vector is
    /// used when its fingerprint says it was made from the same text), and the example bank.
    pub fn embed_with(&mut self, embedder: Arc<Embedder>, stored: &[TicketVector]) -> Result<(), ModelError> {
        let bank = Bank::shared(&embedder)?;
        let stored: HashMap<&str, &TicketVector> = stored.iter().map(|v| (v.key.as_str(), v)).collect();
        let mut semantic =
            Semantic { embedder, bank, vectors: Vectors::default(), prints: HashMap::new(), fresh: Vec::new() };
        for ticket in self.tickets.values().filter(|t| is_open(&t.status)) {
            semantic.embed_ticket(ticket, stored.get(ticket.key.as_str()).copied())?;
        }
        self.semantic = Some(semantic);
        Ok(())
    }

    /// Whether it reads meaning (the embedding model is on).
    pub fn reads_meaning(&self) -> bool {
        self.semantic.is_some()
    }

    /// The ticket vectors computed since the last call, for the caller to store.
    pub fn take_fresh_vectors(&mut self) -> Vec<TicketVector> {
        self.semantic.as_mut().map(|s| std::mem::take(&mut s.fresh)).unwrap_or_default()
    }

    /// Tickets of `project` rank a little higher for messages in `channel` (on a kept matcher).
    pub fn set_channel_project(&mut self, channel: &str, project: &str) {
        self.channel_projects.insert(channel.trim_start_matches('#').to_lowercase(), project.to_string());
    }

    /// Tickets of `project` rank a little higher for messages in `channel`.
    pub fn channel_project(mut self, channel: &str, project: &str) -> Self {
        self.channel_projects.insert(channel.trim_start_matches('#').to_lowercase(), project.to_string());
        self
    }

    /// Ready for another conversation: what earlier messages were about is forgotten (the
    /// board is kept), and recency is measured from `now`.
    pub fn reset(&mut self, now: DateTime<Utc>) {
        self.subjects.clear();
        self.texts.clear();
        self.channel_projects.clear();
        self.now = Some(now);
    }

    /// How many tickets it knows.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Recently changed tickets rank a little higher, measured from `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    pub fn decide(&mut self, message: &MatchMessage) -> MatchDecision {
        // Long pastes are read by their start; a decision never needs 40 kB.
        let text: String = message.text.chars().take(4000).collect();
        let root = message.thread.as_ref().filter(|t| *t != &message.id);
        let root_text = root.and_then(|r| self.texts.get(r)).cloned().unwrap_or_default();
        self.texts.insert(message.id.clone(), text.clone());
        // A model that fails on one text leaves that message to the words alone.
        let read = self
            .semantic
            .as_ref()
            .and_then(|s| s.embedder.embed(&text::without_links(&text)).ok())
            .map(|Embedding { vector, truncated }| Read { vector, truncated });
        let (subject, how) = self.subject(
            message,
            &text,
            root.and_then(|r| self.subjects.get(r).cloned().flatten()),
            &root_text,
            read.as_ref(),
        );
        let mut decision = self.judge(message, &text, subject.as_ref(), how, read.as_ref());
        if read.as_ref().is_some_and(|r| r.truncated) {
            decision.rationale.push_str(" (Its meaning was read from its first 256 tokens.)");
        }
        self.subjects.insert(message.id.clone(), decision.ticket.clone().or(subject.map(|(k, _)| k)));
        if decision.decision == "move" {
            if let (Some(key), Some(status)) = (&decision.ticket, &decision.status) {
                self.set_status(key, status);
            }
        }
        decision
    }

    /// The ticket the message is about, with how sure and why.
    fn subject(
        &self,
        message: &MatchMessage,
        text: &str,
        thread_subject: Option<String>,
        root_text: &str,
        read: Option<&Read>,
    ) -> (Option<(String, f64)>, &'static str) {
        if let Some(key) = signals::ticket_keys(text, self.default_project.as_deref())
            .into_iter()
            .find(|k| self.tickets.contains_key(k))
        {
            return (Some((key, 0.95)), NAMED);
        }
        if let Some(key) = thread_subject {
            return (Some((key, 0.85)), "its thread is about that ticket");
        }
        let mut query = text::terms(text);
        if !root_text.is_empty() {
            query.extend(text::terms(root_text));
        }
        let mut ranked = self.index.search_top(&query, RERANKED);
        // "refund timeouts: PR is up" — a topic said before a colon names what it is about.
        // One word is not a topic ("ops q:").
        // So does the work news is about: "the tz chart fix merged".
        let heads = [topic(text).map(str::to_string), signals::announced_subject(text)];
        for head in heads.into_iter().flatten().map(|h| text::terms(&h)).filter(|t| t.len() >= 2) {
            for (key, score, coverage) in self.index.search_top(&head, RERANKED) {
                if coverage < HEAD_COVERAGE || score < MIN_SCORE {
                    continue;
                }
                match ranked.iter_mut().find(|r| r.0 == key) {
                    Some(hit) => {
                        hit.1 = hit.1.max(score);
                        hit.2 = hit.2.max(coverage);
                    }
                    None => ranked.push((key, score, coverage)),
                }
            }
        }
        if let (Some(semantic), Some(read)) = (&self.semantic, read) {
            return self.subject_by_meaning(message, semantic, read, ranked);
        }
        for (key, score, _) in &mut ranked {
            *score *= self.boost(message, key);
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        match ranked.first() {
            Some((key, score, coverage)) if *coverage >= MIN_COVERAGE && *score >= MIN_SCORE => {
                let second = ranked.get(1).map_or(0.0, |r| r.1);
                let margin = ((score - second) / score).clamp(0.0, 1.0);
                let confidence = (0.45 + 0.3 * coverage.min(1.0) + 0.2 * margin).min(0.9);
                (Some((key.clone(), confidence)), WORDS)
            }
            _ => (None, ""),
        }
    }

    /// Hybrid retrieval: the BM25 hits and the nearest tickets by meaning, each scored by
    /// words and meaning together (`semantic::hybrid`).
    fn subject_by_meaning(
        &self,
        message: &MatchMessage,
        semantic: &Semantic,
        read: &Read,
        by_words: Vec<(String, f64, f64)>,
    ) -> (Option<(String, f64)>, &'static str) {
        let mut lexical: HashMap<String, f64> = HashMap::new();
        for (key, score, coverage) in by_words {
            // A hit below BM25's floor shares only common words: no lexical evidence.
            lexical.insert(key, if score >= MIN_SCORE { coverage } else { 0.0 });
        }
        let mut candidates: Vec<String> = lexical.keys().cloned().collect();
        candidates.extend(semantic.vectors.nearest(&read.vector, RERANKED).into_iter().map(|(k, _)| k));
        candidates.sort();
        candidates.dedup();
        let mut scored: Vec<(String, f64, f64, f32)> = candidates
            .into_iter()
            .filter_map(|key| {
                let cosine = semantic::dot(semantic.vectors.get(&key)?, &read.vector);
                let coverage = lexical.get(&key).copied().unwrap_or(0.0);
                let score = semantic::hybrid(coverage, cosine) * self.boost(message, &key);
                Some((key, score, coverage, cosine))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let Some((key, score, coverage, cosine)) = scored.first() else { return (None, "") };
        // Words alone as before, confirmed by meaning; or meaning alone when it is close.
        let by_words = *coverage >= MIN_COVERAGE && semantic::closeness(*cosine) > 0.0;
        let by_meaning = semantic::closeness(*cosine) >= 0.5;
        if !(by_words || by_meaning) {
            return (None, "");
        }
        let second = scored.get(1).map_or(0.0, |r| r.1);
        let margin = ((score - second) / score).clamp(0.0, 1.0);
        // The hybrid score is already on 0..1: half of it, and a little for a clear lead.
        let confidence = (0.4 + 0.5 * score.min(1.0) + 0.1 * margin).min(0.9);
        (Some((key.clone(), confidence)), if by_words { WORDS } else { MEANING })
    }

    /// Context the words do not carry: the author's own tickets, the channel's project, and
    /// tickets touched lately rank a little higher. Each is at most a few per cent, so it
    /// breaks near-ties and never outweighs what the message says.
    fn boost(&self, message: &MatchMessage, key: &str) -> f64 {
        let Some(ticket) = self.tickets.get(key) else { return 1.0 };
        let mut boost = 1.0;
        if !message.user.is_empty() && ticket.assignee.as_deref() == Some(message.user.as_str()) {
            boost *= 1.08;
        }
        let channel = message.channel.trim_start_matches('#').to_lowercase();
        if self.channel_projects.get(&channel).is_some_and(|p| key.split_once('-').is_some_and(|(k, _)| k == p)) {
            boost *= 1.05;
        }
        if let (Some(now), Some(updated)) = (self.now, ticket.updated_at) {
            let days = (now - updated).num_hours().max(0) as f64 / 24.0;
            boost *= 1.0 + 0.05 * (-days / 7.0).exp();
        }
        boost
    }

    fn judge(
        &self,
        message: &MatchMessage,
        text: &str,
        subject: Option<&(String, f64)>,
        how: &str,
        read: Option<&Read>,
    ) -> MatchDecision {
        let decided = |decision: &'static str,
                       ticket: Option<String>,
                       status: Option<&str>,
                       confidence: f64,
                       rationale: String| {
            MatchDecision {
                id: message.id.clone(),
                decision,
                ticket,
                status: status.map(str::to_string),
                confidence,
                rationale,
            }
        };
        if text.trim().is_empty() || signals::only_acknowledges(text) {
            return decided("none", None, None, 0.9, "It only acknowledges; nothing to act on.".into());
        }
        let announced = signals::announced_status(text);
        // The intent first (what the message is for), then retrieval (which ticket).
        let rules = intent::read(text, announced.is_some());
        let vote = self.semantic.as_ref().zip(read).and_then(|(s, r)| s.bank.vote(&r.vector));
        let (intent, _, _) = semantic::combine(rules, vote);
        let asks = matches!(intent, intent::Intent::Request(_))
            || (signals::asks_for_work(text) && intent != intent::Intent::Social)
            || signals::extends_other_work(text);
        if asks && announced.is_none() && (signals::says_separate(text) || intent::says_new_work(text)) {
            return decided("create", None, None, 0.7, "It asks for work and says it is a separate issue.".into());
        }
        // A request only resembling a ticket is new work; it must match well to be about one.
        // A failure that reads like an open ticket is most likely that ticket (a known bug);
        // a wish must read much like one to be about it.
        let strong = if intent == intent::Intent::Request(intent::Kind::Bug) { BUG_MATCH } else { STRONG_MATCH };
        let subject = subject.filter(|(_, confidence)| !(asks && announced.is_none() && *confidence < strong));
        // Social talk that shares words with a ticket is still social talk; a key or a
        // thread makes it about the ticket.
        // Thanks in a thread tell the ticket nothing either; naming it still counts.
        let subject = subject.filter(|_| !(intent == intent::Intent::Social && how != NAMED));
        match subject.and_then(|(key, c)| self.tickets.get(key).map(|t| (t, *c))) {
            Some((ticket, confidence)) if is_open(&ticket.status) => match announced {
                Some(status) if status != ticket.status => decided(
                    "move",
                    Some(ticket.key.clone()),
                    Some(status),
                    confidence,
                    format!(
                        "It is about {} ({}): {how}, and it says the work is now {status}.",
                        ticket.key, ticket.title
                    ),
                ),
                // A weak guess from shared words on a message that asks nothing is no comment.
                _ if (how == WORDS || how == MEANING)
                    && confidence * 0.95 < WEAK_GUESS
                    && matches!(intent, intent::Intent::Social | intent::Intent::Info) =>
                {
                    decided(
                        "none",
                        None,
                        None,
                        NOTHING_MATCHED,
                        format!(
                            "It reads as {}; it shares only a few words with {}, too few to comment there.",
                            intent.label(),
                            ticket.key
                        ),
                    )
                }
                _ => decided(
                    "comment",
                    Some(ticket.key.clone()),
                    None,
                    confidence * 0.95,
                    format!("It is about {} ({}): {how}.", ticket.key, ticket.title),
                ),
            },
            // Done tickets are not reopened: new work near them is new work.
            Some((ticket, _)) if asks => {
                decided("create", None, None, 0.6, format!("It asks for work, and {} is already closed.", ticket.key))
            }
            _ if asks && message.thread.as_ref().is_none_or(|t| t == &message.id) => decided(
                "create",
                None,
                None,
                0.6,
                format!(
                    "It reads as {} and no open ticket covers it.",
                    if matches!(intent, intent::Intent::Request(_)) { intent.label() } else { "a request for work" }
                ),
            ),
            // Calibrated on the public sets together: "nothing matched" is right a little over
            // half the time (`pmbot match --calibration`).
            _ => decided(
                "none",
                None,
                None,
                NOTHING_MATCHED,
                format!("It reads as {}; no ticket matches and it asks for no work.", intent.label()),
            ),
        }
    }

    /// The open tickets most like the message read with its thread, best first (what a
    /// language model may choose among), with the thread's ticket first when it has one.
    pub fn candidates(&self, message: &MatchMessage, n: usize) -> Vec<MatchTicket> {
        let text: String = message.text.chars().take(4000).collect();
        let root = message.thread.as_ref().filter(|t| *t != &message.id);
        let mut query = text::terms(&text);
        if let Some(root_text) = root.and_then(|r| self.texts.get(r)) {
            query.extend(text::terms(root_text));
        }
        let mut keys: Vec<String> = signals::ticket_keys(&text, self.default_project.as_deref());
        keys.extend(root.and_then(|r| self.subjects.get(r).cloned().flatten()));
        keys.extend(self.index.search_top(&query, n).into_iter().map(|(key, _, _)| key));
        let mut seen = std::collections::HashSet::new();
        keys.into_iter()
            .filter(|k| seen.insert(k.clone()))
            .filter_map(|k| self.tickets.get(&k).filter(|t| is_open(&t.status)).cloned())
            .take(n)
            .collect()
    }

    /// Tells the matcher about an earlier message (a thread's first one) and what it was about,
    /// so that a reply to it is read with it.
    pub fn remember(&mut self, id: &str, text: &str, subject: Option<String>) {
        self.texts.insert(id.to_string(), text.chars().take(4000).collect());
        self.subjects.insert(id.to_string(), subject);
    }

    /// Replaces one ticket (a change on the board) without rebuilding the index.
    pub fn update_ticket(&mut self, ticket: MatchTicket) {
        if is_open(&ticket.status) {
            self.index.upsert(&ticket);
            if let Some(semantic) = &mut self.semantic {
                // A ticket the model cannot read is found by its words alone.
                if semantic.embed_ticket(&ticket, None).is_err() {
                    semantic.vectors.remove(&ticket.key);
                }
            }
        } else {
            self.index.remove(&ticket.key);
            if let Some(semantic) = &mut self.semantic {
                semantic.vectors.remove(&ticket.key);
            }
        }
        self.tickets.insert(ticket.key.clone(), ticket);
    }

    fn set_status(&mut self, key: &str, status: &str) {
        if let Some(ticket) = self.tickets.get_mut(key) {
            ticket.status = status.to_string();
            if is_open(status) {
                self.index.upsert(ticket);
                if let Some(semantic) = &mut self.semantic {
                    if semantic.embed_ticket(ticket, None).is_err() {
                        semantic.vectors.remove(key);
                    }
                }
            } else {
                self.index.remove(key);
                if let Some(semantic) = &mut self.semantic {
                    semantic.vectors.remove(key);
                }
            }
        }
    }
}

impl Semantic {
    /// Embeds `ticket` unless its vector is already here or `stored` for the same text.
    fn embed_ticket(&mut self, ticket: &MatchTicket, stored: Option<&TicketVector>) -> Result<(), ModelError> {
        let text = semantic::ticket_text(ticket);
        let fingerprint = semantic::fingerprint(&text);
        if self.prints.get(&ticket.key) == Some(&fingerprint) && self.vectors.get(&ticket.key).is_some() {
            return Ok(());
        }
        if let Some(stored) = stored.filter(|v| v.fingerprint == fingerprint) {
            self.vectors.insert(&ticket.key, stored.vector.clone());
            self.prints.insert(ticket.key.clone(), fingerprint);
            return Ok(());
        }
        let vector = self.embedder.embed(&text)?.vector;
        self.vectors.insert(&ticket.key, vector.clone());
        self.prints.insert(ticket.key.clone(), fingerprint.clone());
        self.fresh.push(TicketVector { key: ticket.key.clone(), fingerprint, vector });
        Ok(())
    }
}

/// The words before a colon that opens a message ("sepa export: …"), when they are a topic:
/// a few words, not a link or a greeting's name.
fn topic(text: &str) -> Option<&str> {
    // Who said what ("customer asked:", "quick question:") frames a message; it is no topic.
    const FRAMING: &[&str] = &[
        "asked", "asks", "says", "said", "wrote", "writes", "reported", "reports", "question", "update", "fyi", "note",
    ];
    let (head, rest) = text.split_once(':')?;
    let words: Vec<String> = head.split_whitespace().map(|w| w.to_lowercase()).collect();
    let link = rest.starts_with("//");
    let framing = words.iter().any(|w| FRAMING.contains(&w.trim_matches(|c: char| !c.is_alphanumeric())));
    ((2..=6).contains(&words.len()) && !link && !framing && !head.contains('<')).then_some(head)
}

fn is_open(status: &str) -> bool {
    !matches!(status, "done" | "cancelled")
}

fn most_common_project<'a>(keys: impl Iterator<Item = &'a String>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for key in keys {
        if let Some((project, _)) = key.split_once('-') {
            *counts.entry(project).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(p, n)| (*n, std::cmp::Reverse(*p))).map(|(p, _)| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(key: &str, title: &str, status: &str) -> MatchTicket {
        MatchTicket {
            key: key.into(),
            title: title.into(),
            description: String::new(),
            status: status.into(),
            assignee: None,
            epic: None,
            labels: vec![],
            comments: vec![],
            updated_at: None,
        }
    }

    fn said(id: &str, text: &str, thread: Option<&str>) -> MatchMessage {
        MatchMessage {
            id: id.into(),
            channel: "eng".into(),
            user: "ana".into(),
            ts: String::new(),
            text: text.into(),
            thread: thread.map(str::to_string),
        }
    }

    fn board() -> Matcher {
        Matcher::new(vec![
            ticket("ENG-1", "Login returns 500 after session expiry", "in_progress"),
            ticket("ENG-2", "CSV export dates in US format", "todo"),
            ticket("ENG-2", "duplicate key keeps the last", "todo"),
            ticket("ENG-3", "   ", "todo"),
        ])
    }

    #[test]
    fn a_named_ticket_that_is_merged_moves_and_later_messages_see_it() {
        let mut m = board();
        let d = m.decide(&said("1", "ENG-1 is merged 🎉", None));
        assert_eq!((d.decision, d.ticket.as_deref(), d.status.as_deref()), ("move", Some("ENG-1"), Some("done")));
        let again = m.decide(&said("2", "ENG-1 merged, as said", None));
        assert_ne!(again.decision, "move", "done already: no second move");
    }

    #[test]
    fn a_thread_reply_is_read_with_its_thread() {
        let mut m = board();
        m.decide(&said("1", "ENG-1: Northwind still gets the 500 after their session expired", None));
        let d = m.decide(&said("2", "PR is up", Some("1")));
        assert_eq!((d.decision, d.ticket.as_deref(), d.status.as_deref()), ("move", Some("ENG-1"), Some("in_review")));
    }

    #[test]
    fn odd_input_gets_a_decision_and_no_panic() {
        let mut m = board();
        for text in
            ["", "🙂🙂🙂", &"x".repeat(40_000), "```\nfn main() {}\n```", "Der Export funktioniert nicht", "\u{0}"]
        {
            let d = m.decide(&said("x", text, None));
            assert!(["none", "comment", "move", "create"].contains(&d.decision), "{text:?}");
        }
        assert_eq!(m.decide(&said("y", "", None)).decision, "none");
    }

    fn twins() -> Vec<MatchTicket> {
        let mut web = ticket("WEB-1", "Webhook retries give up too early", "todo");
        let mut app = ticket("APP-1", "Webhook retries give up too early", "todo");
        web.assignee = Some("ana".into());
        app.assignee = Some("ben".into());
        let others = ["Dark mode for the dashboard", "CSV export dates", "Login page copy", "Invoice PDF layout"];
        let mut board = vec![web, app];
        board.extend(others.iter().enumerate().map(|(i, t)| ticket(&format!("ENG-{}", i + 1), t, "todo")));
        board
    }

    #[test]
    fn near_ties_go_to_the_authors_ticket_then_the_channels_project_then_the_recent_one() {
        let question = |user: &str, channel: &str| MatchMessage {
            user: user.into(),
            channel: channel.into(),
            ..said("m", "the webhook retries give up too early again", None)
        };
        let mut m = Matcher::new(twins());
        assert_eq!(m.decide(&question("ana", "eng")).ticket.as_deref(), Some("WEB-1"));
        assert_eq!(m.decide(&question("ben", "eng")).ticket.as_deref(), Some("APP-1"));
        let mut m = Matcher::new(twins()).channel_project("#mobile", "APP");
        assert_eq!(m.decide(&question("chloe", "mobile")).ticket.as_deref(), Some("APP-1"));
        let now = chrono::Utc::now();
        let mut recent = twins();
        recent[1].updated_at = Some(now - chrono::Duration::hours(2));
        recent[0].updated_at = Some(now - chrono::Duration::days(60));
        let mut m = Matcher::new(recent).at(now);
        assert_eq!(m.decide(&question("chloe", "eng")).ticket.as_deref(), Some("APP-1"));
    }

    #[test]
    fn a_tickets_latest_comments_are_searched_too() {
        let mut flaky = ticket("ENG-7", "Nightly build is flaky", "in_progress");
        flaky.comments = vec!["Root cause: the Postgres container runs out of shared memory".into()];
        let mut m = Matcher::new(vec![flaky, ticket("ENG-8", "Dark mode for the dashboard", "todo")]);
        let d = m.decide(&said("m", "postgres container out of shared memory again tonight", None));
        assert_eq!((d.decision, d.ticket.as_deref()), ("comment", Some("ENG-7")));
    }
}
