//! Hours from Tempo: the real client (reqwest, bearer token, API v4) against a local Tempo
//! answering in the shapes of `tests/fixtures/tempo/`, on a Jira project mirrored from a local
//! Jira — worklogs counted once on their tickets and people, corrections updating the hours,
//! a second read asking only for what changed, unknown authors listed for `people doctor`,
//! refused credentials pausing the sync; on SQLite and PostgreSQL.

mod common;

use common::seeded_app;
use pmbot::app::App;
use pmbot::bench::fake_jira::FakeJira;
use pmbot::bench::fake_tempo::FakeTempo;
use pmbot::tracker::hours::{self, Tempo, TempoSettings};
use pmbot::tracker::jira::{Jira, JiraSettings};
use pmbot::tracker::sync::{self, Mirror, SyncError};
use pmbot::tracker::Source;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    url:
    worklogs_are_counted_once_on_their_tickets_and_people,
    refused_credentials_count_nothing_and_unknown_ids_are_listed,
    jiras_own_worklogs_are_the_other_source,
    refused_credentials_pause_the_hours_job_and_tell_the_pms_once,
);

const ALICE: &str = "5b10ac8d82e05b22cc7d4ef5";
const BOB: &str = "5b10a2844c20165700ede21b";
const TOKEN: &str = "tempo-test-token";

const OPS: &str = "key = \"OPS\"\nname = \"Operations\"\npm = \"pat\"\n[tracker]\nkind = \"jira\"\nteam = \"OPS\"\n";

struct Team {
    app: App,
    tempo: FakeTempo,
    client: Tempo,
    jira: FakeJira,
    jira_client: Jira,
}

