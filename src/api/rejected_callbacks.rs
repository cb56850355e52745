//! `GET /api/v1/callbacks/rejected?limit=`: the newest rejected callback
//! deliveries, for an operator looking for a misconfigured vendor (and for
//! the status page).

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::store::rejected_callbacks::{RejectedCallback, recent};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Deliveries listed when `limit` is not given.
const DEFAULT_LIMIT: u32 = 20;
/// The most one call lists.
const MAX_LIMIT: u32 = 200;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(rejected_callbacks))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LimitParams {
    /// How many to list (1 to 200; 20 by default).
    #[param(minimum = 1, maximum = 200, example = 20)]
    limit: Option<u32>,
}

/// The newest rejected callback deliveries.
#[derive(Serialize, ToSchema)]
pub struct RejectedCallbacks {
    /// Newest first.
    pub callbacks: Vec<RejectedCallback>,
}

/// The newest rejected callback deliveries.
///
/// Deliveries refused and kept for audit (unknown vendor id, failed
/// authentication, unreadable or oversized body), newest first: the vendor
/// id from the URL, when, from where and why. The bodies stay in the inbox.
#[utoipa::path(get, path = "/callbacks/rejected", tag = "callbacks", security(("bearer" = [])),
    params(LimitParams),
    responses(
        (status = 200, description = "The newest rejected deliveries", body = RejectedCallbacks),
        (status = 400, description = "A `limit` that is not a whole number from 1 to 200", body = ErrorBody),
        AdminErrors,
    ))]
async fn rejected_callbacks(
    _: Admin,
    State(ctx): State<Ctx>,
    params: Result<Query<LimitParams>, QueryRejection>,
) -> Result<Json<RejectedCallbacks>, ApiError> {
    let Query(params) = params?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("limit: {limit} is not from 1 to {MAX_LIMIT}")));
    }
    Ok(Json(RejectedCallbacks { callbacks: recent(&ctx.db, u64::from(limit)).await? }))
}
