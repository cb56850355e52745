//! The HTTP listener: vendor callbacks, health, metrics, the admin API and
//! the status page.

mod admin;
mod auth;
pub mod body;
pub mod callback_audit;
pub mod callback_rejections;
pub mod callbacks;
mod campaign_admin;
mod campaign_stats;
mod contacts_admin;
pub mod error;
mod explain;
mod forwarding;
pub mod listener;
mod metrics_buckets;
mod openapi;
pub mod predial;
pub mod refresh_runs;
mod rejected_callbacks;
mod request_target;
mod server;
mod session;
mod status_page;
mod suppressions;
mod upload_body;
mod vendor_scorecard;

use crate::context::Ctx;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::OnceLock;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The process-wide metrics recorder (installed once, even when tests build
/// several apps in one process).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_buckets::builder().build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The listener's routes outside the admin API (each documented: see
/// [`openapi`]).
fn root_router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(callbacks::callback))
        .routes(routes!(predial::predial))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .merge(status_page::router())
}

pub fn router(ctx: Ctx) -> Router {
    metrics_handle();
    let (routes, _doc) = openapi::routes().split_for_parts();
    routes
        .fallback(no_route)
        // The callback handler enforces its own, configurable limit and
        // records oversized bodies; the default limit must not pre-empt it.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(request_target::reject_invalid_target))
        .layer(axum::Extension(std::sync::Arc::new(callback_audit::RejectionBudget::new(
            ctx.settings.http.limits.rejected_audit_per_peer_per_minute,
        ))))
        .with_state(ctx)
}

/// Serve the router on `listener` with at most `max_connections` open
/// connections (and the per-peer and timeout limits of `http`), until
/// `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Ctx,
    max_connections: usize,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let limits = ctx.settings.http.limits.clone();
    server::serve(listener, router(ctx), max_connections, &limits, shutdown).await
}

/// No route for the path: the same JSON error as every other refusal (an
/// empty path segment, `/campaigns//pause`, ends here too).
async fn no_route(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError(StatusCode::NOT_FOUND, format!("no route for `{}`", uri.path()))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Whether the store takes writes.
///
/// Ready when the store takes writes (as the last writes and probes found)
/// and answers a query now. Only a short classification is shown; the
/// database's own error text is in the daemon's log.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
    (status = 503, description = "`store not writable: <why>` or `database unavailable: <why>`",
        body = String, content_type = "text/plain"),
))]
async fn readyz(State(ctx): State<Ctx>) -> (StatusCode, String) {
    if let Err(fault) = ctx.store_health.writable() {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("store not writable: {fault}"));
    }
    match ctx.store_health.probe(&ctx.db).await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(fault) => (StatusCode::SERVICE_UNAVAILABLE, format!("database unavailable: {fault}")),
    }
}

/// Prometheus text exposition of the daemon's counters and gauges.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics_text() -> String {
    metrics_handle().render()
}
