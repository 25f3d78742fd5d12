//! A message's intent, as its own step before retrieval: a status update, a request for new
//! work (a bug, a feature, a task, a question about what the product can do), information
//! about existing work, or social and process talk. Read from general signals of English
//! (sentence mood, modal verbs, question forms, imperative and need forms, error and crash
//! vocabulary, code blocks and stack traces, numbers with units, negation) — no phrase here
//! is taken from an evaluation set; each list says what it is a sign of.

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// It says work changed state (merged, started, blocked).
    Status,
    /// It asks for work nobody has yet.
    Request(Kind),
    /// It tells something about work, or asks how it stands.
    Info,
    /// Greetings, thanks, meetings, lunch: nothing for the board.
    Social,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bug,
    Feature,
    Task,
    /// "Can it …?", "is there a way to …?": a question about what the product can do.
    Question,
}

impl Intent {
    pub fn label(self) -> &'static str {
        match self {
            Intent::Status => "a status update",
            Intent::Request(Kind::Bug) => "a bug report",
            Intent::Request(Kind::Feature) => "a request for a feature",
            Intent::Request(Kind::Task) => "a request for a task",
            Intent::Request(Kind::Question) => "a question about what the product can do",
            Intent::Info => "information about work",
            Intent::Social => "social or process talk",
        }
    }
}

/// Words of failure: something does not work as it should.
const FAILURE: &[&str] = &[
    "bug",
    "bugs",
    "broken",
    "breaks",
    "broke",
    "crash",
    "crashes",
    "crashed",
    "crashing",
    "error",
    "errors",
    "exception",
    "fails",
    "failed",
    "failing",
    "failure",
    "hangs",
    "hang",
    "freezes",
    "frozen",
    "stuck",
    "regression",
    "wrong",
    "incorrect",
    "missing",
    "blank",
    "garbled",
    "corrupt",
    "corrupted",
    "duplicate",
    "duplicated",
    "timeout",
    "timeouts",
    "timed",
    "500",
    "502",
    "503",
    "504",
    "404",
    "403",
    "401",
    "panic",
    "panicked",
    "leak",
    "flaky",
    "glitch",
    "unresponsive",
    "nan",
    "null",
    "undefined",
    "mismatch",
    "bounced",
    "rejected",
    "declined",
    "lost",
    "disappeared",
    "disappears",
    "overflow",
    "slow",
    "slower",
    "laggy",
    "lag",
];

/// Signs that something got worse or keeps happening: with a measure, a regression.
const WORSE: &[&str] = &[
    "used to",
    "anymore",
    "any more",
    "no longer",
    "since yesterday",
    "since this morning",
    "since the",
    "after the update",
    "after the release",
    "after the deploy",
    "started to",
    "keeps",
    "again",
    "takes",
    "took",
    "spike",
    "spikes",
    "dropped",
    "drops",
    "went up",
    "went down",
];

/// Steps to see a failure: a bug report's own vocabulary.
const REPRO: &[&str] = &["repro", "reproduced", "can reproduce", "steps to reproduce", "to reproduce", "reproducible"];

/// Contrast with what was expected ("shows USD even though they are paid in EUR").
const CONTRAST: &[&str] = &["even though", "instead of", "although", "when it should"];

/// Work done by hand, again and again: a request for it to be done by the product.
const TOIL: &[&str] = &["by hand", "manually", "copy and paste", "copy-paste"];
const AGAIN: &[&str] =
    &["every week", "every day", "every month", "every time", "each time", "each week", "weekly", "daily"];

/// Laughter: a joke, not a report.
const LAUGH: &[&str] = &["lol", "lmao", "haha", "hahaha", "rofl", "😂", "🤣"];

/// Verbs of capability that, negated, describe pain ("can't log in", "won't load").
const NEGATED_ABILITY: &[&str] = &[
    "can't",
    "cannot",
    "can not",
    "couldn't",
    "won't",
    "doesn't",
    "does not",
    "didn't",
    "no longer",
    "never",
    "not able",
    "unable",
];

