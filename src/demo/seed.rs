//! Sample data for the built-in team: tickets with a believable history, comments and chat
//! messages, all placed relative to `now` in working days so every weekday's standup has
//! something to say.

use crate::board::{NewTicket, Priority, Status, TicketKey};
use crate::calendar::{is_working_day, local_date};
use crate::config::Config;
use crate::service::{BoardService, PastMove, ServiceError};
use crate::store::{ChatMessageSeen, Store, StoreError, TicketFilter, WorkspaceId};
use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use std::collections::HashMap;

/// One sample ticket: where it ended up and when it last moved (working days ago).
/// Epics of the scope project; the other app tickets are left for the epic-hygiene agent.
const EPICS: [(&str, &str); 9] = [
    ("Crash when opening a push notification with the app closed", "Stability"),
    ("Upload crash-report symbols (dSYMs) in CI", "Stability"),
    ("Pull-to-refresh on the orders list", "Orders"),
    ("Offline mode: queue orders while disconnected", "Orders"),
    ("Order history pagination", "Orders"),
    ("Dark mode colours for the settings screen", "Look and feel"),
    ("Tablet layout for the product detail screen", "Look and feel"),
    ("Biometric login on Android", "Sign-in"),
    ("Apple Pay on the checkout screen", "Checkout"),
];

struct Sample {
    project: &'static str,
    title: &'static str,
    priority: Priority,
    assignee: Option<&'static str>,
    status: Status,
    last_moved: u64,
    blocker: Option<&'static str>,
}

const fn t(
    project: &'static str,
    title: &'static str,
    priority: Priority,
    assignee: Option<&'static str>,
    status: Status,
    last_moved: u64,
) -> Sample {
    Sample { project, title, priority, assignee, status, last_moved, blocker: None }
}

use Priority::{Critical, High, Low, Medium};
use Status::{Backlog, Blocked, Cancelled, Done, InProgress, InReview, Todo};

const SAMPLES: &[Sample] = &[
    t("WEB", "Fix broken hero image on the pricing page", High, Some("ana"), Done, 1),
    t("APP", "Crash when opening a push notification with the app closed", Critical, Some("ben"), Done, 1),
    t("WEB", "Update cookie banner copy for the new policy", Low, Some("chloe"), Done, 1),
    t("WEB", "Migrate the contact form to the new CRM webhook", Medium, Some("dev"), Done, 4),
    t("APP", "Pull-to-refresh on the orders list", Medium, Some("eli"), Done, 6),
    t("WEB", "Compress product images on upload", Medium, Some("chloe"), Done, 8),
    t("APP", "Dark mode colours for the settings screen", Low, Some("eli"), Done, 9),
    t("WEB", "Login times out after 30 seconds on slow networks", High, Some("ana"), InReview, 1),
    t("APP", "Offline mode: queue orders while disconnected", High, Some("ben"), InReview, 2),
    t("WEB", "Checkout: show the VAT breakdown per line", High, Some("dev"), InProgress, 1),
    t("APP", "Biometric login on Android", Medium, Some("eli"), InProgress, 2),
    t("WEB", "Accessibility fixes for the header navigation", Medium, Some("chloe"), InProgress, 1),
    t("APP", "Order history pagination", Medium, Some("ben"), InProgress, 6),
    t("WEB", "Newsletter signup with double opt-in", Low, Some("dev"), InProgress, 8),
    Sample {
        blocker: Some("waiting on the merchant certificate from Acme's finance team"),
        ..t("APP", "Apple Pay on the checkout screen", High, Some("eli"), Blocked, 3)
    },
    Sample {
        blocker: Some("needs the tenant id and redirect URI approved by Acme IT"),
        ..t("WEB", "Single sign-on with the client's Azure AD", High, Some("ana"), Blocked, 1)
    },
    t("WEB", "Search results: highlight the matched terms", Medium, Some("chloe"), Todo, 2),
    t("WEB", "Structured data for products (schema.org)", Medium, Some("dev"), Todo, 3),
    t("APP", "Show the delivery ETA on the order screen", High, Some("ben"), Todo, 2),
    t("APP", "Localise the app into Portuguese", Medium, Some("eli"), Todo, 4),
    t("WEB", "404 page with search and popular links", Low, None, Todo, 5),
    t("APP", "Upload crash-report symbols (dSYMs) in CI", Medium, Some("ana"), Todo, 2),
    t("WEB", "Rate-limit the password reset endpoint", Critical, Some("ana"), Todo, 1),
    t("APP", "Review the onboarding carousel copy", Low, None, Todo, 3),
    t("WEB", "Blog: related posts widget", Low, None, Backlog, 10),
    t("WEB", "Move analytics to the new tag manager container", Medium, None, Backlog, 7),
    t("WEB", "Footer: add the Lisbon office address", Low, None, Backlog, 3),
    t("APP", "Tablet layout for the product detail screen", Medium, None, Backlog, 12),
    t("APP", "Share an order as a PDF receipt", Low, None, Backlog, 6),
    t("APP", "In-app review prompt after the third order", Low, None, Backlog, 9),
    t("WEB", "Redirect old /shop URLs to /store", Medium, None, Backlog, 4),
    t("APP", "Home-screen widget with the order status", Low, None, Backlog, 11),
    t("WEB", "Print stylesheet for invoices", Low, None, Backlog, 5),
    t("APP", "Cut app start time below 2 s on mid-range Android", High, None, Backlog, 2),
    t("WEB", "Remember the cookie choice across subdomains", Medium, None, Backlog, 8),
    t("WEB", "Speed up the category page (LCP over 4 s)", High, None, Backlog, 2),
    t("APP", "Apple Watch companion app", Low, None, Cancelled, 7),
    t("WEB", "Animated mascot on the homepage", Low, None, Cancelled, 10),
];

