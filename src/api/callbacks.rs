//! Webhook ingress: `POST /callbacks/{vendor_id}`. Order matters: read within
//! the size and time limits, check authenticity, check the body parses, store
//! it durably — and only then answer 2xx. Processing happens later, from the
//! inbox. What is kept of a request rejected before authentication is bounded
//! (`callback_audit`); an authenticated callback is kept whole.

use super::body::{BodyError, contains_nul, read_within};
use super::callback_audit::{self as audit, RejectionBudget};
use super::callback_rejections::{self as rejections, RejectReason};
use super::error::ErrorBody;
use super::listener::PeerAddr;
use crate::context::Ctx;
use crate::domain::state::InboxState;
use crate::store::inbox::NewCallback;
use crate::vendors::CallbackError;
use crate::vendors::common::{check_ip_allowlist, check_url_token};
use crate::vendors::registry::VendorHandle;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::sync::Arc;

fn reject(status: StatusCode, reason: String) -> Response {
    (status, Json(ErrorBody { error: reason })).into_response()
}

/// A vendor's webhook (result callback).
///
/// Read within `http.max_body_bytes`, authenticated
/// (source address, `?token=`, the vendor's signature), parsed, stored
/// durably, then acknowledged the way that vendor documents.
#[utoipa::path(post, path = "/callbacks/{vendor_id}", tag = "vendors",
    params(
        ("vendor_id" = String, Path, description = "The `id` of a configured vendor", example = "sim"),
        ("token" = Option<String>, Query, description = "The vendor's `callback_token`, when it has one"),
    ),
    request_body(description = "The vendor's own format (see docs/vendors): JSON or a form, free-form here",
        content(("application/json"), ("application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Stored; the body is the acknowledgement the vendor expects", body = Object),
        (status = 400, description = "Not the vendor's format, or a NUL character (stored as rejected)", body = ErrorBody),
        (status = 401, description = "Source address, token or signature refused", body = ErrorBody),
        (status = 404, description = "No vendor with this id", body = ErrorBody),
        (status = 408, description = "The body did not arrive within `http.body_read_timeout`", body = ErrorBody),
        (status = 413, description = "Larger than `http.max_body_bytes`", body = ErrorBody),
        (status = 503, description = "Not stored (the store cannot write); retry", body = ErrorBody),
    ))]
pub async fn callback(
    State(ctx): State<Ctx>,
    Extension(budget): Extension<Arc<RejectionBudget>>,
    Path(vendor_id): Path<String>,
    ConnectInfo(PeerAddr(remote)): ConnectInfo<PeerAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let now = ctx.clock.now();
    let http = &ctx.settings.http;
    let audit = NewCallback {
        vendor_id: vendor_id.clone(),
        remote_addr: Some(remote.ip().to_string()),
        headers: serde_json::Value::Null,
        body: Vec::new(),
        state: InboxState::Rejected,
        error: None,
        received_at: now,
    };
    let label = rejections::vendor_label(&vendor_id, ctx.vendors.get(&vendor_id).is_some());
    let unknown =
        Unauthenticated { ctx: &ctx, budget: &budget, remote: remote.ip(), headers: &headers, vendor_label: &label };
    let bytes = match read_within(body, http.max_body_bytes, http.limits.body_read_timeout).await {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
                BodyError::Broken => StatusCode::BAD_REQUEST,
            };
            let why = RejectReason::of_body_error(&e);
            return unknown.reject(audit, &[], status, why, e.to_string()).await;
        }
    };
    let Some(vendor) = ctx.vendors.get(&vendor_id) else {
        let reason = format!("unknown vendor `{vendor_id}`");
        return unknown.reject(audit, &bytes, StatusCode::NOT_FOUND, RejectReason::UnknownVendor, reason).await;
    };
    if let Err((why, e)) = authenticate_why(&vendor, query.as_deref(), &headers, &bytes, remote.ip()) {
        return unknown.reject(audit, &bytes, StatusCode::UNAUTHORIZED, why, e.to_string()).await;
    }
    // Authenticated from here on: the row keeps the whole body and headers.
    let mut audit = NewCallback { headers: audit::headers_json(&headers, false), body: bytes.to_vec(), ..audit };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if contains_nul(&bytes, content_type) {
        // The body itself is stored as bytes; its fields would go to text
        // columns, which on PostgreSQL refuse NUL, so it is refused here.
        let reason = "malformed callback: the body contains a NUL character (a 0 byte, \\u0000 or %00), \
                      which no vendor field may carry"
            .to_string();
        return store_rejection(&ctx, audit, StatusCode::BAD_REQUEST, reason).await;
    }
    if let Err(e) = vendor.adapter.parse_callback(&bytes) {
        return store_rejection(&ctx, audit, StatusCode::BAD_REQUEST, e.to_string()).await;
    }
    audit.state = InboxState::Pending;
    match ctx.inbox.store(audit).await {
        Ok(_) => {
            metrics::counter!("campaignd_callbacks_total", "vendor" => vendor_id.clone(), "result" => "stored")
                .increment(1);
            ctx.inbox_notify.notify_one();
            let (status, body) = vendor.adapter.callback_ack();
            (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), Json(body)).into_response()
        }
        Err(e) => {
            // Not stored: the vendor must retry, so no 2xx. (The inbox writer
            // logs why, once per burst of failures.)
            metrics::counter!("campaignd_callbacks_total", "vendor" => vendor_id.clone(), "result" => "503")
                .increment(1);
            rejections::count(&label, RejectReason::StoreUnavailable);
            tracing::debug!(vendor = %vendor_id, error = %e, "cannot store callback");
            reject(StatusCode::SERVICE_UNAVAILABLE, "temporarily unable to store the callback; retry".into())
        }
    }
}

