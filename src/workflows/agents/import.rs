//! Reading worklog and forecast CSV files. Pure: text in; rows, or every bad row with its line
//! number and what is wrong with it. The caller stores all rows or none.

use crate::store::Worklog;
use chrono::NaiveDate;
use std::collections::HashMap;

/// A row that cannot be imported, by its line in the file (the header is line 1).
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub line: u64,
    pub problem: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// What a file held: the good rows and the bad ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub bad: Vec<BadRow>,
}

/// The columns a file must have, in any order; others are ignored.
fn columns(reader: &mut csv::Reader<&[u8]>, wanted: &[&'static str]) -> Result<HashMap<&'static str, usize>, BadRow> {
    let header = reader.headers().map_err(|e| BadRow { line: 1, problem: format!("unreadable header: {e}") })?;
    let mut found = HashMap::new();
    for name in wanted {
        match header.iter().position(|h| h.trim().eq_ignore_ascii_case(name)) {
            Some(at) => {
                found.insert(*name, at);
            }
            None => {
                let have: Vec<&str> = header.iter().collect();
                return Err(BadRow {
                    line: 1,
                    problem: format!("no \"{name}\" column (the header has: {})", have.join(", ")),
                });
            }
        }
    }
    Ok(found)
}

/// `person, date, hours, project, epic, ticket, description`; people by handle, projects by
/// key (case-insensitive), dates as YYYY-MM-DD, hours above 0 and at most 24.
pub fn worklogs(text: &str, people: &[&str], projects: &[&str]) -> Result<Parsed<Worklog>, BadRow> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let at = columns(&mut reader, &["person", "date", "hours", "project", "epic", "ticket", "description"])?;
    let mut parsed = Parsed { rows: Vec::new(), bad: Vec::new() };
    for (n, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(n as u64 + 2, |p| p.line());
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                parsed.bad.push(BadRow { line, problem: format!("unreadable: {e}") });
                continue;
            }
        };
        let field = |name: &str| record.get(at[name]).unwrap_or("").to_string();
        let mut problems = Vec::new();
        let person = field("person");
        if !people.contains(&person.as_str()) {
            problems.push(format!("unknown person \"{person}\""));
        }
        let date = field("date");
        if NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_err() {
            problems.push(format!("bad date \"{date}\" (use YYYY-MM-DD)"));
        }
        let hours_text = field("hours");
        let hours = match hours_text.replace(',', ".").parse::<f64>() {
            Ok(h) if h.is_finite() && h > 0.0 && h <= 24.0 => h,
            Ok(h) if h <= 0.0 => {
                problems.push(format!("hours must be above 0 (got {hours_text})"));
                0.0
            }
            _ => {
                problems.push(format!("bad hours \"{hours_text}\" (a number up to 24)"));
                0.0
            }
        };
        let project = field("project").to_uppercase();
        if !projects.iter().any(|p| p.eq_ignore_ascii_case(&project)) {
            problems.push(format!("unknown project \"{}\"", field("project")));
        }
        if problems.is_empty() {
            let optional = |name: &str| Some(field(name)).filter(|v| !v.is_empty());
            parsed.rows.push(Worklog {
                person,
                day: date,
                hours,
                project,
                epic: optional("epic"),
                ticket: optional("ticket").map(|t| t.to_uppercase()),
                description: field("description"),
            });
        } else {
            parsed.bad.push(BadRow { line, problem: problems.join("; ") });
        }
    }
    Ok(parsed)
}

/// A forecast: `project, epic, hours`, and with a `month` column the month it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    pub project: String,
    pub epic: String,
    pub hours: f64,
    /// The first day of the month, when the file has a month column.
    pub month: Option<chrono::NaiveDate>,
}

/// A month as `2026-11` or a date in it (`2026-11-01`).
fn month(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    let day = text.get(..7).filter(|_| text.len() == 7).map(|m| format!("{m}-01")).unwrap_or_else(|| text.to_string());
    let date = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").ok()?;
    chrono::Datelike::with_day(&date, 1)
}

