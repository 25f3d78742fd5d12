//! Table tests for the command grammar.

use super::*;

fn key(k: &str) -> TicketKey {
    k.parse().unwrap()
}

fn name(n: &str) -> PersonRef {
    PersonRef::Name(n.into())
}

#[test]
fn slash_commands_parse() {
    let cases: Vec<(&str, &str, Command)> = vec![
        ("/standup", "", Command::Standup { who: None }),
        ("/standup", "   ", Command::Standup { who: None }),
        ("/standup", "@ana", Command::Standup { who: Some(name("ana")) }),
        ("/standup", "<@U123|ana>", Command::Standup { who: Some(PersonRef::ChatId("U123".into())) }),
        ("/standup", "<@U123>", Command::Standup { who: Some(PersonRef::ChatId("U123".into())) }),
        ("/standup", "me", Command::Standup { who: Some(PersonRef::Me) }),
        ("/STANDUP", "team", Command::Standup { who: None }),
        ("/board", "", Command::Board { who: None, status: None }),
        ("/board", "blocked", Command::Board { who: None, status: Some(Status::Blocked) }),
        (
            "/board",
            "@Chloé  in_progress",
            Command::Board { who: Some(name("chloé")), status: Some(Status::InProgress) },
        ),
        ("/board", "mine", Command::Board { who: Some(PersonRef::Me), status: None }),
        ("/fix", "WEB-12", Command::Fix(FixCommand::Start(key("WEB-12")))),
        ("/fix", "", Command::Fix(FixCommand::Queue)),
        ("/fix", "status web-12", Command::Fix(FixCommand::Status(key("WEB-12")))),
        ("/fix", "cancel WEB-12", Command::Fix(FixCommand::Cancel(key("WEB-12")))),
        (
            "/fix",
            "the login page shows a blank screen",
            Command::Fix(FixCommand::Describe("the login page shows a blank screen".into())),
        ),
        ("/pm", "", Command::Help),
        ("/pm", "show web-7", Command::Show { key: key("WEB-7") }),
        ("/pm", "why PM-12", Command::Why { key: key("PM-12") }),
        ("/pm", "explain pm-12?", Command::Why { key: key("PM-12") }),
        (
            "/pm",
            "  move   WEB-7   to   in   progress  ",
            Command::Move { key: key("WEB-7"), to: Status::InProgress, reason: None },
        ),
    ];
    for (command, text, want) in cases {
        assert_eq!(parse_slash(command, text), Ok(want), "{command} {text:?}");
    }
}

#[test]
fn mentions_parse_after_the_bot_name() {
    let cases: Vec<(&str, Command)> = vec![
        ("@pmbot help", Command::Help),
        ("<@U0BOT> help", Command::Help),
        ("@PMBot, standup", Command::Standup { who: None }),
        ("@pmbot create \"CSV export for invoices\"", Command::Create { title: "CSV export for invoices".into() }),
        ("@pmbot create “Curly quoted title”", Command::Create { title: "Curly quoted title".into() }),
        ("@pmbot new Unquoted title with spaces", Command::Create { title: "Unquoted title with spaces".into() }),
        ("@pmbot create \"Fix 🚀 launch — ünïcode\"", Command::Create { title: "Fix 🚀 launch — ünïcode".into() }),
        (
            "@pmbot move WEB-3 to blocked — waiting on the API key",
            Command::Move { key: key("WEB-3"), to: Status::Blocked, reason: Some("waiting on the API key".into()) },
        ),
        ("@pmbot move #WEB-3 done", Command::Move { key: key("WEB-3"), to: Status::Done, reason: None }),
        (
            "@pmbot assign WEB-3 to <@U777|ben>",
            Command::Assign { key: key("WEB-3"), who: Some(PersonRef::ChatId("U777".into())) },
        ),
        ("@pmbot assign WEB-3 me", Command::Assign { key: key("WEB-3"), who: Some(PersonRef::Me) }),
        ("@pmbot assign WEB-3 to nobody", Command::Assign { key: key("WEB-3"), who: None }),
        ("@pmbot assign WEB-3 to dev", Command::Assign { key: key("WEB-3"), who: Some(name("dev")) }),
        (
            "@pmbot comment WEB-3 shipped to staging\nlooks good",
            Command::Comment { key: key("WEB-3"), text: "shipped to staging\nlooks good".into() },
        ),
        ("@pmbot\tshow\u{a0}APP-2?", Command::Show { key: key("APP-2") }),
    ];
    for (text, want) in cases {
        assert_eq!(parse_mention(text, "pmbot"), Ok(want), "{text:?}");
    }
}

#[test]
fn junk_gets_a_helpful_error() {
    let cases: Vec<(&str, &str)> = vec![
        ("@pmbot", "say what you need: try `help`"),
        ("@pmbot standpu", "I don't know the command \"standpu\""),
        ("@pmbot 🤖🤖🤖", "I don't know the command \"🤖🤖🤖\""),
        ("@pmbot show", "which ticket? Name it by key. Usage: `show WEB-12`"),
        ("@pmbot show login-bug", "\"login-bug\" is not a ticket key; keys look like WEB-12. Usage: `show WEB-12`"),
        ("@pmbot move WEB-1", "where should WEB-1 go. Usage: `move WEB-12 to in_progress [reason]`"),
        ("@pmbot create", "a ticket needs a title. Usage: `create \"title\"`"),
        ("@pmbot create \"\"", "a ticket needs a title. Usage: `create \"title\"`"),
        ("@pmbot comment WEB-1", "what should the comment on WEB-1 say. Usage: `comment WEB-12 text`"),
        ("@pmbot standup @ana @ben", "standup takes at most one person. Usage: `standup [@person]`"),
        ("@pmbot standup <#C1|general>", "standup takes a person, not a channel. Usage: `standup [@person]`"),
        ("@pmbot board nonsense", "\"nonsense\" is neither a person nor a status. Usage: `board [@person] [status]`"),
    ];
    for (text, want) in cases {
        let err = parse_mention(text, "pmbot").unwrap_err();
        assert_eq!(err.to_string(), want, "{text:?}");
    }
}

#[test]
fn a_bad_status_lists_the_good_ones() {
    let err = parse_words("move WEB-1 to shipped").unwrap_err();
    assert!(err.to_string().starts_with("\"shipped\" is not a status; use one of: backlog, todo"), "{err}");
}

#[test]
fn typos_suggest_the_nearest_command() {
    assert_eq!(
        parse_words("standpu"),
        Err(ParseError::Unknown { word: "standpu".into(), suggestion: Some("standup") })
    );
    assert_eq!(parse_words("xyzzy"), Err(ParseError::Unknown { word: "xyzzy".into(), suggestion: None }));
}

#[test]
fn overlong_unknown_words_are_cut() {
    let long = "a".repeat(500);
    match parse_words(&long) {
        Err(ParseError::Unknown { word, .. }) => assert_eq!(word.chars().count(), 40),
        other => panic!("{other:?}"),
    }
}
