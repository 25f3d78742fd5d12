//! The `pmbot` binary as a newcomer uses it: the demo, the shell with piped input, the board
//! commands, and what bad input gets (one clear line, exit code 2, nothing changed).

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A clean working directory (no pmbot.toml) and data directory, and no inherited settings.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().unwrap() }
    }

    fn sqlite_url(&self) -> String {
        pmbot::store::sqlite_url(&self.dir.path().join("board.db"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pmbot"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("PMBOT_DATA_DIR", self.dir.path().join("data"))
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("PMBOT_CONFIG")
            .env_remove("PMBOT_LISTEN");
        for secret in [
            "GITHUB_TOKEN",
            "GITHUB_APP_ID",
            "GITHUB_APP_INSTALLATION_ID",
            "GITHUB_APP_PRIVATE_KEY",
            "GITHUB_APP_PRIVATE_KEY_FILE",
            "GITHUB_WEBHOOK_SECRET",
            "PMBOT_ALERTS_TOKEN",
            "PMBOT_IMAP_URL",
            "PMBOT_SMTP_URL",
            "LINEAR_API_KEY",
            "LINEAR_API_URL",
            "LINEAR_WEBHOOK_SECRET",
            "JIRA_URL",
            "JIRA_EMAIL",
            "JIRA_API_TOKEN",
            "JIRA_WEBHOOK_SECRET",
            "TEMPO_API_TOKEN",
        ] {
            command.env_remove(secret);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run pmbot")
    }

    fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child =
            self.command(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_demo_prints_a_standup_and_a_button_driven_board_change() {
    let output = Sandbox::new().run(&["demo"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("ana › /standup"), "{out}");
    assert!(out.contains("Standup ·"), "{out}");
    assert!(out.contains("Only a PM or lead can decide on this"), "{out}");
    assert!(out.contains("Decision: Pat Morgan approved — Triage WEB-22"), "{out}");
    assert!(out.contains("was accepted into to do by Pat Morgan"), "{out}");
    assert!(
        out.contains("✓ Moved WEB-5 Login times out after 30 seconds on slow networks from in review to done."),
        "{out}"
    );
    assert!(out.contains("Decision: Pat Morgan said yes — Should I create a ticket for this"), "{out}");
    assert!(out.contains("✓ Created WEB-23 Add a dark mode toggle to the site header"), "{out}");
    assert!(out.contains("Why WEB-5"), "{out}");
    assert!(out.contains("──── What happened ────"), "{out}");
    // The AI queue, end to end, every state named.
    for step in [
        "`PENDING → PLANNING`",
        "`AWAITING_SPEC_APPROVAL → SPEC_APPROVED`",
        "`QA_RUNNING → PR_CREATED`",
        "`AWAITING_PR_APPROVAL → COMPLETED`",
    ] {
        assert!(out.contains(step), "{step} in {out}");
    }
    assert!(out.contains("✅ tests succeeded"), "{out}");
    let url = out.split_whitespace().find(|w| w.starts_with("sqlite://")).expect("the demo's database").to_string();
    let listed = Sandbox::new().run(&["--database-url", &url, "fix", "list", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(runs[0]["state"], "COMPLETED", "{runs}");
    assert_eq!(runs[0]["states"].as_array().unwrap().len(), 9, "{runs}");
}

/// The sample team plus a project GRT whose AI queue works on `repo` with its test agent.
fn team_with_ai_queue(sandbox: &Sandbox, repo: &common::repo::Repo, agent: &str) {
    let agent = repo.agent("agent.sh", agent);
    let extra = format!(
        "\n[[projects]]\nkey = \"GRT\"\nname = \"Greeter\"\n\n[projects.fix]\nenabled = true\nrepository = \"{}\"\nagent = \"{agent}\"\ngates = [{{ name = \"tests\", command = \"sh test.sh\" }}]\n",
        repo.remote().display()
    );
    let text = pmbot::config::BUILT_IN.replacen("\n[[projects]]", &format!("{extra}\n[[projects]]"), 1);
    let text = text.replace("read_only = []", &format!("read_only = [\"{}\"]", repo.agents().display()));
    sandbox.write("pmbot.toml", &text);
}

#[test]
fn a_fix_is_driven_from_the_command_line() {
    let sandbox = Sandbox::new();
    let repo = common::repo::Repo::new();
    team_with_ai_queue(&sandbox, &repo, common::repo::GOOD_AGENT);
    let url = sandbox.sqlite_url();
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        let output = sandbox.run(&all);
        (output.status.code(), stdout(&output), stderr(&output))
    };
    let (code, out, err) = run(&["config", "check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("AI queue GRT: on") && out.contains("sandbox: bubblewrap works"), "{out}");
    run(&[
        "board",
        "add",
        "Greeting says Helo instead of Hello",
        "--project",
        "GRT",
        "--status",
        "todo",
        "--as",
        "pat",
    ]);
    let (code, out, err) = run(&["fix", "start", "GRT-1", "--as", "ben"]);
    assert_eq!(code, Some(2), "a member may not: {out}{err}");
    let (code, out, _) = run(&["fix", "start", "GRT-1", "--as", "pat"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Fix run #1 started") && out.contains("PLANNING → AWAITING_SPEC_APPROVAL"), "{out}");
    let (code, _, err) = run(&["fix", "approve", "1"]);
    assert_eq!(code, Some(2), "someone must decide: {err}");
    let (_, out, _) = run(&["fix", "approve", "1", "--as", "ana"]);
    assert!(out.contains("PR_CREATED → AWAITING_PR_APPROVAL"), "{out}");
    let (code, _, err) = run(&["fix", "approve", "1", "--as", "ana"]);
    assert_eq!(code, Some(2), "not the SPEC's approver again: {err}");
    assert!(err.contains("other than @ana"), "{err}");
    let (_, out, _) = run(&["fix", "approve", "1", "--as", "pat"]);
    assert!(out.contains("AWAITING_PR_APPROVAL → COMPLETED"), "{out}");
    let (_, out, _) = run(&["fix", "show", "1"]);
    assert!(out.contains("COMPLETED") && out.contains("QA: ✅ tests"), "{out}");
    let (_, out, _) = run(&["fix", "stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["completion_rate"], 1.0, "{stats}");
    let (_, out, _) = run(&["repo", "scan", "GRT"]);
    assert!(out.contains("languages:    Shell (3)") && out.contains("test:         sh test.sh"), "{out}");
    assert!(repo.on_main("greet.sh").contains("Hello"));
}

#[test]
fn config_check_says_what_the_intake_lacks() {
    let sandbox = Sandbox::new();
    let text = pmbot::config::BUILT_IN
        .replace("# project = \"WEB\"\n# How often the mailbox", "project = \"WEB\"\n# How often the mailbox");
    assert_ne!(text, pmbot::config::BUILT_IN, "the sample's [email] project line");
    sandbox.write("pmbot.toml", &text);
    let output = sandbox.run(&["config", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("[email] project is set but PMBOT_IMAP_URL is not"), "{}", stderr(&output));
    let output =
        sandbox.command(&["config", "check"]).env("PMBOT_IMAP_URL", "imap://support:pw@mail.example").output().unwrap();
    assert!(stderr(&output).contains("only imaps://"), "{}", stderr(&output));
    let output = sandbox
        .command(&["config", "check"])
        .env("PMBOT_IMAP_URL", "imaps://support:pw@mail.example")
        .env("GITHUB_WEBHOOK_SECRET", "s3cret")
        .env("GITHUB_TOKEN", "ghp_example")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("support mailbox: imaps://support@mail.example:993/INBOX → WEB"), "{out}");
    assert!(!out.contains(":pw@") && !out.contains("ghp_example"), "no secret is printed: {out}");
    assert!(out.contains("POST /github/webhook served"), "{out}");
}

#[test]
fn config_check_says_what_the_ai_queue_lacks_here() {
    let sandbox = Sandbox::new();
    let repo = common::repo::Repo::new();
    team_with_ai_queue(&sandbox, &repo, "");
    let text = std::fs::read_to_string(sandbox.dir.path().join("pmbot.toml")).unwrap();
    sandbox.write("pmbot.toml", &text.replace("command = \"sh test.sh\"", "command = \"no-such-linter --all\""));
    let output = sandbox.run(&["config", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("gate tests's program no-such-linter is not installed"), "{}", stderr(&output));
    sandbox.write("pmbot.toml", &text.replace("spec_approvers = [\"lead\"]", "spec_approvers = [\"boss\"]"));
    let output = sandbox.run(&["config", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("fix.spec_approvers[0]: \"boss\" is neither pm, lead nor a person's handle"),
        "{}",
        stderr(&output)
    );
}

fn shell_answers_standup_and_board(database_url: &str) {
    let sandbox = Sandbox::new();
    let seeded = sandbox.run(&["--database-url", database_url, "seed"]);
    assert!(seeded.status.success(), "{}", stderr(&seeded));
    let output =
        sandbox.run_with_input(&["--database-url", database_url, "shell", "--as", "ana"], "/standup\n/board\n");
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("ana › /standup\npmbot › #team\n  Standup ·"), "{out}");
    assert!(out.contains("ana › /board\npmbot › #team\n  Board\n"), "{out}");
    assert!(out.contains("Login times out after 30 seconds"), "{out}");
}

#[test]
fn the_shell_answers_standup_and_board_on_sqlite() {
    shell_answers_standup_and_board(&Sandbox::new().sqlite_url());
}

#[tokio::test]
async fn the_shell_answers_standup_and_board_on_postgres() {
    let (url, _, _) = common::fresh_postgres_database().await;
    tokio::task::spawn_blocking(move || shell_answers_standup_and_board(&url)).await.unwrap();
}

#[test]
fn a_malformed_config_stops_start_up_with_the_field_path() {
    let sandbox = Sandbox::new();
    sandbox.write("pmbot.toml", "[[people]]\nhandle = \"ana\"\nname = \"Ana\"\ntimezone = \"Mars/Base\"\n");
    let output = sandbox.run(&["board", "list"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        "pmbot: error: pmbot.toml: people[0].timezone: unknown time zone \"Mars/Base\" (use an IANA name such as Europe/Lisbon)"
    );
    assert!(!sandbox.dir.path().join("data").exists(), "no database was created");
}

#[test]
fn a_missing_explicit_config_is_named() {
    let output = Sandbox::new().run(&["--config", "nope.toml", "config", "check"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("pmbot: error: nope.toml: file: "), "{}", stderr(&output));
}

#[test]
fn config_check_describes_the_built_in_team() {
    let output = Sandbox::new().run(&["config", "check"]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("the built-in sample team"), "{}", stdout(&output));
}

#[test]
fn an_unreachable_database_is_one_clear_line() {
    let output =
        Sandbox::new().run(&["--database-url", "postgres://postgres:hunter2@127.0.0.1:1/pmbot", "board", "list"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pmbot: error: cannot open the database at postgres://postgres:***@127.0.0.1:1/pmbot: "),
        "{err}"
    );
    assert!(err.trim_end().ends_with("Check DATABASE_URL or --database-url."), "{err}");
}

#[test]
fn unknown_keys_and_statuses_are_misuse_and_change_nothing() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    sandbox.run(&["--database-url", &url, "seed"]);
    let before = stdout(&sandbox.run(&["--database-url", &url, "board", "list", "--json"]));

    let unknown = sandbox.run(&["--database-url", &url, "board", "show", "WEB-999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(stderr(&unknown).trim(), "pmbot: error: WEB-999 is not a ticket on this board");

    let status = sandbox.run(&["--database-url", &url, "board", "move", "WEB-1", "shipped"]);
    assert_eq!(status.status.code(), Some(2));
    assert!(stderr(&status).contains("\"shipped\" is not a status; use one of: backlog, todo"), "{}", stderr(&status));

    let title = "x".repeat(300);
    let long = sandbox.run(&["--database-url", &url, "board", "add", &title]);
    assert_eq!(long.status.code(), Some(2));
    assert!(stderr(&long).contains("a title is at most 200 characters (this one has 300); nothing was created"));

    let after = stdout(&sandbox.run(&["--database-url", &url, "board", "list", "--json"]));
    assert_eq!(before, after);
}

#[test]
fn board_commands_change_the_board_and_speak_json() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    sandbox.run(&["--database-url", &url, "migrate"]);
    let added = sandbox.run(&[
        "--database-url",
        &url,
        "board",
        "add",
        "Export invoices",
        "--priority",
        "high",
        "--as",
        "pat",
        "--json",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let ticket: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!((ticket["key"].as_str(), ticket["status"].as_str()), (Some("WEB-1"), Some("backlog")));

    let moved = sandbox.run(&[
        "--database-url",
        &url,
        "board",
        "move",
        "web-1",
        "in progress",
        "--as",
        "ana",
        "--reason",
        "picked up",
    ]);
    assert_eq!(stdout(&moved).trim(), "WEB-1: backlog → in_progress");
    sandbox.run(&["--database-url", &url, "board", "assign", "WEB-1", "ana"]);
    sandbox.run(&["--database-url", &url, "board", "comment", "WEB-1", "halfway there", "--as", "ana"]);

    let shown = sandbox.run(&["--database-url", &url, "board", "show", "WEB-1", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["ticket"]["assignee"], "ana");
    assert_eq!(shown["history"][1]["reason"], "picked up");
    assert_eq!(shown["comments"][0]["body"], "halfway there");

    let listed = sandbox.run(&["--database-url", &url, "board", "list", "--status", "in_progress", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_100_kb_shell_message_is_refused_and_nothing_is_stored() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    let input = format!("{}\n\n   \nhello team\n", "y".repeat(100_000));
    // The child process does not need this test's runtime, so waiting on it here is fine.
    let output = sandbox.run_with_input(&["--database-url", &url, "shell", "--as", "ben"], &input);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("That message has 100000 characters; the limit is 40000. Nothing was sent."));
    let store = pmbot::store::Store::connect(&url).await.unwrap();
    let ws = pmbot::store::WorkspaceId::new("default");
    let messages = store.recent_messages(&ws, "#team", 10).await.unwrap();
    let texts: Vec<_> = messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hello team"], "only the sensible line was stored");
}

#[test]
fn shell_refuses_an_unknown_person() {
    let output = Sandbox::new().run(&["shell", "--as", "zed"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--as zed: no one has that handle; use one of: pat, ana"), "{}", stderr(&output));
}

#[test]
fn schedules_show_the_next_firings_in_their_zone_and_in_utc() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    let output =
        sandbox.run(&["--database-url", &url, "schedules", "--from", "2026-11-20 15:00", "--count", "2", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let all: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let standup = &all[0];
    assert_eq!(
        (standup["schedule"].as_str(), standup["timezone"].as_str()),
        (Some("standup"), Some("America/New_York"))
    );
    let utc: Vec<&str> = standup["next"].as_array().unwrap().iter().map(|f| f["utc"].as_str().unwrap()).collect();
    assert_eq!(utc, ["2026-11-23T14:00:00Z", "2026-11-24T14:00:00Z"], "Friday afternoon → Monday 09:00 EST");
    assert_eq!(standup["next"][0]["local"], "Mon 2026-11-23 09:00 EST");
}

#[test]
fn jobs_can_be_listed_cancelled_and_explained() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    assert!(sandbox.run(&["--database-url", &url, "jobs", "probe", "--count", "2"]).status.success());
    let listed = sandbox.run(&["--database-url", &url, "jobs", "list", "--state", "available", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let cancelled = sandbox.run(&["--database-url", &url, "jobs", "cancel", "1"]);
    assert_eq!(stdout(&cancelled).trim(), "Job #1 (diagnostics.probe) is cancelled.");
    let again = sandbox.run(&["--database-url", &url, "jobs", "cancel", "1"]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(stderr(&again).trim(), "pmbot: error: job #1 is cancelled, so it cannot be cancelled");
    let missing = sandbox.run(&["--database-url", &url, "jobs", "show", "99"]);
    assert_eq!((missing.status.code(), stderr(&missing).trim()), (Some(2), "pmbot: error: job #99 does not exist"));
    let shown = stdout(&sandbox.run(&["--database-url", &url, "jobs", "show", "2"]));
    assert!(shown.starts_with("Job #2 · diagnostics.probe on queue diagnostics\nState: available"), "{shown}");
}

#[test]
fn a_bad_schedule_stops_start_up_with_its_name() {
    let sandbox = Sandbox::new();
    let config = format!(
        "{}\n[[schedules]]\nname = \"ana-morning\"\ncron = \"30 25 * * *\"\nperson = \"ana\"\n",
        pmbot::config::BUILT_IN
    );
    sandbox.write("pmbot.toml", &config);
    let output = sandbox.run(&["worker"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.starts_with("pmbot: error: pmbot.toml: schedules[0].cron: schedule \"ana-morning\": \"30 25 * * *\" is not a cron expression"), "{err}");
}

#[test]
fn chat_in_the_shell_is_matched_and_the_decision_log_explains_it() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    assert!(sandbox.run(&["--database-url", &url, "seed"]).status.success());
    let said = sandbox.run_with_input(
        &["--database-url", &url, "shell", "--as", "ana", "--channel", "#acme-web"],
        "WEB-5 is merged and deployed\ncan we add an export to CSV on the orders page?\n!3\n",
    );
    let out = stdout(&said);
    assert!(
        out.contains("✓ Moved WEB-5 Login times out after 30 seconds on slow networks from in review to done."),
        "{out}"
    );
    assert!(out.contains("💡 Should I create a ticket for this"), "{out}");
    assert!(out.contains("Ana Sousa said no"), "{out}");

    let listed = sandbox.run(&["--database-url", &url, "decisions", "list", "--kind", "conversation.match", "--json"]);
    let decisions: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let outcomes: Vec<&str> = decisions.as_array().unwrap().iter().map(|d| d["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["declined", "done"]);
    let id = decisions[1]["id"].as_i64().unwrap().to_string();
    let shown = stdout(&sandbox.run(&["--database-url", &url, "decisions", "show", &id]));
    assert!(shown.contains("about WEB-5") && shown.contains("Action: move:done · outcome: done"), "{shown}");

    let stats = sandbox.run(&["--database-url", &url, "decisions", "stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["move"]["done"], 1);
    assert_eq!((stats["create"]["suggested"].as_u64(), stats["create"]["declined"].as_u64()), (Some(1), Some(1)));

    let missing = sandbox.run(&["--database-url", &url, "decisions", "show", "999"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stderr(&missing).trim(), "pmbot: error: decision #999 does not exist");
}

#[test]
fn worklogs_import_all_or_nothing_and_agents_send_once() {
    let sandbox = Sandbox::new();
    let url = sandbox.sqlite_url();
    assert!(sandbox.run(&["--database-url", &url, "migrate"]).status.success());
    sandbox.write(
        "hours.csv",
        "person,date,hours,project,epic,ticket,description\n\
         ben,2026-11-09,4,WEB,,,\n\
         zoe,2026-11-10,8,WEB,,,\n\
         ben,2026-11-10,-1,WEB,,,\n\
         chloe,2026-11-09,8,APP,Offline,APP-4,queue\n",
    );
    let refused = sandbox.run(&["--database-url", &url, "worklogs", "import", "hours.csv"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert!(err.contains("2 bad rows in hours.csv; nothing was imported"), "{err}");
    assert!(err.contains("hours.csv: line 3: unknown person \"zoe\""), "{err}");
    assert!(err.contains("hours.csv: line 4: hours must be above 0 (got -1)"), "{err}");

    let dry = sandbox.run(&["--database-url", &url, "run", "compliance", "--at", "2026-11-16 10:00", "--dry-run"]);
    let out = stdout(&dry);
    assert!(out.contains("[would send] DM @pat · compliance:2026-11-09:no-data:pat"), "nothing imported: {out}");
    assert!(out.contains("Nobody has any time logged for this week"), "{out}");
    assert!(!out.contains("DM @ben"), "nobody is told they are short when there is no data: {out}");
    assert!(!out.contains('*'), "rendered for the terminal, not raw mrkdwn: {out}");

    let skipped = sandbox.run(&["--database-url", &url, "worklogs", "import", "hours.csv", "--skip-bad-rows"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert_eq!(stdout(&skipped).trim(), "Imported 2 worklogs (12 h) from hours.csv; skipped 2 bad rows.");
    let again = sandbox.run(&["--database-url", &url, "worklogs", "import", "hours.csv", "--skip-bad-rows"]);
    assert_eq!(
        stdout(&again).trim(),
        "Imported 0 worklogs (0 h) from hours.csv; 2 were there already (0 with corrected hours); skipped 2 bad rows.",
        "re-importing the same file adds nothing"
    );

    let first = stdout(&sandbox.run(&["--database-url", &url, "run", "compliance", "--at", "2026-11-16 10:00"]));
    assert!(first.contains("you logged *4 h*") || first.contains("you logged 4 h"), "{first}");
    assert!(first.contains("Sent 7; 0 already sent before for this period."), "{first}");
    let second = stdout(&sandbox.run(&["--database-url", &url, "run", "compliance", "--at", "2026-11-16 10:00"]));
    assert!(second.contains("Sent 0; 7 already sent before for this period."), "{second}");

    let bad_at = sandbox.run(&["--database-url", &url, "run", "budget", "--at", "next tuesday"]);
    assert_eq!(bad_at.status.code(), Some(2));
    assert!(stderr(&bad_at).contains("--at \"next tuesday\" is not a date and time"), "{}", stderr(&bad_at));

    sandbox.write("forecast.csv", "project,epic,hours\nAPP,Offline mode,120\nAPP,Payments,80\n");
    let forecasts = sandbox.run(&["--database-url", &url, "forecasts", "import", "forecast.csv"]);
    assert_eq!(stdout(&forecasts).trim(), "Imported 2 forecasts from forecast.csv.");
    sandbox.write(
        "months.csv",
        "project,epic,month,hours\nAPP,Payments,2026-11,50\nAPP,Payments,2026-12-01,30\nAPP,Payments,soon,1\n",
    );
    let bad = sandbox.run(&["--database-url", &url, "forecasts", "import", "months.csv"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("bad month \"soon\""), "{}", stderr(&bad));
    let months = sandbox.run(&["--database-url", &url, "forecasts", "import", "months.csv", "--skip-bad-rows"]);
    assert!(stdout(&months).starts_with("Imported 2 forecasts from months.csv"), "{}", stdout(&months));
}

#[test]
fn the_discord_invite_url_needs_only_the_application_id() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .command(&["discord", "invite-url"])
        .env("DISCORD_APPLICATION_ID", "1184412345678901234")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8_lossy(&out.stdout);
    assert!(url.starts_with("https://discord.com/oauth2/authorize?client_id=1184412345678901234&scope=bot%20applications.commands&permissions="), "{url}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Attach Files"), "it says what it asks for");
    let missing = sandbox.command(&["discord", "invite-url"]).env_remove("DISCORD_APPLICATION_ID").output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("DISCORD_APPLICATION_ID"));
    let wrong = sandbox.command(&["discord", "invite-url", "--application-id", "my-bot"]).output().unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("snowflake"));
}

/// `pmbot config check --online` lists Linear's statuses against the mapping (an unmapped one
/// fails the check); `pmbot sync` reads the project with its progress, then only what changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reads_linear_and_config_check_lists_what_is_unmapped() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/linear");
    let linear = pmbot::bench::fake_linear::FakeLinear::from_fixtures(&fixtures).await.unwrap();
    let sandbox = Sandbox::new();
    let eng = "\n[[projects]]\nkey = \"ENG\"\nname = \"Engineering\"\n[projects.tracker]\nkind = \"linear\"\n\
               team = \"ENG\"\nmap_by_kind = false\n[projects.tracker.statuses]\nBacklog = \"backlog\"\nTodo = \"todo\"\n\
               \"In Progress\" = \"in_progress\"\n\"In Review\" = \"in_review\"\nDone = \"done\"\nCanceled = \"cancelled\"\n";
    sandbox.write("pmbot.toml", &format!("{}{eng}", pmbot::config::BUILT_IN));
    let url = linear.url.clone();
    let run = move |args: &'static [&'static str]| {
        sandbox.command(args).env("LINEAR_API_KEY", "lin_api_test").env("LINEAR_API_URL", &url).output().unwrap()
    };
    let (check, first, second) = tokio::task::spawn_blocking(move || {
        (run(&["config", "check", "--online"]), run(&["sync", "ENG"]), run(&["sync"]))
    })
    .await
    .unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(stdout(&check).contains("In Review        → in_review"), "{}", stdout(&check));
    assert!(stderr(&check).contains("ENG: QA"), "{}", stderr(&check));
    assert!(stdout(&check).contains("UNMAPPED (its category suggests in_progress)"), "{}", stdout(&check));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).contains("ENG: 3 issues read"), "{}", stdout(&first));
    assert!(stderr(&first).contains("ENG: page 1 · 3 issues read"), "progress: {}", stderr(&first));
    assert!(stdout(&second).contains("ENG: 0 issues read"), "only what changed since: {}", stdout(&second));
}

/// `pmbot people doctor` says who lacks the ids that tie them to a tracker's data; `pmbot tempo`
/// without a token says what is missing.
#[test]
fn people_doctor_lists_missing_ids_and_tempo_says_what_it_needs() {
    let sandbox = Sandbox::new();
    let eng = "\n[[projects]]\nkey = \"ENG\"\nname = \"Engineering\"\n[projects.tracker]\nkind = \"linear\"\nteam = \"ENG\"\n";
    sandbox.write("pmbot.toml", &format!("{}{eng}", pmbot::config::BUILT_IN));
    let doctor = sandbox.run(&["people", "doctor"]);
    assert!(doctor.status.success(), "{}", stderr(&doctor));
    let out = stdout(&doctor);
    assert!(out.contains("ana        no tracker_id"), "{out}");
    assert!(out.contains("Ids in the data that map to nobody: none."), "{out}");
    let tempo = sandbox.run(&["hours"]);
    assert_eq!(tempo.status.code(), Some(2));
    assert!(stderr(&tempo).contains("TEMPO_API_TOKEN is not set"), "{}", stderr(&tempo));
}

/// `pmbot demo --tracker linear` runs offline: a local Linear synced into a fresh board, then a
/// chat message and a comment written back to it.
#[test]
fn the_linear_demo_moves_a_ticket_on_linear_offline() {
    let sandbox = Sandbox::new();
    let output = sandbox.command(&["demo", "--tracker", "linear"]).env("PMBOT_EMBEDDINGS", "off").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("Synced ENG: 3 issues"), "{out}");
    assert!(out.contains("On Linear, ENG-102 is In Review."), "{out}");
    assert!(out.contains("Moved ENG-102"), "{out}");
    assert!(out.contains("On Linear now: ENG-102 is Done"), "{out}");
}
