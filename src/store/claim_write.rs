//! Writing a claim's verdicts: one multi-row statement per kind of change
//! (contacts put in flight, deferred, finished; attempts inserted), so a
//! batch costs the same few statements whatever its size. Only a row that
//! does not read (parked) is written on its own.

use super::StoreError;
use super::claim::{Claimed, Lease};
use super::raw_sql::Sql;
use super::values_list;
use crate::domain::state::{AttemptState, ContactState};
use chrono::{DateTime, Utc};
use entity::{attempt, contact};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

/// The new attempt's row: `dispatching` until the vendor answers.
pub(super) fn attempt_row(
    c: &contact::Model,
    attempt_no: i32,
    vendor_id: &str,
    attempt_ref: &str,
    max_dials: u32,
    lease: &Lease<'_>,
    now: DateTime<Utc>,
) -> attempt::ActiveModel {
    attempt::ActiveModel {
        campaign_id: Set(c.campaign_id),
        contact_id: Set(c.id),
        attempt_no: Set(attempt_no),
        vendor_id: Set(vendor_id.to_string()),
        vendor_task_id: Set(None),
        attempt_ref: Set(attempt_ref.to_string()),
        external_call_id: Set(None),
        state: Set(AttemptState::Dispatching.as_str().to_string()),
        disposition: Set(None),
        intent: Set(None),
        raw_code: Set(None),
        raw_intent: Set(None),
        error: Set(None),
        created_at: Set(now),
        dispatched_at: Set(None),
        deadline_at: Set(None),
        completed_at: Set(None),
        duration_ms: Set(None),
        updated_at: Set(now),
        phone: Set(Some(c.phone.clone())),
        not_after: Set(None),
        cancel_requested_at: Set(None),
        case_id: Set(c.case_id.clone()),
        max_dials: Set(max_dials as i32),
        lease_owner: Set(Some(lease.owner.to_string())),
        lease_expires_at: Set(Some(lease.until)),
        ..Default::default()
    }
}

pub(super) async fn insert_attempts<C: ConnectionTrait>(
    txn: &C,
    rows: Vec<attempt::ActiveModel>,
) -> Result<(), StoreError> {
    for chunk in super::raw_sql::insert_chunks(rows) {
        attempt::Entity::insert_many(chunk).exec_without_returning(txn).await?;
    }
    Ok(())
}

/// Claimed contacts go in flight, each remembering the vendor of this
/// attempt for its redial strategy.
pub(super) async fn mark_in_flight<C: ConnectionTrait>(
    txn: &C,
    claimed: &[Claimed],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = claimed.iter().map(|c| vec![c.contact_id.into(), c.vendor_id.clone().into()]).collect();
    for chunk in values_list::chunks(rows) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("UPDATE contacts SET state = ")
            .bind(ContactState::InFlight.as_str())
            .push(", due_at = NULL, attempt_seq = attempt_seq + 1, last_vendor_id = v.vendor_id, updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["id", "vendor_id"], chunk)
            .push(" AS v WHERE contacts.id = v.id");
        let statement = sql.build();
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Contacts due again later, each at its own instant (`(id, due)`).
pub(super) async fn set_due<C: ConnectionTrait>(
    txn: &C,
    deferrals: &[(i64, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = deferrals.iter().map(|(id, due)| vec![(*id).into(), (*due).into()]).collect();
    for chunk in values_list::chunks(rows) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("UPDATE contacts SET due_at = v.due_at, updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["id", "due_at"], chunk)
            .push(" AS v WHERE contacts.id = v.id");
        let statement = sql.build();
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// A contact finished for good by the claim, and why.
pub(super) struct Finished {
    pub id: i64,
    pub state: ContactState,
    pub reason: String,
}

/// Contacts finished for good (stopped, suppressed, exhausted), out of the
/// due queue with their reasons.
pub(super) async fn finish<C: ConnectionTrait>(
    txn: &C,
    finished: Vec<Finished>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = finished.into_iter().map(|f| vec![f.id.into(), f.state.as_str().into(), f.reason.into()]).collect();
    for chunk in values_list::chunks(rows) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.push("UPDATE contacts SET state = v.state, due_at = NULL, finished_reason = v.reason, updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["id", "state", "reason"], chunk)
            .push(" AS v WHERE contacts.id = v.id");
        let statement = sql.build();
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Take a contact whose row does not read out of the due queue, with why.
pub(super) async fn park<C: ConnectionTrait>(
    db: &C,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    contact::Entity::update_many()
        .col_expr(contact::Column::DueAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(contact::Column::FinishedReason, Expr::value(format!("not dialed: {reason}")))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now))
        .filter(contact::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
