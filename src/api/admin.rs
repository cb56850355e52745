//! Admin API under `/api/v1`, behind a bearer token (`http.admin_token`).
//! Every route is registered with `routes!()` so it carries its OpenAPI
//! operation (see [`super::openapi`]).

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::domain::state::CampaignEvent;
use crate::store::report::{self, CampaignStatus};
use crate::store::{StoreError, campaigns, contacts};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(action))
        .routes(routes!(vendors))
        .routes(routes!(openapi))
        .merge(super::suppressions::router())
        .merge(super::forwarding::router())
        .merge(super::explain::router())
        .merge(super::campaign_stats::router())
        .merge(super::vendor_scorecard::router())
        .merge(super::rejected_callbacks::router())
        .merge(super::campaign_admin::router())
        .merge(super::contacts_admin::router())
        .merge(super::refresh_runs::router())
}

#[derive(Serialize, ToSchema)]
pub struct CampaignList {
    /// Ordered by name.
    pub campaigns: Vec<CampaignStatus>,
}

/// All campaigns with their contact counts by state.
#[utoipa::path(get, path = "/campaigns", tag = "campaigns", security(("bearer" = [])),
    responses((status = 200, description = "Every campaign", body = CampaignList), AdminErrors))]
async fn list(_: Admin, State(ctx): State<Ctx>) -> Result<Json<CampaignList>, ApiError> {
    Ok(Json(CampaignList { campaigns: report::statuses(&ctx.db, None).await? }))
}

/// One campaign's status.
#[utoipa::path(get, path = "/campaigns/{name}", tag = "campaigns", security(("bearer" = [])),
    params(("name" = String, Path, description = "The campaign's name", example = "demo")),
    responses(
        (status = 200, description = "The campaign", body = CampaignStatus),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody),
        AdminErrors,
    ))]
async fn show(_: Admin, State(ctx): State<Ctx>, Path(name): Path<String>) -> Result<Json<CampaignStatus>, ApiError> {
    let one = report::statuses(&ctx.db, Some(&name)).await?.into_iter().next();
    Ok(Json(one.ok_or_else(|| StoreError::NoSuchCampaign(name.clone()))?))
}

/// A state change asked of a campaign.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // the path segment is matched as text; this names its values for the document
enum Action {
    Pause,
    Resume,
    Cancel,
}

/// What a state change did.
#[derive(Serialize, ToSchema)]
pub struct Transition {
    pub name: String,
    /// The state before.
    pub from: String,
    /// The state now.
    pub to: String,
}

/// Pause, resume or cancel a campaign (cancel also stops its open contacts).
#[utoipa::path(post, path = "/campaigns/{name}/{action}", tag = "campaigns", security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "The campaign's name", example = "demo"),
        ("action" = inline(Action), Path, description = "What to do"),
    ),
    responses(
        (status = 200, description = "The state changed", body = Transition),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such campaign, or an unknown action", body = ErrorBody),
        (status = 409, description = "Not allowed in the campaign's current state", body = ErrorBody),
        (status = 422, description = "The stored campaign cannot be read", body = ErrorBody),
        AdminErrors,
    ))]
async fn action(
    _: Admin,
    State(ctx): State<Ctx>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<Transition>, ApiError> {
    let event = match action.as_str() {
        "pause" => CampaignEvent::Pause,
        "resume" => CampaignEvent::Resume,
        "cancel" => CampaignEvent::Cancel,
        other => {
            return Err(ApiError(StatusCode::NOT_FOUND, format!("unknown action `{other}` (pause, resume, cancel)")));
        }
    };
    let now = ctx.clock.now();
    let (from, to) = campaigns::transition(&ctx.db, &name, event, now).await?;
    if event == CampaignEvent::Cancel {
        let row = campaigns::find_by_name(&ctx.db, &name).await?;
        contacts::stop_open(&ctx.db, row.id, "campaign cancelled", now).await?;
    }
    Ok(Json(Transition { name, from: from.as_str().into(), to: to.as_str().into() }))
}

#[derive(Serialize, ToSchema)]
pub struct VendorList {
    /// Ordered by id.
    pub vendors: Vec<VendorStatus>,
}

#[derive(Serialize, ToSchema)]
pub struct VendorStatus {
    pub id: String,
    /// `airudder`, `laaffic`, `blu`, `ai-voice`, `smartivr` or `sim`.
    pub kind: &'static str,
    pub max_concurrency: u32,
    /// Attempts in flight through this vendor, all campaigns and instances.
    pub in_flight: u64,
    /// Why and until when its circuit is open here, or null when closed.
    pub circuit_open: Option<String>,
    /// Whether results are also polled (not only called back).
    pub polls: bool,
}

/// Every configured vendor.
///
/// Its kind, cap, calls in flight (across all campaigns and instances, from
/// the database) and whether its circuit is open here.
#[utoipa::path(get, path = "/vendors", tag = "vendors", security(("bearer" = [])),
    responses((status = 200, description = "Every configured vendor", body = VendorList), AdminErrors))]
async fn vendors(_: Admin, State(ctx): State<Ctx>) -> Result<Json<VendorList>, ApiError> {
    let now = ctx.clock.now();
    let in_flight = report::in_flight_by_vendor(&ctx.db).await?;
    let mut all: Vec<VendorStatus> = ctx
        .vendors
        .all()
        .map(|v| {
            let id = v.adapter.id();
            VendorStatus {
                id: id.to_string(),
                kind: v.adapter.kind(),
                max_concurrency: v.max_concurrency,
                in_flight: in_flight.get(id).copied().unwrap_or(0),
                circuit_open: v.circuit_open(now),
                polls: v.adapter.polls(),
            }
        })
        .collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(VendorList { vendors: all }))
}

/// This document (no token needed).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
async fn openapi() -> Json<&'static serde_json::Value> {
    Json(super::openapi::document())
}
