//! The Slack app manifests declare exactly what the code handles: every slash command and
//! event in them is handled, every one handled is declared, each event has its scope, and
//! the request URLs are pmbot's routes.

use pmbot::chat::command::parse_slash;
use pmbot::chat::slack::{inbound, EVENTS, PATHS, SLASH_COMMANDS};
use serde_json::json;
use serde_norway::Value;
use std::collections::BTreeSet;

fn manifest(name: &str) -> Value {
    let path = format!("{}/manifest/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value.as_sequence().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

fn commands(m: &Value) -> BTreeSet<String> {
    m["features"]["slash_commands"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn both_manifests_declare_exactly_the_commands_and_events_handled() {
    for name in ["slack-app.yaml", "slack-app.socket.yaml"] {
        let m = manifest(name);
        let declared: BTreeSet<String> = SLASH_COMMANDS.iter().map(|s| s.to_string()).collect();
        assert_eq!(commands(&m), declared, "{name}: slash commands");
        let events: BTreeSet<String> = EVENTS.iter().map(|s| s.to_string()).collect();
        assert_eq!(strings(&m["settings"]["event_subscriptions"]["bot_events"]), events, "{name}: events");
        assert_eq!(
            m["settings"]["interactivity"]["is_enabled"].as_bool(),
            Some(true),
            "{name}: buttons need interactivity"
        );
    }
}

#[test]
fn every_declared_command_parses_to_a_command() {
    for command in SLASH_COMMANDS {
        assert!(parse_slash(command, "").is_ok(), "{command}");
    }
}

#[test]
fn every_declared_event_is_turned_into_an_inbound_event() {
    for event in EVENTS {
        let kind = if event.starts_with("message.") { "message" } else { event };
        let payload = json!({"type": kind, "user": "U1", "channel": "C1", "text": "hi", "ts": "1.0", "event_ts": "1.0", "tab": "home"});
        assert!(inbound::event(&payload).is_some(), "{event}");
    }
}

#[test]
fn each_event_has_the_scope_slack_requires() {
    let needs = [
        ("app_mention", "app_mentions:read"),
        ("message.channels", "channels:history"),
        ("message.groups", "groups:history"),
        ("message.im", "im:history"),
        ("member_joined_channel", "channels:read"),
    ];
    for name in ["slack-app.yaml", "slack-app.socket.yaml"] {
        let m = manifest(name);
        let scopes = strings(&m["oauth_config"]["scopes"]["bot"]);
        for (event, scope) in needs {
            assert!(scopes.contains(scope), "{name}: {event} needs {scope}");
        }
        for scope in ["commands", "chat:write", "im:write"] {
            assert!(scopes.contains(scope), "{name}: {scope}");
        }
    }
}

#[test]
fn http_mode_points_at_pmbots_routes_and_socket_mode_at_none() {
    let http = manifest("slack-app.yaml");
    let mut urls = BTreeSet::new();
    urls.insert(http["settings"]["event_subscriptions"]["request_url"].as_str().unwrap().to_string());
    urls.insert(http["settings"]["interactivity"]["request_url"].as_str().unwrap().to_string());
    for command in http["features"]["slash_commands"].as_sequence().unwrap() {
        urls.insert(command["url"].as_str().unwrap().to_string());
    }
    let paths: BTreeSet<String> = urls.iter().map(|u| format!("/{}", u.splitn(4, '/').nth(3).unwrap())).collect();
    assert_eq!(paths, PATHS.iter().map(|p| p.to_string()).collect());
    assert_eq!(http["settings"]["socket_mode_enabled"].as_bool(), Some(false));

    let socket = manifest("slack-app.socket.yaml");
    assert_eq!(socket["settings"]["socket_mode_enabled"].as_bool(), Some(true));
    let text = serde_norway::to_string(&socket).unwrap();
    assert!(!text.contains("url:"), "Socket Mode manifests carry no request URLs");
}

/// The Web API methods pmbot calls (slack-morphism's function → Slack's method) and the bot
/// scope each needs, from Slack's method reference; `None` where a method needs none.
const METHOD_SCOPES: &[(&str, &str, Option<&str>)] = &[
    ("chat_post_message", "chat.postMessage", Some("chat:write")),
    ("chat_update", "chat.update", Some("chat:write")),
    ("chat_post_ephemeral", "chat.postEphemeral", Some("chat:write")),
    ("chat_get_permalink", "chat.getPermalink", None),
    ("conversations_open", "conversations.open", Some("im:write")),
    ("get_upload_url_external", "files.getUploadURLExternal", Some("files:write")),
    ("files_complete_upload_external", "files.completeUploadExternal", Some("files:write")),
    ("views_publish", "views.publish", None),
    ("views_open", "views.open", None),
];

/// Every `session.<function>(` call in the Slack adapter.
fn methods_called() -> BTreeSet<String> {
    let dir = format!("{}/src/chat/slack", env!("CARGO_MANIFEST_DIR"));
    let mut called = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in text.match_indices("session.") {
            let rest = &text[at + "session.".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if rest[name.len()..].starts_with('(') {
                called.insert(name);
            }
        }
    }
    called
}

#[test]
fn the_manifests_grant_the_scope_of_every_web_api_method_called() {
    let called = methods_called();
    assert!(called.contains("chat_post_message"), "the adapter's calls were found: {called:?}");
    for name in ["slack-app.yaml", "slack-app.socket.yaml"] {
        let scopes = strings(&manifest(name)["oauth_config"]["scopes"]["bot"]);
        for function in &called {
            let known = METHOD_SCOPES.iter().find(|(f, ..)| f == function);
            let (_, method, scope) =
                known.unwrap_or_else(|| panic!("{function} is called: add its scope to METHOD_SCOPES"));
            if let Some(scope) = scope {
                assert!(scopes.contains(*scope), "{name}: {method} needs {scope}");
            }
        }
    }
}
