//! Pure rendering of messages for the terminal, and classification of typed lines.

use crate::chat::{Block, ButtonStyle, Message};

/// The longest message accepted, as on Slack (40,000 characters).
pub const MAX_MESSAGE_CHARS: usize = 40_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    fn paint(self, codes: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{codes}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Renders `message` indented under a speaker line; buttons are numbered from `first_button`.
pub fn render(speaker: &str, message: &Message, style: Style, first_button: usize) -> String {
    let mut out = format!("{}\n", style.paint("1;36", speaker));
    let mut number = first_button;
    for block in &message.blocks {
        match block {
            Block::Header { text } => push(&mut out, &style.paint("1;4", &inline(text, Style::PLAIN))),
            Block::Section { text } => text.lines().for_each(|line| push(&mut out, &inline(line, style))),
            Block::List { items } => {
                items.iter().for_each(|item| push(&mut out, &format!("• {}", inline(item, style))))
            }
            Block::Fields { fields } => {
                let row: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} {}", style.paint("1", &format!("{}:", f.label)), inline(&f.value, style)))
                    .collect();
                push(&mut out, &row.join("   "));
            }
            Block::Context { text } => push(&mut out, &style.paint("2", &inline(text, Style::PLAIN))),
            Block::Divider => push(&mut out, &style.paint("2", "────────────────────────────────")),
            Block::Actions { buttons } => {
                let row: Vec<String> = buttons
                    .iter()
                    .map(|b| {
                        let label = format!("[{number}] {}", b.label);
                        number += 1;
                        match b.style {
                            ButtonStyle::Primary => style.paint("1;32", &label),
                            ButtonStyle::Danger => style.paint("1;31", &label),
                            ButtonStyle::Default => style.paint("1", &label),
                        }
                    })
                    .collect();
                push(&mut out, &row.join("  "));
            }
        }
    }
    out
}

fn push(out: &mut String, line: &str) {
    out.push_str("  ");
    out.push_str(line);
    out.push('\n');
}

/// `*bold*` and `_italic_` become bold and italic on a terminal, plain text otherwise. A
/// marker counts only at word boundaries, so `in_progress` and `2*3*4` stay as they are.
fn inline(text: &str, style: Style) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let marker = chars[i];
        let opens = (marker == '*' || marker == '_')
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars.get(i + 1).is_some_and(|c| !c.is_whitespace() && *c != marker);
        let close = opens
            .then(|| {
                (i + 2..chars.len()).find(|&j| {
                    chars[j] == marker
                        && !chars[j - 1].is_whitespace()
                        && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
                })
            })
            .flatten();
        match close {
            Some(j) => {
                let inner: String = chars[i + 1..j].iter().collect();
                out.push_str(&style.paint(if marker == '*' { "1" } else { "3" }, &inner));
                i = j + 1;
            }
            None => {
                out.push(marker);
                i += 1;
            }
        }
    }
    out
}

/// What a line typed into the shell means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellInput {
    Empty,
    TooLong {
        chars: usize,
    },
    /// `!3`: press button 3.
    Press(usize),
    /// `:as ben`, `:channel #x`, `:help`, `:quit`.
    Meta {
        command: String,
        arg: String,
    },
    Slash {
        command: String,
        text: String,
    },
    Mention {
        text: String,
    },
    Message {
        text: String,
    },
    Invalid {
        reason: String,
    },
}

pub fn classify(line: &str, bot_name: &str) -> ShellInput {
    let text = line.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return ShellInput::Empty;
    }
    if chars > MAX_MESSAGE_CHARS {
        return ShellInput::TooLong { chars };
    }
    if let Some(number) = text.strip_prefix('!') {
        return match number.trim().parse::<usize>() {
            Ok(n) if n > 0 => ShellInput::Press(n),
            _ => ShellInput::Invalid { reason: format!("\"{text}\" is not a button: type ! and its number, e.g. !1") },
        };
    }
    if let Some(meta) = text.strip_prefix(':').filter(|m| m.starts_with(|c: char| c.is_ascii_alphabetic())) {
        let (command, arg) = meta.split_once(char::is_whitespace).unwrap_or((meta, ""));
        return ShellInput::Meta { command: command.to_lowercase(), arg: arg.trim().to_string() };
    }
    if let Some(slash) = text.strip_prefix('/') {
        let (command, rest) = slash.split_once(char::is_whitespace).unwrap_or((slash, ""));
        return ShellInput::Slash { command: format!("/{command}"), text: rest.trim().to_string() };
    }
    let mention = format!("@{}", bot_name.to_lowercase());
    let mentions_bot =
        text.split_whitespace().any(|word| word.to_lowercase().trim_end_matches([',', ':', '!', '?', '.']) == mention);
    if mentions_bot {
        ShellInput::Mention { text: text.to_string() }
    } else {
        ShellInput::Message { text: text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified() {
        let cases = [
            ("", ShellInput::Empty),
            ("   ", ShellInput::Empty),
            ("!2", ShellInput::Press(2)),
            ("!x", ShellInput::Invalid { reason: "\"!x\" is not a button: type ! and its number, e.g. !1".into() }),
            ("/standup @ana", ShellInput::Slash { command: "/standup".into(), text: "@ana".into() }),
            ("hey @PMBOT, help", ShellInput::Mention { text: "hey @PMBOT, help".into() }),
            ("email me@pmbot.dev", ShellInput::Message { text: "email me@pmbot.dev".into() }),
            (":as ben", ShellInput::Meta { command: "as".into(), arg: "ben".into() }),
            (":-)", ShellInput::Message { text: ":-)".into() }),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line, "pmbot"), want, "{line:?}");
        }
    }

    #[test]
    fn a_100_kb_line_is_refused() {
        assert_eq!(classify(&"x".repeat(100_000), "pmbot"), ShellInput::TooLong { chars: 100_000 });
    }

    #[test]
    fn emphasis_is_stripped_when_plain() {
        assert_eq!(inline("*WEB-1* is done, 2*3*4 = 24", Style::PLAIN), "WEB-1 is done, 2*3*4 = 24");
        assert_eq!(inline("— _waiting on IT_ (2 days)", Style::PLAIN), "— waiting on IT (2 days)");
        assert_eq!(inline("move to in_progress_now", Style::PLAIN), "move to in_progress_now");
        assert_eq!(inline("a * b and _ c", Style::PLAIN), "a * b and _ c");
    }

    #[test]
    fn emphasis_is_painted_on_a_terminal() {
        assert_eq!(inline("*WEB-1* _late_", Style { color: true }), "\x1b[1mWEB-1\x1b[0m \x1b[3mlate\x1b[0m");
    }
}
