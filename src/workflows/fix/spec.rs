//! SPEC.md: what the agent is to do and the only files it may touch. Written from the
//! ticket and the codebase context (a skeleton a PM completes), revised with a reviewer's
//! words, checked against the repository's tree, rendered as Markdown. Pure.

use super::scope::{safe_path, Allowed};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Spec {
    pub title: String,
    pub problem: String,
    /// The allowlist: files to modify, and new files allowed.
    pub files: Vec<Allowed>,
    pub plan: Vec<String>,
    pub testing: String,
    pub checklist: Vec<String>,
    /// What reviewers asked for, round by round.
    #[serde(default)]
    pub revisions: Vec<String>,
}

/// What planning knows about the repository for this ticket.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Context {
    /// Files whose path or content shares the ticket's words, with how much, best first.
    pub relevant: Vec<(String, usize)>,
    /// The repository's test command, when its manifests say.
    pub test_command: Option<String>,
    /// Recent commits touching the relevant files (`abc1234 subject`).
    pub commits: Vec<String>,
}

/// The skeleton: the ticket's words as the problem, the most relevant files as the
/// allowlist, and a plan a reviewer completes with "Request changes…".
pub fn skeleton(key: &str, title: &str, description: &str, context: &Context) -> Spec {
    // The files most about the ticket, but never its tests or docs: changing those is for a
    // reviewer to allow.
    let best = context.relevant.first().map_or(0, |(_, score)| *score);
    let files: Vec<Allowed> = context
        .relevant
        .iter()
        .filter(|(path, score)| *score * 2 >= best && !is_test_or_doc(path))
        .take(3)
        .map(|(path, _)| Allowed { path: path.clone(), new: false })
        .collect();
    let description = description.trim();
    let description = description.strip_prefix(title).map_or(description, str::trim);
    let problem = if description.is_empty() { title.to_string() } else { format!("{title}\n\n{description}") };
    let mut plan = vec![format!("Change {} so that {key} is fixed: {title}.", names(&files))];
    if files.is_empty() {
        plan = vec![format!(
            "No file of the repository mentions the ticket's words; a reviewer names the files with \
             \"Request changes…\" (a line `files: path/a, path/b (new)`)."
        )];
    }
    let testing = match &context.test_command {
        Some(command) => format!("Run the repository's tests (`{command}`) and the configured QA gates."),
        None => "Run the configured QA gates.".into(),
    };
    Spec {
        title: format!("{key}: {title}"),
        problem,
        files,
        plan,
        testing,
        checklist: vec![
            "Only the listed files change".into(),
            "The QA gates pass".into(),
            format!("{key} is fixed as described"),
        ],
        revisions: Vec::new(),
    }
}

/// Tests and documentation, by their paths.
pub fn is_test_or_doc(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    lower.split('/').any(|part| matches!(part, "test" | "tests" | "spec" | "__tests__" | "docs" | "doc"))
        || name.starts_with("test")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains("_spec.")
        || name.ends_with(".md")
        || name.ends_with(".txt")
}

fn names(files: &[Allowed]) -> String {
    let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.path)).collect();
    if names.is_empty() {
        "the code".into()
    } else {
        names.join(", ")
    }
}

/// The SPEC after a reviewer's words: a line `files: a, b (new)` replaces the allowlist,
/// `plan:` / `test:` lines replace those parts, anything else is added to the plan.
pub fn revise(spec: &Spec, words: &str) -> Result<Spec, String> {
    let mut next = spec.clone();
    let mut notes = Vec::new();
    for line in words.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (head, rest) = line.split_once(':').map_or(("", line), |(h, r)| (h.trim(), r.trim()));
        match head.to_ascii_lowercase().as_str() {
            "files" | "file" => next.files = parse_files(rest)?,
            "plan" => next.plan = vec![rest.to_string()],
            "test" | "tests" | "testing" => next.testing = rest.to_string(),
            _ => notes.push(line.to_string()),
        }
    }
    if !notes.is_empty() {
        next.plan.push(format!("Reviewer: {}", notes.join(" ")));
    }
    next.revisions.push(words.trim().to_string());
    Ok(next)
}

