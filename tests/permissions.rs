//! The permission table (`service::rules`, README "Who may do what"), row by row, through
//! the doors people use: commands, buttons, forms and plain chat. Every refusal changes
//! nothing and is in the decision log with who and why. Each test on SQLite and PostgreSQL.

mod common;

use common::{t0, text_of, RecordingChat};
use pmbot::board::Status;
use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
use pmbot::dispatch::Bot;
use pmbot::jobs::JobEnv;
use pmbot::queue::{Clock, Worker};
use pmbot::store::{Decision, DecisionFilter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

on_both_backends!(
    url:
    a_stranger_changes_nothing_by_command_button_or_plain_chat,
    members_create_and_comment,
    leaving_the_backlog_is_for_pms_and_leads_by_any_path,
    members_move_only_their_own_tickets_between_working_statuses,
    members_take_free_tickets_but_do_not_hand_them_out,
    forms_open_only_for_those_who_may_decide,
    a_member_cannot_move_a_ticket_by_chat_that_they_could_not_move_by_hand,
    strangers_read_the_board_but_not_the_teams_conversations,
    a_private_channels_words_are_never_quoted_elsewhere,
);

struct Fixture {
    bot: Bot,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
}

async fn fixture(url: &str) -> Fixture {
    fixture_with(url, |_| {}).await
}

async fn fixture_with(url: &str, change: impl FnOnce(&mut pmbot::config::Config)) -> Fixture {
    let app = common::seeded_app(url, change).await;
    let chat = Arc::new(RecordingChat::default());
    let clock: Clock = Arc::new(t0);
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    Fixture { bot: app.bot(), worker, chat }
}

fn origin(user: &str) -> Origin {
    origin_in(user, "#acme-web")
}

fn origin_in(user: &str, channel: &str) -> Origin {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let ts = format!("1700000400.{:06}", NEXT.fetch_add(1, Ordering::SeqCst));
    Origin { platform: Platform::Shell, channel: channel.into(), user: user.into(), ts, thread: None }
}

impl Fixture {
    async fn command(&self, user: &str, text: &str) -> String {
        let inbound = Inbound::SlashCommand { origin: origin(user), command: "/pm".into(), text: text.into() };
        let out = self.bot.handle(&inbound, t0()).await;
        self.worker.run_until_idle().await;
        text_of(&out)
    }

    async fn press(&self, user: &str, action_id: &str, value: &str) -> Vec<Outbound> {
        let inbound = Inbound::Action {
            origin: origin(user),
            action_id: action_id.into(),
            value: value.into(),
            message: MessageRef { channel: "#acme-web".into(), ts: "card".into() },
            trigger: None,
        };
        let out = self.bot.handle(&inbound, t0()).await;
        self.worker.run_until_idle().await;
        out
    }

    async fn say(&self, user: &str, text: &str) {
        self.bot.handle(&Inbound::Message { origin: origin(user), text: text.into() }, t0()).await;
        self.worker.run_until_idle().await;
    }

    async fn status(&self, key: &str) -> Status {
        self.ticket(key).await.status
    }

    async fn ticket(&self, key: &str) -> pmbot::board::Ticket {
        self.bot.store.ticket(&self.bot.workspace, &key.parse().unwrap()).await.unwrap()
    }

    async fn comments(&self, key: &str) -> usize {
        self.bot.store.comments(&self.bot.workspace, &key.parse().unwrap()).await.unwrap().len()
    }

    async fn tickets(&self) -> usize {
        self.bot.store.tickets(&self.bot.workspace, &Default::default()).await.unwrap().len()
    }

    /// The newest refusal about `subject`: (kind, actor, rationale).
    async fn refusal(&self, subject: &str) -> (String, String, String) {
        let filter = DecisionFilter { subject: Some(subject.into()), limit: 20, ..DecisionFilter::default() };
        let log: Vec<Decision> = self.bot.store.find_decisions(&self.bot.workspace, &filter).await.unwrap();
        let refused = log.into_iter().find(|d| d.outcome == "refused").expect("a refusal in the decision log");
        (refused.kind, refused.actor, refused.rationale)
    }
}

async fn a_stranger_changes_nothing_by_command_button_or_plain_chat(url: &str) {
    let f = fixture(url).await;
    let tickets = f.tickets().await;
    let said = f.command("zoe", "create \"sneaky\"").await;
    assert!(said.contains("I don't know you yet (shell user zoe)"), "{said}");
    assert_eq!(f.tickets().await, tickets);
    assert!(f.command("zoe", "move APP-8 to done").await.contains("I don't know you yet"));
    assert_eq!(f.status("APP-8").await, Status::Todo);
    assert_eq!(f.refusal("APP-8").await.0, "ticket.move");
    let comments = f.comments("WEB-5").await;
    assert!(f.command("zoe", "comment WEB-5 lgtm").await.contains("I don't know you yet"));
    assert_eq!(f.comments("WEB-5").await, comments);
    let pressed = f.press("zoe", "ticket.move", "APP-6:in_review").await;
    assert!(text_of(&pressed).contains("I don't know you yet"), "{}", text_of(&pressed));
    assert_eq!(f.status("APP-6").await, Status::InProgress);
    let (kind, actor, why) = f.refusal("APP-6").await;
    assert_eq!((kind.as_str(), actor.as_str()), ("ticket.move", "shell:zoe"));
    assert!(why.contains("pmbot.toml"), "{why}");
    f.press("zoe", "ticket.assign_me", "APP-11").await;
    assert_eq!(f.ticket("APP-11").await.assignee, None);
    assert!(f.command("zoe", "assign APP-12 to me").await.contains("I don't know you yet"));
    assert_eq!(f.refusal("APP-12").await.0, "ticket.assign", "refused and logged");

    // Plain chat: stored, logged as ignored, and nothing moves, gets a comment or is created.
    let before = f.chat.texts().len();
    f.say("zoe", "WEB-5 is merged and deployed").await;
    f.say("zoe", "could we add an export to CSV on the orders page?").await;
    assert_eq!(f.status("WEB-5").await, Status::InReview);
    assert_eq!(f.comments("WEB-5").await, comments);
    assert_eq!(f.tickets().await, tickets);
    assert_eq!(f.chat.texts().len(), before, "nothing said, nothing suggested");
    let filter = DecisionFilter { kind_prefix: Some("conversation.match".into()), ..DecisionFilter::default() };
    let log = f.bot.store.find_decisions(&f.bot.workspace, &filter).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d.outcome == "ignored: unknown author"), "{log:?}");
}

