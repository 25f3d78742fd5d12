//! Shared by the integration tests: a fresh database per test, on SQLite files and on the
//! real PostgreSQL server. A PostgreSQL that cannot be reached fails the test; it never skips.

#![allow(dead_code)]

pub mod github;
pub mod mail;
pub mod repo;

use chrono::{DateTime, TimeZone, Utc};
use pmbot::store::Store;
use sqlx::{Connection, Executor, PgConnection};
use std::sync::atomic::{AtomicU32, Ordering};

/// The server the tests use; `scripts/test` exports it (starting a throwaway server when
/// none is running).
pub fn postgres_admin_url() -> String {
    std::env::var("PMBOT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Monday 16 November 2026, 14:00 UTC (09:00 in New York).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 14, 0, 0).unwrap()
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A migrated SQLite file in a fresh temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = pmbot::store::sqlite_url(&dir.path().join("pmbot.db"));
        let store = Store::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb { store, url, cleanup: Cleanup::Dir(dir) }
    }

    /// A migrated, freshly created database on the PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let (url, admin_url, name) = fresh_postgres_database().await;
        let store = Store::connect(&url).await.expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        TestDb { store, url, cleanup: Cleanup::Postgres { admin_url, name } }
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str()).await;
            }
        }
    }
}

/// Creates an empty database and returns `(its url, the admin url, its name)`.
pub async fn fresh_postgres_database() -> (String, String, String) {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin_url = postgres_admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|err| {
        panic!(
            "PostgreSQL is required for this test and is not reachable at {admin_url}: {err}\n\
             Run the tests with scripts/test (it starts a throwaway server), or set PMBOT_TEST_POSTGRES_URL."
        )
    });
    let nanos = Utc::now().timestamp_subsec_nanos();
    let name = format!("pmbot_t_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    admin.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.expect("create test database");
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
    (format!("{base}/{name}"), admin_url, name)
}

/// Runs each named `async fn(&TestDb)`-style test twice: on SQLite (`sqlite::name`) and on
/// PostgreSQL (`postgres::name`), each in a fresh database. `$arg` picks what the test gets
/// from the database (`store` or `url`).
#[macro_export]
macro_rules! on_both_backends {
    ($arg:ident: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let db = $crate::common::TestDb::sqlite().await;
                super::$name(&db.$arg).await;
                db.finish().await;
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                let db = $crate::common::TestDb::postgres().await;
                super::$name(&db.$arg).await;
                db.finish().await;
            })*
        }
    };
}

/// A `Chat` that remembers what was sent, for tests of jobs that post.
#[derive(Default)]
pub struct RecordingChat {
    pub sent: std::sync::Mutex<Vec<(String, pmbot::chat::Message)>>,
}

impl RecordingChat {
    /// Everything sent so far, as `(channel or @user, plain text)`.
    pub fn texts(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap().iter().map(|(to, m)| (to.clone(), m.fallback_text())).collect()
    }

    /// The last message sent that has buttons.
    pub fn last_with_buttons(&self) -> Option<pmbot::chat::Message> {
        self.sent.lock().unwrap().iter().rev().find(|(_, m)| m.buttons().next().is_some()).map(|(_, m)| m.clone())
    }

    fn push(&self, to: &str, message: &pmbot::chat::Message) {
        self.sent.lock().unwrap().push((to.to_string(), message.clone()));
    }
}

impl pmbot::chat::Chat for RecordingChat {
    async fn post(
        &self,
        channel: &str,
        _thread: Option<&str>,
        message: &pmbot::chat::Message,
    ) -> Result<pmbot::chat::MessageRef, pmbot::chat::ChatError> {
        self.push(channel, message);
        Ok(pmbot::chat::MessageRef { channel: channel.into(), ts: format!("m{}", self.sent.lock().unwrap().len()) })
    }

    async fn update(
        &self,
        target: &pmbot::chat::MessageRef,
        message: &pmbot::chat::Message,
    ) -> Result<(), pmbot::chat::ChatError> {
        self.push(&target.channel, message);
        Ok(())
    }

    async fn ephemeral(
        &self,
        channel: &str,
        _user: &str,
        message: &pmbot::chat::Message,
    ) -> Result<(), pmbot::chat::ChatError> {
        self.push(channel, message);
        Ok(())
    }

    async fn home(&self, user: &str, message: &pmbot::chat::Message) -> Result<(), pmbot::chat::ChatError> {
        self.push(&format!("home:{user}"), message);
        Ok(())
    }

    async fn dm(
        &self,
        user: &str,
        message: &pmbot::chat::Message,
    ) -> Result<pmbot::chat::MessageRef, pmbot::chat::ChatError> {
        self.push(&format!("@{user}"), message);
        Ok(pmbot::chat::MessageRef { channel: format!("@{user}"), ts: "dm".into() })
    }
}

/// Everything a list of outbound messages says, as plain text, one per line.
pub fn text_of(out: &[pmbot::chat::Outbound]) -> String {
    use pmbot::chat::Outbound;
    out.iter()
        .map(|o| match o {
            Outbound::Reply { message, .. }
            | Outbound::Ephemeral { message, .. }
            | Outbound::Update { message, .. }
            | Outbound::Dm { message, .. }
            | Outbound::Home { message, .. } => message.fallback_text(),
            Outbound::Form { fallback, .. } => fallback.fallback_text(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The built-in sample team (as `change` leaves it) on a fresh database at `url`, seeded as
/// of [`t0`].
pub async fn seeded_app(url: &str, change: impl FnOnce(&mut pmbot::config::Config)) -> pmbot::app::App {
    let mut config =
        pmbot::config::load::parse(std::path::Path::new("built-in"), pmbot::config::BUILT_IN).expect("the sample team");
    change(&mut config);
    let app = pmbot::app::App::open(config, Some(url)).await.expect("open the app");
    pmbot::demo::seed::seed(&app.store, &app.workspace(), &app.config, t0(), false).await.expect("seed");
    app
}
