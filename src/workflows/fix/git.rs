//! Git, by its command line: pmbot's clone of a repository, a worktree per run, what changed,
//! the commit, the push, and the local forge's merge.
//!
//! Every command runs with hooks, fsmonitor, signing and the user's and system's git
//! configuration off, and commands on a run's worktree name its git directory outright
//! (never reading the `.git` file the agent could rewrite), so nothing the agent wrote can
//! run outside the sandbox through git.

use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, thiserror::Error)]
#[error("git {args}: {why}")]
pub struct GitError {
    pub args: String,
    pub why: String,
}

const SAFE: [&str; 12] = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.sshCommand=ssh",
    "-c",
    "user.name=pmbot",
    "-c",
    "user.email=pmbot@localhost",
];

fn command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .args(SAFE)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(Stdio::null());
    command
}

/// Runs git in `dir` (pmbot's own clone or scratch space) with `args`; its stdout.
pub async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let mut command = command();
    command.arg("-C").arg(dir);
    run(command, args).await
}

/// Runs git on a run's worktree at `path`, naming its git directory in the clone outright.
pub async fn git_in(clone: &Path, path: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let admin = admin_dir(clone, path)?;
    let mut command = command();
    command.arg("-C").arg(path).arg("--git-dir").arg(&admin).arg("--work-tree").arg(path);
    run(command, args).await
}

/// The clone's record of the worktree at `path`; an error when there is none.
fn admin_dir(clone: &Path, path: &Path) -> Result<PathBuf, GitError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let admin = clone.join(".git").join("worktrees").join(&name);
    if admin.join("HEAD").is_file() {
        Ok(admin)
    } else {
        Err(GitError {
            args: "worktree".into(),
            why: format!("{} has no worktree record in the clone", path.display()),
        })
    }
}

async fn run(mut command: tokio::process::Command, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = command.args(args).output().await.map_err(|e| GitError { args: args.join(" "), why: e.to_string() })?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(GitError {
            args: args.join(" "),
            why: if why.is_empty() { format!("exited with {}", out.status) } else { why },
        })
    }
}

async fn text(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    Ok(String::from_utf8_lossy(&git(dir, args).await?).trim().to_string())
}

async fn text_in(clone: &Path, path: &Path, args: &[&str]) -> Result<String, GitError> {
    Ok(String::from_utf8_lossy(&git_in(clone, path, args).await?).trim().to_string())
}

/// Credentials for a repository over HTTPS: a header git sends to that URL only. It is
/// handed to the one git command in its environment (`GIT_CONFIG_*`), so it is never in a
/// file, on a command line or in git's output.
pub struct RemoteAuth {
    pub url: String,
    pub header: String,
}

impl std::fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteAuth {{ url: {:?}, header: … }}", self.url)
    }
}

fn authorize(command: &mut tokio::process::Command, auth: Option<&RemoteAuth>) {
    if let Some(auth) = auth {
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", format!("http.{}.extraHeader", auth.url))
            .env("GIT_CONFIG_VALUE_0", &auth.header);
    }
}

/// pmbot's clone of `repository` at `clone`, fetched; the default branch's commit.
pub async fn refresh_clone(
    repository: &str,
    clone: &Path,
    branch: &str,
    auth: Option<&RemoteAuth>,
) -> Result<String, GitError> {
    let mut command = command();
    authorize(&mut command, auth);
    if !clone.join(".git").exists() {
        if let Some(parent) = clone.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GitError { args: "clone".into(), why: e.to_string() })?;
        }
        let target = clone.to_string_lossy().into_owned();
        command.arg("-C").arg(clone.parent().unwrap_or(Path::new(".")));
        run(command, &["clone", "--quiet", "--no-checkout", repository, &target]).await?;
    } else {
        command.arg("-C").arg(clone);
        run(command, &["fetch", "--quiet", "--prune", "origin"]).await?;
    }
    text(clone, &["rev-parse", &format!("refs/remotes/origin/{branch}")]).await
}

/// Every file at `rev`, with its size.
pub async fn tree(clone: &Path, rev: &str) -> Result<Vec<(String, u64)>, GitError> {
    let out = git(clone, &["ls-tree", "-r", "-l", "-z", rev]).await?;
    Ok(String::from_utf8_lossy(&out)
        .split('\0')
        .filter_map(|entry| {
            let (meta, path) = entry.split_once('\t')?;
            let size = meta.split_whitespace().nth(3)?.parse().ok()?;
            Some((path.to_string(), size))
        })
        .collect())
}

