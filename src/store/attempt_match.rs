//! Which attempt a vendor event is for.

use super::StoreError;
use crate::domain::call_event::CallEvent;
use crate::domain::matching::attempt_for_call;
use chrono::{DateTime, Utc};
use entity::{attempt, vendor_task};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// Find the attempt a vendor event refers to: by our reference, else by the
/// vendor's call id, else by the vendor task and the callee's phone (newest
/// attempt first: a phone appears once per batch), else — for results that
/// carry none of these, like Laaffic's push — by (vendor, phone) with a time
/// fence (see [`by_vendor_phone`]).
pub async fn find_attempt<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    event: &CallEvent,
) -> Result<Option<attempt::Model>, StoreError> {
    if let Some(r) = &event.attempt_ref
        && let Some(a) = attempt::Entity::find().filter(attempt::Column::AttemptRef.eq(r.as_str())).one(db).await?
    {
        return Ok((a.vendor_id == vendor_id).then_some(a));
    }
    find_attempt_by_call(db, vendor_id, event).await
}

/// [`find_attempt`] past our reference (absent, or naming no attempt): by
/// the vendor's call id, task and phone, or phone.
pub async fn find_attempt_by_call<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    event: &CallEvent,
) -> Result<Option<attempt::Model>, StoreError> {
    if let Some(id) = &event.external_call_id
        && let Some(a) = attempt::Entity::find()
            .filter(attempt::Column::VendorId.eq(vendor_id))
            .filter(attempt::Column::ExternalCallId.eq(id.as_str()))
            .one(db)
            .await?
    {
        return Ok(Some(a));
    }
    let Some(phone) = &event.phone else { return Ok(None) };
    if let Some(task) = &event.vendor_task_id {
        let tasks: Vec<i64> = vendor_task::Entity::find()
            .select_only()
            .column(vendor_task::Column::Id)
            .filter(vendor_task::Column::VendorId.eq(vendor_id))
            .filter(vendor_task::Column::ExternalTaskId.eq(task.as_str()))
            .into_tuple()
            .all(db)
            .await?;
        if !tasks.is_empty() {
            return Ok(attempt::Entity::find()
                .filter(attempt::Column::VendorTaskId.is_in(tasks))
                .filter(attempt::Column::Phone.eq(phone.as_str()))
                .order_by_desc(attempt::Column::Id)
                .one(db)
                .await?);
        }
        // A task id we never recorded (the vendor's own id for a redial
        // round, a task created by a lost dispatch answer): the phone decides.
    }
    by_vendor_phone(db, vendor_id, phone, event).await
}

/// The attempt of `vendor_id` for `phone` that a result describing a call
/// at the event's time belongs to ([`attempt_for_call`]).
pub async fn by_vendor_phone<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    phone: &str,
    event: &CallEvent,
) -> Result<Option<attempt::Model>, StoreError> {
    let mut candidates = attempt::Entity::find()
        .filter(attempt::Column::VendorId.eq(vendor_id))
        .filter(attempt::Column::Phone.eq(phone))
        .order_by_desc(attempt::Column::Id)
        .limit(20)
        .all(db)
        .await?;
    let created: Vec<DateTime<Utc>> = candidates.iter().map(|a| a.created_at).collect();
    Ok(attempt_for_call(&created, event.started_at.or(event.ended_at)).map(|i| candidates.swap_remove(i)))
}
