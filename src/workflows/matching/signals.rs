//! What a message says, read from its words: ticket keys it names, a status change it
//! announces (with negations and plans read as no change), whether it asks for new work, and
//! whether it is only an acknowledgement.

/// Phrases that announce a status, by the status they announce.
const STATUS_PHRASES: &[(&str, &[&str])] = &[
    (
        "done",
        &[
            "merged",
            "deployed",
            "shipped",
            "landed",
            "live on prod",
            "is live",
            "went live",
            "released",
            "rolled out",
            "in prod now",
        ],
    ),
    (
        "in_review",
        &[
            "pr is up",
            "pr's up",
            "pr up",
            "opened a pr",
            "opened the pr",
            "patch is up",
            "diff is up",
            "ready for review",
            "up for review",
            "in review",
        ],
    ),
    (
        "in_progress",
        &[
            "picking up",
            "picking this up",
            "picking it up",
            "starting on",
            "started on",
            "starting the",
            "taking it",
            "taking this",
            "i'll take",
            "back on it",
            "working on it",
            "i'm on it",
            "on it now",
            "i'll grab",
            "grabbing",
        ],
    ),
    (
        "blocked",
        &[
            "blocked on",
            "blocked by",
            "blocked until",
            "is blocked",
            "are blocked",
            "'re blocked",
            "waiting on",
            "waiting for",
            "stuck on",
            "stuck until",
        ],
    ),
    ("backlog", &["won't get to", "back to the backlog", "to the backlog", "to backlog", "deprioritiz", "next sprint"]),
    ("todo", &["pulled into", "pull it into", "into this sprint", "into the sprint"]),
];

/// Words before a phrase that turn it into no change: a negation, a plan, a condition.
const NOT_A_CHANGE: &[&str] = &[
    "not", "n't", "never", "will", "once", "when", "after", "until", "before", "if", "going", "gonna", "planning",
    "plan", "still", "since", "should", "aiming", "aim", "hoping", "hope", "expect", "trying", "try", "want",
];

/// The status a message announces, or `None` (no announcement, or negated / planned).
pub fn announced_status(text: &str) -> Option<&'static str> {
    announcement(text).map(|(_, status)| status)
}

/// What the message says before its announcement, in the same clause: "the tz chart fix
/// merged" → "the tz chart fix", the work the news is about.
pub fn announced_subject(text: &str) -> Option<String> {
    let lower = text.to_lowercase().replace('’', "'");
    let (at, _) = announcement(text)?;
    let before = lower.get(..at)?;
    let clause = before.rsplit(['.', '!', '?', ';', ',', '\n', '—', ':']).next().unwrap_or(before);
    Some(clause.to_string())
}

