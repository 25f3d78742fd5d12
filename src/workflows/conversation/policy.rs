//! What the bot does with a matcher decision in a channel: act, ask, or only log. Pure.

use crate::config::{same_channel, ConversationConfig, Thresholds};
use crate::workflows::matching::MatchDecision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Do it, say so in the thread, offer Undo.
    Auto,
    /// Suggest it in the thread with Yes / No / Different ticket… buttons.
    Ask,
    /// Too unsure: log only.
    Log,
    /// A shadow channel: log what would have been done, say nothing.
    Shadow,
    /// Nothing to do (chit-chat): logged as `none`.
    Nothing,
}

impl Act {
    /// The decision log's `outcome` while the act is under way (or for good, for the quiet ones).
    pub fn outcome(self) -> &'static str {
        match self {
            Act::Auto => "acting",
            Act::Ask => "asking",
            Act::Log => "logged",
            Act::Shadow => "shadow",
            Act::Nothing => "none",
        }
    }
}

/// Whether the bot reads `channel` at all.
pub fn reads(config: &ConversationConfig, channel: &str) -> bool {
    config.enabled && (config.channels.is_empty() || config.channels.iter().any(|c| same_channel(c, channel)))
}

pub fn thresholds(config: &ConversationConfig, decision: &str) -> Option<Thresholds> {
    match decision {
        "comment" => Some(config.comment),
        "move" => Some(config.move_),
        "create" => Some(config.create),
        _ => None,
    }
}

pub fn act(config: &ConversationConfig, channel: &str, decision: &MatchDecision) -> Act {
    let Some(thresholds) = thresholds(config, decision.decision) else {
        return Act::Nothing;
    };
    if config.shadow_channels.iter().any(|c| same_channel(c, channel)) {
        Act::Shadow
    } else if decision.confidence >= thresholds.auto {
        Act::Auto
    } else if decision.confidence >= thresholds.ask {
        Act::Ask
    } else {
        Act::Log
    }
}

/// A decision a language model changed or produced, or one its author may not make
/// themselves, never acts alone: at most it is suggested, whatever its confidence.
pub fn capped(act: Act, may_act_alone: bool) -> Act {
    match act {
        Act::Auto if !may_act_alone => Act::Ask,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_not_act_alone_is_at_most_a_suggestion() {
        assert_eq!(capped(Act::Auto, false), Act::Ask);
        assert_eq!(capped(Act::Auto, true), Act::Auto);
        assert_eq!(capped(Act::Ask, false), Act::Ask);
        assert_eq!(capped(Act::Log, false), Act::Log);
        assert_eq!(capped(Act::Shadow, false), Act::Shadow);
    }

    fn decision(kind: &'static str, confidence: f64) -> MatchDecision {
        MatchDecision {
            id: "1".into(),
            decision: kind,
            ticket: Some("ENG-1".into()),
            status: None,
            confidence,
            rationale: String::new(),
        }
    }

    #[test]
    fn thresholds_are_inclusive_at_auto_and_ask() {
        let config = ConversationConfig::default();
        assert_eq!(act(&config, "#eng", &decision("comment", 0.9)), Act::Auto);
        assert_eq!(act(&config, "#eng", &decision("comment", 0.899)), Act::Ask);
        assert_eq!(act(&config, "#eng", &decision("comment", 0.6)), Act::Ask);
        assert_eq!(act(&config, "#eng", &decision("comment", 0.599)), Act::Log);
        assert_eq!(act(&config, "#eng", &decision("create", 0.6)), Act::Ask);
        assert_eq!(act(&config, "#eng", &decision("none", 0.99)), Act::Nothing);
    }

    #[test]
    fn a_shadow_channel_only_logs_whatever_the_confidence() {
        let config = ConversationConfig { shadow_channels: vec!["#support".into()], ..ConversationConfig::default() };
        assert_eq!(act(&config, "support", &decision("move", 0.99)), Act::Shadow);
        assert_eq!(act(&config, "#eng", &decision("move", 0.99)), Act::Auto);
        assert_eq!(act(&config, "support", &decision("none", 0.99)), Act::Nothing);
    }

    #[test]
    fn only_listed_channels_are_read_when_some_are_listed() {
        let mut config = ConversationConfig::default();
        assert!(reads(&config, "C123"));
        config.channels = vec!["#eng".into(), "C123".into()];
        assert!(reads(&config, "eng") && reads(&config, "c123") && !reads(&config, "#random"));
        config.enabled = false;
        assert!(!reads(&config, "#eng"));
    }
}
