//! Meaning as well as words, when the local embedding model is installed: each open ticket's
//! text as a unit vector, the message's too, and cosine similarity between them read beside
//! BM25 (hybrid retrieval); and the message's nearest examples in the generic example bank
//! read beside the intent rules. Pure arithmetic on vectors here; the model is the caller's.

use super::intent::{Intent, Kind};
use super::MatchTicket;
use crate::models::{Embedder, ModelError};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Cosine similarity of all-MiniLM-L6-v2 sentence vectors is read on this scale: pairs of
/// unrelated sentences sit around 0–0.2 and paraphrases at 0.7 and above (the model card's
/// and sentence-transformers' published behaviour, and what the bank's own pairs across
/// industries show: `bank_pairs_of_different_labels_are_far_apart`). So similarity is
/// normalised linearly from 0.2 (nothing) to 0.7 (the same thing said differently).
pub const UNRELATED: f32 = 0.2;
pub const PARAPHRASE: f32 = 0.7;
/// BM25's share of the message matched and the normalised cosine count equally: neither is
/// known to be the better judge on a team never seen, so neither is favoured.
pub const LEXICAL_WEIGHT: f64 = 0.5;
/// The bank examples a message is compared with.
pub const NEIGHBOURS: usize = 7;

/// Cosine similarity normalised to 0..1 (see `UNRELATED`, `PARAPHRASE`).
pub fn closeness(cosine: f32) -> f64 {
    f64::from(((cosine - UNRELATED) / (PARAPHRASE - UNRELATED)).clamp(0.0, 1.0))
}

/// The hybrid score of a ticket: BM25's coverage of the message and the normalised cosine.
pub fn hybrid(coverage: f64, cosine: f32) -> f64 {
    LEXICAL_WEIGHT * coverage.clamp(0.0, 1.0) + (1.0 - LEXICAL_WEIGHT) * closeness(cosine)
}

/// Eight running sums, so that the compiler can use vector instructions (one running sum
/// must add in order, and does not).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            sums[i] += x[i] * y[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// What a ticket is embedded from: its title, then its description's start (the model reads
/// 256 tokens; the title says most of what a ticket is).
pub fn ticket_text(ticket: &MatchTicket) -> String {
    let description: String = ticket.description.chars().take(600).collect();
    if description.trim().is_empty() {
        ticket.title.clone()
    } else {
        format!("{}. {}", ticket.title.trim_end_matches('.'), description)
    }
}

/// A short fingerprint of the text a vector was made from: a stored vector is used again only
/// for the same text and model.
pub fn fingerprint(text: &str) -> String {
    crate::models::sha256_hex(format!("{}\n{text}", crate::models::MODEL).as_bytes())[..32].to_string()
}

/// The generic example bank: short messages from many industries, each labelled with its
/// intent (`bank.tsv`, written for pmbot; none from an evaluation set).
pub struct Bank {
    labels: Vec<Label>,
    vectors: Vec<Vec<f32>>,
}

/// An example's intent and, for a status update, the state the work is now in (kept in
/// the bank for reading; the state a message announces comes from the rules: the nearest
/// examples chose it worse than words did on the public sets, so they do not choose it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub intent: Intent,
    pub status: Option<&'static str>,
}

pub const BANK: &str = include_str!("bank.tsv");

/// The bank's examples as `(label, text)`.
pub fn bank_examples() -> Vec<(Label, &'static str)> {
    BANK.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(label, text)| Some((parse_label(label.trim())?, text.trim())))
        .collect()
}

/// The states a status example may carry (pmbot's statuses).
const STATES: [&str; 6] = ["todo", "in_progress", "in_review", "blocked", "done", "backlog"];

fn parse_label(label: &str) -> Option<Label> {
    if let Some(state) = label.strip_prefix("status:") {
        let status = STATES.iter().find(|s| **s == state)?;
        return Some(Label { intent: Intent::Status, status: Some(status) });
    }
    Some(Label { intent: label_intent(label)?, status: None })
}

fn label_intent(label: &str) -> Option<Intent> {
    Some(match label {
        "status" => Intent::Status,
        "bug" => Intent::Request(Kind::Bug),
        "feature" => Intent::Request(Kind::Feature),
        "task" => Intent::Request(Kind::Task),
        "question" => Intent::Request(Kind::Question),
        "info" => Intent::Info,
        "social" => Intent::Social,
        _ => return None,
    })
}

impl Bank {
    pub fn new(labelled: Vec<(Label, Vec<f32>)>) -> Self {
        let (labels, vectors) = labelled.into_iter().unzip();
        Bank { labels, vectors }
    }

