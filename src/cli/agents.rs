//! `pmbot run <agent>`, `pmbot worklogs import`, `pmbot forecasts import`.

use super::CliError;
use crate::app::App;
use crate::chat::shell::render::render;
use crate::chat::shell::ShellChat;
use crate::store::{identities, Imported};
use crate::workflows::agents::{self, import, Agent, Sent};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use std::path::Path;

/// `pmbot run`: what the agent sends now (or at `--at`), through the terminal chat.
pub async fn run(app: &App, agent: Agent, dry_run: bool, at: Option<&str>) -> Result<(), CliError> {
    let now = match at {
        Some(text) => instant_in(text, app.config.team.timezone)?,
        None => Utc::now(),
    };
    let ws = app.workspace();
    let plan = agents::plan(agent, &app.store, &ws, &app.config, &app.templates, now)
        .await
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let chat = ShellChat::new(Box::new(std::io::stdout()), super::stdout_style());
    let local = now.with_timezone(&app.config.team.timezone).format("%a %-d %b %Y %H:%M %Z");
    chat.note(&format!(
        "{} agent as of {local}: {} ({} message{})",
        agent.as_str(),
        plan.period,
        plan.sends.len(),
        if plan.sends.len() == 1 { "" } else { "s" }
    ))
    .map_err(|e| CliError::Failure(e.to_string()))?;
    if dry_run {
        let outcome = agents::deliver(&plan, &app.store, &ws, &app.config, &chat, now, true)
            .await
            .map_err(|e| CliError::Failure(e.to_string()))?;
        for (send, sent) in plan.sends.iter().zip(&outcome) {
            let state = if *sent == Sent::Already { "already sent" } else { "would send" };
            // Rendered as the terminal chat shows messages: no raw *mrkdwn* markers.
            let heading = format!("\n[{state}] {} · {}", send.to.describe(), send.key);
            let text = render(&heading, &send.message, super::stdout_style(), 1);
            chat.note(text.trim_end()).map_err(|e| CliError::Failure(e.to_string()))?;
        }
        chat.note("\n(dry run: nothing was sent or recorded)").map_err(|e| CliError::Failure(e.to_string()))?;
        return Ok(());
    }
    let outcome = agents::deliver(&plan, &app.store, &ws, &app.config, &chat, now, false)
        .await
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let count = |kind: Sent| outcome.iter().filter(|s| **s == kind).count();
    chat.note(&format!("\nSent {}; {} already sent before for this period.", count(Sent::Sent), count(Sent::Already)))
        .map_err(|e| CliError::Failure(e.to_string()))?;
    Ok(())
}

/// RFC 3339, or a local date and time in the team's zone ("2026-11-16 10:00", "2026-11-16").
fn instant_in(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, CliError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(9, 0, 0)));
    let Some(local) = local else {
        return Err(CliError::Misuse(format!(
            "--at \"{text}\" is not a date and time; use \"2026-11-16 10:00\" (team time zone) or RFC 3339"
        )));
    };
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CliError::Misuse(format!("--at \"{text}\" does not exist in {} (a clock change)", tz.name())))
}

/// `pmbot worklogs import FILE`: every row or none, unless `skip_bad_rows`.
pub async fn import_worklogs(app: &App, file: &Path, skip_bad_rows: bool) -> Result<(), CliError> {
    let text = read(file)?;
    let people: Vec<&str> = app.config.people.iter().map(|p| p.handle.as_str()).collect();
    let projects: Vec<&str> = app.config.projects.iter().map(|p| p.key.as_str()).collect();
    let parsed = import::worklogs(&text, &people, &projects).map_err(|bad| bad_file(file, &[bad]))?;
    refuse_bad_rows(file, &parsed.bad, skip_bad_rows)?;
    let ws = app.workspace();
    let now = Utc::now();
    let source =
        format!("csv:{}", file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into()));
    // Idempotent: a row already imported (same identity, see `Worklog::identity`) is found,
    // not added again; with other hours, its hours are corrected.
    let mut tx = app.store.begin().await?;
    let mut outcomes = Vec::with_capacity(parsed.rows.len());
    for (row, identity) in parsed.rows.iter().zip(identities(&parsed.rows)) {
        outcomes.push(tx.add_worklog(&ws, row, &identity, &source, now).await?);
    }
    tx.commit().await?;
    let count = |kind: Imported| outcomes.iter().filter(|o| **o == kind).count();
    let added: f64 =
        parsed.rows.iter().zip(&outcomes).filter(|(_, o)| **o == Imported::Added).map(|(r, _)| r.hours).sum();
    let mut already = String::new();
    if count(Imported::Unchanged) + count(Imported::Updated) > 0 {
        already = format!(
            "; {} were there already ({} with corrected hours)",
            count(Imported::Unchanged) + count(Imported::Updated),
            count(Imported::Updated)
        );
    }
    println!(
        "Imported {} worklogs ({}) from {}{}{}.",
        count(Imported::Added),
        crate::workflows::agents::hours(added),
        file.display(),
        already,
        skipped(&parsed.bad)
    );
    Ok(())
}

