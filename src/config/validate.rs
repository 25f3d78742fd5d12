//! Checks that need more than one field: references between people and projects,
//! uniqueness, formats and ranges. Returns the first problem with its field path.

use super::Config;
use std::collections::HashSet;

/// `(field path, reason)` of the first problem found.
pub(super) fn validate(config: &Config) -> Result<(), (String, String)> {
    team(config)?;
    people(config)?;
    projects(config)?;
    standup(config)?;
    conversation(config)?;
    queue(config)?;
    fix(config)?;
    intake(config)?;
    schedules(config)
}

/// The AI queue: approvers are roles or people of the team, limits are positive, gates
/// have names and commands, critical paths are globs, repositories are named.
fn fix(config: &Config) -> Result<(), (String, String)> {
    let fix = &config.fix;
    for (field, list) in [("spec_approvers", &fix.spec_approvers), ("pr_approvers", &fix.pr_approvers)] {
        if list.is_empty() {
            return fail(format!("fix.{field}"), "name at least one role (pm, lead) or person");
        }
        for (i, entry) in list.iter().enumerate() {
            let handle = entry.trim_start_matches('@');
            let known = matches!(entry.as_str(), "pm" | "lead") || config.people.iter().any(|p| p.handle == handle);
            if !known {
                return fail(
                    format!("fix.{field}[{i}]"),
                    format!("\"{entry}\" is neither pm, lead nor a person's handle"),
                );
            }
        }
    }
    for (field, value) in [
        ("spec_timeout_hours", fix.spec_timeout_hours),
        ("pr_timeout_hours", fix.pr_timeout_hours),
        ("memory_mb", fix.memory_mb),
        ("max_runs_per_hour", u64::from(fix.max_runs_per_hour)),
        ("max_concurrent_runs", u64::from(fix.max_concurrent_runs)),
        ("max_processes", u64::from(fix.max_processes)),
    ] {
        if value == 0 {
            return fail(format!("fix.{field}"), "must be at least 1");
        }
    }
    // The fix job's own limit is 4 h, for the agent, the gates and the rest.
    if !(fix.max_execution_minutes > 0.0 && fix.max_execution_minutes <= 180.0) {
        return fail("fix.max_execution_minutes", "between a few seconds (0.1) and three hours (180)");
    }
    if fix.agent.trim().is_empty() {
        return fail("fix.agent", "use \"builtin\" or an agent's command");
    }
    gates("fix.gates", &fix.gates)?;
    globs("fix.critical_paths", &fix.critical_paths)?;
    for (i, project) in config.projects.iter().enumerate() {
        let Some(p) = &project.fix else { continue };
        let at = format!("projects[{i}].fix");
        if p.repository.trim().is_empty() {
            return fail(format!("{at}.repository"), "a local path or a clone URL");
        }
        if p.default_branch.trim().is_empty() || p.default_branch.contains(' ') {
            return fail(format!("{at}.default_branch"), "a branch name");
        }
        if p.agent.as_ref().is_some_and(|a| a.trim().is_empty()) {
            return fail(format!("{at}.agent"), "use \"builtin\" or an agent's command");
        }
        if let Some(list) = &p.gates {
            gates(&format!("{at}.gates"), list)?;
        }
        globs(&format!("{at}.critical_paths"), &p.critical_paths)?;
    }
    Ok(())
}

/// Alert routes, the fallback, feedback sources and GitHub repositories name real things.
fn intake(config: &Config) -> Result<(), (String, String)> {
    let known = |key: &str| config.projects.iter().any(|p| p.key == key);
    if let Some(key) = &config.intake.alerts_project {
        if !known(key) {
            return fail("intake.alerts_project", format!("no project has the key \"{key}\""));
        }
    }
    for (i, route) in config.intake.routes.iter().enumerate() {
        if !known(&route.project) {
            return fail(
                format!("intake.routes[{i}].project"),
                format!("no project has the key \"{}\"", route.project),
            );
        }
    }
    let mut names = HashSet::new();
    for (i, source) in config.intake.feedback.iter().enumerate() {
        let fine = !source.name.is_empty()
            && source.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !fine || !names.insert(source.name.as_str()) {
            return fail(
                format!("intake.feedback[{i}].name"),
                "each source needs its own name of lowercase letters, digits and -",
            );
        }
        if !known(&source.project) {
            return fail(
                format!("intake.feedback[{i}].project"),
                format!("no project has the key \"{}\"", source.project),
            );
        }
        if let Some(origin) = source
            .origins
            .iter()
            .find(|o| url::Url::parse(o).map_or(true, |u| u.origin().ascii_serialization() != o.as_str()))
        {
            return fail(
                format!("intake.feedback[{i}].origins"),
                format!("\"{origin}\" is not an origin (scheme://host[:port], no path or trailing slash)"),
            );
        }
    }
    for (i, project) in config.projects.iter().enumerate() {
        if let Some(github) = &project.github {
            if crate::forge::github::policy::repo_slug(&format!("https://github.com/{}", github.repo)).as_deref()
                != Some(github.repo.as_str())
            {
                return fail(format!("projects[{i}].github.repo"), "must be owner/name");
            }
        }
    }
    Ok(())
}