    /// The bank's vectors, once per process: read from the file beside the model when it was
    /// made from this bank and model, else embedded (a few seconds) and kept there.
    pub fn shared(embedder: &Embedder) -> Result<Arc<Bank>, ModelError> {
        static BANK_VECTORS: OnceLock<Arc<Bank>> = OnceLock::new();
        if let Some(bank) = BANK_VECTORS.get() {
            return Ok(bank.clone());
        }
        let examples = bank_examples();
        let kept =
            crate::models::model_dir(&crate::models::models_dir()).join(format!("bank-{}.f32", fingerprint(BANK)));
        let vectors = match crate::models::read_vectors(&kept, examples.len()) {
            Some(vectors) => vectors,
            None => {
                let vectors = examples
                    .iter()
                    .map(|(_, text)| embedder.embed(text).map(|e| e.vector))
                    .collect::<Result<Vec<_>, _>>()?;
                // Not kept (a read-only folder): embedded again by the next process.
                if let Err(err) = crate::models::write_vectors(&kept, &vectors) {
                    tracing::debug!(%err, "the example bank's vectors are not kept");
                }
                vectors
            }
        };
        let labelled = examples.into_iter().map(|(label, _)| label).zip(vectors).collect();
        Ok(BANK_VECTORS.get_or_init(|| Arc::new(Bank::new(labelled))).clone())
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The intent most of the message's nearest examples have, with its share of their
    /// similarity (0..1) and the nearest one's similarity.
    pub fn vote(&self, vector: &[f32]) -> Option<Vote> {
        let mut near: Vec<(f32, Label)> =
            self.vectors.iter().zip(&self.labels).map(|(v, label)| (dot(v, vector), *label)).collect();
        near.sort_by(|a, b| b.0.total_cmp(&a.0));
        near.truncate(NEIGHBOURS);
        let (intent, share) = majority(near.iter().map(|(s, l)| (l.intent, *s)))?;
        Some(Vote { intent, share, nearest: near[0].0 })
    }
}

/// The value with the largest share of the (positive) weights, and that share.
fn majority<T: PartialEq + Copy>(weighted: impl Iterator<Item = (T, f32)>) -> Option<(T, f64)> {
    let mut shares: Vec<(T, f32)> = Vec::new();
    let mut total = 0.0;
    for (value, weight) in weighted {
        let weight = weight.max(0.0);
        total += weight;
        match shares.iter_mut().find(|(v, _)| *v == value) {
            Some((_, share)) => *share += weight,
            None => shares.push((value, weight)),
        }
    }
    if total <= 0.0 {
        return None;
    }
    shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    shares.first().map(|(value, weight)| (*value, f64::from(weight / total)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vote {
    pub intent: Intent,
    pub share: f64,
    pub nearest: f32,
}

/// Rules and examples together. A rule that found a strong sign (a trace, a status word, a
/// greeting) stands; otherwise a clear majority of the nearest examples decides, and where
/// the two agree the confidence rises.
pub fn combine(rules: (Intent, f64, &'static str), vote: Option<Vote>) -> (Intent, f64, &'static str) {
    let (intent, confidence, why) = rules;
    let Some(vote) = vote else { return rules };
    // A majority of the neighbours' similarity, more sure than the rule was.
    let clear = vote.share >= 0.5_f64.max(confidence) && vote.nearest > UNRELATED;
    if vote.intent == intent {
        return (intent, (confidence + 0.1 * vote.share).min(0.9), why);
    }
    if confidence >= 0.7 || !clear {
        return rules;
    }
    (vote.intent, 0.5 + 0.2 * vote.share, "it reads like the examples of that kind")
}

/// Ticket vectors, kept beside the BM25 index in one contiguous block (a scan of 10k is a
/// read of 15 MB in order), slots reused as tickets come and go.
#[derive(Default)]
pub struct Vectors {
    data: Vec<f32>,
    /// slot → ticket key (empty when free)
    keys: Vec<String>,
    by_key: HashMap<String, usize>,
    free: Vec<usize>,
    width: usize,
}

impl Vectors {
    pub fn insert(&mut self, key: &str, vector: Vec<f32>) {
        if self.width == 0 {
            self.width = vector.len();
        }
        if vector.len() != self.width {
            return; // another model's vector: found by words alone
        }
        let slot = match self.by_key.get(key).copied().or_else(|| self.free.pop()) {
            Some(slot) => slot,
            None => {
                self.keys.push(String::new());
                self.data.resize(self.keys.len() * self.width, 0.0);
                self.keys.len() - 1
            }
        };
        self.data[slot * self.width..(slot + 1) * self.width].copy_from_slice(&vector);
        self.keys[slot] = key.to_string();
        self.by_key.insert(key.to_string(), slot);
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(slot) = self.by_key.remove(key) {
            self.keys[slot].clear();
            self.free.push(slot);
        }
    }

    pub fn get(&self, key: &str) -> Option<&[f32]> {
        self.by_key.get(key).map(|&slot| &self.data[slot * self.width..(slot + 1) * self.width])
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The `k` tickets nearest `query`, best first, as `(key, cosine)`.
    pub fn nearest(&self, query: &[f32], k: usize) -> Vec<(String, f32)> {
        if self.width == 0 || query.len() != self.width {
            return Vec::new();
        }
        let mut top: Vec<(&String, f32)> = Vec::with_capacity(k + 1);
        for (key, vector) in self.keys.iter().zip(self.data.chunks_exact(self.width)) {
            if key.is_empty() {
                continue;
            }
            let similarity = dot(vector, query);
            if top.len() == k && top.last().is_some_and(|(_, s)| *s >= similarity) {
                continue;
            }
            let at = top.iter().position(|(other, s)| similarity > *s || (similarity == *s && key < *other));
            top.insert(at.unwrap_or(top.len()), (key, similarity));
            top.truncate(k);
        }
        top.into_iter().map(|(k, s)| (k.clone(), s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closeness_runs_from_unrelated_to_paraphrase() {
        assert_eq!(closeness(0.1), 0.0);
        assert!((closeness(0.45) - 0.5).abs() < 1e-6);
        assert_eq!(closeness(0.95), 1.0);
        assert!((hybrid(1.0, 0.7) - 1.0).abs() < 1e-9);
        assert!((hybrid(0.4, 0.2) - 0.2).abs() < 1e-9);
    }

    #[test]
    fn the_bank_is_large_varied_and_every_line_has_a_known_label() {
        let examples = bank_examples();
        let lines = BANK.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        assert_eq!(examples.len(), lines, "a line without a tab or with an unknown label");
        assert!(examples.len() >= 500, "{}", examples.len());
        for label in ["bug", "feature", "task", "question", "info", "social"] {
            let intent = label_intent(label).unwrap();
            let n = examples.iter().filter(|(l, _)| l.intent == intent).count();
            assert!(n >= 60, "{label}: {n}");
        }
        for state in STATES {
            let n = examples.iter().filter(|(l, _)| l.status == Some(state)).count();
            assert!(n >= 20, "status:{state}: {n}");
        }
    }

    #[test]
    fn a_clear_majority_of_examples_overrules_a_weak_rule_but_not_a_strong_one() {
        let vote = |intent, share| Some(Vote { intent, share, nearest: 0.6 });
        let feature = Intent::Request(Kind::Feature);
        assert_eq!(combine((Intent::Info, 0.4, "x"), vote(feature, 0.8)).0, feature);
        assert_eq!(combine((Intent::Status, 0.8, "x"), vote(feature, 0.8)).0, Intent::Status);
        assert_eq!(combine((Intent::Info, 0.4, "x"), vote(feature, 0.45)).0, Intent::Info, "no majority");
        assert_eq!(combine((Intent::Info, 0.55, "x"), vote(feature, 0.52)).0, Intent::Info, "less sure than the rule");
        let agreed = combine((feature, 0.6, "x"), vote(feature, 0.9));
        assert!(agreed.1 > 0.6);
    }

    #[test]
    fn the_nearest_tickets_come_best_first() {
        let mut vectors = Vectors::default();
        vectors.insert("A-1", vec![1.0, 0.0]);
        vectors.insert("A-2", vec![0.6, 0.8]);
        vectors.insert("A-3", vec![0.0, 1.0]);
        let near = vectors.nearest(&[0.8, 0.6], 2);
        assert_eq!(near.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["A-2", "A-1"]);
        vectors.remove("A-2");
        vectors.insert("A-4", vec![0.8, 0.6]);
        vectors.insert("A-1", vec![0.0, -1.0]);
        let near = vectors.nearest(&[0.8, 0.6], 3);
        assert_eq!(near.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["A-4", "A-3", "A-1"]);
        assert_eq!((vectors.len(), vectors.get("A-2")), (3, None));
        assert!((dot(&[1.0; 19], &[2.0; 19]) - 38.0).abs() < 1e-6, "the tail past the last eight counts");
    }
}
