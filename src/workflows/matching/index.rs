//! BM25 over open tickets (title counted twice, description, labels, epic), updated one
//! ticket at a time.

use super::text::terms;
use super::MatchTicket;
use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

#[derive(Default)]
pub struct Index {
    /// term → (ticket key → term frequency)
    postings: HashMap<String, HashMap<String, u32>>,
    /// ticket key → (its terms, its length)
    docs: HashMap<String, (Vec<String>, usize)>,
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
        for word in &words {
            *self.postings.entry(word.clone()).or_default().entry(ticket.key.clone()).or_default() += 1;
        }
        self.total_len += words.len();
        let len = words.len();
        self.docs.insert(ticket.key.clone(), (words, len));
    }

    pub fn remove(&mut self, key: &str) {
        if let Some((words, len)) = self.docs.remove(key) {
            self.total_len -= len;
            for word in words {
                if let Some(posting) = self.postings.get_mut(&word) {
                    posting.remove(key);
                    if posting.is_empty() {
                        self.postings.remove(&word);
                    }
                }
            }
        }
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.docs.len() as f64;
        let df = self.postings.get(term).map_or(0, HashMap::len) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// Tickets by descending score for `query` (distinct query terms), with the share of the
    /// query's weight each matched.
    pub fn search(&self, query: &[String]) -> Vec<(String, f64, f64)> {
        let mut seen = std::collections::HashSet::new();
        let query: Vec<&String> = query.iter().filter(|t| seen.insert(*t)).collect();
        let avg = if self.docs.is_empty() { 1.0 } else { self.total_len as f64 / self.docs.len() as f64 };
        let total_idf: f64 = query.iter().map(|t| self.idf(t)).sum::<f64>().max(1e-9);
        let mut scores: HashMap<&str, (f64, f64)> = HashMap::new();
        for term in query {
            let Some(posting) = self.postings.get(term.as_str()) else { continue };
            let idf = self.idf(term);
            for (key, tf) in posting {
                let len = self.docs.get(key).map_or(1, |d| d.1) as f64;
                let tf = f64::from(*tf);
                let score = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
                let entry = scores.entry(key.as_str()).or_default();
                entry.0 += score;
                entry.1 += idf / total_idf;
            }
        }
        let mut ranked: Vec<(String, f64, f64)> = scores.into_iter().map(|(k, (s, c))| (k.to_string(), s, c)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked
    }
}
