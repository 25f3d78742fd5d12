//! The bot end to end through its platform-neutral door: inbound events in, outbound
//! messages out, on a real store (each test on SQLite and on PostgreSQL).

mod common;

use chrono::Duration;
use common::t0;
use pmbot::app::App;
use pmbot::board::Status;
use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
use pmbot::config::{load::parse, BUILT_IN};
use pmbot::dispatch::Bot;
use std::path::Path;

on_both_backends!(
    url:
    a_member_cannot_triage_and_the_refusal_is_logged,
    a_pm_triages_with_a_button_and_the_card_updates_in_place,
    a_second_triage_press_changes_nothing_and_says_why,
    a_standup_for_one_person_shows_only_their_work,
    an_unknown_command_gets_help_with_a_suggestion,
    a_stranger_can_read_but_not_change_the_board,
    messages_the_bot_sees_are_stored_once,
);

async fn bot(url: &str) -> Bot {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(url)).await.unwrap();
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, t0(), false)
        .await
        .unwrap();
    app.bot()
}

fn origin(user: &str, ts: &str) -> Origin {
    Origin {
        platform: Platform::Shell,
        channel: "#acme-web".into(),
        user: user.into(),
        ts: ts.into(),
        thread: None,
    }
}

fn mention(user: &str, text: &str) -> Inbound {
    Inbound::Mention {
        origin: origin(user, &format!("1.{}", text.len())),
        text: text.into(),
    }
}

fn press(user: &str, action_id: &str, value: &str) -> Inbound {
    let message = MessageRef {
        channel: "#acme-web".into(),
        ts: "card-1".into(),
    };
    Inbound::Action {
        origin: origin(user, "2.0"),
        action_id: action_id.into(),
        value: value.into(),
        message,
    }
}

fn text_of(out: &[Outbound]) -> String {
    out.iter()
        .map(|o| match o {
            Outbound::Reply { message, .. }
            | Outbound::Ephemeral { message, .. }
            | Outbound::Update { message, .. }
            | Outbound::Dm { message, .. } => message.fallback_text(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Creates a ticket from chat as Ben and returns its key.
async fn create_as_ben(bot: &Bot) -> String {
    let out = bot
        .handle(
            &mention("ben", "@pmbot create \"Export invoices as CSV\""),
            t0(),
        )
        .await;
    let Some(Outbound::Reply { message, .. }) = out.first() else {
        panic!("expected a reply: {out:?}")
    };
    let value = message
        .buttons()
        .next()
        .expect("triage buttons")
        .value
        .clone();
    value.split(':').next().unwrap().to_string()
}

async fn a_member_cannot_triage_and_the_refusal_is_logged(url: &str) {
    let bot = bot(url).await;
    let key = create_as_ben(&bot).await;
    let out = bot
        .handle(&press("ben", "ticket.triage", &format!("{key}:todo")), t0())
        .await;
    assert!(matches!(&out[..], [Outbound::Ephemeral { .. }]), "{out:?}");
    assert!(text_of(&out).contains("Only a PM or lead can triage"));
    let ticket = bot
        .store
        .ticket(&bot.workspace, &key.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(ticket.status, Status::Backlog);
    let log = bot
        .store
        .decisions(&bot.workspace, Some(&key), 10)
        .await
        .unwrap();
    assert_eq!(
        (
            log[0].kind.as_str(),
            log[0].outcome.as_str(),
            log[0].actor.as_str()
        ),
        ("ticket.triage", "refused", "ben")
    );
}

async fn a_pm_triages_with_a_button_and_the_card_updates_in_place(url: &str) {
    let bot = bot(url).await;
    let key = create_as_ben(&bot).await;
    let out = bot
        .handle(
            &press("pat", "ticket.triage", &format!("{key}:todo")),
            t0() + Duration::minutes(1),
        )
        .await;
    let [Outbound::Update { target, message }] = &out[..] else {
        panic!("expected an update: {out:?}")
    };
    assert_eq!(target.ts, "card-1");
    assert_eq!(message.buttons().count(), 0, "the buttons disappear");
    assert!(message
        .fallback_text()
        .contains("Triaged by Pat Morgan: accepted it into to do"));
    let history = bot
        .store
        .history(&bot.workspace, &key.parse().unwrap())
        .await
        .unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.to, last.actor.as_str(), last.reason.as_deref()),
        (Status::Todo, "pat", Some("triage"))
    );
}

async fn a_second_triage_press_changes_nothing_and_says_why(url: &str) {
    let bot = bot(url).await;
    let key = create_as_ben(&bot).await;
    bot.handle(&press("pat", "ticket.triage", &format!("{key}:todo")), t0())
        .await;
    let out = bot
        .handle(
            &press("ana", "ticket.triage", &format!("{key}:cancelled")),
            t0(),
        )
        .await;
    assert!(
        text_of(&out).contains("was already triaged: it is to do now. Nothing changed."),
        "{}",
        text_of(&out)
    );
    let ticket = bot
        .store
        .ticket(&bot.workspace, &key.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(ticket.status, Status::Todo);
}

async fn a_standup_for_one_person_shows_only_their_work(url: &str) {
    let bot = bot(url).await;
    let out = bot
        .handle(
            &Inbound::SlashCommand {
                origin: origin("pat", "3.0"),
                command: "/standup".into(),
                text: "@eli".into(),
            },
            t0(),
        )
        .await;
    let text = text_of(&out);
    assert!(
        text.starts_with("Standup for Eli Novak · Monday 16 November"),
        "{text}"
    );
    assert!(text.contains("Apple Pay on the checkout screen"));
    assert!(!text.contains("Ana"), "no one else's work: {text}");
}

async fn an_unknown_command_gets_help_with_a_suggestion(url: &str) {
    let bot = bot(url).await;
    let out = bot.handle(&mention("ana", "@pmbot standpu"), t0()).await;
    assert!(matches!(&out[..], [Outbound::Ephemeral { .. }]));
    let text = text_of(&out);
    assert!(
        text.contains("I don't know the command \"standpu\""),
        "{text}"
    );
    assert!(text.contains("Did you mean `standup`?"), "{text}");
}

async fn a_stranger_can_read_but_not_change_the_board(url: &str) {
    let bot = bot(url).await;
    let stranger = |text: &str| Inbound::SlashCommand {
        origin: origin("zoe", "4.0"),
        command: "/pm".into(),
        text: text.into(),
    };
    let board = bot.handle(&stranger("board blocked"), t0()).await;
    assert!(text_of(&board).contains("Apple Pay"));
    let before = bot
        .store
        .tickets(&bot.workspace, &Default::default())
        .await
        .unwrap();
    let out = bot.handle(&stranger("create \"sneaky\""), t0()).await;
    assert!(
        text_of(&out).contains("I don't know you yet (shell user zoe)"),
        "{}",
        text_of(&out)
    );
    assert_eq!(
        bot.store
            .tickets(&bot.workspace, &Default::default())
            .await
            .unwrap(),
        before
    );
}

async fn messages_the_bot_sees_are_stored_once(url: &str) {
    let bot = bot(url).await;
    let before = bot.store.message_count(&bot.workspace).await.unwrap();
    let said = Inbound::Message {
        origin: origin("ana", "99.000001"),
        text: "WEB-5 is merged".into(),
    };
    assert!(
        bot.handle(&said, t0()).await.is_empty(),
        "plain chat gets no reply"
    );
    bot.handle(&said, t0()).await;
    assert_eq!(
        bot.store.message_count(&bot.workspace).await.unwrap(),
        before + 1
    );
}