fn dir(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

async fn team(url: &str, bob_known: bool) -> Team {
    let jira = FakeJira::from_fixtures(&dir("jira")).await.unwrap();
    let tempo = FakeTempo::from_fixtures(&dir("tempo"), TOKEN).await.unwrap();
    let app = seeded_app(url, |c| {
        c.projects.push(toml::from_str(OPS).unwrap());
        c.hours.enabled = true;
        c.people.iter_mut().find(|p| p.handle == "ana").unwrap().tracker_id = Some(ALICE.into());
        if bob_known {
            c.people.iter_mut().find(|p| p.handle == "ben").unwrap().time_tracking_id = Some(BOB.into());
        }
    })
    .await;
    let client = Jira::new(JiraSettings {
        site: jira.url.clone(),
        email: "pmbot@acme.example".into(),
        api_token: "token".into(),
        requests_per_minute: 100_000,
        page_size: 50,
        max_wait: Duration::from_secs(3),
    });
    let project = app.config.projects.iter().find(|p| p.key == "OPS").unwrap();
    let mirror = Mirror::new(&app.config, project).unwrap();
    let client = Arc::new(client);
    sync::run(&app.store, &Source::Jira(client.clone()), &mirror, false, chrono::Utc::now(), |_| {}).await.unwrap();
    let jira_client = Arc::try_unwrap(client).ok().unwrap();
    let settings = TempoSettings {
        api_url: tempo.url.clone(),
        token: TOKEN.into(),
        page_size: 2,
        max_wait: Duration::from_secs(3),
    };
    Team { app, tempo, client: Tempo::new(settings), jira, jira_client }
}

impl Team {
    async fn read(&self) -> Result<hours::HoursReport, SyncError> {
        hours::run(
            &self.app.store,
            &self.app.workspace(),
            &self.app.config,
            hours::HoursSource::Tempo(&self.client),
            false,
            |_| {},
        )
        .await
    }

    async fn read_jira(&self) -> Result<hours::HoursReport, SyncError> {
        let source = hours::HoursSource::Jira(&self.jira_client);
        hours::run(&self.app.store, &self.app.workspace(), &self.app.config, source, false, |_| {}).await
    }

    async fn hours(&self) -> Vec<(String, String, f64, Option<String>, Option<String>)> {
        let (from, to) = (
            chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        );
        let mut logs: Vec<_> = self
            .app
            .store
            .worklogs(&self.app.workspace(), from, to)
            .await
            .unwrap()
            .into_iter()
            .filter(|w| w.project == "OPS")
            .map(|w| (w.person, w.day, w.hours, w.ticket, w.epic))
            .collect();
        logs.sort_by(|a, b| a.1.cmp(&b.1));
        logs
    }
}

async fn worklogs_are_counted_once_on_their_tickets_and_people(url: &str) {
    let t = team(url, true).await;
    let first = t.read().await.unwrap();
    assert_eq!((first.read, first.added, first.pages), (3, 3, 2), "{first:?}");
    let epic = Some("Migrate alerting to Prometheus Alertmanager".to_string());
    assert_eq!(
        t.hours().await,
        [
            ("ben".into(), "2026-11-17".into(), 1.0, Some("OPS-2".into()), epic.clone()),
            ("ana".into(), "2026-11-18".into(), 1.5, Some("OPS-1".into()), None),
            ("ben".into(), "2026-11-20".into(), 2.0, Some("OPS-2".into()), epic.clone()),
        ],
        "Bob by his time_tracking_id, Alice by her tracker_id (one Atlassian account)"
    );
    // Corrected in Tempo: the next read asks for what changed since, and updates the hours.
    t.tempo.change(4103, |w| w["timeSpentSeconds"] = json!(9000));
    let second = t.read().await.unwrap();
    assert_eq!((second.added, second.updated), (0, 1), "{second:?}");
    assert!(t.tempo.asked().last().unwrap().contains_key("updatedFrom"), "incremental: {:?}", t.tempo.asked());
    assert_eq!(t.hours().await[2].2, 2.5);
    // Logged by an account nobody has: not counted, and listed for `pmbot people doctor`.
    t.tempo.add(json!({
        "tempoWorklogId": 4200, "issue": { "id": 10001 }, "timeSpentSeconds": 3600, "startDate": "2026-11-21",
        "description": "", "updatedAt": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "author": { "accountId": "557058:stranger" }
    }));
    let third = t.read().await.unwrap();
    assert_eq!(third.unknown_person, 1, "{third:?}");
    assert_eq!(t.hours().await.len(), 3);
    let unknown = t.app.store.unknown_people(&t.app.workspace()).await.unwrap();
    assert!(unknown.iter().any(|u| u.source == "tempo" && u.external_id == "557058:stranger"), "{unknown:?}");
}

async fn refused_credentials_count_nothing_and_unknown_ids_are_listed(url: &str) {
    let t = team(url, false).await;
    t.tempo.refuse_credentials(true);
    let refused = t.read().await;
    assert!(matches!(refused, Err(SyncError::Tracker(pmbot::tracker::TrackerError::Auth { .. }))), "{refused:?}");
    assert!(t.hours().await.is_empty(), "nothing counted, nothing lost");
    // Without Bob's ids his hours wait; Jira's unknown ids are listed too.
    t.tempo.refuse_credentials(false);
    let read = t.read().await.unwrap();
    assert_eq!((read.added, read.unknown_person), (1, 2), "{read:?}");
    let unknown = t.app.store.unknown_people(&t.app.workspace()).await.unwrap();
    assert!(unknown.iter().any(|u| u.source == "jira" && u.external_id == BOB), "{unknown:?}");
}

async fn jiras_own_worklogs_are_the_other_source(url: &str) {
    let t = team(url, true).await;
    let first = t.read_jira().await.unwrap();
    assert_eq!((first.read, first.added, first.pages), (3, 3, 2), "{first:?}");
    let hours: Vec<(String, String, f64, Option<String>)> =
        t.hours().await.into_iter().map(|h| (h.0, h.1, h.2, h.3)).collect();
    assert_eq!(
        hours,
        [
            ("ben".into(), "2026-11-17".into(), 1.5, Some("OPS-2".into())),
            ("ana".into(), "2026-11-18".into(), 2.0, Some("OPS-1".into())),
            ("ben".into(), "2026-11-20".into(), 1.0, Some("OPS-2".into())),
        ],
        "each on its day as logged, on its ticket"
    );
    t.jira.change_worklog("30003", |w| w["timeSpentSeconds"] = json!(5400));
    let second = t.read_jira().await.unwrap();
    assert_eq!((second.added, second.updated), (0, 1), "{second:?}");
    let (_, asked) = t.jira.requests().into_iter().rev().find(|(what, _)| what == "worklogs_updated").unwrap();
    assert_ne!(asked["since"], "0", "only what changed since the last read: {asked}");
    assert_eq!(t.hours().await[2].2, 1.5);
}

async fn refused_credentials_pause_the_hours_job_and_tell_the_pms_once(url: &str) {
    use pmbot::queue::JobSpec;
    let mut t = team(url, true).await;
    let settings = TempoSettings {
        api_url: t.tempo.url.clone(),
        token: TOKEN.into(),
        page_size: 2,
        max_wait: Duration::from_secs(3),
    };
    t.app.tempo = Some(Arc::new(Tempo::new(settings)));
    t.tempo.refuse_credentials(true);
    let chat = Arc::new(common::RecordingChat::default());
    let worker = t.app.worker(chat.clone()).unwrap();
    let ws = t.app.workspace();
    for _ in 0..2 {
        let job = hours::HoursJob { full: false }.to_new_job(chrono::Utc::now());
        t.app.store.enqueue(&ws, &job, chrono::Utc::now()).await.unwrap();
        worker.run_until_idle().await;
    }
    let told: Vec<_> =
        chat.texts().into_iter().filter(|(_, text)| text.contains("Reading hours from Tempo is paused")).collect();
    assert_eq!(told.len(), 1, "{:?}", chat.texts());
    assert_eq!(told[0].0, t.app.config.agents.pm_channel);
    assert!(t.hours().await.is_empty());
}
