//! The vendor account a fake serves.

use serde::de::DeserializeOwned;
use std::fmt;

/// What a fake knows of the account it plays the vendor for: the
/// credentials it checks (and signs with), and the account's settings as
/// the daemon's `[vendors.options]` table holds them. The daemon fills it
/// from a vendor's config; tests write it directly.
#[derive(Clone, Default)]
pub struct FakeConfig {
    /// The key the vendor issued: Laaffic/ITNIO `Api-Key`, Blu `appId`,
    /// AIRudder `APPKey`, smartivr bearer token.
    pub api_key: String,
    /// The secret beside it: Laaffic/ITNIO `apiSecret`, Blu `appKey`,
    /// AIRudder `APPSecret`.
    pub api_secret: String,
    /// The key the vendor signs its callbacks with, where it signs
    /// (AIRudder); `None` is the vendor's default key.
    pub callback_secret: Option<String>,
    /// The account's settings (paths, zone, ids). Each fake reads the fields
    /// it needs and ignores the rest; a table it cannot read leaves it on its
    /// documented defaults.
    pub options: toml::Table,
}

impl FakeConfig {
    /// An account with these credentials and no options.
    pub fn new(api_key: &str, api_secret: &str) -> FakeConfig {
        FakeConfig { api_key: api_key.to_string(), api_secret: api_secret.to_string(), ..FakeConfig::default() }
    }

    /// The options as a fake's own settings struct; its defaults when they
    /// cannot be read.
    pub(crate) fn options<T: DeserializeOwned + Default>(&self) -> T {
        toml::Value::Table(self.options.clone()).try_into().unwrap_or_default()
    }
}

/// Secrets are redacted.
impl fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConfig")
            .field("api_key", &"<redacted>")
            .field("api_secret", &"<redacted>")
            .field("callback_secret", &self.callback_secret.as_ref().map(|_| "<redacted>"))
            .field("options", &self.options)
            .finish()
    }
}