/// Where the status the message announces is said (in its lower-cased text), and which.
fn announcement(text: &str) -> Option<(usize, &'static str)> {
    let lower = text.to_lowercase().replace('’', "'");
    let mut best: Option<(usize, &'static str)> = None;
    for (status, phrases) in STATUS_PHRASES {
        for phrase in *phrases {
            let Some(at) = find_word_phrase(&lower, phrase) else { continue };
            if negated(&lower[..at]) || lower[at..].contains(" yet") {
                continue;
            }
            // The phrase said last wins ("was blocked, now merged").
            if best.is_none_or(|(b, _)| at > b) {
                best = Some((at, status));
            }
        }
    }
    if let Some(at) = review_opened(&lower).filter(|at| !negated(&lower[..*at])) {
        if best.is_none_or(|(b, _)| at > b) {
            best = Some((at, "in_review"));
        }
    }
    best
}

/// "the PR for the dropdown fix is up": a change for review named, then said to be up or
/// open, in one clause. Where the saying starts.
fn review_opened(lower: &str) -> Option<usize> {
    const CHANGE: &[&str] = &["pr", "mr", "patch", "diff", "pull request", "merge request"];
    const UP: &[&str] = &["is up", "'s up", "is open", "are up"];
    let mut from = 0;
    for clause in lower.split_inclusive(['.', '!', '?', ';', ',', '\n', '—', ':']) {
        let named = CHANGE.iter().filter_map(|c| find_word_phrase(clause, c)).min();
        if let Some(named) = named {
            if let Some(up) = UP.iter().filter_map(|u| find_word_phrase(&clause[named..], u)).min() {
                return Some(from + named + up);
            }
        }
        from += clause.len();
    }
    None
}

fn find_word_phrase(text: &str, phrase: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(phrase) {
        let at = from + found;
        let before_ok = at == 0 || !text[..at].chars().next_back().is_some_and(char::is_alphanumeric);
        let end = at + phrase.len();
        let after_ok = phrase.ends_with("iz")
            || end >= text.len()
            || !text[end..].chars().next().is_some_and(char::is_alphanumeric);
        if before_ok && after_ok {
            return Some(at);
        }
        from = at + phrase.len().max(1);
    }
    None
}

/// Whether the words just before a phrase (in the same clause) negate or defer it, or the
/// clause is a condition or a time still to come ("once it is in review", "when it ships").
fn negated(before: &str) -> bool {
    let clause = before.rsplit(['.', '!', '?', ';', ',', '\n', '—', '–']).next().unwrap_or(before);
    let word = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_string();
    let words: Vec<String> = clause.split_whitespace().map(word).collect();
    words.iter().rev().take(4).any(|w| NOT_A_CHANGE.contains(&w.as_str()) || w.ends_with("n't"))
        || words.iter().any(|w| SUBORDINATE.contains(&w.as_str()))
}

/// Words that open a clause about a condition or a later time: what follows has not happened.
const SUBORDINATE: &[&str] = &["once", "when", "whenever", "if", "unless", "until", "till", "before", "after"];

/// Ticket keys named in the text: `ENG-12`, `eng-12`, a tracker URL holding one
/// (`…/browse/ENG-12`, `…/issue/ENG-12/…`), or `#12` and a GitHub issue URL (`…/issues/12`)
/// for `default_project`.
pub fn ticket_keys(text: &str, default_project: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    // GitHub numbers its issues per repository: read `…/issues/12` as `#12`.
    let text = text.replace("/issues/", " #");
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '#')) {
        let word = word.trim_matches('-');
        if let Some((project, number)) = word.split_once('-') {
            let project_ok = (2..=10).contains(&project.len()) && project.chars().all(|c| c.is_ascii_alphabetic());
            if project_ok && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
                keys.push(format!("{}-{number}", project.to_ascii_uppercase()));
            }
        } else if let (Some(number), Some(project)) = (word.strip_prefix('#'), default_project) {
            if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
                keys.push(format!("{project}-{number}"));
            }
        }
    }
    keys
}

/// New work: a bug report or a request for a change.
pub fn asks_for_work(text: &str) -> bool {
    const SIGNS: &[&str] = &[
        "can we",
        "could we",
        "can you add",
        "could you add",
        "would be nice",
        "would be great",
        "please add",
        "feature request",
        "request from",
        "we need",
        "need a",
        "need to be able",
        "should be able",
        "add a",
        "add an",
        "support for",
        "bug",
        "broken",
        "error",
        "500",
        "crash",
        "fails",
        "failing",
        "failed",
        "doesn't work",
        "does not work",
        "not working",
        "can't",
        "cannot",
        "wrong",
        "instead of",
        "asked for",
        "want a",
        "wants a",
        "wants to",
        "want to be able",
        "option to",
        "ability to",
        "let users",
        "allow",
        "slow",
        "timeout",
        "times out",
        "never arrives",
        "don't get",
        "doesn't show",
        "not showing",
    ];
    let lower = text.to_lowercase().replace('’', "'");
    SIGNS.iter().any(|s| find_word_phrase(&lower, s).is_some())
}

/// The message says it is about something else than what it resembles.
pub fn says_separate(text: &str) -> bool {
    const SIGNS: &[&str] = &[
        "separate from",
        "separate issue",
        "unrelated to",
        "unrelated,",
        "not related to",
        "different issue",
        "different bug",
        "new one",
        "new ask",
        "new request",
        "new bug",
        "another one",
        "not the same",
        "on top of that",
        // "like X but for Y": the named work, extended to something it does not cover.
        "but for",
        "but on the",
        "but in the",
        "but with",
        "like we have for",
        "like we did for",
        "in addition to",
        "on top of this",
        "extend it to",
        "extend this to",
    ];
    let lower = text.to_lowercase().replace('’', "'");
    SIGNS.iter().any(|s| lower.contains(s)) || names_another_problem(&lower)
}

/// "a different problem", "another issue", "separate ticket": the message sets itself apart.
fn names_another_problem(lower: &str) -> bool {
    const APART: &[&str] = &["different", "separate", "another", "unrelated", "new"];
    const PROBLEM: &[&str] = &["issue", "bug", "problem", "error", "ticket"];
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.windows(2).any(|w| APART.contains(&w[0]) && PROBLEM.contains(&w[1]))
}

