//! `pmbot bench sync`: a first full sync of many generated Linear issues (each with two
//! history entries and a comment) from the local Linear into a fresh SQLite board: issues per
//! second and peak resident memory, against a baseline measured in the same run — the same
//! pages fetched and decoded by the same client with nothing stored.

use super::fake_linear::FakeLinear;
use crate::tracker::linear::{Linear, LinearSettings, PAGE_SIZE};
use crate::tracker::sync::{self, Mirror};
use std::io::Write;
use std::time::{Duration, Instant};

/// The bound the sync's memory stays under, whatever the number of issues: pages are read and
/// committed one at a time, nothing accumulates.
pub const PEAK_RSS_BOUND_MIB: f64 = 200.0;

const ENG: &str =
    "\n[[projects]]\nkey = \"ENG\"\nname = \"Engineering\"\n[projects.tracker]\nkind = \"linear\"\nteam = \"ENG\"\n\
                   [projects.tracker.statuses]\n\"In Review\" = \"in_review\"\nQA = \"in_review\"\n";

/// Forgets the process's peak resident memory so far (Linux: `clear_refs` 5), so each phase's
/// peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib / 1024.0)
}

fn mib(value: Option<f64>) -> String {
    value.map_or("?".into(), |m| format!("{m:.1} MiB"))
}

pub async fn run(issues: usize, out: &mut dyn Write) -> Result<bool, super::BenchError> {
    let setup = |e: &dyn std::fmt::Display| super::BenchError::Setup(e.to_string());
    let fake = FakeLinear::start(Vec::new(), issues).await.map_err(|e| setup(&e))?;
    let client = Linear::new(LinearSettings {
        api_url: fake.url.clone(),
        api_key: "bench".into(),
        requests_per_hour: u32::MAX,
        page_size: PAGE_SIZE,
        max_wait: Duration::from_secs(5),
    });
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(out, format!("pmbot bench sync: {issues} generated Linear issues (2 history entries and a comment each), pages of {PAGE_SIZE}, into SQLite"));

    reset_peak();
    let started = Instant::now();
    let (mut cursor, mut read) = (None::<String>, 0usize);
    loop {
        let page = client.issues_page("ENG", None, cursor.as_deref(), PAGE_SIZE).await.map_err(|e| setup(&e))?;
        read += page.issues.len();
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let baseline = read as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let baseline_peak = peak_mib();
    say(
        out,
        format!(
            "  baseline (same pages fetched and decoded, nothing stored): {baseline:>8.0} issues/s, peak RSS {}",
            mib(baseline_peak)
        ),
    );

    let dir = tempfile::tempdir().map_err(|e| setup(&e))?;
    let mut config =
        crate::config::load::parse(std::path::Path::new("built-in"), &format!("{}{ENG}", crate::config::BUILT_IN))
            .map_err(|e| setup(&e))?;
    config.team.name = "bench".into();
    let url = crate::store::sqlite_url(&dir.path().join("bench.db"));
    let app = crate::app::App::open(config, Some(&url)).await?;
    let project = app.config.projects.iter().find(|p| p.key == "ENG").ok_or_else(|| setup(&"no ENG project"))?;
    let mirror = Mirror::new(&app.config, project).ok_or_else(|| setup(&"ENG is not on Linear"))?;
    reset_peak();
    let started = Instant::now();
    let mut last_said = Instant::now();
    let source = crate::tracker::Source::Linear(std::sync::Arc::new(client));
    let report = sync::run(&app.store, &source, &mirror, true, chrono::Utc::now(), |r| {
        if last_said.elapsed() > Duration::from_secs(5) {
            eprintln!("  … {} issues synced", r.read);
            last_said = Instant::now();
        }
    })
    .await
    .map_err(|e| setup(&e))?;
    let rate = report.read as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let peak = peak_mib();
    let within = peak.is_none_or(|p| p <= PEAK_RSS_BOUND_MIB);
    say(
        out,
        format!(
            "  sync (each page stored with its cursor, history, comments): {rate:>8.0} issues/s ({:.2}× baseline), peak RSS {} ({} the {PEAK_RSS_BOUND_MIB:.0} MiB bound)",
            rate / baseline.max(1e-9),
            mib(peak),
            if within { "within" } else { "OVER" }
        ),
    );
    say(
        out,
        format!(
            "  board: {} tickets made, {} moves, {} comments; {} pages",
            report.created, report.moves, report.comments, report.pages
        ),
    );
    app.store.close().await;
    Ok(within && report.read == issues as u64)
}
