//! The AI queue end to end: real git repositories (a bare remote), scripted agents (in
//! scope, out of scope, hostile) and real gate commands in the bubblewrap sandbox, the gates
//! pressed through the bot's button path, on SQLite and on PostgreSQL.

mod common;

use common::repo::{Repo, GOOD_AGENT};
use common::{seeded_app, t0, text_of, RecordingChat};
use pmbot::app::App;
use pmbot::board::{NewTicket, RunState, Status, TicketKey};
use pmbot::chat::{Inbound, MessageRef, Origin, Outbound, Platform};
use pmbot::dispatch::Bot;
use pmbot::jobs::JobEnv;
use pmbot::queue::{Clock, Worker};
use pmbot::service::{Actor, BoardService, Ctx};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use RunState::*;

on_both_backends!(
    url:
    a_fix_goes_from_ticket_to_merged_change_through_both_gates,
    requested_changes_send_the_spec_back_with_the_reviewers_words,
    a_second_fix_for_the_same_ticket_is_refused,
    a_member_cannot_start_a_fix_or_press_a_gate,
    a_run_cancelled_while_executing_stops_its_agent,
    a_worker_killed_mid_execution_restarts_from_a_clean_worktree,
    a_merged_fix_is_reverted_through_the_same_gates,
    a_spec_nobody_decides_expires,
    a_cancelled_run_closes_its_gate,
    an_approved_merge_cannot_be_cancelled,
    a_branch_pushed_to_after_approval_is_not_merged,
    the_hourly_limit_cancels_a_run_over_it,
    an_agent_out_of_scope_fails_and_its_changes_are_discarded,
    a_hostile_agent_changes_nothing_outside_the_worktree,
    an_agent_past_its_time_is_stopped,
    an_agent_eating_memory_is_stopped,
    a_fork_bomb_is_contained,
    an_agent_that_fails_ends_the_run_in_error,
    a_failing_gate_gets_one_retry_then_qa_failed,
    a_hanging_gate_is_stopped,
    a_rejected_push_ends_the_run_in_error,
    critical_paths_need_two_approvals,
    paused_the_queue_starts_nothing_until_resumed,
    the_built_in_agent_writes_only_the_specs_files,
    the_built_in_agent_stops_at_its_token_budget,
    a_merged_fix_is_deployed_and_then_its_reporter_hears,
    a_failed_deploy_reopens_the_ticket_and_tells_the_pm,
    a_deploy_hook_is_called_with_the_merge,
    an_interrupted_deploy_is_not_run_again,
    a_chat_thread_that_reported_a_bug_hears_when_it_is_fixed,
);

// ── The fixture: a repository, agents, the team ──────────────────────────────────────────

struct Team {
    app: App,
    bot: Bot,
    worker: Worker<JobEnv<RecordingChat>>,
    chat: Arc<RecordingChat>,
    repo: Repo,
    key: TicketKey,
    _work: tempfile::TempDir,
}

async fn team(url: &str, agent: &str, change: impl FnOnce(&mut pmbot::config::Config, &Repo)) -> Team {
    team_with(url, agent, None, change).await
}

async fn team_with(
    url: &str,
    agent: &str,
    model: Option<pmbot::llm::LlmSettings>,
    change: impl FnOnce(&mut pmbot::config::Config, &Repo),
) -> Team {
    let repo = Repo::new();
    let work = tempfile::tempdir().unwrap();
    let app = seeded_app(url, |c| {
        repo.configure(c, work.path(), agent);
        change(c, &repo);
    })
    .await;
    let mut app = app;
    app.llm = model.map(|settings| Arc::new(pmbot::llm::Llm::new(settings)));
    let board = BoardService::new(app.store.clone(), app.workspace());
    let mut new = NewTicket::new("WEB", "Greeting says Helo instead of Hello").unwrap();
    new.status = Status::Todo;
    new.reporter = Some("chloe".into());
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(t0())).await.unwrap();
    let chat = Arc::new(RecordingChat::default());
    let clock: Clock = Arc::new(t0);
    let worker = app.worker(chat.clone()).unwrap().with_clock(clock);
    Team { bot: app.bot(), app, worker, chat, repo, key: ticket.key, _work: work }
}

