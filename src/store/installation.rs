//! The installation id (written once by the migration that created the
//! database), read by claims to make attempt references unique per
//! installation.

use super::StoreError;
use entity::installation;
use sea_orm::{ConnectionTrait, EntityTrait};

/// This database's installation id.
pub async fn id<C: ConnectionTrait>(db: &C) -> Result<String, StoreError> {
    installation::Entity::find().one(db).await?.map(|row| row.id).ok_or(StoreError::NoInstallationId)
}

/// The reference a vendor gets for attempt `attempt_no` of contact
/// `contact_id`: the installation id keeps a restored-elsewhere or second
/// deployment's `<contact>-<attempt>` from matching ours at a vendor that
/// dedupes on it.
pub fn attempt_ref(installation: &str, contact_id: i64, attempt_no: i32) -> String {
    format!("{installation}-{contact_id}-{attempt_no}")
}
