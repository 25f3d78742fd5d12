//! The AI queue: a ticket becomes a reviewed, tested change. A run goes PENDING → PLANNING →
//! AWAITING_SPEC_APPROVAL → SPEC_APPROVED → EXECUTING → QA_RUNNING → PR_CREATED →
//! AWAITING_PR_APPROVAL → COMPLETED (or SPEC_REJECTED, QA_FAILED, ERROR, CANCELLED), one job
//! carrying it through and parking at each gate.
//!
//! The pure parts: [`eligible`] (may this ticket go?), [`knowledge`] (what the repository
//! is), [`spec`] (the SPEC and its allowlist), [`scope`] (the scope lock). The I/O: [`git`],
//! [`sandbox`] (bubblewrap), and the job ([`FixJob`]).

pub mod builtin;
pub mod eligible;
pub mod git;
mod job;
pub mod knowledge;
pub mod model;
pub mod sandbox;
pub mod scope;
pub mod spec;
mod stats;

pub use job::FixJob;
pub use stats::{describe as describe_stats, stats, Stats};

use crate::config::{Config, GateConfig, ProjectFixConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a run's steps produced, kept in its row (`fix_runs.data`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RunData {
    /// Where the run's thread is.
    pub channel: Option<String>,
    /// The thread's first message.
    pub thread: Option<String>,
    pub spec: Option<spec::Spec>,
    pub spec_approval: Option<i64>,
    pub spec_approver: Option<String>,
    /// A reviewer's words, or the QA output, for the next PLANNING or EXECUTING.
    pub feedback: Option<String>,
    /// QA's one automatic retry has been used.
    pub qa_retried: bool,
    pub branch: Option<String>,
    pub base: Option<String>,
    pub changed: Vec<String>,
    pub diff_stat: Option<String>,
    /// Changed paths under `critical_paths`: the PR gate wants two approvals.
    pub critical: Vec<String>,
    pub qa: Vec<GateResult>,
    /// The team's CI on the pull request (GitHub's check and workflow runs), newest last.
    pub ci: Vec<CiResult>,
    /// The gates passed for this change (a retried publish does not run them again).
    pub qa_passed: bool,
    pub pr: Option<PullRequest>,
    pub pr_approval: Option<i64>,
    pub merged: Option<String>,
    /// Seconds spent in the agent and in the gates (the rest is pmbot's overhead).
    pub agent_seconds: f64,
    pub gate_seconds: f64,
    /// Model tokens this run spent (planning and the built-in agent).
    pub tokens: u64,
    /// What the built-in agent said it did.
    pub agent_summary: Option<String>,
    /// For a revert: the run it reverts and that run's merge commit.
    pub revert_of: Option<i64>,
    pub revert_sha: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    pub required: bool,
    pub passed: bool,
    pub seconds: f64,
    /// How it ended, in words.
    pub ended: String,
    pub tail: String,
}

impl GateResult {
    pub fn line(&self) -> String {
        let mark = if self.passed {
            "✅"
        } else if self.required {
            "❌"
        } else {
            "⚠️"
        };
        let optional = if self.required { "" } else { " (optional)" };
        format!("{mark} {}{optional} {} in {:.1} s", self.name, self.ended, self.seconds)
    }
}

/// A check or workflow run of the team's CI on the run's branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CiResult {
    pub name: String,
    pub sha: String,
    /// GitHub's conclusion: `success`, `failure`, `cancelled`, `timed_out`, `neutral`, …
    pub conclusion: String,
    pub url: String,
}

impl CiResult {
    pub fn failed(&self) -> bool {
        matches!(
            self.conclusion.as_str(),
            "failure" | "timed_out" | "cancelled" | "action_required" | "startup_failure"
        )
    }
}

