//! Codebase knowledge: what a repository is made of and how it is built and tested, read
//! from its files (pure: [`analyze`]), and which files a ticket is about ([`relevant`]).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Knowledge {
    /// The default branch's commit this was read from.
    pub head: String,
    /// Languages by file count, most first.
    pub languages: Vec<(String, usize)>,
    pub manifests: Vec<String>,
    pub build: Vec<String>,
    pub test: Vec<String>,
    pub lint: Vec<String>,
    pub format: Vec<String>,
    /// Workspace or monorepo packages.
    pub packages: Vec<String>,
    /// Where tests live (directories, or file patterns).
    pub test_layout: Vec<String>,
    /// Instruction files for agents and contributors.
    pub instructions: Vec<String>,
    /// The largest source files (path, bytes).
    pub largest: Vec<(String, u64)>,
    /// A model's short summary, when one is configured.
    pub summary: Option<String>,
}

fn language(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "rs" => "Rust",
        "py" => "Python",
        "js" | "mjs" | "cjs" | "jsx" => "JavaScript",
        "ts" | "tsx" => "TypeScript",
        "go" => "Go",
        "java" => "Java",
        "kt" => "Kotlin",
        "rb" => "Ruby",
        "php" => "PHP",
        "c" | "h" => "C",
        "cc" | "cpp" | "hpp" => "C++",
        "cs" => "C#",
        "swift" => "Swift",
        "sh" | "bash" => "Shell",
        "sql" => "SQL",
        "html" => "HTML",
        "css" | "scss" => "CSS",
        _ => return None,
    })
}

const INSTRUCTIONS: [&str; 4] = ["AGENTS.md", "CLAUDE.md", "CONTRIBUTING.md", ".github/copilot-instructions.md"];

/// Reads what a repository is from its files (`(path, bytes)`) and the contents `read`
/// returns for the few files that say how it is built (manifests).
pub fn analyze(head: &str, files: &[(String, u64)], read: impl Fn(&str) -> Option<String>) -> Knowledge {
    let mut k = Knowledge { head: head.to_string(), ..Knowledge::default() };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut test_dirs: Vec<String> = Vec::new();
    for (path, _) in files {
        if let Some(lang) = language(path) {
            *counts.entry(lang).or_default() += 1;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        if INSTRUCTIONS.contains(&path.as_str()) {
            k.instructions.push(path.clone());
        }
        let top = path.split('/').next().unwrap_or("");
        if matches!(top, "tests" | "test" | "spec" | "__tests__") && !test_dirs.contains(&format!("{top}/")) {
            test_dirs.push(format!("{top}/"));
        }
        if (name.contains("_test.") || name.contains(".test.") || name.starts_with("test_"))
            && !test_dirs.contains(&path.clone())
            && test_dirs.len() < 8
        {
            test_dirs.push(path.clone());
        }
        let manifest = matches!(
            name,
            "Cargo.toml"
                | "package.json"
                | "pyproject.toml"
                | "tox.ini"
                | "go.mod"
                | "Makefile"
                | "justfile"
                | "setup.py"
        );
        if manifest {
            k.manifests.push(path.clone());
            if path.contains('/') {
                if let Some((dir, _)) = path.rsplit_once('/') {
                    k.packages.push(dir.to_string());
                }
            }
        }
    }
    let mut languages: Vec<(String, usize)> = counts.into_iter().map(|(l, n)| (l.to_string(), n)).collect();
    languages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    k.languages = languages;
    k.test_layout = test_dirs;
    commands(&mut k, &read);
    let mut largest: Vec<(String, u64)> =
        files.iter().filter(|(p, _)| language(p).is_some()).map(|(p, n)| (p.clone(), *n)).collect();
    largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    largest.truncate(5);
    k.largest = largest;
    k
}

/// The build/test/lint/format commands the root manifests imply.
fn commands(k: &mut Knowledge, read: &impl Fn(&str) -> Option<String>) {
    let root: HashSet<&str> = k.manifests.iter().filter(|m| !m.contains('/')).map(String::as_str).collect();
    if root.contains("Cargo.toml") {
        k.build.push("cargo build".into());
        k.test.push("cargo test".into());
        k.lint.push("cargo clippy --all-targets -- -D warnings".into());
        k.format.push("cargo fmt --check".into());
        if let Some(text) = read("Cargo.toml") {
            if let Ok(value) = text.parse::<toml::Table>() {
                if let Some(members) = value.get("workspace").and_then(|w| w.get("members")).and_then(|m| m.as_array())
                {
                    k.packages.extend(members.iter().filter_map(|m| m.as_str().map(String::from)));
                }
            }
        }
    }
    if root.contains("package.json") {
        if let Some(scripts) = read("package.json")
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("scripts").cloned())
        {
            for (name, list) in
                [("build", &mut k.build), ("test", &mut k.test), ("lint", &mut k.lint), ("format", &mut k.format)]
            {
                if scripts.get(name).is_some() {
                    list.push(format!("npm run {name}"));
                }
            }
        }
    }
    if root.contains("pyproject.toml") || root.contains("setup.py") {
        k.test.push("pytest".into());
    }
    if root.contains("tox.ini") {
        k.test.push("tox".into());
    }
    if root.contains("go.mod") {
        k.build.push("go build ./...".into());
        k.test.push("go test ./...".into());
        k.lint.push("go vet ./...".into());
        k.format.push("gofmt -l .".into());
    }
    for (file, runner) in [("Makefile", "make"), ("justfile", "just")] {
        if let (true, Some(text)) = (root.contains(file), read(file)) {
            for line in text.lines() {
                let Some((target, _)) = line.split_once(':') else { continue };
                let target = target.trim();
                if line.starts_with([' ', '\t', '.', '#']) || target.contains(' ') || target.contains('=') {
                    continue;
                }
                let command = format!("{runner} {target}");
                match target {
                    "build" | "all" => k.build.push(command),
                    "test" | "check" => k.test.push(command),
                    "lint" => k.lint.push(command),
                    "fmt" | "format" => k.format.push(command),
                    _ => {}
                }
            }
        }
    }
    if k.test.is_empty() {
        if let Some(script) =
            ["test.sh", "scripts/test", "scripts/test.sh"].iter().find(|s| k.manifests.is_empty() && read(s).is_some())
        {
            k.test.push(format!("sh {script}"));
        }
    }
}

