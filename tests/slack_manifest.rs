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