/// `pmbot forecasts import FILE`: every row or none, unless `skip_bad_rows`.
pub async fn import_forecasts(app: &App, file: &Path, skip_bad_rows: bool) -> Result<(), CliError> {
    let text = read(file)?;
    let projects: Vec<&str> = app.config.projects.iter().map(|p| p.key.as_str()).collect();
    let parsed = import::forecasts(&text, &projects).map_err(|bad| bad_file(file, &[bad]))?;
    refuse_bad_rows(file, &parsed.bad, skip_bad_rows)?;
    let ws = app.workspace();
    let now = Utc::now();
    let mut tx = app.store.begin().await?;
    for row in &parsed.rows {
        match row.month {
            Some(month) => {
                let month = month.format("%Y-%m").to_string();
                tx.set_forecast_month(&ws, &row.project, &row.epic, &month, row.hours, now).await?
            }
            None => tx.set_forecast(&ws, &row.project, &row.epic, row.hours, now).await?,
        }
    }
    tx.commit().await?;
    println!("Imported {} forecasts from {}{}.", parsed.rows.len(), file.display(), skipped(&parsed.bad));
    Ok(())
}

fn read(file: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(file).map_err(|e| CliError::Misuse(format!("cannot read {}: {e}", file.display())))
}

fn refuse_bad_rows(file: &Path, bad: &[import::BadRow], skip: bool) -> Result<(), CliError> {
    if bad.is_empty() || skip {
        for row in bad {
            eprintln!("skipped {}: {row}", file.display());
        }
        return Ok(());
    }
    Err(bad_file(file, bad))
}

fn bad_file(file: &Path, bad: &[import::BadRow]) -> CliError {
    let lines: Vec<String> = bad.iter().map(|b| format!("  {}: {b}", file.display())).collect();
    CliError::Misuse(format!(
        "{} bad row{} in {}; nothing was imported (fix them, or pass --skip-bad-rows):\n{}",
        bad.len(),
        if bad.len() == 1 { "" } else { "s" },
        file.display(),
        lines.join("\n")
    ))
}

fn skipped(bad: &[import::BadRow]) -> String {
    if bad.is_empty() {
        String::new()
    } else {
        format!("; skipped {} bad row{}", bad.len(), if bad.len() == 1 { "" } else { "s" })
    }
}

/// `pmbot reports list` and `pmbot reports save NAME [--to FILE]`.
pub async fn reports(app: &App, action: super::ReportsAction) -> Result<(), CliError> {
    let ws = app.workspace();
    match action {
        super::ReportsAction::List => {
            let all = app.store.reports(&ws).await?;
            for (name, size, at) in &all {
                println!("{name}  {:.1} KB  {}", *size as f64 / 1024.0, at.format("%Y-%m-%d %H:%M UTC"));
            }
            println!("{} report{}", all.len(), if all.len() == 1 { "" } else { "s" });
            Ok(())
        }
        super::ReportsAction::Save { name, to } => {
            let bytes = app.store.report(&ws, &name).await?.ok_or_else(|| {
                CliError::Misuse(format!("there is no report \"{name}\"; `pmbot reports list` shows them"))
            })?;
            let path = to.unwrap_or_else(|| Path::new(&name).to_path_buf());
            std::fs::write(&path, &bytes)
                .map_err(|e| CliError::Failure(format!("cannot write {}: {e}", path.display())))?;
            println!("Saved {name} ({:.1} KB) to {}.", bytes.len() as f64 / 1024.0, path.display());
            Ok(())
        }
    }
}