/// Each check's latest result on commit `sha`.
pub fn latest_ci<'a>(ci: &'a [CiResult], sha: &str) -> Vec<&'a CiResult> {
    let mut latest: Vec<&CiResult> = Vec::new();
    for result in ci.iter().filter(|c| c.sha == sha) {
        latest.retain(|c| c.name != result.name);
        latest.push(result);
    }
    latest
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: i64,
    pub forge: String,
    pub branch: String,
    pub head: String,
    pub url: Option<String>,
    /// GitHub's id of it (GraphQL), for marking a draft ready.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Opened as a draft ([fix] draft) and not yet marked ready by the team's CI passing.
    #[serde(default)]
    pub draft: bool,
}

/// A project's AI queue settings with the team's defaults filled in.
#[derive(Debug, Clone)]
pub struct Repo {
    pub project: String,
    pub fix: ProjectFixConfig,
    pub agent: String,
    pub gates: Vec<GateConfig>,
    pub critical_paths: Vec<String>,
}

impl Repo {
    pub fn of(config: &Config, project: &str) -> Option<Repo> {
        let p = config.projects.iter().find(|p| p.key.eq_ignore_ascii_case(project))?;
        let fix = p.fix.clone()?;
        let team = &config.fix;
        Some(Repo {
            project: p.key.clone(),
            agent: fix.agent.clone().unwrap_or_else(|| team.agent.clone()),
            gates: fix.gates.clone().unwrap_or_else(|| team.gates.clone()),
            critical_paths: team.critical_paths.iter().chain(&fix.critical_paths).cloned().collect(),
            fix,
        })
    }

    /// `owner/name` of the repository on GitHub: `github_repo`, or read from its URL.
    pub fn github_slug(&self) -> Option<String> {
        self.fix.github_repo.clone().or_else(|| crate::forge::github::policy::repo_slug(&self.fix.repository))
    }

    /// What git needs to reach the repository: on the github forge, the app's or token's
    /// credentials; nothing for a local forge.
    pub async fn remote_auth(
        &self,
        github: Option<&crate::forge::github::Github>,
    ) -> Result<Option<git::RemoteAuth>, crate::forge::github::GithubError> {
        match (self.fix.forge, github) {
            (crate::config::ForgeKind::Github, Some(github)) => Ok(Some(git::RemoteAuth {
                url: self.fix.repository.clone(),
                header: crate::forge::github::policy::git_auth_header(&github.git_token().await?),
            })),
            _ => Ok(None),
        }
    }

    /// pmbot's clone of the repository.
    pub fn clone_dir(&self, config: &Config) -> PathBuf {
        workspace_dir(config).join("repos").join(self.project.to_ascii_lowercase())
    }
}

/// A repository's files at a commit, with the contents of its text files.
pub struct Snapshot {
    pub files: Vec<(String, u64)>,
    pub contents: std::collections::HashMap<String, String>,
}

impl Snapshot {
    pub async fn read(clone: &std::path::Path, head: &str) -> Result<Snapshot, git::GitError> {
        let files = git::tree(clone, head).await?;
        let small: Vec<String> = files.iter().filter(|(_, size)| *size <= 200_000).map(|(p, _)| p.clone()).collect();
        let contents = git::contents(clone, head, &small).await?;
        Ok(Snapshot { files, contents })
    }

    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|(p, _)| p.clone()).collect()
    }
}

/// The repository's knowledge at `head`: kept beside the clone, and read again only when
/// the default branch has moved.
pub async fn scan(clone: &std::path::Path, head: &str) -> Result<knowledge::Knowledge, git::GitError> {
    scan_with(clone, head, None).await
}

/// [`scan`], reusing `snapshot` when the caller has read the tree already.
pub async fn scan_with(
    clone: &std::path::Path,
    head: &str,
    snapshot: Option<&Snapshot>,
) -> Result<knowledge::Knowledge, git::GitError> {
    let cache = clone.with_extension("knowledge.json");
    if let Some(known) = std::fs::read(&cache)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<knowledge::Knowledge>(&bytes).ok())
        .filter(|k| k.head == head)
    {
        return Ok(known);
    }
    let read;
    let snapshot = match snapshot {
        Some(snapshot) => snapshot,
        None => {
            read = Snapshot::read(clone, head).await?;
            &read
        }
    };
    let known = knowledge::analyze(head, &snapshot.files, |p| snapshot.contents.get(p).cloned());
    if let Ok(bytes) = serde_json::to_vec_pretty(&known) {
        let _ = std::fs::write(&cache, bytes);
    }
    Ok(known)
}

