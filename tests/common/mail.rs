//! A real IMAP server for the mailbox's tests (Debian's Dovecot, started per test with its
//! own TLS certificate, signed by a throwaway CA the test trusts) and a small SMTP server
//! that keeps what it is sent.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub struct MailServer {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    owner: Option<String>,
    delivered: std::sync::atomic::AtomicU32,
}

pub const USER: &str = "support";
pub const PASSWORD: &str = "secret-pass";

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program).current_dir(dir).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl MailServer {
    pub fn start() -> MailServer {
        let dovecot =
            ["/usr/sbin/dovecot", "dovecot"].into_iter().find(|p| Command::new(p).arg("--version").output().is_ok());
        let dovecot = dovecot
            .expect("the mailbox tests need Dovecot (apt-get install -y dovecot-imapd); scripts/test installs it");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let ca = [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=pmbot-test-ca",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat();
        run(d, "openssl", &ca);
        run(
            d,
            "openssl",
            &[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat(),
        );
        std::fs::write(
            d.join("ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(
            d,
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext",
            ],
        );
        for sub in ["run", "state", "home/support/Maildir/cur", "home/support/Maildir/new", "home/support/Maildir/tmp"]
        {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        // As root, mail is owned by Dovecot's own user; otherwise everything runs as us.
        let root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
        let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap().trim().to_string();
        let (mail_user, internal, login) = if root {
            ("dovecot".to_string(), "dovecot".to_string(), "dovenull".to_string())
        } else {
            (me.clone(), me.clone(), me)
        };
        if root {
            run(d, "chown", &["-R", "dovecot:dovecot", "home"]);
            run(d, "chmod", &["755", "."]);
        }
        let port = free_port();
        let p = d.display();
        let config = format!(
            "base_dir = {p}/run\nstate_dir = {p}/state\nlog_path = {p}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
             ssl = required\nssl_cert = <{p}/server.pem\nssl_key = <{p}/server.key\ndisable_plaintext_auth = yes\n\
             auth_mechanisms = plain login\npassdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {p}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={mail_user} gid={mail_user} home={p}/home/%u\n}}\n\
             first_valid_uid = 1\nmail_location = maildir:~/Maildir\ndefault_internal_user = {internal}\ndefault_login_user = {login}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = 0\n  }}\n  inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(d.join("dovecot.conf"), config).unwrap();
        let child = Command::new(dovecot)
            .args(["-F", "-c"])
            .arg(d.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed().as_secs() < 10,
                "dovecot did not start: {}",
                std::fs::read_to_string(d.join("dovecot.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        MailServer { dir, port, child, owner: root.then(|| "dovecot:dovecot".to_string()), delivered: 0.into() }
    }

    pub fn url(&self) -> String {
        format!("imaps://{USER}:{PASSWORD}@localhost:{}/INBOX", self.port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Delivers a raw message to the mailbox (as a mail server does: a file in Maildir/new).
    pub fn deliver(&self, raw: &str) {
        let n = self.delivered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{}.M{n}P{}.test", 1_700_000_000 + n, std::process::id());
        let tmp = self.dir.path().join("home/support/Maildir/tmp").join(&name);
        std::fs::write(&tmp, raw.replace('\n', "\r\n").replace("\r\r\n", "\r\n")).unwrap();
        if let Some(owner) = &self.owner {
            run(self.dir.path(), "chown", &[owner, tmp.to_str().unwrap()]);
        }
        std::fs::rename(&tmp, self.dir.path().join("home/support/Maildir/new").join(&name)).unwrap();
    }

    /// Messages still unread in the mailbox (new, or seen without the S flag).
    pub fn unread(&self) -> usize {
        let new = std::fs::read_dir(self.dir.path().join("home/support/Maildir/new")).unwrap().count();
        let cur = std::fs::read_dir(self.dir.path().join("home/support/Maildir/cur"))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .rsplit_once(":2,")
                    .is_some_and(|(_, f)| f.contains('S'))
            })
            .count();
        new + cur
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = Command::new("dovecot").arg("-c").arg(self.dir.path().join("dovecot.conf")).arg("stop").output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message an SMTP client sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Sent {
    /// The body as a reader sees it (quoted-printable and the like decoded).
    pub fn text(&self) -> String {
        let parsed = mail_parser::MessageParser::default().parse(self.data.as_bytes());
        parsed.and_then(|m| m.body_text(0).map(|t| t.into_owned())).unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }
}

/// A plain SMTP server (RFC 5321's commands, no TLS) that keeps every message.
pub struct SmtpSink {
    pub port: u16,
    pub sent: Arc<Mutex<Vec<Sent>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let kept = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &kept);
                });
            }
        });
        SmtpSink { port, sent }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

fn session(stream: std::net::TcpStream, kept: &Mutex<Vec<Sent>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().trim_matches(['<', '>']).to_string();
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_string());
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go on\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
            }
            kept.lock().unwrap().push(Sent { from: from.clone(), to: to.clone(), data });
            out.write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 OK\r\n")?;
        }
    }
}