fn origin(user: &str) -> Origin {
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let ts = format!("1.{:06}", SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    Origin { platform: Platform::Shell, channel: "#acme-web".into(), user: user.into(), ts, thread: None }
}

impl Team {
    async fn say(&self, user: &str, text: &str) -> Vec<Outbound> {
        self.bot.handle(&Inbound::Mention { origin: origin(user), text: text.into() }, t0()).await
    }

    /// Presses the newest card's button labelled `label`, as `user`.
    async fn press(&self, user: &str, label: &str) -> Vec<Outbound> {
        let card = self.chat.last_with_buttons().expect("a card with buttons");
        let button = card
            .buttons()
            .find(|b| b.label == label)
            .unwrap_or_else(|| panic!("no {label} on {}", card.fallback_text()));
        let message = MessageRef { channel: "#acme-web".into(), ts: "card".into() };
        let action = Inbound::Action {
            origin: origin(user),
            action_id: button.action_id.clone(),
            value: button.value.clone(),
            message,
            trigger: None,
        };
        self.bot.handle(&action, t0()).await
    }

    async fn start(&self) {
        let out = self.say("pat", &format!("@pmbot fix {}", self.key)).await;
        assert!(text_of(&out).contains("handed"), "{}", text_of(&out));
        self.worker.run_until_idle().await;
    }

    async fn run(&self) -> pmbot::store::FixRun {
        let runs = self.app.store.fix_runs_of(&self.app.workspace(), &self.key).await.unwrap();
        runs.into_iter().next().expect("a run")
    }

    async fn states(&self) -> Vec<RunState> {
        let run = self.run().await;
        self.app.store.fix_transitions(&self.app.workspace(), run.id).await.unwrap().iter().map(|t| t.to).collect()
    }

    async fn status(&self) -> Status {
        self.app.store.ticket(&self.app.workspace(), &self.key).await.unwrap().status
    }

    /// Everything said in the run's thread and channel, one line per message.
    fn said(&self) -> String {
        self.chat.texts().into_iter().map(|(_, t)| t).collect::<Vec<_>>().join("\n")
    }

    /// Starts, approves the SPEC as Ana (a lead) and runs until the run stops again.
    async fn through_spec(&self) {
        self.start().await;
        let out = self.press("ana", "Approve SPEC").await;
        assert!(text_of(&out).contains("approved"), "{}", text_of(&out));
        self.worker.run_until_idle().await;
    }

    async fn last_reason(&self) -> String {
        let run = self.run().await;
        let transitions = self.app.store.fix_transitions(&self.app.workspace(), run.id).await.unwrap();
        transitions.last().unwrap().reason.clone()
    }
}

// ── The whole path ───────────────────────────────────────────────────────────────────────

async fn a_fix_goes_from_ticket_to_merged_change_through_both_gates(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.start().await;
    assert_eq!(t.states().await, [Pending, Planning, AwaitingSpecApproval]);
    let card = t.chat.last_with_buttons().unwrap().fallback_text();
    assert!(card.contains("SPEC for WEB-") && card.contains("greet.sh"), "{card}");
    assert_eq!(t.status().await, Status::AiQueue);

    t.press("ana", "Approve SPEC").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.states().await[3..], [SpecApproved, Executing, QaRunning, PrCreated, AwaitingPrApproval]);
    assert_eq!(t.status().await, Status::InReview);
    let card = t.chat.last_with_buttons().unwrap().fallback_text();
    assert!(card.contains("tests succeeded"), "{card}");
    assert!(t.repo.on_main("greet.sh").contains("Helo"), "nothing is merged before gate 2");

    // The SPEC's approver may not also approve the change.
    let out = t.press("ana", "Approve & merge").await;
    assert!(text_of(&out).contains("other than @ana"), "{}", text_of(&out));
    let out = t.press("pat", "Approve & merge").await;
    assert!(text_of(&out).contains("Pat Morgan approved"), "{}", text_of(&out));
    t.worker.run_until_idle().await;

    assert_eq!(t.states().await.last(), Some(&Completed));
    assert_eq!(t.status().await, Status::Done);
    assert!(t.repo.on_main("greet.sh").contains("Hello"), "merged: {}", t.repo.on_main("greet.sh"));
    let said = t.said();
    for step in [
        "PENDING → PLANNING",
        "AWAITING_SPEC_APPROVAL → SPEC_APPROVED",
        "QA_RUNNING → PR_CREATED",
        "AWAITING_PR_APPROVAL → COMPLETED",
    ] {
        assert!(said.contains(step), "{step} in {said}");
    }
    assert!(
        t.chat.texts().iter().any(|(to, text)| to.starts_with('@') && text.contains("is fixed")),
        "the reporter is told"
    );
    let roots = t.chat.texts().iter().filter(|(_, text)| text.contains("AI fix run")).count();
    assert_eq!(roots, 1, "one thread: {said}");
    let log = t.app.store.decisions(&t.app.workspace(), None, 500).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "fix.start" && d.actor == "pat"));
    assert!(log.iter().filter(|d| d.kind == "fix.transition").count() >= 8);
    assert!(log.iter().any(|d| d.kind == "approval.decide" && d.outcome == "refused" && d.actor == "ana"));
    // The co-author is the SPEC's approver.
    let out = Command::new("git")
        .arg("-C")
        .arg(t.repo.remote())
        .args(["log", "--no-merges", "--format=%an %b", "main"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("pmbot") && log.contains("Co-authored-by: Ana"), "{log}");
}

async fn requested_changes_send_the_spec_back_with_the_reviewers_words(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.start().await;
    let card = t.chat.last_with_buttons().unwrap();
    let id = card.buttons().next().unwrap().value.split(':').next().unwrap().to_string();
    let out = t.say("pat", &format!("@pmbot changes {id} \"files: greet.sh, tests/new_test.sh (new)\"")).await;
    assert!(text_of(&out).contains("asked for changes"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.states().await, [Pending, Planning, AwaitingSpecApproval, Planning, AwaitingSpecApproval]);
    let run = t.run().await;
    let spec = &run.data["spec"];
    assert_eq!(spec["files"][1]["path"], "tests/new_test.sh");
    assert_eq!(spec["files"][1]["new"], true);
    assert!(t.said().contains("asked for changes: “files: greet.sh"), "{}", t.said());
    t.press("pat", "Reject").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.states().await.last(), Some(&SpecRejected));
    assert_eq!(t.status().await, Status::Todo, "a failure puts the ticket back in to do");
    let comments = t.app.store.comments(&t.app.workspace(), &t.key).await.unwrap();
    assert!(comments.last().unwrap().body.contains("SPEC_REJECTED"), "{:?}", comments.last());
}