/// (ticket title, author, working days ago, text)
const COMMENTS: &[(&str, &str, u64, &str)] = &[
    ("Login times out after 30 seconds on slow networks", "ana", 1, "PR is up; Ben, can you review?"),
    ("Apple Pay on the checkout screen", "eli", 1, "Pinged finance again, they promise the certificate this week."),
    ("Order history pagination", "ben", 6, "Paused while I finish offline mode."),
    ("Checkout: show the VAT breakdown per line", "pat", 2, "Acme wants this before the Black Friday campaign."),
];

/// (channel, handle, working days ago, text)
const MESSAGES: &[(&str, &str, u64, &str)] = &[
    ("#acme-web", "pat", 2, "Reminder: Acme demo on Thursday, please keep staging green."),
    ("#acme-web", "ana", 1, "The login timeout fix is in review, deploying tomorrow if it passes."),
    ("#mobile-app", "eli", 1, "Still no merchant certificate for Apple Pay."),
    ("#mobile-app", "ben", 1, "Offline mode PR is up, it's a big one."),
    ("#team", "chloe", 1, "Anyone seen the new accessibility report from the client?"),
];

#[derive(Debug, Default)]
pub struct Seeded {
    pub tickets: usize,
    pub comments: usize,
    pub messages: usize,
    pub worklogs: usize,
    /// Ticket keys by title, for scripts.
    pub keys: HashMap<&'static str, TicketKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(
        "the sample data needs the built-in team (people ana, ben, chloe, dev, eli, pat and projects WEB, APP); {0}"
    )]
    WrongTeam(String),
    #[error("the board already has {0} tickets; seed an empty database (or pass --force to add the samples anyway)")]
    NotEmpty(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Puts the samples on the board of `ws`. Refuses a board that already has tickets unless
/// `force`.
pub async fn seed(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    now: DateTime<Utc>,
    force: bool,
) -> Result<Seeded, SeedError> {
    check_team(config)?;
    let existing = store.tickets(ws, &TicketFilter::default()).await?.len();
    if existing > 0 && !force {
        return Err(SeedError::NotEmpty(existing));
    }
    let clock = Clock { now, tz: config.team.timezone, days: &config.team.working_days };
    let mut seeded = Seeded::default();
    for (index, sample) in SAMPLES.iter().enumerate() {
        let key = add_sample(store, ws, sample, index as u64, &clock).await?;
        seeded.keys.insert(sample.title, key);
        seeded.tickets += 1;
    }
    for (title, author, days_ago, text) in COMMENTS {
        let board = BoardService::new(store.clone(), ws.clone());
        board.import_comment(&seeded.keys[title], author, text, clock.at(*days_ago, 16)).await.map_err(into_store)?;
        seeded.comments += 1;
    }
    for (i, (channel, handle, days_ago, text)) in MESSAGES.iter().enumerate() {
        let at = clock.at(*days_ago, 11) + chrono::Duration::minutes(i as i64);
        let message = ChatMessageSeen {
            platform: "shell".into(),
            channel: channel.to_string(),
            user_id: handle.to_string(),
            ts: format!("{}.{:06}", at.timestamp(), i),
            thread_ts: None,
            text: text.to_string(),
            created_at: at,
            private: false,
        };
        seeded.messages += usize::from(store.record_message(ws, &message).await?);
    }
    seeded.worklogs = seed_worklogs(store, ws, config, now).await?;
    Ok(seeded)
}

/// Nine weeks of hours and this month so far, shaped to give the agents something to say:
/// Ben short two weeks running, Chloé nearly absent last week, and the WEB retainer (80 h a
/// month) burning three people's days.
async fn seed_worklogs(
    store: &Store,
    ws: &WorkspaceId,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let tz = config.team.timezone;
    let today = local_date(now, tz);
    let this_monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let last_monday = this_monday - Days::new(7);
    let first = (last_monday - Days::new(7 * 8)).min(today.with_day(1).unwrap_or(today));
    // WEB burns so that today the month stands near 80 % of its 80 h: alerted, not yet out.
    let month_start = today.with_day(1).unwrap_or(today);
    let elapsed = (0..=(today - month_start).num_days())
        .filter(|d| is_working_day(month_start + Days::new(*d as u64), &config.team.working_days))
        .count()
        .max(1);
    let web_share = ((64.0 / elapsed as f64) / 2.0 * 4.0).round() / 4.0;
    let web_share = web_share.clamp(0.25, 8.0);
    let mut rows = Vec::new();
    let mut day = first;
    while day <= today {
        if is_working_day(day, &config.team.working_days) {
            for person in ["pat", "ana", "ben", "chloe", "dev", "eli"] {
                let last_week = day >= last_monday && day < this_monday;
                let week_before = day >= last_monday - Days::new(7) && day < last_monday;
                let hours = match person {
                    "ben" if last_week => 4.0,
                    "ben" if week_before => 3.0,
                    "chloe" if last_week => {
                        if day == last_monday {
                            6.0
                        } else {
                            0.0
                        }
                    }
                    _ => 8.0,
                };
                // Ana and Dev split their days between the WEB retainer and the app.
                let web =
                    if matches!(person, "ana" | "dev") && day >= month_start { web_share.min(hours) } else { 0.0 };
                // App work goes to the epics the forecasts cover.
                let app_epic = match person {
                    "ben" => Some("Orders"),
                    "eli" => Some("Checkout"),
                    "ana" | "dev" => Some("Stability"),
                    _ => None,
                };
                for (project, hours, epic) in [("WEB", web, None), ("APP", hours - web, app_epic)] {
                    if hours > 0.0 {
                        rows.push(crate::store::Worklog {
                            person: person.into(),
                            day: day.format("%Y-%m-%d").to_string(),
                            hours,
                            project: project.into(),
                            epic: epic.map(str::to_string),
                            ticket: None,
                            description: "sample".into(),
                        });
                    }
                }
            }
        }
        day = day + Days::new(1);
    }
    let mut tx = store.begin().await?;
    for (row, identity) in rows.iter().zip(crate::store::identities(&rows)) {
        tx.add_worklog(ws, row, &identity, "seed", now).await?;
    }
    // Forecasts set two weeks ago: Orders runs well over, the others near their forecast.
    let forecast_at = now - chrono::Duration::days(14);
    for (epic, hours) in [("Orders", 700.0), ("Stability", 1300.0), ("Checkout", 400.0)] {
        tx.set_forecast(ws, "APP", epic, hours, forecast_at).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

fn check_team(config: &Config) -> Result<(), SeedError> {
    for handle in ["pat", "ana", "ben", "chloe", "dev", "eli"] {
        if !config.people.iter().any(|p| p.handle == handle) {
            return Err(SeedError::WrongTeam(format!("no person \"{handle}\" in this configuration")));
        }
    }
    for key in ["WEB", "APP"] {
        if !config.projects.iter().any(|p| p.key == key) {
            return Err(SeedError::WrongTeam(format!("no project \"{key}\" in this configuration")));
        }
    }
    Ok(())
}

async fn add_sample(
    store: &Store,
    ws: &WorkspaceId,
    sample: &Sample,
    index: u64,
    clock: &Clock<'_>,
) -> Result<TicketKey, StoreError> {
    let path = path_to(sample.status);
    let created_days = sample.last_moved + path.len() as u64 + 1 + index % 4;
    let created = clock.at(created_days, 10);
    let mut new = NewTicket::new(sample.project, sample.title)?;
    new.priority = sample.priority;
    new.assignee = sample.assignee.map(str::to_string);
    new.reporter = Some("pat".into());
    new.epic = EPICS.iter().find(|(title, _)| *title == sample.title).map(|(_, epic)| epic.to_string());
    let last = clock.at(sample.last_moved, 11 + (index % 5) as u32);
    let steps = path.len() as i32;
    let moves: Vec<PastMove> = path
        .iter()
        .enumerate()
        .map(|(i, status)| PastMove {
            to: *status,
            actor: if *status == Todo { "pat" } else { sample.assignee.unwrap_or("pat") },
            reason: if *status == Blocked { sample.blocker } else { None },
            at: created + (last - created) * (i as i32 + 1) / steps,
        })
        .collect();
    let board = BoardService::new(store.clone(), ws.clone());
    board.import_ticket(&new, "pat", created, &moves).await.map_err(into_store)
}

/// The moves a ticket made from the backlog to `status`.
fn path_to(status: Status) -> &'static [Status] {
    match status {
        Backlog => &[],
        Todo => &[Todo],
        InProgress => &[Todo, InProgress],
        InReview => &[Todo, InProgress, InReview],
        Done => &[Todo, InProgress, InReview, Done],
        Blocked => &[Todo, InProgress, Blocked],
        Cancelled => &[Cancelled],
        Status::AiQueue => &[Todo, Status::AiQueue],
    }
}

struct Clock<'a> {
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    days: &'a [chrono::Weekday],
}

impl Clock<'_> {
    /// `hour`:00 in the team's zone, `working_days_ago` working days before today.
    fn at(&self, working_days_ago: u64, hour: u32) -> DateTime<Utc> {
        let mut date: NaiveDate = local_date(self.now, self.tz);
        let mut left = working_days_ago;
        while left > 0 {
            date = date - Days::new(1);
            if is_working_day(date, self.days) {
                left -= 1;
            }
        }
        let local = date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::hours(i64::from(hour.min(23)));
        let at = self.tz.from_local_datetime(&local).earliest().map_or(self.now, |t| t.with_timezone(&Utc));
        at.min(self.now)
    }
}

/// Imports check nothing, so the only errors are the store's.
fn into_store(err: ServiceError) -> StoreError {
    match err {
        ServiceError::Store(err) => err,
        refused => StoreError::Corrupt(refused.to_string()),
    }
}
