//! A platform-neutral `Message` as a Discord message: one embed (title, description, fields,
//! footer) and rows of buttons, within Discord's limits (content 2,000; embed description
//! 4,096, 25 fields of 256/1,024, footer 2,048, 6,000 in all; 5 rows of 5 buttons, labels 80,
//! `custom_id` 100).

use crate::chat::message::cut;
use crate::chat::{Block, ButtonStyle, Message};
use serde_json::{json, Value};

const MAX_DESCRIPTION: usize = 4096;
const MAX_TITLE: usize = 256;
const MAX_FIELDS: usize = 25;
const MAX_FIELD_NAME: usize = 256;
const MAX_FIELD_VALUE: usize = 1024;
const MAX_FOOTER: usize = 2048;
const MAX_ROWS: usize = 5;
const MAX_PER_ROW: usize = 5;
const MAX_LABEL: usize = 80;
const MAX_CUSTOM_ID: usize = 100;
const MAX_EMBED_TOTAL: usize = 6000;

/// The message body for Discord's create/edit message endpoints.
pub fn message(message: &Message) -> Value {
    let mut title = None;
    let mut description: Vec<String> = Vec::new();
    let mut fields: Vec<Value> = Vec::new();
    let mut footer: Vec<String> = Vec::new();
    let mut buttons = Vec::new();
    for block in &message.blocks {
        match block {
            Block::Header { text } if title.is_none() => title = Some(cut(text, MAX_TITLE)),
            Block::Header { text } => description.push(format!("**{text}**")),
            Block::Section { text } => description.push(bold(text)),
            Block::List { items } => description.push(items.iter().map(|i| format!("• {}", bold(i))).collect::<Vec<_>>().join("\n")),
            Block::Fields { fields: fs } => fields.extend(fs.iter().map(|f| {
                json!({ "name": cut(&f.label, MAX_FIELD_NAME), "value": cut(&bold(&f.value), MAX_FIELD_VALUE), "inline": true })
            })),
            Block::Context { text } => footer.push(text.replace('*', "")),
            Block::Divider => description.push("───".into()),
            Block::Actions { buttons: bs } => buttons.extend(bs.iter().cloned()),
        }
    }
    fields.truncate(MAX_FIELDS);
    // All of an embed's text together may not pass 6,000 characters: fields are kept while
    // they fit beside the title and footer, and the description takes what is left.
    let chars = |v: &Value| v.as_str().map_or(0, |t| t.chars().count());
    let mut used =
        title.as_deref().map_or(0, |t| t.chars().count()) + footer.iter().map(|f| f.chars().count() + 3).sum::<usize>();
    let mut kept = Vec::with_capacity(fields.len());
    for field in fields {
        let size = chars(&field["name"]) + chars(&field["value"]);
        if used + size > MAX_EMBED_TOTAL - 200 {
            break;
        }
        used += size;
        kept.push(field);
    }
    let fields = kept;
    let room = MAX_EMBED_TOTAL.saturating_sub(used).clamp(1, MAX_DESCRIPTION);
    let mut embed = json!({ "description": cut(&description.join("\n\n"), room), "fields": fields });
    if let Some(title) = title {
        embed["title"] = json!(title);
    }
    if !footer.is_empty() {
        embed["footer"] = json!({ "text": cut(&footer.join(" · "), MAX_FOOTER) });
    }
    let rows: Vec<Value> = buttons
        .chunks(MAX_PER_ROW)
        .take(MAX_ROWS)
        .map(|row| {
            let components: Vec<Value> = row
                .iter()
                .map(|b| {
                    let style = match b.style {
                        ButtonStyle::Primary => 1,
                        ButtonStyle::Default => 2,
                        ButtonStyle::Danger => 4,
                    };
                    json!({ "type": 2, "style": style, "label": cut(&b.label, MAX_LABEL), "custom_id": custom_id(&b.action_id, &b.value) })
                })
                .collect();
            json!({ "type": 1, "components": components })
        })
        .collect();
    json!({ "embeds": [embed], "components": rows, "allowed_mentions": { "parse": [] } })
}

