//! The PM agents end to end on a real store (SQLite and PostgreSQL): scheduled like the
//! worker runs them, sent through a chat, and never twice for the same period.

mod common;

use chrono::Duration;
use common::{t0, RecordingChat};
use pmbot::app::App;
use pmbot::config::{load::parse, BUILT_IN};
use pmbot::queue::scheduler::Scheduler;
use pmbot::queue::Clock;
use pmbot::store::Worklog;
use pmbot::workflows::agents::{self, Agent, Sent};
use std::path::Path;
use std::sync::Arc;

on_both_backends!(
    url:
    compliance_runs_twice_and_sends_one_set_of_messages,
    the_budget_alerts_once_per_threshold_and_escalates_at_100,
    a_failed_send_is_sent_again_on_the_retry,
    stuck_work_is_reported_once_a_day_and_each_dm_once,
    epic_cards_file_tickets_by_button_for_a_pm_only,
    forecast_variance_alerts_once_per_epic_and_month,
    a_forecast_by_month_shows_this_months_plan_and_the_plan_to_date,
    the_month_end_workbook_reads_back_with_its_totals,
    an_agent_with_nothing_to_report_stays_quiet_unless_asked,
);

async fn app(url: &str) -> App {
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(url)).await.unwrap();
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, t0(), false).await.unwrap();
    app
}

async fn compliance_runs_twice_and_sends_one_set_of_messages(url: &str) {
    let app = app(url).await;
    // Monday 16 November, 10:00 in New York: two schedulers tick, the worker runs what is due.
    let firing = t0() + Duration::hours(1);
    let schedules: Vec<_> =
        pmbot::jobs::schedules(&app.config).into_iter().filter(|s| s.name == "compliance").collect();
    let catch_up = std::time::Duration::from_secs(3600);
    let (mut one, mut two) = (
        Scheduler::new(app.store.clone(), schedules.clone(), catch_up),
        Scheduler::new(app.store.clone(), schedules, catch_up),
    );
    one.tick(firing + Duration::minutes(1)).await.unwrap();
    two.tick(firing + Duration::minutes(2)).await.unwrap();
    let chat = Arc::new(RecordingChat::default());
    let clock: Clock = Arc::new(move || firing + Duration::minutes(3));
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    worker.run_until_idle().await;
    let sent = chat.texts();
    let to: Vec<&str> = sent.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(to, ["@ben", "@chloe", "@pat"], "{sent:#?}");
    assert!(
        sent[0].1.starts_with("Hi Ben, last week (Monday 9 November – Sunday 15 November) you logged *20 h*"),
        "{}",
        sent[0].1
    );
    assert!(sent[0].1.contains("2 weeks in a row"), "{}", sent[0].1);
    assert!(sent[1].1.contains("*non-compliant*") && sent[1].1.contains("Tue 10 Nov: 8 h missing"), "{}", sent[1].1);
    assert!(
        sent[2].1.contains("Team compliance: 67%") && sent[2].1.contains("Ben Carter (2 weeks running)"),
        "{}",
        sent[2].1
    );

    // The same period again, by hand: nothing more is sent, and a dry run says so.
    let plan = agents::plan(Agent::Compliance, &app.store, &app.workspace(), &app.config, &app.templates, firing)
        .await
        .unwrap();
    let again =
        agents::deliver(&plan, &app.store, &app.workspace(), &app.config, chat.as_ref(), firing, false).await.unwrap();
    assert_eq!(again, [Sent::Already, Sent::Already, Sent::Already]);
    assert_eq!(chat.texts().len(), 3);
    let next_week = firing + Duration::weeks(1);
    let plan = agents::plan(Agent::Compliance, &app.store, &app.workspace(), &app.config, &app.templates, next_week)
        .await
        .unwrap();
    let dry = agents::deliver(&plan, &app.store, &app.workspace(), &app.config, chat.as_ref(), next_week, true)
        .await
        .unwrap();
    assert!(dry.iter().all(|s| *s == Sent::Would), "a new week is new: {dry:?}");
    assert_eq!(chat.texts().len(), 3, "a dry run sends nothing");
}

