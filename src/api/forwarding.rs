//! `/api/v1/forwarding/events`: the forwarding outbox — events waiting,
//! dead-lettered or delivered — and replaying one with its same id.

use super::auth::Admin;
use super::error::{AdminErrors, ApiError, ErrorBody};
use crate::context::Ctx;
use crate::store::forward_outbox::{self, Listed};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use entity::forward_outbox::Model;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const MAX_LIMIT: u64 = 1000;

pub fn router() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(replay))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// `pending` (default: not delivered yet, not dead), `dead` or `delivered`.
    #[param(inline, value_type = Option<EventState>)]
    state: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Only events listed after this one: the previous page's `next_after`.
    #[param(minimum = 0)]
    after: Option<i64>,
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ForwardEventState)]
enum EventState {
    Pending,
    Dead,
    Delivered,
}

/// One forwarded event.
#[derive(Debug, Serialize, ToSchema)]
struct ForwardEvent {
    /// The `webhook-id` of every delivery (`evt_…`).
    event_id: String,
    /// `contact.final` or `attempt.completed`.
    #[serde(rename = "type")]
    event_type: String,
    state: EventState,
    campaign_id: i64,
    contact_id: Option<i64>,
    attempt_id: Option<i64>,
    created_at: DateTime<Utc>,
    /// Deliveries tried (since the last replay).
    attempts: i32,
    /// The receiver's status on the last try, when it answered.
    last_status: Option<i32>,
    last_error: Option<String>,
    /// When it is tried next (pending events).
    next_attempt_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
    dead_at: Option<DateTime<Utc>>,
    /// The body as sent (see docs/crm-integration.md).
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

impl From<Model> for ForwardEvent {
    fn from(r: Model) -> Self {
        let state = match (r.delivered_at, r.dead_at) {
            (_, Some(_)) => EventState::Dead,
            (Some(_), None) => EventState::Delivered,
            (None, None) => EventState::Pending,
        };
        ForwardEvent {
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::String(r.payload)),
            event_id: r.event_id,
            event_type: r.event_type,
            state,
            campaign_id: r.campaign_id,
            contact_id: r.contact_id,
            attempt_id: r.attempt_id,
            created_at: r.created_at,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            delivered_at: r.delivered_at,
            dead_at: r.dead_at,
        }
    }
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ForwardEventPage)]
struct EventPage {
    events: Vec<ForwardEvent>,
    /// Pass as `after` for the next page; absent on the last one.
    next_after: Option<i64>,
}

/// List forwarded events: pending (default), dead-lettered or delivered, oldest first.
#[utoipa::path(get, path = "/forwarding/events", tag = "forwarding", security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "An unknown state, a limit out of range or an unreadable parameter", body = ErrorBody),
        AdminErrors,
    ))]
async fn list(
    _: Admin,
    State(ctx): State<Ctx>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(params) = params?;
    let state = match params.state.as_deref() {
        None | Some("pending") => Listed::Pending,
        Some("dead") => Listed::Dead,
        Some("delivered") => Listed::Delivered,
        Some(other) => {
            let msg = format!("state: `{other}` is not one of pending, dead, delivered");
            return Err(ApiError(StatusCode::BAD_REQUEST, msg));
        }
    };
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("limit: {limit} is not between 1 and {MAX_LIMIT}")));
    }
    let after = params.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError(StatusCode::BAD_REQUEST, format!("after: {after} is negative")));
    }
    let rows = forward_outbox::list(&ctx.db, state, after, limit).await?;
    let next_after = (rows.len() as u64 == limit).then(|| rows.last().map(|r| r.id)).flatten();
    Ok(Json(EventPage { events: rows.into_iter().map(ForwardEvent::from).collect(), next_after }))
}

/// Deliver an event again from now, with its same id.
///
/// A dead-lettered event (or a delivered one the receiver lost) is due at
/// once; its dead-letter age restarts.
#[utoipa::path(post, path = "/forwarding/events/{event_id}/replay", tag = "forwarding", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "The event's id (`evt_…`)", example = "evt_0d7f6c1e9a8b4c2d9e0f1a2b3c4d5e6f")),
    responses(
        (status = 200, description = "Due again now", body = ForwardEvent),
        (status = 400, description = "An unreadable path segment", body = ErrorBody),
        (status = 404, description = "No such event", body = ErrorBody),
        AdminErrors,
    ))]
async fn replay(
    _: Admin,
    State(ctx): State<Ctx>,
    Path(event_id): Path<String>,
) -> Result<Json<ForwardEvent>, ApiError> {
    match forward_outbox::replay(&ctx.db, &event_id, ctx.clock.now()).await? {
        Some(row) => {
            ctx.forward_notify.notify_one();
            Ok(Json(row.into()))
        }
        None => Err(ApiError(StatusCode::NOT_FOUND, format!("no forwarded event `{event_id}`"))),
    }
}
