//! `github.event`: one webhook delivery, acted on once (each effect is keyed by the
//! delivery in the decision log, so a retried job finds what it did).

use super::event::{keys_named, Event, Issue, PullRequest};
use crate::board::{NewTicket, RunState, Source, Status, TicketKey, Verdict};
use crate::chat::{Chat, Message};
use crate::config::{ForgeKind, ProjectConfig};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{FixRun, GithubLink, NewDecision, StoreError};
use crate::workflows::fix::{CiResult, Repo, RunData};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

const WHO: &str = "github";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GithubJob {
    /// `X-GitHub-Event`.
    pub event: String,
    /// `X-GitHub-Delivery`: GitHub's redeliveries of one event are one job.
    pub delivery: String,
    pub payload: Value,
}

impl JobSpec for GithubJob {
    const KIND: &'static str = "github.event";
    const MAX_ATTEMPTS: u32 = 8;
    const TIMEOUT: Duration = Duration::from_secs(600);

    fn unique_key(&self) -> Option<String> {
        Some(format!("github:{}", self.delivery))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for GithubJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

/// Whether a move that did not happen can be let go: the ticket is there already, or the
/// board's rules refused it (the refusal is in the decision log).
fn settled<T>(result: Result<T, ServiceError>) -> Result<(), StepError> {
    match result {
        Ok(_) | Err(ServiceError::Store(StoreError::AlreadyInStatus { .. })) => Ok(()),
        Err(err @ ServiceError::Refused { .. }) => {
            tracing::info!(error = %err, "a GitHub event moved nothing");
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

impl GithubJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let event = super::parse(&self.event, &self.payload).map_err(StepError::Gone)?;
        match event {
            Event::Ping | Event::Ignored(_) => {}
            Event::PullRequest { action, repo, pr, sender } => {
                self.pull_request(env, ctx, &action, &repo, &pr, &sender).await?
            }
            Event::Review { action, repo, pr, state, reviewer, body, commit } => {
                self.review(env, ctx, &action, &repo, &pr, &state, &reviewer, &body, &commit).await?
            }
            Event::Issue { action, repo, issue, label, sender } => {
                self.issue(env, ctx, &action, &repo, &issue, label.as_deref(), &sender).await?
            }
            Event::IssueComment { repo, number, id, body, author, by_bot, .. } => {
                if !by_bot {
                    self.issue_comment(env, ctx, &repo, number, id, &body, &author).await?;
                }
            }
            Event::Push { repo, branch, default_branch, after } => {
                if branch.as_deref() == Some(default_branch.as_str()) {
                    self.push(env, ctx, &repo, &after).await?;
                }
            }
            Event::Check { repo, branch, sha, name, conclusion, url } => {
                let result = CiResult { name, sha, conclusion, url };
                self.check(env, ctx, &repo, &branch, result).await?;
            }
        }
        Ok(Outcome::Done)
    }

    /// Logs `decision` once by its source: a retried delivery finds it there.
    async fn log<C>(&self, env: &JobEnv<C>, ctx: &JobContext, decision: NewDecision) -> Result<(), StepError> {
        let _ = env.store.log_decision_once(&ctx.workspace, &decision, ctx.now).await?;
        Ok(())
    }

    fn once(&self, ctx: &JobContext, what: &str) -> Ctx {
        Ctx::new(ctx.now).once(format!("github:{}:{what}", self.delivery)).kind(format!("github.{}", self.event))
    }

    fn board<C>(&self, env: &JobEnv<C>, ctx: &JobContext) -> BoardService {
        BoardService::new(env.store.clone(), ctx.workspace.clone())
    }

    // ── Pull requests ───────────────────────────────────────────────────────────────────

    async fn pull_request<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        action: &str,
        repo: &str,
        pr: &PullRequest,
        sender: &str,
    ) -> Result<(), StepError> {
        let run = self.run_of_pr(env, ctx, repo, pr.number).await?;
        let state = link_state(action, pr);
        if let Some(run) = &run {
            // pmbot's own pull request: the run moves the ticket; GitHub can end the run.
            if action == "closed" && !run.state.is_final() {
                let board = self.board(env, ctx);
                let github = Actor::System(WHO.into());
                let (to, why) = match (pr.merged, run.state) {
                    (true, RunState::AwaitingPrApproval) => {
                        (RunState::Completed, format!("@{sender} merged pull request #{} on GitHub", pr.number))
                    }
                    (true, _) => (
                        RunState::Cancelled,
                        format!("@{sender} merged pull request #{} on GitHub before its gate", pr.number),
                    ),
                    (false, _) => {
                        (RunState::Cancelled, format!("@{sender} closed pull request #{} on GitHub", pr.number))
                    }
                };
                let mut data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
                if pr.merged {
                    data.merged = self.payload["pull_request"]["merge_commit_sha"].as_str().map(str::to_string);
                }
                let data = serde_json::to_value(&data).unwrap_or(Value::Null);
                board.end_fix_on_forge(&github, run.id, to, &why, Some(&data), &self.once(ctx, "run")).await?;
            }
            self.link_pull(env, ctx, repo, pr, &run.ticket, state).await?;
            return Ok(());
        }
        // Only a repository of one of the team's projects links, and only to that project's
        // tickets; only a pull request opened or merged by a person of the team moves one.
        let Some(project) = env.config.project_of_repo(repo) else { return Ok(()) };
        let prefix = format!("{}-", project.key.to_ascii_uppercase());
        let moves = project.github.as_ref().is_none_or(|g| g.move_tickets);
        let by_team =
            env.config.person_on_github(&pr.author).is_some() || env.config.person_on_github(sender).is_some();
        let keys: Vec<String> = keys_named(pr).into_iter().filter(|k| k.starts_with(&prefix)).collect();
        for key in self.existing(env, ctx, keys).await? {
            self.link_pull(env, ctx, repo, pr, &key, state).await?;
            if !moves {
                continue;
            }
            if !by_team {
                let why = format!(
                    "pull request #{} by @{} names {key}; it moves nothing: neither @{} nor @{sender} is a person of the team (people.github)",
                    pr.number, pr.author, pr.author
                );
                let source = format!("github:{}:move:{key}", self.delivery);
                let inputs = json!({ "pull_request": pr.number, "author": pr.author, "sender": sender });
                let refused = entry("github.pull_request", &key, "move", "refused", why);
                self.log(env, ctx, NewDecision { inputs, source: Some(source), ..refused }).await?;
                continue;
            }
            let to = match (action, pr.merged, pr.draft) {
                ("closed", true, _) => Some(Status::Done),
                ("opened" | "reopened" | "ready_for_review", _, false) => Some(Status::InReview),
                _ => None,
            };
            let ticket = env.store.ticket(&ctx.workspace, &key).await?;
            let Some(to) = to.filter(|to| ticket.status != *to && ticket.status != Status::Done) else { continue };
            let why = format!(
                "pull request #{} {} on GitHub by @{sender}",
                pr.number,
                if pr.merged { "merged" } else { action }
            );
            let board = self.board(env, ctx);
            let moved = board
                .move_to(&Actor::System(WHO.into()), &key, to, Some(&why), &self.once(ctx, &format!("move:{key}")))
                .await;
            settled(moved)?;
        }
        Ok(())
    }

    async fn link_pull<C>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &str,
        pr: &PullRequest,
        ticket: &TicketKey,
        state: &str,
    ) -> Result<(), StepError> {
        let opened_at = self.payload["pull_request"]["created_at"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(ctx.now, |t| t.with_timezone(&chrono::Utc));
        let link = GithubLink {
            repo: repo.to_string(),
            kind: "pull".into(),
            number: pr.number,
            ticket_key: ticket.to_string(),
            title: pr.title.clone(),
            url: pr.url.clone(),
            author: pr.author.clone(),
            state: state.to_string(),
            draft: pr.draft,
            review: None,
            opened_at,
            review_at: None,
        };
        env.store.set_github_link(&ctx.workspace, &link, ctx.now).await?;
        Ok(())
    }

    /// The keys of `keys` that are tickets on the board.
    async fn existing<C>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        keys: Vec<String>,
    ) -> Result<Vec<TicketKey>, StepError> {
        let mut out = Vec::new();
        for key in keys.iter().filter_map(|k| k.parse::<TicketKey>().ok()) {
            match env.store.ticket(&ctx.workspace, &key).await {
                Ok(_) => out.push(key),
                Err(StoreError::UnknownTicket(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(out)
    }

    /// The fix run whose pull request is `number` of `repo` on the github forge.
    async fn run_of_pr<C>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &str,
        number: i64,
    ) -> Result<Option<FixRun>, StepError> {
        let runs = env.store.fix_runs(&ctx.workspace, 1000).await?;
        Ok(runs.into_iter().find(|run| {
            let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
            data.pr.as_ref().is_some_and(|p| p.forge == "github" && p.number == number)
                && self.repo_is(env, &run.project, repo)
        }))
    }

    /// Whether project `project`'s fix repository is `repo` on GitHub.
    fn repo_is<C>(&self, env: &JobEnv<C>, project: &str, repo: &str) -> bool {
        Repo::of(&env.config, project)
            .filter(|r| r.fix.forge == ForgeKind::Github)
            .and_then(|r| r.github_slug())
            .is_some_and(|slug| slug.eq_ignore_ascii_case(repo))
    }

    // ── Reviews ─────────────────────────────────────────────────────────────────────────

    #[allow(clippy::too_many_arguments)]
    async fn review<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        action: &str,
        repo: &str,
        pr: &PullRequest,
        state: &str,
        reviewer: &str,
        body: &str,
        commit: &str,
    ) -> Result<(), StepError> {
        let verdict = match (action, state) {
            ("submitted", "approved") => Some(Verdict::Approve),
            ("submitted", "changes_requested") => Some(Verdict::RequestChanges),
            _ => None,
        };
        let recorded = match (action, verdict) {
            ("dismissed", _) => Some(None),
            (_, Some(Verdict::Approve)) => Some(Some("approved")),
            (_, Some(_)) => Some(Some("changes_requested")),
            _ => None,
        };
        if let Some(review) = recorded {
            env.store.set_github_review(&ctx.workspace, repo, pr.number, review, ctx.now).await?;
        }
        let Some(verdict) = verdict else { return Ok(()) };
        let Some(run) = self.run_of_pr(env, ctx, repo, pr.number).await? else { return Ok(()) };
        let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
        let (Some(approval), RunState::AwaitingPrApproval) = (data.pr_approval, run.state) else { return Ok(()) };
        // A review counts for the commit it was made on (one of an older head, from a stale page
        // or a late delivery, approves nothing pushed since), and only from a person of the
        // team, as themselves, within the gate's rules.
        let head = data.pr.as_ref().map(|p| p.head.as_str()).unwrap_or_default();
        let person = env.config.person_on_github(reviewer);
        let refused = if commit != head {
            Some(format!(
                "@{reviewer}'s review was of commit {}, not of the head {} the gate is about: it does not count",
                short(commit),
                short(head)
            ))
        } else if person.is_none() {
            Some(format!(
                "@{reviewer}'s review on GitHub does not count for fix run #{}: no one in pmbot.toml has that GitHub login",
                run.id
            ))
        } else {
            None
        };
        let (Some(person), None) = (person, refused.as_ref()) else {
            let why = refused.unwrap_or_default();
            let inputs = json!({ "reviewer": reviewer, "pull_request": pr.number, "state": state, "commit": commit, "head": head });
            let source = format!("github:{}:review", self.delivery);
            let refusal = entry("github.review", &run.ticket, "review", "refused", why);
            return self.log(env, ctx, NewDecision { inputs, source: Some(source), ..refusal }).await;
        };
        let comment = (!body.trim().is_empty()).then_some(body.trim());
        let comment = match verdict {
            Verdict::RequestChanges => Some(comment.unwrap_or("(changes requested on GitHub)")),
            _ => comment,
        };
        let board = self.board(env, ctx);
        let actor = Actor::Person(person);
        match board.decide(&actor, approval, verdict, comment, &self.once(ctx, "review")).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_user_error() => {
                tracing::info!(error = %err, "a GitHub review decided nothing");
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    // ── Issues ──────────────────────────────────────────────────────────────────────────

    /// The project that takes `repo`'s issues as tickets.
    fn intake_project<'c, C>(&self, env: &'c JobEnv<C>, repo: &str) -> Option<&'c ProjectConfig> {
        env.config.project_of_repo(repo).filter(|p| p.github.as_ref().is_some_and(|g| g.issues))
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        action: &str,
        repo: &str,
        issue: &Issue,
        label: Option<&str>,
        sender: &str,
    ) -> Result<(), StepError> {
        let Some(project) = self.intake_project(env, repo) else { return Ok(()) };
        let board = self.board(env, ctx);
        let github = Actor::System(WHO.into());
        let known = env.store.github_issue(&ctx.workspace, repo, issue.number).await?;
        let ticket = match known {
            Some(link) => link.ticket_key.parse::<TicketKey>().map_err(|e| StepError::Gone(e.to_string()))?,
            // An issue pmbot has not seen (opened before the webhook, or its opening lost)
            // becomes a ticket on whatever GitHub says of it next.
            None if action == "closed" || action == "deleted" => return Ok(()),
            None => self.open_ticket(env, ctx, project, repo, issue).await?,
        };
        let fix_label = env.config.intake.auto_fix_label.as_deref();
        let labelled = match action {
            "labeled" => label.is_some_and(|l| fix_label.is_some_and(|f| f.eq_ignore_ascii_case(l))),
            "opened" => issue.labels.iter().any(|l| fix_label.is_some_and(|f| f.eq_ignore_ascii_case(l))),
            _ => false,
        };
        match action {
            "edited" => {
                let text =
                    format!("The GitHub issue was edited by @{sender}:\n\n**{}**\n\n{}", issue.title, issue.body);
                board.comment(&github, &ticket, &text, &self.once(ctx, "edited")).await?;
            }
            "closed" => {
                let why = format!("GitHub issue #{} closed by @{sender}", issue.number);
                settled(board.move_to(&github, &ticket, Status::Done, Some(&why), &self.once(ctx, "closed")).await)?;
            }
            "reopened" => {
                let why = format!("GitHub issue #{} reopened by @{sender}", issue.number);
                settled(board.move_to(&github, &ticket, Status::Todo, Some(&why), &self.once(ctx, "reopened")).await)?;
            }
            _ => {}
        }
        if labelled {
            self.to_ai_queue(env, ctx, &ticket, sender).await?;
        }
        Ok(())
    }

    async fn open_ticket<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        project: &ProjectConfig,
        repo: &str,
        issue: &Issue,
    ) -> Result<TicketKey, StepError> {
        let title =
            if issue.title.trim().is_empty() { format!("GitHub issue #{}", issue.number) } else { issue.title.clone() };
        let mut new = NewTicket::new(&project.key, &title).map_err(|e| StepError::Gone(e.to_string()))?;
        new.status = Status::Todo;
        new.description = format!("{}\n\nFrom GitHub issue {} by @{}.", issue.body.trim(), issue.url, issue.author);
        new.labels = std::iter::once("github".to_string()).chain(issue.labels.iter().cloned()).collect();
        new.source = Source {
            tracker: Some("github".into()),
            external_id: Some(format!("{repo}#{}", issue.number)),
            url: Some(issue.url.clone()),
        };
        let why = format!("@{} opened GitHub issue #{} in {repo}", issue.author, issue.number);
        let board = self.board(env, ctx);
        // Once per issue, whichever delivery gets here first ("opened" and "labeled" race).
        let once = Ctx::new(ctx.now).once(format!("github:issue:{repo}#{}:open", issue.number)).kind("github.issues");
        let ticket = board.create(&Actor::System(WHO.into()), &new, &once.because(why)).await?;
        let link = GithubLink {
            repo: repo.to_string(),
            kind: "issue".into(),
            number: issue.number,
            ticket_key: ticket.key.to_string(),
            title: issue.title.clone(),
            url: issue.url.clone(),
            author: issue.author.clone(),
            state: "open".into(),
            draft: false,
            review: None,
            opened_at: ctx.now,
            review_at: None,
        };
        env.store.set_github_link(&ctx.workspace, &link, ctx.now).await?;
        // They hear on the issue when it is fixed (the reporter loop).
        let reporter = crate::store::Reporter {
            ticket_key: ticket.key.to_string(),
            via: "github".into(),
            address: format!("{repo}#{}", issue.number),
            name: issue.author.clone(),
            told_at: None,
        };
        env.store.add_reporter(&ctx.workspace, &reporter, ctx.now).await?;
        // The reporter hears where their report went (when pmbot may write to GitHub).
        let thanks = format!("github:issue:{repo}#{}:thanks", issue.number);
        if let (Some(github), None) =
            (env.github.as_deref(), env.store.decision_by_source(&ctx.workspace, &thanks).await?)
        {
            let text = format!("Thanks! This is tracked as **{}**; you will hear here when it is fixed.", ticket.key);
            let (outcome, rationale) = match github.comment(repo, issue.number, &text).await {
                Ok(()) => ("told", format!("GitHub issue #{} was told its ticket {}", issue.number, ticket.key)),
                Err(err) => ("not told", format!("GitHub issue #{} was not told its ticket: {err}", issue.number)),
            };
            self.log(
                env,
                ctx,
                NewDecision {
                    inputs: json!({ "repo": repo, "issue": issue.number }),
                    source: Some(thanks),
                    ..entry("github.issues", &ticket.key, "reply", outcome, rationale)
                },
            )
            .await?;
        }
        Ok(ticket.key)
    }

    /// A label asked for a fix: the person who labelled it starts the run, within their role
    /// (a label from someone pmbot does not know starts nothing, and is logged).
    async fn to_ai_queue<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        ticket: &TicketKey,
        sender: &str,
    ) -> Result<(), StepError> {
        let actor = match env.config.person_on_github(sender) {
            Some(person) => Actor::Person(person),
            None => Actor::Stranger { platform: "github".into(), user: sender.to_string() },
        };
        let board = self.board(env, ctx);
        match board.start_fix(&actor, ticket, None, &self.once(ctx, "fix")).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_user_error() => {
                tracing::info!(error = %err, "a GitHub label started no fix");
                Ok(())
            }
            Err(err) => Err(err.into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn issue_comment<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &str,
        number: i64,
        id: i64,
        body: &str,
        author: &str,
    ) -> Result<(), StepError> {
        let Some(link) = env.store.github_issue(&ctx.workspace, repo, number).await? else { return Ok(()) };
        let key: TicketKey =
            link.ticket_key.parse().map_err(|e: crate::board::BoardError| StepError::Gone(e.to_string()))?;
        let text = format!("@{author} on GitHub: {}", body.trim());
        let change = Ctx::new(ctx.now).once(format!("github:comment:{repo}:{id}"));
        self.board(env, ctx).comment(&Actor::System(WHO.into()), &key, &text, &change).await?;
        Ok(())
    }

    // ── Pushes and CI ───────────────────────────────────────────────────────────────────

    /// A push to the default branch: pmbot's clone is fetched and its knowledge of the
    /// repository scanned again (planning then starts from what is there now).
    async fn push<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext, repo: &str, after: &str) -> Result<(), StepError> {
        let Some(project) = env.config.project_of_repo(repo).map(|p| p.key.clone()) else { return Ok(()) };
        let Some(fix) = Repo::of(&env.config, &project) else { return Ok(()) };
        let auth = fix.remote_auth(env.github.as_deref()).await.map_err(|e| StepError::Failed(e.to_string()))?;
        let clone = fix.clone_dir(&env.config);
        let git = crate::workflows::fix::git::refresh_clone(
            &fix.fix.repository,
            &clone,
            &fix.fix.default_branch,
            auth.as_ref(),
        );
        let head = git.await.map_err(|e| StepError::Failed(e.to_string()))?;
        crate::workflows::fix::scan(&clone, &head).await.map_err(|e| StepError::Failed(e.to_string()))?;
        self.log(
            env,
            ctx,
            NewDecision {
                inputs: json!({ "repo": repo, "after": after, "head": head }),
                source: Some(format!("github:{}:push", self.delivery)),
                ..entry(
                    "github.push",
                    &project,
                    "knowledge.refresh",
                    "refreshed",
                    format!(
                        "{repo}'s default branch moved to {}; the codebase knowledge was scanned again",
                        short(&head)
                    ),
                )
            },
        )
        .await?;
        Ok(())
    }

    /// CI finished on a branch: on a fix run's branch, the result joins the run (a failure
    /// on the approved head stops its merge) and its thread is told.
    async fn check<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        repo: &str,
        branch: &str,
        result: CiResult,
    ) -> Result<(), StepError> {
        let runs = env.store.fix_runs(&ctx.workspace, 1000).await?;
        let run = runs.into_iter().find(|run| {
            let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
            !run.state.is_final() && data.branch.as_deref() == Some(branch) && self.repo_is(env, &run.project, repo)
        });
        let Some(run) = run else { return Ok(()) };
        let mut data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
        if data.ci.contains(&result) {
            return Ok(());
        }
        data.ci.push(result.clone());
        // A draft waits for the team's CI: every check on its head passed, it is ready.
        let mut ready = None;
        if let Some(pr) = data.pr.as_ref().filter(|p| p.draft && p.head == result.sha && result.conclusion == "success")
        {
            let green = crate::workflows::fix::latest_ci(&data.ci, &pr.head).iter().all(|c| !c.failed());
            if let (true, Some(node), Some(github)) = (green, pr.node_id.as_deref(), env.github.as_deref()) {
                ready = Some(github.ready_for_review(node).await);
            }
        }
        if let Some(Ok(())) = ready {
            if let Some(pr) = data.pr.as_mut() {
                pr.draft = false;
            }
        }
        let mark = if result.failed() {
            "❌"
        } else if result.conclusion == "success" {
            "✅"
        } else {
            "⚠️"
        };
        let mut text =
            format!("{mark} CI on GitHub: {} {} for `{}`", result.name, result.conclusion, short(&result.sha));
        if result.failed() {
            text.push_str(" — the pull request is not merged while this fails");
        }
        if !result.url.is_empty() {
            text.push_str(&format!(" ({})", result.url));
        }
        match ready {
            Some(Ok(())) => text.push_str(" — the pull request is no longer a draft: ready for review"),
            Some(Err(err)) => text.push_str(&format!(" — it stays a draft: {err}")),
            None => {}
        }
        // Told first, recorded after: a retry after a chat outage tells it (a record first
        // would make the retry think it was told).
        if let Some(channel) = &data.channel {
            env.chat.post(channel, data.thread.as_deref(), &Message::text(text)).await?;
        }
        let value = serde_json::to_value(&data).unwrap_or(Value::Null);
        if !env.store.set_fix_data(&ctx.workspace, run.id, run.state, &value, ctx.now).await? {
            return Err(StepError::Failed("the run moved while CI's result was added; trying again".into()));
        }
        Ok(())
    }
}

/// A row of the decision log about what a delivery did or refused (`inputs` and `source`
/// set by the caller).
fn entry(kind: &str, subject: impl ToString, action: &str, outcome: &str, rationale: String) -> NewDecision {
    NewDecision {
        kind: kind.into(),
        subject: subject.to_string(),
        inputs: Value::Null,
        rationale,
        confidence: 1.0,
        action: action.into(),
        actor: WHO.into(),
        outcome: outcome.into(),
        source: None,
    }
}

/// `open`, `closed` or `merged`: the pull request's state after `action`.
fn link_state(action: &str, pr: &PullRequest) -> &'static str {
    match (action, pr.merged) {
        (_, true) => "merged",
        ("closed", false) => "closed",
        _ => "open",
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}
