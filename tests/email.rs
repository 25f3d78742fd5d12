//! The support mailbox against a real IMAP server (Dovecot over TLS, started per test) and an
//! SMTP server that keeps what pmbot sends; through the job queue, on SQLite and PostgreSQL.

mod common;

use common::mail::{MailServer, SmtpSink};
use common::{seeded_app, RecordingChat};
use pmbot::board::TicketKey;
use pmbot::intake::email::{EmailJob, ImapSettings, Mailer};
use pmbot::jobs::JobEnv;
use pmbot::queue::{JobSpec, Worker};
use std::sync::Arc;

on_both_backends!(
    url:
    a_mail_becomes_a_ticket_and_its_sender_is_told_the_key,
    answers_become_comments_on_their_ticket,
    automatic_mail_is_left_alone_and_nothing_is_handled_twice,
    an_untrusted_server_is_not_read,
    the_reporter_hears_by_mail_when_it_is_fixed,
);

struct Harness {
    app: pmbot::app::App,
    worker: Worker<JobEnv<RecordingChat>>,
    mailbox: MailServer,
    smtp: SmtpSink,
}

async fn harness(url: &str, trust: bool) -> Harness {
    let mailbox = MailServer::start();
    let smtp = SmtpSink::start();
    let mut app = seeded_app(url, |c| {
        c.email.project = Some("APP".into());
        c.email.from = Some("Acme Support <support@acme.example>".into());
    })
    .await;
    let ca = trust.then(|| mailbox.ca());
    app.imap = Some(Arc::new(ImapSettings::parse(&mailbox.url(), ca).unwrap()));
    app.mailer = Some(Arc::new(Mailer::new(&smtp.url(), "Acme Support <support@acme.example>").unwrap()));
    let worker = app.worker(Arc::new(RecordingChat::default())).unwrap();
    Harness { app, worker, mailbox, smtp }
}

impl Harness {
    /// One pass of the poller, as its schedule would start it.
    async fn poll(&self) {
        let mut tx = self.app.store.begin().await.unwrap();
        let now = chrono::Utc::now();
        tx.enqueue(&self.app.workspace(), &EmailJob::default().to_new_job(now), now).await.unwrap();
        tx.commit().await.unwrap();
        self.worker.run_until_idle().await;
    }

    async fn tickets(&self) -> Vec<pmbot::board::Ticket> {
        let all = self.app.store.tickets(&self.app.workspace(), &pmbot::store::TicketFilter::default()).await.unwrap();
        all.into_iter().filter(|t| t.labels.iter().any(|l| l == "email")).collect()
    }

    async fn comments(&self, key: &TicketKey) -> Vec<String> {
        self.app.store.comments(&self.app.workspace(), key).await.unwrap().into_iter().map(|c| c.body).collect()
    }
}

const FIRST: &str = "From: Kim Lee <kim@example.com>
To: support@acme.example
Subject: Export to CSV fails
Message-ID: <first-1@example.com>
Date: Tue, 01 Dec 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"XX\"

--XX
Content-Type: text/plain; charset=utf-8

Exporting the orders report to CSV gives an empty file.

Thanks,
Kim
--
Kim Lee | Example Inc. | +1 555 0100
--XX
Content-Type: image/png
Content-Disposition: attachment; filename=\"empty-export.png\"
Content-Transfer-Encoding: base64

iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==
--XX--
";

async fn a_mail_becomes_a_ticket_and_its_sender_is_told_the_key(url: &str) {
    let h = harness(url, true).await;
    h.mailbox.deliver(FIRST);
    h.poll().await;
    let tickets = h.tickets().await;
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let t = &tickets[0];
    assert_eq!((t.project.as_str(), t.title.as_str()), ("APP", "Export to CSV fails"));
    assert!(
        t.description.starts_with("Exporting the orders report to CSV gives an empty file.\n\nThanks,\nKim"),
        "{}",
        t.description
    );
    assert!(!t.description.contains("+1 555 0100"), "the signature is stripped: {}", t.description);
    assert!(t.description.contains("From Kim Lee <kim@example.com> by email."), "{}", t.description);
    assert!(t.description.contains("empty-export.png (image/png, 70 B)"), "{}", t.description);
    let reporters = h.app.store.reporters_of(&h.app.workspace(), t.key.as_str()).await.unwrap();
    assert_eq!(reporters[0].address, "kim@example.com");
    assert_eq!(h.mailbox.unread(), 0, "handled mail is marked read");

    let sent = h.smtp.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].to, ["kim@example.com"]);
    let subject = sent[0].header("Subject").unwrap();
    assert!(subject.contains(&format!("[{}]", t.key)), "{subject}");
    assert_eq!(sent[0].header("In-Reply-To").as_deref(), Some("<first-1@example.com>"));
    assert_eq!(sent[0].header("Auto-Submitted").as_deref(), Some("auto-replied"));
    assert!(sent[0].text().contains(&format!("We are tracking this as {}", t.key)), "{}", sent[0].data);
}

