//! Words for matching: lower-cased, code identifiers split (`camelCase`, `snake_case`,
//! `kebab-case`), stop words dropped, English stems (Snowball).

use rust_stemmers::{Algorithm, Stemmer};
use std::sync::OnceLock;

const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "me",
    "more",
    "my",
    "now",
    "of",
    "on",
    "one",
    "or",
    "our",
    "out",
    "over",
    "she",
    "so",
    "some",
    "still",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "too",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yes",
    "yep",
    "ok",
    "okay",
    "thanks",
    "thank",
    "pls",
    "please",
    "hey",
    "hi",
    "hello",
    "lol",
    "guys",
    "folks",
    "team",
    "today",
    "tomorrow",
    "yesterday",
    "week",
    "someone",
    "something",
    "thing",
    "stuff",
    "know",
    "think",
    "look",
    "see",
    "need",
    "want",
    "like",
    "make",
    "should",
    "would",
    "let",
    "lets",
    "let's",
    "i'm",
    "it's",
    "that's",
    "don't",
    "can't",
    "won't",
    "isn't",
    "aren't",
    "there's",
    "we're",
    "they're",
    "you're",
    "i'll",
    "we'll",
];

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// `text` without its links: a URL's host and path are where something is, not what the
/// message says (a tracker key inside one is read separately, by `signals::ticket_keys`).
pub fn without_links(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .filter(|w| {
            let w = w.trim().trim_start_matches(['<', '(', '[']);
            !(w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www."))
        })
        .collect()
}

/// Stemmed content words of `text`, in order (links left out).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let text = without_links(text);
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '\'')) {
        for word in split_identifier(raw) {
            let word = word.trim_matches(|c: char| c == '\'' || c == '-').to_lowercase();
            if word.chars().count() < 2
                || STOP_WORDS.contains(&word.as_str())
                || word.chars().all(|c| c.is_ascii_digit())
            {
                continue;
            }
            out.push(stemmer().stem(&word).into_owned());
        }
    }
    out
}

/// `sessionExpiry` → session, Expiry; `csv_export` → csv, export; `e-mail` → e, mail.
fn split_identifier(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    for piece in raw.split(['_', '-']) {
        let mut start = 0;
        let chars: Vec<(usize, char)> = piece.char_indices().collect();
        for w in 1..chars.len() {
            let (i, c) = chars[w];
            let prev = chars[w - 1].1;
            if c.is_uppercase() && prev.is_lowercase() {
                parts.push(&piece[start..i]);
                start = i;
            }
        }
        parts.push(&piece[start..]);
    }
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_split_and_words_stemmed() {
        assert_eq!(terms("sessionExpiry breaks csv_export"), ["session", "expiri", "break", "csv", "export"]);
        assert_eq!(terms("The exports are failing!"), ["export", "fail"]);
        assert!(terms("🙂🙂 ok thanks").is_empty());
        assert_eq!(
            terms("PR is up: https://git.example.com/core/api/pull/77 (staging <https://x.io/a|here>)"),
            ["pr", "stage"]
        );
    }
}
