//! The built-in coding agent: a tool-calling loop over the configured language model. Its
//! tools read the worktree, and write only the SPEC's files (new ones only where the SPEC
//! says); `run_check` runs the QA gates in the sandbox. A token budget bounds the run.

use super::sandbox::{Sandbox, Task};
use super::scope::{safe_path, Allowed};
use crate::config::GateConfig;
use crate::llm::{Call, Llm, Tool, Turn};
use crate::store::{Store, WorkspaceId};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAX_STEPS: usize = 40;
const MAX_READ: usize = 100_000;

const SYSTEM: &str = "You are a careful software engineer working in a git worktree. Implement the SPEC you are \
given, changing only the files it lists (create only those marked new). Read before you write; write whole files. \
Use run_check to run the project's checks. When done, answer with a one-paragraph summary and no tool call.";

pub fn tools() -> Vec<Tool> {
    let path = json!({ "type": "object", "properties": { "path": { "type": "string" } }, "required": ["path"] });
    vec![
        Tool {
            name: "list_files",
            description: "Lists the repository's files (optionally under a directory).",
            parameters: json!({ "type": "object", "properties": { "dir": { "type": "string" } } }),
        },
        Tool { name: "read_file", description: "Reads a file of the repository.", parameters: path },
        Tool {
            name: "search",
            description: "Finds lines containing a text (case-insensitive) in the repository.",
            parameters: json!({ "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"] }),
        },
        Tool {
            name: "write_file",
            description: "Writes a whole file. Only the SPEC's files may be written.",
            parameters: json!({ "type": "object", "properties": { "path": { "type": "string" }, "content": { "type": "string" } }, "required": ["path", "content"] }),
        },
        Tool {
            name: "run_check",
            description: "Runs the project's QA checks and returns how they ended.",
            parameters: json!({ "type": "object", "properties": {} }),
        },
    ]
}

/// What the loop needs besides the model.
pub struct Agent<'a> {
    pub llm: &'a Llm,
    pub store: &'a Store,
    pub workspace: &'a WorkspaceId,
    pub day: &'a str,
    pub worktree: &'a Path,
    pub allowed: &'a [Allowed],
    pub sandbox: &'a Sandbox,
    pub gates: &'a [GateConfig],
    pub logs: &'a Path,
    /// Tokens this run may still spend.
    pub budget: u64,
}

/// How the loop ended: its summary and the tokens it spent, or why it failed (with them).
pub type Ended = (Result<String, String>, u64);

