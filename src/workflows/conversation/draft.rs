//! A ticket drafted from a conversation: a title from the request, a description quoting the
//! thread with a link back to it. Pure.

/// One message of the thread, as quoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    pub who: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub title: String,
    pub description: String,
}

const TITLE_MAX: usize = 80;
const QUOTED_MAX: usize = 600;

/// `request` is the message that asked for the work; `thread` the conversation around it
/// (oldest first, the request included), `link` a permalink to it.
pub fn draft(request: &Said, thread: &[Said], channel: &str, link: Option<&str>) -> Draft {
    let title = title(&request.text).unwrap_or_else(|| format!("Request from {} in {channel}", request.who));
    let mut description = format!("Asked for by {} in {channel}:\n", request.who);
    for said in thread.iter().rev().take(8).rev() {
        let text = clip(&plain(&said.text), QUOTED_MAX);
        description.push_str(&format!("\n> {}: {}", said.who, text.replace('\n', "\n> ")));
    }
    if thread.is_empty() {
        description.push_str(&format!("\n> {}", clip(&plain(&request.text), QUOTED_MAX).replace('\n', "\n> ")));
    }
    if let Some(link) = link {
        description.push_str(&format!("\n\nConversation: {link}"));
    }
    Draft { title, description }
}

/// For a request made in a private channel or a DM: a title, and a description that links
/// to the conversation instead of quoting it (tickets are read by more people).
pub fn private_draft(request: &Said, link: Option<&str>) -> Draft {
    // Not even the title quotes it: titles show on the board and in public threads.
    let title = format!("Request from {} (private conversation)", request.who);
    let mut description = format!("Asked for by {} in a private conversation; its words stay there.", request.who);
    if let Some(link) = link {
        description.push_str(&format!("\n\nConversation: {link}"));
    }
    Draft { title, description }
}

/// The request's first sentence without greetings and asking words, capitalised and at most
/// 80 characters; `None` when nothing is left (emoji, a bare link).
pub fn title(text: &str) -> Option<String> {
    // Links say where, not what: a title is made of the words around them.
    let plain: String = plain(text)
        .split(' ')
        .filter(|w| !w.starts_with("http://") && !w.starts_with("https://"))
        .collect::<Vec<_>>()
        .join(" ");
    let first = plain
        .split(['\n', '?', '!'])
        .flat_map(|line| line.split(". "))
        .map(str::trim)
        .find(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 3)?;
    let mut rest = first.trim_end_matches('.');
    // Compared on `rest` itself (ASCII words), so slicing stays on character boundaries.
    while let Some(after) = LEADING.iter().find_map(|w| {
        let head = rest.get(..w.len())?;
        let after = &rest[w.len()..];
        (head.eq_ignore_ascii_case(w) && !after.starts_with(char::is_alphanumeric)).then_some(after)
    }) {
        rest = after.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '`');
    }
    if rest.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        return None;
    }
    let mut chars = rest.chars();
    let capitalised: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    Some(clip(&capitalised, TITLE_MAX))
}

/// Greetings and asking words a title does without, longest first where one starts another.
const LEADING: &[&str] = &[
    "hey team",
    "hi team",
    "hello team",
    "hey all",
    "hi all",
    "hey folks",
    "hey",
    "hi",
    "hello",
    "folks",
    "team",
    "quick one",
    "fyi",
    "so",
    "also",
    "btw",
    "please",
    "pls",
    "can someone",
    "could someone",
    "can we",
    "could we",
    "can you",
    "could you",
    "would be great if we could",
    "it would be nice to",
    "we need to",
    "we should",
    "i'd like to",
    "i would like to",
    "someone should",
    "somebody should",
    "we have to",
];

/// Chat markup made readable: `<@U1>` → `@U1`, `<https://x|label>` → `label`, `<#C1|eng>` → `#eng`.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            return out.trim().to_string();
        };
        let inner = &rest[start + 1..start + len];
        let shown = match inner.split_once('|') {
            Some((target, label)) if target.starts_with('#') => format!("#{label}"),
            Some((_, label)) => label.to_string(),
            None => inner.to_string(),
        };
        out.push_str(&shown);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// At most `max` characters, cut at a word and marked with an ellipsis.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    let at_word = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", at_word.trim_end_matches([',', ';', ':', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(who: &str, text: &str) -> Said {
        Said { who: who.into(), text: text.into() }
    }

    #[test]
    fn titles_drop_greetings_and_asking_words() {
        assert_eq!(
            title("hey team, can we add CSV export to the reports page?").unwrap(),
            "Add CSV export to the reports page"
        );
        assert_eq!(
            title("Please fix the login timeout on Safari. It logs me out.").unwrap(),
            "Fix the login timeout on Safari"
        );
        assert_eq!(
            title("<@U123> we need to rotate the `STRIPE_KEY`").unwrap(),
            "@U123 we need to rotate the `STRIPE_KEY`"
        );
        assert_eq!(title("hi").as_deref(), None);
        assert_eq!(title("🎉🎉").as_deref(), None);
    }

    #[test]
    fn long_titles_are_cut_at_a_word() {
        let long =
            "the export of the quarterly revenue report to spreadsheets drops every row after the ten thousandth one";
        let t = title(long).unwrap();
        assert!(t.chars().count() <= TITLE_MAX && t.ends_with('…'), "{t}");
        assert!(t.starts_with("The export of"));
    }

    #[test]
    fn descriptions_quote_the_thread_and_link_back() {
        let request = said("Ana Lima", "can we add dark mode to the dashboard?");
        let thread = [request.clone(), said("Ben Okafor", "yes, +1 <https://x.test/design|the mock>")];
        let d = draft(&request, &thread, "#eng", Some("https://chat.test/p1"));
        assert_eq!(d.title, "Add dark mode to the dashboard");
        assert!(d.description.starts_with("Asked for by Ana Lima in #eng:"));
        assert!(d.description.contains("> Ana Lima: can we add dark mode to the dashboard?"));
        assert!(d.description.contains("> Ben Okafor: yes, +1 the mock"));
        assert!(d.description.ends_with("Conversation: https://chat.test/p1"));
    }

    #[test]
    fn a_request_with_nothing_to_title_gets_a_plain_one() {
        let request = said("Ana Lima", "👀 <https://x.test>");
        let d = draft(&request, &[], "#eng", None);
        assert_eq!(d.title, "Request from Ana Lima in #eng");
        assert!(d.description.contains("> 👀 https://x.test"));
    }

    #[test]
    fn huge_messages_are_quoted_clipped() {
        let request = said("Ana", &"word ".repeat(10_000));
        let d = draft(&request, std::slice::from_ref(&request), "#eng", None);
        assert!(d.description.len() < 1000);
    }
}
