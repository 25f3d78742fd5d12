//! `pmbot bench queue`: the job queue's throughput and latency, each printed with its ratio
//! to a baseline measured in the same run on the same server (pgbench's simple-update for
//! PostgreSQL; the same three statements through sqlx for SQLite).

mod baseline;
pub mod fake_jira;
pub mod fake_linear;
pub mod fake_tempo;
pub mod fix;
pub mod http;
pub mod matching;
mod measure;
pub mod sync;

use crate::store::Store;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A PostgreSQL server to use (a scratch database is created on it and dropped after).
    pub postgres_url: Option<String>,
    pub sqlite: bool,
    /// Concurrent clients, for pgbench and for pmbot alike.
    pub clients: usize,
    /// How long each throughput figure is measured.
    pub seconds: u64,
}

/// One backend's figures.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub baseline_tps: f64,
    pub enqueue: f64,
    pub unbatched: f64,
    pub batched: f64,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
}

pub async fn run(options: &BenchOptions, out: &mut dyn std::io::Write) -> Result<(), BenchError> {
    let say = |out: &mut dyn std::io::Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(
        out,
        format!("pmbot queue benchmark · {} clients · {} s per figure · no-op jobs", options.clients, options.seconds),
    );
    if let Some(url) = &options.postgres_url {
        let scratch = baseline::ScratchPostgres::create(url).await?;
        say(out, format!("\nPostgreSQL ({})", crate::store::redact(url)));
        let baseline_tps =
            baseline::pgbench(&scratch.url, options.clients, options.seconds, &mut |l| say(out, l)).await?;
        let store = Store::connect(&scratch.url).await?;
        store.migrate().await?;
        let figures = measure::all(&store, options, baseline_tps, &mut |l| say(out, l)).await;
        store.close().await;
        scratch.drop_now().await;
        report(out, &figures?, "pgbench simple-update", &[(0.45, "unbatched"), (2.5, "batched")]);
    }
    if options.sqlite {
        let dir = tempfile::tempdir().map_err(|e| BenchError::Setup(e.to_string()))?;
        let store = Store::connect(&crate::store::sqlite_url(&dir.path().join("bench.db"))).await?;
        store.migrate().await?;
        say(out, "\nSQLite (a file in a temporary directory, WAL)".into());
        let baseline_tps = baseline::sqlite_simple_update(&store, options.seconds, &mut |l| say(out, l)).await?;
        let figures = measure::all(&store, options, baseline_tps, &mut |l| say(out, l)).await?;
        store.close().await;
        report(out, &figures, "simple-update through sqlx", &[]);
    }
    Ok(())
}

fn report(out: &mut dyn std::io::Write, f: &Figures, baseline: &str, targets: &[(f64, &str)]) {
    let ratio = |x: f64| if f.baseline_tps > 0.0 { x / f.baseline_tps } else { 0.0 };
    let lines = [
        format!("  baseline ({baseline}): {:>9.0} tps", f.baseline_tps),
        format!("  enqueue, one per transaction:   {:>9.0} jobs/s  {:>5.2}× baseline", f.enqueue, ratio(f.enqueue)),
        format!("  claim + complete, unbatched:    {:>9.0} jobs/s  {:>5.2}× baseline", f.unbatched, ratio(f.unbatched)),
        format!("  claim + complete, batched:      {:>9.0} jobs/s  {:>5.2}× baseline", f.batched, ratio(f.batched)),
        format!(
            "  enqueue → start latency (worker, low load): p50 {:.1} ms, p99 {:.1} ms",
            f.latency_p50.as_secs_f64() * 1000.0,
            f.latency_p99.as_secs_f64() * 1000.0
        ),
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    for (target, which) in targets {
        let got = if *which == "batched" { ratio(f.batched) } else { ratio(f.unbatched) };
        let verdict = if got >= *target { "meets" } else { "MISSES" };
        let _ = writeln!(out, "  {which}: {got:.2}× {verdict} the {target}× target");
    }
    let p99_ok = f.latency_p99 < Duration::from_millis(20);
    let _ = writeln!(out, "  p99 latency {} the 20 ms target", if p99_ok { "meets" } else { "MISSES" });
}
