//! The command grammar, parsed once into [`Command`] whichever platform it came from.
//!
//! Slash commands (`/standup @ana`), mentions (`@pmbot create "title"`) and `/pm <command>`
//! all end here. Pure: no I/O, no store; names are resolved to people later.

use crate::board::{Status, TicketKey, Verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonRef {
    /// The person who sent the command.
    Me,
    /// A handle or name as typed (`@ana`, `Chloé`), lower-cased.
    Name(String),
    /// A platform user id from an escape such as `<@U123|ana>`.
    ChatId(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Standup {
        who: Option<PersonRef>,
    },
    Board {
        who: Option<PersonRef>,
        status: Option<Status>,
    },
    Show {
        key: TicketKey,
    },
    Create {
        title: String,
    },
    Move {
        key: TicketKey,
        to: Status,
        reason: Option<String>,
    },
    Assign {
        key: TicketKey,
        who: Option<PersonRef>,
    },
    Comment {
        key: TicketKey,
        text: String,
    },
    /// The AI queue: `/fix WEB-12`, `/fix <description>`, `/fix status|cancel|revert WEB-12`.
    Fix(FixCommand),
    /// What the bot decided about a ticket, and why.
    Why {
        key: TicketKey,
    },
    /// Answer approval request `approval` (`approve 12`, `reject 12 why`, `changes 12 what`).
    Decide {
        approval: i64,
        verdict: Verdict,
        comment: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FixCommand {
    /// `/fix` alone: what the AI queue is doing.
    Queue,
    Start(TicketKey),
    /// A new ticket from the words, then its run.
    Describe(String),
    Status(TicketKey),
    Cancel(TicketKey),
    Revert(TicketKey),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("say what you need: try `help`")]
    Empty,
    #[error("I don't know the command \"{word}\"")]
    Unknown { word: String, suggestion: Option<&'static str> },
    #[error("{problem}. Usage: `{usage}`")]
    Usage { problem: String, usage: &'static str },
}

/// The verbs people can use, with their usage line (shown by `help`).
pub const COMMANDS: &[(&str, &str)] = &[
    ("standup", "standup [@person]"),
    ("board", "board [@person] [status]"),
    ("show", "show WEB-12"),
    ("create", "create \"title\""),
    ("move", "move WEB-12 to in_progress [reason]"),
    ("assign", "assign WEB-12 to @person | me | nobody"),
    ("comment", "comment WEB-12 text"),
    ("fix", "fix WEB-12 | fix <what is wrong> | fix status|cancel|revert WEB-12"),
    ("why", "why WEB-12"),
    ("approve", "approve 12 [comment]"),
    ("reject", "reject 12 [comment]"),
    ("changes", "changes 12 what should change"),
    ("help", "help"),
];

fn usage(verb: &str) -> &'static str {
    COMMANDS.iter().find(|(v, _)| *v == verb).map_or("help", |(_, u)| u)
}

fn usage_error(verb: &str, problem: impl Into<String>) -> ParseError {
    ParseError::Usage { problem: problem.into(), usage: usage(verb) }
}

/// A slash command: `command` is `/standup`, `/board`, `/fix` or `/pm`; `text` is what followed.
pub fn parse_slash(command: &str, text: &str) -> Result<Command, ParseError> {
    let name = command.trim().trim_start_matches('/').to_lowercase();
    match name.as_str() {
        "pm" | "pmbot" => {
            parse_words(text).or_else(|err| if err == ParseError::Empty { Ok(Command::Help) } else { Err(err) })
        }
        "" => Err(ParseError::Empty),
        verb => parse_verb(verb, text),
    }
}

/// A message that mentions the bot; leading mentions (`<@U0BOT>`, `@pmbot`) are skipped.
pub fn parse_mention(text: &str, bot_name: &str) -> Result<Command, ParseError> {
    let mut rest = text.trim_start();
    loop {
        let (first, after) = split_first(rest);
        let is_escape = first.starts_with("<@") && first.ends_with('>');
        let is_name = first.trim_end_matches([',', ':']).eq_ignore_ascii_case(&format!("@{bot_name}"));
        if first.is_empty() || !(is_escape || is_name) {
            break;
        }
        rest = after;
    }
    parse_words(rest)
}

/// `verb arguments…` with no slash and no mention.
pub fn parse_words(text: &str) -> Result<Command, ParseError> {
    let (verb, rest) = split_first(text.trim());
    if verb.is_empty() {
        return Err(ParseError::Empty);
    }
    parse_verb(&verb.trim_start_matches('/').to_lowercase(), rest)
}

fn parse_verb(verb: &str, rest: &str) -> Result<Command, ParseError> {
    let args = tokens(rest);
    match verb {
        "help" | "?" | "commands" => Ok(Command::Help),
        "standup" | "stand-up" => parse_standup(&args),
        "board" | "tickets" | "list" => parse_board(&args),
        "show" | "ticket" | "view" => Ok(Command::Show { key: key_arg("show", args.first())? }),
        "create" | "new" | "add" => parse_create(rest),
        "move" | "mv" => parse_move(&args),
        "assign" => parse_assign(&args),
        "comment" | "note" => parse_comment(rest),
        "approve" | "approved" | "lgtm" => parse_decide("approve", Verdict::Approve, rest),
        "reject" | "decline" => parse_decide("reject", Verdict::Reject, rest),
        "changes" | "request-changes" => parse_decide("changes", Verdict::RequestChanges, rest),
        "why" | "explain" => Ok(Command::Why { key: key_arg("why", args.first())? }),
        "fix" => parse_fix(&args, rest),
        other => Err(ParseError::Unknown { word: other.chars().take(40).collect(), suggestion: closest_verb(other) }),
    }
}

fn parse_fix(args: &[String], rest: &str) -> Result<Command, ParseError> {
    let sub = args.first().map(|a| a.to_lowercase());
    let fix = match (sub.as_deref(), args.len()) {
        (None, _) => FixCommand::Queue,
        (Some("status"), 2) => FixCommand::Status(key_arg("fix", args.get(1))?),
        (Some("cancel" | "stop"), 2) => FixCommand::Cancel(key_arg("fix", args.get(1))?),
        (Some("revert"), 2) => FixCommand::Revert(key_arg("fix", args.get(1))?),
        (Some(_), 1) if args[0].parse::<TicketKey>().is_ok() => FixCommand::Start(key_arg("fix", args.first())?),
        _ => {
            let words = unquote(rest.trim()).trim().to_string();
            if words.chars().count() < 8 {
                return Err(usage_error("fix", "describe what is wrong in a few words"));
            }
            FixCommand::Describe(words)
        }
    };
    Ok(Command::Fix(fix))
}

fn parse_standup(args: &[String]) -> Result<Command, ParseError> {
    match args {
        [] => Ok(Command::Standup { who: None }),
        [one] if one == "team" || one == "all" => Ok(Command::Standup { who: None }),
        [one] => Ok(Command::Standup { who: Some(person_arg("standup", one)?) }),
        _ => Err(usage_error("standup", "standup takes at most one person")),
    }
}

fn parse_board(args: &[String]) -> Result<Command, ParseError> {
    let (mut who, mut status) = (None, None);
    for arg in args {
        if let Ok(parsed) = arg.parse::<Status>() {
            status = Some(parsed);
        } else if who.is_none() && looks_like_person(arg) {
            who = Some(person_arg("board", arg)?);
        } else {
            return Err(usage_error("board", format!("\"{arg}\" is neither a person nor a status")));
        }
    }
    Ok(Command::Board { who, status })
}

fn parse_create(rest: &str) -> Result<Command, ParseError> {
    let title = unquote(rest.trim());
    if title.trim().is_empty() {
        return Err(usage_error("create", "a ticket needs a title"));
    }
    Ok(Command::Create { title: title.to_string() })
}

fn parse_move(args: &[String]) -> Result<Command, ParseError> {
    let key = key_arg("move", args.first())?;
    let mut rest = &args[1..];
    if rest.first().is_some_and(|w| w == "to") {
        rest = &rest[1..];
    }
    // Statuses may be two words ("in progress").
    for width in [2, 1] {
        if rest.len() >= width {
            if let Ok(to) = rest[..width].join(" ").parse::<Status>() {
                let reason = reason_from(&rest[width..]);
                return Ok(Command::Move { key, to, reason });
            }
        }
    }
    match rest.first() {
        None => Err(usage_error("move", format!("where should {key} go"))),
        Some(word) => Err(usage_error("move", word.parse::<Status>().unwrap_err().to_string())),
    }
}

fn reason_from(words: &[String]) -> Option<String> {
    let joined = words.join(" ");
    let trimmed = joined.trim_start_matches(['-', '—', ':', ',', ' ']);
    let trimmed = trimmed.strip_prefix("because ").unwrap_or(trimmed).trim();
    (!trimmed.is_empty()).then(|| unquote(trimmed).to_string())
}

fn parse_assign(args: &[String]) -> Result<Command, ParseError> {
    let key = key_arg("assign", args.first())?;
    let rest: Vec<&String> = args[1..].iter().filter(|w| *w != "to").collect();
    match rest.as_slice() {
        [one] if matches!(one.as_str(), "nobody" | "none" | "noone") => Ok(Command::Assign { key, who: None }),
        [one] => Ok(Command::Assign { key, who: Some(person_arg("assign", one)?) }),
        [] => Err(usage_error("assign", format!("who should take {key}"))),
        _ => Err(usage_error("assign", "assign takes one person")),
    }
}

fn parse_comment(rest: &str) -> Result<Command, ParseError> {
    let (first, text) = split_first(rest.trim());
    let key = key_arg("comment", (!first.is_empty()).then(|| first.to_string()).as_ref())?;
    let text = unquote(text.trim());
    if text.is_empty() {
        return Err(usage_error("comment", format!("what should the comment on {key} say")));
    }
    Ok(Command::Comment { key, text: text.to_string() })
}

fn parse_decide(verb: &str, verdict: Verdict, rest: &str) -> Result<Command, ParseError> {
    let (first, comment) = split_first(rest.trim());
    let approval = first
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| usage_error(verb, "which request? Name it by its number"))?;
    let comment = unquote(comment.trim());
    if verdict == Verdict::RequestChanges && comment.is_empty() {
        return Err(usage_error(verb, "say what should change"));
    }
    let comment = (!comment.is_empty()).then(|| comment.to_string());
    Ok(Command::Decide { approval, verdict, comment })
}

fn key_arg(verb: &str, arg: Option<&String>) -> Result<TicketKey, ParseError> {
    let arg = arg.ok_or_else(|| usage_error(verb, "which ticket? Name it by key"))?;
    let bare = arg.trim_start_matches('#').trim_end_matches(['.', ',', '?', '!', ':']);
    bare.parse::<TicketKey>().map_err(|err| usage_error(verb, err.to_string()))
}

fn looks_like_person(arg: &str) -> bool {
    arg.starts_with('@') || arg.starts_with("<@") || matches!(arg, "me" | "mine")
}

fn person_arg(verb: &str, arg: &str) -> Result<PersonRef, ParseError> {
    if matches!(arg, "me" | "mine" | "myself") {
        return Ok(PersonRef::Me);
    }
    if let Some(inner) = arg.strip_prefix("<@").and_then(|a| a.strip_suffix('>')) {
        let id = inner.split('|').next().unwrap_or_default().trim();
        if id.is_empty() {
            return Err(usage_error(verb, format!("\"{arg}\" is not a person")));
        }
        return Ok(PersonRef::ChatId(id.to_string()));
    }
    if arg.starts_with("<#") {
        return Err(usage_error(verb, format!("{verb} takes a person, not a channel")));
    }
    let name = arg.trim_start_matches('@').trim_end_matches([',', '.', '?', '!']).to_lowercase();
    if name.is_empty() || name.chars().any(|c| c.is_control() || "<>#".contains(c)) {
        return Err(usage_error(verb, format!("\"{arg}\" is not a person")));
    }
    Ok(PersonRef::Name(name))
}

/// Splits off the first whitespace-separated word.
fn split_first(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim_start()),
        None => (text, ""),
    }
}

/// Whitespace-separated words, keeping "quoted text", “curly quotes” and `<…>` escapes whole.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut closer: Option<char> = None;
    for c in text.chars() {
        match closer {
            Some(end) if c == end => {
                current.push(c);
                closer = None;
            }
            Some(_) => current.push(c),
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(unquote(&std::mem::take(&mut current)).to_string());
                }
            }
            None => {
                closer = match c {
                    '"' => Some('"'),
                    '“' => Some('”'),
                    '<' => Some('>'),
                    _ => None,
                };
                current.push(c);
            }
        }
    }
    if !current.is_empty() {
        out.push(unquote(&current).to_string());
    }
    out
}

fn unquote(text: &str) -> &str {
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\''), ('‘', '’')] {
        if let Some(inner) = text.strip_prefix(open).and_then(|t| t.strip_suffix(close)) {
            return inner.trim();
        }
    }
    text
}

fn closest_verb(word: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|(verb, _)| (*verb, edit_distance(word, verb)))
        .filter(|(_, distance)| *distance <= 2)
        .min_by_key(|(_, distance)| *distance)
        .map(|(verb, _)| verb)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