fn gates(at: &str, list: &[super::GateConfig]) -> Result<(), (String, String)> {
    let mut names = HashSet::new();
    for (i, gate) in list.iter().enumerate() {
        if gate.name.trim().is_empty() || !names.insert(gate.name.as_str()) {
            return fail(format!("{at}[{i}].name"), "each gate needs a name of its own");
        }
        if gate.command.trim().is_empty() {
            return fail(format!("{at}[{i}].command"), "the command the gate runs");
        }
        if gate.timeout_seconds == 0 {
            return fail(format!("{at}[{i}].timeout_seconds"), "must be at least 1");
        }
    }
    Ok(())
}

fn globs(at: &str, list: &[String]) -> Result<(), (String, String)> {
    for (i, g) in list.iter().enumerate() {
        if let Err(err) = glob::Pattern::new(g) {
            return fail(format!("{at}[{i}]"), format!("\"{g}\" is not a glob: {err}"));
        }
    }
    Ok(())
}

fn fail<T>(path: impl Into<String>, reason: impl Into<String>) -> Result<T, (String, String)> {
    Err((path.into(), reason.into()))
}

fn team(config: &Config) -> Result<(), (String, String)> {
    let team = &config.team;
    if team.workspace.is_empty() || !team.workspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return fail("team.workspace", "use letters, digits, '-' or '_'");
    }
    if team.working_days.is_empty() {
        return fail("team.working_days", "name at least one working day");
    }
    if let Some(key) = &team.default_project {
        if !config.projects.iter().any(|p| &p.key == key) {
            return fail("team.default_project", format!("no project has the key \"{key}\""));
        }
    }
    Ok(())
}

fn people(config: &Config) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, person) in config.people.iter().enumerate() {
        let handle = &person.handle;
        let valid = !handle.is_empty()
            && handle.len() <= 32
            && handle.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !valid {
            return fail(
                format!("people[{i}].handle"),
                format!("\"{handle}\" must be 1-32 lowercase letters, digits, '.', '_' or '-'"),
            );
        }
        if !seen.insert(handle.as_str()) {
            return fail(format!("people[{i}].handle"), format!("\"{handle}\" is used by two people"));
        }
        if person.name.trim().is_empty() {
            return fail(format!("people[{i}].name"), "must not be empty");
        }
    }
    Ok(())
}

fn projects(config: &Config) -> Result<(), (String, String)> {
    let mut seen = HashSet::new();
    for (i, project) in config.projects.iter().enumerate() {
        let key = &project.key;
        let valid = (2..=10).contains(&key.len())
            && key.starts_with(|c: char| c.is_ascii_uppercase())
            && key.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !valid {
            return fail(
                format!("projects[{i}].key"),
                format!("\"{key}\" must be 2-10 capital letters or digits, starting with a letter"),
            );
        }
        if !seen.insert(key.as_str()) {
            return fail(format!("projects[{i}].key"), format!("\"{key}\" is used by two projects"));
        }
        if let Some(pm) = &project.pm {
            if !config.people.iter().any(|p| &p.handle == pm) {
                return fail(format!("projects[{i}].pm"), format!("no person has the handle \"{pm}\""));
            }
        }
        for (field, value) in [("retainer_hours", project.retainer_hours), ("hourly_rate", project.hourly_rate)] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return fail(format!("projects[{i}].{field}"), "must be a positive number");
            }
        }
        if project.kind == crate::board::ProjectKind::Retainer && project.retainer_hours.is_none() {
            return fail(format!("projects[{i}].retainer_hours"), "a retainer project needs its monthly hours");
        }
        if let Some(tracker) = &project.tracker {
            self::tracker(&format!("projects[{i}].tracker"), key, tracker)?;
        }
    }
    Ok(())
}

