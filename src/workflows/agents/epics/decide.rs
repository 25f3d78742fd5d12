//! Epic hygiene. Pure: the open tickets of scope projects without an epic, each with the
//! epics whose tickets read most like it, and each project's share of tickets with an epic.

use crate::board::{Status, Ticket};
use crate::workflows::matching::{rank_documents, terms};
use std::collections::BTreeMap;

/// How many epics are offered per ticket.
pub const OFFERED: usize = 2;
/// Below this evidence (the share of the ticket's words found in an epic's tickets, plus
/// `NAMED_BONUS` when it uses the epic's name), the epic is not offered.
const MIN_EVIDENCE: f64 = 0.25;
const NAMED_BONUS: f64 = 0.2;

#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub ticket: Ticket,
    /// Best first: `(epic, confidence 0..1)`.
    pub suggestions: Vec<(String, f64)>,
    /// Every epic of its project, for "Pick another…".
    pub epics: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectHygiene {
    pub project: String,
    pub open: usize,
    pub with_epic: usize,
}

impl ProjectHygiene {
    pub fn percent(&self) -> f64 {
        if self.open == 0 {
            100.0
        } else {
            self.with_epic as f64 / self.open as f64 * 100.0
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub orphans: Vec<Orphan>,
    pub projects: Vec<ProjectHygiene>,
}

/// `tickets` of every project; `scope` the keys of scope projects; `skipped` the ticket keys
/// a PM chose to skip.
pub fn decide(tickets: &[Ticket], scope: &[String], skipped: &[String]) -> Report {
    let open = |t: &Ticket| !matches!(t.status, Status::Done | Status::Cancelled);
    let mut report = Report { orphans: Vec::new(), projects: Vec::new() };
    for project in scope {
        let mine: Vec<&Ticket> = tickets.iter().filter(|t| &t.project == project).collect();
        // An epic's document: its name and the titles of its tickets, done ones included.
        let mut docs: BTreeMap<String, String> = BTreeMap::new();
        for t in &mine {
            if let Some(epic) = t.epic.as_ref().filter(|e| !e.trim().is_empty()) {
                let doc = docs.entry(epic.clone()).or_insert_with(|| format!("{epic}. {epic}."));
                doc.push_str(&format!(" {}.", t.title));
            }
        }
        let docs: Vec<(String, String)> = docs.into_iter().collect();
        let epics: Vec<String> = docs.iter().map(|(e, _)| e.clone()).collect();
        let open_tickets: Vec<&Ticket> = mine.iter().copied().filter(|t| open(t)).collect();
        report.projects.push(ProjectHygiene {
            project: project.clone(),
            open: open_tickets.len(),
            with_epic: open_tickets.iter().filter(|t| t.epic.is_some()).count(),
        });
        for ticket in open_tickets.into_iter().filter(|t| t.epic.is_none() && !skipped.contains(&t.key.to_string())) {
            let query = format!("{} {}", ticket.title, ticket.description);
            let words = terms(&query);
            // A ticket that uses the epic's own name ("order" for Orders) is strong evidence.
            let mut ranked: Vec<(String, f64)> = rank_documents(&docs, &query, docs.len())
                .into_iter()
                .map(|(epic, _, coverage)| {
                    let named = terms(&epic).iter().any(|t| words.contains(t));
                    let evidence = coverage + if named { NAMED_BONUS } else { 0.0 };
                    (epic, evidence)
                })
                .filter(|(_, evidence)| *evidence >= MIN_EVIDENCE)
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let suggestions = ranked
                .into_iter()
                .take(OFFERED)
                .map(|(epic, evidence)| (epic, ((0.35 + 0.6 * evidence.min(1.0)) * 100.0).round().min(95.0) / 100.0))
                .collect();
            report.orphans.push(Orphan { ticket: ticket.clone(), suggestions, epics: epics.clone() });
        }
    }
    report.orphans.sort_by_key(|o| (o.ticket.priority.rank(), o.ticket.created_at));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ticket(n: u32, title: &str, epic: Option<&str>, status: Status) -> Ticket {
        Ticket {
            title: title.into(),
            epic: epic.map(str::to_string),
            ..Ticket::sample(&format!("APP-{n}"), status, Utc::now())
        }
    }

    fn board() -> Vec<Ticket> {
        vec![
            ticket(1, "Apple Pay on the checkout screen", Some("Payments"), Status::Done),
            ticket(2, "Google Pay on the checkout screen", Some("Payments"), Status::InProgress),
            ticket(3, "Queue orders while offline", Some("Offline mode"), Status::Todo),
            ticket(4, "Sync queued orders when back online", Some("Offline mode"), Status::Todo),
            ticket(5, "Refund a card payment from the order screen", None, Status::Backlog),
            ticket(6, "Show a banner while orders are queued offline", None, Status::Todo),
            ticket(7, "Tablet layout for the product screen", None, Status::Todo),
            ticket(8, "Old spike", None, Status::Done),
        ]
    }

    #[test]
    fn orphans_get_the_epics_their_words_match() {
        let report = decide(&board(), &["APP".into()], &[]);
        let offered: Vec<(String, Option<String>)> = report
            .orphans
            .iter()
            .map(|o| (o.ticket.key.to_string(), o.suggestions.first().map(|s| s.0.clone())))
            .collect();
        assert_eq!(
            offered,
            [
                ("APP-5".into(), Some("Payments".into())),
                ("APP-6".into(), Some("Offline mode".into())),
                ("APP-7".into(), None),
            ],
            "done tickets are not orphans; a ticket like no epic gets no suggestion"
        );
        assert!(report.orphans[0].suggestions[0].1 > 0.5 && report.orphans[0].suggestions[0].1 <= 0.95);
        assert_eq!(report.orphans[2].epics, ["Offline mode", "Payments"]);
        let app = &report.projects[0];
        assert_eq!((app.open, app.with_epic), (6, 3));
        assert_eq!(app.percent(), 50.0);
    }

    #[test]
    fn skipped_tickets_and_other_projects_are_left_out() {
        let mut tickets = board();
        tickets.push(Ticket {
            project: "WEB".into(),
            key: "WEB-1".parse().unwrap(),
            ..ticket(9, "Anything", None, Status::Todo)
        });
        let report = decide(&tickets, &["APP".into()], &["APP-5".into(), "APP-7".into()]);
        let keys: Vec<String> = report.orphans.iter().map(|o| o.ticket.key.to_string()).collect();
        assert_eq!(keys, ["APP-6"]);
        assert!(decide(&[], &["APP".into()], &[]).projects[0].percent() == 100.0, "no open tickets: nothing to fix");
    }
}
