//! What every loop and handler shares. Built once at start-up; the database
//! is the source of truth, nothing here is mutable campaign state.

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::campaign::Campaign;
use crate::domain::compliance::ComplianceSettings;
use crate::ingest::writer::InboxWriter;
use crate::store::StoreError;
use crate::store::health::StoreHealth;
use crate::vendors::registry::VendorRegistry;
use entity::campaign;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Ctx {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub vendors: Arc<VendorRegistry>,
    pub clock: Arc<dyn Clock>,
    /// Base URL vendors reach us at; callbacks go to `{base}/callbacks/{vendor_id}`.
    pub callback_base: String,
    /// Fired when a callback was stored, so the processor wakes at once.
    pub inbox_notify: Arc<Notify>,
    /// Group-committing writer for callback deliveries.
    pub inbox: InboxWriter,
    /// Whether the store takes writes; callbacks and claiming wait while not.
    pub store_health: StoreHealth,
}

impl Ctx {
    /// Our callback URL for a vendor, with its `?token=` when it has one.
    pub fn callback_url(&self, vendor_id: &str) -> String {
        self.with_token(vendor_id, format!("{}/callbacks/{}", self.callback_base, vendor_id))
    }

    /// Our pre-dial check URL for a vendor, with its `?token=` when it has one.
    pub fn predial_url(&self, vendor_id: &str) -> String {
        self.with_token(vendor_id, format!("{}/callbacks/{}/predial", self.callback_base, vendor_id))
    }

    fn with_token(&self, vendor_id: &str, url: String) -> String {
        match self.vendors.get(vendor_id).and_then(|v| v.callback_token.clone()) {
            Some(token) => format!("{url}?token={}", urlencoding::encode(&token)),
            None => url,
        }
    }

    pub async fn campaign(&self, id: i64) -> Result<Campaign, StoreError> {
        load_campaign(&self.db, id, &self.settings.compliance).await
    }
}

/// Load and parse a campaign through `db`. Inside a write transaction pass the
/// transaction: asking the pool for a second connection while holding the
/// SQLite write lock can deadlock against connections waiting for that lock.
pub async fn load_campaign<C: ConnectionTrait>(
    db: &C,
    id: i64,
    compliance: &ComplianceSettings,
) -> Result<Campaign, StoreError> {
    let row =
        campaign::Entity::find_by_id(id).one(db).await?.ok_or_else(|| StoreError::NoSuchCampaign(format!("#{id}")))?;
    crate::store::campaigns::parse(&row, compliance)
}
