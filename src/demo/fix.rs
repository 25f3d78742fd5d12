//! The demo's AI queue: a tiny repository made in the demo's directory (a bare remote and
//! its first commit), a scripted agent that edits the file the SPEC names, and the WEB
//! project configured to use both, with the repository's own test script as its QA gate.

use crate::config::{Config, SandboxKind};
use std::path::Path;
use std::process::Command;

/// The demo agent: reads SPEC.md, and fixes the spelling in every file it lists.
const AGENT: &str = r#"#!/bin/sh
# pmbot's demo agent: a stand-in for a real coding agent (pi, claude -p, codex, aider).
# It reads the SPEC it is given and edits the files the SPEC names, nothing else.
spec="$1"
sed -n 's/^- `\([^`]*\)`.*/\1/p' "$spec" | while read -r file; do
  [ -f "$file" ] && sed -i 's/Helo/Hello/g' "$file" && echo "edited $file"
done
"#;

pub const TICKET: &str = "Greeting says Helo instead of Hello";

#[derive(Debug, thiserror::Error)]
#[error("cannot make the demo repository: {0}")]
pub struct FixDemoError(String);

/// Makes the repository and the agent under `dir` and points WEB's AI queue at them.
/// Returns a note when the demo runs without a sandbox (no bubblewrap here).
pub async fn prepare(dir: &Path, config: &mut Config) -> Result<Option<String>, FixDemoError> {
    let seed = dir.join("greeter");
    std::fs::create_dir_all(&seed).map_err(|e| FixDemoError(e.to_string()))?;
    let files = [
        ("greet.sh", "#!/bin/sh\n# Greets whoever is named.\necho \"Helo, ${1:-world}!\"\n"),
        ("test.sh", "#!/bin/sh\n# The project's tests: the greeting is spelt right.\ngot=$(sh greet.sh Ana)\n[ \"$got\" = \"Hello, Ana!\" ] || { echo \"FAIL: expected 'Hello, Ana!', got '$got'\"; exit 1; }\necho \"ok: $got\"\n"),
        ("README.md", "# greeter\n\nA tiny tool that greets people. Run the tests with `sh test.sh`.\n"),
    ];
    for (name, text) in files {
        std::fs::write(seed.join(name), text).map_err(|e| FixDemoError(e.to_string()))?;
    }
    run(&seed, &["init", "-q", "-b", "main"])?;
    run(&seed, &["add", "-A"])?;
    run(
        &seed,
        &[
            "-c",
            "user.name=Ana Sousa",
            "-c",
            "user.email=ana@example.com",
            "commit",
            "-q",
            "-m",
            "greeter: first version",
        ],
    )?;
    run(dir, &["clone", "-q", "--bare", "greeter", "greeter.git"])?;
    let agents = dir.join("agent");
    std::fs::create_dir_all(&agents).map_err(|e| FixDemoError(e.to_string()))?;
    std::fs::write(agents.join("demo-agent.sh"), AGENT).map_err(|e| FixDemoError(e.to_string()))?;

    let sandboxed = crate::workflows::fix::sandbox::bwrap_works().await.is_ok();
    let fix = &mut config.fix;
    fix.workspace_dir = Some(dir.join("fix"));
    fix.read_only = vec![agents.clone()];
    fix.sandbox = if sandboxed { SandboxKind::Bwrap } else { SandboxKind::None };
    let project = format!(
        "enabled = true\nrepository = \"{repo}\"\nagent = \"sh {agent} {{spec_file}}\"\n\
         gates = [{{ name = \"tests\", command = \"sh test.sh\", timeout_seconds = 60 }}]",
        repo = dir.join("greeter.git").display(),
        agent = agents.join("demo-agent.sh").display(),
    );
    let web =
        config.projects.iter_mut().find(|p| p.key == "WEB").ok_or_else(|| FixDemoError("no WEB project".into()))?;
    web.fix = Some(toml::from_str(&project).map_err(|e| FixDemoError(e.to_string()))?);
    Ok((!sandboxed).then(|| {
        "bubblewrap (bwrap) is not installed here, so the demo's own scripted agent runs without a sandbox \
         ([fix] sandbox = \"none\"). Real agents never should: apt-get install -y bubblewrap."
            .to_string()
    }))
}

fn run(dir: &Path, args: &[&str]) -> Result<(), FixDemoError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| FixDemoError(format!("git: {e} (is git installed?)")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(FixDemoError(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())))
    }
}
