//! What every loop and handler shares. Built once at start-up; the database
//! is the source of truth, nothing here is mutable campaign state.

use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::campaign::Campaign;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::health::StoreHealth;
use crate::store::inbox_writer::InboxWriter;
use crate::vendors::registry::VendorRegistry;
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Ctx {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub vendors: Arc<VendorRegistry>,
    pub clock: Arc<dyn Clock>,
    /// Base URL vendors reach us at; callbacks go to `{base}/callbacks/{vendor_id}`.
    pub callback_base: String,
    /// Fired when a callback was stored, so the processor wakes at once.
    pub inbox_notify: Arc<Notify>,
    /// Fired when results committed forwarding events, so the forwarding
    /// worker delivers them at once.
    pub forward_notify: Arc<Notify>,
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
        crate::store::campaigns::load(&self.db, id, &self.settings.compliance).await
    }
}
