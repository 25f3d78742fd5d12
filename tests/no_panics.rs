//! Every pure step that reads what people type, fed arbitrary Unicode: none may panic.
//! (The stuck agent's reading of comments has its own property test beside it.)

use pmbot::chat::command::{parse_mention, parse_slash};
use pmbot::workflows::agents::import;
use pmbot::workflows::conversation::draft::{draft, title, Said};
use pmbot::workflows::conversation::model::{parse as parse_answer, prompt, Question};
use pmbot::workflows::matching::{MatchMessage, MatchTicket, Matcher};
use proptest::prelude::*;

/// Text with the characters that have broken parsers before: case changes that change
/// length, combining marks, right-to-left, emoji, Slack escapes, keys and quotes.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "İ",
        "ß",
        "ẞ",
        "ﬁ",
        "e\u{301}",
        "שלום",
        "🙂",
        "👩‍💻",
        "<@U123|ana>",
        "<#C1|web>",
        "WEB-5",
        "web-12",
        "\"",
        "“",
        "—",
        "\n",
        "\t",
        " ",
        "move",
        "to",
        "done",
        "create",
        "waiting on",
        "```",
        "$",
        "0",
    ]);
    prop::collection::vec(prop_oneof![pieces.prop_map(str::to_string), "\\PC{0,6}"], 0..24).prop_map(|v| v.concat())
}

fn tickets() -> Vec<MatchTicket> {
    ["WEB-5 Login times out on slow networks", "APP-4 Offline mode: queue orders", "WEB-6 VAT breakdown İstanbul"]
        .iter()
        .map(|line| {
            let (key, title) = line.split_once(' ').unwrap();
            MatchTicket {
                key: key.into(),
                title: title.into(),
                description: String::new(),
                status: "in_progress".into(),
                assignee: None,
                epic: None,
                labels: vec![],
                comments: vec![],
                updated_at: None,
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn commands_parse_without_a_panic(command in text(), said in text()) {
        let _ = parse_slash(&command, &said);
        let _ = parse_slash("/pm", &said);
        let _ = parse_mention(&said, "pmbot");
        let _ = parse_mention(&format!("@pmbot {said}"), "pmbot");
    }

    #[test]
    fn the_matcher_reads_any_message(said in text(), thread in proptest::option::of(text())) {
        let mut matcher = Matcher::new(tickets());
        if let Some(root) = &thread {
            matcher.remember("1.0", root, Some("WEB-5".into()));
        }
        let message = MatchMessage {
            id: "2.0".into(), channel: "#web".into(), user: "U1".into(), ts: "2.0".into(),
            text: said.clone(), thread: thread.map(|_| "1.0".to_string()),
        };
        let decided = matcher.decide(&message);
        prop_assert!((0.0..=1.0).contains(&decided.confidence));
        let _ = matcher.candidates(&message, 5);
    }

    #[test]
    fn drafts_and_titles_are_cut_on_character_boundaries(said in text(), other in text()) {
        let _ = title(&said);
        let request = Said { who: "Ana".into(), text: said };
        let drafted = draft(&request, &[Said { who: "Ben".into(), text: other }], "#web", Some("https://x"));
        prop_assert!(drafted.title.chars().count() <= 80, "{}", drafted.title);
    }

    #[test]
    fn a_models_answer_is_parsed_or_refused_without_a_panic(answer in text()) {
        let _ = parse_answer(&answer, &tickets());
        let wrapped = format!("{{\"decision\": \"move\", \"ticket\": \"WEB-5\", \"status\": \"{}\", \"confidence\": 0.5, \"rationale\": \"{}\"}}",
            answer.replace(['"', '\\'], ""), answer.replace(['"', '\\'], ""));
        let _ = parse_answer(&wrapped, &tickets());
        let question = Question { message: answer, thread: vec![], candidates: tickets(), matcher: serde_json::Value::Null };
        let _ = prompt(&question);
    }

    #[test]
    fn csv_imports_report_bad_rows_without_a_panic(cell in text()) {
        let csv = format!("person,date,hours,project,epic,ticket,description\nana,2026-11-02,{cell},WEB,,,{cell}\n{cell}\n");
        let _ = import::worklogs(&csv, &["ana"], &["WEB"]);
        let _ = import::forecasts(&format!("project,epic,hours\nWEB,{cell},{cell}\n"), &["WEB"]);
    }
}

/// Secrets never reach a log line through `{:?}`.
#[test]
fn debug_output_never_prints_a_key_or_token() {
    use pmbot::chat::{Message, Outbound};
    use pmbot::jobs::{DiscordInboundJob, DiscordSendJob, SlackInboundJob, SlackSendJob, SlackSource};
    let outbound = Outbound::Dm { user: "U1".into(), message: Message::text("hi") };
    let printed = [
        format!(
            "{:?}",
            SlackInboundJob {
                source: SlackSource::Command,
                delivery: "d".into(),
                body: serde_json::json!({ "response_url": "https://hooks.slack.com/SECRET1" })
            }
        ),
        format!(
            "{:?}",
            SlackSendJob {
                delivery: "d".into(),
                outbound: outbound.clone(),
                response_url: Some("https://hooks.slack.com/SECRET2".into()),
                requester: "U1".into()
            }
        ),
        format!("{:?}", DiscordInboundJob { interaction: "i".into(), body: "{\"token\":\"SECRET3\"}".into() }),
        format!(
            "{:?}",
            DiscordSendJob {
                delivery: "d".into(),
                outbound,
                token: Some("SECRET4".into()),
                from_command: true,
                channel: "c".into()
            }
        ),
        format!(
            "{:?}",
            pmbot::llm::LlmSettings {
                provider: pmbot::llm::Provider::Anthropic,
                url: "u".into(),
                model: "m".into(),
                api_key: Some("SECRET5".into()),
                daily_token_budget: 1,
                timeout: std::time::Duration::from_secs(1),
            }
        ),
        pmbot::store::redact("postgres://u:SECRET6@h/d?password=SECRET7"),
    ];
    for text in printed {
        assert!(!text.contains("SECRET"), "{text}");
    }
}
