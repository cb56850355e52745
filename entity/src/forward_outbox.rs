//! One event to forward to the operator's URL (Standard Webhooks), written
//! with the result it reports and delivered by the forwarding worker.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "forward_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `webhook-id`: `evt_<uuid>`, the same on every delivery of the event.
    #[sea_orm(unique)]
    pub event_id: String,
    /// `contact.final` or `attempt.completed`.
    pub event_type: String,
    pub campaign_id: i64,
    pub contact_id: Option<i64>,
    pub attempt_id: Option<i64>,
    /// The JSON body as sent.
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_status: Option<i32>,
    pub delivered_at: Option<DateTimeUtc>,
    pub dead_at: Option<DateTimeUtc>,
    pub replayed_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