fn tracker(at: &str, project: &str, tracker: &super::TrackerConfig) -> Result<(), (String, String)> {
    use super::TrackerKind;
    match tracker.kind {
        TrackerKind::Builtin | TrackerKind::Linear | TrackerKind::Jira => {}
        TrackerKind::Github => {
            return fail(format!("{at}.kind"), "\"builtin\", \"linear\" and \"jira\" are supported in this version")
        }
    }
    if matches!(tracker.kind, TrackerKind::Linear | TrackerKind::Jira) {
        match &tracker.team {
            None => return fail(format!("{at}.team"), "the tracker's key for the project is needed (Linear's team, Jira's project)"),
            Some(team) if team != project => {
                return fail(
                    format!("{at}.team"),
                    format!(
                        "must be the project's key (\"{project}\"): the tracker's keys ({team}-12) become the tickets' keys"
                    ),
                )
            }
            Some(_) => {}
        }
    }
    if tracker.poll.parse::<croner::Cron>().is_err() {
        return fail(format!("{at}.poll"), format!("\"{}\" is not a cron expression", tracker.poll));
    }
    Ok(())
}

fn conversation(config: &Config) -> Result<(), (String, String)> {
    let conversation = &config.conversation;
    for (name, t) in [("comment", conversation.comment), ("move", conversation.move_), ("create", conversation.create)]
    {
        if !(0.0..=1.0).contains(&t.ask) || !(0.0..=1.0).contains(&t.auto) {
            return fail(format!("conversation.{name}"), "auto and ask must be between 0 and 1");
        }
        if t.ask > t.auto {
            return fail(format!("conversation.{name}.ask"), format!("{} is above auto ({})", t.ask, t.auto));
        }
    }
    if conversation.label.trim().is_empty() {
        return fail("conversation.label", "must not be empty");
    }
    if !(1..=720).contains(&conversation.suggestion_expiry_hours) {
        return fail("conversation.suggestion_expiry_hours", "must be between 1 and 720");
    }
    if let Err(err) = config.hours.schedule.parse::<croner::Cron>() {
        return fail("hours.schedule", format!("\"{}\" is not a cron expression: {err}", config.hours.schedule));
    }
    if let Err(err) = config.retention.schedule.parse::<croner::Cron>() {
        return fail(
            "retention.schedule",
            format!("\"{}\" is not a cron expression: {err}", config.retention.schedule),
        );
    }
    let retention = &config.retention;
    for (field, days, at_least) in [
        ("retention.chat_messages_days", retention.chat_messages_days, 1),
        ("retention.decisions_days", retention.decisions_days, 1),
        ("retention.approvals_days", retention.approvals_days, 1),
        // Agents' keys are per week or month: a shorter memory would send again.
        ("retention.agent_sends_days", retention.agent_sends_days, 62),
        ("retention.reports_days", retention.reports_days, 1),
    ] {
        if days < at_least {
            return fail(field, format!("{days} is too short; at least {at_least}"));
        }
    }
    // A suggestion's or triage's answer needs its decision and approval to still be there.
    let waits_days = config.conversation.suggestion_expiry_hours.max(config.queue.triage_expiry_hours).div_ceil(24);
    for (field, days) in
        [("retention.decisions_days", retention.decisions_days), ("retention.approvals_days", retention.approvals_days)]
    {
        if u64::from(days) <= waits_days {
            return fail(field, format!("{days} is shorter than a suggestion or triage may wait ({waits_days} days)"));
        }
    }
    if let Err(err) = config.digest.schedule.parse::<croner::Cron>() {
        return fail("digest.schedule", format!("\"{}\" is not a cron expression: {err}", config.digest.schedule));
    }
    let agents = &config.agents;
    for (path, expression) in [
        ("agents.compliance.schedule", &agents.compliance.schedule),
        ("agents.budget.schedule", &agents.budget.schedule),
    ] {
        if let Err(err) = expression.parse::<croner::Cron>() {
            return fail(path, format!("\"{expression}\" is not a cron expression: {err}"));
        }
    }
    let c = &agents.compliance;
    if !(c.partial_hours >= 0.0 && c.partial_hours <= c.compliant_hours && c.compliant_hours <= 168.0) {
        return fail("agents.compliance", "need 0 <= partial_hours <= compliant_hours <= 168");
    }
    if agents.budget.thresholds.is_empty() || agents.budget.thresholds.iter().any(|t| !(1..=1000).contains(t)) {
        return fail("agents.budget.thresholds", "list percentages between 1 and 1000, e.g. [75, 90, 100]");
    }
    for (i, expression) in agents.forecast.schedules.iter().enumerate() {
        if let Err(err) = expression.parse::<croner::Cron>() {
            return fail(
                format!("agents.forecast.schedules[{i}]"),
                format!("\"{expression}\" is not a cron expression: {err}"),
            );
        }
    }
    let stuck = &agents.stuck;
    if !(stuck.floor_days >= 0.0
        && stuck.floor_days <= stuck.dm_after_days
        && stuck.dm_after_days <= stuck.escalate_after_days)
    {
        return fail("agents.stuck", "need 0 <= floor_days <= dm_after_days <= escalate_after_days");
    }
    for (i, person) in config.people.iter().enumerate() {
        if !(0.0..=80.0).contains(&person.weekly_hours) {
            return fail(format!("people[{i}].weekly_hours"), "must be between 0 and 80");
        }
    }
    if !(1..=120).contains(&config.llm.timeout_seconds) {
        return fail("llm.timeout_seconds", "must be between 1 and 120");
    }
    Ok(())
}

