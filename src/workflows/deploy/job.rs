//! `deploy.run`: one merged fix run's deploy.

use super::{hook_outcome, Ended};
use crate::board::{Status, TicketKey};
use crate::chat::{Chat, Message};
use crate::config::DeployConfig;
use crate::intake::reply::{tell_reporters, News};
use crate::job_env::{JobEnv, StepError};
use crate::queue::{Job, JobContext, JobSpec, Outcome};
use crate::service::{Actor, BoardService, Ctx, ServiceError};
use crate::store::{NewDecision, StoreError};
use crate::workflows::fix::sandbox::{Sandbox, Task};
use crate::workflows::fix::{git, Repo, RunData};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployJob {
    pub run: i64,
}

impl JobSpec for DeployJob {
    const KIND: &'static str = "deploy.run";
    const MAX_ATTEMPTS: u32 = 3;
    const TIMEOUT: Duration = Duration::from_secs(3 * 3600);

    fn unique_key(&self) -> Option<String> {
        Some(format!("deploy:{}", self.run))
    }
}

impl<C: Chat + 'static> Job<JobEnv<C>> for DeployJob {
    async fn run(&self, env: &JobEnv<C>, ctx: &JobContext) -> Outcome {
        crate::job_env::finish(self.step(env, ctx).await)
    }
}

impl DeployJob {
    async fn step<C: Chat>(&self, env: &JobEnv<C>, ctx: &JobContext) -> Result<Outcome, StepError> {
        let ws = &ctx.workspace;
        let run = env.store.fix_run(ws, self.run).await?;
        let data: RunData = serde_json::from_value(run.data.clone()).unwrap_or_default();
        let project = env.config.projects.iter().find(|p| p.key == run.project);
        let Some(deploy) = project.and_then(|p| p.deploy.clone()) else { return Ok(Outcome::Done) };
        let Some(sha) = data.merged.clone().filter(|s| !s.is_empty()) else {
            return Err(StepError::Gone(format!("fix run #{} has no merge commit to deploy", run.id)));
        };
        let (started, finished) = (format!("deploy:{}:started", run.id), format!("deploy:{}:finished", run.id));
        let short = sha.get(..7).unwrap_or(&sha).to_string();
        // How it ended is recorded as soon as it ends; a retry (a chat outage after a
        // deploy) replays what follows from the record, never the deploy.
        let (deployed, said) = match env.store.decision_by_source(ws, &finished).await? {
            Some(done) => (done.outcome == "deployed", done.rationale),
            None => {
                let ended = if env.store.decision_by_source(ws, &started).await?.is_some() {
                    // A start without an end: pmbot stopped mid-deploy. Not run a second time.
                    Ended::Failed {
                        why: format!("the deploy of {short} was interrupted (pmbot stopped during it); it is not run twice — check what is live and deploy by hand if needed"),
                    }
                } else {
                    let note = self.decision(
                        &run.ticket,
                        "started",
                        format!("deploying {short} of fix run #{}", run.id),
                        started,
                    );
                    let _ = env.store.log_decision_once(ws, &note, ctx.now).await?;
                    self.deploy(env, &run.project, &run.ticket, &sha, &deploy).await
                };
                let (deployed, said) = match &ended {
                    Ended::Deployed { seconds } => (true, format!("🚀 Deployed `{short}` ({seconds:.0} s).")),
                    Ended::Failed { why } => (false, format!("❌ The deploy failed: {why}")),
                };
                let outcome = if deployed { "deployed" } else { "failed" };
                let done = self.decision(&run.ticket, outcome, said.clone(), finished);
                let _ = env.store.log_decision_once(ws, &done, ctx.now).await?;
                (deployed, said)
            }
        };
        self.once(env, ctx, &run.ticket, "posted", || async {
            match &data.channel {
                Some(channel) => {
                    env.chat.post(channel, data.thread.as_deref(), &Message::text(said.clone())).await.map(|_| ())
                }
                None => Ok(()),
            }
        })
        .await?;
        let key = run.ticket.clone();
        if deployed {
            tell_reporters(env, &key, run.id, News::Deployed, ctx.now).await?;
        } else {
            let why = said.trim_start_matches("❌ The deploy failed: ").to_string();
            self.reopen(env, ctx, &key, &run.project, &why).await?;
        }
        Ok(Outcome::Done)
    }