async fn members_create_and_comment(url: &str) {
    let f = fixture(url).await;
    let tickets = f.tickets().await;
    assert!(f.command("ben", "create \"Export invoices\"").await.contains("Export invoices"));
    assert_eq!(f.tickets().await, tickets + 1);
    let comments = f.comments("WEB-5").await;
    assert!(f.command("ben", "comment WEB-5 seen it on staging too").await.contains("commented on *WEB-5*"));
    assert_eq!(f.comments("WEB-5").await, comments + 1);
}

async fn leaving_the_backlog_is_for_pms_and_leads_by_any_path(url: &str) {
    let f = fixture(url).await;
    let said = f.command("ben", "move WEB-20 to todo").await;
    assert!(said.contains("⛔ Moving a ticket out of the backlog is triage, for a PM or lead"), "{said}");
    let pressed = f.press("ben", "ticket.move", "WEB-19:in_progress").await;
    assert!(text_of(&pressed).contains("⛔"), "{}", text_of(&pressed));
    assert_eq!((f.status("WEB-20").await, f.status("WEB-19").await), (Status::Backlog, Status::Backlog));
    let (kind, actor, why) = f.refusal("WEB-20").await;
    assert_eq!((kind.as_str(), actor.as_str()), ("ticket.move", "ben"));
    assert!(why.contains("triage"), "{why}");
    f.command("ana", "move WEB-20 to todo").await;
    f.press("pat", "ticket.move", "WEB-19:in_progress").await;
    assert_eq!((f.status("WEB-20").await, f.status("WEB-19").await), (Status::Todo, Status::InProgress));
}