/// A request rejected before we know who sent it: stored bounded (a body
/// prefix, a few headers) and only while its peer has audit budget left.
struct Unauthenticated<'a> {
    ctx: &'a Ctx,
    budget: &'a RejectionBudget,
    remote: std::net::IpAddr,
    headers: &'a HeaderMap,
    /// `vendor` label: the URL's vendor id only if configured.
    vendor_label: &'a str,
}

impl Unauthenticated<'_> {
    async fn reject(
        &self,
        mut audit: NewCallback,
        body: &[u8],
        status: StatusCode,
        why: RejectReason,
        reason: String,
    ) -> Response {
        rejections::count(self.vendor_label, why);
        if !self.budget.allow(self.remote) {
            metrics::counter!("campaignd_callback_rejections_unstored_total").increment(1);
            metrics::counter!("campaignd_callback_body_bytes_dropped_total").increment(body.len() as u64);
            count_rejection(self.vendor_label, status);
            tracing::debug!(vendor = %audit.vendor_id, status = status.as_u16(), %reason, "callback rejected (over the audit budget: not stored)");
            return reject(status, reason);
        }
        let (prefix, note) = audit::body_prefix(body);
        audit.body = prefix;
        audit.headers = audit::headers_json(self.headers, true);
        let stored_reason = match note {
            Some(note) => format!("{reason} ({note})"),
            None => reason.clone(),
        };
        audit.error = Some(stored_reason);
        store_audit(self.ctx, audit, self.vendor_label, status, &reason).await;
        reject(status, reason)
    }
}

/// Source address, URL token (for every vendor that has one configured) and
/// the vendor's own signature, in that order.
pub(crate) fn authenticate(
    vendor: &VendorHandle,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    remote: std::net::IpAddr,
) -> Result<(), CallbackError> {
    authenticate_why(vendor, query, headers, body, remote).map_err(|(_, e)| e)
}

/// [`authenticate`], saying which check refused.
fn authenticate_why(
    vendor: &VendorHandle,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
    remote: std::net::IpAddr,
) -> Result<(), (RejectReason, CallbackError)> {
    check_ip_allowlist(&vendor.callback_allow_ips, Some(remote)).map_err(|e| (RejectReason::SourceNotAllowed, e))?;
    check_url_token(vendor.callback_token.as_deref(), query).map_err(|e| (RejectReason::BadToken, e))?;
    vendor.adapter.verify_callback(headers, body, Some(remote)).map_err(|e| match e {
        CallbackError::Unauthorized(_) => (RejectReason::BadSignature, e),
        CallbackError::Malformed(_) => (RejectReason::BadBody, e),
    })
}

/// An authenticated callback refused (its vendor is configured: its id is the label).
async fn store_rejection(ctx: &Ctx, mut audit: NewCallback, status: StatusCode, reason: String) -> Response {
    rejections::count(&audit.vendor_id, RejectReason::BadBody);
    audit.error = Some(reason.clone());
    let label = audit.vendor_id.clone();
    store_audit(ctx, audit, &label, status, &reason).await;
    reject(status, reason)
}

fn count_rejection(vendor_label: &str, status: StatusCode) {
    metrics::counter!("campaignd_callbacks_total", "vendor" => vendor_label.to_string(), "result" => status.as_u16().to_string()).increment(1);
}

async fn store_audit(ctx: &Ctx, mut audit: NewCallback, vendor_label: &str, status: StatusCode, reason: &str) {
    count_rejection(vendor_label, status);
    tracing::warn!(vendor = %audit.vendor_id, status = status.as_u16(), %reason, "callback rejected");
    // A vendor's own error text may quote the body; a NUL in it would make
    // PostgreSQL refuse the whole audit row.
    audit.error = audit.error.map(|e| e.replace('\0', "\\u0000"));
    if let Err(e) = ctx.inbox.store(audit).await {
        // The inbox writer logs why (once per burst of failures).
        tracing::debug!(error = %e, "cannot store rejected callback for audit");
    }
}
