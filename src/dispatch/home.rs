//! The bot's home for one person (Slack's App Home): their open tickets and the approval
//! requests waiting on them.

use super::{Bot, Outcome};
use crate::board::Status;
use crate::chat::{Origin, Outbound};
use crate::store::TicketFilter;
use crate::workflows::views::ticket_line;
use serde_json::json;

impl Bot {
    pub(super) async fn home(&self, origin: &Origin) -> Outcome {
        let Some(person) = self.sender(origin).cloned() else {
            let context = json!({ "name": null, "tickets": [], "waiting": [], "bot": self.config.team.bot_name });
            return Ok(vec![Outbound::Home {
                user: origin.user.clone(),
                message: self.templates.render("home", &context)?,
            }]);
        };
        let names = self.names();
        let filter = TicketFilter { assignee: Some(person.handle.clone()), ..Default::default() };
        let mine = self.store.tickets(&self.workspace, &filter).await?;
        let tickets: Vec<String> = mine
            .iter()
            .filter(|t| t.status.is_open() && t.status != Status::Backlog)
            .map(|t| ticket_line(t, &names, true))
            .collect();
        let waiting: Vec<String> = self
            .store
            .pending_approvals(&self.workspace)
            .await?
            .into_iter()
            .filter(|a| a.approvers.allows(&person) && !a.decisions.iter().any(|d| d.decider == person.handle))
            .map(|a| format!("#{} {} — `approve {}` or `reject {} why`", a.id, a.description, a.id, a.id))
            .collect();
        let context = json!({ "name": person.display_name, "tickets": tickets, "waiting": waiting, "bot": self.config.team.bot_name });
        Ok(vec![Outbound::Home { user: origin.user.clone(), message: self.templates.render("home", &context)? }])
    }
}
