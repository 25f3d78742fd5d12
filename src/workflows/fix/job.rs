//! The job that carries a fix run through its states. One job per run, for its whole life:
//! each attempt reads the run's state and does the next step, parks at a gate (the approval
//! resumes it), snoozes while the AI queue is paused or full, and stops at a final state.
//!
//! Every step can be run again: a transition is a compare-and-set on the state (so it
//! happens once), approvals are opened once per subject, EXECUTING restarts from a clean
//! worktree, and what the thread has not been told yet is told on the next pass.

use super::sandbox::{Ended, Sandbox, Task};
use super::{git, knowledge, scope, spec, GateResult, PullRequest, Repo, RunData};
use crate::board::{RunState, Status};
use crate::chat::Chat;
use crate::config::{ForgeKind, SandboxKind};
use crate::forge::github::{Github, GithubError};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::fix::{FIX_JOB_ATTEMPTS, FIX_JOB_KIND};
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{ApprovalState, Approvers, FixRun, NewApproval, NewDecision, StoreError};
use crate::workflows::views::Names;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use RunState::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixJob {
    pub run: i64,
}

impl JobSpec for FixJob {
    const KIND: &'static str = FIX_JOB_KIND;
    const MAX_ATTEMPTS: u32 = FIX_JOB_ATTEMPTS;
    /// Long enough for the agent's limit and the gates'; each has its own, shorter limit.
    const TIMEOUT: Duration = Duration::from_secs(4 * 3600);

    fn unique_key(&self) -> Option<String> {
        Some(format!("fix:{}", self.run))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for FixJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        let result = self.step(env, ctx).await;
        // A job that stops for good leaves no run behind in a working state (it would hold
        // its ticket and a slot of the queue for ever).
        match &result {
            Err(StepError::Gone(why)) => self.give_up(env, ctx, why).await,
            Err(StepError::Failed(why)) if ctx.attempt >= ctx.max_attempts => self.give_up(env, ctx, why).await,
            _ => {}
        }
        crate::job_env::finish(result)
    }
}

/// How the agent's part of EXECUTING ended.
enum AgentEnd {
    Done,
    Stopped,
    Failed(String),
}

const NO_GITHUB: &str = "the github forge needs GitHub credentials: GITHUB_TOKEN, or GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY";

/// Why talking to the repository's forge did not work: for good (the run ends with it), or
/// for now (the job tries again, or waits out a rate limit).
enum Trouble {
    Final(String),
    Retry(String),
    Wait(Duration),
}

impl Trouble {
    fn later(self) -> Result<Next, StepError> {
        match self {
            Trouble::Wait(wait) => Ok(Next::Stop(Outcome::Snooze(wait))),
            Trouble::Retry(why) | Trouble::Final(why) => Err(StepError::Failed(why)),
        }
    }
}

impl From<GithubError> for Trouble {
    fn from(err: GithubError) -> Self {
        match err {
            GithubError::RateLimited(wait) => Trouble::Wait(wait),
            GithubError::Unavailable(why) => Trouble::Retry(format!("GitHub did not answer: {why}")),
            err @ (GithubError::Refused { .. } | GithubError::Settings(_)) => Trouble::Final(err.to_string()),
        }
    }
}

const NO_MODEL: &str = "the built-in agent needs a language model (PMBOT_LLM_URL and PMBOT_LLM_MODEL, or ANTHROPIC_API_KEY); or set [projects.fix] agent to an agent's command";

/// What a step leads to: the next step now, or an outcome for the queue.
enum Next {
    Go,
    Stop(Outcome),
}

/// How a gate was decided, read from its approval.
enum Verdict {
    Pending,
    Approved(String),
    Changes(String, String),
    Rejected(String),
    Expired,
    Withdrawn,
}

const PAUSED_RETRY: Duration = Duration::from_secs(30);

