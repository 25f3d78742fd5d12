//! The pure rules of mirroring: a tracker's statuses onto pmbot's, its priorities, and which
//! moves a newer copy of an issue brings to the board.

use super::remote::{RemoteIssue, RemoteState, RemoteUser};
use crate::board::{Priority, Status};
use crate::config::TrackerConfig;
use chrono::{DateTime, Utc};

/// A tracker's statuses onto pmbot's: by name as `[projects.tracker.statuses]` says, then (when
/// `by_kind`) by the state's category.
#[derive(Debug, Clone, Default)]
pub struct StatusMap {
    names: Vec<(String, Status)>,
    by_kind: bool,
}

/// pmbot's status for a state's category: Linear's types, Jira's status categories.
pub fn kind_status(kind: &str) -> Option<Status> {
    Some(match kind {
        "triage" | "backlog" => Status::Backlog,
        "unstarted" | "new" => Status::Todo,
        "started" | "indeterminate" => Status::InProgress,
        "completed" | "done" => Status::Done,
        "canceled" | "cancelled" => Status::Cancelled,
        _ => return None,
    })
}

impl StatusMap {
    pub fn new(config: &TrackerConfig) -> Self {
        let names = config.statuses.iter().map(|(name, status)| (name.to_lowercase(), *status)).collect();
        StatusMap { names, by_kind: config.map_by_kind }
    }

    /// pmbot's status for `state`, or `None` when nothing maps it.
    pub fn status(&self, state: &RemoteState) -> Option<Status> {
        self.by_name(&state.name).or_else(|| self.by_kind.then(|| kind_status(&state.kind)).flatten())
    }

    pub fn by_name(&self, name: &str) -> Option<Status> {
        let name = name.to_lowercase();
        self.names.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The tracker state to move an issue to for pmbot's `to`: the first of `states` mapped to
    /// it by name, else by category; `None` when the tracker has no such state.
    pub fn target<'a>(&self, to: Status, states: &'a [RemoteState]) -> Option<&'a RemoteState> {
        states
            .iter()
            .find(|s| self.by_name(&s.name) == Some(to))
            .or_else(|| states.iter().find(|s| self.by_name(&s.name).is_none() && self.status(s) == Some(to)))
    }
}

/// Linear's priority (1 urgent … 4 low, 0 none) as pmbot's.
pub fn priority(value: Option<f64>) -> Priority {
    match value.map(|v| v.round() as i64) {
        Some(1) => Priority::Critical,
        Some(2) => Priority::High,
        Some(4) => Priority::Low,
        _ => Priority::Medium,
    }
}

/// One move a copy of an issue brings to the board.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub to: Status,
    pub at: DateTime<Utc>,
    pub actor: Option<RemoteUser>,
    /// The tracker's name for the status.
    pub remote: String,
}

/// What a copy of an issue does to the board's status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusPlan {
    /// For a ticket new to the board: the status it starts in.
    pub initial: Option<Status>,
    /// Moves in order, each to a status other than the one before.
    pub steps: Vec<Step>,
    /// Tracker statuses met that map to nothing (the ticket stays where it was).
    pub unmapped: Vec<String>,
}