    /// Does `say` once for this run (`deploy:<run>:<what>` in the decision log).
    async fn once<C, F, Fut>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        ticket: &TicketKey,
        what: &str,
        say: F,
    ) -> Result<(), StepError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), crate::chat::ChatError>>,
    {
        let source = format!("deploy:{}:{what}", self.run);
        if env.store.decision_by_source(&ctx.workspace, &source).await?.is_some() {
            return Ok(());
        }
        say().await?;
        let note = self.decision(ticket, what, format!("the deploy's news {what}"), source);
        let _ = env.store.log_decision_once(&ctx.workspace, &note, ctx.now).await?;
        Ok(())
    }

    fn decision(&self, ticket: &TicketKey, outcome: &str, rationale: String, source: String) -> NewDecision {
        NewDecision {
            kind: "deploy.run".into(),
            subject: ticket.to_string(),
            inputs: json!({ "run": self.run }),
            rationale,
            confidence: 1.0,
            action: "deploy".into(),
            actor: "pmbot".into(),
            outcome: outcome.into(),
            source: Some(source),
        }
    }

    async fn deploy<C: Chat>(
        &self,
        env: &JobEnv<C>,
        project: &str,
        ticket: &TicketKey,
        sha: &str,
        deploy: &DeployConfig,
    ) -> Ended {
        let started = std::time::Instant::now();
        if let Some(command) = deploy.command.as_deref().filter(|c| !c.trim().is_empty()) {
            if let Err(why) = self.command(env, project, sha, command, deploy).await {
                return Ended::Failed { why };
            }
        }
        if let Some(url) = deploy.webhook.as_deref().filter(|u| !u.trim().is_empty()) {
            let body = json!({ "project": project, "ticket": ticket.as_str(), "run": self.run, "sha": sha });
            let limit = Duration::from_secs(deploy.timeout_seconds.min(120));
            if let Err(why) = post_hook(url, &body, limit).await {
                return Ended::Failed { why };
            }
        }
        Ended::Deployed { seconds: started.elapsed().as_secs_f64() }
    }

    /// The team's command in a checkout of `sha`, sandboxed, with network and its variables.
    async fn command<C: Chat>(
        &self,
        env: &JobEnv<C>,
        project: &str,
        sha: &str,
        command: &str,
        deploy: &DeployConfig,
    ) -> Result<(), String> {
        let repo =
            Repo::of(&env.config, project).ok_or("a deploy command needs the project's [projects.fix] repository")?;
        let clone = repo.clone_dir(&env.config);
        let auth = repo.remote_auth(env.github.as_deref()).await.map_err(|e| e.to_string())?;
        git::refresh_clone(&repo.fix.repository, &clone, &repo.fix.default_branch, auth.as_ref())
            .await
            .map_err(|e| format!("cannot read the repository: {e}"))?;
        let dir = crate::workflows::fix::run_dir(&env.config, self.run);
        let checkout = dir.join(format!("deploy-{}", self.run));
        git::detached_worktree(&clone, &checkout, sha).await.map_err(|e| format!("cannot check out {sha}: {e}"))?;
        let fix = &env.config.fix;
        let sandbox = Sandbox {
            kind: fix.sandbox,
            memory_mb: fix.memory_mb,
            max_processes: fix.max_processes,
            env: deploy.env.iter().filter_map(|n| std::env::var(n).ok().map(|v| (n.clone(), v))).collect(),
            read_only: fix.read_only.clone(),
        };
        let limit = Duration::from_secs(deploy.timeout_seconds);
        let task = Task {
            command,
            worktree: &checkout,
            input: None,
            log: &dir.join("deploy.log"),
            timeout: limit,
            network: true,
        };
        let ran = sandbox.run(&task, || async { false }).await;
        git::remove_worktree(&clone, &checkout, "-").await;
        let ran = ran.map_err(|e| e.to_string())?;
        if ran.ok() {
            Ok(())
        } else {
            Err(format!("`{command}` {}\n{}", ran.describe(limit), ran.tail))
        }
    }

    /// A failed deploy: the ticket goes back to do with why, and the project's PM hears.
    async fn reopen<C: Chat>(
        &self,
        env: &JobEnv<C>,
        ctx: &JobContext,
        key: &TicketKey,
        project: &str,
        why: &str,
    ) -> Result<(), StepError> {
        let board = BoardService::new(env.store.clone(), ctx.workspace.clone());
        let pmbot = Actor::System("pmbot".into());
        let reason = format!("the deploy of fix run #{} failed", self.run);
        let moved = board
            .move_to(
                &pmbot,
                key,
                Status::Todo,
                Some(&reason),
                &Ctx::new(ctx.now).once(format!("deploy:{}:reopen", self.run)),
            )
            .await;
        match moved {
            Ok(_) | Err(ServiceError::Store(StoreError::AlreadyInStatus { .. })) => {}
            Err(err) => return Err(err.into()),
        }
        let note = format!("The deploy after fix run #{} failed: {why}", self.run);
        board.comment(&pmbot, key, &note, &Ctx::new(ctx.now).once(format!("deploy:{}:comment", self.run))).await?;
        let text = Message::text(format!(
            "❌ The deploy of {key} (fix run #{}) failed and the ticket is back in To do: {}",
            self.run,
            crate::workflows::views::shorten(why, 400)
        ));
        let pm = env.config.projects.iter().find(|p| p.key == project).and_then(|p| p.pm.clone());
        let person = pm.and_then(|h| env.config.people().into_iter().find(|p| p.handle == h));
        self.once(env, ctx, key, "pm", || async {
            match person.as_ref().and_then(|p| env.chat.address(p)) {
                Some(user) => env.chat.dm(&user, &text).await.map(|_| ()),
                None => env.chat.post(&env.config.agents.pm_channel, None, &text).await.map(|_| ()),
            }
        })
        .await
    }
}

/// POSTs `body` to the deploy hook.
async fn post_hook(url: &str, body: &serde_json::Value, limit: Duration) -> Result<(), String> {
    use http_body_util::{BodyExt, Full};
    // The hook's URL is often its secret: never in what is said.
    let uri: hyper::Uri = url.parse().map_err(|_| "the deploy hook's URL is not a URL".to_string())?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
    let client: hyper_util::client::legacy::Client<_, Full<hyper::body::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
    let request = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .header("user-agent", "pmbot")
        .body(Full::new(hyper::body::Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let answered = tokio::time::timeout(limit, async {
        let response = client.request(request).await.map_err(|e| format!("the deploy hook did not answer: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
    })
    .await
    .map_err(|_| format!("the deploy hook did not answer within {} s", limit.as_secs()))??;
    hook_outcome(answered.0, &answered.1)
}