async fn the_budget_alerts_once_per_threshold_and_escalates_at_100(url: &str) {
    let app = app(url).await;
    let ws = app.workspace();
    let chat = RecordingChat::default();
    let run = |at| {
        let (app, chat, ws) = (&app, &chat, &ws);
        async move {
            let plan = agents::plan(Agent::Budget, &app.store, ws, &app.config, &app.templates, at).await.unwrap();
            agents::deliver(&plan, &app.store, ws, &app.config, chat, at, false).await.unwrap()
        }
    };
    // The seed leaves WEB near 80 % of its 80 h on the seed's day.
    run(t0()).await;
    run(t0() + Duration::hours(4)).await;
    let alerts: Vec<_> = chat.texts().into_iter().filter(|(_, t)| t.contains("of its retainer")).collect();
    assert_eq!(alerts.len(), 1, "one 75 % alert however many runs: {alerts:#?}");
    assert_eq!(alerts[0].0, "#pm");
    assert!(alerts[0].1.contains("At the current pace the November budget runs out on"), "{}", alerts[0].1);
    let summaries = chat.texts().into_iter().filter(|(_, t)| t.starts_with("Retainers · November 2026")).count();
    assert_eq!(summaries, 1, "one summary a day");

    // Past 100 % the next run alerts the PMs and the project's channel.
    let extra = Worklog {
        person: "dev".into(),
        day: "2026-11-16".into(),
        hours: 24.0,
        project: "WEB".into(),
        epic: None,
        ticket: None,
        description: "launch week".into(),
    };
    let mut tx = app.store.begin().await.unwrap();
    tx.add_worklog(&ws, &extra, &extra.identity(0), "test", t0()).await.unwrap();
    tx.commit().await.unwrap();
    run(t0() + Duration::hours(8)).await;
    let over: Vec<String> = chat.texts().into_iter().filter(|(_, t)| t.starts_with("🔴")).map(|(to, _)| to).collect();
    assert_eq!(over, ["#pm", "#acme-web"]);
    run(t0() + Duration::days(1)).await;
    assert_eq!(chat.texts().into_iter().filter(|(_, t)| t.starts_with("🔴")).count(), 2, "still once per month");
}

/// A chat that fails its first DM.
#[derive(Default)]
struct Flaky {
    inner: RecordingChat,
    failed: std::sync::atomic::AtomicBool,
}

impl pmbot::chat::Chat for Flaky {
    async fn post(
        &self,
        channel: &str,
        thread: Option<&str>,
        message: &pmbot::chat::Message,
    ) -> Result<pmbot::chat::MessageRef, pmbot::chat::ChatError> {
        self.inner.post(channel, thread, message).await
    }
    async fn update(
        &self,
        target: &pmbot::chat::MessageRef,
        message: &pmbot::chat::Message,
    ) -> Result<(), pmbot::chat::ChatError> {
        self.inner.update(target, message).await
    }
    async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        message: &pmbot::chat::Message,
    ) -> Result<(), pmbot::chat::ChatError> {
        self.inner.ephemeral(channel, user, message).await
    }
    async fn dm(
        &self,
        user: &str,
        message: &pmbot::chat::Message,
    ) -> Result<pmbot::chat::MessageRef, pmbot::chat::ChatError> {
        if !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(pmbot::chat::ChatError::Platform("the chat is down".into()));
        }
        self.inner.dm(user, message).await
    }
    async fn home(&self, user: &str, message: &pmbot::chat::Message) -> Result<(), pmbot::chat::ChatError> {
        self.inner.home(user, message).await
    }
}

async fn a_failed_send_is_sent_again_on_the_retry(url: &str) {
    let app = app(url).await;
    let ws = app.workspace();
    let chat = Flaky::default();
    let at = t0() + Duration::hours(1);
    let plan = agents::plan(Agent::Compliance, &app.store, &ws, &app.config, &app.templates, at).await.unwrap();
    assert!(agents::deliver(&plan, &app.store, &ws, &app.config, &chat, at, false).await.is_err());
    let sent = agents::deliver(&plan, &app.store, &ws, &app.config, &chat, at, false).await.unwrap();
    assert_eq!(sent, [Sent::Sent, Sent::Sent, Sent::Sent]);
    let to: Vec<String> = chat.inner.texts().into_iter().map(|(to, _)| to).collect();
    assert_eq!(to, ["@ben", "@chloe", "@pat"]);
}

