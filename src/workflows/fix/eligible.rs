//! Triage for automation: whether a ticket may go to the coding agent at all, and why not.
//! Pure; decided before anything is cloned or any model is asked.

use crate::board::Ticket;
use crate::config::{FixConfig, ProjectFixConfig};

/// `Ok` when the ticket may go; otherwise every reason it may not, in words.
pub fn eligible(ticket: &Ticket, project: Option<&ProjectFixConfig>, team: &FixConfig) -> Result<(), Vec<String>> {
    let mut why = Vec::new();
    match project {
        None => why.push(format!("project {} has no [projects.fix] repository configured", ticket.project)),
        Some(p) if !p.enabled => {
            why.push(format!("project {} does not allow AI fixes ([projects.fix] enabled = false)", ticket.project))
        }
        Some(_) => {}
    }
    let blocked: Vec<&str> = ticket
        .labels
        .iter()
        .filter(|l| team.blocked_labels.iter().any(|b| b.eq_ignore_ascii_case(l)))
        .map(String::as_str)
        .collect();
    if !blocked.is_empty() {
        why.push(format!("it is labelled {}, which never goes to the AI queue", blocked.join(", ")));
    }
    if let Some(estimate) = ticket.estimate.filter(|e| *e > team.max_estimate_hours) {
        why.push(format!(
            "it is estimated at {estimate} h, more than the {} h an agent may take on",
            team.max_estimate_hours
        ));
    }
    if ticket.title.trim().is_empty() && ticket.description.trim().is_empty() {
        why.push("it says nothing about what to change".into());
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Priority, Source, Status, TicketKey};

    fn ticket(labels: &[&str], estimate: Option<f64>) -> Ticket {
        Ticket {
            key: TicketKey::new("WEB", 1),
            project: "WEB".into(),
            title: "Greeting says Helo".into(),
            description: String::new(),
            status: Status::AiQueue,
            priority: Priority::Medium,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            assignee: None,
            reporter: None,
            epic: None,
            parent: None,
            estimate,
            source: Source::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn project(enabled: bool) -> ProjectFixConfig {
        toml::from_str(&format!("repository = \"/srv/web.git\"\nenabled = {enabled}")).unwrap()
    }

    #[test]
    fn a_small_ticket_of_an_enabled_project_goes() {
        assert_eq!(eligible(&ticket(&[], Some(2.0)), Some(&project(true)), &FixConfig::default()), Ok(()));
    }

    #[test]
    fn projects_opt_in() {
        let why = eligible(&ticket(&[], None), None, &FixConfig::default()).unwrap_err();
        assert!(why[0].contains("no [projects.fix] repository"), "{why:?}");
        let why = eligible(&ticket(&[], None), Some(&project(false)), &FixConfig::default()).unwrap_err();
        assert!(why[0].contains("does not allow AI fixes"), "{why:?}");
    }

    #[test]
    fn labels_and_size_refuse_with_every_reason() {
        let why =
            eligible(&ticket(&["Security"], Some(20.0)), Some(&project(true)), &FixConfig::default()).unwrap_err();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(why[0].contains("labelled Security"), "{why:?}");
        assert!(why[1].contains("20 h"), "{why:?}");
    }
}