/// The text files among `paths` at `rev` (up to 200 kB each), read by one `git cat-file
/// --batch` rather than a process per file.
pub async fn contents(
    clone: &Path,
    rev: &str,
    paths: &[String],
) -> Result<std::collections::HashMap<String, String>, GitError> {
    use tokio::io::AsyncWriteExt;
    let err = |why: String| GitError { args: "cat-file --batch".into(), why };
    let paths: Vec<&String> = paths.iter().filter(|p| !p.contains('\n')).collect();
    let mut child = command()
        .arg("-C")
        .arg(clone)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| err(e.to_string()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| err("no stdin".into()))?;
    let request: String = paths.iter().map(|p| format!("{rev}:{p}\n")).collect();
    // Written from a task while the output is read, so neither pipe fills up and blocks.
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(request.as_bytes()).await;
    });
    let output = child.wait_with_output().await.map_err(|e| err(e.to_string()))?;
    let _ = writer.await;
    let bytes = output.stdout;
    let mut out = std::collections::HashMap::new();
    let mut at = 0;
    for path in paths {
        let Some(end) = bytes[at..].iter().position(|b| *b == b'\n').map(|i| at + i) else { break };
        let header = String::from_utf8_lossy(&bytes[at..end]).into_owned();
        at = end + 1;
        let size: usize = match header.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "blob", size] => size.parse().unwrap_or(0),
            _ => continue, // missing, or not a file
        };
        let body = &bytes[at..(at + size).min(bytes.len())];
        at = (at + size + 1).min(bytes.len());
        if size <= 200_000 && !body.contains(&0) {
            out.insert(path.to_string(), String::from_utf8_lossy(body).into_owned());
        }
    }
    Ok(out)
}

/// The latest commits touching `paths` (`abc1234 subject`).
pub async fn recent_commits(clone: &Path, rev: &str, paths: &[String]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let mut args = vec!["log", "-n", "5", "--format=%h %s", rev, "--"];
    args.extend(paths.iter().map(String::as_str));
    text(clone, &args).await.map(|t| t.lines().map(String::from).collect()).unwrap_or_default()
}

/// A worktree at `path` on `branch`, reset to `base` with nothing else in it. The folder's
/// name must be unique among the clone's worktrees (it names the clone's record of it).
pub async fn fresh_worktree(clone: &Path, path: &Path, branch: &str, base: &str) -> Result<(), GitError> {
    let target = path.to_string_lossy().into_owned();
    if admin_dir(clone, path).is_err() {
        let _ = std::fs::remove_dir_all(path);
        let _ = git(clone, &["worktree", "prune"]).await;
        git(clone, &["worktree", "add", "--quiet", "-f", "-B", branch, &target, base]).await?;
    }
    reset(clone, path, branch, base).await
}

/// Puts the worktree back to `base` on `branch`: what an agent left is gone, and the
/// worktree's `.git` pointer is rewritten (an agent may have pointed it elsewhere).
pub async fn reset(clone: &Path, path: &Path, branch: &str, base: &str) -> Result<(), GitError> {
    restore_pointer(clone, path)?;
    git_in(clone, path, &["checkout", "--quiet", "-f", "-B", branch, base]).await?;
    git_in(clone, path, &["reset", "--quiet", "--hard", base]).await?;
    git_in(clone, path, &["clean", "-q", "-f", "-f", "-d", "-x"]).await?;
    Ok(())
}

/// Rewrites `<worktree>/.git` to point at the clone's record of this worktree, whatever the
/// agent left there (a file, a folder, a link, a pipe), for the agent's own git commands.
pub fn restore_pointer(clone: &Path, path: &Path) -> Result<(), GitError> {
    let admin = admin_dir(clone, path)?;
    let pointer = path.join(".git");
    if let Ok(meta) = pointer.symlink_metadata() {
        let removed = if meta.is_dir() { std::fs::remove_dir_all(&pointer) } else { std::fs::remove_file(&pointer) };
        removed.map_err(|e| GitError { args: "worktree pointer".into(), why: e.to_string() })?;
    }
    std::fs::write(&pointer, format!("gitdir: {}\n", admin.display()))
        .map_err(|e| GitError { args: "worktree pointer".into(), why: e.to_string() })
}

/// Stages everything and returns `git diff --raw -z -M` against `base`. Files git ignores
/// are removed first: the agent may not hide anything from the scope lock (the worktree
/// started with none).
pub async fn staged_changes(clone: &Path, path: &Path, base: &str) -> Result<Vec<u8>, GitError> {
    restore_pointer(clone, path)?;
    git_in(clone, path, &["add", "-A", "."]).await?;
    git_in(clone, path, &["clean", "-q", "-f", "-f", "-d", "-X"]).await?;
    git_in(clone, path, &["diff", "--cached", "--raw", "-z", "-M", base]).await
}

/// Undoes the changes to `paths` (back to `base`, or gone when new).
pub async fn discard(clone: &Path, path: &Path, base: &str, paths: &[String]) -> Result<(), GitError> {
    for p in paths {
        if git_in(clone, path, &["cat-file", "-e", &format!("{base}:{p}")]).await.is_ok() {
            git_in(clone, path, &["checkout", base, "--", p]).await?;
        } else {
            git_in(clone, path, &["rm", "-r", "-q", "-f", "--cached", "--ignore-unmatch", "--", p]).await?;
            let full = path.join(p);
            let _ = std::fs::remove_file(&full).or_else(|_| std::fs::remove_dir_all(&full));
        }
    }
    Ok(())
}

