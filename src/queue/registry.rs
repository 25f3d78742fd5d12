//! Job kinds to handlers, in one place.

use super::{Job, JobContext, Outcome};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

trait Handler<S>: Send + Sync {
    fn run(&self, state: Arc<S>, payload: Value, ctx: JobContext) -> BoxFuture<Outcome>;
    fn timeout(&self) -> Duration;
    fn secrets(&self) -> &'static [&'static str];
}

struct Typed<J>(PhantomData<fn() -> J>);

impl<S, J> Handler<S> for Typed<J>
where
    S: Send + Sync + 'static,
    J: Job<S>,
{
    fn run(&self, state: Arc<S>, payload: Value, ctx: JobContext) -> BoxFuture<Outcome> {
        Box::pin(async move {
            match serde_json::from_value::<J>(payload) {
                Ok(job) => job.run(&state, &ctx).await,
                // An old payload will not deserialize on the next attempt either.
                Err(err) => Outcome::Discard(format!("the payload no longer fits job kind {}: {err}", J::KIND)),
            }
        })
    }

    fn timeout(&self) -> Duration {
        J::TIMEOUT
    }

    fn secrets(&self) -> &'static [&'static str] {
        J::SECRETS
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("job kind {0} is registered twice")]
    Duplicate(&'static str),
}

/// The job kinds a worker can run, and how many of each queue's jobs run at once.
pub struct Registry<S> {
    handlers: HashMap<&'static str, Arc<dyn Handler<S>>>,
    queues: HashMap<&'static str, usize>,
}

impl<S: Send + Sync + 'static> Registry<S> {
    pub fn new() -> Self {
        Registry { handlers: HashMap::new(), queues: HashMap::new() }
    }

    /// Adds a job kind; its queue runs `J`'s jobs with the registry's default concurrency
    /// unless [`Registry::concurrency`] says otherwise.
    pub fn register<J: Job<S>>(mut self) -> Result<Self, RegistryError> {
        if self.handlers.insert(J::KIND, Arc::new(Typed::<J>(PhantomData))).is_some() {
            return Err(RegistryError::Duplicate(J::KIND));
        }
        self.queues.entry(J::QUEUE).or_insert(0);
        Ok(self)
    }

    /// How many jobs of `queue` one worker runs at once (0: the worker's default).
    pub fn concurrency(mut self, queue: &'static str, limit: usize) -> Self {
        self.queues.insert(queue, limit);
        self
    }

    pub fn queues(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.queues.iter().map(|(q, n)| (*q, *n))
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    pub(super) fn start(
        &self,
        kind: &str,
        state: Arc<S>,
        payload: Value,
        ctx: JobContext,
    ) -> Option<(BoxFuture<Outcome>, Duration)> {
        let handler = self.handlers.get(kind)?;
        Some((handler.run(state, payload, ctx), handler.timeout()))
    }

    /// What kind `kind`'s payload holds that must not outlive the job.
    pub(super) fn secrets(&self, kind: &str) -> &'static [&'static str] {
        self.handlers.get(kind).map_or(&[], |h| h.secrets())
    }
}

impl<S: Send + Sync + 'static> Default for Registry<S> {
    fn default() -> Self {
        Registry::new()
    }
}
