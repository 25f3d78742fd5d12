//! The board side of mirroring a tracker: one copy of an issue applied to the board inside
//! the caller's transaction (a sync commits a page and its cursor together). Changes made
//! here are records of what happened on the tracker, so nothing is permission-checked or
//! written back; they are the board service's all the same, as every board change is.

use crate::board::{NewTicket, Source, Status, TicketKey, MAX_TITLE_CHARS};
use crate::config::{Config, ProjectConfig, TrackerKind};
use crate::store::{ItemKind, MirroredFields, StoreError, StoreTx, WorkspaceId};
use crate::tracker::mapping::{self, StatusMap};
use crate::tracker::{RemoteIssue, RemoteUser, SyncReport, JIRA, LINEAR};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// What one copy of an issue did to the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated,
    /// The board had this copy, or a newer one.
    Unchanged,
    /// Not this project's issue.
    Elsewhere,
}

/// The board side of one mirrored project: how its statuses and people read.
pub struct Mirror<'a> {
    pub ws: WorkspaceId,
    pub project: &'a ProjectConfig,
    pub map: StatusMap,
    /// Tracker account id → handle, from `pmbot.toml`'s people.
    pub people: HashMap<String, String>,
    /// The tracker's name on the board (`linear`, `jira`) and in words (`Linear`, `Jira`).
    pub tracker: &'static str,
    pub label: &'static str,
}

