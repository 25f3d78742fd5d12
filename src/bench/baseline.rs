//! Baselines measured in the same run: pgbench's built-in simple-update script on a scratch
//! database, and its three statements through sqlx on SQLite.

use super::BenchError;
use crate::store::Store;
use sqlx::{Connection, Executor, PgConnection};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A database created for the benchmark and dropped after it.
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    pub url: String,
}

impl ScratchPostgres {
    pub async fn create(admin_url: &str) -> Result<Self, BenchError> {
        let mut admin = PgConnection::connect(admin_url).await.map_err(|e| {
            BenchError::Setup(format!("cannot reach PostgreSQL at {}: {e}", crate::store::redact(admin_url)))
        })?;
        let name = format!("pmbot_bench_{}", std::process::id());
        admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await?;
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        Ok(ScratchPostgres { admin_url: admin_url.into(), url: format!("{base}/{name}"), name })
    }

    pub async fn drop_now(self) {
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = admin.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str()).await;
        }
    }
}

fn pgbench_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbench"))
        .find(|p| p.is_file());
    on_path.or_else(|| {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin/pgbench")))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

/// pgbench `-b simple-update` TPS with `clients` clients for `seconds`.
pub async fn pgbench(url: &str, clients: usize, seconds: u64, say: &mut dyn FnMut(String)) -> Result<f64, BenchError> {
    let pgbench = pgbench_binary().ok_or_else(|| {
        BenchError::Setup("pgbench is needed for the PostgreSQL baseline: install it (apt-get install -y postgresql-contrib or postgresql-client)".into())
    })?;
    say(format!("  running {} -b simple-update -c {clients} for {seconds} s …", pgbench.display()));
    let init = tokio::process::Command::new(&pgbench).args(["-i", "-s", "1", "-q", url]).output().await;
    let init = init.map_err(|e| BenchError::Setup(format!("cannot run pgbench: {e}")))?;
    if !init.status.success() {
        return Err(BenchError::Setup(format!("pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr).trim())));
    }
    let jobs = clients.clamp(1, 2).to_string();
    let run = tokio::process::Command::new(&pgbench)
        .args(["-n", "-b", "simple-update", "-c", &clients.to_string(), "-j", &jobs, "-T", &seconds.to_string(), url])
        .output()
        .await
        .map_err(|e| BenchError::Setup(format!("cannot run pgbench: {e}")))?;
    let text = String::from_utf8_lossy(&run.stdout);
    text.lines()
        .find_map(|line| {
            line.strip_prefix("tps = ").and_then(|rest| rest.split_whitespace().next()).and_then(|n| n.parse().ok())
        })
        .ok_or_else(|| {
            BenchError::Setup(format!("could not read pgbench's tps: {}", String::from_utf8_lossy(&run.stderr).trim()))
        })
}

/// simple-update's transaction (UPDATE an account, SELECT its balance, INSERT history) on
/// SQLite through sqlx, one writer, for `seconds`.
pub async fn sqlite_simple_update(store: &Store, seconds: u64, say: &mut dyn FnMut(String)) -> Result<f64, BenchError> {
    say(format!("  running simple-update's statements through sqlx for {seconds} s …"));
    let pool = store.sqlite_pool().ok_or_else(|| BenchError::Setup("not a SQLite store".into()))?;
    pool.execute("CREATE TABLE bench_accounts (aid INTEGER PRIMARY KEY, abalance INTEGER NOT NULL)").await?;
    pool.execute("CREATE TABLE bench_history (aid INTEGER, delta INTEGER, mtime TEXT)").await?;
    pool.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) INSERT INTO bench_accounts SELECT i, 0 FROM n")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut done, started) = (0u64, Instant::now());
    while Instant::now() < deadline {
        let aid = (done * 7919) % 100_000 + 1;
        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE bench_accounts SET abalance = abalance + 1 WHERE aid = $1")
            .bind(aid as i64)
            .execute(&mut *tx)
            .await?;
        let _: i64 = sqlx::query_scalar("SELECT abalance FROM bench_accounts WHERE aid = $1")
            .bind(aid as i64)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO bench_history (aid, delta, mtime) VALUES ($1, 1, CURRENT_TIMESTAMP)")
            .bind(aid as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done += 1;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
