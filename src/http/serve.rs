//! The HTTP server loop: hyper's HTTP/1 connections with a header-read timeout (which
//! `axum::serve` does not set) and a cap on open connections, shut down gracefully.

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

const READ_BUFFER: usize = 16 * 1024;

/// How long a client may take to send a request's headers, and how many connections may be
/// open at once (more are closed as they arrive).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read: Duration,
    pub max_connections: usize,
    /// How long open connections get to finish after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(max = limits.max_connections, "too many open connections; one was closed");
            continue;
        };
        let service = WithPeer { inner: TowerToHyperService::new(router.clone()), peer };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            // Each connection reads at most this much ahead of the handler: with many open
            // connections, hyper's default (~400 KiB each) would be the memory to worry about.
            .max_buf_size(READ_BUFFER)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "a connection ended with an error");
            }
            drop(permit);
        });
    }
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period were dropped");
    }
    Ok(())
}

/// Puts the connection's peer address in each request (axum's `ConnectInfo`), for the
/// endpoints that limit per client address.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: std::net::SocketAddr,
}

impl<S, B> hyper::service::Service<hyper::Request<B>> for WithPeer<S>
where
    S: hyper::service::Service<hyper::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut request: hyper::Request<B>) -> Self::Future {
        request.extensions_mut().insert(axum::extract::ConnectInfo(self.peer));
        self.inner.call(request)
    }
}