/// Forms of need and wish: someone wants something that is not there.
const NEED: &[&str] = &[
    "we need",
    "we'd need",
    "i need",
    "they need",
    "needs to",
    "need to",
    "need a",
    "need an",
    "need some",
    "would be nice",
    "would be great",
    "would be good",
    "would help",
    "it'd be",
    "would love",
    "i wish",
    "we wish",
    "should be able",
    "want to be able",
    "wants to be able",
    "ability to",
    "option to",
    "a way to",
    "let users",
    "let us",
    "let me",
    "allow users",
    "allow us",
    "support for",
    "add support",
    "feature request",
    "asked for",
    "asked if",
    "asked whether",
    "keeps asking",
    "keep asking",
    "are asking",
    "is asking",
    "requested",
    "request from",
    "wants a",
    "want a",
    "wants to",
    "would like",
    "we should",
    "should we",
    "could we",
    "can we",
    "how about",
    "what if we",
    "i'd suggest",
    "suggestion",
    "idea:",
    "proposal",
];

/// Verbs that start an instruction ("add …", "make …").
const IMPERATIVE: &[&str] = &[
    "add",
    "make",
    "change",
    "update",
    "remove",
    "delete",
    "rename",
    "migrate",
    "create",
    "build",
    "implement",
    "export",
    "import",
    "support",
    "allow",
    "enable",
    "disable",
    "show",
    "hide",
    "move",
    "replace",
    "set",
    "fix",
    "rewrite",
    "refactor",
    "document",
    "automate",
    "send",
    "notify",
    "track",
    "log",
];

/// Words of the product's abilities in a question ("can it export …?").
const CAPABILITY: &[&str] = &[
    "is there a way",
    "any way to",
    "is it possible",
    "possible to",
    "can it",
    "can we",
    "could we",
    "can i",
    "does it support",
    "do we support",
    "how do i",
    "how can i",
];

/// Greetings: social when they open the message ("this morning" is not one).
const GREETINGS: &[&str] = &["good morning", "morning", "hi", "hello", "hey", "gm", "yo", "howdy"];

/// Social and process talk.
const SOCIAL: &[&str] = &[
    "hi all",
    "hey all",
    "happy friday",
    "happy monday",
    "have a good",
    "have a great",
    "enjoy",
    "lunch",
    "coffee",
    "cake",
    "birthday",
    "welcome",
    "congrats",
    "congratulations",
    "standup",
    "stand-up",
    "retro",
    "retrospective",
    "all-hands",
    "all hands",
    "1:1",
    "offsite",
    "ooo",
    "out of office",
    "on leave",
    "vacation",
    "holiday",
    "sick today",
    "back tomorrow",
    "back on monday",
    "reminder",
    "heads up",
    "heads-up",
    "calendar",
    "meeting",
    "call at",
    "demo day",
    "planning",
    "kicks off",
    "weekend",
    "see you",
    "thanks all",
    "thank you all",
    "well done",
    "great job",
    "nice work",
    "sprint review",
    "meeting notes",
];

/// Telling what was found or how it stands, without asking anything.
const TELLS: &[&str] = &[
    "fyi",
    "update:",
    "status:",
    "root cause",
    "turns out",
    "found that",
    "found the",
    "looked into",
    "looking into",
    "investigating",
    "i think",
    "seems like",
    "it seems",
    "looks like",
    "can't reproduce",
    "cannot reproduce",
    "workaround",
    "for context",
    "note that",
    "still",
    "logs show",
    "confirmed",
    "any update",
    "any news",
    "status of",
    "where are we",
    "how is",
    "how's",
    "eta",
];

fn words(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == ':' || c == '+'))
        .filter(|w| !w.is_empty())
        .collect()
}

fn has_phrase(lower: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| {
        let mut from = 0;
        while let Some(found) = lower[from..].find(p) {
            let at = from + found;
            let end = at + p.len();
            let before = at == 0 || !lower[..at].chars().next_back().is_some_and(char::is_alphanumeric);
            let after = end >= lower.len() || !lower[end..].chars().next().is_some_and(char::is_alphanumeric);
            if before && after {
                return true;
            }
            from = end.max(at + 1);
            if from >= lower.len() {
                break;
            }
        }
        false
    })
}