/// "like X but for Y", "same as X but on …": a request for what X does, somewhere X does not.
pub fn extends_other_work(text: &str) -> bool {
    let lower = text.to_lowercase();
    let likened = ["like ", "same as ", "similar to ", "same thing "].iter().any(|l| lower.contains(l));
    likened && ["but for ", "but on ", "but in ", "but with ", "but per "].iter().any(|b| lower.contains(b))
}

/// Only an acknowledgement or a reaction: thanks, emoji, "+1", "nice".
pub fn only_acknowledges(text: &str) -> bool {
    const ACKS: &[&str] = &[
        "thanks",
        "thank",
        "you",
        "ty",
        "thx",
        "nice",
        "great",
        "cool",
        "awesome",
        "perfect",
        "lgtm",
        "+1",
        "ok",
        "okay",
        "yay",
        "woo",
        "wow",
        "sweet",
        "ace",
        "cheers",
        "legend",
        "ta",
        "much",
        "appreciated",
        "so",
        "very",
        "all",
        "team",
        "folks",
    ];
    let words: Vec<String> = text
        .to_lowercase()
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '+').to_string())
        .filter(|w| !w.is_empty() && !w.starts_with("u0") && !w.starts_with('@'))
        .collect();
    words.iter().all(|w| ACKS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_review_start_and_blocking_are_read() {
        assert_eq!(announced_status("merged and deployed 🎉"), Some("done"));
        assert_eq!(announced_status("PR is up for the csv fix"), Some("in_review"));
        assert_eq!(announced_status("picking this up today"), Some("in_progress"));
        assert_eq!(announced_status("blocked on the vendor's API key"), Some("blocked"));
    }

    #[test]
    fn negations_and_plans_are_not_changes() {
        assert_eq!(announced_status("not merged yet"), None);
        assert_eq!(announced_status("will merge once CI is green"), None);
        assert_eq!(announced_status("haven't started on it"), None);
        assert_eq!(announced_status("still blocked on legal"), None);
    }

    #[test]
    fn a_change_for_review_named_then_said_up_is_in_review() {
        assert_eq!(announced_status("the PR for the roster export is up"), Some("in_review"));
        assert_eq!(announced_status("merge request for the kiosk timeout is open now"), Some("in_review"));
        assert_eq!(announced_status("the patch is up: https://git.example.com/x/pull/3"), Some("in_review"));
        assert_eq!(announced_status("the PR isn't up, the build is up"), None, "negated in its clause");
    }

    #[test]
    fn a_status_said_in_its_own_words_and_one_still_to_come() {
        assert_eq!(announced_status("the fleet sync is blocked: the vendor never sent keys"), Some("blocked"));
        assert_eq!(announced_status("we're stuck until legal signs off"), Some("blocked"));
        assert_eq!(announced_status("on it now 👍"), Some("in_progress"));
        assert_eq!(announced_status("nobody has time this sprint, moving it to backlog"), Some("backlog"));
        assert_eq!(announced_status("I'll start monday once the booking fix is in review"), None);
        assert_eq!(announced_status("aiming to put it up for review tomorrow"), None);
        assert_eq!(announced_status("when it ships, tell the clinics"), None);
    }

    #[test]
    fn the_words_before_a_status_name_what_it_is_about() {
        assert_eq!(
            announced_subject("the allergen label fix merged, out tonight").as_deref(),
            Some("the allergen label fix ")
        );
        assert_eq!(announced_subject("the roster export PR is up").as_deref(), Some("the roster export pr "));
        assert_eq!(announced_subject("lunch?"), None);
    }

    #[test]
    fn work_set_apart_or_extended_elsewhere_is_new() {
        assert!(says_separate("different problem, not the checkout one: receipts print blank"));
        assert!(says_separate("another bug in the rota screen"));
        assert!(!says_separate("the dropdown sits on top of the Save button"));
        assert!(extends_other_work("like the low-stock alert but for franchise stores"));
        assert!(extends_other_work("same as the clinic export, but per ward"));
        assert!(!extends_other_work("it works but for one ward it is slow"));
    }

    #[test]
    fn keys_and_acknowledgements() {
        assert_eq!(ticket_keys("ENG-20 and eng-7, also #3", Some("ENG")), ["ENG-20", "ENG-7", "ENG-3"]);
        let urls = "see https://acme.atlassian.net/browse/ENG-41, https://linear.app/acme/issue/ENG-42/login-fix \
                    and https://github.com/acme/web/issues/43";
        assert_eq!(ticket_keys(urls, Some("ENG")), ["ENG-41", "ENG-42", "ENG-43"]);
        assert!(only_acknowledges("thanks!! 🙏"));
        assert!(only_acknowledges("👍"));
        assert!(!only_acknowledges("thanks, but it still fails on Safari"));
    }
}
