//! Admin API under `/api/v1`, behind a bearer token (`http.admin_token`).

use super::auth::Admin;
use super::error::ApiError;
use crate::context::Ctx;
use crate::domain::state::CampaignEvent;
use crate::store::report;
use crate::store::{StoreError, campaigns, contacts};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<Ctx> {
    Router::new()
        .route("/campaigns", get(list))
        .route("/campaigns/{name}", get(show))
        .route("/campaigns/{name}/{action}", post(action))
        .route("/vendors", get(vendors))
        .route("/openapi.json", get(openapi))
        .merge(super::suppressions::router())
        .merge(super::explain::router())
}

async fn list(_: Admin, State(ctx): State<Ctx>) -> Result<Json<serde_json::Value>, ApiError> {
    let all = report::statuses(&ctx.db, None).await?;
    Ok(Json(json!({ "campaigns": all })))
}

async fn show(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
) -> Result<Json<report::CampaignStatus>, ApiError> {
    let one = report::statuses(&ctx.db, Some(&name)).await?.into_iter().next();
    Ok(Json(one.ok_or_else(|| StoreError::NoSuchCampaign(name.clone()))?))
}

async fn action(
    _: Admin,
    State(ctx): State<Ctx>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    Ok(Json(json!({ "name": name, "from": from.as_str(), "to": to.as_str() })))
}

/// Every configured vendor: kind, cap, calls in flight (across all campaigns
/// and instances, from the database) and whether its circuit is open here.
async fn vendors(_: Admin, State(ctx): State<Ctx>) -> Result<Json<serde_json::Value>, ApiError> {
    let now = ctx.clock.now();
    let in_flight = report::in_flight_by_vendor(&ctx.db).await?;
    let mut all: Vec<serde_json::Value> = ctx
        .vendors
        .all()
        .map(|v| {
            let id = v.adapter.id();
            json!({
                "id": id,
                "kind": v.adapter.kind(),
                "max_concurrency": v.max_concurrency,
                "in_flight": in_flight.get(id).copied().unwrap_or(0),
                "circuit_open": v.circuit_open(now),
                "polls": v.adapter.polls(),
            })
        })
        .collect();
    all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(json!({ "vendors": all })))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(super::openapi::document())
}
