//! Exactly once under retries and crashes: a failure is injected at each point between two
//! writes (`Store::fail_at`), the work is run again as the queue would, and the effects are
//! counted. Each test on SQLite and on PostgreSQL.

mod common;

use chrono::Duration;
use common::{t0, text_of, RecordingChat};
use pmbot::app::App;
use pmbot::board::Status;
use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
use pmbot::dispatch::Bot;
use pmbot::jobs::JobEnv;
use pmbot::queue::{Clock, Worker};
use pmbot::store::DecisionFilter;
use pmbot::workflows::agents::{self, Agent, Sent};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

on_both_backends!(
    url:
    a_failed_commit_changes_nothing_and_the_next_try_changes_once,
    a_conversation_change_that_failed_to_commit_is_made_once_on_the_retry,
    a_reply_lost_after_the_change_is_said_once_on_the_retry,
    an_approval_decided_again_by_the_same_delivery_answers_the_same,
    an_undo_that_failed_to_commit_leaves_the_change_and_undoes_once_later,
    triage_run_again_finds_its_open_request,
    an_agent_message_sent_before_a_crash_is_sent_at_most_once_more,
);

struct Fixture {
    app: App,
    bot: Bot,
    chat: Arc<RecordingChat>,
}

async fn fixture(url: &str) -> Fixture {
    let app = common::seeded_app(url, |_| {}).await;
    Fixture { bot: app.bot(), app, chat: Arc::new(RecordingChat::default()) }
}

fn next_ts() -> String {
    static SENT: AtomicU64 = AtomicU64::new(1);
    format!("1700000300.{:06}", SENT.fetch_add(1, Ordering::SeqCst))
}

fn origin(user: &str) -> Origin {
    Origin { platform: Platform::Shell, channel: "#acme-web".into(), user: user.into(), ts: next_ts(), thread: None }
}

impl Fixture {
    /// A worker whose clock reads `minutes` after t0: retries are due by then.
    fn worker_at(&self, minutes: i64) -> Worker<JobEnv<RecordingChat>> {
        let clock: Clock = Arc::new(move || t0() + Duration::minutes(minutes));
        self.app.worker(self.chat.clone()).unwrap().with_clock(clock)
    }

    async fn comments(&self, key: &str) -> usize {
        self.app.store.comments(&self.app.workspace(), &key.parse().unwrap()).await.unwrap().len()
    }

    async fn status(&self, key: &str) -> Status {
        self.app.store.ticket(&self.app.workspace(), &key.parse().unwrap()).await.unwrap().status
    }

    /// Ana says WEB-5 shipped, a failure is armed at `point`, and the conversation job runs,
    /// then its retries (an hour and two later).
    async fn ana_ships_web5_failing_at(&self, point: &str) {
        let said = Inbound::Message { origin: origin("ana"), text: "WEB-5 is merged and deployed".into() };
        self.bot.handle(&said, t0()).await;
        self.app.store.fail_at(point);
        self.worker_at(0).run_until_idle().await;
    }

    async fn retries(&self) {
        self.worker_at(60).run_until_idle().await;
        self.worker_at(120).run_until_idle().await;
    }

    async fn times_moved_to_done(&self, key: &str) -> usize {
        let history = self.app.store.history(&self.app.workspace(), &key.parse().unwrap()).await.unwrap();
        history.iter().filter(|t| t.to == Status::Done).count()
    }

    async fn decisions(&self, kind: &str) -> Vec<pmbot::store::Decision> {
        let filter = DecisionFilter { kind_prefix: Some(kind.into()), ..DecisionFilter::default() };
        self.app.store.find_decisions(&self.app.workspace(), &filter).await.unwrap()
    }
}