impl Agent<'_> {
    pub async fn run<F, Fut>(&self, prompt: &str, stop: F) -> Ended
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let tools = tools();
        let mut conversation = vec![Turn::User(prompt.to_string())];
        let mut spent = 0u64;
        for _ in 0..MAX_STEPS {
            if stop().await {
                return (Err("stopped (the run was cancelled or paused)".into()), spent);
            }
            let turn = match self.llm.turn(self.store, self.workspace, self.day, SYSTEM, &conversation, &tools).await {
                Ok(turn) => turn,
                Err(err) => return (Err(format!("the model failed: {err}")), spent),
            };
            let Turn::Model { text, calls, tokens } = &turn else {
                return (Err("the model answered out of turn".into()), spent);
            };
            spent += tokens;
            if spent > self.budget {
                return (Err(format!("the run's token budget is spent ({spent} of {})", self.budget)), spent);
            }
            if calls.is_empty() {
                return (Ok(text.clone()), spent);
            }
            let mut results = Vec::new();
            for call in calls {
                results.push((call.id.clone(), self.tool(call, &stop).await));
            }
            conversation.push(turn.clone());
            conversation.push(Turn::Results(results));
        }
        (Err(format!("the agent did not finish within {MAX_STEPS} steps")), spent)
    }

    async fn tool<F, Fut>(&self, call: &Call, stop: &F) -> String
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let arg = |name: &str| call.input.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        let result = match call.name.as_str() {
            "list_files" => self.list(&arg("dir")),
            "read_file" => self.read(&arg("path")),
            "search" => self.search(&arg("text")),
            "write_file" => self.write(&arg("path"), &arg("content")),
            "run_check" => Ok(self.check(stop).await),
            other => Err(format!("there is no tool \"{other}\"")),
        };
        result.unwrap_or_else(|why| format!("refused: {why}"))
    }

    /// `path` inside the worktree, refusing anything that leaves it (`..`, absolute paths,
    /// git's files, or a symbolic link on the way).
    fn inside(&self, path: &str) -> Result<PathBuf, String> {
        let path = safe_path(path)?;
        let mut at = self.worktree.to_path_buf();
        for part in path.split('/') {
            at.push(part);
            if at.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(format!("{path} goes through a symbolic link"));
            }
        }
        Ok(at)
    }

    fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.worktree.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(kind) = entry.file_type() else { continue };
                let rel = path.strip_prefix(self.worktree).unwrap_or(&path).to_string_lossy().into_owned();
                if rel == ".git" || rel.starts_with(".git/") {
                    continue;
                }
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }

    fn list(&self, dir: &str) -> Result<String, String> {
        let dir = dir.trim().trim_end_matches('/');
        let files: Vec<String> = self
            .files()
            .into_iter()
            .filter(|f| dir.is_empty() || f.starts_with(&format!("{dir}/")))
            .take(500)
            .collect();
        Ok(files.join("\n"))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let at = self.inside(path)?;
        // Only regular files, and not huge ones: a pipe or a device would never end.
        let meta = at.symlink_metadata().map_err(|e| format!("{path}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{path} is not a regular file"));
        }
        if meta.len() > 4 * MAX_READ as u64 {
            return Err(format!("{path} is too large to read ({} bytes)", meta.len()));
        }
        let text = std::fs::read_to_string(&at).map_err(|e| format!("{path}: {e}"))?;
        Ok(text.chars().take(MAX_READ).collect())
    }

    fn search(&self, text: &str) -> Result<String, String> {
        let needle = text.trim().to_lowercase();
        if needle.is_empty() {
            return Err("say what to search for".into());
        }
        let mut hits = Vec::new();
        for file in self.files() {
            let path = self.worktree.join(&file);
            if path.metadata().map_or(true, |m| m.len() > 4 * MAX_READ as u64) {
                continue;
            }
            let Ok(content) = std::fs::read_to_string(path) else { continue };
            for (n, line) in content.lines().enumerate() {
                if line.to_lowercase().contains(&needle) {
                    hits.push(format!("{file}:{}: {}", n + 1, line.trim()));
                    if hits.len() >= 50 {
                        return Ok(hits.join("\n"));
                    }
                }
            }
        }
        Ok(if hits.is_empty() { "no match".into() } else { hits.join("\n") })
    }

    fn write(&self, path: &str, content: &str) -> Result<String, String> {
        let clean = safe_path(path)?;
        let Some(entry) = self.allowed.iter().find(|a| a.path == clean) else {
            return Err(format!("{clean} is not among the SPEC's files"));
        };
        let at = self.inside(&clean)?;
        if at.symlink_metadata().is_ok_and(|m| !m.is_file()) {
            return Err(format!("{clean} is not a regular file"));
        }
        if !entry.new && !at.exists() {
            return Err(format!("{clean} does not exist and the SPEC does not list it as new"));
        }
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&at, content).map_err(|e| format!("{clean}: {e}"))?;
        Ok(format!("wrote {clean} ({} bytes)", content.len()))
    }

    /// The gates, in the sandbox; stopped like the agent when the run is cancelled or paused.
    async fn check<F, Fut>(&self, stop: &F) -> String
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut out = Vec::new();
        for (i, gate) in self.gates.iter().enumerate() {
            let limit = Duration::from_secs(gate.timeout_seconds);
            let task = Task {
                command: &gate.command,
                worktree: self.worktree,
                input: None,
                log: &self.logs.join(format!("agent-check-{i}.log")),
                timeout: limit,
                network: false,
            };
            match self.sandbox.run(&task, stop).await {
                Ok(ran) => out.push(format!("{} {}\n{}", gate.name, ran.describe(limit), ran.tail)),
                Err(err) => out.push(format!("{}: {err}", gate.name)),
            }
        }
        if out.is_empty() {
            "no checks are configured".into()
        } else {
            out.join("\n\n")
        }
    }
}
