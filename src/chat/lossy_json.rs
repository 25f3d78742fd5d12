//! JSON with broken UTF-16: Slack has been seen to cut a message between the two halves of
//! a surrogate pair (an emoji at a length limit), and a strict parser then refuses the whole
//! event — the message would be lost. A lone half becomes U+FFFD, as a lossy UTF-8 decoder
//! does with a broken byte; everything else is left byte for byte.

use std::borrow::Cow;

/// `json` with every unpaired `\uD800`–`\uDFFF` escape replaced by `\uFFFD`.
pub fn repair_lone_surrogates(json: &str) -> Cow<'_, str> {
    if !json.contains("\\u") {
        return Cow::Borrowed(json);
    }
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut changed = false;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'u') {
            i += 2; // an escaped character (`\\`, `\"`, …): never the start of a `\u`
            continue;
        }
        let Some(unit) = hex_unit(bytes, i) else {
            i += 2;
            continue;
        };
        let paired = match unit {
            0xD800..=0xDBFF => {
                let low = (bytes.get(i + 6) == Some(&b'\\') && bytes.get(i + 7) == Some(&b'u'))
                    .then(|| hex_unit(bytes, i + 6))
                    .flatten();
                if low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                    i += 12;
                    continue;
                }
                false
            }
            0xDC00..=0xDFFF => false,
            _ => true,
        };
        if !paired {
            out.push_str(&json[copied..i]);
            out.push_str("\\uFFFD");
            copied = i + 6;
            changed = true;
        }
        i += 6;
    }
    if !changed {
        return Cow::Borrowed(json);
    }
    out.push_str(&json[copied..]);
    Cow::Owned(out)
}

fn hex_unit(bytes: &[u8], at: usize) -> Option<u32> {
    let hex = bytes.get(at + 2..at + 6)?;
    u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(&repair_lone_surrogates(json)).unwrap();
        value["text"].as_str().unwrap().to_string()
    }

    #[test]
    fn a_lone_half_becomes_a_replacement_character_and_pairs_are_kept() {
        assert_eq!(text(r#"{"text":"cut \ud83d"}"#), "cut \u{FFFD}");
        assert_eq!(text(r#"{"text":"\ude00 low first"}"#), "\u{FFFD} low first");
        assert_eq!(text(r#"{"text":"pair \ud83d\ude00 kept"}"#), "pair 😀 kept");
        assert_eq!(text(r#"{"text":"\ud83d\ud83d\ude00"}"#), "\u{FFFD}😀");
        assert_eq!(text(r#"{"text":"a backslash \\ud83d is text"}"#), "a backslash \\ud83d is text");
        assert!(matches!(repair_lone_surrogates(r#"{"text":"é \u00e9"}"#), Cow::Borrowed(_)));
    }
}