/// A stack trace or an error log (in a code block or not): what bug reports paste. A code
/// block without an error in it is just code.
pub fn looks_like_trace(text: &str) -> bool {
    const MARKERS: &[&str] = &["error", "exception", "panic", "traceback", "failed", "fatal", "segmentation fault"];
    text.lines().any(|l| {
        let t = l.trim_start();
        let lower = t.to_lowercase();
        (t.starts_with("at ") && t.contains('(') && t.contains(':'))
            || t.starts_with("File \"")
            || (lower.contains("error")
                && (t.contains(':') || t.contains('['))
                && MARKERS.iter().any(|m| lower.contains(m)))
            || MARKERS[1..].iter().any(|m| lower.contains(m)) && (t.contains(':') || t.contains('.'))
    })
}

/// The text without its conditional clauses ("shout if something is missing"): what is
/// said to be so, not what might be.
fn assertive(lower: &str) -> String {
    lower
        .split(['.', '!', '?', ';', '\n'])
        .map(|sentence| {
            let cut = [" if ", " in case ", " whether ", " unless "]
                .iter()
                .filter_map(|w| sentence.find(w))
                .chain(
                    ["if ", "in case ", "whether ", "unless "]
                        .iter()
                        .filter(|w| sentence.trim_start().starts_with(**w))
                        .map(|_| 0),
                )
                .min();
            match cut {
                Some(at) => &sentence[..at],
                None => sentence,
            }
        })
        .collect::<Vec<_>>()
        .join(". ")
}

/// Whether `text` says it brings new work ("another flaky one", "a new bug").
pub fn says_new_work(text: &str) -> bool {
    let lower = text.to_lowercase();
    says_new(&words(&lower))
}

/// "a new one", "another bug", "new ask": the message says it brings new work.
fn says_new(ws: &[&str]) -> bool {
    const NOUNS: &[&str] = &["one", "bug", "bugs", "issue", "issues", "ask", "request", "problem", "feature", "thing"];
    ws.iter()
        .enumerate()
        .any(|(i, w)| matches!(*w, "new" | "another") && ws[i + 1..].iter().take(2).any(|n| NOUNS.contains(n)))
}

/// A number with a unit ("3.2s", "40%", "500 ms", "2x"): measured pain or a target.
fn has_measure(lower: &str) -> bool {
    const UNITS: &[&str] = &[
        "ms", "s", "sec", "secs", "seconds", "min", "mins", "minutes", "h", "hours", "%", "x", "mb", "gb", "kb", "k",
        "times",
    ];
    let tokens: Vec<&str> = lower.split_whitespace().collect();
    tokens.iter().enumerate().any(|(i, t)| {
        let t = t.trim_matches(|c: char| matches!(c, ',' | '.' | ')' | '(' | '~'));
        let digits = t.chars().take_while(|c| c.is_ascii_digit() || *c == '.').count();
        if digits == 0 {
            return false;
        }
        let unit = &t[digits..];
        UNITS.contains(&unit)
            || (unit.is_empty()
                && tokens
                    .get(i + 1)
                    .is_some_and(|n| UNITS.contains(&n.trim_matches(|c: char| !c.is_alphanumeric() && c != '%'))))
    })
}

/// Whether the message asks something (a question mark, or a question's first word).
fn is_question(lower: &str) -> bool {
    const OPENERS: &[&str] = &[
        "can", "could", "is", "are", "does", "do", "did", "will", "would", "should", "why", "how", "what", "when",
        "where", "who", "which", "any", "anyone", "has", "have",
    ];
    lower.contains('?')
        || lower.split(['.', '!', '\n']).any(|s| s.split_whitespace().next().is_some_and(|w| OPENERS.contains(&w)))
}

/// "Can ops get a CSV …?", "could we have …": a question asking to be given something.
fn asks_to_have(lower: &str) -> bool {
    const VERBS: &[&str] = &[
        "get", "have", "see", "add", "export", "download", "receive", "set", "turn", "switch", "choose", "pick",
        "change", "edit", "use",
    ];
    lower.contains('?')
        && lower.split(['.', '!', '?', '\n', ';']).any(|sentence| {
            let ws: Vec<&str> =
                sentence.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric())).collect();
            matches!(ws.first(), Some(&"can") | Some(&"could")) && ws.iter().skip(2).take(2).any(|w| VERBS.contains(w))
        })
}