/// Adds a language model's short summary to `known` (once per commit: it is kept with the
/// knowledge beside the clone). Without a model, or when it fails, `known` stays as it is.
pub async fn summarize(
    llm: Option<&crate::llm::Llm>,
    store: &crate::store::Store,
    ws: &crate::store::WorkspaceId,
    day: &str,
    clone: &std::path::Path,
    known: &mut knowledge::Knowledge,
) {
    let Some(llm) = llm.filter(|_| known.summary.is_none()) else { return };
    let system = "You describe a code repository to a colleague in at most three sentences: what it is, how it is \
                  built and tested. Answer with JSON only: {\"summary\": string}.";
    let prompt =
        format!("What pmbot read of the repository (JSON):\n{}", serde_json::to_string(&known).unwrap_or_default());
    let check = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text.trim())
            .ok()
            .and_then(|v| v["summary"].as_str().map(|s| s.trim().chars().take(600).collect::<String>()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| crate::llm::LlmError::Invalid("no summary".into()))
    };
    match llm.ask_with(300, store, ws, day, system, &prompt, check).await {
        Ok(reply) => {
            known.summary = Some(reply.answer);
            if let Ok(bytes) = serde_json::to_vec_pretty(&known) {
                let _ = std::fs::write(clone.with_extension("knowledge.json"), bytes);
            }
        }
        Err(err) => tracing::warn!(error = %err, "no summary of the repository"),
    }
}

/// Removes the worktrees (and pmbot's branches) of runs that ended before `before`; the
/// run's SPEC, prompt and logs stay. How many were removed.
pub async fn clean_worktrees(
    store: &crate::store::Store,
    ws: &crate::store::WorkspaceId,
    config: &Config,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<usize, crate::store::StoreError> {
    let mut removed = 0;
    for run in store.fix_runs(ws, 10_000).await? {
        let ended_long_ago = run.finished_at.is_some_and(|at| at < before);
        let worktree = worktree_dir(config, run.id);
        if !ended_long_ago || !worktree.exists() {
            continue;
        }
        let branch = run.data.get("branch").and_then(serde_json::Value::as_str).unwrap_or("-").to_string();
        match Repo::of(config, &run.project) {
            Some(repo) => git::remove_worktree(&repo.clone_dir(config), &worktree, &branch).await,
            None => {
                let _ = std::fs::remove_dir_all(&worktree);
            }
        }
        removed += 1;
    }
    Ok(removed)
}

/// Where clones, worktrees and run files live.
pub fn workspace_dir(config: &Config) -> PathBuf {
    config.fix.workspace_dir.clone().unwrap_or_else(|| crate::config::data_dir().join("fix"))
}

/// The run's own directory: `worktree/` (the agent's), `input/` (read-only for it), logs.
pub fn run_dir(config: &Config, run: i64) -> PathBuf {
    workspace_dir(config).join("runs").join(format!("run-{run}"))
}

/// The run's worktree: its folder name is unique (git names its record after it).
pub fn worktree_dir(config: &Config, run: i64) -> PathBuf {
    run_dir(config, run).join(format!("worktree-{run}"))
}

/// `pmbot/web-12-greeting-says-helo`.
pub fn branch_name(key: &str, title: &str) -> String {
    let mut slug = String::new();
    for word in title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).take(5) {
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word.to_ascii_lowercase());
    }
    let slug: String = slug.chars().take(40).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("pmbot/{}", key.to_ascii_lowercase())
    } else {
        format!("pmbot/{}-{slug}", key.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_named_after_the_ticket() {
        assert_eq!(branch_name("WEB-12", "Greeting says \"Helo\"!"), "pmbot/web-12-greeting-says-helo");
        assert_eq!(branch_name("WEB-3", "¿¿"), "pmbot/web-3");
    }
}