async fn members_move_only_their_own_tickets_between_working_statuses(url: &str) {
    let f = fixture(url).await;
    f.command("ben", "move APP-8 to in_progress").await;
    assert_eq!(f.status("APP-8").await, Status::InProgress, "his own, todo → in progress");
    f.press("ben", "ticket.move", "APP-6:in_review").await;
    assert_eq!(f.status("APP-6").await, Status::InReview, "his own, by button");
    let said = f.command("ben", "move WEB-11 to in_progress").await;
    assert!(said.contains("⛔ Members move only their own tickets"), "{said}");
    assert_eq!(f.status("WEB-11").await, Status::Todo);
    let said = f.command("ben", "move APP-8 to cancelled").await;
    assert!(said.contains("⛔"), "{said}");
    assert_eq!(f.status("APP-8").await, Status::InProgress);
    assert!(f.refusal("APP-8").await.2.contains("between to do, in progress"));
    f.command("ana", "move WEB-11 to in_progress").await;
    assert_eq!(f.status("WEB-11").await, Status::InProgress, "a lead moves anyone's");
}

async fn members_take_free_tickets_but_do_not_hand_them_out(url: &str) {
    let f = fixture(url).await;
    f.press("ben", "ticket.assign_me", "APP-11").await;
    assert_eq!(f.ticket("APP-11").await.assignee.as_deref(), Some("ben"), "a free ticket is taken");
    let taken = f.press("ben", "ticket.assign_me", "WEB-11").await;
    assert!(text_of(&taken).contains("⛔ That ticket is someone else's"), "{}", text_of(&taken));
    assert_eq!(f.ticket("WEB-11").await.assignee.as_deref(), Some("dev"), "Dev's stays Dev's");
    let said = f.command("ben", "assign WEB-12 to chloe").await;
    assert!(said.contains("⛔ Members take tickets for themselves"), "{said}");
    assert_eq!(f.ticket("WEB-12").await.assignee, None);
    assert_eq!(f.refusal("WEB-12").await.0, "ticket.assign");
    let handed = f.command("ben", "assign APP-8 to chloe").await;
    assert!(handed.contains("⛔"), "his own, but not his to hand out: {handed}");
    assert_eq!(f.ticket("APP-8").await.assignee.as_deref(), Some("ben"));
    f.command("ben", "assign APP-8 to nobody").await;
    assert_eq!(f.ticket("APP-8").await.assignee, None, "he may give it up");
    f.command("pat", "assign WEB-12 to chloe").await;
    assert_eq!(f.ticket("WEB-12").await.assignee.as_deref(), Some("chloe"));
}

async fn forms_open_only_for_those_who_may_decide(url: &str) {
    let f = fixture(url).await;
    f.command("ben", "create \"Export invoices\"").await;
    let card = f.chat.last_with_buttons().expect("the triage card");
    let changes = card.buttons().find(|b| b.label.starts_with("Needs changes")).unwrap().clone();
    let refused = f.press("ben", &changes.action_id, &changes.value).await;
    assert!(matches!(&refused[..], [Outbound::Ephemeral { .. }]), "no form for a member: {refused:?}");
    assert!(text_of(&refused).contains("⛔ Only a PM or lead can decide on this"), "{}", text_of(&refused));
    let opened = f.press("ana", &changes.action_id, &changes.value).await;
    assert!(matches!(&opened[..], [Outbound::Form { .. }]), "{opened:?}");
    let filter = DecisionFilter { kind_prefix: Some("approval.decide".into()), ..DecisionFilter::default() };
    let log = f.bot.store.find_decisions(&f.bot.workspace, &filter).await.unwrap();
    assert_eq!((log[0].outcome.as_str(), log[0].actor.as_str()), ("refused", "ben"));

    let epic = f.press("ben", "epic.pick", "APP-13").await;
    assert!(text_of(&epic).contains("⛔ Only a PM or lead can file tickets under epics"), "{}", text_of(&epic));
    assert_eq!(f.refusal("APP-13").await.0, "epic.assign");
}

