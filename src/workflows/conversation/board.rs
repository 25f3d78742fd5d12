//! One matcher per worker, kept current: built from the whole board once, then brought up to
//! date before each message from the tickets changed since (the board service stamps every
//! change on its ticket), instead of rebuilding the index for every message.

use super::job::match_ticket;
use crate::store::{Store, StoreError, TicketFilter, WorkspaceId};
use crate::workflows::matching::Matcher;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// How many of the newest comments a ticket is read with.
const COMMENTS_PER_TICKET: usize = 5;
/// The newest comments read when the whole board is built.
const RECENT_COMMENTS: i64 = 1000;

struct Cached {
    workspace: String,
    matcher: Matcher,
    /// Changes at or after this instant are read on the next message.
    watermark: DateTime<Utc>,
    /// Tickets the matcher itself changed (a move it decided) and must read again.
    dirty: HashSet<String>,
}

#[derive(Default)]
pub struct BoardCache {
    state: tokio::sync::Mutex<Option<Cached>>,
    /// Read meaning too, with the local embedding model when it is installed.
    embeddings: bool,
}

impl BoardCache {
    pub fn new(embeddings: bool) -> Self {
        BoardCache { state: Default::default(), embeddings }
    }

    /// Runs `f` with the workspace's matcher, current as of now; the keys `f` returns are
    /// read again from the store next time (the matcher may have moved them in its head).
    pub async fn with<R>(
        &self,
        store: &Store,
        ws: &WorkspaceId,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut Matcher) -> (R, Vec<String>),
    ) -> Result<R, StoreError> {
        let mut state = self.state.lock().await;
        let fresh = match state.take() {
            Some(cached) if cached.workspace == ws.as_str() => Self::refresh(store, ws, cached).await?,
            _ => self.build(store, ws).await?,
        };
        let cached = state.insert(fresh);
        cached.matcher.reset(now);
        let matcher = &mut cached.matcher;
        // Reading meaning is CPU work (tens of milliseconds with the model): on a runtime with
        // worker threads it leaves them, so requests keep being answered meanwhile.
        let (result, touched) =
            if tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                tokio::task::block_in_place(|| f(matcher))
            } else {
                f(matcher)
            };
        cached.dirty.extend(touched);
        Self::keep_vectors(store, ws, &mut cached.matcher).await?;
        Ok(result)
    }

    /// Stores the ticket vectors the matcher made, so no worker makes them again.
    async fn keep_vectors(store: &Store, ws: &WorkspaceId, matcher: &mut Matcher) -> Result<(), StoreError> {
        let fresh = matcher.take_fresh_vectors();
        if !fresh.is_empty() {
            store.put_ticket_vectors(ws, &fresh, Utc::now()).await?;
        }
        Ok(())
    }

    async fn build(&self, store: &Store, ws: &WorkspaceId) -> Result<Cached, StoreError> {
        let tickets = store.tickets(ws, &TicketFilter::default()).await?;
        let mut comments: HashMap<String, Vec<String>> = HashMap::new();
        for (key, body) in store.recent_comments(ws, RECENT_COMMENTS).await? {
            let list = comments.entry(key).or_default();
            if list.len() < COMMENTS_PER_TICKET {
                list.push(body);
            }
        }
        let watermark = tickets.iter().map(|t| t.updated_at).max().unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut matcher = Matcher::new(
            tickets.iter().map(|t| match_ticket(t, comments.remove(t.key.as_str()).unwrap_or_default())).collect(),
        );
        if let Some(embedder) = self.embeddings.then(crate::models::load_embedder).flatten() {
            let stored = store.ticket_vectors(ws).await?;
            // A model that fails leaves the matcher on words alone, as without one.
            match matcher.embed_with(embedder, &stored) {
                Ok(()) => Self::keep_vectors(store, ws, &mut matcher).await?,
                Err(err) => tracing::warn!(%err, "the embedding model failed; matching reads words alone"),
            }
        }
        Ok(Cached { workspace: ws.as_str().to_string(), matcher, watermark, dirty: HashSet::new() })
    }

    async fn refresh(store: &Store, ws: &WorkspaceId, mut cached: Cached) -> Result<Cached, StoreError> {
        // A few minutes back: changes are stamped with their writer's clock, and another
        // worker's may be a little behind this one's newest stamp. Reading some twice is cheap.
        let since = cached.watermark - chrono::Duration::minutes(5);
        let mut changed = store.tickets_changed_since(ws, since).await?;
        for key in std::mem::take(&mut cached.dirty) {
            if changed.iter().all(|t| t.key.as_str() != key) {
                if let Ok(parsed) = key.parse() {
                    match store.ticket(ws, &parsed).await {
                        Ok(ticket) => changed.push(ticket),
                        Err(StoreError::UnknownTicket(_)) => {}
                        Err(err) => return Err(err),
                    }
                }
            }
        }
        for ticket in &changed {
            let comments: Vec<String> = store
                .comments(ws, &ticket.key)
                .await?
                .into_iter()
                .rev()
                .take(COMMENTS_PER_TICKET)
                .map(|c| c.body)
                .collect();
            cached.matcher.update_ticket(match_ticket(ticket, comments));
            cached.watermark = cached.watermark.max(ticket.updated_at);
        }
        Self::keep_vectors(store, ws, &mut cached.matcher).await?;
        Ok(cached)
    }
}
