//! The accept loop: admit a connection (global and per-peer caps), serve it
//! with HTTP/1.1 under a header read timeout, and on shutdown stop accepting
//! and let the open connections finish.
//!
//! hyper's connection builder instead of `axum::serve`, because axum's has no
//! header read timeout: a client that sends half a request would hold its
//! connection (and a global slot) for as long as it liked. hyper's timer runs
//! whenever a connection waits for a request head, the first one or the next
//! on a kept-alive connection, so it bounds idle keep-alive time too.
//! HTTP/1.1 only: vendors post callbacks over HTTP/1.1, and an HTTP/2
//! connection would need its own set of stream and ping timeouts.

use super::listener::{Admitted, ConnectionSlots, PeerAddr};
use crate::config::validate::HttpLimits;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    limits: &HttpLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let slots = ConnectionSlots::new(max_connections, limits.max_connections_per_peer);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let graceful = GracefulShutdown::new();
    loop {
        let Admitted { stream, peer, slot } = tokio::select! {
            admitted = slots.accept(&listener) => admitted,
            _ = shutdown.cancelled() => break,
        };
        // Callbacks are small request/response pairs: do not wait to coalesce.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                if e.is_timeout() {
                    metrics::counter!("campaignd_http_connections_timed_out_total").increment(1);
                }
                tracing::debug!(peer = %peer.ip(), error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // Close the listening socket first: new connections are refused, not queued.
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
