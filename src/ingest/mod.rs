//! Webhook ingress: `POST /callbacks/{vendor_id}`. Order matters: read within
//! the size limit, check authenticity, check the body parses, store it
//! durably — and only then answer 2xx. Processing happens later, from the inbox.

pub mod predial;
pub mod processor;
pub mod writer;

use crate::api::listener::PeerAddr;
use crate::context::Ctx;
use crate::store::inbox::NewCallback;
use crate::vendors::CallbackError;
use crate::vendors::common::{check_ip_allowlist, check_url_token};
use crate::vendors::registry::VendorHandle;
use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Headers that carry credentials are not kept in the audit copy.
const REDACTED_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let map = headers
        .iter()
        .map(|(k, v)| {
            let value = if REDACTED_HEADERS.contains(&k.as_str()) {
                "<redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_string(), serde_json::Value::String(value))
        })
        .collect();
    serde_json::Value::Object(map)
}

fn reject(status: StatusCode, reason: String) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}

pub async fn callback(
    State(ctx): State<Ctx>,
    Path(vendor_id): Path<String>,
    ConnectInfo(PeerAddr(remote)): ConnectInfo<PeerAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let now = ctx.clock.now();
    let limit = ctx.settings.http.max_body_bytes;
    let mut audit = NewCallback {
        vendor_id: vendor_id.clone(),
        remote_addr: Some(remote.ip().to_string()),
        headers: headers_json(&headers),
        body: Vec::new(),
        state: "rejected",
        error: None,
        received_at: now,
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let reason = format!("body larger than {limit} bytes");
            return store_rejection(&ctx, audit, StatusCode::PAYLOAD_TOO_LARGE, reason).await;
        }
    };
    audit.body = bytes.to_vec();
    let Some(vendor) = ctx.vendors.get(&vendor_id) else {
        let reason = format!("unknown vendor `{vendor_id}`");
        return store_rejection(&ctx, audit, StatusCode::NOT_FOUND, reason).await;
    };
    if let Err(e) = authenticate(&vendor, query.as_deref(), &headers, &bytes, remote.ip()) {
        return store_rejection(&ctx, audit, StatusCode::UNAUTHORIZED, e.to_string()).await;
    }
    if let Err(e) = vendor.adapter.parse_callback(&bytes) {
        return store_rejection(&ctx, audit, StatusCode::BAD_REQUEST, e.to_string()).await;
    }
    audit.state = "pending";
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
            tracing::debug!(vendor = %vendor_id, error = %e, "cannot store callback");
            reject(StatusCode::SERVICE_UNAVAILABLE, "temporarily unable to store the callback; retry".into())
        }
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
    check_ip_allowlist(&vendor.callback_allow_ips, Some(remote))?;
    check_url_token(vendor.callback_token.as_deref(), query)?;
    vendor.adapter.verify_callback(headers, body, Some(remote))
}

async fn store_rejection(ctx: &Ctx, mut audit: NewCallback, status: StatusCode, reason: String) -> Response {
    metrics::counter!("campaignd_callbacks_total", "vendor" => audit.vendor_id.to_string(), "result" => status.as_u16().to_string()).increment(1);
    tracing::warn!(vendor = %audit.vendor_id, status = status.as_u16(), %reason, "callback rejected");
    audit.error = Some(reason.clone());
    if let Err(e) = ctx.inbox.store(audit).await {
        // The inbox writer logs why (once per burst of failures).
        tracing::debug!(error = %e, "cannot store rejected callback for audit");
    }
    reject(status, reason)
}