impl FixJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let ws = &ctx.workspace;
        loop {
            let run = self.sync(env, ctx, env.store.fix_run(ws, self.run).await?).await?;
            if run.state.is_final() {
                return Ok(Outcome::Done);
            }
            if env.store.fix_paused(ws).await? {
                return Ok(Outcome::Snooze(PAUSED_RETRY));
            }
            let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
            // The steps that work on the repository need its configuration still there.
            let next = match (run.state, Repo::of(&env.config, &run.project)) {
                (Pending, _) => self.start(env, ctx, &run, data).await?,
                (AwaitingSpecApproval, _) => self.spec_gate(env, ctx, &run, data).await?,
                (PrCreated, _) => self.open_pr_gate(env, ctx, &run, data).await?,
                (Planning, Some(repo)) => self.plan(env, ctx, &run, &repo, data).await?,
                (SpecApproved, Some(repo)) => self.prepare(env, ctx, &run, &repo, data).await?,
                (Executing, Some(repo)) => self.execute(env, ctx, &run, &repo, data).await?,
                (QaRunning, Some(repo)) => self.qa(env, ctx, &run, &repo, data).await?,
                (AwaitingPrApproval, Some(repo)) => self.pr_gate(env, ctx, &run, &repo, data).await?,
                (Planning | SpecApproved | Executing | QaRunning | AwaitingPrApproval, None) => {
                    let why = "the project has no [projects.fix] any more".to_string();
                    self.fail(env, ctx, &run, &data, Error, why).await?
                }
                (Completed | SpecRejected | QaFailed | Error | Cancelled, _) => Next::Stop(Outcome::Done),
            };
            if let Next::Stop(outcome) = next {
                return Ok(outcome);
            }
        }
    }

    /// Ends the run in ERROR with `why`, when its job can do no more.
    async fn give_up<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, why: &str) {
        let Ok(run) = env.store.fix_run(&ctx.workspace, self.run).await else { return };
        if run.state.is_final() {
            return;
        }
        let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
        let why = format!("pmbot could not go on: {why}");
        if self.fail(env, ctx, &run, &data, Error, why).await.is_ok() {
            if let Ok(run) = env.store.fix_run(&ctx.workspace, self.run).await {
                let _ = self.sync(env, ctx, run).await;
            }
        }
    }

    /// Moves the run from its state to `to`, once, with its decision-log row; then tells
    /// the thread and moves the ticket. `false` when the run had moved on already.
    #[allow(clippy::too_many_arguments)]
    async fn go<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        data: &RunData,
        to: RunState,
        actor: &str,
        why: &str,
    ) -> Result<Next, StepError> {
        if !run.state.may_go(to) {
            return Err(StepError::Gone(format!(
                "fix run #{}: {} → {to} is not a legal transition",
                run.id, run.state
            )));
        }
        let ws = &ctx.workspace;
        let data = self.with_latest_ci(env, ctx, data).await;
        let data = serde_json::to_value(&data).unwrap_or(Value::Null);
        let mut tx = env.store.begin().await?;
        if tx.transition_fix_run(ws, run.id, run.state, to, actor, why, Some(&data), ctx.now).await? {
            let decision = NewDecision {
                kind: "fix.transition".into(),
                subject: run.ticket.to_string(),
                inputs: json!({ "run": run.id, "from": run.state.as_str(), "to": to.as_str(), "job": ctx.id }),
                rationale: why.to_string(),
                confidence: 1.0,
                action: format!("{} → {to}", run.state),
                actor: actor.to_string(),
                outcome: to.as_str().to_string(),
                source: None,
            };
            tx.log_decision(ws, &decision, ctx.now).await?;
        }
        tx.commit().await?;
        Ok(Next::Go)
    }

    async fn fail<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        data: &RunData,
        to: RunState,
        why: String,
    ) -> Result<Next, StepError> {
        self.go(env, ctx, run, data, to, "pmbot", &why).await
    }

    // ── PENDING ────────────────────────────────────────────────────────────────────────

    /// Triage for automation and the hourly limit; then PLANNING. A refusal asks no model.
    async fn start<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        data: RunData,
    ) -> Result<Next, StepError> {
        let ticket = env.store.ticket(&ctx.workspace, &run.ticket).await?;
        let project = env.config.projects.iter().find(|p| p.key == ticket.project).and_then(|p| p.fix.as_ref());
        if let Err(why) = super::eligible::eligible(&ticket, project, &env.config.fix) {
            return self
                .fail(env, ctx, run, &data, Cancelled, format!("not for the AI queue: {}", why.join("; ")))
                .await;
        }
        let hour_ago = ctx.now - chrono::Duration::hours(1);
        let started = env.store.fix_runs_started_since(&ctx.workspace, hour_ago).await?;
        if started > i64::from(env.config.fix.max_runs_per_hour) {
            let why =
                format!("{started} runs started in the last hour; the limit is {}", env.config.fix.max_runs_per_hour);
            return self.fail(env, ctx, run, &data, Cancelled, why).await;
        }
        self.go(env, ctx, run, &data, Planning, "pmbot", "the ticket may go to the AI queue").await
    }

    // ── PLANNING ───────────────────────────────────────────────────────────────────────

    /// Reads the repository, writes the SPEC (or revises it with the reviewer's words),
    /// opens gate 1 and posts its card.
    async fn plan<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let ticket = env.store.ticket(&ctx.workspace, &run.ticket).await?;
        let clone = repo.clone_dir(&env.config);
        let head = match self.refresh(env, repo).await {
            Ok(head) => head,
            Err(Trouble::Final(why)) => return self.fail(env, ctx, run, &data, Error, why).await,
            Err(trouble) => return trouble.later(),
        };
        let snapshot = super::Snapshot::read(&clone, &head).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let mut known =
            super::scan_with(&clone, &head, Some(&snapshot)).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let day = ctx.now.with_timezone(&env.config.team.timezone).format("%Y-%m-%d").to_string();
        super::summarize(env.llm.as_deref(), &env.store, &ctx.workspace, &day, &clone, &mut known).await;
        let (paths, contents) = (snapshot.paths(), &snapshot.contents);
        let text = format!("{} {}", ticket.title, ticket.description);
        let relevant = knowledge::relevant(&text, &paths, |p| contents.get(p).cloned(), 8);
        let context = spec::Context {
            commits: git::recent_commits(&clone, &head, &relevant.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>())
                .await,
            test_command: known.test.first().cloned(),
            relevant,
        };
        if let (Some(of), Some(sha)) = (data.revert_of, data.revert_sha.clone()) {
            return self.plan_revert(env, ctx, run, data, of, &sha).await;
        }
        let feedback = data.feedback.take();
        let by_hand = match (&data.spec, &feedback) {
            (Some(before), Some(words)) => spec::revise(before, words).unwrap_or_else(|why| {
                let mut kept = before.clone();
                kept.revisions.push(format!("{words} (not applied: {why})"));
                kept
            }),
            _ => spec::skeleton(run.ticket.as_str(), &ticket.title, &ticket.description, &context),
        };
        let revising = data.spec.as_ref().zip(feedback.as_deref());
        let mut problems = Vec::new();
        let written = match self.model_spec(env, ctx, run, &ticket, &context, &known, &paths, revising).await? {
            // A reviewer's explicit `files:` line wins over the model's list.
            Some((mut from_model, tokens)) => {
                data.tokens += tokens;
                from_model.revisions = by_hand.revisions.clone();
                if feedback.as_deref().is_some_and(|w| w.lines().any(|l| l.trim().to_lowercase().starts_with("files:")))
                {
                    from_model.files = by_hand.files.clone();
                }
                from_model
            }
            None if env.llm.is_some() => {
                problems.push("the model's SPEC did not hold up, so this is the skeleton".to_string());
                by_hand
            }
            None => by_hand,
        };
        problems.extend(spec::validate(&written, &paths).err().unwrap_or_default());
        let input = super::run_dir(&env.config, run.id).join("input");
        write_file(&input.join("SPEC.md"), &spec::markdown(&written))?;
        write_file(
            &input.join("context.json"),
            &serde_json::to_string_pretty(&json!({
                "knowledge": known, "context": context,
            }))
            .unwrap_or_default(),
        )?;
        let round = written.revisions.len();
        let approval = self.open_spec_gate(env, ctx, run, &data, &written, &problems, &input).await?;
        data.spec = Some(written);
        data.spec_approval = Some(approval);
        let why = match round {
            0 => "the SPEC is written and waits for an approver".to_string(),
            n => format!("the SPEC is revised (round {}) and waits for an approver", n + 1),
        };
        self.go(env, ctx, run, &data, AwaitingSpecApproval, "pmbot", &why).await
    }

    /// Opens gate 1 for `written` (once per SPEC round) and posts its card; the approval.
    #[allow(clippy::too_many_arguments)]
    async fn open_spec_gate<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        data: &RunData,
        written: &spec::Spec,
        problems: &[String],
        input: &Path,
    ) -> Result<i64, StepError> {
        let round = written.revisions.len();
        let fix = &env.config.fix;
        let expires_at = ctx.now + chrono::Duration::hours(i64::try_from(fix.spec_timeout_hours).unwrap_or(24));
        let approvers = approvers(&fix.spec_approvers, vec![]);
        let request = NewApproval {
            // The SPEC's own text is in the subject: a card approves what it showed, even if
            // planning ran again after a crash and wrote another.
            subject: format!(
                "fix:{}:spec:{round}:{}",
                run.id,
                crate::digest::short(spec::markdown(written).as_bytes())
            ),
            description: format!("SPEC for {} (fix run #{})", run.ticket, run.id),
            approvers: approvers.clone(),
            required: 1,
            expires_at: Some(expires_at),
        };
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let approval = board.open_approval(&Actor::System("pmbot".into()), &request, &Ctx::new(ctx.now)).await?;
        let card = env.templates.render("fix_spec", &json!({
            "key": run.ticket, "run": run.id, "problem": crate::workflows::views::shorten(&written.problem, 300),
            "files": written.files.iter().map(|f| if f.new { format!("{} (new)", f.path) } else { f.path.clone() }).collect::<Vec<_>>(),
            "plan": written.plan, "testing": written.testing, "problems": problems,
            "spec_path": input.join("SPEC.md").display().to_string(),
            "who": crate::service::who_may(&approvers), "expires": self.when(env, expires_at),
            "action": crate::workflows::triage::DECIDE_ACTION, "approval": approval.id,
        }))?;
        let (channel, thread) = self.thread(data)?;
        env.chat.post(&channel, thread.as_deref(), &card).await?;
        Ok(approval.id)
    }

    /// The SPEC from the language model, when one is configured and its answer holds up
    /// (with the tokens it cost); `None` otherwise (the reason is logged).
    #[allow(clippy::too_many_arguments)]
    async fn model_spec<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        ticket: &crate::board::Ticket,
        context: &spec::Context,
        known: &knowledge::Knowledge,
        paths: &[String],
        revising: Option<(&spec::Spec, &str)>,
    ) -> Result<Option<(spec::Spec, u64)>, StepError> {
        let Some(llm) = env.llm.as_deref() else { return Ok(None) };
        let fix = &env.config.fix;
        if self.tokens_today(env, ctx).await? >= fix.daily_token_budget {
            tracing::info!(run = run.id, "the AI queue's daily token budget is spent; the SPEC is the skeleton");
            return Ok(None);
        }
        let day = ctx.now.with_timezone(&env.config.team.timezone).format("%Y-%m-%d").to_string();
        let prompt = super::model::prompt(
            run.ticket.as_str(),
            &ticket.title,
            &ticket.description,
            context,
            known,
            paths,
            revising,
        );
        let check = |text: &str| {
            super::model::parse(text, run.ticket.as_str(), &ticket.title, paths).map_err(crate::llm::LlmError::Invalid)
        };
        match llm.ask_with(2000, &env.store, &ctx.workspace, &day, super::model::SYSTEM, &prompt, check).await {
            Ok(reply) => Ok(Some((reply.answer, reply.tokens))),
            Err(err) => {
                tracing::warn!(run = run.id, error = %err, "the model's SPEC was not used");
                Ok(None)
            }
        }
    }

    /// A revert's SPEC: undo the merge of run `of`, touching the files that run changed.
    async fn plan_revert<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        mut data: RunData,
        of: i64,
        sha: &str,
    ) -> Result<Next, StepError> {
        let original = env.store.fix_run(&ctx.workspace, of).await?;
        let before: RunData = serde_json::from_value(original.data.clone()).unwrap_or_default();
        let written = spec::Spec {
            title: format!("{}: revert fix run #{of}", run.ticket),
            problem: format!("Undo the change merged by fix run #{of} (merge {}).", &sha[..sha.len().min(12)]),
            files: before.changed.iter().map(|p| scope::Allowed { path: p.clone(), new: false }).collect(),
            plan: vec![format!("git revert of merge {sha}")],
            testing: "The configured QA gates.".into(),
            checklist: vec!["The files are as before the fix".into(), "The QA gates pass".into()],
            revisions: Vec::new(),
        };
        let input = super::run_dir(&env.config, run.id).join("input");
        write_file(&input.join("SPEC.md"), &spec::markdown(&written))?;
        let approval = self.open_spec_gate(env, ctx, run, &data, &written, &[], &input).await?;
        data.spec = Some(written);
        data.spec_approval = Some(approval);
        self.go(env, ctx, run, &data, AwaitingSpecApproval, "pmbot", "the revert's SPEC waits for an approver").await
    }

    // ── Gate 1 ─────────────────────────────────────────────────────────────────────────

    async fn spec_gate<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let Some(id) = data.spec_approval else {
            return self.fail(env, ctx, run, &data, Error, "the SPEC's approval is missing".into()).await;
        };
        match self.verdict(env, ctx, id).await? {
            Verdict::Pending => Ok(Next::Stop(Outcome::Await { approval_id: id })),
            Verdict::Approved(by) => {
                data.spec_approver = Some(by.clone());
                let why = format!("{} approved the SPEC", self.name(env, &by));
                self.go(env, ctx, run, &data, SpecApproved, &by, &why).await
            }
            Verdict::Changes(by, words) => {
                data.feedback = Some(words.clone());
                let why = format!("{} asked for changes: “{words}”", self.name(env, &by));
                self.go(env, ctx, run, &data, Planning, &by, &why).await
            }
            Verdict::Rejected(by) => {
                let why = format!("{} rejected the SPEC", self.name(env, &by));
                self.go(env, ctx, run, &data, SpecRejected, &by, &why).await
            }
            Verdict::Expired => {
                let hours = env.config.fix.spec_timeout_hours;
                self.fail(
                    env,
                    ctx,
                    run,
                    &data,
                    SpecRejected,
                    format!("expired: nobody decided on the SPEC within {hours} h"),
                )
                .await
            }
            Verdict::Withdrawn => Ok(Next::Go),
        }
    }

    // ── SPEC_APPROVED ──────────────────────────────────────────────────────────────────

    /// Checks the SPEC still fits the repository and that an agent and a sandbox are
    /// there; waits for a free slot; then a fresh branch from the default branch.
    async fn prepare<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let fix = &env.config.fix;
        if repo.agent.trim() == "builtin" && env.llm.is_none() && data.revert_sha.is_none() {
            return self.fail(env, ctx, run, &data, Error, NO_MODEL.into()).await;
        }
        if fix.sandbox == SandboxKind::Bwrap && super::sandbox::bwrap_works().await.is_err() {
            return self.fail(env, ctx, run, &data, Error, super::sandbox::SandboxError::NoBwrap.to_string()).await;
        }
        let working = env.store.fix_runs_working(&ctx.workspace, run.id).await?;
        if working >= i64::from(fix.max_concurrent_runs) {
            return Ok(Next::Stop(Outcome::Snooze(PAUSED_RETRY)));
        }
        let clone = repo.clone_dir(&env.config);
        let base = match self.refresh(env, repo).await {
            Ok(head) => head,
            Err(Trouble::Final(why)) => return self.fail(env, ctx, run, &data, Error, why).await,
            Err(trouble) => return trouble.later(),
        };
        let tree: Vec<String> = git::tree(&clone, &base)
            .await
            .map_err(|e| StepError::Failed(e.to_string()))?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let spec = data.spec.clone().unwrap_or_default();
        if let Err(problems) = spec::validate(&spec, &tree) {
            return self
                .fail(
                    env,
                    ctx,
                    run,
                    &data,
                    Error,
                    format!("the approved SPEC does not fit the repository: {}", problems.join("; ")),
                )
                .await;
        }
        let ticket = env.store.ticket(&ctx.workspace, &run.ticket).await?;
        data.base = Some(base);
        data.branch = Some(super::branch_name(run.ticket.as_str(), &ticket.title));
        let why = format!("working on branch `{}`", data.branch.as_deref().unwrap_or_default());
        self.go(env, ctx, run, &data, Executing, "pmbot", &why).await
    }

    // ── EXECUTING ──────────────────────────────────────────────────────────────────────

    /// The agent, in the sandbox, on a clean worktree; then the scope lock.
    async fn execute<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let (Some(base), Some(branch), Some(spec)) = (data.base.clone(), data.branch.clone(), data.spec.clone()) else {
            return self.fail(env, ctx, run, &data, Error, "the run lost its branch or SPEC".into()).await;
        };
        let clone = repo.clone_dir(&env.config);
        let dir = super::run_dir(&env.config, run.id);
        let worktree = super::worktree_dir(&env.config, run.id);
        // A run resumed after a crash starts again from the default branch: never on
        // whatever half an agent left.
        if let Err(err) = git::fresh_worktree(&clone, &worktree, &branch, &base).await {
            return self.fail(env, ctx, run, &data, Error, format!("cannot prepare the worktree: {err}")).await;
        }
        let input = dir.join("input");
        write_file(&input.join("SPEC.md"), &spec::markdown(&spec))?;
        let context: Value = std::fs::read(input.join("context.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        write_file(&input.join("prompt.md"), &prompt(&spec, data.feedback.as_deref(), &worktree, &context))?;
        let ended = if let Some(sha) = data.revert_sha.clone() {
            let auth = match repo.remote_auth(env.github.as_deref()).await {
                Ok(auth) => auth,
                Err(err) => return Trouble::from(err).later(),
            };
            match git::revert(&clone, &worktree, &sha, auth.as_ref()).await {
                Ok(()) => AgentEnd::Done,
                Err(err) => AgentEnd::Failed(format!("the merge cannot be reverted cleanly: {}", err.why)),
            }
        } else if repo.agent.trim() == "builtin" {
            self.builtin(env, ctx, repo, &spec, &worktree, &dir, &mut data).await?
        } else {
            self.command(env, ctx, repo, &worktree, &input, &dir, &mut data).await?
        };
        match ended {
            AgentEnd::Done => {}
            // Cancelled or paused: the loop reads which.
            AgentEnd::Stopped => return Ok(Next::Go),
            AgentEnd::Failed(why) => return self.fail(env, ctx, run, &data, Error, why).await,
        }
        let raw = git::staged_changes(&clone, &worktree, &base).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let changes = scope::parse_raw(&raw).map_err(StepError::Failed)?;
        let outside = scope::check(&changes, &spec.files);
        if !outside.is_empty() {
            let paths: Vec<String> = outside.iter().map(|v| v.path.clone()).collect();
            let _ = git::discard(&clone, &worktree, &base, &paths).await;
            let list: Vec<String> = outside.iter().map(|v| format!("{} ({})", v.path, v.why)).collect();
            let why =
                format!("the agent went outside the approved files; those changes were discarded: {}", list.join("; "));
            return self.fail(env, ctx, run, &data, Error, why).await;
        }
        if changes.is_empty() {
            return self.fail(env, ctx, run, &data, Error, "the agent changed nothing".into()).await;
        }
        data.changed = changes.iter().map(|c| c.path.clone()).collect();
        data.critical = scope::critical(&changes, &repo.critical_paths);
        data.diff_stat = git::diff_stat(&clone, &worktree, &base)
            .await
            .ok()
            .and_then(|s| s.lines().last().map(|l| l.trim().to_string()));
        data.feedback = None;
        data.qa_passed = false;
        let why = format!("the agent changed {} within scope", data.changed.join(", "));
        self.go(env, ctx, run, &data, QaRunning, "pmbot", &why).await
    }

    /// An agent's command, in the sandbox.
    #[allow(clippy::too_many_arguments)]
    async fn command<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &Repo,
        worktree: &Path,
        input: &Path,
        dir: &Path,
        data: &mut RunData,
    ) -> Result<AgentEnd, StepError> {
        let command = agent_command(&repo.agent);
        let limit = Duration::from_secs_f64(env.config.fix.max_execution_minutes * 60.0);
        let task = Task {
            command: &command,
            worktree,
            input: Some(input),
            log: &dir.join("agent.log"),
            timeout: limit,
            network: env.config.fix.agent_network,
        };
        let ran = match self.sandbox(env).run(&task, || self.should_stop(env, ctx, Executing)).await {
            Ok(ran) => ran,
            Err(err) => return Ok(AgentEnd::Failed(err.to_string())),
        };
        data.agent_seconds += ran.seconds;
        Ok(match ran.ended {
            Ended::Stopped => AgentEnd::Stopped,
            _ if ran.ok() => AgentEnd::Done,
            _ => AgentEnd::Failed(format!("the agent {}\n{}", ran.describe(limit), ran.tail)),
        })
    }

    /// The built-in agent: the model's tool calls on the worktree, within the run's and the
    /// day's token budgets and the wall-clock limit.
    #[allow(clippy::too_many_arguments)]
    async fn builtin<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &Repo,
        spec: &spec::Spec,
        worktree: &Path,
        dir: &Path,
        data: &mut RunData,
    ) -> Result<AgentEnd, StepError> {
        let Some(llm) = env.llm.as_deref() else {
            return Ok(AgentEnd::Failed(NO_MODEL.into()));
        };
        let fix = &env.config.fix;
        let spent_today = self.tokens_today(env, ctx).await?;
        let budget = fix.max_tokens_per_run.min(fix.daily_token_budget.saturating_sub(spent_today));
        if budget == 0 {
            return Ok(AgentEnd::Failed(format!(
                "the AI queue's daily token budget ({}) is spent",
                fix.daily_token_budget
            )));
        }
        let day = ctx.now.with_timezone(&env.config.team.timezone).format("%Y-%m-%d").to_string();
        let sandbox = self.sandbox(env);
        let agent = super::builtin::Agent {
            llm,
            store: &env.store,
            workspace: &ctx.workspace,
            day: &day,
            worktree,
            allowed: &spec.files,
            sandbox: &sandbox,
            gates: &repo.gates,
            logs: dir,
            budget,
        };
        let prompt = std::fs::read_to_string(dir.join("input/prompt.md")).unwrap_or_default();
        let limit = Duration::from_secs_f64(fix.max_execution_minutes * 60.0);
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(limit, agent.run(&prompt, || self.should_stop(env, ctx, Executing))).await;
        data.agent_seconds += started.elapsed().as_secs_f64();
        let (result, tokens) = match outcome {
            Ok(ended) => ended,
            Err(_) => {
                return Ok(AgentEnd::Failed(format!(
                    "the agent ran past its {} s limit and was stopped",
                    limit.as_secs()
                )))
            }
        };
        data.tokens += tokens;
        if self.should_stop(env, ctx, Executing).await {
            return Ok(AgentEnd::Stopped);
        }
        Ok(match result {
            Ok(summary) => {
                data.agent_summary = Some(summary);
                AgentEnd::Done
            }
            Err(why) => AgentEnd::Failed(format!("the built-in agent stopped: {why}")),
        })
    }

    /// Tokens the AI queue spent today (runs started since midnight UTC).
    async fn tokens_today<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<u64, StepError> {
        let midnight = ctx.now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let runs = env.store.fix_runs(&ctx.workspace, 1000).await?;
        Ok(runs
            .iter()
            .filter(|r| r.created_at >= midnight)
            .map(|r| r.data.get("tokens").and_then(Value::as_u64).unwrap_or(0))
            .sum())
    }

    // ── QA_RUNNING ─────────────────────────────────────────────────────────────────────

    /// The gates, in the sandbox without network. All required pass: commit, push, open
    /// the pull request. A failure gets one more EXECUTING with its output, then QA_FAILED.
    async fn qa<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let dir = super::run_dir(&env.config, run.id);
        let worktree = super::worktree_dir(&env.config, run.id);
        let clone = repo.clone_dir(&env.config);
        git::restore_pointer(&clone, &worktree).map_err(|e| StepError::Failed(e.to_string()))?;
        if data.qa_passed {
            return self.publish_and_open(env, ctx, run, repo, data).await;
        }
        let sandbox = self.sandbox(env);
        let mut results = Vec::new();
        for (i, gate) in repo.gates.iter().enumerate() {
            let limit = Duration::from_secs(gate.timeout_seconds);
            let task = Task {
                command: &gate.command,
                worktree: &worktree,
                input: None,
                log: &dir.join(format!("gate-{i}.log")),
                timeout: limit,
                network: false,
            };
            let ran = match sandbox.run(&task, || self.should_stop(env, ctx, QaRunning)).await {
                Ok(ran) => ran,
                Err(err) => return self.fail(env, ctx, run, &data, Error, err.to_string()).await,
            };
            if ran.ended == Ended::Stopped {
                return Ok(Next::Go);
            }
            results.push(GateResult {
                name: gate.name.clone(),
                required: gate.required,
                passed: ran.ok(),
                seconds: ran.seconds,
                ended: ran.describe(limit),
                tail: ran.tail,
            });
        }
        data.gate_seconds += results.iter().map(|r| r.seconds).sum::<f64>();
        data.qa = results;
        let failed: Vec<&GateResult> = data.qa.iter().filter(|r| r.required && !r.passed).collect();
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|r| r.name.as_str()).collect();
            let output: Vec<String> = failed.iter().map(|r| format!("{} {}:\n{}", r.name, r.ended, r.tail)).collect();
            if !data.qa_retried {
                data.qa_retried = true;
                data.feedback = Some(format!("The QA gates failed. Fix this:\n{}", output.join("\n\n")));
                let why = format!("QA failed ({}); the agent gets one more try with the output", names.join(", "));
                return self.go(env, ctx, run, &data, Executing, "pmbot", &why).await;
            }
            let why = format!("QA failed again ({}):\n{}", names.join(", "), output.join("\n"));
            return self.fail(env, ctx, run, &data, QaFailed, why).await;
        }
        // Kept before publishing: a publish tried again (GitHub busy) does not rerun the gates.
        data.qa_passed = true;
        let data = self.with_latest_ci(env, ctx, &data).await;
        let value = serde_json::to_value(&data).unwrap_or(Value::Null);
        if !env.store.set_fix_data(&ctx.workspace, run.id, QaRunning, &value, ctx.now).await? {
            return Ok(Next::Go);
        }
        self.publish_and_open(env, ctx, run, repo, data).await
    }

    async fn publish_and_open<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        match self.publish(env, ctx, run, repo, &mut data).await {
            Ok(()) => {}
            Err(Trouble::Final(why)) => return self.fail(env, ctx, run, &data, Error, why).await,
            Err(trouble) => return trouble.later(),
        }
        let pr = data.pr.as_ref();
        let why = match pr.and_then(|p| p.url.as_deref()) {
            Some(url) => format!("the gates passed; pull request #{} opened: {url}", pr.map_or(0, |p| p.number)),
            None => format!("the gates passed; pull request #{} opened", pr.map_or(0, |p| p.number)),
        };
        self.go(env, ctx, run, &data, PrCreated, "pmbot", &why).await
    }

    /// Commits (pmbot, with the SPEC's approver as co-author), pushes the branch and opens
    /// the pull request on the project's forge.
    async fn publish<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        data: &mut RunData,
    ) -> Result<(), Trouble> {
        let worktree = super::worktree_dir(&env.config, run.id);
        let ticket = env.store.ticket(&ctx.workspace, &run.ticket).await.map_err(|e| Trouble::Retry(e.to_string()))?;
        let branch = data.branch.clone().unwrap_or_default();
        let base = data.base.clone().unwrap_or_default();
        let clone = repo.clone_dir(&env.config);
        let raw = git::staged_changes(&clone, &worktree, &base).await.map_err(|e| Trouble::Retry(e.to_string()))?;
        let changes = scope::parse_raw(&raw).map_err(Trouble::Final)?;
        let outside = scope::check(&changes, &data.spec.as_ref().map(|s| s.files.clone()).unwrap_or_default());
        if !outside.is_empty() {
            return Err(Trouble::Final(format!(
                "the gates changed files outside the approved ones: {}",
                outside.iter().map(|v| v.path.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        let co_author = data
            .spec_approver
            .as_deref()
            .map(|h| format!("\n\nCo-authored-by: {} <{h}@users.pmbot.invalid>", self.name(env, h)))
            .unwrap_or_default();
        let message = format!("{}: {}\n\nFix run #{} of the AI queue.{co_author}", run.ticket, ticket.title, run.id);
        let head = git::commit(&clone, &worktree, &base, &message)
            .await
            .map_err(|e| Trouble::Final(format!("cannot commit: {e}")))?;
        let auth = repo.remote_auth(env.github.as_deref()).await?;
        git::push(&clone, &worktree, &branch, auth.as_ref())
            .await
            .map_err(|e| Trouble::Final(format!("the push was rejected: {}", e.why)))?;
        match repo.fix.forge {
            ForgeKind::Local => {
                data.pr = Some(PullRequest {
                    number: run.id,
                    forge: "local".into(),
                    branch,
                    head,
                    url: None,
                    node_id: None,
                    draft: false,
                });
                Ok(())
            }
            ForgeKind::Github => {
                let (github, slug) = self.github(env, repo)?;
                let names = Names::new(&env.config.people());
                let qa: Vec<String> = data.qa.iter().map(GateResult::line).collect();
                let spec = data.spec.clone().unwrap_or_default();
                let plan: String = spec.plan.iter().map(|step| format!("\n- {step}")).collect();
                let summary = format!("{}\n\n**Plan**{plan}", spec.problem.trim());
                let body = crate::forge::github::policy::pr_body(&crate::forge::github::policy::Body {
                    ticket: run.ticket.as_str(),
                    ticket_url: None,
                    title: &ticket.title,
                    summary: &summary,
                    checklist: &spec.checklist,
                    stat: data.diff_stat.as_deref().unwrap_or_default(),
                    qa: &qa,
                    run: run.id,
                    requested_by: &names.full(&run.requested_by),
                });
                let title = format!("{}: {}", run.ticket, ticket.title);
                let fix = &env.config.fix;
                let new = crate::forge::github::NewPr {
                    title: &title,
                    head: &branch,
                    base: &repo.fix.default_branch,
                    body: &body,
                    draft: fix.draft,
                };
                let pr = github.open_pr(&slug, &new).await?;
                // Labels and reviewers are asked for; a refusal is said, the PR stands.
                let mut notes = Vec::new();
                if let Err(err) = github.add_labels(&slug, pr.number, &fix.pr_labels).await {
                    notes.push(format!("labels not added: {err}"));
                }
                if let Err(err) = github.request_reviewers(&slug, pr.number, &fix.reviewers).await {
                    notes.push(format!("reviewers not requested: {err}"));
                }
                if !notes.is_empty() {
                    if let Ok((channel, thread)) = self.thread(data) {
                        let text = format!("⚠️ Pull request #{}: {}", pr.number, notes.join("; "));
                        let _ = env.chat.post(&channel, thread.as_deref(), &crate::chat::Message::text(text)).await;
                    }
                }
                data.pr = Some(PullRequest {
                    number: pr.number,
                    forge: "github".into(),
                    branch,
                    head,
                    url: Some(pr.url),
                    node_id: pr.node_id,
                    draft: pr.draft,
                });
                Ok(())
            }
        }
    }

    /// pmbot's clone, fetched with the forge's credentials; the default branch's commit.
    async fn refresh<C>(&self, env: &JobEnv<C>, repo: &Repo) -> Result<String, Trouble> {
        if repo.fix.forge == ForgeKind::Github {
            self.github(env, repo)?;
        }
        let auth = repo.remote_auth(env.github.as_deref()).await?;
        git::refresh_clone(&repo.fix.repository, &repo.clone_dir(&env.config), &repo.fix.default_branch, auth.as_ref())
            .await
            .map_err(|err| Trouble::Final(format!("cannot read the repository: {err}")))
    }

    /// The GitHub client and the repository's `owner/name`, or why the github forge cannot work.
    fn github<'e, C>(&self, env: &'e JobEnv<C>, repo: &Repo) -> Result<(&'e Github, String), Trouble> {
        let github = env.github.as_deref().ok_or_else(|| Trouble::Final(NO_GITHUB.into()))?;
        let slug = repo.github_slug().ok_or_else(|| {
            Trouble::Final(format!(
                "{} is not a GitHub repository URL; set [projects.fix] github_repo = \"owner/name\"",
                repo.fix.repository
            ))
        })?;
        Ok((github, slug))
    }

    // ── PR_CREATED ─────────────────────────────────────────────────────────────────────

    /// Opens gate 2 (two approvals when critical paths changed; someone other than the
    /// SPEC's approver when approvers must be distinct) and posts its card.
    async fn open_pr_gate<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let fix = &env.config.fix;
        let except = match (&data.spec_approver, fix.distinct_approvers) {
            (Some(h), true) => vec![h.clone()],
            _ => vec![],
        };
        let approvers = approvers(&fix.pr_approvers, except);
        let required = if data.critical.is_empty() { 1 } else { 2 };
        let expires_at = ctx.now + chrono::Duration::hours(i64::try_from(fix.pr_timeout_hours).unwrap_or(48));
        let round = data.spec.as_ref().map_or(0, |s| s.revisions.len());
        let request = NewApproval {
            subject: format!("fix:{}:pr:{round}:{}", run.id, data.pr.as_ref().map_or("", |p| p.head.as_str())),
            description: format!("Pull request for {} (fix run #{})", run.ticket, run.id),
            approvers: approvers.clone(),
            required,
            expires_at: Some(expires_at),
        };
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let approval = board.open_approval(&Actor::System("pmbot".into()), &request, &Ctx::new(ctx.now)).await?;
        let pr = data.pr.clone();
        let card = env.templates.render(
            "fix_pr",
            &json!({
                "key": run.ticket, "run": run.id,
                "branch": pr.as_ref().map_or("", |p| p.branch.as_str()),
                "forge": pr.as_ref().map_or("local", |p| p.forge.as_str()),
                "stat": data.diff_stat.clone().unwrap_or_default(),
                "qa": if data.qa.is_empty() {
                vec!["⚠️ no QA gates are configured for this project: nothing was run".to_string()]
            } else {
                data.qa.iter().map(GateResult::line).collect::<Vec<_>>()
            },
                "checklist": data.spec.as_ref().map(|s| s.checklist.clone()).unwrap_or_default(),
                "critical": data.critical.join(", "),
                "who": crate::service::who_may(&approvers), "expires": self.when(env, expires_at),
                "action": crate::workflows::triage::DECIDE_ACTION, "approval": approval.id,
            }),
        )?;
        let (channel, thread) = self.thread(&data)?;
        env.chat.post(&channel, thread.as_deref(), &card).await?;
        data.pr_approval = Some(approval.id);
        let why = if required == 2 {
            "waiting for two approvals (critical paths changed)"
        } else {
            "waiting for an approver"
        };
        self.go(env, ctx, run, &data, AwaitingPrApproval, "pmbot", why).await
    }

    // ── Gate 2 ─────────────────────────────────────────────────────────────────────────

    async fn pr_gate<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        run: &FixRun,
        repo: &Repo,
        mut data: RunData,
    ) -> Result<Next, StepError> {
        let Some(id) = data.pr_approval else {
            return self.fail(env, ctx, run, &data, Error, "the pull request's approval is missing".into()).await;
        };
        match self.verdict(env, ctx, id).await? {
            Verdict::Pending => Ok(Next::Stop(Outcome::Await { approval_id: id })),
            Verdict::Approved(by) => {
                let branch = data.branch.clone().unwrap_or_default();
                let scratch = super::run_dir(&env.config, run.id).join(format!("merge-{}", run.id));
                let message = format!("Merge {branch}: {} (fix run #{})", run.ticket, run.id);
                let clone = repo.clone_dir(&env.config);
                let head = data.pr.as_ref().map(|p| p.head.clone()).unwrap_or_default();
                let merged = match repo.fix.forge {
                    ForgeKind::Local => {
                        git::merge(&clone, &scratch, &branch, &head, &repo.fix.default_branch, &message)
                            .await
                            .map_err(|err| Trouble::Final(err.why))
                    }
                    ForgeKind::Github => self.merge_on_github(env, repo, &data, &message).await,
                };
                match merged {
                    Ok(sha) => data.merged = Some(sha),
                    Err(Trouble::Final(why)) => {
                        return self.fail(env, ctx, run, &data, Error, format!("could not merge: {why}")).await
                    }
                    Err(trouble) => return trouble.later(),
                }
                let deciders = self.deciders(env, ctx, id).await?;
                let why = format!("{} approved; merged into {}", deciders, repo.fix.default_branch);
                self.go(env, ctx, run, &data, Completed, &by, &why).await
            }
            Verdict::Changes(by, words) => {
                data.feedback = Some(format!("The reviewer asked for changes: {words}"));
                data.qa_retried = false;
                let why = format!("{} asked for changes: “{words}”", self.name(env, &by));
                self.go(env, ctx, run, &data, Executing, &by, &why).await
            }
            Verdict::Rejected(by) => {
                let why = format!("{} closed the pull request", self.name(env, &by));
                self.go(env, ctx, run, &data, Cancelled, &by, &why).await
            }
            Verdict::Expired => {
                let hours = env.config.fix.pr_timeout_hours;
                self.fail(
                    env,
                    ctx,
                    run,
                    &data,
                    Cancelled,
                    format!("closed: nobody decided on the pull request within {hours} h"),
                )
                .await
            }
            Verdict::Withdrawn => Ok(Next::Go),
        }
    }

    /// Merges the approved head through GitHub's API and deletes the branch.
    async fn merge_on_github<C>(
        &self,
        env: &JobEnv<C>,
        repo: &Repo,
        data: &RunData,
        title: &str,
    ) -> Result<String, Trouble> {
        let (github, slug) = self.github(env, repo)?;
        let pr = data.pr.as_ref().ok_or_else(|| Trouble::Final("the run has no pull request".into()))?;
        // The team's CI is one more gate: a failed check on the approved head stops the merge.
        let failed: Vec<String> = super::latest_ci(&data.ci, &pr.head)
            .into_iter()
            .filter(|c| c.failed())
            .map(|c| format!("{} {} ({})", c.name, c.conclusion, c.url))
            .collect();
        if !failed.is_empty() {
            return Err(Trouble::Final(format!("the team's CI failed on the approved head: {}", failed.join(", "))));
        }
        let method = env.config.fix.merge_method.as_str();
        let sha = github.merge(&slug, pr.number, method, &pr.head, title).await?;
        if let Err(err) = github.delete_branch(&slug, &pr.branch).await {
            tracing::warn!(error = %err, branch = %pr.branch, "the merged branch was not deleted");
        }
        Ok(sha)
    }

    // ── Telling the thread, following on the board ────────────────────────────────────

    /// Posts what the thread has not been told (opening it first), and puts the ticket
    /// where the run's state says, once per transition.
    /// Returns the run as it is afterwards.
    async fn sync<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, mut run: FixRun) -> Result<FixRun, StepError> {
        let ws = &ctx.workspace;
        let mut data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
        let names = Names::new(&env.config.people());
        if data.thread.is_none() || data.channel.is_none() {
            let ticket = env.store.ticket(ws, &run.ticket).await?;
            let channel = data.channel.clone().unwrap_or_else(|| {
                env.config
                    .projects
                    .iter()
                    .find(|p| p.key == run.project)
                    .and_then(|p| p.channel.clone())
                    .unwrap_or_else(|| env.config.standup.channel.clone())
            });
            let root = env.templates.render(
                "fix_started",
                &json!({
                    "run": run.id, "key": run.ticket, "title": ticket.title, "by": names.full(&run.requested_by),
                }),
            )?;
            let posted = env.chat.post(&channel, None, &root).await?;
            data.channel = Some(channel);
            data.thread = Some(posted.ts);
            let value = serde_json::to_value(&data).unwrap_or(Value::Null);
            if !env.store.set_fix_data(ws, run.id, run.state, &value, ctx.now).await? {
                return Err(StepError::Failed("the run changed while its thread was opened".into()));
            }
            run.data = value;
        }
        let run = &run;
        let (channel, thread) = self.thread(&data)?;
        let board = BoardService::new(env.store.clone(), ws.clone());
        for t in env.store.fix_transitions(ws, run.id).await?.into_iter().filter(|t| t.posted_at.is_none()) {
            let Some(from) = t.from else {
                env.store.mark_fix_transition_posted(ws, t.id, ctx.now).await?;
                continue;
            };
            let (reason, detail) = match t.reason.split_once('\n') {
                Some((first, rest)) => (first.to_string(), Some(crate::workflows::views::shorten(rest, 1500))),
                None => (t.reason.clone(), None),
            };
            let message = env.templates.render(
                "fix_transition",
                &json!({
                    "from": from.as_str(), "to": t.to.as_str(), "reason": reason, "detail": detail,
                }),
            )?;
            env.chat.post(&channel, thread.as_deref(), &message).await?;
            // A completed revert reopens the ticket: its fix is undone.
            let reverted = t.to == Completed && data.revert_of.is_some();
            let status = if reverted { Some(Status::Todo) } else { t.to.board_status() };
            if let Some(status) = status {
                let note = match data.revert_of {
                    Some(of) if reverted => format!("The change of AI fix run #{of} was reverted by run #{}.", run.id),
                    _ => format!("The AI fix run #{} ended in {}: {reason}", run.id, t.to),
                };
                self.follow(&board, ctx, run, &t, status, &note).await?;
            }
            if t.to == Completed {
                if !reverted {
                    self.after_merge(env, ctx, run).await?;
                }
                if let Some(repo) = Repo::of(&env.config, &run.project) {
                    git::remove_worktree(
                        &repo.clone_dir(&env.config),
                        &super::worktree_dir(&env.config, run.id),
                        data.branch.as_deref().unwrap_or("-"),
                    )
                    .await;
                }
            }
            env.store.mark_fix_transition_posted(ws, t.id, ctx.now).await?;
        }
        Ok(run.clone())
    }

    /// The ticket follows the run: once per transition (its id is the change's key); a
    /// failure puts it back in to do with the reason as a comment.
    async fn follow(
        &self,
        board: &BoardService,
        ctx: &JobContext,
        run: &FixRun,
        t: &crate::store::FixTransition,
        status: Status,
        note: &str,
    ) -> Result<(), StepError> {
        let pmbot = Actor::System("pmbot".into());
        let change = Ctx::new(ctx.now)
            .once(format!("fix:{}:transition:{}", run.id, t.id))
            .because(format!("fix run #{}: {}", run.id, t.to));
        let why = format!("fix run #{} {}", run.id, t.to);
        match board.move_to(&pmbot, &run.ticket, status, Some(&why), &change).await {
            Ok(_) | Err(ServiceError::Store(StoreError::AlreadyInStatus { .. })) => {}
            Err(err) => return Err(err.into()),
        }
        if status == Status::Todo {
            let change = Ctx::new(ctx.now).once(format!("fix:{}:comment:{}", run.id, t.id));
            board.comment(&pmbot, &run.ticket, note, &change).await?;
        }
        Ok(())
    }

    /// After a merge: the project's deploy (whose end tells the reporters), or, for a
    /// project that does not deploy, the reporters' news.
    async fn after_merge<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, run: &FixRun) -> Result<(), StepError> {
        use crate::intake::reply::{News, ReplyJob};
        let deploys = env.config.projects.iter().any(|p| p.key == run.project && p.deploy.is_some());
        let job = if deploys {
            crate::workflows::deploy::DeployJob { run: run.id }.to_new_job(ctx.now)
        } else {
            ReplyJob { ticket: run.ticket.to_string(), run: run.id, news: News::Merged }.to_new_job(ctx.now)
        };
        // Its own job (one per run, by its key): an outage there is retried there.
        let mut tx = env.store.begin().await?;
        tx.enqueue(&ctx.workspace, &job, ctx.now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `data` with the CI results GitHub's webhooks added to the run meanwhile (they write
    /// the run's record too; what this step writes must not drop them).
    async fn with_latest_ci<C>(&self, env: &JobEnv<C>, ctx: &JobContext, data: &RunData) -> RunData {
        let mut data = data.clone();
        if let Ok(current) = env.store.fix_run(&ctx.workspace, self.run).await {
            let stored: RunData = serde_json::from_value(current.data).unwrap_or_default();
            for result in stored.ci {
                if !data.ci.contains(&result) {
                    data.ci.push(result);
                }
            }
        }
        data
    }

    // ── Helpers ────────────────────────────────────────────────────────────────────────

    fn thread(&self, data: &RunData) -> Result<(String, Option<String>), StepError> {
        let channel = data.channel.clone().ok_or_else(|| StepError::Failed("the run has no channel yet".into()))?;
        Ok((channel, data.thread.clone()))
    }

    /// How gate `id` stands, from its approval row (so a job run again after a crash reads
    /// the same answer as the resumed one).
    async fn verdict<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, id: i64) -> Result<Verdict, StepError> {
        let approval = env.store.approval(&ctx.workspace, id).await?;
        let last = approval.decisions.last();
        let by = last.map(|d| d.decider.clone()).unwrap_or_else(|| "pmbot".into());
        let withdrawn = ctx.resume.as_ref().and_then(|r| r.get("state")).and_then(Value::as_str) == Some("withdrawn");
        Ok(match approval.state {
            ApprovalState::Pending if approval.expires_at.is_some_and(|e| e <= ctx.now) => Verdict::Expired,
            ApprovalState::Pending => Verdict::Pending,
            ApprovalState::Approved => Verdict::Approved(by),
            ApprovalState::ChangesRequested => {
                Verdict::Changes(by, last.and_then(|d| d.comment.clone()).unwrap_or_else(|| "(no comment)".into()))
            }
            ApprovalState::Rejected if withdrawn || last.is_none() => Verdict::Withdrawn,
            ApprovalState::Rejected => Verdict::Rejected(by),
            ApprovalState::Expired => Verdict::Expired,
        })
    }

    /// "Pat Morgan and Ana Ruiz": everyone who approved gate `id`.
    async fn deciders<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, id: i64) -> Result<String, StepError> {
        let approval = env.store.approval(&ctx.workspace, id).await?;
        let names: Vec<String> = approval
            .decisions
            .iter()
            .filter(|d| d.verdict == crate::board::Verdict::Approve)
            .map(|d| self.name(env, &d.decider))
            .collect();
        Ok(names.join(" and "))
    }

    /// Whether a running agent or gate must stop: the run left `state`, or the queue paused.
    async fn should_stop<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, state: RunState) -> bool {
        let moved = env.store.fix_run(&ctx.workspace, self.run).await.map(|r| r.state != state).unwrap_or(false);
        moved || env.store.fix_paused(&ctx.workspace).await.unwrap_or(false)
    }

    fn sandbox<C>(&self, env: &JobEnv<C>) -> Sandbox {
        let fix = &env.config.fix;
        Sandbox {
            kind: fix.sandbox,
            memory_mb: fix.memory_mb,
            max_processes: fix.max_processes,
            env: fix.env.iter().filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v))).collect(),
            read_only: fix.read_only.clone(),
        }
    }

    fn name<C>(&self, env: &JobEnv<C>, handle: &str) -> String {
        Names::new(&env.config.people()).full(handle)
    }

    fn when<C>(&self, env: &JobEnv<C>, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&env.config.team.timezone).format("%A %-d %B %H:%M %Z").to_string()
    }
}

