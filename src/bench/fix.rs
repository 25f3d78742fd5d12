//! `pmbot bench fix`: what a fix run costs beyond its agent and gates. Each round runs one
//! fix end to end through pmbot (the demo's repository, scripted agent and test gate; both
//! gates decided at once) on a fresh SQLite store, and, as the baseline measured in the same
//! run, the same git work done by hand with the same commands (clone, worktree, agent,
//! test, commit, push, merge, push). It prints the medians and the ratio of pmbot's
//! overhead to the hand-run baseline.

use crate::app::App;
use crate::board::{NewTicket, Status, Verdict};
use crate::chat::shell::{render::Style, ShellChat};
use crate::service::{Actor, BoardService, Ctx};
use crate::workflows::fix::RunData;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
#[error("bench fix: {0}")]
pub struct FixBenchError(String);

fn fail(e: impl std::fmt::Display) -> FixBenchError {
    FixBenchError(e.to_string())
}

pub async fn run(rounds: usize, out: &mut dyn std::io::Write) -> Result<(), FixBenchError> {
    let (mut pmbot, mut inside, mut by_hand) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let dir = tempfile::tempdir().map_err(fail)?;
        let (total, agent_and_gates, sandboxed) = through_pmbot(dir.path()).await?;
        pmbot.push(total);
        inside.push(agent_and_gates);
        by_hand.push(hand_run(dir.path())?);
        if round == 0 && !sandboxed {
            writeln!(out, "(bubblewrap is not installed: agent and gate ran without a sandbox)").map_err(fail)?;
        }
    }
    let (total, inside, hand) = (median(&mut pmbot), median(&mut inside), median(&mut by_hand));
    let overhead = (total - inside).max(0.0);
    writeln!(out, "bench fix: {rounds} fix runs end to end (SQLite, local forge, the demo's repository and agent)")
        .map_err(fail)?;
    writeln!(out, "  pmbot, a whole run (both gates decided at once)   median {:>7.1} ms", total * 1e3)
        .map_err(fail)?;
    writeln!(out, "    of which the agent and the QA gate              median {:>7.1} ms", inside * 1e3)
        .map_err(fail)?;
    writeln!(out, "    pmbot's own work (store, git, sandbox, chat)    median {:>7.1} ms", overhead * 1e3)
        .map_err(fail)?;
    writeln!(out, "  baseline: the same git work and scripts by hand   median {:>7.1} ms", hand * 1e3).map_err(fail)?;
    writeln!(out, "  ratio: pmbot's own work / hand-run baseline       {:.2}x", overhead / hand.max(1e-9))
        .map_err(fail)?;
    writeln!(out, "  target: overhead under 2 s per run — {}", if overhead < 2.0 { "met" } else { "NOT met" })
        .map_err(fail)?;
    Ok(())
}

/// One fix through pmbot: (seconds in all, seconds in the agent and gates, sandboxed?).
async fn through_pmbot(dir: &Path) -> Result<(f64, f64, bool), FixBenchError> {
    let mut config = crate::config::load::parse(Path::new("built-in"), crate::config::BUILT_IN).map_err(fail)?;
    let unsandboxed = crate::demo::fix::prepare(dir, &mut config).await.map_err(fail)?;
    let app = App::open(config, Some(&crate::store::sqlite_url(&dir.join("bench.db")))).await.map_err(fail)?;
    let (ws, now) = (app.workspace(), chrono::Utc::now());
    let people = app.config.people();
    let board = BoardService::new(app.store.clone(), ws.clone());
    let mut new = NewTicket::new("WEB", crate::demo::fix::TICKET).map_err(fail)?;
    new.status = Status::Todo;
    let ticket = board.create(&Actor::System("bench".into()), &new, &Ctx::new(now)).await.map_err(fail)?;
    let worker = app
        .worker(std::sync::Arc::new(ShellChat::new(Box::new(std::io::sink()), Style { color: false })))
        .map_err(fail)?;

    let started = Instant::now();
    let run = board.start_fix(&Actor::named(&people, "pat"), &ticket.key, None, &Ctx::new(now)).await.map_err(fail)?;
    worker.run_until_idle().await;
    for (who, field) in [("ana", "spec_approval"), ("pat", "pr_approval")] {
        let data = app.store.fix_run(&ws, run.id).await.map_err(fail)?.data;
        let id = data[field].as_i64().ok_or_else(|| fail(format!("the run stopped before {field}: {data}")))?;
        let ctx = Ctx::new(chrono::Utc::now());
        board.decide(&Actor::named(&people, who), id, Verdict::Approve, None, &ctx).await.map_err(fail)?;
        worker.run_until_idle().await;
    }
    let total = started.elapsed().as_secs_f64();
    let done = app.store.fix_run(&ws, run.id).await.map_err(fail)?;
    if done.state != crate::board::RunState::Completed {
        return Err(fail(format!("the run ended in {}", done.state)));
    }
    let data: RunData = serde_json::from_value(done.data).unwrap_or_default();
    app.store.close().await;
    Ok((total, data.agent_seconds + data.gate_seconds, unsandboxed.is_none()))
}

/// The same work with git and the scripts directly, on the same repository: seconds.
fn hand_run(dir: &Path) -> Result<f64, FixBenchError> {
    let work = dir.join("by-hand");
    let agent = dir.join("agent/demo-agent.sh");
    // Its own remote, from the untouched first commit (pmbot's run merged into the other).
    let remote = dir.join("by-hand.git");
    let out = Command::new("git")
        .args(["clone", "-q", "--bare", "greeter", "by-hand.git"])
        .current_dir(dir)
        .output()
        .map_err(fail)?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr)));
    }
    let started = Instant::now();
    let sh = |args: &[&str], at: &Path| -> Result<(), FixBenchError> {
        let out = Command::new(args[0]).args(&args[1..]).current_dir(at).output().map_err(fail)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(fail(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr))))
        }
    };
    let clone = work.join("clone");
    std::fs::create_dir_all(&work).map_err(fail)?;
    sh(&["git", "clone", "-q", &remote.to_string_lossy(), "clone"], &work)?;
    sh(&["git", "worktree", "add", "-q", "-b", "by-hand", "../tree", "origin/main"], &clone)?;
    let tree = work.join("tree");
    std::fs::write(work.join("SPEC.md"), "- `greet.sh`\n").map_err(fail)?;
    sh(&["sh", &agent.to_string_lossy(), &work.join("SPEC.md").to_string_lossy()], &tree)?;
    sh(&["sh", "test.sh"], &tree)?;
    sh(&["git", "add", "-A"], &tree)?;
    sh(&["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "fix"], &tree)?;
    sh(&["git", "push", "-q", "origin", "HEAD:refs/heads/by-hand"], &tree)?;
    sh(&["git", "fetch", "-q", "origin"], &clone)?;
    sh(&["git", "worktree", "add", "-q", "--detach", "../merge", "origin/main"], &clone)?;
    let merge = work.join("merge");
    sh(
        &[
            "git",
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "merge",
            "origin/by-hand",
        ],
        &merge,
    )?;
    sh(&["git", "push", "-q", "origin", "HEAD:refs/heads/main"], &merge)?;
    Ok(started.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