async fn answers_become_comments_on_their_ticket(url: &str) {
    let h = harness(url, true).await;
    h.mailbox.deliver(FIRST);
    h.poll().await;
    let key = h.tickets().await[0].key.clone();
    let ack = h.smtp.sent()[0].header("Message-ID").unwrap();
    // An answer to pmbot's acknowledgement: threaded by In-Reply-To.
    h.mailbox.deliver(&format!(
        "From: Kim Lee <kim@example.com>\nSubject: Re: [{key}] Export to CSV fails\nMessage-ID: <second-2@example.com>\nIn-Reply-To: {ack}\nReferences: <first-1@example.com> {ack}\n\nIt also happens with the invoices report.\n\nOn Tue, 1 Dec 2026, Acme Support wrote:\n> We are tracking this as {key}.\n"
    ));
    // A colleague's new mail naming the key in its subject.
    h.mailbox.deliver(&format!(
        "From: Lou <lou@example.com>\nSubject: About {key}\nMessage-ID: <third-3@example.com>\n\nSame here since Monday.\n"
    ));
    h.poll().await;
    assert_eq!(h.tickets().await.len(), 1, "answers open no ticket");
    let comments = h.comments(&key).await;
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert_eq!(comments[0], "Email from Kim Lee <kim@example.com>:\n\nIt also happens with the invoices report.");
    assert!(comments[1].contains("lou@example.com") && comments[1].contains("Same here since Monday."));
    assert_eq!(h.smtp.sent().len(), 1, "answers are not acknowledged again");
}

async fn automatic_mail_is_left_alone_and_nothing_is_handled_twice(url: &str) {
    let h = harness(url, true).await;
    h.mailbox.deliver("From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <bounce-1@mx.example>\n\nThe mail could not be delivered.\n");
    h.mailbox.deliver("From: ooo@example.com\nAuto-Submitted: auto-replied\nSubject: Out of office\nMessage-ID: <ooo-1@example.com>\n\nBack on Monday.\n");
    h.mailbox.deliver(FIRST);
    h.poll().await;
    h.poll().await;
    assert_eq!(h.tickets().await.len(), 1);
    assert_eq!(h.smtp.sent().len(), 1, "no answer to robots, one to Kim");
    let log = h.app.store.decisions(&h.app.workspace(), None, 100).await.unwrap();
    assert_eq!(log.iter().filter(|d| d.kind == "email.skip").count(), 2, "{log:#?}");
    // An answer to a message that was left alone threads nowhere: it is a ticket of its own.
    h.mailbox.deliver("From: ooo@example.com\nSubject: Re: Out of office\nMessage-ID: <ooo-2@example.com>\nIn-Reply-To: <ooo-1@example.com>\n\nI am back; the export still fails.\n");
    h.poll().await;
    assert_eq!(h.tickets().await.len(), 2);
    assert_eq!(h.mailbox.unread(), 0, "nothing is stuck");
    // The same message delivered again (a copy in the mailbox) is not a second ticket.
    h.mailbox.deliver(FIRST);
    h.poll().await;
    assert_eq!(h.tickets().await.len(), 2);
    assert_eq!(h.mailbox.unread(), 0);
}

async fn an_untrusted_server_is_not_read(url: &str) {
    let h = harness(url, false).await;
    h.mailbox.deliver(FIRST);
    h.poll().await;
    assert!(h.tickets().await.is_empty());
    assert_eq!(h.mailbox.unread(), 1, "the mail waits for a server pmbot can trust");
    let jobs = h.app.store.jobs(&h.app.workspace(), None, None, 10).await.unwrap();
    let job = jobs.iter().find(|j| j.kind == "email.poll").unwrap();
    assert!(job.errors.iter().any(|e| e.message.contains("TLS")), "{job:#?}");
}

async fn the_reporter_hears_by_mail_when_it_is_fixed(url: &str) {
    let h = harness(url, true).await;
    h.mailbox.deliver(FIRST);
    h.poll().await;
    let key = h.tickets().await[0].key.clone();
    let env = h.app.job_env(Arc::new(RecordingChat::default()));
    let news = pmbot::intake::reply::News::Deployed;
    pmbot::intake::reply::tell_reporters(&env, &key, 7, news, chrono::Utc::now()).await.unwrap();
    pmbot::intake::reply::tell_reporters(&env, &key, 7, news, chrono::Utc::now()).await.unwrap();
    let sent = h.smtp.sent();
    assert_eq!(sent.len(), 2, "the key, then the news once: {sent:#?}");
    assert_eq!(sent[1].to, ["kim@example.com"]);
    assert!(sent[1].text().contains("“Export to CSV fails” is fixed and deployed"), "{}", sent[1].data);
    let reporters = h.app.store.reporters_of(&h.app.workspace(), key.as_str()).await.unwrap();
    assert!(reporters[0].told_at.is_some());
}