/// Stages the undoing of merge `sha` (against its first parent), without committing.
pub async fn revert(clone: &Path, path: &Path, sha: &str, auth: Option<&RemoteAuth>) -> Result<(), GitError> {
    let mut fetch = command();
    authorize(&mut fetch, auth);
    fetch.arg("-C").arg(clone);
    run(fetch, &["fetch", "--quiet", "origin"]).await?;
    // A merge commit (the local forge's) is reverted against its first parent; a squashed
    // one (GitHub's default) is an ordinary commit.
    let parents = text(clone, &["rev-list", "--parents", "-n", "1", sha]).await?;
    if parents.split_whitespace().count() > 2 {
        git_in(clone, path, &["revert", "--no-commit", "-m", "1", sha]).await.map(|_| ())
    } else {
        git_in(clone, path, &["revert", "--no-commit", sha]).await.map(|_| ())
    }
}

pub async fn diff_stat(clone: &Path, path: &Path, base: &str) -> Result<String, GitError> {
    text_in(clone, path, &["diff", "--cached", "--stat", base]).await
}

/// Commits what is staged; the commit. Run again after it committed (a crash before the
/// push), it finds HEAD past `base` with nothing staged and answers HEAD.
pub async fn commit(clone: &Path, path: &Path, base: &str, message: &str) -> Result<String, GitError> {
    let head = text_in(clone, path, &["rev-parse", "HEAD"]).await?;
    let staged = git_in(clone, path, &["diff", "--cached", "--quiet", "HEAD"]).await.is_err();
    if head != base && !staged {
        return Ok(head);
    }
    git_in(clone, path, &["commit", "--quiet", "--no-verify", "-m", message]).await?;
    text_in(clone, path, &["rev-parse", "HEAD"]).await
}

/// Pushes the worktree's HEAD to `branch` on the repository (replacing an earlier try).
pub async fn push(clone: &Path, path: &Path, branch: &str, auth: Option<&RemoteAuth>) -> Result<(), GitError> {
    let admin = admin_dir(clone, path)?;
    let mut command = command();
    authorize(&mut command, auth);
    command.arg("-C").arg(path).arg("--git-dir").arg(&admin).arg("--work-tree").arg(path);
    run(command, &["push", "--quiet", "--force", "origin", &format!("HEAD:refs/heads/{branch}")]).await.map(|_| ())
}

/// The local forge's merge: the approved commit `head` of `branch` merged into `default` on
/// the repository, the branch deleted there; the merge commit. The branch must still be at
/// `head` (nothing pushed after the approval is merged). Run again after it merged, it
/// finds `head` in `default` and answers `default`'s commit.
pub async fn merge(
    clone: &Path,
    scratch: &Path,
    branch: &str,
    head: &str,
    default: &str,
    message: &str,
) -> Result<String, GitError> {
    git(clone, &["fetch", "--quiet", "--prune", "origin"]).await?;
    let upstream = format!("refs/remotes/origin/{default}");
    if git(clone, &["merge-base", "--is-ancestor", head, &upstream]).await.is_ok() {
        return text(clone, &["rev-parse", &upstream]).await;
    }
    let tip = text(clone, &["rev-parse", &format!("refs/remotes/origin/{branch}")]).await.unwrap_or_default();
    if tip != head {
        return Err(GitError {
            args: "merge".into(),
            why: format!("{branch} moved since it was approved (it was {head}, it is now {tip}); nothing was merged"),
        });
    }
    let target = scratch.to_string_lossy().into_owned();
    if scratch.exists() {
        let _ = git(clone, &["worktree", "remove", "--force", &target]).await;
        let _ = std::fs::remove_dir_all(scratch);
    }
    git(clone, &["worktree", "add", "--quiet", "--detach", &target, &upstream]).await?;
    let merged = async {
        git(scratch, &["merge", "--quiet", "--no-ff", "-m", message, head]).await?;
        git(scratch, &["push", "--quiet", "origin", &format!("HEAD:refs/heads/{default}")]).await?;
        text(scratch, &["rev-parse", "HEAD"]).await
    }
    .await;
    let _ = git(clone, &["worktree", "remove", "--force", &target]).await;
    let sha = merged?;
    let _ = git(clone, &["push", "--quiet", "origin", "--delete", branch]).await;
    Ok(sha)
}

/// A checkout of exactly `sha` at `path` (no branch), for a deploy; replaces what was there.
pub async fn detached_worktree(clone: &Path, path: &Path, sha: &str) -> Result<(), GitError> {
    let target = path.to_string_lossy().into_owned();
    let _ = git(clone, &["worktree", "remove", "--force", &target]).await;
    let _ = std::fs::remove_dir_all(path);
    let _ = git(clone, &["worktree", "prune"]).await;
    git(clone, &["worktree", "add", "--quiet", "--detach", "-f", &target, sha]).await.map(|_| ())
}

/// Removes a run's worktree (and pmbot's local branch for it).
pub async fn remove_worktree(clone: &Path, path: &Path, branch: &str) {
    let target = path.to_string_lossy().into_owned();
    let _ = git(clone, &["worktree", "remove", "--force", &target]).await;
    let _ = std::fs::remove_dir_all(path);
    let _ = git(clone, &["worktree", "prune"]).await;
    let _ = git(clone, &["branch", "-q", "-D", branch]).await;
}
