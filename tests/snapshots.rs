//! What people see, pinned: the standup and a card with buttons, as the terminal shows them
//! and as the platform-neutral message every adapter receives.

mod common;

use common::{t0, RecordingChat, TestDb};
use pmbot::app::App;
use pmbot::chat::shell::render::{render, Style};
use pmbot::chat::{Inbound, Origin, Outbound, Platform};
use pmbot::config::{load::parse, BUILT_IN};
use pmbot::workflows::standup;
use std::path::Path;

async fn seeded_app(db: &TestDb) -> App {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(&db.url)).await.unwrap();
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, t0(), false).await.unwrap();
    app
}

fn eli_in_mobile_app() -> Origin {
    Origin {
        platform: Platform::Shell,
        channel: "#mobile-app".into(),
        user: "eli".into(),
        ts: "1.0".into(),
        thread: None,
    }
}

#[tokio::test]
async fn mondays_team_standup() {
    let db = TestDb::sqlite().await;
    let app = seeded_app(&db).await;
    let message =
        standup::build(&app.store, &app.workspace(), &app.config, &app.templates, None, standup::Audience::Team, t0())
            .await
            .unwrap();
    insta::assert_snapshot!("standup_terminal", render("pmbot › #team", &message, Style::PLAIN, 1));
    insta::assert_snapshot!("standup_message", serde_json::to_string_pretty(&message).unwrap());
    let (blocks, fallback) = pmbot::chat::slack::render::blocks(&message);
    insta::assert_snapshot!("standup_block_kit", serde_json::to_string_pretty(&blocks).unwrap());
    assert!(fallback.starts_with("Standup · Monday 16 November"));
    db.finish().await;
}

#[tokio::test]
async fn a_ticket_card_with_its_buttons() {
    let db = TestDb::sqlite().await;
    let app = seeded_app(&db).await;
    let origin = eli_in_mobile_app();
    let out = app.bot().handle(&Inbound::Mention { origin, text: "@pmbot show APP-7".into() }, t0()).await;
    let [Outbound::Reply { message, .. }] = &out[..] else { panic!("{out:?}") };
    insta::assert_snapshot!("ticket_card_terminal", render("pmbot › #mobile-app", message, Style::PLAIN, 4));
    insta::assert_snapshot!(
        "ticket_card_colour",
        render("pmbot › #mobile-app", message, Style { color: true }, 1).escape_debug().to_string()
    );
    db.finish().await;
}

#[tokio::test]
async fn the_triage_card_a_pm_answers() {
    let db = TestDb::sqlite().await;
    let app = seeded_app(&db).await;
    let chat = std::sync::Arc::new(RecordingChat::default());
    let clock: pmbot::queue::Clock = std::sync::Arc::new(t0);
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    let origin = eli_in_mobile_app();
    let inbound =
        Inbound::Mention { origin, text: "@pmbot create “Haptic feedback on <order> confirm & pay”".into() };
    app.bot().handle(&inbound, t0()).await;
    worker.run_until_idle().await;
    let card = chat.last_with_buttons().expect("the triage card");
    insta::assert_snapshot!("triage_card_terminal", render("pmbot › #mobile-app", &card, Style::PLAIN, 1));
    insta::assert_snapshot!("triage_card_message", serde_json::to_string_pretty(&card).unwrap());
    let (blocks, _) = pmbot::chat::slack::render::blocks(&card);
    insta::assert_snapshot!("triage_card_block_kit", serde_json::to_string_pretty(&blocks).unwrap());
    db.finish().await;
}
