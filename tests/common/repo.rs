//! A tiny git repository for the AI queue's tests: a bare remote holding a shell project
//! whose greeting is misspelt, its test script, and a folder of scripted agents.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A bare remote with a tiny shell project whose greeting is misspelt, and a folder of
/// scripted agents.
pub struct Repo {
    dir: tempfile::TempDir,
}

pub const GOOD_AGENT: &str = "sed -i 's/Helo/Hello/' greet.sh\n";

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(seed.join("tests")).unwrap();
        std::fs::write(seed.join("greet.sh"), "#!/bin/sh\necho \"Helo, $1!\"\n").unwrap();
        std::fs::write(
            seed.join("test.sh"),
            "#!/bin/sh\n[ \"$(sh greet.sh world)\" = \"Hello, world!\" ] || { echo \"expected Hello, world! got $(sh greet.sh world)\"; exit 1; }\necho ok\n",
        )
        .unwrap();
        std::fs::write(seed.join("tests/greet_test.sh"), "sh test.sh\n").unwrap();
        std::fs::write(seed.join("README.md"), "A tiny tool that greets people.\n").unwrap();
        std::fs::write(seed.join("AGENTS.md"), "Keep scripts POSIX sh.\n").unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["add", "-A"]);
        git(&seed, &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first"]);
        git(dir.path(), &["clone", "-q", "--bare", "seed", "remote.git"]);
        std::fs::create_dir_all(dir.path().join("agents")).unwrap();
        let repo = Repo { dir };
        repo.agent("good.sh", GOOD_AGENT);
        repo
    }

    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    pub fn agents(&self) -> PathBuf {
        self.dir.path().join("agents")
    }

    pub fn agent(&self, name: &str, script: &str) -> String {
        std::fs::write(self.agents().join(name), script).unwrap();
        format!("sh {}/{name}", self.agents().display())
    }

    /// The WEB project's AI queue on this repository with `agent` (a script), the repo's
    /// test script as the QA gate, and worktrees under `work`.
    pub fn configure(&self, c: &mut pmbot::config::Config, work: &Path, agent: &str) {
        let agent_command = self.agent("agent.sh", agent);
        c.fix.workspace_dir = Some(work.to_path_buf());
        c.fix.read_only = vec![self.agents()];
        c.fix.gates = vec![toml::from_str("name = \"tests\"\ncommand = \"sh test.sh\"\ntimeout_seconds = 20").unwrap()];
        let web = c.projects.iter_mut().find(|p| p.key == "WEB").unwrap();
        let project =
            format!("enabled = true\nrepository = \"{}\"\nagent = \"{agent_command}\"", self.remote().display());
        web.fix = Some(toml::from_str(&project).unwrap());
    }

    /// A file of the default branch on the remote.
    pub fn on_main(&self, path: &str) -> String {
        let out =
            Command::new("git").arg("-C").arg(self.remote()).args(["show", &format!("main:{path}")]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}
