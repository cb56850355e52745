//! One record of a callback body that could not be read, kept for audit
//! while the body's other records were applied (the body itself stays in
//! `callback_inbox`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub inbox_id: i64,
    pub vendor_id: String,
    /// Position of the record in the body (0 for one-record bodies).
    pub record_index: i32,
    /// The callee, when it could still be read.
    pub phone: Option<String>,
    /// Which field and why.
    pub reason: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