async fn a_failed_commit_changes_nothing_and_the_next_try_changes_once(url: &str) {
    let f = fixture(url).await;
    let before = f.comments("WEB-3").await;
    let comment =
        |origin| Inbound::SlashCommand { origin, command: "/pm".into(), text: "comment WEB-3 ready for QA".into() };
    f.app.store.fail_at("board.before_commit");
    let out = f.bot.handle(&comment(origin("ana")), t0()).await;
    assert!(text_of(&out).contains("nothing was changed"), "{}", text_of(&out));
    assert_eq!(f.comments("WEB-3").await, before, "the comment and its log row rolled back together");
    assert!(f.decisions("ticket.comment").await.is_empty());

    // The same delivery run again (a retried job) comments once; a third run adds nothing.
    let keyed = f.bot.clone().keyed("Ev-77");
    let first = comment(origin("ana"));
    keyed.handle(&first, t0()).await;
    let again = keyed.handle(&first, t0()).await;
    assert!(text_of(&again).contains("Ana Sousa commented on *WEB-3*"), "answered again: {}", text_of(&again));
    assert_eq!(f.comments("WEB-3").await, before + 1);
    assert_eq!(f.decisions("ticket.comment").await.len(), 1);

    // A retried create makes one ticket, and its triage request once.
    let tickets = f.app.store.tickets(&f.app.workspace(), &Default::default()).await.unwrap().len();
    let create = Inbound::SlashCommand {
        origin: origin("ben"),
        command: "/pm".into(),
        text: "create \"Export invoices\"".into(),
    };
    let keyed = f.bot.clone().keyed("Ev-78");
    let one = keyed.handle(&create, t0()).await;
    let two = keyed.handle(&create, t0()).await;
    assert_eq!(text_of(&one), text_of(&two), "the same answer both times");
    assert_eq!(f.app.store.tickets(&f.app.workspace(), &Default::default()).await.unwrap().len(), tickets + 1);
    let jobs = f.app.store.jobs(&f.app.workspace(), None, None, 1000).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == "ticket.triage").count(), 1);
}

async fn a_conversation_change_that_failed_to_commit_is_made_once_on_the_retry(url: &str) {
    let f = fixture(url).await;
    f.ana_ships_web5_failing_at("board.before_commit").await;
    assert_eq!(f.status("WEB-5").await, Status::InReview, "the move rolled back with its decision's outcome");
    assert!(f.chat.texts().is_empty(), "nothing was said about a change that did not happen");
    f.retries().await;
    assert_eq!(f.status("WEB-5").await, Status::Done);
    assert_eq!(f.times_moved_to_done("WEB-5").await, 1, "moved once");
    assert_eq!(f.chat.texts().len(), 1, "said once: {:?}", f.chat.texts());
    assert_eq!(f.decisions("conversation.match").await[0].outcome, "done");
}

async fn a_reply_lost_after_the_change_is_said_once_on_the_retry(url: &str) {
    let f = fixture(url).await;
    f.ana_ships_web5_failing_at("conversation.before_reply").await;
    assert_eq!(f.status("WEB-5").await, Status::Done, "the move committed");
    assert!(f.chat.texts().is_empty(), "the reply was lost with the crash");
    f.retries().await;
    let replies: Vec<_> = f.chat.texts().into_iter().filter(|(_, t)| t.starts_with("✓ Moved *WEB-5*")).collect();
    assert_eq!(replies.len(), 1, "said once on the retry: {replies:?}");
    assert_eq!(f.times_moved_to_done("WEB-5").await, 1, "and moved once");
    assert!(f.chat.last_with_buttons().unwrap().buttons().any(|b| b.label == "Undo"));
}

async fn an_approval_decided_again_by_the_same_delivery_answers_the_same(url: &str) {
    let f = fixture(url).await;
    let create = Inbound::SlashCommand {
        origin: origin("ben"),
        command: "/pm".into(),
        text: "create \"Export invoices\"".into(),
    };
    f.bot.handle(&create, t0()).await;
    f.worker_at(0).run_until_idle().await;
    let card = f.chat.last_with_buttons().expect("the triage card");
    let accept = card.buttons().next().unwrap().clone();
    let press = Inbound::Action {
        origin: origin("pat"),
        action_id: accept.action_id,
        value: accept.value,
        message: MessageRef { channel: "#acme-web".into(), ts: "card".into() },
        trigger: None,
    };
    let keyed = f.bot.clone().keyed("Ev-press-1");
    let first = keyed.handle(&press, t0()).await;
    let again = keyed.handle(&press, t0()).await;
    assert!(text_of(&first).contains("Pat Morgan approved"), "{}", text_of(&first));
    assert_eq!(text_of(&first), text_of(&again), "a retry answers the same, not 'already decided'");
    assert_eq!(f.decisions("approval.decide").await.len(), 1);
}

