//! The public matching evaluation set (`tests/fixtures/eval/matching`, a copy of the
//! project's shared set), run through `pmbot match` and scored by its own scorer. Fails below
//! the floor its README sets: macro-F1 0.80 for the deterministic matcher.

use std::path::Path;
use std::process::Command;

#[test]
fn the_deterministic_matcher_meets_the_evaluation_floor() {
    let set = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval/matching");
    let predicted = Command::new(env!("CARGO_BIN_EXE_pmbot"))
        .args(["match", "--tickets"])
        .arg(set.join("tickets.json"))
        .arg("--messages")
        .arg(set.join("messages.jsonl"))
        .output()
        .expect("run pmbot match");
    assert!(predicted.status.success(), "{}", String::from_utf8_lossy(&predicted.stderr));
    let predictions = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(predictions.path(), &predicted.stdout).unwrap();
    let scored = Command::new("python3")
        .arg(set.join("score.py"))
        .arg(set.join("labels.jsonl"))
        .arg(predictions.path())
        .args(["--min-f1", "0.80"])
        .output()
        .expect("python3 is needed to run the evaluation's scorer (standard library only)");
    let report = String::from_utf8_lossy(&scored.stdout);
    println!("{report}");
    assert!(scored.status.success(), "below the floor of macro-F1 0.80:\n{report}");
}
