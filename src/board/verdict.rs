//! A person's answer to an approval request.

use std::str::FromStr;

/// A person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
    RequestChanges,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
            Verdict::RequestChanges => "request_changes",
        }
    }

    /// As shown in chat: "approved", "rejected", "asked for changes".
    pub fn past_tense(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Reject => "rejected",
            Verdict::RequestChanges => "asked for changes",
        }
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "approve" => Ok(Verdict::Approve),
            "reject" => Ok(Verdict::Reject),
            "request_changes" | "changes" => Ok(Verdict::RequestChanges),
            other => Err(format!("unknown verdict \"{other}\"")),
        }
    }
}