async fn a_member_cannot_move_a_ticket_by_chat_that_they_could_not_move_by_hand(url: &str) {
    let f = fixture(url).await;
    // WEB-5 is Ana's: Ben saying it shipped is a suggestion for a PM or lead, not a move.
    f.say("ben", "WEB-5 is merged and deployed").await;
    assert_eq!(f.status("WEB-5").await, Status::InReview);
    let said = f.chat.texts().last().map(|(_, t)| t.clone()).unwrap_or_default();
    assert!(said.starts_with("💡 Should I move *WEB-5*"), "{said}");
    assert!(said.contains("A PM or lead can answer"), "not Ben: {said}");
    // Her own words move it.
    f.say("ana", "WEB-5 is merged and deployed").await;
    assert_eq!(f.status("WEB-5").await, Status::Done);
}

async fn strangers_read_the_board_but_not_the_teams_conversations(url: &str) {
    let f = fixture(url).await;
    f.say("chloe", "hey team, can we add a dark mode toggle to the site header? two clients asked").await;
    let team = f.command("pat", "standup").await;
    assert!(team.contains("dark mode toggle"), "the team sees untracked conversations: {team}");
    let outsider = f.command("zoe", "standup").await;
    assert!(outsider.contains("Standup"), "{outsider}");
    assert!(!outsider.contains("dark mode toggle"), "not someone outside the team: {outsider}");
    assert!(f.command("zoe", "board").await.contains("Apple Pay"), "the board is readable");
    let team_card = f.command("ana", "show WEB-5").await;
    let outsider_card = f.command("zoe", "show WEB-5").await;
    assert!(outsider_card.contains("WEB-5") && outsider_card.contains("Details and comments are for the team"));
    let comment = f.bot.store.comments(&f.bot.workspace, &"WEB-5".parse().unwrap()).await.unwrap()[0].body.clone();
    let quoted = comment.chars().take(20).collect::<String>();
    assert!(team_card.contains(&quoted) && !outsider_card.contains(&quoted), "{outsider_card}");
    let why = f.command("zoe", "why WEB-5").await;
    assert!(why.contains("the decision log quotes the team's conversations"), "{why}");
    assert_eq!(f.refusal("WEB-5").await.0, "decisions.read");
}

async fn a_private_channels_words_are_never_quoted_elsewhere(url: &str) {
    let f = fixture_with(url, |c| c.conversation.private_channels = vec!["#leads".into()]).await;
    let secret = "could we add a salary export for the finance team? confidential for now";
    f.bot.handle(&Inbound::Message { origin: origin_in("ana", "#leads"), text: secret.into() }, t0()).await;
    f.worker.run_until_idle().await;
    // The suggestion is made where it was said; the standup in #team lists it without its words.
    let standup = f.command("pat", "standup").await;
    assert!(standup.contains("a request Ana made in a private conversation"), "{standup}");
    assert!(!standup.contains("salary"), "{standup}");
    // Accepted, the ticket links instead of quoting.
    let card = f.chat.last_with_buttons().expect("the suggestion");
    let yes = card.buttons().find(|b| b.label == "Yes").unwrap().clone();
    let inbound = Inbound::Action {
        origin: origin_in("pat", "#leads"),
        action_id: yes.action_id,
        value: yes.value,
        message: MessageRef { channel: "#leads".into(), ts: "card".into() },
        trigger: None,
    };
    f.bot.handle(&inbound, t0()).await;
    f.worker.run_until_idle().await;
    let tickets = f.bot.store.tickets(&f.bot.workspace, &Default::default()).await.unwrap();
    let made = tickets.iter().find(|t| t.labels.contains(&"from-chat".to_string())).expect("a ticket from chat");
    assert!(made.description.contains("in a private conversation"), "{}", made.description);
    assert!(!made.description.contains("confidential"), "{}", made.description);
}
