//! Running other people's code (a coding agent, a QA gate) in a sandbox: bubblewrap with the
//! system directories read-only, the worktree the only writable place, a private /tmp, its
//! own PID namespace, no network unless asked, an environment built from an allowlist, and
//! limits on wall-clock time, address space, CPU time and processes. At the end (or when the
//! run is cancelled or paused) the whole process group is killed.

use crate::config::SandboxKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Where things are inside the sandbox.
pub const WORKTREE: &str = "/tmp/pmbot/worktree";
pub const INPUT: &str = "/tmp/pmbot/input";
const HOME: &str = "/tmp/pmbot/home";

/// Read-only system directories the sandbox sees (when they exist); nothing else of the
/// host, so pmbot's database, configuration and home stay out of reach.
const SYSTEM: [&str; 8] = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt"];

/// Host files that hold secrets, masked inside the sandbox.
const HIDDEN: [&str; 6] =
    ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/ssh", "/etc/ssl/private"];

#[derive(Debug, Clone)]
pub struct Sandbox {
    pub kind: SandboxKind,
    pub memory_mb: u64,
    pub max_processes: u32,
    /// `(name, value)` passed in; nothing else of pmbot's environment is.
    pub env: Vec<(String, String)>,
    /// More read-only paths (a toolchain outside /usr).
    pub read_only: Vec<PathBuf>,
}

/// One thing to run.
#[derive(Debug, Clone)]
pub struct Task<'a> {
    /// A shell command line, run in the worktree.
    pub command: &'a str,
    pub worktree: &'a Path,
    /// Read-only files for the task (the prompt, SPEC.md), seen at [`INPUT`].
    pub input: Option<&'a Path>,
    /// Where its output (stdout and stderr) is written.
    pub log: &'a Path,
    pub timeout: Duration,
    pub network: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Exited(i32),
    /// Killed by a signal (memory, CPU time) or exited without a code.
    Killed,
    TimedOut,
    /// Stopped because the run was cancelled or paused.
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Ran {
    pub ended: Ended,
    pub seconds: f64,
    /// The output's last lines.
    pub tail: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// "exited with 2", "ran past its 30 s", …
    pub fn describe(&self, limit: Duration) -> String {
        match self.ended {
            Ended::Exited(0) => "succeeded".into(),
            Ended::Exited(code) => format!("exited with {code}"),
            Ended::Killed => "was killed (out of memory, CPU time or processes)".into(),
            Ended::TimedOut => format!("ran past its {} limit and was stopped", human(limit)),
            Ended::Stopped => "was stopped (the run was cancelled or paused)".into(),
        }
    }
}

fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 120 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("bubblewrap (bwrap) is not installed, and [fix] sandbox = \"none\" is not set: pmbot runs no agent or gate outside a sandbox (apt-get install -y bubblewrap)")]
    NoBwrap,
    #[error("cannot run {what}: {source}")]
    Io { what: String, source: std::io::Error },
}

/// Whether `bwrap` is installed and can make a sandbox here (`pmbot config check`).
pub async fn bwrap_works() -> Result<(), String> {
    let out = tokio::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--die-with-parent", "--", "/bin/true"])
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("bwrap cannot be started: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("bwrap cannot make a sandbox here: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn bwrap_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("bwrap").is_file()))
}

impl Sandbox {
    /// The limits as shell `ulimit` lines, run inside before the task.
    fn limits(&self, timeout: Duration, processes: bool) -> String {
        let mut out = format!("ulimit -v {}; ulimit -t {};", self.memory_mb * 1024, timeout.as_secs().max(1) * 2);
        if processes {
            out.push_str(&format!(" ulimit -p {};", self.max_processes));
        }
        out
    }

