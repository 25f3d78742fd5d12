//! Limits on the platforms' endpoints (`/slack/*`, `/discord/*`), which anyone can reach
//! before a signature is checked: how many requests are in flight, how long one may take
//! (its body included), and how many body bytes all of them may hold at once. Past a limit
//! the answer is a quick 503 or 408, never a wait that piles up memory.
//!
//! Bodies are charged by the bytes actually received, so slow senders that trickle a few
//! bytes hold little and cannot lock out a signed event; fast parallel 1 MiB bodies are
//! held to the budget.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// The whole request, body included.
    pub timeout: Duration,
    /// Requests in flight on the platforms' endpoints.
    pub concurrency: usize,
    /// Body bytes held by all of them together.
    pub body_budget: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits { timeout: Duration::from_secs(10), concurrency: 512, body_budget: 16 << 20 }
    }
}

/// The shared counters behind [`guard`].
#[derive(Clone)]
pub struct Gate {
    in_flight: Arc<Semaphore>,
    budget: Arc<Semaphore>,
    timeout: Duration,
}

impl Gate {
    pub fn new(limits: RequestLimits) -> Gate {
        Gate {
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            budget: Arc::new(Semaphore::new(limits.body_budget.clamp(1, Semaphore::MAX_PERMITS))),
            timeout: limits.timeout,
        }
    }
}

/// Middleware: a slot, a body that draws on the budget as it arrives, and a deadline.
pub async fn guard(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let Ok(_slot) = gate.in_flight.clone().try_acquire_owned() else {
        tracing::warn!("too many requests in flight on the platform endpoints; one was turned away");
        return busy();
    };
    let over = Arc::new(AtomicBool::new(false));
    // Held until the answer is made, since the handler keeps the bytes that long.
    let held: Held = Arc::default();
    let request = request.map(|inner| {
        Body::new(Budgeted { inner, budget: gate.budget.clone(), held: held.clone(), over: over.clone() })
    });
    let response = match tokio::time::timeout(gate.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    };
    if over.load(Ordering::SeqCst) {
        tracing::warn!("the body budget of the platform endpoints is spent; a request was turned away");
        return busy();
    }
    response
}

fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "busy; try again").into_response()
}

type Held = Arc<Mutex<Vec<OwnedSemaphorePermit>>>;

/// A request body that takes one budget permit per byte received.
struct Budgeted {
    inner: Body,
    budget: Arc<Semaphore>,
    held: Held,
    over: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the endpoints' body budget is spent")]
struct OverBudget;

impl HttpBody for Budgeted {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            let bytes = u32::try_from(data.len()).unwrap_or(u32::MAX);
            match self.budget.clone().try_acquire_many_owned(bytes) {
                Ok(permit) => {
                    if let Ok(mut held) = self.held.lock() {
                        held.push(permit);
                    }
                }
                Err(_) => {
                    self.over.store(true, Ordering::SeqCst);
                    return Poll::Ready(Some(Err(Box::new(OverBudget))));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
