//! The bot end to end through its platform-neutral door: inbound events in, outbound
//! messages out, on a real store (each test on SQLite and on PostgreSQL).

mod common;

use chrono::Duration;
use common::{t0, text_of, RecordingChat};
use pmbot::app::App;
use pmbot::board::Status;
use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
use pmbot::config::{load::parse, BUILT_IN};
use pmbot::dispatch::Bot;
use pmbot::jobs::JobEnv;
use pmbot::queue::scheduler::Scheduler;
use pmbot::queue::{Clock, Worker};
use std::path::Path;
use std::sync::Arc;

on_both_backends!(
    url:
    a_member_cannot_triage_and_the_refusal_is_logged,
    a_pm_triages_with_a_button_and_the_job_resumes,
    a_second_decision_changes_nothing_and_says_why,
    requested_changes_become_a_comment_by_command,
    an_expired_triage_resumes_the_job_which_says_so,
    the_scheduled_standup_is_posted_once_per_firing,
    a_personal_schedule_dms_the_standup_in_their_zone,
    a_standup_for_one_person_shows_only_their_work,
    an_unknown_command_gets_help_with_a_suggestion,
    a_stranger_can_read_but_not_change_the_board,
    messages_the_bot_sees_are_stored_once,
);

struct Fixture {
    bot: Bot,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
}

async fn fixture(url: &str) -> Fixture {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(url)).await.unwrap();
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, t0(), false).await.unwrap();
    let chat = Arc::new(RecordingChat::default());
    let clock: Clock = Arc::new(t0);
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    Fixture { bot: app.bot(), worker, chat }
}

async fn bot(url: &str) -> Bot {
    fixture(url).await.bot
}

fn origin(user: &str, ts: &str) -> Origin {
    Origin { platform: Platform::Shell, channel: "#acme-web".into(), user: user.into(), ts: ts.into(), thread: None }
}

fn mention(user: &str, text: &str) -> Inbound {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let ts = format!("1.{:06}", SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    Inbound::Mention { origin: origin(user, &ts), text: text.into() }
}

fn press(user: &str, action_id: &str, value: &str) -> Inbound {
    let message = MessageRef { channel: "#acme-web".into(), ts: "card-1".into() };
    Inbound::Action {
        origin: origin(user, "2.0"),
        action_id: action_id.into(),
        value: value.into(),
        message,
        trigger: None,
    }
}

/// Ben creates a ticket from chat; the triage job posts its card. Returns the ticket key
/// and the card's Accept button value (`<approval>:approve`).
async fn create_as_ben(f: &Fixture) -> (String, String) {
    let out = f.bot.handle(&mention("ben", "@pmbot create \"Export invoices as CSV\""), t0()).await;
    assert!(text_of(&out).starts_with("Created *WEB-"), "{}", text_of(&out));
    f.worker.run_until_idle().await;
    let card = f.chat.last_with_buttons().expect("the triage card");
    let text = card.fallback_text();
    let key = text.split_whitespace().nth(1).unwrap().trim_matches('*').to_string();
    let accept = card.buttons().next().unwrap().value.clone();
    (key, accept)
}

async fn status_of(bot: &Bot, key: &str) -> Status {
    bot.store.ticket(&bot.workspace, &key.parse().unwrap()).await.unwrap().status
}

async fn a_member_cannot_triage_and_the_refusal_is_logged(url: &str) {
    let f = fixture(url).await;
    let (key, accept) = create_as_ben(&f).await;
    let out = f.bot.handle(&press("ben", "approval.decide", &accept), t0()).await;
    assert!(matches!(&out[..], [Outbound::Ephemeral { .. }]), "{out:?}");
    assert!(text_of(&out).contains("Only a PM or lead can decide on this; you are a member. Nothing changed."));
    f.worker.run_until_idle().await;
    assert_eq!(status_of(&f.bot, &key).await, Status::Backlog);
    let log = f.bot.store.decisions(&f.bot.workspace, Some(&key), 10).await.unwrap();
    assert_eq!(
        (log[0].kind.as_str(), log[0].outcome.as_str(), log[0].actor.as_str()),
        ("approval.decide", "refused", "ben")
    );
}

async fn a_pm_triages_with_a_button_and_the_job_resumes(url: &str) {
    let f = fixture(url).await;
    let (key, accept) = create_as_ben(&f).await;
    let out = f.bot.handle(&press("pat", "approval.decide", &accept), t0()).await;
    let [Outbound::Update { target, message }] = &out[..] else { panic!("expected an update: {out:?}") };
    assert_eq!(target.ts, "card-1");
    assert_eq!(message.buttons().count(), 0, "the buttons disappear");
    assert!(message.fallback_text().starts_with("Decision: Pat Morgan approved"), "{}", message.fallback_text());
    assert_eq!(status_of(&f.bot, &key).await, Status::Backlog, "the parked job does the move");
    f.worker.run_until_idle().await;
    assert_eq!(status_of(&f.bot, &key).await, Status::Todo);
    let history = f.bot.store.history(&f.bot.workspace, &key.parse().unwrap()).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.actor.as_str(), last.reason.as_deref()), ("pat", Some("triage")));
    let (_, said) = f.chat.texts().pop().unwrap();
    assert!(said.contains("was accepted into to do by Pat Morgan"), "{said}");
}