async fn stuck_work_is_reported_once_a_day_and_each_dm_once(url: &str) {
    let app = app(url).await;
    let ws = app.workspace();
    let chat = RecordingChat::default();
    for hours in [0, 2, 5] {
        let at = t0() + Duration::hours(hours);
        let plan = agents::plan(Agent::Stuck, &app.store, &ws, &app.config, &app.templates, at).await.unwrap();
        agents::deliver(&plan, &app.store, &ws, &app.config, &chat, at, false).await.unwrap();
    }
    let sent = chat.texts();
    let digests: Vec<_> = sent.iter().filter(|(_, t)| t.starts_with("Stuck work ·")).collect();
    assert_eq!(digests.len(), 1, "{sent:#?}");
    assert_eq!(digests[0].0, "#pm");
    assert!(digests[0].1.contains("*WEB-8* Newsletter signup with double opt-in"), "{}", digests[0].1);
    let dms: Vec<&str> = sent.iter().filter(|(to, _)| to.starts_with('@')).map(|(to, _)| to.as_str()).collect();
    let mut unique = dms.clone();
    unique.dedup();
    assert_eq!(dms, unique, "each stuck ticket's DM goes once");
    assert!(dms.contains(&"@dev"), "{sent:#?}");
}

async fn epic_cards_file_tickets_by_button_for_a_pm_only(url: &str) {
    use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
    let app = app(url).await;
    let ws = app.workspace();
    let chat = RecordingChat::default();
    let plan = agents::plan(Agent::Epics, &app.store, &ws, &app.config, &app.templates, t0()).await.unwrap();
    agents::deliver(&plan, &app.store, &ws, &app.config, &chat, t0(), false).await.unwrap();
    let again = agents::deliver(&plan, &app.store, &ws, &app.config, &chat, t0(), false).await.unwrap();
    assert!(again.iter().all(|s| *s == Sent::Already), "the same day's cards go once");
    let cards = chat.sent.lock().unwrap().clone();
    assert!(cards[0].1.fallback_text().starts_with("Epics · Mobile app v2"), "{}", cards[0].1.fallback_text());
    let card_of =
        |key: &str| cards.iter().find(|(_, m)| m.fallback_text().contains(&format!("*{key}*"))).unwrap().1.clone();
    let button = |key: &str, label: &str| card_of(key).buttons().find(|b| b.label.starts_with(label)).cloned().unwrap();
    let bot = app.bot();
    let press = |user: &str, b: &pmbot::chat::Button| Inbound::Action {
        origin: Origin {
            platform: Platform::Shell,
            channel: "@pat".into(),
            user: user.into(),
            ts: "1.1".into(),
            thread: None,
        },
        action_id: b.action_id.clone(),
        value: b.value.clone(),
        message: MessageRef { channel: "@pat".into(), ts: "card".into() },
        trigger: None,
    };
    let orders = button("APP-13", "Assign to Orders");
    let refused = bot.handle(&press("ben", &orders), t0()).await;
    assert!(format!("{refused:?}").contains("Only a PM or lead"), "{refused:?}");
    let out = bot.handle(&press("pat", &orders), t0()).await;
    let [Outbound::Update { message, .. }] = &out[..] else { panic!("{out:?}") };
    assert_eq!(message.fallback_text(), "✓ Pat Morgan filed *APP-13* Share an order as a PDF receipt under Orders.");
    let epic = |key: &str| {
        let (app, ws) = (&app, &ws);
        let key = key.to_string();
        async move { app.store.ticket(ws, &key.parse().unwrap()).await.unwrap().epic }
    };
    assert_eq!(epic("APP-13").await.as_deref(), Some("Orders"));

    let out = bot.handle(&press("ana", &button("APP-16", "Pick another")), t0()).await;
    let [Outbound::Form { form, .. }] = &out[..] else { panic!("{out:?}") };
    assert!(form.question.contains("One of: Checkout, Look and feel, Orders, Sign-in, Stability"), "{}", form.question);
    let submit = |text: &str| Inbound::FormSubmitted {
        origin: Origin {
            platform: Platform::Shell,
            channel: "@ana".into(),
            user: "ana".into(),
            ts: "1.2".into(),
            thread: None,
        },
        action_id: form.action_id.clone(),
        value: form.value.clone(),
        message: form.message.clone(),
        text: text.into(),
    };
    let wrong = bot.handle(&submit("Performance"), t0()).await;
    assert!(format!("{wrong:?}").contains("is not an epic of this project"), "{wrong:?}");
    bot.handle(&submit("stability"), t0()).await;
    assert_eq!(epic("APP-16").await.as_deref(), Some("Stability"));

    bot.handle(&press("pat", &button("APP-9", "Skip")), t0()).await;
    let tomorrow = t0() + Duration::days(1);
    let plan = agents::plan(Agent::Epics, &app.store, &ws, &app.config, &app.templates, tomorrow).await.unwrap();
    let keys: Vec<&str> = plan.sends.iter().map(|s| s.key.as_str()).collect();
    assert!(
        !keys.iter().any(|k| k.ends_with(":APP-9") || k.ends_with(":APP-13") || k.ends_with(":APP-16")),
        "{keys:?}"
    );
    assert!(
        plan.sends[0].message.fallback_text().contains("With an epic: 62% of open tickets (8 of 13)"),
        "{}",
        plan.sends[0].message.fallback_text()
    );
}

