//! `POST /callbacks/{vendor_id}/predial`: a vendor (Blu) asks, right before it
//! dials a number we handed over earlier, whether it still may. The answer
//! comes from the same rules as a claim, checked now: the attempt is still
//! ours and in flight, the campaign runs, the number is not suppressed, the
//! callee's window is open and the batch's end has not passed.

use super::callbacks::authenticate;
use super::error::ErrorBody;
use super::listener::PeerAddr;
use crate::context::Ctx;
use crate::domain::call_event::CallEvent;
use crate::domain::predial::{PredialFacts, PredialVerdict, verdict};
use crate::store::apply::find_attempt;
use crate::store::{self, IN_FLIGHT_STATES};
use crate::vendors::PredialQuery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

async fn facts(ctx: &Ctx, vendor_id: &str, q: &PredialQuery, now: DateTime<Utc>) -> anyhow::Result<PredialFacts> {
    let mut f = PredialFacts {
        attempt_in_flight: None,
        cancel_requested: false,
        campaign_state: None,
        suppressed: false,
        window_open: false,
        not_after: None,
        campaign_ends_at: None,
    };
    let probe = CallEvent {
        attempt_ref: q.attempt_ref.clone(),
        vendor_task_id: q.vendor_task_id.clone(),
        phone: q.phone.clone(),
        ..CallEvent::final_outcome(crate::domain::outcome::Outcome::new(crate::domain::outcome::Disposition::Unknown))
    };
    let Some(a) = find_attempt(&ctx.db, vendor_id, &probe).await? else { return Ok(f) };
    f.attempt_in_flight = Some(IN_FLIGHT_STATES.contains(&a.state.as_str()));
    f.cancel_requested = a.cancel_requested_at.is_some();
    f.not_after = a.not_after;
    let camp = store::campaigns::load(&ctx.db, a.campaign_id, &ctx.settings.compliance).await?;
    f.campaign_state = Some(camp.state);
    f.campaign_ends_at = camp.ends_at;
    if let Some(c) = store::contacts::find(&ctx.db, a.contact_id).await? {
        // The vendor is about to dial: the same test as a dispatch (every
        // zone's window, legal profiles, the closing margin).
        f.window_open = camp.dial_window(c.zones.as_deref()).is_ok_and(|w| w.can_dispatch(now));
        f.suppressed = store::suppressions::is_suppressed(&ctx.db, &c.phone, now).await?;
    }
    Ok(f)
}

/// Whether the vendor may still dial the number it is about to call.
#[utoipa::path(post, path = "/callbacks/{vendor_id}/predial", tag = "vendors",
    params(
        ("vendor_id" = String, Path, description = "The `id` of a configured vendor", example = "sim"),
        ("token" = Option<String>, Query, description = "The vendor's `callback_token`, when it has one"),
    ),
    request_body(description = "The vendor's own pre-dial question (Blu: JSON), free-form here",
        content(("application/json"), ("application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The verdict, in the vendor's format", body = Object),
        (status = 400, description = "Not the vendor's pre-dial format", body = ErrorBody),
        (status = 401, description = "Source address, token or signature refused", body = ErrorBody),
        (status = 404, description = "No vendor with this id", body = ErrorBody),
    ))]
pub async fn predial(
    State(ctx): State<Ctx>,
    Path(vendor_id): Path<String>,
    ConnectInfo(PeerAddr(remote)): ConnectInfo<PeerAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(vendor) = ctx.vendors.get(&vendor_id) else {
        return (StatusCode::NOT_FOUND, Json(ErrorBody { error: format!("unknown vendor `{vendor_id}`") }))
            .into_response();
    };
    if let Err(e) = authenticate(&vendor, query.as_deref(), &headers, &body, remote.ip()) {
        tracing::warn!(vendor = %vendor_id, error = %e, "pre-dial check rejected");
        return (StatusCode::UNAUTHORIZED, Json(ErrorBody { error: e.to_string() })).into_response();
    }
    let q = match vendor.adapter.parse_predial(&body) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(ErrorBody { error: e.to_string() })).into_response(),
    };
    let now = ctx.clock.now();
    let verdict = match facts(&ctx, &vendor_id, &q, now).await {
        Ok(f) => verdict(&f, now),
        Err(e) => {
            // Cannot check: the safe answer is not to dial.
            tracing::error!(vendor = %vendor_id, error = %e, "pre-dial check failed; answering no");
            PredialVerdict::Refuse { reason: "temporarily unable to check".into() }
        }
    };
    let label = match &verdict {
        PredialVerdict::Proceed => "proceed",
        PredialVerdict::Refuse { .. } => "refuse",
    };
    metrics::counter!("campaignd_predial_total", "vendor" => vendor_id.clone(), "verdict" => label).increment(1);
    if let PredialVerdict::Refuse { reason } = &verdict {
        tracing::info!(vendor = %vendor_id, attempt = ?q.attempt_ref, %reason, "pre-dial check: do not dial");
    }
    let (status, body) = vendor.adapter.predial_reply(&verdict);
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), Json(body)).into_response()
}