/// The files a ticket is about: its words (the matcher's terms) found in a file's path
/// (worth more) or contents, with their scores, best first. `content` returns a text
/// file's contents.
pub fn relevant(
    ticket_text: &str,
    files: &[String],
    content: impl Fn(&str) -> Option<String>,
    limit: usize,
) -> Vec<(String, usize)> {
    let wanted: HashSet<String> = crate::workflows::matching::terms(ticket_text).into_iter().collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &String)> = files
        .iter()
        .filter_map(|path| {
            let in_path = crate::workflows::matching::terms(&path.replace(['/', '.', '_', '-'], " "))
                .into_iter()
                .filter(|t| wanted.contains(t))
                .collect::<HashSet<_>>()
                .len();
            let in_text = content(path)
                .map(|text| {
                    crate::workflows::matching::terms(&text)
                        .into_iter()
                        .filter(|t| wanted.contains(t))
                        .collect::<HashSet<_>>()
                        .len()
                })
                .unwrap_or(0);
            let score = in_path * 3 + in_text;
            (score > 0).then_some((score, path))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(limit).map(|(score, p)| (p.clone(), score)).collect()
}

/// What `pmbot repo scan` prints.
pub fn describe(name: &str, k: &Knowledge) -> String {
    let list = |items: &[String]| if items.is_empty() { "—".to_string() } else { items.join(", ") };
    let languages: Vec<String> = k.languages.iter().map(|(l, n)| format!("{l} ({n})")).collect();
    let largest: Vec<String> = k.largest.iter().map(|(p, n)| format!("{p} ({n} B)")).collect();
    let mut out = format!(
        "{name} at {head}\n  languages:    {}\n  manifests:    {}\n  build:        {}\n  test:         {}\n  lint:         {}\n  format:       {}\n  packages:     {}\n  tests in:     {}\n  instructions: {}\n  largest:      {}\n",
        list(&languages),
        list(&k.manifests),
        list(&k.build),
        list(&k.test),
        list(&k.lint),
        list(&k.format),
        list(&k.packages),
        list(&k.test_layout),
        list(&k.instructions),
        list(&largest),
        head = &k.head.get(..12).unwrap_or(&k.head),
    );
    if let Some(summary) = &k.summary {
        out.push_str(&format!("  summary:      {summary}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(paths: &[(&str, u64)]) -> Vec<(String, u64)> {
        paths.iter().map(|(p, n)| (p.to_string(), *n)).collect()
    }

    #[test]
    fn reads_a_rust_workspace() {
        let tree = files(&[
            ("Cargo.toml", 100),
            ("crates/core/Cargo.toml", 50),
            ("crates/core/src/lib.rs", 9000),
            ("src/main.rs", 300),
            ("tests/api.rs", 800),
            ("AGENTS.md", 10),
            ("web/app.ts", 100),
        ]);
        let k =
            analyze("abc", &tree, |p| (p == "Cargo.toml").then(|| "[workspace]\nmembers = [\"crates/core\"]".into()));
        assert_eq!(k.languages[0], ("Rust".to_string(), 3));
        assert!(k.test.contains(&"cargo test".to_string()));
        assert!(k.packages.contains(&"crates/core".to_string()));
        assert_eq!(k.test_layout, ["tests/"]);
        assert_eq!(k.instructions, ["AGENTS.md"]);
        assert_eq!(k.largest[0].0, "crates/core/src/lib.rs");
    }

    #[test]
    fn reads_package_scripts_and_make_targets() {
        let tree = files(&[("package.json", 10), ("Makefile", 10), ("src/a.test.js", 5)]);
        let k = analyze("abc", &tree, |p| match p {
            "package.json" => Some(r#"{"scripts":{"test":"vitest","lint":"eslint ."}}"#.into()),
            "Makefile" => Some("build:\n\tcc x.c\n.PHONY: test\nVAR = 1\nfmt: deps\n".into()),
            _ => None,
        });
        assert_eq!(k.test, ["npm run test"]);
        assert_eq!(k.lint, ["npm run lint"]);
        assert_eq!(k.build, ["make build"]);
        assert_eq!(k.format, ["make fmt"]);
        assert_eq!(k.test_layout, ["src/a.test.js"]);
    }

    #[test]
    fn finds_the_files_a_ticket_is_about() {
        let tree = vec!["greet.sh".to_string(), "test.sh".to_string(), "README.md".to_string()];
        let found = relevant(
            "Greeting says Helo instead of Hello",
            &tree,
            |p| match p {
                "README.md" => Some("A tiny tool that says hello.".into()),
                _ => Some("echo hi".into()),
            },
            5,
        );
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["greet.sh", "README.md"]);
        assert!(relevant("the", &tree, |_| None, 5).is_empty());
    }
}