/// Whether a sentence starts with an instruction verb ("Add a filter to …").
fn is_imperative(lower: &str) -> bool {
    lower.split(['.', '!', '\n', ';', ':']).any(|sentence| {
        let mut ws = sentence.split_whitespace().map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()));
        let first = ws.next().unwrap_or("");
        let first = if first == "please" || first == "pls" { ws.next().unwrap_or("") } else { first };
        let second = ws.next();
        // "let admins …" asks for an ability; "let me know", "let's" do not.
        let lets = first == "let" && second.is_some_and(|w| !matches!(w, "me" | "us" | "s" | "it"));
        (IMPERATIVE.contains(&first) && second.is_some()) || lets
    })
}

/// The message's intent and how sure, with the signal that decided it.
pub fn read(text: &str, announced_status: bool) -> (Intent, f64, &'static str) {
    let lower = text.to_lowercase().replace('’', "'");
    let ws = words(&lower);
    if ws.is_empty() {
        return (Intent::Social, 0.9, "it has no words");
    }
    if announced_status {
        return (Intent::Status, 0.8, "it announces a change of state");
    }
    let asserted = assertive(&lower);
    let failure = words(&asserted).iter().any(|w| FAILURE.contains(w));
    let trace = looks_like_trace(text);
    let negated_ability = has_phrase(&lower, NEGATED_ABILITY);
    let need = has_phrase(&lower, NEED);
    let question = is_question(&lower);
    let capability = has_phrase(&lower, CAPABILITY);
    let imperative = is_imperative(&lower);
    let greets = ws.first().is_some_and(|w| GREETINGS.contains(&w.trim_end_matches(['!', ','])))
        || GREETINGS.iter().any(|g| g.contains(' ') && lower.starts_with(g));
    let social = greets || has_phrase(&lower, SOCIAL);
    let tells = has_phrase(&lower, TELLS);
    let measure = has_measure(&lower);
    // A bug: failure words, a pasted trace, or an ability denied — and not a report that
    // it was solved.
    let solved =
        has_phrase(&lower, &["fixed", "resolved", "solved", "works now", "working now", "no longer happening"]);
    let worse = measure && has_phrase(&lower, WORSE);
    let repro = has_phrase(&lower, REPRO);
    let contrast = has_phrase(&asserted, CONTRAST);
    let toil = has_phrase(&lower, TOIL) && (has_phrase(&lower, AGAIN) || measure);
    let laughs = ws.iter().any(|w| LAUGH.contains(w)) || LAUGH.iter().any(|l| !l.is_ascii() && lower.contains(l));
    if laughs && social && !trace {
        return (Intent::Social, 0.6, "it is a joke among colleagues");
    }
    if (trace
        || worse
        || repro
        || contrast
        || (failure && (negated_ability || measure || ws.len() >= 6))
        || (negated_ability && !social && ws.len() >= 5))
        && !solved
        && !tells
    {
        let confidence = if trace { 0.8 } else { 0.65 };
        return (
            Intent::Request(Kind::Bug),
            confidence,
            if trace { "it pastes an error or a trace" } else { "it describes something failing" },
        );
    }
    if toil {
        return (Intent::Request(Kind::Feature), 0.6, "it describes work done by hand, again and again");
    }
    if capability && question || asks_to_have(&lower) {
        return (Intent::Request(Kind::Question), 0.6, "it asks whether the product can do something");
    }
    if need {
        return (Intent::Request(Kind::Feature), 0.65, "it says something is needed or wished for");
    }
    if says_new(&ws) && !social {
        let kind = if failure || negated_ability { Kind::Bug } else { Kind::Feature };
        return (Intent::Request(kind), 0.6, "it says it brings something new");
    }
    if imperative && !social {
        return (Intent::Request(Kind::Task), 0.55, "it asks for something to be done");
    }
    if social && !failure {
        return (Intent::Social, 0.7, "it is social or process talk");
    }
    if tells || question || failure {
        return (Intent::Info, 0.55, "it tells or asks about work");
    }
    (Intent::Info, 0.4, "nothing in it asks for work")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(text: &str) -> Intent {
        read(text, false).0
    }

    #[test]
    fn failures_are_bug_reports_whatever_the_industry() {
        for text in [
            "The printer driver crashes every time a label has an accent in it.",
            "Patients can't see their lab results in the portal since this morning.",
            "Checkout fails with a 502 for orders over 20 items.",
            "```\nTraceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'sku'\n```",
            "Search takes 12 s on the warehouse screen, it used to be instant.",
            "java.lang.NullPointerException\n    at com.acme.Cart.total(Cart.java:42)",
        ] {
            assert_eq!(intent(text), Intent::Request(Kind::Bug), "{text}");
        }
    }

    #[test]
    fn needs_wishes_and_relayed_asks_are_feature_requests() {
        for text in [
            "Would be great if clinicians could export the chart as PDF.",
            "Our biggest customer keeps asking for SSO with Okta.",
            "We need a way to pause a subscription without cancelling it.",
            "Farmers want to be able to log harvests offline.",
        ] {
            assert_eq!(intent(text), Intent::Request(Kind::Feature), "{text}");
        }
    }

    #[test]
    fn questions_about_capability_and_instructions_are_requests() {
        assert_eq!(intent("Is there a way to bulk-edit prices in the catalog?"), Intent::Request(Kind::Question));
        assert_eq!(intent("Add a column for the courier's name on the dispatch board."), Intent::Request(Kind::Task));
        assert_eq!(intent("Please rename the 'Misc' category to 'Other'."), Intent::Request(Kind::Task));
    }

    #[test]
    fn chit_chat_and_process_talk_are_social() {
        for text in [
            "Good morning all! Coffee is on me today ☕",
            "Reminder: retro at 3pm",
            "Happy friday everyone 🎉",
            "OOO tomorrow, back on Monday",
        ] {
            assert_eq!(intent(text), Intent::Social, "{text}");
        }
    }

    #[test]
    fn findings_and_status_questions_are_information() {
        assert_eq!(intent("FYI the root cause is the cache TTL, not the query."), Intent::Info);
        assert_eq!(intent("Any update on the invoice numbering work?"), Intent::Info);
        assert_eq!(intent("Fixed the crash on the login screen, it works now."), Intent::Info);
        assert_eq!(read("merged the pricing fix", true).0, Intent::Status);
    }

    #[test]
    fn what_might_be_is_not_a_report() {
        assert_ne!(intent("Shout if anything you ordered is missing from the shelf list."), Intent::Request(Kind::Bug));
        assert_ne!(intent("In case the scanner is broken tomorrow, use the spare one."), Intent::Request(Kind::Bug));
    }

    #[test]
    fn saying_it_is_new_and_letting_someone_do_something_are_requests() {
        assert!(matches!(
            intent("Another one from the warehouse: pallets scanned twice count as two deliveries."),
            Intent::Request(_)
        ));
        assert!(says_new_work("a new bug on the tablet app"));
        assert!(!says_new_work("the new release went out fine"));
        assert_eq!(intent("Let drivers mark a stop as skipped."), Intent::Request(Kind::Task));
        assert_ne!(intent("Let me know when the menu is printed."), Intent::Request(Kind::Task));
    }

    #[test]
    fn repro_steps_contrasts_and_toil_are_requests() {
        assert_eq!(
            intent("Label printer cuts the barcode in half, repro on the Zebra in bay 3"),
            Intent::Request(Kind::Bug)
        );
        assert_eq!(
            intent("The invoice shows the old address even though the client updated it"),
            Intent::Request(Kind::Bug)
        );
        assert_eq!(
            intent("The front desk types every booking into the spreadsheet by hand, every day"),
            Intent::Request(Kind::Feature)
        );
        assert_eq!(intent("Could nurses get a printout of tomorrow's rota?"), Intent::Request(Kind::Question));
    }

    #[test]
    fn jokes_and_copulas_are_not_reports() {
        assert_eq!(intent("my coffee machine is broken lol, the meeting will be sleepy"), Intent::Social);
        assert_ne!(intent("please tidy your tasks so the board isn't out of date"), Intent::Request(Kind::Bug));
    }

    #[test]
    fn a_bare_code_block_is_not_a_bug_report() {
        assert_ne!(intent("```\nfn main() {}\n```"), Intent::Request(Kind::Bug));
        assert!(looks_like_trace("```\nERROR: relation \"users\" does not exist\n```"));
    }

    #[test]
    fn odd_input_is_read_without_panic() {
        for text in [
            "",
            "🙂🙂🙂",
            "Der Export funktioniert nicht",
            "Mae'r allforio wedi torri",
            &"word ".repeat(10_000),
            "\u{0}?",
        ] {
            let _ = read(text, false);
        }
    }
}