impl<'a> Mirror<'a> {
    pub fn new(config: &'a Config, project: &'a ProjectConfig) -> Option<Mirror<'a>> {
        let tracker = project.tracker.as_ref()?;
        let (name, label) = match tracker.kind {
            TrackerKind::Linear => (LINEAR, "Linear"),
            TrackerKind::Jira => (JIRA, "Jira"),
            TrackerKind::Builtin | TrackerKind::Github => return None,
        };
        let people = config.people.iter().filter_map(|p| Some((p.tracker_id.clone()?, p.handle.clone()))).collect();
        Some(Mirror {
            ws: WorkspaceId::new(config.team.workspace.clone()),
            project,
            map: StatusMap::new(tracker),
            people,
            tracker: name,
            label,
        })
    }

    pub fn team(&self) -> &str {
        self.project.tracker.as_ref().and_then(|t| t.team.as_deref()).unwrap_or(&self.project.key)
    }

    fn handle(&self, user: Option<&RemoteUser>) -> Option<String> {
        self.people.get(&user?.id).cloned()
    }

    /// Notes in `report` everyone on `issue` whom no person's ids match.
    fn note_unknown(&self, issue: &RemoteIssue, report: &mut SyncReport) {
        let users = [issue.assignee.as_ref(), issue.creator.as_ref()]
            .into_iter()
            .flatten()
            .chain(issue.history.iter().filter_map(|m| m.actor.as_ref()))
            .chain(issue.comments.iter().filter_map(|c| c.author.as_ref()));
        for user in users.filter(|u| !self.people.contains_key(&u.id)) {
            report.unknown.entry(user.id.clone()).or_insert_with(|| (user.name.clone(), 0)).1 += 1;
        }
    }

    /// Who did it, as the board writes it: the person's handle, else `linear:<name>`.
    fn actor(&self, user: Option<&RemoteUser>) -> String {
        match (self.handle(user), user) {
            (Some(handle), _) => handle,
            (None, Some(user)) => format!("{}:{}", self.tracker, user.name),
            (None, None) => self.tracker.into(),
        }
    }

    fn fields(&self, issue: &RemoteIssue) -> MirroredFields {
        MirroredFields {
            title: title(&issue.title),
            description: issue.description.clone(),
            priority: mapping::priority(issue.priority),
            labels: issue.labels.clone(),
            assignee: self.handle(issue.assignee.as_ref()),
            epic: issue.epic.clone(),
            parent: issue.parent.as_deref().and_then(|k| k.parse().ok()),
            estimate: issue.estimate,
            url: issue.url.clone(),
        }
    }

    /// Brings the board up to `issue` inside `tx`: the ticket made (under the tracker's key)
    /// or brought up to date, its moves recorded at the tracker's times, new comments added.
    pub async fn apply(
        &self,
        tx: &mut StoreTx,
        issue: &RemoteIssue,
        report: &mut SyncReport,
    ) -> Result<Applied, StoreError> {
        let ws = &self.ws;
        let key: TicketKey = match issue.key.parse() {
            Ok(key) if TicketKey::project(&key) == self.project.key => key,
            _ => {
                report.elsewhere += 1;
                return Ok(Applied::Elsewhere);
            }
        };
        if issue.gone {
            if self.mark_deleted(tx, &issue.id, issue.updated_at).await?.is_some() {
                report.deleted += 1;
            }
            return Ok(Applied::Updated);
        }
        self.note_unknown(issue, report);
        let mut known = tx.mirror_item(ws, self.tracker, ItemKind::Issue, &issue.id).await?;
        let mut key = key;
        let mut current = None;
        if let Some(item) = &known {
            // The board's key for it (the issue may have changed teams since), locked before
            // the tracker's clock is compared: two copies applied at once take turns, and the
            // older never lands after the newer.
            key = item.local_ref.parse().map_err(StoreError::from)?;
            current = Some(tx.lock_ticket(ws, &key).await?.status);
            known = tx.mirror_item(ws, self.tracker, ItemKind::Issue, &issue.id).await?;
        } else if tx.ticket(ws, &key).await.is_ok() {
            // A ticket made on pmbot's board took the key the tracker gave this issue: said, skipped,
            // and the rest of the page goes on.
            tracing::warn!(key = %key, issue = %issue.id, "a tracker issue's key is taken by a ticket made on pmbot's board; not mirrored");
            report.elsewhere += 1;
            return Ok(Applied::Elsewhere);
        }
        let (applied, plan) = match &known {
            Some(item) if item.remote_updated_at >= issue.updated_at => (Applied::Unchanged, Default::default()),
            Some(item) => {
                let mut plan = mapping::plan_status(&self.map, issue, current, Some(item.remote_updated_at));
                // The tracker's state unchanged since pmbot last saw it, and no move in its history
                // since: the board's own status (blocked, a move still being written) stands.
                let moved_there = item.remote_status.as_deref() != Some(issue.state.name.as_str())
                    || issue.history.iter().any(|m| m.at > item.remote_updated_at);
                if !moved_there {
                    plan.steps.clear();
                }
                tx.update_mirrored_ticket(ws, &key, &self.fields(issue), issue.updated_at).await?;
                (Applied::Updated, plan)
            }
            None => {
                let plan = mapping::plan_status(&self.map, issue, None, None);
                let f = self.fields(issue);
                let new = NewTicket {
                    project: self.project.key.clone(),
                    title: f.title,
                    description: f.description,
                    status: plan.initial.unwrap_or(Status::Backlog),
                    priority: f.priority,
                    labels: f.labels,
                    assignee: f.assignee,
                    reporter: self.handle(issue.creator.as_ref()),
                    epic: f.epic,
                    parent: f.parent,
                    estimate: f.estimate,
                    source: Source {
                        tracker: Some(self.tracker.into()),
                        external_id: Some(issue.id.clone()),
                        url: f.url,
                    },
                };
                tx.create_ticket_keyed(ws, &key, &new, &self.actor(issue.creator.as_ref()), issue.created_at).await?;
                (Applied::Created, plan)
            }
        };
        for step in &plan.steps {
            let why = format!("on {}: {}", self.label, step.remote);
            tx.move_ticket(ws, &key, step.to, &self.actor(step.actor.as_ref()), Some(&why), step.at).await?;
            report.moves += 1;
        }
        report.unmapped.extend(plan.unmapped);
        if applied != Applied::Unchanged {
            // The status name is kept as the tracker has it, mapped or not (config check reads it).
            let status = Some(issue.state.name.as_str());
            tx.put_mirror_item(
                ws,
                self.tracker,
                ItemKind::Issue,
                &issue.id,
                &self.project.key,
                key.as_str(),
                issue.updated_at,
                status,
            )
            .await?;
        }
        for comment in &issue.comments {
            if tx.mirror_item(ws, self.tracker, ItemKind::Comment, &comment.id).await?.is_some() {
                continue;
            }
            // pmbot's own comment, read back before its write job linked it: it is on the
            // board already (Jira gives a comment its id only once it is made).
            if comment.body.contains(crate::tracker::VIA_PMBOT) {
                continue;
            }
            let author = self.actor(comment.author.as_ref());
            let added = tx.add_comment(ws, &key, &author, &comment.body, comment.at).await?;
            let local = added.id.to_string();
            tx.put_mirror_item(
                ws,
                self.tracker,
                ItemKind::Comment,
                &comment.id,
                &self.project.key,
                &local,
                comment.at,
                None,
            )
            .await?;
            report.comments += 1;
        }
        match applied {
            Applied::Created => report.created += 1,
            Applied::Updated => report.updated += 1,
            _ => report.unchanged += 1,
        }
        Ok(applied)
    }

    /// An issue deleted on the tracker: marked, moved to cancelled with the reason, kept.
    pub async fn mark_deleted(
        &self,
        tx: &mut StoreTx,
        issue_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<TicketKey>, StoreError> {
        let Some(item) = tx.mirror_item(&self.ws, self.tracker, ItemKind::Issue, issue_id).await? else {
            return Ok(None);
        };
        if !tx.mark_mirror_deleted(&self.ws, self.tracker, ItemKind::Issue, issue_id, at).await? {
            return Ok(None);
        }
        let key: TicketKey = item.local_ref.parse().map_err(StoreError::from)?;
        let ticket = tx.lock_ticket(&self.ws, &key).await?;
        if !matches!(ticket.status, Status::Done | Status::Cancelled) {
            let why = format!("deleted on {}", self.label);
            tx.move_ticket(&self.ws, &key, Status::Cancelled, self.tracker, Some(&why), at).await?;
        }
        let note = format!("Deleted on {}. Kept here, with its history, as cancelled.", self.label);
        tx.add_comment(&self.ws, &key, "pmbot", &note, at).await?;
        Ok(Some(key))
    }
}

fn title(title: &str) -> String {
    let trimmed = title.trim();
    let title: String = trimmed.chars().take(MAX_TITLE_CHARS).collect();
    if title.is_empty() {
        "(untitled)".into()
    } else {
        title
    }
}