async fn an_undo_that_failed_to_commit_leaves_the_change_and_undoes_once_later(url: &str) {
    let f = fixture(url).await;
    let said = Inbound::Message { origin: origin("ana"), text: "WEB-5 is merged and deployed".into() };
    f.bot.handle(&said, t0()).await;
    f.worker_at(0).run_until_idle().await;
    assert_eq!(f.status("WEB-5").await, Status::Done);
    let card = f.chat.last_with_buttons().unwrap();
    let undo = card.buttons().find(|b| b.label == "Undo").unwrap().clone();
    let press = || Inbound::Action {
        origin: origin("ana"),
        action_id: undo.action_id.clone(),
        value: undo.value.clone(),
        message: MessageRef { channel: "#acme-web".into(), ts: "card".into() },
        trigger: None,
    };
    f.app.store.fail_at("board.before_commit");
    let failed = f.bot.handle(&press(), t0()).await;
    assert!(text_of(&failed).contains("nothing was changed"), "{}", text_of(&failed));
    assert_eq!(f.status("WEB-5").await, Status::Done, "not undone");
    assert_eq!(f.decisions("conversation.match").await[0].outcome, "done", "and not recorded as undone");
    assert!(f.decisions("conversation.undo").await.is_empty());

    let out = f.bot.handle(&press(), t0()).await;
    let [Outbound::Update { .. }] = &out[..] else { panic!("{out:?}") };
    assert_eq!(f.status("WEB-5").await, Status::InReview);
    assert_eq!(f.decisions("conversation.match").await[0].outcome, "undone");
    let again = f.bot.handle(&press(), t0()).await;
    assert!(text_of(&again).contains("There is nothing to undo"), "{}", text_of(&again));
    assert_eq!(f.decisions("conversation.undo").await.len(), 1);
}

async fn triage_run_again_finds_its_open_request(url: &str) {
    let f = fixture(url).await;
    let create = Inbound::SlashCommand {
        origin: origin("ben"),
        command: "/pm".into(),
        text: "create \"Export invoices\"".into(),
    };
    f.bot.handle(&create, t0()).await;
    f.app.store.fail_at("triage.before_card");
    f.worker_at(0).run_until_idle().await;
    f.worker_at(60).run_until_idle().await;
    let pending = f.app.store.pending_approvals(&f.app.workspace()).await.unwrap();
    assert_eq!(pending.len(), 1, "one request, not one per try: {pending:?}");
    let cards: Vec<_> = f.chat.texts().into_iter().filter(|(_, t)| t.contains("Export invoices")).collect();
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(f.decisions("approval.open").await.len(), 1);
}

async fn an_agent_message_sent_before_a_crash_is_sent_at_most_once_more(url: &str) {
    let f = fixture(url).await;
    let (ws, at) = (f.app.workspace(), t0() + Duration::hours(1));
    let plan = agents::plan(Agent::Compliance, &f.app.store, &ws, &f.app.config, &f.app.templates, at).await.unwrap();
    let deliver = || agents::deliver(&plan, &f.app.store, &ws, &f.app.config, f.chat.as_ref(), at, false);
    f.app.store.fail_at("agent.after_send");
    assert!(deliver().await.is_err(), "the crash between sending and recording");
    assert_eq!(f.chat.texts().len(), 1, "the first DM went out");
    assert_eq!(deliver().await.unwrap(), [Sent::Sent, Sent::Sent, Sent::Sent]);
    assert_eq!(deliver().await.unwrap(), [Sent::Already, Sent::Already, Sent::Already]);
    let to: Vec<String> = f.chat.texts().into_iter().map(|(to, _)| to).collect();
    assert_eq!(to, ["@ben", "@ben", "@chloe", "@pat"], "one duplicate at most, then nothing new");
}
