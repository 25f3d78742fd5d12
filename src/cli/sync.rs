//! `pmbot sync [PROJECT] [--full]` and the trackers' part of `pmbot config check [--online]`.

use super::CliError;
use crate::app::App;
use crate::config::{Config, TrackerKind};
use crate::tracker::jira::{Jira, JiraSettings};
use crate::tracker::linear::{Linear, LinearSettings};
use crate::tracker::mapping::{kind_status, StatusMap};
use crate::tracker::sync::{self, Mirror, SyncReport};
use crate::tracker::{RemoteState, Source, TrackerError};
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub async fn run(app: &App, project: Option<&str>, full: bool) -> Result<(), CliError> {
    let config = app.config.clone();
    let mirrored: Vec<_> = config
        .projects
        .iter()
        .filter(|p| project.is_none_or(|key| p.key.eq_ignore_ascii_case(key)))
        .filter_map(|p| Mirror::new(&config, p))
        .collect();
    if mirrored.is_empty() {
        return Err(CliError::Misuse(match project {
            Some(key) => format!("{key} is not a project with a [projects.tracker] (linear or jira) in pmbot.toml"),
            None => "no project has a [projects.tracker] (linear or jira) in pmbot.toml: nothing to sync".into(),
        }));
    }
    let terminal = std::io::stderr().is_terminal();
    for mirror in &mirrored {
        let key = mirror.project.key.clone();
        let kind = mirror.project.tracker.as_ref().map_or(TrackerKind::Builtin, |t| t.kind);
        let source = Source::of(kind, app.linear.as_ref(), app.jira.as_ref())
            .map_err(|why| CliError::Misuse(format!("{key}: {why}: pmbot cannot read {}", mirror.label)))?;
        let started = Instant::now();
        let progress = |r: &SyncReport| {
            let rate = r.read as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let line = format!(
                "{key}: page {} · {} issues read ({} new, {} updated) · {} comments · {rate:.0} issues/s",
                r.pages, r.read, r.created, r.updated, r.comments
            );
            // A line that rewrites itself on a terminal; a line every ten pages in a log.
            if terminal {
                eprint!("\r{line}\x1b[K");
                let _ = std::io::stderr().flush();
            } else if r.pages % 10 == 1 {
                eprintln!("{line}");
            }
        };
        let report = sync::run(&app.store, &source, mirror, full, chrono::Utc::now(), progress)
            .await
            .map_err(|e| CliError::Failure(format!("{key}: {e}")))?;
        if terminal {
            eprintln!();
        }
        println!(
            "{key}: {} issues read in {:.1} s — {} new, {} updated, {} unchanged, {} moves, {} comments, {} deleted",
            report.read,
            started.elapsed().as_secs_f64(),
            report.created,
            report.updated,
            report.unchanged,
            report.moves,
            report.comments,
            report.deleted
        );
        if !report.unmapped.is_empty() {
            let names: Vec<&str> = report.unmapped.iter().map(String::as_str).collect();
            println!(
                "{key}: Linear statuses with no mapping (their tickets stayed where they were): {}",
                names.join(", ")
            );
        }
    }
    Ok(())
}

