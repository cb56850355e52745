//! One record of a callback body that could not be read, kept for audit
//! while the body's other records were applied (the body itself stays in
//! `callback_inbox`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The inbox row the record came in; None for a record of a poll answer.
    pub inbox_id: Option<i64>,
    /// `callback` or `poll`.
    pub source: String,
    /// `inbox:<id>:<index>` or `poll:<sha256>`: each record is kept once.
    #[sea_orm(unique)]
    pub record_key: String,
    pub vendor_id: String,
    /// Position of the record in the body (0 for one-record bodies).
    pub record_index: i32,
    /// The callee, when it could still be read.
    pub phone: Option<String>,
    /// Which field and why.
    pub reason: String,
    /// The record as sent (cut at 4,000 characters).
    pub raw: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
