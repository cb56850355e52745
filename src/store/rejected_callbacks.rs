//! The most recent rejected callback deliveries (unknown vendor, failed
//! authentication, unreadable, oversized), for the admin API and the status
//! page: what was refused, from where and why, without the bodies.

use super::StoreError;
use crate::domain::state::InboxState;
use chrono::{DateTime, Utc};
use entity::callback_inbox::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};

/// One rejected delivery as the inbox keeps it, its body left out (an
/// authenticated one is kept whole and may be large).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, FromQueryResult)]
pub struct RejectedCallback {
    /// The inbox row (`callback_inbox.id`).
    pub id: i64,
    /// The vendor id from the URL, configured or not.
    pub vendor_id: String,
    pub received_at: DateTime<Utc>,
    /// The sender's address, when known.
    pub remote_addr: Option<String>,
    /// Why it was refused.
    pub error: Option<String>,
}

/// The `limit` newest rejected deliveries, newest first: a range scan of
/// `ix_inbox_state_id` backwards, however many rows the inbox holds.
pub async fn recent<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<RejectedCallback>, StoreError> {
    Ok(Entity::find()
        .select_only()
        .columns([Column::Id, Column::VendorId, Column::ReceivedAt, Column::RemoteAddr, Column::Error])
        .filter(Column::State.eq(InboxState::Rejected.as_str()))
        .order_by_desc(Column::Id)
        .limit(limit)
        .into_model::<RejectedCallback>()
        .all(db)
        .await?)
}
