//! BM25 over open tickets (title counted twice, description, labels, epic, latest comments), updated one
//! ticket at a time. Documents are numbered and scores gathered in a dense array, so a query
//! costs one pass over its terms' postings.

use super::text::terms;
use super::MatchTicket;
use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

#[derive(Default)]
pub struct Index {
    /// term → (document, term frequency)
    postings: HashMap<String, Vec<(u32, u32)>>,
    /// document → ticket key (empty when the slot is free)
    keys: Vec<String>,
    lengths: Vec<u32>,
    /// document → its distinct terms, to take it out again
    doc_terms: Vec<Vec<String>>,
    by_key: HashMap<String, u32>,
    free: Vec<u32>,
    live: usize,
    total_len: usize,
}

impl Index {
    pub fn new<'a>(tickets: impl IntoIterator<Item = &'a MatchTicket>) -> Self {
        let mut index = Index::default();
        for ticket in tickets {
            index.upsert(ticket);
        }
        index
    }

    /// Adds or replaces one ticket's document; the rest of the index is untouched.
    pub fn upsert(&mut self, ticket: &MatchTicket) {
        self.remove(&ticket.key);
        let mut words = terms(&ticket.title);
        words.extend(terms(&ticket.title));
        words.extend(terms(&ticket.description));
        words.extend(ticket.labels.iter().flat_map(|l| terms(l)));
        words.extend(ticket.epic.iter().flat_map(|e| terms(e)));
        words.extend(ticket.comments.iter().take(3).flat_map(|c| terms(c)));
        let mut counts: HashMap<String, u32> = HashMap::new();
        for word in &words {
            *counts.entry(word.clone()).or_default() += 1;
        }
        let doc = match self.free.pop() {
            Some(doc) => doc,
            None => {
                self.keys.push(String::new());
                self.lengths.push(0);
                self.doc_terms.push(Vec::new());
                (self.keys.len() - 1) as u32
            }
        };
        for (word, tf) in &counts {
            self.postings.entry(word.clone()).or_default().push((doc, *tf));
        }
        let slot = doc as usize;
        self.keys[slot] = ticket.key.clone();
        self.lengths[slot] = words.len() as u32;
        self.doc_terms[slot] = counts.into_keys().collect();
        self.by_key.insert(ticket.key.clone(), doc);
        self.live += 1;
        self.total_len += words.len();
    }

    pub fn remove(&mut self, key: &str) {
        let Some(doc) = self.by_key.remove(key) else { return };
        let slot = doc as usize;
        for word in std::mem::take(&mut self.doc_terms[slot]) {
            if let Some(posting) = self.postings.get_mut(&word) {
                posting.retain(|(d, _)| *d != doc);
                if posting.is_empty() {
                    self.postings.remove(&word);
                }
            }
        }
        self.total_len -= self.lengths[slot] as usize;
        self.keys[slot].clear();
        self.lengths[slot] = 0;
        self.free.push(doc);
        self.live -= 1;
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.live as f64;
        let df = self.postings.get(term).map_or(0, Vec::len) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The best `k` tickets for `query` (distinct query terms), best first, each as
    /// `(key, score, coverage)`: coverage is the share of the query's weight it matched.
    pub fn search_top(&self, query: &[String], k: usize) -> Vec<(String, f64, f64)> {
        let mut seen = std::collections::HashSet::new();
        let query: Vec<&String> = query.iter().filter(|t| seen.insert(*t)).collect();
        let avg = if self.live == 0 { 1.0 } else { self.total_len as f64 / self.live as f64 };
        let total_idf: f64 = query.iter().map(|t| self.idf(t)).sum::<f64>().max(1e-9);
        let mut scores = vec![0.0f64; self.keys.len()];
        let mut coverage = vec![0.0f64; self.keys.len()];
        let mut touched: Vec<u32> = Vec::new();
        for term in query {
            let Some(posting) = self.postings.get(term.as_str()) else { continue };
            let idf = self.idf(term);
            let share = idf / total_idf;
            for &(doc, tf) in posting {
                let slot = doc as usize;
                let tf = f64::from(tf);
                let len = f64::from(self.lengths[slot]);
                if coverage[slot] == 0.0 {
                    touched.push(doc);
                }
                scores[slot] += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                coverage[slot] += share;
            }
        }
        // Only the best k are needed: kept in order in a short list, no sort of them all.
        let better = |a: u32, b: u32| {
            let (a_s, b_s) = (scores[a as usize], scores[b as usize]);
            a_s > b_s || (a_s == b_s && self.keys[a as usize] < self.keys[b as usize])
        };
        let mut top: Vec<u32> = Vec::with_capacity(k + 1);
        for doc in touched {
            if top.len() == k && top.last().is_none_or(|&last| !better(doc, last)) {
                continue;
            }
            let at = top.iter().position(|&t| better(doc, t)).unwrap_or(top.len());
            top.insert(at, doc);
            top.truncate(k);
        }
        top.into_iter().map(|d| (self.keys[d as usize].clone(), scores[d as usize], coverage[d as usize])).collect()
    }
}