/// `src/a.rs, tests/b.rs (new)` → the allowlist, every path checked to stay inside.
pub fn parse_files(list: &str) -> Result<Vec<Allowed>, String> {
    let mut out: Vec<Allowed> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (path, new) = match item.strip_suffix("(new)") {
            Some(path) => (path.trim(), true),
            None => (item.trim_matches('`'), false),
        };
        let path = safe_path(path.trim_matches('`'))?;
        if !out.iter().any(|a| a.path == path) {
            out.push(Allowed { path, new });
        }
    }
    Ok(out)
}

/// Checks the allowlist against the repository's files: each listed file exists, or is
/// declared new (and does not exist yet). Every problem, in words.
pub fn validate(spec: &Spec, tree: &[String]) -> Result<(), Vec<String>> {
    let mut why = Vec::new();
    if spec.files.is_empty() {
        why.push("the SPEC lists no files, so the agent could change nothing".to_string());
    }
    for file in &spec.files {
        if let Err(err) = safe_path(&file.path) {
            why.push(err);
            continue;
        }
        let exists = tree.iter().any(|p| p == &file.path);
        match (exists, file.new) {
            (false, false) => {
                why.push(format!("{} is not in the repository (mark it `(new)` to create it)", file.path))
            }
            (true, true) => why.push(format!("{} already exists; it cannot be new", file.path)),
            _ => {}
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

/// SPEC.md.
pub fn markdown(spec: &Spec) -> String {
    let mut out = format!("# SPEC — {}\n\n## Problem\n\n{}\n\n## Files to modify\n\n", spec.title, spec.problem);
    for file in &spec.files {
        out.push_str(&format!("- `{}`{}\n", file.path, if file.new { " (new)" } else { "" }));
    }
    out.push_str("\n## Implementation plan\n\n");
    for (i, step) in spec.plan.iter().enumerate() {
        out.push_str(&format!("{}. {step}\n", i + 1));
    }
    out.push_str(&format!("\n## Testing strategy\n\n{}\n\n## Verification checklist\n\n", spec.testing));
    for item in &spec.checklist {
        out.push_str(&format!("- [ ] {item}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        Context {
            relevant: vec![
                ("greet.sh".into(), 5),
                ("lib/greeting.sh".into(), 3),
                ("test.sh".into(), 4),
                ("README.md".into(), 2),
                ("other.sh".into(), 1),
            ],
            test_command: Some("sh test.sh".into()),
            commits: vec![],
        }
    }

    #[test]
    fn the_skeleton_lists_the_relevant_files() {
        let spec = skeleton("WEB-7", "Greeting says Helo", "Greeting says Helo\n\nSeen on the home page.", &context());
        let files: Vec<&str> = spec.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(files, ["greet.sh", "lib/greeting.sh"], "no tests, no docs, nothing weakly related");
        assert_eq!(spec.problem, "Greeting says Helo\n\nSeen on the home page.");
        assert!(spec.testing.contains("sh test.sh"));
        let md = markdown(&spec);
        assert!(md.contains("## Files to modify\n\n- `greet.sh`\n"), "{md}");
        assert!(md.contains("- [ ] Only the listed files change"), "{md}");
    }

    #[test]
    fn a_reviewer_names_the_files() {
        let spec = skeleton("WEB-7", "Greeting says Helo", "", &context());
        let revised = revise(&spec, "files: greet.sh, tests/greet_test.sh (new)\nkeep the exclamation mark").unwrap();
        assert_eq!(
            revised.files,
            [
                Allowed { path: "greet.sh".into(), new: false },
                Allowed { path: "tests/greet_test.sh".into(), new: true }
            ]
        );
        assert!(revised.plan.last().unwrap().contains("keep the exclamation mark"));
        assert_eq!(revised.revisions.len(), 1);
        assert!(revise(&spec, "files: ../../etc/passwd").is_err());
    }

    #[test]
    fn validation_checks_the_tree() {
        let tree = vec!["greet.sh".to_string(), "test.sh".to_string()];
        let mut spec = skeleton("WEB-7", "x", "", &Context::default());
        assert!(validate(&spec, &tree).unwrap_err()[0].contains("lists no files"));
        spec.files = parse_files("greet.sh, test.sh (new), missing.sh").unwrap();
        let why = validate(&spec, &tree).unwrap_err();
        assert_eq!(why.len(), 2, "{why:?}");
        spec.files = parse_files("greet.sh, new.sh (new)").unwrap();
        assert_eq!(validate(&spec, &tree), Ok(()));
    }
}