async fn a_second_decision_changes_nothing_and_says_why(url: &str) {
    let f = fixture(url).await;
    let (key, accept) = create_as_ben(&f).await;
    f.bot.handle(&press("pat", "approval.decide", &accept), t0()).await;
    let reject = accept.replace(":approve", ":reject");
    let out = f.bot.handle(&press("ana", "approval.decide", &reject), t0()).await;
    assert_eq!(text_of(&out), "That request is closed: it was already approved. Nothing changed.");
    f.worker.run_until_idle().await;
    assert_eq!(status_of(&f.bot, &key).await, Status::Todo);
}

async fn requested_changes_become_a_comment_by_command(url: &str) {
    let f = fixture(url).await;
    let (key, accept) = create_as_ben(&f).await;
    let id = accept.split(':').next().unwrap();
    let out = f.bot.handle(&mention("ana", &format!("@pmbot changes {id} \"split export and import\"")), t0()).await;
    assert!(text_of(&out).starts_with("Decision: Ana Sousa asked for changes"), "{}", text_of(&out));
    f.worker.run_until_idle().await;
    assert_eq!(status_of(&f.bot, &key).await, Status::Backlog);
    let comments = f.bot.store.comments(&f.bot.workspace, &key.parse().unwrap()).await.unwrap();
    assert_eq!((comments[0].author.as_str(), comments[0].body.as_str()), ("ana", "split export and import"));
}

async fn an_expired_triage_resumes_the_job_which_says_so(url: &str) {
    let f = fixture(url).await;
    let (key, accept) = create_as_ben(&f).await;
    let Fixture { bot, worker, chat } = f;
    let later: Clock = Arc::new(|| t0() + Duration::hours(73));
    worker.with_clock(later).run_until_idle().await;
    assert_eq!(status_of(&bot, &key).await, Status::Backlog);
    let (_, said) = chat.texts().pop().unwrap();
    assert!(said.starts_with(&format!("✓ Nobody triaged *{key}*")), "{said}");
    let out = bot.handle(&press("pat", "approval.decide", &accept), t0() + Duration::hours(74)).await;
    assert_eq!(text_of(&out), "That request is closed: it expired before anyone decided. Nothing changed.");
}

async fn a_standup_for_one_person_shows_only_their_work(url: &str) {
    let bot = bot(url).await;
    let out = bot
        .handle(
            &Inbound::SlashCommand { origin: origin("pat", "3.0"), command: "/standup".into(), text: "@eli".into() },
            t0(),
        )
        .await;
    let text = text_of(&out);
    assert!(text.starts_with("Standup for Eli Novak · Monday 16 November"), "{text}");
    assert!(text.contains("Apple Pay on the checkout screen"));
    assert!(!text.contains("Ana"), "no one else's work: {text}");
}