/// The moves `issue` brings: its history after `after` (all of it for a new ticket), then
/// its current state (stamped with the issue's last update when no history entry already
/// brought it there with its real time and actor). `current` is the board's status (`None`: not on the board yet).
pub fn plan_status(
    map: &StatusMap,
    issue: &RemoteIssue,
    current: Option<Status>,
    after: Option<DateTime<Utc>>,
) -> StatusPlan {
    let mut plan = StatusPlan::default();
    let unmapped = |name: &str, plan: &mut StatusPlan| {
        if !plan.unmapped.iter().any(|n| n == name) {
            plan.unmapped.push(name.to_string());
        }
    };
    let mut last = current;
    let moves = issue.history.iter().filter(|m| after.is_none_or(|after| m.at > after));
    // A new ticket starts where its first recorded move started from.
    if current.is_none() {
        last = issue.history.first().and_then(|m| m.from.as_ref()).and_then(|from| map.status(from));
        plan.initial = last;
    }
    let current_step =
        Step { to: Status::Backlog, at: issue.updated_at, actor: None, remote: issue.state.name.clone() };
    for (state, step) in moves
        .map(|m| (&m.to, Step { to: Status::Backlog, at: m.at, actor: m.actor.clone(), remote: m.to.name.clone() }))
        .chain(std::iter::once((&issue.state, current_step)))
    {
        let Some(to) = map.status(state) else {
            unmapped(&state.name, &mut plan);
            continue;
        };
        match last {
            None => plan.initial = Some(to),
            Some(was) if was == to => {}
            Some(_) => plan.steps.push(Step { to, ..step }),
        }
        last = Some(to);
    }
    if current.is_none() && plan.initial.is_none() {
        plan.initial = Some(Status::Backlog);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::RemoteMove;
    use chrono::TimeZone;

    fn state(name: &str, kind: &str) -> RemoteState {
        RemoteState { id: format!("s-{name}"), name: name.into(), kind: kind.into() }
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, h, 0, 0).unwrap()
    }

    fn map(by_kind: bool) -> StatusMap {
        let config: TrackerConfig = toml::from_str(&format!(
            "kind = \"linear\"\nteam = \"ENG\"\nmap_by_kind = {by_kind}\n[statuses]\nTodo = \"todo\"\n\"In Progress\" = \"in_progress\"\n\"In Review\" = \"in_review\"\nQA = \"in_review\"\nDone = \"done\"\n"
        ))
        .unwrap();
        StatusMap::new(&config)
    }

    fn issue(now: RemoteState, history: &[(u32, RemoteState)]) -> RemoteIssue {
        RemoteIssue {
            id: "i1".into(),
            key: "ENG-1".into(),
            title: "t".into(),
            description: String::new(),
            state: now,
            priority: None,
            estimate: None,
            url: None,
            assignee: None,
            creator: None,
            labels: vec![],
            parent: None,
            epic: None,
            created_at: at(1),
            updated_at: at(9),
            gone: false,
            history: history
                .iter()
                .map(|(h, s)| RemoteMove { at: at(*h), from: None, to: s.clone(), actor: None })
                .collect(),
            comments: vec![],
        }
    }

    #[test]
    fn names_win_over_categories_and_categories_cover_the_rest() {
        let m = map(true);
        assert_eq!(m.status(&state("QA", "started")), Some(Status::InReview));
        assert_eq!(m.status(&state("qa", "started")), Some(Status::InReview));
        assert_eq!(m.status(&state("Triage", "triage")), Some(Status::Backlog));
        assert_eq!(map(false).status(&state("Triage", "triage")), None);
    }

    #[test]
    fn a_new_ticket_keeps_its_whole_history_with_real_times() {
        let done = state("Done", "completed");
        let plan = plan_status(
            &map(true),
            &issue(done.clone(), &[(1, state("Todo", "unstarted")), (3, state("In Progress", "started")), (5, done)]),
            None,
            None,
        );
        assert_eq!(plan.initial, Some(Status::Todo));
        let steps: Vec<_> = plan.steps.iter().map(|s| (s.to, s.at)).collect();
        assert_eq!(steps, vec![(Status::InProgress, at(3)), (Status::Done, at(5))]);
    }

    #[test]
    fn a_new_ticket_starts_where_its_first_move_started() {
        let mut i = issue(state("In Progress", "started"), &[(3, state("In Progress", "started"))]);
        i.history[0].from = Some(state("Todo", "unstarted"));
        let plan = plan_status(&map(true), &i, None, None);
        assert_eq!(plan.initial, Some(Status::Todo));
        assert_eq!(plan.steps.iter().map(|s| (s.to, s.at)).collect::<Vec<_>>(), vec![(Status::InProgress, at(3))]);
    }

    #[test]
    fn an_update_replays_only_what_is_newer_and_skips_what_changes_nothing() {
        let qa = state("QA", "started");
        let history = [(1, state("Todo", "unstarted")), (3, state("In Review", "started")), (6, qa.clone())];
        let plan = plan_status(&map(true), &issue(qa, &history), Some(Status::Todo), Some(at(2)));
        assert_eq!(plan.steps.len(), 1, "{plan:?}");
        assert_eq!((plan.steps[0].to, plan.steps[0].at), (Status::InReview, at(3)));
    }

    #[test]
    fn an_unmapped_status_keeps_the_ticket_where_it_was_and_is_named() {
        let uat = state("UAT", "started");
        let plan =
            plan_status(&map(false), &issue(uat, &[(4, state("UAT", "started"))]), Some(Status::InReview), Some(at(2)));
        assert!(plan.steps.is_empty());
        assert_eq!(plan.unmapped, vec!["UAT".to_string()]);
    }

    #[test]
    fn the_target_state_is_the_named_one_first() {
        let states = [
            state("Backlog", "backlog"),
            state("In Review", "started"),
            state("QA", "started"),
            state("Done", "completed"),
        ];
        let m = map(true);
        assert_eq!(m.target(Status::InReview, &states).map(|s| s.name.as_str()), Some("In Review"));
        assert_eq!(m.target(Status::Backlog, &states).map(|s| s.name.as_str()), Some("Backlog"));
        assert_eq!(m.target(Status::Blocked, &states), None);
    }

    #[test]
    fn linear_priorities_read_as_pmbots() {
        assert_eq!(priority(Some(1.0)), Priority::Critical);
        assert_eq!(priority(Some(0.0)), Priority::Medium);
        assert_eq!(priority(None), Priority::Medium);
        assert_eq!(priority(Some(4.0)), Priority::Low);
    }
}