async fn forecast_variance_alerts_once_per_epic_and_month(url: &str) {
    let app = app(url).await;
    let ws = app.workspace();
    let chat = RecordingChat::default();
    let run = |at| {
        let (app, chat, ws) = (&app, &chat, &ws);
        async move {
            let plan = agents::plan(Agent::Forecast, &app.store, ws, &app.config, &app.templates, at).await.unwrap();
            agents::deliver(&plan, &app.store, ws, &app.config, chat, at, false).await.unwrap();
        }
    };
    run(t0() + Duration::hours(2)).await;
    run(t0() + Duration::days(7) + Duration::hours(2)).await;
    let alerts = |chat: &RecordingChat| -> Vec<(String, String)> {
        chat.texts().into_iter().filter(|(_, t)| t.starts_with("Forecast ")).collect()
    };
    let first = alerts(&chat);
    assert_eq!(first.len(), 1, "Orders is over 30 %: its PM hears it once a month: {first:#?}");
    assert_eq!(first[0].0, "@pat");
    assert!(first[0].1.contains("🟠 *APP · Orders* is heading for"), "{}", first[0].1);
    assert!(first[0].1.contains("1 of 3 tickets done") && first[0].1.contains("scope grew"), "{}", first[0].1);
    let summaries = chat.texts().into_iter().filter(|(_, t)| t.starts_with("Forecasts ·")).count();
    assert_eq!(summaries, 2, "a summary per run day");

    // Another 150 h on Orders pushes it past 50 %: now the project's channel hears it too.
    let extra = Worklog {
        person: "ben".into(),
        day: "2026-11-16".into(),
        hours: 24.0,
        project: "APP".into(),
        epic: Some("Orders".into()),
        ticket: None,
        description: "crunch".into(),
    };
    let mut tx = app.store.begin().await.unwrap();
    for n in 0..3 {
        tx.add_worklog(&ws, &extra, &extra.identity(n), "test", t0()).await.unwrap();
    }
    tx.commit().await.unwrap();
    run(t0() + Duration::days(8)).await;
    let now: Vec<String> = alerts(&chat).into_iter().map(|(to, _)| to).collect();
    assert_eq!(now, ["@pat", "#mobile-app"], "the PM is not told twice in a month");
}