async fn an_unknown_command_gets_help_with_a_suggestion(url: &str) {
    let bot = bot(url).await;
    let out = bot.handle(&mention("ana", "@pmbot standpu"), t0()).await;
    assert!(matches!(&out[..], [Outbound::Ephemeral { .. }]));
    let text = text_of(&out);
    assert!(text.contains("I don't know the command \"standpu\""), "{text}");
    assert!(text.contains("Did you mean `standup`?"), "{text}");
}

async fn a_stranger_can_read_but_not_change_the_board(url: &str) {
    let bot = bot(url).await;
    let stranger =
        |text: &str| Inbound::SlashCommand { origin: origin("zoe", "4.0"), command: "/pm".into(), text: text.into() };
    let board = bot.handle(&stranger("board blocked"), t0()).await;
    assert!(text_of(&board).contains("Apple Pay"));
    let before = bot.store.tickets(&bot.workspace, &Default::default()).await.unwrap();
    let out = bot.handle(&stranger("create \"sneaky\""), t0()).await;
    assert!(text_of(&out).contains("I don't know you yet (shell user zoe)"), "{}", text_of(&out));
    assert_eq!(bot.store.tickets(&bot.workspace, &Default::default()).await.unwrap(), before);
}

async fn messages_the_bot_sees_are_stored_once(url: &str) {
    let bot = bot(url).await;
    let before = bot.store.message_count(&bot.workspace).await.unwrap();
    let said = Inbound::Message { origin: origin("ana", "99.000001"), text: "WEB-5 is merged".into() };
    assert!(bot.handle(&said, t0()).await.is_empty(), "plain chat gets no reply");
    bot.handle(&said, t0()).await;
    assert_eq!(bot.store.message_count(&bot.workspace).await.unwrap(), before + 1);
}

async fn the_scheduled_standup_is_posted_once_per_firing(url: &str) {
    let f = fixture(url).await;
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let schedules = pmbot::jobs::schedules(&config);
    let catch_up = std::time::Duration::from_secs(3600);
    let (mut one, mut two) = (
        Scheduler::new(f.bot.store.clone(), schedules.clone(), catch_up),
        Scheduler::new(f.bot.store.clone(), schedules, catch_up),
    );
    // Monday 09:00 in New York is t0; both replicas tick just after it.
    one.tick(t0() + Duration::minutes(1)).await.unwrap();
    two.tick(t0() + Duration::minutes(2)).await.unwrap();
    f.worker.run_until_idle().await;
    let posts: Vec<_> =
        f.chat.texts().into_iter().filter(|(_, text)| text.starts_with("Standup · Monday 16 November")).collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].0, "#team");
}

async fn a_personal_schedule_dms_the_standup_in_their_zone(url: &str) {
    let f = fixture(url).await;
    let text =
        format!("{BUILT_IN}\n[[schedules]]\nname = \"ana-morning\"\ncron = \"30 8 * * MON-FRI\"\nperson = \"ana\"\n");
    let config = parse(Path::new("pmbot.toml"), &text).unwrap();
    let schedules: Vec<_> = pmbot::jobs::schedules(&config).into_iter().filter(|s| s.name == "ana-morning").collect();
    assert_eq!(schedules[0].timezone, chrono_tz::Europe::Lisbon, "Ana's own zone");
    let mut scheduler = Scheduler::new(f.bot.store.clone(), schedules, std::time::Duration::from_secs(3600));
    // 08:30 in Lisbon on Monday 16 November is 08:30 UTC.
    let lisbon_morning = t0() - Duration::hours(5) - Duration::minutes(29);
    scheduler.tick(lisbon_morning).await.unwrap();
    f.worker.run_until_idle().await;
    let dms: Vec<_> = f.chat.texts().into_iter().filter(|(to, _)| to == "@ana").collect();
    assert_eq!(dms.len(), 1, "{:?}", f.chat.texts());
    assert!(dms[0].1.starts_with("Standup for Ana Sousa · Monday 16 November"), "{}", dms[0].1);
}