    fn bwrap_args(&self, task: &Task<'_>) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let mut push = |parts: &[&str]| args.extend(parts.iter().map(|s| s.to_string()));
        for dir in SYSTEM.iter().filter(|d| Path::new(d).exists()) {
            push(&["--ro-bind", dir, dir]);
        }
        // The host's secrets under /etc stay hidden even from a user mapped to its owner.
        for secret in HIDDEN.iter().filter(|p| Path::new(p).exists()) {
            if Path::new(secret).is_dir() {
                push(&["--tmpfs", secret]);
            } else {
                push(&["--ro-bind", "/dev/null", secret]);
            }
        }
        push(&["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", HOME]);
        // After /tmp's tmpfs, so a path under /tmp can be shown too.
        for path in self.read_only.iter().filter(|p| p.exists()) {
            let path = path.to_string_lossy();
            push(&["--ro-bind", &path, &path]);
        }
        push(&["--bind", &task.worktree.to_string_lossy(), WORKTREE]);
        if let Some(input) = task.input {
            push(&["--ro-bind", &input.to_string_lossy(), INPUT]);
        }
        push(&["--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000"]);
        if task.network {
            push(&["--share-net"]);
        }
        push(&["--die-with-parent", "--new-session", "--chdir", WORKTREE, "--clearenv"]);
        push(&["--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
        push(&["--setenv", "HOME", HOME, "--setenv", "TMPDIR", "/tmp"]);
        for (name, value) in &self.env {
            push(&["--setenv", name, value]);
        }
        args
    }

    /// Runs `task`; `stop` is asked every second whether to stop early (the run was
    /// cancelled or paused). Whatever happens, nothing of it is left running.
    pub async fn run<F, Fut>(&self, task: &Task<'_>, stop: F) -> Result<Ran, SandboxError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| SandboxError::Io { what, source }
        };
        let log = std::fs::File::create(task.log).map_err(io("the task's log"))?;
        let err_log = log.try_clone().map_err(io("the task's log"))?;
        let root = is_root();
        let pids = if root { PidsLimit::create(self.max_processes) } else { None };
        if root && pids.is_none() {
            tracing::warn!("running as root without a pids cgroup: the sandbox's process limit does not bind");
        }
        // A non-root user's process limit counts their own processes; as root it would not
        // bind, so root runs get a pids cgroup where the host offers one.
        let inner = format!("{} exec /bin/sh -c \"$0\"", self.limits(task.timeout, !root));
        let mut argv: Vec<String> = Vec::new();
        if let Some(limit) = &pids {
            argv.extend(["/bin/sh".into(), "-c".into(), "echo $$ > \"$0\" && exec \"$@\"".into()]);
            argv.push(limit.procs_file());
        }
        let mut command = match self.kind {
            SandboxKind::Bwrap => {
                if !bwrap_installed() {
                    return Err(SandboxError::NoBwrap);
                }
                argv.push("bwrap".into());
                argv.extend(self.bwrap_args(task));
                argv.extend(["--".into(), "/bin/sh".into(), "-c".into(), inner, task.command.into()]);
                let mut command = tokio::process::Command::new(&argv[0]);
                command.args(&argv[1..]);
                command
            }
            SandboxKind::None => {
                argv.extend(["/bin/sh".into(), "-c".into(), inner, task.command.into()]);
                let mut command = tokio::process::Command::new(&argv[0]);
                command.args(&argv[1..]).current_dir(task.worktree).env_clear();
                command.env("PATH", std::env::var("PATH").unwrap_or_default()).env("HOME", task.worktree);
                for (name, value) in &self.env {
                    command.env(name, value);
                }
                command
            }
        };
        command.stdin(Stdio::null()).stdout(log).stderr(err_log).process_group(0).kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().map_err(io("the sandbox"))?;
        let group = child.id();
        let deadline = tokio::time::sleep(task.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let ended = loop {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map_err(io("the sandbox"))?;
                    break status.code().map_or(Ended::Killed, Ended::Exited);
                }
                _ = &mut deadline => break Ended::TimedOut,
                _ = tick.tick() => if stop().await { break Ended::Stopped },
            }
        };
        kill_group(group).await;
        let _ = child.wait().await;
        if let Some(limit) = pids {
            limit.remove().await;
        }
        Ok(Ran { ended, seconds: started.elapsed().as_secs_f64(), tail: tail(task.log, 40) })
    }
}

/// Kills the process group `group` leads (the sandbox and all it started).
async fn kill_group(group: Option<u32>) {
    if let Some(pid) = group {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

fn is_root() -> bool {
    // /proc/self is owned by the process's effective user.
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A pids cgroup (v2, or v1's pids hierarchy) capping how many processes a task may have.
struct PidsLimit {
    dir: PathBuf,
}

impl PidsLimit {
    fn create(max: u32) -> Option<PidsLimit> {
        let name = format!("pmbot-{}-{}", std::process::id(), rand_suffix());
        for base in ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"] {
            let dir = Path::new(base).join(&name);
            if std::fs::create_dir(&dir).is_ok() {
                if std::fs::write(dir.join("pids.max"), max.to_string()).is_ok() {
                    return Some(PidsLimit { dir });
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
        None
    }

    fn procs_file(&self) -> String {
        self.dir.join("cgroup.procs").to_string_lossy().into_owned()
    }

    async fn remove(self) {
        // The group empties once its killed processes are reaped.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// The last `lines` lines of a log, at most 4 KiB of them.
pub fn tail(path: &Path, lines: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(4096);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