async fn a_second_fix_for_the_same_ticket_is_refused(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.start().await;
    let out = t.say("ana", &format!("@pmbot fix {}", t.key)).await;
    assert!(text_of(&out).contains("already has fix run #"), "{}", text_of(&out));
    assert_eq!(t.app.store.fix_runs_of(&t.app.workspace(), &t.key).await.unwrap().len(), 1);
    let out = t.say("pat", &format!("@pmbot fix status {}", t.key)).await;
    assert!(text_of(&out).contains("AWAITING_SPEC_APPROVAL"), "{}", text_of(&out));
}

async fn a_member_cannot_start_a_fix_or_press_a_gate(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    let out = t.say("ben", &format!("@pmbot fix {}", t.key)).await;
    assert!(text_of(&out).contains("Nothing changed"), "{}", text_of(&out));
    assert!(t.app.store.fix_runs_of(&t.app.workspace(), &t.key).await.unwrap().is_empty());
    t.start().await;
    let out = t.press("ben", "Approve SPEC").await;
    assert!(text_of(&out).contains("Only a PM or lead can decide on this"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingSpecApproval);
    // Moving a ticket to the AI queue on the board starts a run too.
    let board = BoardService::new(t.app.store.clone(), t.app.workspace());
    let mut other = NewTicket::new("WEB", "Greeting needs a full stop").unwrap();
    other.status = Status::Todo;
    let other = board.create(&Actor::System("test".into()), &other, &Ctx::new(t0())).await.unwrap();
    board.move_to(&Actor::System("test".into()), &other.key, Status::AiQueue, None, &Ctx::new(t0())).await.unwrap();
    assert_eq!(t.app.store.fix_runs_of(&t.app.workspace(), &other.key).await.unwrap()[0].state, Pending);
}

async fn a_run_cancelled_while_executing_stops_its_agent(url: &str) {
    let t = team(url, "echo started > started.txt\nsleep 60\n", |_, _| {}).await;
    t.start().await;
    t.press("ana", "Approve SPEC").await;
    let worker = async { t.worker.run_until_idle().await };
    let cancel = async {
        // Wait until the agent runs, then cancel from the chat.
        for _ in 0..200 {
            if t.run().await.state == Executing {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let out = t.say("pat", &format!("@pmbot fix cancel {}", t.key)).await;
        assert!(text_of(&out).contains("cancelled fix run"), "{}", text_of(&out));
    };
    let started = std::time::Instant::now();
    tokio::join!(worker, cancel);
    assert!(started.elapsed().as_secs() < 30, "the agent was stopped, not waited for");
    assert_eq!(t.run().await.state, Cancelled);
    assert_eq!(t.status().await, Status::Todo);
    assert!(t.said().contains("EXECUTING → CANCELLED"), "{}", t.said());
    assert!(t.repo.on_main("greet.sh").contains("Helo"));
}

async fn a_worker_killed_mid_execution_restarts_from_a_clean_worktree(url: &str) {
    // The first time, the agent leaves junk and hangs; after the "crash" it does its job.
    let agent = "if [ -e /tmp/pmbot/input/again ]; then sed -i 's/Helo/Hello/' greet.sh; else echo junk > junk.txt; sleep 60; fi\n";
    let t = team(url, agent, |_, _| {}).await;
    t.start().await;
    t.press("ana", "Approve SPEC").await;
    let crashed = tokio::time::timeout(std::time::Duration::from_secs(3), t.worker.run_until_idle()).await;
    assert!(crashed.is_err(), "the worker was cut off mid-EXECUTING");
    assert_eq!(t.run().await.state, Executing);
    let dir = t._work.path().join("runs").join(format!("run-{}", t.run().await.id));
    let worktree = pmbot::workflows::fix::worktree_dir(&t.app.config, t.run().await.id);
    assert!(worktree.join("junk.txt").exists());
    std::fs::write(dir.join("input/again"), "").unwrap();
    // Another worker, once the dead one's lease ran out.
    let later: Clock = Arc::new(|| t0() + chrono::Duration::minutes(30));
    let rescuer = t.app.worker(t.chat.clone()).unwrap().with_clock(later);
    rescuer.run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "{}", t.said());
    assert!(!worktree.join("junk.txt").exists(), "the half-done work is gone");
    assert_eq!(t.run().await.data["changed"], serde_json::json!(["greet.sh"]));
}

async fn a_merged_fix_is_reverted_through_the_same_gates(url: &str) {
    // The repository's own test expects the fix, so the gate here is a syntax check.
    let t = team(url, GOOD_AGENT, |c, _| {
        c.fix.gates = vec![toml::from_str("name = \"syntax\"\ncommand = \"sh -n greet.sh\"").unwrap()];
    })
    .await;
    let out = t.say("pat", &format!("@pmbot fix revert {}", t.key)).await;
    assert!(text_of(&out).contains("has no merged fix to revert"), "{}", text_of(&out));
    t.through_spec().await;
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert!(t.repo.on_main("greet.sh").contains("Hello"));

    let out = t.say("ben", &format!("@pmbot fix revert {}", t.key)).await;
    assert!(text_of(&out).contains("Only a PM or lead can revert"), "{}", text_of(&out));
    let out = t.say("pat", &format!("@pmbot fix revert {}", t.key)).await;
    assert!(text_of(&out).contains("asked to revert"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert!(t.chat.last_with_buttons().unwrap().fallback_text().contains("git revert of merge"));
    t.press("ana", "Approve SPEC").await;
    t.worker.run_until_idle().await;
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;

    let runs = t.app.store.fix_runs_of(&t.app.workspace(), &t.key).await.unwrap();
    assert_eq!((runs.len(), runs[0].state, runs[1].state), (2, Completed, Completed));
    assert!(t.repo.on_main("greet.sh").contains("Helo,"), "reverted: {}", t.repo.on_main("greet.sh"));
    assert_eq!(t.status().await, Status::Todo, "the ticket is open again");
    let comments = t.app.store.comments(&t.app.workspace(), &t.key).await.unwrap();
    assert!(comments.last().unwrap().body.contains("was reverted"), "{:?}", comments.last());
}

// ── The sandbox and the scope lock ──────────────────────────────────────────────────────

async fn an_agent_out_of_scope_fails_and_its_changes_are_discarded(url: &str) {
    // The skeleton SPEC allows greet.sh alone (tests and docs are for a reviewer to add).
    let agent = "sed -i 's/Helo/Hello/' greet.sh\nrm test.sh\necho new > notes.txt\necho more >> README.md\n";
    let t = team(url, agent, |_, _| {}).await;
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    let why = t.last_reason().await;
    for path in ["test.sh (deleted", "notes.txt (created", "README.md (changed"] {
        assert!(why.contains(path), "{path} in {why}");
    }
    let worktree = pmbot::workflows::fix::worktree_dir(&t.app.config, t.run().await.id);
    assert!(worktree.join("test.sh").exists(), "the deletion was discarded");
    assert!(!worktree.join("notes.txt").exists(), "the new file was discarded");
    // The failed run's worktree is kept for inspection for [fix] workspace_cleanup_days.
    let (store, ws, config) = (&t.app.store, t.app.workspace(), &t.app.config);
    assert_eq!(
        pmbot::workflows::fix::clean_worktrees(store, &ws, config, t0() - chrono::Duration::days(1)).await.unwrap(),
        0
    );
    assert!(worktree.exists());
    assert_eq!(
        pmbot::workflows::fix::clean_worktrees(store, &ws, config, t0() + chrono::Duration::days(8)).await.unwrap(),
        1
    );
    assert!(!worktree.exists());
    assert_eq!(t.status().await, Status::Todo);
    assert!(t.said().contains("EXECUTING → ERROR"), "{}", t.said());
}

async fn a_hostile_agent_changes_nothing_outside_the_worktree(url: &str) {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim.txt");
    std::fs::write(&target, "untouched").unwrap();
    // A git configuration of the agent's own, reached through a rewritten .git pointer,
    // whose clean filter would run on the host if pmbot's git read it.
    let marker = outside.path().join("ran-on-the-host");
    let agent = format!(
        "sed -i 's/Helo/Hello/' greet.sh\n\
         echo pwned > ../escaped.txt 2>/dev/null\n\
         echo pwned > {target} 2>/dev/null\n\
         echo pwned > /etc/pmbot-pwned 2>/dev/null\n\
         echo pwned > $HOME/../../../pwned 2>/dev/null\n\
         env > env.txt\n\
         echo shadow: $(head -c 200 /etc/shadow 2>&1)\n\
         ln -s /etc/passwd greet_link\n\
         git init -q evil-repo && mv evil-repo/.git evil && rm -rf evil-repo\n\
         printf '[filter \"x\"]\\n\\tclean = touch {marker}\\n' >> evil/config\n\
         echo '* filter=x' > .gitattributes\n\
         echo 'gitdir: evil' > .git\n\
         exit 0\n",
        target = target.display(),
        marker = marker.display(),
    );
    std::env::set_var("PMBOT_TEST_SECRET", "s3cret");
    let t = team(url, &agent, |_, _| {}).await;
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert!(!Path::new("/etc/pmbot-pwned").exists());
    assert!(!marker.exists(), "nothing the agent configured ran on the host");
    let dir = t._work.path().join("runs").join(format!("run-{}", t.run().await.id));
    assert!(!dir.join("escaped.txt").exists() && !t._work.path().join("runs/escaped.txt").exists());
    let why = t.last_reason().await;
    assert!(why.contains("greet_link (a symbolic link"), "{why}");
    assert!(why.contains("env.txt"), "{why}");
    // Nothing of pmbot's environment reached the agent (its env.txt was written before it
    // was discarded: read the agent's log instead).
    assert!(!std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default().contains("s3cret"));
    // The host's password hashes stay hidden (the agent printed what it could read).
    let log = std::fs::read_to_string(dir.join("agent.log")).unwrap();
    assert!(log.contains("shadow:") && !log.contains("root:"), "{log}");
}

async fn an_agent_past_its_time_is_stopped(url: &str) {
    let t = team(url, "sleep 30\n", |c, _| c.fix.max_execution_minutes = 0.05).await;
    let started = std::time::Instant::now();
    t.through_spec().await;
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(t.run().await.state, Error);
    assert!(t.last_reason().await.contains("ran past its 3 s limit"), "{}", t.last_reason().await);
}

async fn an_agent_eating_memory_is_stopped(url: &str) {
    let agent = "head -c 2000000000 /dev/zero | tail -c 1500000000 > /dev/null || exit 9\n";
    let t = team(url, agent, |c, _| c.fix.memory_mb = 200).await;
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    let why = t.last_reason().await;
    assert!(why.contains("the agent exited with 9") || why.contains("killed"), "{why}");
}

async fn a_fork_bomb_is_contained(url: &str) {
    let agent = "bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 2; exit 0\n";
    let t = team(url, agent, |c, _| {
        c.fix.max_processes = 64;
        c.fix.max_execution_minutes = 0.1;
    })
    .await;
    let started = std::time::Instant::now();
    t.through_spec().await;
    assert!(started.elapsed().as_secs() < 30);
    assert_ne!(t.run().await.state, Completed);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let left = Command::new("pgrep").args(["-c", "-f", "bomb"]).output().unwrap();
    let left: u32 = String::from_utf8_lossy(&left.stdout).trim().parse().unwrap_or(0);
    assert_eq!(left, 0, "nothing of the bomb is left running");
}

async fn an_agent_that_fails_ends_the_run_in_error(url: &str) {
    let t = team(url, "echo 'model API unreachable' >&2\nexit 3\n", |_, _| {}).await;
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    let why = t.last_reason().await;
    assert!(why.contains("the agent exited with 3") && why.contains("model API unreachable"), "{why}");
    assert!(t.said().contains("model API unreachable"));
}

async fn a_failing_gate_gets_one_retry_then_qa_failed(url: &str) {
    // The agent "fixes" it wrongly, every time.
    let t = team(url, "sed -i 's/Helo/Hullo/' greet.sh\n", |_, _| {}).await;
    t.through_spec().await;
    assert_eq!(t.states().await[3..], [SpecApproved, Executing, QaRunning, Executing, QaRunning, QaFailed]);
    let said = t.said();
    assert!(said.contains("one more try"), "{said}");
    assert!(said.contains("expected Hello, world! got Hullo, world!"), "{said}");
    assert_eq!(t.status().await, Status::Todo);
    let prompt = std::fs::read_to_string(
        t._work.path().join("runs").join(format!("run-{}", t.run().await.id)).join("input/prompt.md"),
    )
    .unwrap();
    assert!(prompt.contains("Fix this first") && prompt.contains("got Hullo"), "the retry was told why: {prompt}");
    assert!(prompt.contains("## The repository's AGENTS.md\n\nKeep scripts POSIX sh."), "{prompt}");
    assert!(prompt.contains("## Files most about the ticket\n\ngreet.sh"), "{prompt}");
}

async fn a_hanging_gate_is_stopped(url: &str) {
    let t = team(url, GOOD_AGENT, |c, _| {
        c.fix.gates = vec![toml::from_str("name = \"slow\"\ncommand = \"sleep 60\"\ntimeout_seconds = 1").unwrap()];
    })
    .await;
    let started = std::time::Instant::now();
    t.through_spec().await;
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(t.run().await.state, QaFailed);
    assert!(t.last_reason().await.contains("slow ran past its 1 s limit"), "{}", t.last_reason().await);
}

async fn a_rejected_push_ends_the_run_in_error(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    let hook = t.repo.remote().join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'protected: no pushes' >&2\nexit 1\n").unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.last_reason().await.contains("the push was rejected"), "{}", t.last_reason().await);
}

async fn critical_paths_need_two_approvals(url: &str) {
    // Dev (a member) is named as a PR approver, so there are two people besides Ana.
    let t = team(url, GOOD_AGENT, |c, _| {
        c.fix.critical_paths = vec!["*.sh".into()];
        c.fix.pr_approvers = vec!["lead".into(), "dev".into()];
    })
    .await;
    t.through_spec().await;
    assert!(t.chat.last_with_buttons().unwrap().fallback_text().contains("two approvals"));
    let out = t.press("pat", "Approve & merge").await;
    assert!(text_of(&out).contains("1 of 2"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "one approval is not enough");
    assert!(t.repo.on_main("greet.sh").contains("Helo"));
    let out = t.press("pat", "Approve & merge").await;
    assert!(text_of(&out).contains("already decided"), "{}", text_of(&out));
    t.press("dev", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Completed);
    assert!(t.last_reason().await.contains("Pat Morgan and Dev"), "{}", t.last_reason().await);
}

async fn paused_the_queue_starts_nothing_until_resumed(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    let board = BoardService::new(t.app.store.clone(), t.app.workspace());
    let pat = Actor::named(&t.app.config.people(), "pat");
    let ben = Actor::named(&t.app.config.people(), "ben");
    assert!(board.pause_fixes(&ben, true, &Ctx::new(t0())).await.is_err(), "members cannot pause");
    board.pause_fixes(&pat, true, &Ctx::new(t0())).await.unwrap();
    t.start().await;
    assert_eq!(t.states().await, [Pending], "nothing starts while paused");
    board.pause_fixes(&pat, false, &Ctx::new(t0())).await.unwrap();
    let later: Clock = Arc::new(|| t0() + chrono::Duration::minutes(5));
    t.app.worker(t.chat.clone()).unwrap().with_clock(later).run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingSpecApproval);
}

// ── The built-in agent, against a local model server replaying tool calls ───────────────

/// A model API on port 0 that answers each request with the next scripted body, and
/// remembers what it was asked.
#[derive(Clone, Default)]
struct Model {
    replies: Arc<std::sync::Mutex<std::collections::VecDeque<serde_json::Value>>>,
    seen: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

fn llm_fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/llm/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The recorded chat completion with `text` as the answer.
fn says(text: &str) -> serde_json::Value {
    let mut body = llm_fixture("openai_chat_completion.json");
    body["choices"][0]["message"]["content"] = serde_json::json!(text);
    body
}

/// The recorded tool-call completion asking for `name` with `arguments`.
fn calls(name: &str, arguments: serde_json::Value) -> serde_json::Value {
    let mut body = llm_fixture("openai_tool_call.json");
    let call = &mut body["choices"][0]["message"]["tool_calls"][0];
    call["function"]["name"] = serde_json::json!(name);
    call["function"]["arguments"] = serde_json::json!(arguments.to_string());
    body
}

async fn model(replies: Vec<serde_json::Value>) -> (Model, pmbot::llm::LlmSettings) {
    use axum::{extract::State, routing::post, Json, Router};
    let model = Model { replies: Arc::new(std::sync::Mutex::new(replies.into())), seen: Arc::default() };
    async fn answer(State(m): State<Model>, Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
        m.seen.lock().unwrap().push(body);
        let next = m.replies.lock().unwrap().pop_front();
        Json(next.unwrap_or_else(|| says("I am done.")))
    }
    let app = Router::new().route("/v1/chat/completions", post(answer)).with_state(model.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let settings = pmbot::llm::LlmSettings {
        provider: pmbot::llm::Provider::OpenAiCompatible,
        url: base,
        model: "gpt-4o-mini".into(),
        api_key: Some("test-key".into()),
        daily_token_budget: 100_000,
        timeout: std::time::Duration::from_secs(10),
    };
    (model, settings)
}

const SUMMARY: &str = r#"{"summary":"A tiny shell greeter, tested with sh test.sh."}"#;
const MODEL_SPEC: &str = r#"{"problem":"The greeting is misspelt.","files":[{"path":"greet.sh","new":false}],"plan":["Spell Hello right in greet.sh"],"testing":"sh test.sh","checklist":["greet.sh says Hello"]}"#;

async fn the_built_in_agent_writes_only_the_specs_files(url: &str) {
    let (model, settings) = model(vec![
        says(SUMMARY),
        says(MODEL_SPEC),
        calls("read_file", serde_json::json!({ "path": "greet.sh" })),
        calls("write_file", serde_json::json!({ "path": "../outside.txt", "content": "x" })),
        calls("write_file", serde_json::json!({ "path": "test.sh", "content": "exit 0" })),
        calls("write_file", serde_json::json!({ "path": "greet.sh", "content": "#!/bin/sh\necho \"Hello, $1!\"\n" })),
        calls("run_check", serde_json::json!({})),
        says("Fixed the spelling of the greeting."),
    ])
    .await;
    let t = team_with(url, "", Some(settings), |c, _| {
        c.projects.iter_mut().find(|p| p.key == "WEB").unwrap().fix.as_mut().unwrap().agent = Some("builtin".into());
    })
    .await;
    t.start().await;
    let card = t.chat.last_with_buttons().unwrap().fallback_text();
    assert!(card.contains("Spell Hello right in greet.sh"), "the model's SPEC: {card}");
    t.press("ana", "Approve SPEC").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, AwaitingPrApproval, "{}", t.said());
    let run = t.run().await;
    assert_eq!(run.data["changed"], serde_json::json!(["greet.sh"]));
    assert_eq!(run.data["agent_summary"], "Fixed the spelling of the greeting.");
    assert!(run.data["tokens"].as_u64().unwrap() > 0);
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 8);
    let seen = &seen[1..]; // the first was the repository's summary
    let cache = std::fs::read_to_string(t._work.path().join("repos/web.knowledge.json")).unwrap();
    assert!(cache.contains("A tiny shell greeter"), "{cache}");
    // What each tool answered went back to the model.
    let results =
        |i: usize| seen[i]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert!(results(2).contains("Helo"), "read_file: {}", results(2));
    assert!(results(3).starts_with("refused:"), "a path outside: {}", results(3));
    assert!(results(4).contains("refused: test.sh is not among the SPEC's files"), "{}", results(4));
    assert!(results(6).contains("tests succeeded"), "run_check: {}", results(6));
    assert!(!t._work.path().join("runs/outside.txt").exists());
    assert_eq!(seen[1]["tools"].as_array().unwrap().len(), 5);
    assert_eq!(seen[1]["messages"][0]["role"], "system");
}

async fn the_built_in_agent_stops_at_its_token_budget(url: &str) {
    // Each recorded answer costs 99 tokens; the run may spend 150.
    let (_model, settings) = model(vec![
        says(SUMMARY),
        says(MODEL_SPEC),
        calls("read_file", serde_json::json!({ "path": "greet.sh" })),
        calls("read_file", serde_json::json!({ "path": "greet.sh" })),
        calls("read_file", serde_json::json!({ "path": "greet.sh" })),
    ])
    .await;
    let t = team_with(url, "", Some(settings), |c, _| {
        c.fix.max_tokens_per_run = 150;
        c.projects.iter_mut().find(|p| p.key == "WEB").unwrap().fix.as_mut().unwrap().agent = Some("builtin".into());
    })
    .await;
    t.through_spec().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.last_reason().await.contains("token budget is spent (198 of 150)"), "{}", t.last_reason().await);
}

async fn a_spec_nobody_decides_expires(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.start().await;
    let later: Clock = Arc::new(|| t0() + chrono::Duration::hours(25));
    let worker = t.app.worker(t.chat.clone()).unwrap().with_clock(later);
    worker.maintain().await;
    worker.run_until_idle().await;
    assert_eq!(t.run().await.state, SpecRejected);
    assert!(
        t.last_reason().await.contains("expired: nobody decided on the SPEC within 24 h"),
        "{}",
        t.last_reason().await
    );
    assert_eq!(t.status().await, Status::Todo);
}

async fn the_hourly_limit_cancels_a_run_over_it(url: &str) {
    let t = team(url, GOOD_AGENT, |c, _| c.fix.max_runs_per_hour = 1).await;
    t.start().await;
    let board = BoardService::new(t.app.store.clone(), t.app.workspace());
    let mut other = NewTicket::new("WEB", "Greeting needs a full stop").unwrap();
    other.status = Status::Todo;
    let other = board.create(&Actor::System("test".into()), &other, &Ctx::new(t0())).await.unwrap();
    t.say("pat", &format!("@pmbot fix {}", other.key)).await;
    t.worker.run_until_idle().await;
    let second = &t.app.store.fix_runs_of(&t.app.workspace(), &other.key).await.unwrap()[0];
    assert_eq!(second.state, Cancelled);
    let transitions = t.app.store.fix_transitions(&t.app.workspace(), second.id).await.unwrap();
    assert!(transitions.last().unwrap().reason.contains("the limit is 1"), "{:?}", transitions.last());
    assert_eq!(t.run().await.state, AwaitingSpecApproval, "the first run goes on");
}

async fn a_branch_pushed_to_after_approval_is_not_merged(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.through_spec().await;
    let branch = t.run().await.data["branch"].as_str().unwrap().to_string();
    // Someone pushes to the pmbot branch after the pull request was opened.
    let other = tempfile::tempdir().unwrap();
    let remote = t.repo.remote().display().to_string();
    common::repo::git(other.path(), &["clone", "-q", "-b", &branch, &remote, "c"]);
    let clone = other.path().join("c");
    std::fs::write(clone.join("greet.sh"), "#!/bin/sh\necho \"Hello, $1! (and a surprise)\"\n").unwrap();
    common::repo::git(&clone, &["-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qam", "surprise"]);
    common::repo::git(&clone, &["push", "-q", "origin", &branch]);
    t.press("pat", "Approve & merge").await;
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Error);
    assert!(t.last_reason().await.contains("moved since it was approved"), "{}", t.last_reason().await);
    assert!(t.repo.on_main("greet.sh").contains("Helo"), "nothing was merged");
}

async fn a_cancelled_run_closes_its_gate(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.start().await;
    let out = t.say("ana", &format!("@pmbot fix cancel {}", t.key)).await;
    assert!(text_of(&out).contains("cancelled fix run"), "{}", text_of(&out));
    let out = t.press("pat", "Approve SPEC").await;
    assert!(text_of(&out).contains("That request is closed"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Cancelled);
    assert_eq!(t.states().await, [Pending, Planning, AwaitingSpecApproval, Cancelled]);
    assert!(t.said().contains("AWAITING_SPEC_APPROVAL → CANCELLED"), "{}", t.said());
    assert_eq!(
        t.chat.texts().iter().filter(|(_, text)| text.contains("AI fix run")).count(),
        1,
        "one thread: {:?}",
        t.chat.texts()
    );
}

async fn an_approved_merge_cannot_be_cancelled(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    t.through_spec().await;
    t.press("pat", "Approve & merge").await;
    let out = t.say("ana", &format!("@pmbot fix cancel {}", t.key)).await;
    assert!(text_of(&out).contains("approved and being merged"), "{}", text_of(&out));
    t.worker.run_until_idle().await;
    assert_eq!(t.run().await.state, Completed);
}

// ── After the merge: the deploy and the reporter ─────────────────────────────────────────

fn deploy(c: &mut pmbot::config::Config, toml_text: &str) {
    let web = c.projects.iter_mut().find(|p| p.key == "WEB").unwrap();
    web.deploy = Some(toml::from_str(toml_text).unwrap());
}

/// Starts, approves both gates (Ana the SPEC, Pat the PR) and runs until all is done.
impl Team {
    async fn through_merge(&self) {
        self.through_spec().await;
        self.press("pat", "Approve & merge").await;
        self.worker.run_until_idle().await;
    }
}

async fn a_merged_fix_is_deployed_and_then_its_reporter_hears(url: &str) {
    // The command runs in a checkout of the merged commit: the greeting is fixed there.
    let t = team(url, GOOD_AGENT, |c, _| deploy(c, "command = \"grep -q Hello greet.sh\"")).await;
    t.through_merge().await;
    assert_eq!(t.run().await.state, Completed);
    let said = t.said();
    assert!(said.contains("🚀 Deployed"), "{said}");
    assert_eq!(t.status().await, Status::Done);
    let told: Vec<(String, String)> = t.chat.texts().into_iter().filter(|(to, _)| to.starts_with('@')).collect();
    assert_eq!(told.len(), 1, "the reporter is told once, when it is live: {told:?}");
    assert!(told[0].1.contains("is fixed and deployed"), "{told:?}");
    let log = t.app.store.decisions(&t.app.workspace(), Some(t.key.as_str()), 200).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "deploy.run" && d.outcome == "deployed"), "{log:#?}");
}

async fn a_failed_deploy_reopens_the_ticket_and_tells_the_pm(url: &str) {
    let t = team(url, GOOD_AGENT, |c, _| deploy(c, "command = \"echo 'fly: app not found' >&2; exit 3\"")).await;
    t.through_merge().await;
    assert_eq!(t.run().await.state, Completed, "the merge stands");
    let said = t.said();
    assert!(said.contains("❌ The deploy failed") && said.contains("fly: app not found"), "{said}");
    assert_eq!(t.status().await, Status::Todo, "the ticket is reopened");
    let comments = t.app.store.comments(&t.app.workspace(), &t.key).await.unwrap();
    assert!(comments.iter().any(|c| c.body.contains("The deploy after fix run")), "{comments:#?}");
    let texts = t.chat.texts();
    assert!(
        texts.iter().any(|(to, text)| to == "@pat" && text.contains("failed and the ticket is back in To do")),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|(to, text)| to == "@chloe" && text.contains("is fixed")),
        "the reporter hears nothing yet"
    );
}

