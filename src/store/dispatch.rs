//! The dispatcher's writes: a vendor task per batch handed to a vendor, the
//! attempts it accepted (fenced on this instance's lease), and the lease
//! checks before and after the vendor call.

use super::StoreError;
use super::raw_sql::{Sql, padded};
use super::values_list;
use crate::domain::state::AttemptState;
use chrono::{DateTime, Utc};
use entity::{attempt, vendor_task};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
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

/// The accepted attempts (`(attempt_ref, vendor call id)`) are dispatched,
/// with one `UPDATE … FROM (VALUES …)` per 512 of them; each row is fenced
/// on `dispatching` under this instance's lease, so an attempt the leader
/// took over (or a callback already finished) is left alone.
pub async fn mark_dispatched<C: ConnectionTrait>(
    db: &C,
    accepted: &[(String, Option<String>)],
    to: Accepted<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = accepted.iter().map(|(attempt_ref, call_id)| vec![attempt_ref.clone().into(), call_id.clone().into()]);
    for chunk in values_list::chunks(rows.collect()) {
        let mut sql = Sql::new(db.get_database_backend());
        sql.update()
            .push(" attempts SET state = ")
            .bind(AttemptState::Dispatched.as_str())
            .push(", external_call_id = v.call_id, vendor_task_id = ")
            .bind(to.task_id)
            .push(", dispatched_at = ")
            .bind(now)
            .push(", deadline_at = ")
            .bind(to.deadline)
            .push(", not_after = ")
            .bind(to.not_after)
            .push(", updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["attempt_ref", "call_id"], chunk)
            .push(" AS v WHERE attempts.attempt_ref = v.attempt_ref AND attempts.state = ")
            .bind(DISPATCHING)
            .push(" AND attempts.lease_owner = ")
            .bind(to.lease_owner);
        let statement = sql.build();
        db.execute_raw(statement).await?;
    }
    Ok(())
}

/// The attempts of `refs` that `lease_owner` claimed, locked in id order,
/// the order every writer of several attempts uses (see `AttemptLocks`).
pub async fn lock_leased<C: ConnectionTrait>(
    db: &C,
    refs: &[&str],
    lease_owner: &str,
) -> Result<Vec<attempt::Model>, StoreError> {
    Ok(attempt::Entity::find()
        .filter(attempt::Column::AttemptRef.is_in(padded(refs)))
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
    let refs = padded(refs);
    let query = still_leased_query(db.get_database_backend(), &refs, lease_owner, until);
    Ok(query.into_tuple::<String>().all(db).await?.into_iter().collect())
}

/// The query of [`still_leased`]: sought by ref, not through every attempt
/// being dispatched (`plan_hints`).
pub fn still_leased_query(
    backend: DbBackend,
    refs: &[&str],
    lease_owner: &str,
    until: DateTime<Utc>,
) -> sea_orm::Select<attempt::Entity> {
    attempt::Entity::find()
        .select_only()
        .column(attempt::Column::AttemptRef)
        .filter(attempt::Column::AttemptRef.is_in(refs.iter().copied()))
        .filter(super::plan_hints::attempt_state_in(backend, &[DISPATCHING]))
        .filter(attempt::Column::LeaseOwner.eq(lease_owner))
        .filter(attempt::Column::LeaseExpiresAt.gt(until))
}
