//! A support mailbox's message, read (pure): who sent it, what it answers, its words without
//! the quoted reply and the signature, and its attachments; and what it becomes.

use mail_parser::{MessageParser, MimeHeaders};

#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub message_id: String,
    /// `In-Reply-To` and `References`, newest last.
    pub answers: Vec<String>,
    pub subject: String,
    pub from_address: String,
    pub from_name: String,
    /// The new words: quoted replies and the signature removed.
    pub text: String,
    /// `(file name, bytes, content type)`.
    pub attachments: Vec<(String, usize, String)>,
    /// An auto-reply, a bounce or a list message: never answered, never a ticket.
    pub automatic: bool,
}

/// Reads a raw message (RFC 5322); `None` when it is not one.
pub fn read(raw: &[u8]) -> Option<Incoming> {
    let message = MessageParser::default().parse(raw)?;
    let from = message.from().and_then(|a| a.first());
    let from_address = from.and_then(|a| a.address()).unwrap_or_default().trim().to_ascii_lowercase();
    let from_name = from.and_then(|a| a.name()).unwrap_or_default().trim().to_string();
    let mut answers: Vec<String> = Vec::new();
    let references = message.references().as_text_list().unwrap_or_default();
    let in_reply_to = message.in_reply_to().as_text_list().unwrap_or_default();
    for id in references.iter().chain(in_reply_to.iter()) {
        let id = id.trim().to_string();
        if !id.is_empty() && !answers.contains(&id) {
            answers.push(id);
        }
    }
    let body = match message.body_text(0) {
        Some(text) => text.into_owned(),
        None => message.body_html(0).map(|html| strip_tags(&html)).unwrap_or_default(),
    };
    let attachments = message
        .attachments()
        .map(|part| {
            let name = part.attachment_name().unwrap_or("unnamed").to_string();
            let kind = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                .unwrap_or_else(|| "application/octet-stream".into());
            (name, part.contents().len(), kind)
        })
        .collect();
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let automatic = header("auto-submitted").is_some_and(|v| v != "no")
        || header("precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply"))
        || header("list-id").is_some()
        || from_address.starts_with("mailer-daemon@")
        || from_address.starts_with("postmaster@")
        || from_address.is_empty();
    Some(Incoming {
        message_id: message.message_id().unwrap_or_default().trim().to_string(),
        answers,
        subject: message.subject().unwrap_or_default().trim().to_string(),
        from_address,
        from_name,
        text: strip_reply(&body),
        attachments,
        automatic,
    })
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => {
                inside = false;
                out.push(' ');
            }
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.split('\n').map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

/// The new part of a reply: up to the first quote header ("On … wrote:", "-----Original
/// Message-----", a `From:` block of a forwarded reply, quoted `>` lines) and without the
/// signature (after "-- ", "Sent from my …").
pub fn strip_reply(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let quote_header = (t.starts_with("On ")
            && (t.ends_with("wrote:") || lines.get(i + 1).is_some_and(|n| n.trim().ends_with("wrote:"))))
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || (t.starts_with("From:")
                && kept.iter().any(|l| !l.trim().is_empty())
                && lines.get(i + 1).is_some_and(|n| {
                    let n = n.trim();
                    n.starts_with("Sent:") || n.starts_with("Date:") || n.starts_with("To:")
                }));
        let signature =
            *line == "-- " || t == "--" || t.starts_with("Sent from my ") || t.starts_with("Get Outlook for ");
        if quote_header || signature {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        kept.push(line);
    }
    let text = kept.join("\n");
    text.trim().to_string()
}

/// The ticket keys a subject names: `[WEB-12]`, `Re: WEB-12 …`.
pub fn keys_in_subject(subject: &str) -> Vec<String> {
    crate::workflows::matching::ticket_keys(subject, None)
}

/// What a message becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A new ticket.
    Open,
    /// A comment on this ticket (it answers a thread of it, or names it).
    Comment(String),
    Skip(String),
}

/// `thread_of` finds the ticket a message id belongs to; `exists` whether a key is a ticket.
pub fn decide(mail: &Incoming, thread_of: impl Fn(&str) -> Option<String>, exists: impl Fn(&str) -> bool) -> Step {
    if mail.automatic {
        return Step::Skip(format!(
            "an automatic message from {}",
            if mail.from_address.is_empty() { "nobody" } else { &mail.from_address }
        ));
    }
    if let Some(key) = mail.answers.iter().rev().find_map(|id| thread_of(id)) {
        return Step::Comment(key);
    }
    if let Some(key) = keys_in_subject(&mail.subject).into_iter().find(|k| exists(k)) {
        return Step::Comment(key);
    }
    Step::Open
}