pub fn forecasts(text: &str, projects: &[&str]) -> Result<Parsed<Forecast>, BadRow> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let at = columns(&mut reader, &["project", "epic", "hours"])?;
    let month_at = reader.headers().ok().and_then(|h| h.iter().position(|c| c.trim().eq_ignore_ascii_case("month")));
    let mut parsed = Parsed { rows: Vec::new(), bad: Vec::new() };
    for (n, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(n as u64 + 2, |p| p.line());
        let Ok(record) = record else {
            parsed.bad.push(BadRow { line, problem: "unreadable row".into() });
            continue;
        };
        let field = |name: &str| record.get(at[name]).unwrap_or("").to_string();
        let mut problems = Vec::new();
        let project = field("project").to_uppercase();
        if !projects.iter().any(|p| p.eq_ignore_ascii_case(&project)) {
            problems.push(format!("unknown project \"{}\"", field("project")));
        }
        let epic = field("epic");
        if epic.is_empty() {
            problems.push("no epic".to_string());
        }
        let hours = match field("hours").replace(',', ".").parse::<f64>() {
            Ok(h) if h.is_finite() && h >= 0.0 => h,
            _ => {
                problems.push(format!("bad hours \"{}\" (a number, 0 or more)", field("hours")));
                0.0
            }
        };
        let month = match month_at.map(|at| record.get(at).unwrap_or("").to_string()) {
            None => None,
            Some(text) => match self::month(&text) {
                Some(month) => Some(month),
                None => {
                    problems.push(format!("bad month \"{text}\" (2026-11, or a date in the month)"));
                    None
                }
            },
        };
        if problems.is_empty() {
            parsed.rows.push(Forecast { project, epic, hours, month });
        } else {
            parsed.bad.push(BadRow { line, problem: problems.join("; ") });
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEOPLE: &[&str] = &["ana", "ben"];
    const PROJECTS: &[&str] = &["WEB", "APP"];

    #[test]
    fn forecasts_may_be_per_month() {
        let parsed = forecasts(
            "project,epic,month,hours\nWEB,Checkout,2026-11,40\nWEB,Checkout,2026-12-15,30\nWEB,Search,Nov,3\n",
            PROJECTS,
        )
        .unwrap();
        let months: Vec<String> = parsed.rows.iter().map(|r| r.month.unwrap().to_string()).collect();
        assert_eq!(months, ["2026-11-01", "2026-12-01"]);
        assert_eq!(parsed.bad.len(), 1);
        assert!(parsed.bad[0].problem.contains("bad month \"Nov\""), "{:?}", parsed.bad);
    }

    #[test]
    fn good_rows_are_read_in_any_column_order() {
        let text = "date,person,hours,project,epic,ticket,description\n\
                    2026-11-16,ana,7.5,web,Checkout,web-6,VAT lines\n\
                    2026-11-16,ben,\"2,5\",APP,,,standup and review\n";
        let parsed = worklogs(text, PEOPLE, PROJECTS).unwrap();
        assert!(parsed.bad.is_empty(), "{:?}", parsed.bad);
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!((parsed.rows[0].project.as_str(), parsed.rows[0].ticket.as_deref()), ("WEB", Some("WEB-6")));
        assert_eq!((parsed.rows[1].hours, parsed.rows[1].epic.as_deref()), (2.5, None));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let text = "person,date,hours,project,epic,ticket,description\n\
                    zoe,2026-11-16,8,WEB,,,\n\
                    ana,2026-11-16,8,WEB,,,fine\n\
                    ana,16/11/2026,-2,WEB,,,\n\
                    ben,2026-11-17,lots,MARS,,,\n";
        let parsed = worklogs(text, PEOPLE, PROJECTS).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        let bad: Vec<String> = parsed.bad.iter().map(|b| b.to_string()).collect();
        assert_eq!(
            bad,
            [
                "line 2: unknown person \"zoe\"",
                "line 4: bad date \"16/11/2026\" (use YYYY-MM-DD); hours must be above 0 (got -2)",
                "line 5: bad hours \"lots\" (a number up to 24); unknown project \"MARS\"",
            ]
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = worklogs("person,date,project\nana,2026-11-16,WEB\n", PEOPLE, PROJECTS).unwrap_err();
        assert_eq!(err.to_string(), "line 1: no \"hours\" column (the header has: person, date, project)");
    }

    #[test]
    fn forecasts_are_read_and_checked() {
        let parsed = forecasts("project,epic,hours\nWEB,Checkout,120\nWEB,,10\nZZZ,Search,x\n", PROJECTS).unwrap();
        assert_eq!(
            parsed.rows,
            [Forecast { project: "WEB".into(), epic: "Checkout".into(), hours: 120.0, month: None }]
        );
        assert_eq!(parsed.bad.len(), 2);
        assert_eq!(parsed.bad[1].to_string(), "line 4: unknown project \"ZZZ\"; bad hours \"x\" (a number, 0 or more)");
    }
}
