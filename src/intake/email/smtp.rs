//! Mail pmbot sends (a new ticket's key to its sender, the reporter loop's news), through
//! the team's SMTP server (`PMBOT_SMTP_URL`, lettre's URL form: `smtps://user:pass@host:465`).

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail settings: {0}")]
    Settings(String),
    /// The server did not take it (maybe for now).
    #[error("the mail was not sent: {0}")]
    Send(String),
    /// It cannot be sent at all: a bad address, a message that cannot be built.
    #[error("the mail cannot be sent: {0}")]
    Refused(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
    /// The domain of pmbot's own Message-IDs.
    domain: String,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Result<Mailer, MailError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Settings(format!("PMBOT_SMTP_URL: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from: lettre::message::Mailbox =
            from.parse().map_err(|e| MailError::Settings(format!("[email] from: {e}")))?;
        let domain = from.email.domain().to_string();
        Ok(Mailer { transport, from, domain })
    }

    /// A Message-ID of pmbot's (`pmbot-<key>@<domain>`): replies to it find their thread.
    pub fn message_id(&self, key: &str) -> String {
        format!("{key}@{}", self.domain)
    }

    /// Sends `text` to `to`; with `reply_to`, as an answer to that message. Its Message-ID.
    pub async fn send(&self, to: &str, subject: &str, text: &str, reply_to: Option<&str>) -> Result<String, MailError> {
        let to: lettre::message::Mailbox = to.parse().map_err(|e| MailError::Refused(format!("{to}: {e}")))?;
        let id = self.message_id(&format!("pmbot-{}", crate::digest::short(format!("{to}{subject}{text}").as_bytes())));
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}>")))
            // Loops with other robots stop here (RFC 3834).
            .header(AutoSubmitted);
        if let Some(original) = reply_to {
            builder = builder.in_reply_to(format!("<{original}>")).references(format!("<{original}>"));
        }
        let message = builder
            .header(ContentType::TEXT_PLAIN)
            .body(text.to_string())
            .map_err(|e| MailError::Refused(e.to_string()))?;
        self.transport.send(message).await.map_err(|e| {
            // A permanent SMTP answer (5xx: no such mailbox) will not change on a retry.
            if e.is_permanent() {
                MailError::Refused(e.to_string())
            } else {
                MailError::Send(e.to_string())
            }
        })?;
        Ok(id)
    }
}

/// `Auto-Submitted: auto-replied`.
#[derive(Clone)]
struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-replied".into())
    }
}
