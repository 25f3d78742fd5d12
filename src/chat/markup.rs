//! Turns a rendered template into a [`Message`]. Templates write one block element per line:
//!
//! ```text
//! # Header
//! Paragraph text (consecutive lines form one section; a blank line ends it)
//! - list item
//! | Label | value
//! > context line
//! ---
//! [Button label](action_id value primary)
//! ```
//!
//! The template escaper replaces line breaks in values with spaces, so a value can never start
//! a line and therefore never adds structure. Templates must not start a line with a value.

use super::message::{Block, Button, ButtonStyle, Field, Message};

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("template line {line}: {reason}")]
pub struct MarkupError {
    pub line: usize,
    pub reason: String,
}

pub fn parse(rendered: &str) -> Result<Message, MarkupError> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    for (index, raw) in rendered.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || !is_paragraph_line(line) {
            flush(&mut paragraph, &mut blocks);
        }
        if line.is_empty() {
            continue;
        }
        if let Some(text) = line.strip_prefix("# ") {
            blocks.push(Block::Header { text: text.trim().to_string() });
        } else if line == "---" {
            blocks.push(Block::Divider);
        } else if let Some(item) = line.strip_prefix("- ") {
            push_item(&mut blocks, item.trim());
        } else if let Some(text) = line.strip_prefix("> ") {
            blocks.push(Block::Context { text: text.trim().to_string() });
        } else if let Some(row) = line.strip_prefix("| ") {
            push_field(&mut blocks, row, index + 1)?;
        } else if line.starts_with('[') {
            push_button(&mut blocks, line, index + 1)?;
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, &mut blocks);
    Ok(Message { blocks })
}

fn is_paragraph_line(line: &str) -> bool {
    !(line.starts_with("# ")
        || line == "---"
        || line.starts_with("- ")
        || line.starts_with("> ")
        || line.starts_with("| ")
        || line.starts_with('['))
}

fn flush(paragraph: &mut Vec<&str>, blocks: &mut Vec<Block>) {
    if !paragraph.is_empty() {
        blocks.push(Block::Section { text: paragraph.join("\n") });
        paragraph.clear();
    }
}

fn push_item(blocks: &mut Vec<Block>, item: &str) {
    match blocks.last_mut() {
        Some(Block::List { items }) => items.push(item.to_string()),
        _ => blocks.push(Block::List { items: vec![item.to_string()] }),
    }
}

fn push_field(blocks: &mut Vec<Block>, row: &str, line: usize) -> Result<(), MarkupError> {
    let row = row.trim().trim_end_matches('|').trim_end();
    let (label, value) = row
        .split_once(" | ")
        .ok_or_else(|| MarkupError { line, reason: format!("a field needs \"| label | value\", got \"| {row}\"") })?;
    let field = Field { label: label.trim().to_string(), value: value.trim().to_string() };
    match blocks.last_mut() {
        Some(Block::Fields { fields }) => fields.push(field),
        _ => blocks.push(Block::Fields { fields: vec![field] }),
    }
    Ok(())
}

/// `[label](action_id value style?)`; the label ends at the last `](` so a label may hold
/// brackets.
fn push_button(blocks: &mut Vec<Block>, line: &str, line_no: usize) -> Result<(), MarkupError> {
    let bad = |reason: &str| MarkupError { line: line_no, reason: format!("{reason}: {line}") };
    let inner = line
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| bad("a button is [label](action value)"))?;
    let (label, spec) = inner.rsplit_once("](").ok_or_else(|| bad("a button is [label](action value)"))?;
    let mut parts = spec.split_whitespace();
    let (Some(action_id), Some(value)) = (parts.next(), parts.next()) else {
        return Err(bad("a button needs an action id and a value"));
    };
    let style = match parts.next() {
        None => ButtonStyle::Default,
        Some("primary") => ButtonStyle::Primary,
        Some("danger") => ButtonStyle::Danger,
        Some(other) => return Err(bad(&format!("unknown button style \"{other}\""))),
    };
    let button = Button { label: label.trim().to_string(), action_id: action_id.into(), value: value.into(), style };
    match blocks.last_mut() {
        Some(Block::Actions { buttons }) => buttons.push(button),
        _ => blocks.push(Block::Actions { buttons: vec![button] }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line_becomes_its_block() {
        let message = parse(
            "# Standup\nFirst line\nsecond line\n\n- one\n- two\n| Open | 4 |\n| Done | 2\n> times in UTC\n---\n\
             [Start [WEB-1]](ticket.move WEB-1:in_progress primary)\n[Skip](noop x)\n",
        )
        .unwrap();
        assert_eq!(
            message.blocks,
            vec![
                Block::Header { text: "Standup".into() },
                Block::Section { text: "First line\nsecond line".into() },
                Block::List { items: vec!["one".into(), "two".into()] },
                Block::Fields {
                    fields: vec![
                        Field { label: "Open".into(), value: "4".into() },
                        Field { label: "Done".into(), value: "2".into() }
                    ]
                },
                Block::Context { text: "times in UTC".into() },
                Block::Divider,
                Block::Actions {
                    buttons: vec![
                        Button {
                            label: "Start [WEB-1]".into(),
                            action_id: "ticket.move".into(),
                            value: "WEB-1:in_progress".into(),
                            style: ButtonStyle::Primary
                        },
                        Button {
                            label: "Skip".into(),
                            action_id: "noop".into(),
                            value: "x".into(),
                            style: ButtonStyle::Default
                        },
                    ]
                },
            ]
        );
    }

    #[test]
    fn a_malformed_button_names_its_line() {
        let err = parse("ok\n[Go](only-action)").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