/// `["lead", "ana"]` → the lead role (which admits PMs) and @ana.
fn approvers(list: &[String], except: Vec<String>) -> Approvers {
    let mut out = Approvers { role: None, people: Vec::new(), except };
    for entry in list {
        match entry.parse::<crate::board::Role>() {
            Ok(role) if out.role.is_none() || role == crate::board::Role::Lead => out.role = Some(role),
            Ok(_) => {}
            Err(_) => out.people.push(entry.trim_start_matches('@').to_string()),
        }
    }
    out
}

/// The agent's command line: the template with the sandbox's paths filled in.
fn agent_command(template: &str) -> String {
    let input = super::sandbox::INPUT;
    template
        .replace("{prompt_file}", &format!("{input}/prompt.md"))
        .replace("{spec_file}", &format!("{input}/SPEC.md"))
        .replace("{worktree}", super::sandbox::WORKTREE)
}

/// What the agent is told: the SPEC, the rules, and what to fix again.
/// What the agent is told: the SPEC, the rules, the repository's own instructions for
/// contributors and agents (AGENTS.md, CLAUDE.md, CONTRIBUTING.md), the context planning
/// found, and what to fix again.
fn prompt(spec: &spec::Spec, feedback: Option<&str>, worktree: &Path, context: &Value) -> String {
    let mut out = spec::markdown(spec);
    out.push_str("\n## Rules\n\n- Change only the files listed above; new files only where marked (new).\n- Do not touch tests you were not asked to change.\n- The repository's context (languages, commands, relevant files) is in context.json beside this file.\n");
    let instructions = context["knowledge"]["instructions"].as_array().cloned().unwrap_or_default();
    for name in instructions.iter().filter_map(Value::as_str) {
        let path = worktree.join(name);
        let regular = path.symlink_metadata().is_ok_and(|m| m.is_file() && m.len() < 64_000);
        if let Some(text) = regular.then(|| std::fs::read_to_string(&path).ok()).flatten() {
            let text: String = text.chars().take(4000).collect();
            out.push_str(&format!("\n## The repository's {name}\n\n{text}\n"));
        }
    }
    let relevant: Vec<&str> = context["context"]["relevant"]
        .as_array()
        .map(|r| r.iter().filter_map(|e| e[0].as_str()).collect())
        .unwrap_or_default();
    if !relevant.is_empty() {
        out.push_str(&format!("\n## Files most about the ticket\n\n{}\n", relevant.join(", ")));
    }
    let commits: Vec<&str> = context["context"]["commits"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !commits.is_empty() {
        out.push_str(&format!("\n## Recent commits there\n\n{}\n", commits.join("\n")));
    }
    if let Some(words) = feedback {
        out.push_str(&format!("\n## Fix this first\n\n{words}\n"));
    }
    out
}

fn write_file(path: &Path, text: &str) -> Result<(), StepError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StepError::Failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| StepError::Failed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_is_the_one_the_service_enqueues() {
        let now = chrono::Utc::now();
        assert_eq!(FixJob { run: 7 }.to_new_job(now), crate::service::fix::fix_job(7, now));
    }

    #[test]
    fn approvers_come_from_roles_and_handles() {
        let a = approvers(&["pm".into(), "@chloe".into()], vec!["pat".into()]);
        assert_eq!(a.role, Some(crate::board::Role::Pm));
        assert_eq!(a.people, ["chloe"]);
        assert_eq!(a.except, ["pat"]);
        assert_eq!(approvers(&["pm".into(), "lead".into()], vec![]).role, Some(crate::board::Role::Lead));
    }

    #[test]
    fn the_agent_sees_sandbox_paths() {
        assert_eq!(
            agent_command("pi -p {prompt_file} --cwd {worktree}"),
            "pi -p /tmp/pmbot/input/prompt.md --cwd /tmp/pmbot/worktree"
        );
    }
}