/// Each tracker's status mapping; `online`, Linear's own statuses compared against it. A
/// status that maps to nothing fails the check.
pub async fn check(config: &Config, online: bool) -> Result<(), CliError> {
    let projects: Vec<_> = config.projects.iter().filter(|p| p.tracker.is_some()).collect();
    if projects.is_empty() {
        return Ok(());
    }
    let linear = LinearSettings::from_env().map(Linear::new);
    let jira = JiraSettings::from_env().map(Jira::new);
    let mut unmapped = Vec::new();
    for project in projects {
        let Some(tracker) = &project.tracker else { continue };
        let label = match tracker.kind {
            TrackerKind::Linear => "Linear team",
            TrackerKind::Jira => "Jira project",
            other => {
                println!("  {}: tracker {other:?}", project.key);
                continue;
            }
        };
        let team = tracker.team.as_deref().unwrap_or(&project.key);
        let named: Vec<String> = tracker.statuses.iter().map(|(name, status)| format!("{name} → {status}")).collect();
        println!(
            "  {}: {label} {team}, synced \"{}\"{}; statuses named: {}; others {}",
            project.key,
            tracker.poll,
            if tracker.write_back { ", pmbot's changes written back" } else { "" },
            if named.is_empty() { "none".into() } else { named.join(", ") },
            if tracker.map_by_kind { "by category" } else { "unmapped" }
        );
        if !online {
            continue;
        }
        let states: Result<Vec<RemoteState>, TrackerError> = match (tracker.kind, &linear, &jira) {
            (TrackerKind::Linear, Some(linear), _) => linear.workflow_states(team).await,
            (TrackerKind::Jira, _, Some(jira)) => jira.statuses(team).await,
            _ => {
                println!("    --online: the tracker's credentials are not set, its statuses were not read");
                continue;
            }
        };
        let map = StatusMap::new(tracker);
        match states {
            Ok(states) => {
                for state in states {
                    let how = match (map.by_name(&state.name), map.status(&state)) {
                        (Some(status), _) => format!("→ {status}"),
                        (None, Some(status)) => format!("→ {status} (by its category, {})", state.kind),
                        (None, None) => {
                            unmapped.push(format!("{}: {}", project.key, state.name));
                            let hint = kind_status(&state.kind).map(|s| format!(" (its category suggests {s})"));
                            format!("UNMAPPED{}", hint.unwrap_or_default())
                        }
                    };
                    println!("    {:<16} {how}", state.name);
                }
            }
            Err(err) => return Err(CliError::Failure(format!("{}: {err}", project.key))),
        }
    }
    if unmapped.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failure(format!(
            "tracker statuses with no mapping (add them to [projects.tracker.statuses]): {}",
            unmapped.join(", ")
        )))
    }
}

/// `pmbot hours [--full]`: hours read from Tempo or Jira now, with progress.
pub async fn hours(app: &App, full: bool) -> Result<(), CliError> {
    use crate::tracker::hours;
    let source = hours::source(&app.config, app.tempo.as_deref(), app.jira.as_deref())
        .map_err(|why| CliError::Misuse(format!("{why}: pmbot cannot read hours ([hours] source)")))?;
    let started = Instant::now();
    let progress = |r: &hours::HoursReport| {
        eprintln!("hours: page {} · {} worklogs read ({} new, {} updated)", r.pages, r.read, r.added, r.updated);
    };
    let report = hours::run(&app.store, &app.workspace(), &app.config, source, full, progress)
        .await
        .map_err(|e| CliError::Failure(format!("hours: {e}")))?;
    println!(
        "hours: {} worklogs read in {:.1} s — {} new, {} with corrected hours, {} unchanged; not counted: {} on issues the board does not mirror, {} by accounts no person has (see `pmbot people doctor`)",
        report.read,
        started.elapsed().as_secs_f64(),
        report.added,
        report.updated,
        report.unchanged,
        report.unknown_issue,
        report.unknown_person
    );
    Ok(())
}

/// `pmbot people doctor`: who lacks the ids that tie them to the trackers' data, and ids seen
/// in that data that map to nobody.
pub async fn people_doctor(app: &App) -> Result<(), CliError> {
    let config = &app.config;
    let trackers = config.projects.iter().any(|p| p.tracker.is_some());
    println!("People ({}):", config.people.len());
    for p in &config.people {
        let mut missing = Vec::new();
        if trackers && p.tracker_id.is_none() {
            missing.push("tracker_id");
        }
        if config.hours.enabled && p.time_tracking_id.is_none() && p.tracker_id.is_none() {
            missing.push("time_tracking_id (or tracker_id)");
        }
        if missing.is_empty() {
            println!("  {:<10} ok", p.handle);
        } else {
            println!("  {:<10} no {}: their work on the tracker is not credited to them", p.handle, missing.join(", "));
        }
    }
    let unknown = app.store.unknown_people(&app.workspace()).await?;
    if unknown.is_empty() {
        println!("Ids in the data that map to nobody: none.");
    } else {
        println!("Ids in the data that map to nobody (add them to a person in pmbot.toml):");
        for u in &unknown {
            println!(
                "  {:<7} {:<40} {:<22} seen {}×, last {}",
                u.source,
                u.external_id,
                u.name,
                u.seen,
                u.last_seen.format("%Y-%m-%d %H:%M UTC")
            );
        }
    }
    Ok(())
}
