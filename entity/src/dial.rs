//! One real dial of a number: the first dial of an attempt (`seq` 0) and each
//! redial the vendor made on its own inside it (`seq` 1..). Frequency caps
//! count these rows.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dials")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub attempt_id: i64,
    pub seq: i32,
    pub contact_id: i64,
    pub campaign_id: i64,
    pub vendor_id: String,
    pub phone: String,
    pub case_id: Option<String>,
    pub external_call_id: Option<String>,
    pub dialed_at: DateTimeUtc,
    pub disposition: String,
    pub raw_code: Option<String>,
    pub vendor_redial: bool,
    /// The bot's normalized intent of this dial, where there was a conversation.
    pub intent: Option<String>,
    /// The dial's time as the vendor reported it, when it did; `dialed_at`
    /// is that time clamped into [attempt dispatched, result applied].
    pub vendor_dialed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
