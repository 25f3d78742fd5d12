//! `pmbot demo --tracker linear`: a project kept in Linear — a local Linear answering with the
//! recorded shapes, offline — synced into a fresh SQLite board with its history and comments,
//! then the team's conversation moving a ticket and a comment, both written back to Linear once.

use super::DemoError;
use crate::app::App;
use crate::bench::fake_linear::FakeLinear;
use crate::chat::shell::{render::Style, ShellChat, ShellSession};
use crate::config;
use crate::store::sqlite_url;
use crate::tracker::linear::{Linear, LinearSettings};
use crate::tracker::sync::{self, Mirror};
use crate::tracker::Source;
use chrono::Utc;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const ENG: &str =
    "\n[[projects]]\nkey = \"ENG\"\nname = \"Engineering (on Linear)\"\nchannel = \"#eng\"\npm = \"pat\"\n\
                   [projects.tracker]\nkind = \"linear\"\nteam = \"ENG\"\n[projects.tracker.statuses]\n\
                   \"In Review\" = \"in_review\"\nQA = \"in_review\"\n";
/// The recorded workspace's people (Alice Chen, Bob Okafor) are ana and ben here.
const PEOPLE: [(&str, &str); 2] =
    [("ana", "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c01"), ("ben", "7d3e1b2a-5c4f-4a8e-9b6d-1e2f3a4b5c02")];
const ENG_102: &str = "9a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a02";
const ENG_101: &str = "9a1f0c2e-3b4d-4e5f-8a6b-7c8d9e0f1a01";

pub async fn run(out: Box<dyn Write + Send>, style: Style) -> Result<PathBuf, DemoError> {
    let dir = tempfile::Builder::new().prefix("pmbot-demo-linear-").tempdir()?.keep();
    let text = format!("{}{ENG}", config::BUILT_IN);
    let mut config = config::load::parse(Path::new("pmbot.example.toml (built in) + ENG on Linear"), &text)?;
    for (handle, id) in PEOPLE {
        if let Some(person) = config.people.iter_mut().find(|p| p.handle == handle) {
            person.tracker_id = Some(id.into());
        }
    }
    let database = dir.join("pmbot.db");
    let mut app = App::open(config, Some(&sqlite_url(&database))).await?;
    let linear = FakeLinear::recorded().await?;
    let client = Arc::new(Linear::new(LinearSettings {
        api_url: linear.url.clone(),
        api_key: "demo".into(),
        requests_per_hour: 100_000,
        page_size: 2,
        max_wait: std::time::Duration::from_secs(5),
    }));
    app.linear = Some(client.clone());
    let chat = Arc::new(ShellChat::new(out, style));
    chat.note(
        "pmbot demo --tracker linear — the ENG project kept in Linear (a local Linear answering with the recorded \
         API shapes; no network), mirrored on a fresh SQLite board.",
    )?;
    let project =
        app.config.projects.iter().find(|p| p.key == "ENG").ok_or_else(|| DemoError::Agent("no ENG".into()))?;
    let mirror = Mirror::new(&app.config, project).ok_or_else(|| DemoError::Agent("ENG is not on Linear".into()))?;
    let report = sync::run(&app.store, &Source::Linear(client), &mirror, false, Utc::now(), |r| {
        let _ = chat.note(&format!("  sync: page {} · {} issues read", r.pages, r.read));
    })
    .await
    .map_err(|e| DemoError::Agent(e.to_string()))?;
    let ws = app.workspace();
    let mut lines = Vec::new();
    for key in ["ENG-101", "ENG-102", "ENG-103"] {
        let ticket = app.store.ticket(&ws, &key.parse().map_err(crate::store::StoreError::from)?).await?;
        let moves = app.store.history(&ws, &ticket.key).await?.len();
        let parent = ticket.parent.as_ref().map(|p| format!(", under {p}")).unwrap_or_default();
        lines.push(format!(
            "  {key} {} — {}{parent}, {moves} moves at Linear's times",
            ticket.title,
            ticket.status.label()
        ));
    }
    chat.note(&format!(
        "Synced ENG: {} issues, {} moves, {} comment(s):\n{}",
        report.read,
        report.moves,
        report.comments,
        lines.join("\n")
    ))?;
    let state = |id: &str| linear.issue(id).map(|i| i["state"]["name"].as_str().unwrap_or("?").to_string());
    chat.note(&format!("On Linear, ENG-102 is {}.", state(ENG_102).unwrap_or_default()))?;

    let bot = app.bot();
    let worker = app.worker(chat.clone())?;
    let mut session = ShellSession::new(&bot, chat.clone(), "ben", "#eng", true).with_worker(worker);
    session.line("ENG-102 is merged and deployed", Utc::now()).await?;
    session.user = "pat".into();
    session.line("@pmbot comment ENG-101 rollout starts at 3pm", Utc::now()).await?;
    let comments = linear.issue(ENG_101).and_then(|i| i["comments"]["nodes"].as_array().map(Vec::len)).unwrap_or(0);
    chat.note(&format!(
        "\nOn Linear now: ENG-102 is {} (pmbot's move, written back once), and ENG-101 has {comments} comment(s) — \
         pat's, marked \"(via pmbot)\".\nDatabase: {}",
        state(ENG_102).unwrap_or_default(),
        database.display()
    ))?;
    app.store.close().await;
    Ok(dir)
}
