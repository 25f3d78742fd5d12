//! A platform-neutral `Message` as Block Kit, within Slack's limits: at most 50 blocks,
//! 3,000 characters per text, 10 fields per section, 25 buttons per actions block, 75 per
//! button label, 255 per `action_id`, 2,000 per `value`. What does not fit is cut with an
//! ellipsis or a "…and N more" line. Text is mrkdwn with `&`, `<`, `>` escaped.

use crate::chat::message::cut;
use crate::chat::{Block, ButtonStyle, Message};
use serde_json::{json, Value};

const MAX_BLOCKS: usize = 50;
const MAX_TEXT: usize = 3000;
const MAX_HEADER: usize = 150;
const MAX_FIELD: usize = 2000;
const MAX_FIELDS: usize = 10;
const MAX_BUTTONS: usize = 25;
const MAX_LABEL: usize = 75;
const MAX_ACTION_ID: usize = 255;
const MAX_VALUE: usize = 2000;
/// The notification text shown where blocks are not (push notifications, search).
const MAX_FALLBACK: usize = 3000;

/// `(blocks, fallback text)`.
pub fn blocks(message: &Message) -> (Vec<Value>, String) {
    let mut out: Vec<Value> = Vec::new();
    let mut button_index = 0;
    for block in &message.blocks {
        match block {
            Block::Header { text } => out.push(json!({ "type": "header", "text": plain(text, MAX_HEADER) })),
            Block::Section { text } => out.extend(sections(text)),
            Block::List { items } => {
                let lines: Vec<String> = items.iter().map(|item| format!("• {item}")).collect();
                out.extend(sections(&lines.join("\n")));
            }
            Block::Fields { fields } => {
                for chunk in fields.chunks(MAX_FIELDS) {
                    let fields: Vec<Value> =
                        chunk.iter().map(|f| mrkdwn(&format!("*{}*\n{}", f.label, f.value), MAX_FIELD)).collect();
                    out.push(json!({ "type": "section", "fields": fields }));
                }
            }
            Block::Context { text } => out.push(json!({ "type": "context", "elements": [mrkdwn(text, MAX_TEXT)] })),
            Block::Divider => out.push(json!({ "type": "divider" })),
            Block::Actions { buttons } => {
                for chunk in buttons.chunks(MAX_BUTTONS) {
                    let elements: Vec<Value> = chunk
                        .iter()
                        .map(|b| {
                            // action_ids must be unique in a message; the suffix is stripped on the way back.
                            let action_id = cut(&format!("{}#{button_index}", b.action_id), MAX_ACTION_ID);
                            button_index += 1;
                            let mut button = json!({
                                "type": "button",
                                "text": plain(&b.label, MAX_LABEL),
                                "action_id": action_id,
                                "value": cut(&b.value, MAX_VALUE),
                            });
                            match b.style {
                                ButtonStyle::Primary => button["style"] = json!("primary"),
                                ButtonStyle::Danger => button["style"] = json!("danger"),
                                ButtonStyle::Default => {}
                            }
                            button
                        })
                        .collect();
                    out.push(json!({ "type": "actions", "elements": elements }));
                }
            }
        }
    }
    if out.len() > MAX_BLOCKS {
        let left_out = out.len() - (MAX_BLOCKS - 1);
        out.truncate(MAX_BLOCKS - 1);
        out.push(json!({ "type": "context", "elements": [mrkdwn(&format!("…and {left_out} more"), MAX_TEXT)] }));
    }
    (out, cut(&escape(&message.fallback_text()), MAX_FALLBACK))
}

/// The action id a button was rendered from (`ticket.move#3` → `ticket.move`).
pub fn original_action_id(rendered: &str) -> &str {
    rendered.rsplit_once('#').filter(|(_, n)| n.chars().all(|c| c.is_ascii_digit())).map_or(rendered, |(id, _)| id)
}

/// Long text becomes several sections, split at line ends where possible.
fn sections(text: &str) -> Vec<Value> {
    let escaped = escape(text);
    let mut out = Vec::new();
    let mut current = String::new();
    for line in escaped.lines() {
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > MAX_TEXT {
            out.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": current } }));
            current = String::new();
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&cut(line, MAX_TEXT));
    }
    if !current.is_empty() {
        out.push(json!({ "type": "section", "text": { "type": "mrkdwn", "text": current } }));
    }
    out
}

fn mrkdwn(text: &str, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": cut(&escape(text), max) })
}

fn plain(text: &str, max: usize) -> Value {
    json!({ "type": "plain_text", "text": cut(text, max), "emoji": true })
}

/// Slack's mrkdwn needs only these three escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Button, Field};

    fn button(label: &str) -> Button {
        Button {
            label: label.into(),
            action_id: "ticket.move".into(),
            value: "WEB-1:done".into(),
            style: ButtonStyle::Primary,
        }
    }

    #[test]
    fn user_text_is_escaped_for_mrkdwn_but_not_in_plain_text() {
        let message = Message {
            blocks: vec![
                Block::Header { text: "<b> & co".into() },
                Block::Section { text: "*WEB-1* <script> & more".into() },
            ],
        };
        let (blocks, _) = blocks(&message);
        assert_eq!(blocks[0]["text"]["text"], "<b> & co");
        assert_eq!(blocks[1]["text"]["text"], "*WEB-1* &lt;script&gt; &amp; more");
    }

    #[test]
    fn buttons_get_unique_action_ids_that_map_back() {
        let message = Message { blocks: vec![Block::Actions { buttons: vec![button("Start"), button("Done")] }] };
        let (blocks, _) = blocks(&message);
        let ids: Vec<&str> =
            blocks[0]["elements"].as_array().unwrap().iter().map(|b| b["action_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["ticket.move#0", "ticket.move#1"]);
        assert_eq!(original_action_id(ids[1]), "ticket.move");
        assert_eq!(original_action_id("approval.decide"), "approval.decide");
    }

    #[test]
    fn limits_are_respected_and_cuts_are_visible() {
        let long = "x".repeat(5000);
        let items: Vec<String> = (0..400).map(|i| format!("item {i} {}", "y".repeat(60))).collect();
        let fields: Vec<Field> = (0..23).map(|i| Field { label: format!("L{i}"), value: "v".repeat(3000) }).collect();
        let buttons: Vec<Button> = (0..30).map(|i| button(&format!("{i} {}", "z".repeat(100)))).collect();
        let mut message = Message {
            blocks: vec![
                Block::Header { text: long.clone() },
                Block::Section { text: long },
                Block::List { items },
                Block::Fields { fields },
                Block::Actions { buttons },
            ],
        };
        message.blocks.extend((0..60).map(|i| Block::Context { text: format!("note {i}") }));
        let (blocks, fallback) = blocks(&message);
        assert!(blocks.len() <= 50);
        assert_eq!(blocks.last().unwrap()["elements"][0]["text"].as_str().unwrap().split(' ').next(), Some("…and"));
        assert!(fallback.chars().count() <= 3000);
        for block in &blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= 3000);
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                assert!(field["text"].as_str().unwrap().chars().count() <= 2000);
            }
            assert!(block["fields"].as_array().map_or(0, Vec::len) <= 10);
            for element in block["elements"].as_array().into_iter().flatten() {
                if element["type"] == "button" {
                    assert!(element["text"]["text"].as_str().unwrap().chars().count() <= 75);
                }
            }
            assert!(block["elements"].as_array().map_or(0, Vec::len) <= 25);
        }
        assert_eq!(blocks[0]["text"]["text"].as_str().unwrap().chars().count(), 150);
    }
}