async fn a_deploy_hook_is_called_with_the_merge(url: &str) {
    let calls: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Arc::default();
    let kept = calls.clone();
    let hook = axum::Router::new().route(
        "/deploy",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                (axum::http::StatusCode::CREATED, "{\"job\":\"started\"}")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/deploy", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let t = team(url, GOOD_AGENT, |c, _| deploy(c, &format!("webhook = \"{hook_url}\""))).await;
    t.through_merge().await;
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let run = t.run().await;
    assert_eq!(calls[0]["ticket"], t.key.as_str());
    assert_eq!(calls[0]["sha"], run.data["merged"]);
    assert!(t.said().contains("🚀 Deployed"), "{}", t.said());
}

async fn an_interrupted_deploy_is_not_run_again(url: &str) {
    let t = team(url, GOOD_AGENT, |c, _| deploy(c, "command = \"exit 0\"")).await;
    // pmbot stopped in the middle of run #1's deploy: its start is recorded, its end is not.
    let started = pmbot::store::NewDecision {
        kind: "deploy.run".into(),
        subject: t.key.to_string(),
        inputs: serde_json::json!({ "run": 1 }),
        rationale: "deploying".into(),
        confidence: 1.0,
        action: "deploy".into(),
        actor: "pmbot".into(),
        outcome: "started".into(),
        source: Some("deploy:1:started".into()),
    };
    t.app.store.log_decision_once(&t.app.workspace(), &started, t0()).await.unwrap().unwrap();
    t.through_merge().await;
    assert_eq!(t.run().await.id, 1);
    assert!(!t.said().contains("🚀 Deployed"), "not deployed a second time");
    let said = t.said();
    assert!(said.contains("was interrupted") && said.contains("not run twice"), "{said}");
    assert_eq!(t.status().await, Status::Todo, "the PM checks it");
}

