//! The board has one owner: outside the store (SQL) and the board service, no code creates,
//! moves, assigns, comments on, files or deletes tickets, or opens or decides approvals.
//! A new caller that reaches past the service fails here, naming the file and the line.

use std::path::{Path, PathBuf};

const CHANGES: &[&str] = &[
    ".create_ticket(",
    ".move_ticket(",
    ".assign_ticket(",
    ".add_comment(",
    ".set_epic(",
    ".delete_comment(",
    ".create_approval(",
    ".decide_approval(",
];

const OWNERS: &[&str] = &["src/store/", "src/service/"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_board_service_changes_the_board() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 50, "the sources were found");
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if OWNERS.iter().any(|owner| relative.starts_with(owner)) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            // `board.set_epic(` is the service itself; the store's methods are reached through a
            // store or a transaction.
            let reaches_past = |call: &&&str| line.match_indices(*call).any(|(at, _)| !line[..at].ends_with("board"));
            if let Some(call) = CHANGES.iter().find(reaches_past) {
                found.push(format!("{relative}:{}: {call}", n + 1));
            }
        }
    }
    assert!(found.is_empty(), "board changes outside the board service:\n{}", found.join("\n"));
}

/// Lines of the files under `dir` (relative to the crate) that contain `needle`.
fn uses(dir: &str, needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join(dir), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| l.contains(needle)) {
            found.push(format!("{}:{}: {}", file.strip_prefix(root).unwrap().display(), n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn workflows_do_not_import_the_job_registry_that_imports_them() {
    let found = uses("src/workflows", "crate::jobs");
    assert!(found.is_empty(), "workflows use crate::job_env, not crate::jobs:\n{}", found.join("\n"));
}

#[test]
fn the_language_model_client_knows_no_workflow() {
    let found = uses("src/llm", "crate::workflows");
    assert!(found.is_empty(), "the prompt and its parsing belong to the caller:\n{}", found.join("\n"));
}

#[test]
fn each_platform_lives_in_one_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for platform in ["slack", "discord"] {
        for stray in [format!("src/http/{platform}.rs"), format!("src/jobs/{platform}.rs")] {
            assert!(!root.join(&stray).exists(), "{stray} belongs in src/chat/{platform}/");
        }
        for part in ["http.rs", "jobs.rs", "render.rs", "inbound.rs", "client.rs"] {
            assert!(root.join(format!("src/chat/{platform}/{part}")).exists(), "src/chat/{platform}/{part}");
        }
    }
}

#[test]
fn readme_shows_the_permission_table_the_code_checks() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for (op, stranger, member, lead, pm) in pmbot::service::rules::TABLE {
        let row = format!("| {op} | {stranger} | {member} | {lead} | {pm} |");
        assert!(readme.contains(&row), "README.md lacks the row: {row}");
    }
}