impl Incoming {
    /// "Kim Lee <kim@example.com>".
    pub fn who(&self) -> String {
        if self.from_name.is_empty() {
            self.from_address.clone()
        } else {
            format!("{} <{}>", self.from_name, self.from_address)
        }
    }

    pub fn attachments_line(&self) -> Option<String> {
        if self.attachments.is_empty() {
            return None;
        }
        let list: Vec<String> = self
            .attachments
            .iter()
            .map(|(name, size, kind)| format!("{name} ({kind}, {})", size_text(*size)))
            .collect();
        Some(format!("Attachments (kept in the mailbox): {}", list.join(", ")))
    }
}

fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / (1 << 20) as f64)
    } else if bytes >= 1 << 10 {
        format!("{} KB", bytes >> 10)
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = "From: Kim Lee <Kim@Example.com>\r\nTo: support@acme.example\r\nSubject: Re: [WEB-12] Checkout fails\r\nMessage-ID: <r2@example.com>\r\nIn-Reply-To: <pmbot-1@acme.example>\r\nReferences: <first@example.com> <pmbot-1@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIt happens on Safari too.\r\n\r\nKim\r\n-- \r\nKim Lee, Example Inc.\r\n\r\nOn Tue, 1 Dec 2026 at 10:00, Acme Support <support@acme.example> wrote:\r\n> We are tracking this as WEB-12.\r\n";

    #[test]
    fn a_reply_is_read_without_its_quote_and_signature() {
        let mail = read(REPLY.as_bytes()).unwrap();
        assert_eq!(mail.from_address, "kim@example.com");
        assert_eq!(mail.from_name, "Kim Lee");
        assert_eq!(mail.message_id, "r2@example.com");
        assert_eq!(mail.answers, ["first@example.com", "pmbot-1@acme.example"]);
        assert_eq!(mail.text, "It happens on Safari too.\n\nKim");
        assert!(!mail.automatic);
    }

    #[test]
    fn quotes_of_several_mail_programs_are_cut() {
        assert_eq!(strip_reply("New words.\n\n-----Original Message-----\nFrom: x\nold"), "New words.");
        assert_eq!(strip_reply("Yes.\nOn Mon, 30 Nov 2026, Ana Ruiz\n<ana@x.io> wrote:\n> old"), "Yes.");
        assert_eq!(strip_reply("Fine.\n\nFrom: Acme Support\nSent: Monday\nold"), "Fine.");
        assert_eq!(strip_reply("Inline\n> quoted\nanswer\n\nSent from my iPhone"), "Inline\nanswer");
        assert_eq!(strip_reply("From: a colleague, the bug is back."), "From: a colleague, the bug is back.");
    }

    #[test]
    fn a_thread_or_a_key_makes_a_comment_else_a_ticket() {
        let mail = read(REPLY.as_bytes()).unwrap();
        let thread = |id: &str| (id == "pmbot-1@acme.example").then(|| "WEB-3".to_string());
        assert_eq!(decide(&mail, thread, |_| true), Step::Comment("WEB-3".into()));
        assert_eq!(decide(&mail, |_| None, |k| k == "WEB-12"), Step::Comment("WEB-12".into()));
        assert_eq!(decide(&mail, |_| None, |_| false), Step::Open);
    }

    #[test]
    fn automatic_mail_is_left_alone() {
        let bounce = "From: MAILER-DAEMON@mx.example\r\nSubject: Undelivered\r\nMessage-ID: <b@mx>\r\n\r\nsorry";
        assert!(matches!(decide(&read(bounce.as_bytes()).unwrap(), |_| None, |_| false), Step::Skip(_)));
        let ooo = "From: a@b.example\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\naway";
        assert!(read(ooo.as_bytes()).unwrap().automatic);
    }

    #[test]
    fn attachments_and_html_are_read() {
        let raw = "From: a@b.example\r\nSubject: Crash\r\nMessage-ID: <m@b>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/html\r\n\r\n<p>The app <b>crashes</b></p>\r\n--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"shot.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--XX--\r\n";
        let mail = read(raw.as_bytes()).unwrap();
        assert!(mail.text.contains("The app crashes"), "{:?}", mail.text);
        assert_eq!(mail.attachments, [("shot.png".to_string(), 8, "image/png".to_string())]);
        assert_eq!(mail.attachments_line().unwrap(), "Attachments (kept in the mailbox): shot.png (image/png, 8 B)");
    }
}
