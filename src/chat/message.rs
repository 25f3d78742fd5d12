//! The platform-neutral outbound message. Adapters render it to Block Kit, Discord
//! components or the terminal.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Header {
        text: String,
    },
    /// A paragraph; lines keep their breaks. Text uses `*bold*`, `_italic_`, `` `code` ``.
    Section {
        text: String,
    },
    /// Label/value pairs shown side by side where the platform can.
    Fields {
        fields: Vec<Field>,
    },
    List {
        items: Vec<String>,
    },
    /// A small, muted line (sources, time zones, hints).
    Context {
        text: String,
    },
    Divider,
    Actions {
        buttons: Vec<Button>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    /// What pressing it does, e.g. `ticket.move`.
    pub action_id: String,
    /// The argument, e.g. `WEB-12:in_progress`.
    pub value: String,
    pub style: ButtonStyle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ButtonStyle {
    #[default]
    Default,
    Primary,
    Danger,
}

impl Message {
    /// A message of one paragraph.
    pub fn text(text: impl Into<String>) -> Self {
        Message { blocks: vec![Block::Section { text: text.into() }] }
    }

    pub fn buttons(&self) -> impl Iterator<Item = &Button> {
        self.blocks.iter().flat_map(|block| match block {
            Block::Actions { buttons } => buttons.as_slice(),
            _ => &[],
        })
    }

    /// The same message without its buttons, for showing a decision in place.
    pub fn without_buttons(&self) -> Message {
        let blocks = self.blocks.iter().filter(|b| !matches!(b, Block::Actions { .. })).cloned().collect();
        Message { blocks }
    }

    /// Plain text for notifications and logs.
    pub fn fallback_text(&self) -> String {
        self.blocks
            .iter()
            .filter_map(|block| match block {
                Block::Header { text } | Block::Section { text } | Block::Context { text } => Some(text.clone()),
                Block::List { items } => Some(items.join("\n")),
                Block::Fields { fields } => {
                    Some(fields.iter().map(|f| format!("{}: {}", f.label, f.value)).collect::<Vec<_>>().join("\n"))
                }
                Block::Divider | Block::Actions { .. } => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `text` cut to `max` characters, ending in "…" when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max.saturating_sub(1)).collect::<String>())
    }
}
