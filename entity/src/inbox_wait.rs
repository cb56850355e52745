//! What a waiting inbox row could match once it is recorded: recording that
//! key (a vendor task id, a vendor call id) wakes the row at once.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_waits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub inbox_id: i64,
    /// `task:<vendor task id>` or `call:<vendor call id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub wait_key: String,
    pub vendor_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
