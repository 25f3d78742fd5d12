//! The support mailbox: an IMAP poller (TLS) whose new messages become tickets, or comments
//! on the ticket whose thread they answer (by Message-ID / References, or a key in the
//! subject); the sender is told the key by mail when pmbot can send it (SMTP).
//!
//! Settings: `[email] project` turns it on; `PMBOT_IMAP_URL`
//! (`imaps://user:password@host:993/INBOX`, TLS only) and, for a private CA,
//! `PMBOT_IMAP_CA_FILE`; `PMBOT_SMTP_URL` and `[email] from` for mail pmbot sends.

pub mod imap;
mod job;
pub mod mail;
pub mod smtp;

pub use job::EmailJob;
pub use smtp::Mailer;

use std::path::PathBuf;

#[derive(Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "imaps://{}@{}:{}/{}", self.user, self.host, self.port, self.mailbox)
    }
}

impl ImapSettings {
    /// `imaps://user:password@host[:port][/mailbox]` (percent-encoded user and password).
    pub fn parse(url: &str, ca_file: Option<PathBuf>) -> Result<ImapSettings, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("PMBOT_IMAP_URL: {e}"))?;
        if parsed.scheme() != "imaps" {
            return Err("PMBOT_IMAP_URL: only imaps:// (IMAP over TLS) is accepted".into());
        }
        // Percent-decoding only (a `+` in a password is a plus, not a space).
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = decode(parsed.username());
        let password = parsed.password().map(decode).unwrap_or_default();
        if user.is_empty() || password.is_empty() {
            return Err("PMBOT_IMAP_URL: needs a user and a password".into());
        }
        let mailbox = decode(parsed.path().trim_start_matches('/'));
        Ok(ImapSettings {
            host: parsed.host_str().ok_or("PMBOT_IMAP_URL: needs a host")?.to_string(),
            port: parsed.port().unwrap_or(993),
            user,
            password,
            mailbox: if mailbox.is_empty() { "INBOX".into() } else { mailbox },
            ca_file,
        })
    }

    pub fn from_env() -> Result<Option<ImapSettings>, String> {
        let Some(url) = std::env::var("PMBOT_IMAP_URL").ok().filter(|v| !v.trim().is_empty()) else { return Ok(None) };
        let ca = std::env::var_os("PMBOT_IMAP_CA_FILE").filter(|v| !v.is_empty()).map(PathBuf::from);
        ImapSettings::parse(&url, ca).map(Some)
    }
}

/// The mailer from `PMBOT_SMTP_URL` and `[email] from`; `None` when either is missing.
pub fn mailer_from_env(config: &crate::config::Config) -> Result<Option<Mailer>, String> {
    let url = std::env::var("PMBOT_SMTP_URL").ok().filter(|v| !v.trim().is_empty());
    match (url, config.email.from.as_deref()) {
        (Some(url), Some(from)) => Mailer::new(&url, from).map(Some).map_err(|e| e.to_string()),
        (Some(_), None) => Err("PMBOT_SMTP_URL is set: set [email] from too".into()),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailbox_url_is_read() {
        let s = ImapSettings::parse("imaps://support%40acme.example:p%3As+s@mail.acme.example/Support", None).unwrap();
        assert_eq!((s.user.as_str(), s.password.as_str()), ("support@acme.example", "p:s+s"));
        assert_eq!((s.host.as_str(), s.port, s.mailbox.as_str()), ("mail.acme.example", 993, "Support"));
        assert_eq!(ImapSettings::parse("imaps://u:p@h:10993", None).unwrap().mailbox, "INBOX");
        assert!(ImapSettings::parse("imap://u:p@h", None).unwrap_err().contains("only imaps://"));
        assert!(ImapSettings::parse("imaps://h", None).unwrap_err().contains("user and a password"));
        assert!(!format!("{s:?}").contains("p:s+s"), "the password is never printed");
    }
}