/// `action_id|value`, as a button carries it.
pub fn custom_id(action_id: &str, value: &str) -> String {
    cut(&format!("{action_id}|{value}"), MAX_CUSTOM_ID)
}

/// The `(action_id, value)` a `custom_id` was made from.
pub fn parse_custom_id(custom_id: &str) -> (String, String) {
    match custom_id.split_once('|') {
        Some((action, value)) => (action.to_string(), value.to_string()),
        None => (custom_id.to_string(), String::new()),
    }
}

/// Slack-style `*bold*` becomes Discord's `**bold**`; brackets are escaped so user text
/// cannot pose as a masked link.
fn bold(text: &str) -> String {
    let text = text.replace('[', "\\[").replace(']', "\\]");
    let text = text.as_str();
    let mut out = String::with_capacity(text.len() + 8);
    let mut open = false;
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let boundary_before = i == 0 || !chars[i - 1].is_alphanumeric();
        let boundary_after = chars.get(i + 1).is_none_or(|n| !n.is_alphanumeric());
        if *c == '*'
            && ((!open && boundary_before && chars.get(i + 1).is_some_and(|n| !n.is_whitespace()))
                || (open && boundary_after))
        {
            out.push_str("**");
            open = !open;
        } else {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Button, Field};

    #[test]
    fn a_card_becomes_an_embed_with_buttons() {
        let card = Message {
            blocks: vec![
                Block::Header { text: "WEB-5 · Login times out".into() },
                Block::Fields { fields: vec![Field { label: "Status".into(), value: "in review".into() }] },
                Block::Section { text: "*WEB-5* needs a review".into() },
                Block::Context { text: "times in UTC".into() },
                Block::Actions {
                    buttons: vec![Button {
                        label: "Done".into(),
                        action_id: "ticket.move".into(),
                        value: "WEB-5:done".into(),
                        style: ButtonStyle::Primary,
                    }],
                },
            ],
        };
        let body = super::message(&card);
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "WEB-5 · Login times out");
        assert_eq!(embed["description"], "**WEB-5** needs a review");
        assert_eq!(embed["fields"][0]["name"], "Status");
        assert_eq!(embed["footer"]["text"], "times in UTC");
        let button = &body["components"][0]["components"][0];
        assert_eq!((button["style"].as_i64(), button["custom_id"].as_str()), (Some(1), Some("ticket.move|WEB-5:done")));
        assert_eq!(parse_custom_id("ticket.move|WEB-5:done"), ("ticket.move".into(), "WEB-5:done".into()));
        assert_eq!(body["allowed_mentions"]["parse"], json!([]), "user text never pings anyone");
    }

    #[test]
    fn limits_hold() {
        let buttons: Vec<Button> = (0..40)
            .map(|i| Button {
                label: "x".repeat(100),
                action_id: "a".repeat(90),
                value: format!("{i}"),
                style: ButtonStyle::Default,
            })
            .collect();
        let card = Message { blocks: vec![Block::Section { text: "y".repeat(9000) }, Block::Actions { buttons }] };
        let body = super::message(&card);
        assert_eq!(body["embeds"][0]["description"].as_str().unwrap().chars().count(), 4096);
        let fields: Vec<Field> = (0..25).map(|i| Field { label: format!("L{i}"), value: "v".repeat(1024) }).collect();
        let crowded = Message { blocks: vec![Block::Fields { fields }, Block::Section { text: "d".repeat(4000) }] };
        let embed = &super::message(&crowded)["embeds"][0];
        let total: usize = embed["description"].as_str().unwrap().chars().count()
            + embed["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().len() + f["value"].as_str().unwrap().chars().count())
                .sum::<usize>();
        assert!(total <= 6000, "an embed's text stays within 6,000 characters: {total}");
        let rows = body["components"].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        for row in rows {
            for button in row["components"].as_array().unwrap() {
                assert!(button["label"].as_str().unwrap().chars().count() <= 80);
                assert!(button["custom_id"].as_str().unwrap().chars().count() <= 100);
            }
        }
    }
}
