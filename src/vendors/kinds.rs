//! The real vendor kinds: what config validation, the registry and the
//! embedded fakes need to know about each, in one table. Adding a kind means
//! one module under `vendors/` and one row here.

use super::VendorAdapter;
use super::fake::{FakeBehavior, FakeHandle};
use crate::config::VendorSettings;
use futures::future::BoxFuture;
use std::sync::Arc;

/// Build a vendor's adapter for a base URL.
pub type BuildAdapter = fn(&VendorSettings, &str) -> Result<Arc<dyn VendorAdapter>, String>;
/// Start a fake of a vendor on a listener.
pub type SpawnFake =
    fn(&VendorSettings, FakeBehavior, tokio::net::TcpListener) -> BoxFuture<'static, std::io::Result<FakeHandle>>;

pub struct KindSpec {
    pub name: &'static str,
    /// Problems with a vendor's settings: `(field, message)`, e.g. a missing
    /// `api_secret`, an unknown option, no `callback_token` for a vendor that
    /// does not sign its callbacks.
    pub check: fn(&VendorSettings) -> Vec<(String, String)>,
    /// The vendor's result codes a fake's `outcomes` may weight.
    pub fake_codes: &'static [&'static str],
    /// Build the adapter talking to `base_url`.
    pub build: BuildAdapter,
    /// Start a protocol-faithful fake of the vendor on `listener`, checking the
    /// same credentials the adapter signs with.
    pub spawn_fake: SpawnFake,
}

pub const KINDS: &[KindSpec] =
    &[super::laaffic::SPEC, super::ai_voice::SPEC, super::airudder::SPEC, super::blu::SPEC, super::smartivr::SPEC];

pub fn find(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}

/// A required credential is missing: the message every kind uses.
pub fn require(present: bool, field: &str, meaning: &str) -> Option<(String, String)> {
    (!present).then(|| (field.to_string(), format!("required: {meaning}")))
}
