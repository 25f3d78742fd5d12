//! The scope lock: what the agent changed, read from `git diff --raw -z`, checked against
//! the SPEC's approved allowlist. Pure.

use serde::{Deserialize, Serialize};

/// One entry of the allowlist: a file the SPEC lets the agent change, or create (`new`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    pub path: String,
    #[serde(default)]
    pub new: bool,
}

/// One change, as git reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// A (added), M (modified), D (deleted), R (renamed), C (copied), T (type changed).
    pub status: char,
    pub old_mode: String,
    pub new_mode: String,
    pub path: String,
    /// The source of a rename or copy.
    pub from: Option<String>,
}

const SYMLINK: &str = "120000";
const GITLINK: &str = "160000";

/// Parses `git diff --raw -z [-M]` output. Unreadable input is an error, never a guess.
pub fn parse_raw(raw: &[u8]) -> Result<Vec<Change>, String> {
    let text = String::from_utf8_lossy(raw);
    let mut fields = text.split('\0').filter(|f| !f.is_empty());
    let mut out = Vec::new();
    while let Some(meta) = fields.next() {
        let meta = meta.trim_start_matches(':');
        let parts: Vec<&str> = meta.split_whitespace().collect();
        let [old_mode, new_mode, _, _, status] = parts[..] else {
            return Err(format!("unexpected diff line {meta:?}"));
        };
        let kind = status.chars().next().ok_or("empty status")?;
        let first = fields.next().ok_or("a diff line without its path")?.to_string();
        let (path, from) = if matches!(kind, 'R' | 'C') {
            (fields.next().ok_or("a rename without its new path")?.to_string(), Some(first))
        } else {
            (first, None)
        };
        out.push(Change { status: kind, old_mode: old_mode.into(), new_mode: new_mode.into(), path, from });
    }
    Ok(out)
}

/// A change the allowlist does not cover, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub path: String,
    pub why: String,
}

/// Every change outside the allowlist. Symlinks and submodules are never in scope (they can
/// point outside the repository); a new file must be listed as new; a deletion or rename
/// must name every path it touches.
pub fn check(changes: &[Change], allowed: &[Allowed]) -> Vec<Violation> {
    let listed = |path: &str| allowed.iter().find(|a| a.path == path);
    let mut out = Vec::new();
    let mut flag = |path: &str, why: String| out.push(Violation { path: path.to_string(), why });
    for change in changes {
        if change.new_mode == SYMLINK {
            flag(&change.path, "a symbolic link; links are never allowed".into());
            continue;
        }
        if change.new_mode == GITLINK || change.old_mode == GITLINK {
            flag(&change.path, "a submodule; submodules are never allowed".into());
            continue;
        }
        if let Some(from) = &change.from {
            if change.status == 'R' && listed(from).is_none() {
                flag(from, "renamed away, but not in the approved files".into());
            }
        }
        match (change.status, listed(&change.path)) {
            (_, None) => {
                let what = match change.status {
                    'A' | 'C' => "created",
                    'D' => "deleted",
                    'R' => "renamed into",
                    _ => "changed",
                };
                flag(&change.path, format!("{what}, but not in the approved files"));
            }
            ('A' | 'C' | 'R', Some(entry)) if !entry.new => {
                flag(&change.path, "created, but the SPEC does not list it as a new file".into())
            }
            _ => {}
        }
    }
    out
}

/// The changed paths that match any of `globs` (the critical paths).
pub fn critical(changes: &[Change], globs: &[String]) -> Vec<String> {
    let patterns: Vec<glob::Pattern> = globs.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect();
    let mut out: Vec<String> = changes
        .iter()
        .flat_map(|c| std::iter::once(&c.path).chain(c.from.as_ref()))
        .filter(|p| patterns.iter().any(|pat| pat.matches(p)))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A path from a SPEC, a model or a person, checked to stay inside the repository.
pub fn safe_path(path: &str) -> Result<String, String> {
    let trimmed = path.trim().trim_start_matches("./");
    if trimmed.is_empty() {
        return Err("an empty path".into());
    }
    if trimmed.starts_with('/') || trimmed.contains('\\') || trimmed.contains('\0') {
        return Err(format!("{trimmed}: only paths inside the repository, relative to its root"));
    }
    if trimmed.split('/').any(|part| part == ".." || part == "." || part.is_empty()) {
        return Err(format!("{trimmed}: no '..', '.' or empty parts"));
    }
    if trimmed == ".git" || trimmed.starts_with(".git/") {
        return Err(format!("{trimmed}: git's own files are not for the agent"));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[(&str, bool)]) -> Vec<Allowed> {
        entries.iter().map(|(p, new)| Allowed { path: p.to_string(), new: *new }).collect()
    }

    fn raw(lines: &[&str]) -> Vec<u8> {
        lines.join("\0").into_bytes()
    }

    #[test]
    fn parses_every_kind_of_change() {
        let out = parse_raw(&raw(&[
            ":100644 100644 aaa bbb M",
            "src/a.rs",
            ":000000 100644 000 ccc A",
            "src/new.rs",
            ":100644 000000 ddd 000 D",
            "tests/a_test.rs",
            ":100644 100644 eee eee R100",
            "src/old.rs",
            "src/renamed.rs",
            ":100644 100755 fff fff M",
            "run.sh",
            "",
        ]))
        .unwrap();
        assert_eq!(out.len(), 5);
        assert_eq!(out[3].from.as_deref(), Some("src/old.rs"));
        assert_eq!(out[3].path, "src/renamed.rs");
        assert_eq!(out[4].new_mode, "100755");
        assert!(parse_raw(b":100644 M\0x").is_err());
    }

    #[test]
    fn in_scope_changes_pass() {
        let changes =
            parse_raw(&raw(&[":100644 100644 a b M", "src/a.rs", ":000000 100644 0 c A", "src/new.rs"])).unwrap();
        assert!(check(&changes, &allowed(&[("src/a.rs", false), ("src/new.rs", true)])).is_empty());
    }

    #[test]
    fn everything_outside_is_named() {
        let changes = parse_raw(&raw(&[
            ":100644 100644 a b M",
            "src/a.rs",
            ":100644 000000 d 0 D",
            "tests/a_test.rs",
            ":000000 100644 0 c A",
            "src/new.rs",
            ":000000 120000 0 c A",
            "src/a_link",
            ":100644 100644 e e R100",
            "src/old.rs",
            "src/a.rs2",
        ]))
        .unwrap();
        let out = check(&changes, &allowed(&[("src/a.rs", false), ("src/new.rs", false), ("src/a_link", true)]));
        let paths: Vec<&str> = out.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["tests/a_test.rs", "src/new.rs", "src/a_link", "src/old.rs", "src/a.rs2"], "{out:?}");
        assert!(out[0].why.starts_with("deleted"));
        assert!(out[1].why.contains("not list it as a new file"));
        assert!(out[2].why.contains("symbolic link"));
    }

    #[test]
    fn critical_paths_are_globs() {
        let changes =
            parse_raw(&raw(&[":100644 100644 a b M", "migrations/001.sql", ":100644 100644 a b M", "src/a.rs"]))
                .unwrap();
        assert_eq!(critical(&changes, &["migrations/**".into(), "*.lock".into()]), ["migrations/001.sql"]);
    }

    #[test]
    fn paths_stay_inside() {
        assert_eq!(safe_path("./src/a.rs"), Ok("src/a.rs".into()));
        for bad in ["/etc/passwd", "../x", "src/../../x", ".git/config", "", "a//b"] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
    }
}