fn standup(config: &Config) -> Result<(), (String, String)> {
    let standup = &config.standup;
    if let Err(err) = standup.schedule.parse::<croner::Cron>() {
        return fail("standup.schedule", format!("\"{}\" is not a cron expression: {err}", standup.schedule));
    }
    if !(1..=50).contains(&standup.top_items) {
        return fail("standup.top_items", "must be between 1 and 50");
    }
    if standup.channel.trim().is_empty() {
        return fail("standup.channel", "must not be empty");
    }
    Ok(())
}

fn queue(config: &Config) -> Result<(), (String, String)> {
    let queue = &config.queue;
    for (field, value, max) in [
        ("concurrency", queue.concurrency as u64, 256),
        ("poll_seconds", queue.poll_seconds, 3600),
        ("lease_seconds", queue.lease_seconds, 3600),
        ("catch_up_minutes", queue.catch_up_minutes, 7 * 24 * 60),
        ("retention_hours", queue.retention_hours, 10 * 365 * 24),
        ("shutdown_grace_seconds", queue.shutdown_grace_seconds, 3600),
        ("triage_expiry_hours", queue.triage_expiry_hours, 365 * 24),
    ] {
        let min = u64::from(field != "catch_up_minutes" && field != "shutdown_grace_seconds");
        if !(min..=max).contains(&value) {
            return fail(format!("queue.{field}"), format!("must be between {min} and {max}"));
        }
    }
    if queue.retention_hours * 60 < queue.catch_up_minutes {
        return fail("queue.retention_hours", "must cover queue.catch_up_minutes, or a pruned firing could run again");
    }
    Ok(())
}

fn schedules(config: &Config) -> Result<(), (String, String)> {
    let mut seen =
        HashSet::from(["standup", "digest", "compliance", "budget", "stuck", "epics", "forecast", "month-end"]);
    for (i, schedule) in config.schedules.iter().enumerate() {
        let name = &schedule.name;
        if name.trim().is_empty() || !seen.insert(name.as_str()) {
            return fail(
                format!("schedules[{i}].name"),
                format!(
                    "\"{name}\" must be non-empty and unique (\"standup\", \"digest\" and the agents' names are taken)"
                ),
            );
        }
        if let Err(err) = crate::queue::scheduler::Schedule::parse(name, &schedule.cron) {
            return fail(format!("schedules[{i}].cron"), err.to_string());
        }
        if schedule.job != "standup" {
            return fail(
                format!("schedules[{i}].job"),
                format!("schedule \"{name}\": unknown job \"{}\"; use \"standup\"", schedule.job),
            );
        }
        if let Some(person) = &schedule.person {
            if !config.people.iter().any(|p| &p.handle == person) {
                return fail(
                    format!("schedules[{i}].person"),
                    format!("schedule \"{name}\": no person has the handle \"{person}\""),
                );
            }
        } else if schedule.channel.is_none() {
            return fail(format!("schedules[{i}]"), format!("schedule \"{name}\": name a person (to DM) or a channel"));
        }
    }
    Ok(())
}