async fn a_forecast_by_month_shows_this_months_plan_and_the_plan_to_date(url: &str) {
    let app = app(url).await;
    let ws = app.workspace();
    let mut tx = app.store.begin().await.unwrap();
    for (month, hours) in [("2026-10", 60.0), ("2026-11", 40.0), ("2026-12", 30.0)] {
        tx.set_forecast_month(&ws, "APP", "Orders", month, hours, t0()).await.unwrap();
    }
    tx.commit().await.unwrap();
    let total = app.store.forecasts(&ws).await.unwrap().into_iter().find(|f| f.1 == "Orders").unwrap().2;
    assert_eq!(total, 130.0, "the epic's total is its months' sum");
    let chat = RecordingChat::default();
    let at = t0() + Duration::hours(2);
    let plan = agents::plan(Agent::Forecast, &app.store, &ws, &app.config, &app.templates, at).await.unwrap();
    agents::deliver(&plan, &app.store, &ws, &app.config, &chat, at, false).await.unwrap();
    let summary = chat.texts().into_iter().find(|(_, t)| t.starts_with("Forecasts ·")).unwrap().1;
    let orders = summary.lines().find(|l| l.contains("APP · Orders")).unwrap_or_else(|| panic!("{summary}"));
    assert!(orders.contains("of 40 h planned this month, 100 h planned by now"), "{orders}");
}

async fn the_month_end_workbook_reads_back_with_its_totals(url: &str) {
    use calamine::{Data, DataType, Reader, Xlsx};
    let app = app(url).await;
    let ws = app.workspace();
    let chat = RecordingChat::default();
    for _ in 0..2 {
        let plan = agents::plan(Agent::MonthEnd, &app.store, &ws, &app.config, &app.templates, t0()).await.unwrap();
        agents::deliver(&plan, &app.store, &ws, &app.config, &chat, t0(), false).await.unwrap();
    }
    let posts = chat.texts();
    assert_eq!(posts.len(), 1, "once per month: {posts:#?}");
    assert!(
        posts[0].1.contains("Month-end reconciliation for October 2026: *month-end-2026-10.xlsx*"),
        "{}",
        posts[0].1
    );

    let bytes = app.store.report(&ws, "month-end-2026-10.xlsx").await.unwrap().expect("kept in the store");
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["Executive summary", "Epic details", "Variance analysis", "Team performance"]);
    let october: Vec<Worklog> = app
        .store
        .worklogs(
            &ws,
            chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        )
        .await
        .unwrap();
    let expected: f64 = october.iter().map(|w| w.hours).sum();
    assert!(expected > 0.0);
    let summary = book.worksheet_range("Executive summary").unwrap();
    let header: Vec<String> = (0..8).map(|c| summary.get_value((0, c)).unwrap().to_string()).collect();
    assert_eq!(header, ["Project", "Name", "Type", "Hours", "Budget h", "Used", "Rate", "Amount"]);
    let total_row = (0..summary.height() as u32)
        .find(|r| summary.get_value((*r, 0)) == Some(&Data::String("Total".into())))
        .unwrap();
    assert_eq!(summary.get_value((total_row, 3)), Some(&Data::Float(expected)));
    let per_project: f64 = (1..total_row).filter_map(|r| summary.get_value((r, 3)).and_then(|v| v.get_float())).sum();
    assert!((per_project - expected).abs() < 1e-6, "the projects add up to the total");
    let team = book.worksheet_range("Team performance").unwrap();
    let people_hours: f64 =
        (1..team.height() as u32).filter_map(|r| team.get_value((r, 1)).and_then(|v| v.get_float())).sum();
    assert!((people_hours - expected).abs() < 1e-6, "and so do the people");
}

async fn an_agent_with_nothing_to_report_stays_quiet_unless_asked(url: &str) {
    // A fresh install: the team, no tickets, no hours.
    let config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    let app = App::open(config, Some(url)).await.unwrap();
    let ws = app.workspace();
    let at = t0() + Duration::hours(1);
    for agent in [Agent::Stuck, Agent::Epics, Agent::Forecast, Agent::Budget] {
        let plan = agents::plan(agent, &app.store, &ws, &app.config, &app.templates, at).await.unwrap();
        let said: Vec<_> = plan.sends.iter().map(|s| s.message.fallback_text()).collect();
        assert!(plan.sends.is_empty(), "{} says nothing: {said:?}", agent.as_str());
    }
    let mut config = parse(Path::new("built-in"), BUILT_IN).unwrap();
    config.agents.quiet = false;
    let loud = App::open(config, Some(url)).await.unwrap();
    let plan = agents::plan(Agent::Stuck, &loud.store, &ws, &loud.config, &loud.templates, at).await.unwrap();
    assert!(plan.sends[0].message.fallback_text().contains("Nothing is stuck"), "with quiet = false, the all-clear");
}
