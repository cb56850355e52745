//! One row per configured vendor: claims lock it to count the vendor's
//! calls in flight across instances, and it holds the token bucket of the
//! vendor's rate limit, shared by every instance.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "vendor_limits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub vendor_id: String,
    pub tokens: f64,
    pub refilled_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
