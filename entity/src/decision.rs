//! The decision audit: one row per scheduling decision about a contact
//! (dispatched, deferred to a window, capped, suppressed, retry, stopped, ...)
//! with its reason. Decisions taken for a whole zone group at once (a window
//! closing over many contacts) have no contact and carry the group's `zones`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "decisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub campaign_id: i64,
    /// NULL for a decision about every due contact of a zone group.
    pub contact_id: Option<i64>,
    pub phone: Option<String>,
    /// The zone group (`contacts.zones`, `''` for the campaign's zone, `*`
    /// for every contact of the campaign) of a group decision.
    pub zones: Option<String>,
    pub attempt_no: Option<i32>,
    /// dispatched | deferred | capped | busy | suppressed | retry | done | exhausted | stopped
    pub kind: String,
    pub reason: String,
    /// When the contact is due next, where the decision set one.
    pub next_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub detail: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
