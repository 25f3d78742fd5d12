//! Whether the matcher's confidence means what it says: decisions grouped by confidence,
//! against how often each group was right (a reliability table), per decision kind.

use std::fmt::Write as _;

/// One decision and whether it was right.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub decision: String,
    pub confidence: f64,
    pub right: bool,
}

/// The bins' lower edges; the last bin is 0.9..=1.0.
pub const EDGES: [f64; 6] = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9];

#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// Right when the decision is the label's and, for comment and move, so is the ticket and,
/// for move, the status (the evaluation sets' rule).
pub fn right(decision: &str, ticket: Option<&str>, status: Option<&str>, label: &serde_json::Value) -> bool {
    let same = |a: Option<&str>, b: &serde_json::Value| {
        a.map(|s| s.to_ascii_lowercase()) == b.as_str().map(|s| s.to_ascii_lowercase())
    };
    decision == label["decision"].as_str().unwrap_or("")
        && (!matches!(decision, "comment" | "move") || same(ticket, &label["ticket"]))
        && (decision != "move" || same(status, &label["status"]))
}

pub fn bins(judged: &[&Judged]) -> Vec<Bin> {
    EDGES
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = EDGES.get(i + 1).copied().unwrap_or(1.0);
            let inside: Vec<&&Judged> = judged
                .iter()
                .filter(|j| j.confidence >= from && (j.confidence < to || (to == 1.0 && j.confidence <= 1.0)))
                .collect();
            let count = inside.len();
            let mean = |f: &dyn Fn(&Judged) -> f64| {
                if count == 0 {
                    0.0
                } else {
                    inside.iter().map(|j| f(j)).sum::<f64>() / count as f64
                }
            };
            Bin {
                from,
                to,
                count,
                mean_confidence: mean(&|j| j.confidence),
                accuracy: mean(&|j| if j.right { 1.0 } else { 0.0 }),
            }
        })
        .collect()
}

/// The table for all decisions, then for each kind.
pub fn table(judged: &[Judged]) -> String {
    let mut out = String::new();
    let kinds = ["all", "none", "comment", "move", "create"];
    for kind in kinds {
        let chosen: Vec<&Judged> = judged.iter().filter(|j| kind == "all" || j.decision == kind).collect();
        if chosen.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{kind} ({} decisions)", chosen.len());
        let _ = writeln!(out, "  confidence     n   mean conf   right");
        for bin in bins(&chosen).into_iter().filter(|b| b.count > 0) {
            let _ = writeln!(
                out,
                "  {:.1}–{:.1}  {:>6}      {:.3}     {:.3}",
                bin.from, bin.to, bin.count, bin.mean_confidence, bin.accuracy
            );
        }
    }
    let high: Vec<&Judged> = judged.iter().filter(|j| j.confidence >= 0.9).collect();
    let right = high.iter().filter(|j| j.right).count();
    let share = if high.is_empty() { 1.0 } else { right as f64 / high.len() as f64 };
    let _ = writeln!(out, "decisions at ≥ 0.9: {} of {} right ({:.1} %)", right, high.len(), share * 100.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(decision: &str, confidence: f64, right: bool) -> Judged {
        Judged { decision: decision.into(), confidence, right }
    }

    #[test]
    fn decisions_fall_in_bins_with_their_accuracy() {
        let judged = [j("none", 0.95, true), j("none", 0.92, false), j("comment", 0.65, true), j("create", 0.3, false)];
        let refs: Vec<&Judged> = judged.iter().collect();
        let b = bins(&refs);
        assert_eq!((b[5].count, b[5].accuracy), (2, 0.5));
        assert_eq!((b[2].count, b[2].accuracy), (1, 1.0));
        assert_eq!(b[0].count, 1);
        let text = table(&judged);
        assert!(text.contains("decisions at ≥ 0.9: 1 of 2 right (50.0 %)"), "{text}");
    }

    #[test]
    fn right_follows_the_sets_rule() {
        let label = serde_json::json!({ "decision": "move", "ticket": "PAY-3", "status": "done" });
        assert!(right("move", Some("pay-3"), Some("done"), &label));
        assert!(!right("move", Some("PAY-3"), Some("in_review"), &label));
        assert!(!right("comment", Some("PAY-3"), None, &label));
        let none = serde_json::json!({ "decision": "none", "ticket": null, "status": null });
        assert!(right("none", None, None, &none));
    }
}
