//! Message templates (`templates/*.hbs`), embedded in the binary and rendered in strict
//! mode: a missing variable is an error, not a blank.

use super::{markup, Message};
use handlebars::Handlebars;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("help", include_str!("../../templates/help.hbs")),
    ("unknown_command", include_str!("../../templates/unknown_command.hbs")),
    ("standup", include_str!("../../templates/standup.hbs")),
    ("board", include_str!("../../templates/board.hbs")),
    ("ticket", include_str!("../../templates/ticket.hbs")),
    ("ticket_created", include_str!("../../templates/ticket_created.hbs")),
    ("ticket_changed", include_str!("../../templates/ticket_changed.hbs")),
    ("triage_request", include_str!("../../templates/triage_request.hbs")),
    ("approval_decided", include_str!("../../templates/approval_decided.hbs")),
    ("fix_started", include_str!("../../templates/fix_started.hbs")),
    ("fix_transition", include_str!("../../templates/fix_transition.hbs")),
    ("fix_spec", include_str!("../../templates/fix_spec.hbs")),
    ("fix_pr", include_str!("../../templates/fix_pr.hbs")),
    ("home", include_str!("../../templates/home.hbs")),
    ("conversation_done", include_str!("../../templates/conversation_done.hbs")),
    ("conversation_suggest", include_str!("../../templates/conversation_suggest.hbs")),
    ("why", include_str!("../../templates/why.hbs")),
    ("digest", include_str!("../../templates/digest.hbs")),
    ("compliance_dm", include_str!("../../templates/compliance_dm.hbs")),
    ("compliance_summary", include_str!("../../templates/compliance_summary.hbs")),
    ("compliance_no_data", include_str!("../../templates/compliance_no_data.hbs")),
    ("budget_alert", include_str!("../../templates/budget_alert.hbs")),
    ("budget_summary", include_str!("../../templates/budget_summary.hbs")),
    ("stuck_digest", include_str!("../../templates/stuck_digest.hbs")),
    ("stuck_dm", include_str!("../../templates/stuck_dm.hbs")),
    ("blocked_notice", include_str!("../../templates/blocked_notice.hbs")),
    ("epic_summary", include_str!("../../templates/epic_summary.hbs")),
    ("epic_card", include_str!("../../templates/epic_card.hbs")),
    ("forecast_summary", include_str!("../../templates/forecast_summary.hbs")),
    ("forecast_alert", include_str!("../../templates/forecast_alert.hbs")),
    ("month_end", include_str!("../../templates/month_end.hbs")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template {name}: {source}")]
    Render { name: String, source: Box<handlebars::RenderError> },
    #[error("template {name}: {source}")]
    Markup { name: String, source: markup::MarkupError },
}

#[derive(Debug)]
pub struct Templates {
    registry: Handlebars<'static>,
}

impl Templates {
    /// Registers the built-in templates; a template that does not compile is a bug caught by
    /// the unit tests, so this panics only on a broken build.
    pub fn new() -> Self {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        // Values never carry line breaks: a line is a block, and values must stay inside one.
        registry.register_escape_fn(|value| value.replace(['\r', '\n'], " "));
        for (name, source) in TEMPLATES {
            registry
                .register_template_string(name, *source)
                .unwrap_or_else(|err| panic!("built-in template {name} does not compile: {err}"));
        }
        Templates { registry }
    }

    pub fn render<T: Serialize>(&self, name: &str, context: &T) -> Result<Message, TemplateError> {
        let text = self
            .registry
            .render(name, context)
            .map_err(|source| TemplateError::Render { name: name.into(), source: Box::new(source) })?;
        markup::parse(&text).map_err(|source| TemplateError::Markup { name: name.into(), source })
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_compiles() {
        let _ = Templates::new();
    }

    #[test]
    fn a_missing_variable_is_an_error() {
        let err = Templates::new().render("ticket_changed", &serde_json::json!({})).unwrap_err();
        assert!(err.to_string().starts_with("template ticket_changed:"), "{err}");
    }

    #[test]
    fn values_cannot_add_lines() {
        let context = serde_json::json!({"text": "moved\n# not a header", "context": "by ana"});
        let message = Templates::new().render("ticket_changed", &context).unwrap();
        assert_eq!(message.blocks.len(), 2);
    }
}
