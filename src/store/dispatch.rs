//! The dispatcher's writes: a vendor task per batch handed to a vendor, the
//! attempts it accepted (fenced on this instance's lease), and the lease
//! checks before and after the vendor call.

use super::StoreError;
use crate::domain::state::AttemptState;
use chrono::{DateTime, Utc};
use entity::{attempt, vendor_task};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use std::collections::BTreeSet;

const DISPATCHING: &str = AttemptState::Dispatching.as_str();

/// A batch as the vendor answered it.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    pub vendor_id: &'a str,
    pub campaign_id: i64,
    /// The vendor's id for it; None when it refused or did not answer.
    pub external_task_id: Option<String>,
    /// `accepted`, `failed` or `unknown`.
    pub state: &'static str,
    pub size: usize,
    pub not_after: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub raw_response: Option<String>,
}

/// Record a batch handed to a vendor; returns its row id.
pub async fn insert_task<C: ConnectionTrait>(db: &C, t: NewTask<'_>, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let row = vendor_task::ActiveModel {
        vendor_id: Set(t.vendor_id.to_string()),
        campaign_id: Set(t.campaign_id),
        external_task_id: Set(t.external_task_id),
        state: Set(t.state.into()),
        size: Set(t.size as i32),
        not_after: Set(t.not_after),
        error: Set(t.error),
        raw_response: Set(t.raw_response),
        polled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// What the vendor accepted of a batch, and until when results are awaited.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    pub task_id: i64,
    pub lease_owner: &'a str,
    pub deadline: DateTime<Utc>,
    pub not_after: Option<DateTime<Utc>>,
}

/// The accepted attempts (`(attempt_ref, vendor call id)`) are dispatched;
/// each update is fenced on `dispatching` under this instance's lease.
pub async fn mark_dispatched<C: ConnectionTrait>(
    db: &C,
    accepted: &[(String, Option<String>)],
    to: Accepted<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (attempt_ref, call_id) in accepted {
        attempt::Entity::update_many()
            .col_expr(attempt::Column::State, Expr::value(AttemptState::Dispatched.as_str()))
            .col_expr(attempt::Column::ExternalCallId, Expr::value(call_id.clone()))
            .col_expr(attempt::Column::VendorTaskId, Expr::value(to.task_id))
            .col_expr(attempt::Column::DispatchedAt, Expr::value(now))
            .col_expr(attempt::Column::DeadlineAt, Expr::value(to.deadline))
            .col_expr(attempt::Column::NotAfter, Expr::value(to.not_after))
            .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
            .filter(attempt::Column::AttemptRef.eq(attempt_ref.as_str()))
            .filter(attempt::Column::State.eq(DISPATCHING))
            .filter(attempt::Column::LeaseOwner.eq(to.lease_owner))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The attempt `attempt_ref` if `lease_owner` claimed it.
pub async fn leased<C: ConnectionTrait>(
    db: &C,
    attempt_ref: &str,
    lease_owner: &str,
) -> Result<Option<attempt::Model>, StoreError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::AttemptRef.eq(attempt_ref))
        .filter(attempt::Column::LeaseOwner.eq(lease_owner))
        .one(db)
        .await?)
}

/// The attempts of `refs` that `lease_owner` claimed, locked in id order,
/// the order every writer of several attempts uses (see `AttemptLocks`).
pub async fn lock_leased<C: ConnectionTrait>(
    db: &C,
    refs: &[&str],
    lease_owner: &str,
) -> Result<Vec<attempt::Model>, StoreError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::AttemptRef.is_in(refs.iter().copied()))
        .filter(attempt::Column::LeaseOwner.eq(lease_owner))
        .order_by_asc(attempt::Column::Id)
        .lock_exclusive()
        .all(db)
        .await?)
}

/// Which of `refs` are still `dispatching` under `lease_owner`'s lease
/// beyond `until`.
pub async fn still_leased<C: ConnectionTrait>(
    db: &C,
    refs: &[&str],
    lease_owner: &str,
    until: DateTime<Utc>,
) -> Result<BTreeSet<String>, StoreError> {
    Ok(attempt::Entity::find()
        .select_only()
        .column(attempt::Column::AttemptRef)
        .filter(attempt::Column::AttemptRef.is_in(refs.iter().copied()))
        .filter(attempt::Column::State.eq(DISPATCHING))
        .filter(attempt::Column::LeaseOwner.eq(lease_owner))
        .filter(attempt::Column::LeaseExpiresAt.gt(until))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}
