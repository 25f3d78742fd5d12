//! `pmbot fix stats`: how the AI queue does, from runs and their transitions. Pure.

use crate::board::RunState;
use crate::store::{FixRun, FixTransition};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub runs: usize,
    pub by_state: BTreeMap<String, usize>,
    /// Completed among the runs that ended.
    pub completion_rate: Option<f64>,
    /// Runs whose first QA pass succeeded, among those that reached QA.
    pub qa_pass_rate: Option<f64>,
    /// Seconds in each state: (median, p90).
    pub time_in_state: BTreeMap<String, (f64, f64)>,
    /// Seconds from a gate's opening to its decision: (median, p90).
    pub spec_response: Option<(f64, f64)>,
    pub pr_response: Option<(f64, f64)>,
}

/// The stats of `runs`, each with its transitions in order.
pub fn stats(runs: &[(FixRun, Vec<FixTransition>)], now: chrono::DateTime<chrono::Utc>) -> Stats {
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut spent: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut ended, mut completed, mut reached_qa, mut passed_qa) = (0usize, 0usize, 0usize, 0usize);
    let (mut spec_waits, mut pr_waits) = (Vec::new(), Vec::new());
    for (run, transitions) in runs {
        *by_state.entry(run.state.to_string()).or_default() += 1;
        if run.state.is_final() {
            ended += 1;
            completed += usize::from(run.state == RunState::Completed);
        }
        for (i, t) in transitions.iter().enumerate() {
            let until = transitions.get(i + 1).map_or(now, |next| next.at);
            if t.to.is_final() {
                continue;
            }
            let seconds = (until - t.at).num_milliseconds() as f64 / 1000.0;
            spent.entry(t.to.to_string()).or_default().push(seconds);
            if transitions.get(i + 1).is_some() {
                match t.to {
                    RunState::AwaitingSpecApproval => spec_waits.push(seconds),
                    RunState::AwaitingPrApproval => pr_waits.push(seconds),
                    _ => {}
                }
            }
        }
        if let Some(first_qa) = transitions.iter().position(|t| t.from == Some(RunState::QaRunning)) {
            reached_qa += 1;
            passed_qa += usize::from(transitions[first_qa].to == RunState::PrCreated);
        }
    }
    let rate = |part: usize, whole: usize| (whole > 0).then(|| part as f64 / whole as f64);
    Stats {
        runs: runs.len(),
        by_state,
        completion_rate: rate(completed, ended),
        qa_pass_rate: rate(passed_qa, reached_qa),
        time_in_state: spent.into_iter().filter_map(|(state, mut v)| spread(&mut v).map(|s| (state, s))).collect(),
        spec_response: spread(&mut spec_waits),
        pr_response: spread(&mut pr_waits),
    }
}

/// (median, p90) by nearest rank.
fn spread(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    Some((at(0.5), at(0.9)))
}

/// The stats in lines for a terminal.
pub fn describe(s: &Stats) -> String {
    let pct = |r: Option<f64>| r.map_or("—".to_string(), |r| format!("{:.0}%", r * 100.0));
    let secs = |v: Option<(f64, f64)>| v.map_or("—".to_string(), |(m, p)| format!("median {m:.1} s, p90 {p:.1} s"));
    let mut out = format!(
        "{} run(s); completion rate {}; QA pass rate (first try) {}\nSPEC approval response: {}\nPR approval response: {}\nRuns per state:\n",
        s.runs,
        pct(s.completion_rate),
        pct(s.qa_pass_rate),
        secs(s.spec_response),
        secs(s.pr_response)
    );
    for (state, n) in &s.by_state {
        out.push_str(&format!("  {state:<24} {n}\n"));
    }
    out.push_str("Time in each state:\n");
    for (state, spread) in &s.time_in_state {
        out.push_str(&format!("  {state:<24} {}\n", secs(Some(*spread))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use RunState::*;

    fn run(id: i64, state: RunState, path: &[(RunState, i64)]) -> (FixRun, Vec<FixTransition>) {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let transitions = path
            .iter()
            .enumerate()
            .map(|(i, (to, secs))| FixTransition {
                id: i as i64,
                run_id: id,
                from: if i == 0 { None } else { Some(path[i - 1].0) },
                to: *to,
                actor: "pmbot".into(),
                reason: String::new(),
                at: t0 + chrono::Duration::seconds(*secs),
                posted_at: None,
            })
            .collect();
        let r = FixRun {
            id,
            ticket: "WEB-1".parse().unwrap(),
            project: "WEB".into(),
            state,
            requested_by: "pat".into(),
            data: serde_json::Value::Null,
            created_at: t0,
            updated_at: t0,
            finished_at: None,
        };
        (r, transitions)
    }

    #[test]
    fn rates_and_waits() {
        let done = run(
            1,
            Completed,
            &[
                (Pending, 0),
                (Planning, 1),
                (AwaitingSpecApproval, 2),
                (SpecApproved, 62),
                (Executing, 63),
                (QaRunning, 70),
                (PrCreated, 75),
                (AwaitingPrApproval, 76),
                (Completed, 176),
            ],
        );
        let failed = run(
            2,
            QaFailed,
            &[
                (Pending, 0),
                (Planning, 1),
                (AwaitingSpecApproval, 2),
                (SpecApproved, 22),
                (Executing, 23),
                (QaRunning, 30),
                (Executing, 31),
                (QaRunning, 40),
                (QaFailed, 41),
            ],
        );
        let s = stats(&[done, failed], Utc::now());
        assert_eq!(s.runs, 2);
        assert_eq!(s.completion_rate, Some(0.5));
        assert_eq!(s.qa_pass_rate, Some(0.5));
        assert_eq!(s.spec_response, Some((20.0, 60.0)));
        assert_eq!(s.pr_response, Some((100.0, 100.0)));
        assert_eq!(s.by_state["QA_FAILED"], 1);
        assert!(describe(&s).contains("completion rate 50%"));
    }
}