async fn a_chat_thread_that_reported_a_bug_hears_when_it_is_fixed(url: &str) {
    let t = team(url, GOOD_AGENT, |_, _| {}).await;
    // The ticket came from a message in #acme-web (the conversation job made it).
    let board = BoardService::new(t.app.store.clone(), t.app.workspace());
    let mut new = NewTicket::new("WEB", "Footer link 404s").unwrap();
    new.status = Status::Todo;
    new.source = pmbot::board::Source {
        tracker: Some("chat".into()),
        external_id: Some("msg:shell:#acme-web:1700000000.000100".into()),
        url: None,
    };
    let ticket = board.create(&Actor::System("test".into()), &new, &Ctx::new(t0())).await.unwrap();
    let ws = t.app.workspace();
    let env = t.app.job_env(t.chat.clone());
    let news = pmbot::intake::reply::News::Merged;
    pmbot::intake::reply::tell_reporters(&env, &ticket.key, 9, news, t0()).await.unwrap();
    pmbot::intake::reply::tell_reporters(&env, &ticket.key, 9, news, t0()).await.unwrap();
    let sent = t.chat.sent.lock().unwrap().clone();
    let replies: Vec<_> =
        sent.iter().filter(|(to, m)| to == "#acme-web" && m.fallback_text().contains("is fixed")).collect();
    assert_eq!(replies.len(), 1, "once, in the channel it came from: {sent:?}");
    let log = t.app.store.decisions(&ws, Some(ticket.key.as_str()), 20).await.unwrap();
    assert!(log.iter().any(|d| d.kind == "reporter.reply" && d.outcome == "told"), "{log:#?}");
}
