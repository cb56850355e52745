//! The reconciler's queries: attempts whose dispatch or result is overdue,
//! dispatch leases taken over, calls to cancel at the vendor, and the tasks a
//! poll-based vendor is asked about.

use super::{IN_FLIGHT_STATES, StoreError};
use crate::domain::state::{AttemptState, CampaignState};
use chrono::{DateTime, Utc};
use entity::{attempt, campaign, suppression, vendor_task};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

const DISPATCHING: &str = AttemptState::Dispatching.as_str();
const DISPATCHED: &str = AttemptState::Dispatched.as_str();

/// The vendor's task id of `a`'s task, if it has one.
pub async fn external_task_id<C: ConnectionTrait>(db: &C, a: &attempt::Model) -> Result<Option<String>, StoreError> {
    Ok(match a.vendor_task_id {
        Some(id) => vendor_task::Entity::find_by_id(id).one(db).await?.and_then(|t| t.external_task_id),
        None => None,
    })
}

/// A `dispatching` attempt whose lease ran out (rows from before leases:
/// claimed longer ago than the lease would have lasted).
fn lease_expired(now: DateTime<Utc>) -> Condition {
    Condition::any().add(attempt::Column::LeaseExpiresAt.lt(now)).add(attempt::Column::LeaseExpiresAt.is_null())
}

/// Up to `limit` attempts to look up at the vendor at `now`: dispatches
/// whose lease ran out, and dispatched calls past their result deadline.
pub async fn overdue<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<attempt::Model>, StoreError> {
    Ok(attempt::Entity::find()
        .filter(
            Condition::any()
                .add(Condition::all().add(attempt::Column::State.eq(DISPATCHING)).add(lease_expired(now)))
                .add(
                    Condition::all()
                        .add(attempt::Column::State.eq(DISPATCHED))
                        .add(attempt::Column::DeadlineAt.lt(now)),
                ),
        )
        .order_by_asc(attempt::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Make `owner` the holder of `a`'s expired dispatch lease until `until`.
/// False when another instance wrote it back or took it first.
pub async fn take_over_lease<C: ConnectionTrait>(
    db: &C,
    a: &attempt::Model,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = attempt::Entity::update_many()
        .col_expr(attempt::Column::LeaseOwner, Expr::value(owner))
        .col_expr(attempt::Column::LeaseExpiresAt, Expr::value(until))
        .filter(attempt::Column::Id.eq(a.id))
        .filter(attempt::Column::State.eq(DISPATCHING))
        .filter(match &a.lease_owner {
            Some(o) => attempt::Column::LeaseOwner.eq(o.as_str()),
            None => attempt::Column::LeaseOwner.is_null(),
        })
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The vendor has the call and it is pending: `a` is dispatched, with a
/// result due by `deadline` (fenced on the state read).
pub async fn confirm_dispatched<C: ConnectionTrait>(
    db: &C,
    a: &attempt::Model,
    external_call_id: Option<String>,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    attempt::Entity::update_many()
        .col_expr(attempt::Column::State, Expr::value(DISPATCHED))
        .col_expr(attempt::Column::ExternalCallId, Expr::value(external_call_id.or(a.external_call_id.clone())))
        .col_expr(attempt::Column::DispatchedAt, Expr::value(a.dispatched_at.unwrap_or(now)))
        .col_expr(attempt::Column::DeadlineAt, Expr::value(deadline))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .filter(attempt::Column::Id.eq(a.id))
        .filter(attempt::Column::State.eq(a.state.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Look a dispatched attempt up again at `until` (its lookup failed).
pub async fn retry_lookup_at<C: ConnectionTrait>(db: &C, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
    attempt::Entity::update_many()
        .col_expr(attempt::Column::DeadlineAt, Expr::value(until))
        .filter(attempt::Column::Id.eq(id))
        .filter(attempt::Column::State.eq(DISPATCHED))
        .exec(db)
        .await?;
    Ok(())
}

/// Attempts still in flight in vendor task `task` (our row id).
pub async fn in_flight_in_task<C: ConnectionTrait>(db: &C, task: i64) -> Result<u64, StoreError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::VendorTaskId.eq(task))
        .filter(attempt::Column::State.is_in(IN_FLIGHT_STATES))
        .count(db)
        .await?)
}

/// Ids of paused and cancelled campaigns: their calls are cancelled.
pub async fn stopped_campaigns<C: ConnectionTrait>(db: &C) -> Result<Vec<i64>, StoreError> {
    Ok(campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .filter(campaign::Column::State.is_in([CampaignState::Paused.as_str(), CampaignState::Cancelled.as_str()]))
        .into_tuple()
        .all(db)
        .await?)
}

/// Up to 500 dispatched calls not yet cancelled that must no longer be
/// dialed at `now`: their window closed, their number is suppressed, or
/// their campaign is in `stopped`.
pub async fn to_cancel<C: ConnectionTrait>(
    db: &C,
    stopped: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<attempt::Model>, StoreError> {
    let suppressed = Query::select()
        .column(suppression::Column::Phone)
        .from(suppression::Entity)
        .cond_where(
            Condition::any().add(suppression::Column::ExpiresAt.is_null()).add(suppression::Column::ExpiresAt.gt(now)),
        )
        .to_owned();
    let mut why = Condition::any()
        .add(attempt::Column::NotAfter.lte(now))
        .add(Expr::col(attempt::Column::Phone).in_subquery(suppressed));
    if !stopped.is_empty() {
        why = why.add(attempt::Column::CampaignId.is_in(stopped.iter().copied()));
    }
    Ok(attempt::Entity::find()
        .filter(attempt::Column::State.eq(DISPATCHED))
        .filter(attempt::Column::CancelRequestedAt.is_null())
        .filter(why)
        .order_by_asc(attempt::Column::Id)
        .limit(500)
        .all(db)
        .await?)
}

/// The vendor took the cancel of these attempts at `now`.
pub async fn cancel_requested<C: ConnectionTrait>(db: &C, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
    attempt::Entity::update_many()
        .col_expr(attempt::Column::CancelRequestedAt, Expr::value(now))
        .filter(attempt::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Up to 100 tasks of `vendor_id` to poll, least recently polled first.
pub async fn tasks_to_poll<C: ConnectionTrait>(db: &C, vendor_id: &str) -> Result<Vec<vendor_task::Model>, StoreError> {
    Ok(vendor_task::Entity::find()
        .filter(vendor_task::Column::VendorId.eq(vendor_id))
        .filter(vendor_task::Column::State.eq("accepted"))
        .filter(vendor_task::Column::ExternalTaskId.is_not_null())
        .order_by_asc(vendor_task::Column::PolledAt)
        .limit(100)
        .all(db)
        .await?)
}

/// Task `task` was polled at `now`; with nothing left in flight it is done
/// and no longer polled. Returns whether it is done.
pub async fn task_polled<C: ConnectionTrait>(db: &C, task: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let done = in_flight_in_task(db, task).await? == 0;
    vendor_task::Entity::update_many()
        .col_expr(vendor_task::Column::PolledAt, Expr::value(now))
        .col_expr(vendor_task::Column::State, Expr::value(if done { "done" } else { "accepted" }))
        .col_expr(vendor_task::Column::UpdatedAt, Expr::value(now))
        .filter(vendor_task::Column::Id.eq(task))
        .exec(db)
        .await?;
    Ok(done)
}
