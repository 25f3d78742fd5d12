//! The support mailbox over IMAP with TLS: unread messages fetched (without marking them
//! read), and marked read once handled.

use super::ImapSettings;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot reach the mailbox {0}")]
    Connect(String),
    #[error("the mailbox refused pmbot's login: {0}")]
    Login(String),
    #[error("IMAP: {0}")]
    Protocol(String),
}

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

pub struct Mailbox {
    session: async_imap::Session<Stream>,
}

const TIMEOUT: Duration = Duration::from_secs(60);

fn tls(settings: &ImapSettings) -> Result<tokio_rustls::TlsConnector, ImapError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path).map_err(|e| ImapError::Connect(format!("{}: {e}", path.display())))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| ImapError::Connect(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| ImapError::Connect(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Connect(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

impl Mailbox {
    /// Connects with TLS, logs in and selects the mailbox.
    pub async fn open(settings: &ImapSettings) -> Result<Mailbox, ImapError> {
        let at = format!("{}:{}", settings.host, settings.port);
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port))
                .await
                .map_err(|e| ImapError::Connect(format!("{at}: {e}")))?;
            let name = rustls::pki_types::ServerName::try_from(settings.host.clone())
                .map_err(|e| ImapError::Connect(format!("{at}: {e}")))?;
            let stream =
                tls(settings)?.connect(name, tcp).await.map_err(|e| ImapError::Connect(format!("{at}: TLS: {e}")))?;
            let mut client = async_imap::Client::new(stream);
            // The server's greeting comes first.
            client.read_response().await.map_err(|e| ImapError::Protocol(e.to_string()))?;
            let mut session = client
                .login(&settings.user, &settings.password)
                .await
                .map_err(|(e, _)| ImapError::Login(e.to_string()))?;
            session
                .select(&settings.mailbox)
                .await
                .map_err(|e| ImapError::Protocol(format!("{}: {e}", settings.mailbox)))?;
            Ok(Mailbox { session })
        };
        tokio::time::timeout(TIMEOUT, connect).await.map_err(|_| ImapError::Connect(format!("{at}: no answer")))?
    }

    /// The unread messages, oldest first: `(uid, raw message)`; nothing is marked read.
    pub async fn unread(&mut self, limit: usize) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        let fetch = async {
            let mut uids: Vec<u32> = self
                .session
                .uid_search("UNSEEN")
                .await
                .map_err(|e| ImapError::Protocol(e.to_string()))?
                .into_iter()
                .collect();
            uids.sort_unstable();
            uids.truncate(limit);
            if uids.is_empty() {
                return Ok(Vec::new());
            }
            let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let mut out = Vec::new();
            let mut stream = self
                .session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .map_err(|e| ImapError::Protocol(e.to_string()))?;
            while let Some(fetched) = stream.next().await {
                let fetched = fetched.map_err(|e| ImapError::Protocol(e.to_string()))?;
                if let (Some(uid), Some(body)) = (fetched.uid, fetched.body()) {
                    out.push((uid, body.to_vec()));
                }
            }
            out.sort_by_key(|(uid, _)| *uid);
            Ok(out)
        };
        tokio::time::timeout(TIMEOUT, fetch).await.map_err(|_| ImapError::Protocol("no answer to FETCH".into()))?
    }

    /// Marks message `uid` read.
    pub async fn mark_read(&mut self, uid: u32) -> Result<(), ImapError> {
        let store = async {
            let mut stream = self
                .session
                .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
                .await
                .map_err(|e| ImapError::Protocol(e.to_string()))?;
            while let Some(answer) = stream.next().await {
                answer.map_err(|e| ImapError::Protocol(e.to_string()))?;
            }
            Ok(())
        };
        tokio::time::timeout(TIMEOUT, store).await.map_err(|_| ImapError::Protocol("no answer to STORE".into()))?
    }

    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}
