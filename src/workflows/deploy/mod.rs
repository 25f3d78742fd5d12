//! The deploy after a merge (`[projects.deploy]`): the team's command, run in a checkout of
//! the merged commit in the sandbox (with network, and only the environment it names), and/or
//! a deploy hook URL. Its result goes to the fix run's thread; a failure reopens the ticket
//! and tells the project's PM; a success tells the bug's reporters it is live.
//!
//! A deploy is never run twice: the job records that it started before it starts, and a job
//! that finds a start without an end (pmbot stopped mid-deploy) says so instead of deploying
//! again.

mod job;

pub use job::DeployJob;

/// How a deploy ended, in words for the thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Deployed { seconds: f64 },
    Failed { why: String },
}

/// The deploy hook's answer: a 2xx is a deploy started; anything else says why not.
pub fn hook_outcome(status: u16, body: &str) -> Result<(), String> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body: String = body.trim().chars().take(300).collect();
    if body.is_empty() {
        Err(format!("the deploy hook answered {status}"))
    } else {
        Err(format!("the deploy hook answered {status}: {body}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_succeeds_on_2xx_only() {
        assert_eq!(hook_outcome(201, "{\"job\":{\"id\":\"x\"}}"), Ok(()));
        assert_eq!(hook_outcome(404, ""), Err("the deploy hook answered 404".into()));
        assert_eq!(hook_outcome(500, " boom \n"), Err("the deploy hook answered 500: boom".into()));
    }
}
