//! The vendor kinds: what config validation and the registry need to know
//! about each, in one table. Adding a kind means one module under
//! `vendors/` and one row here (and, for the demo and tests, a fake in the
//! `doubles` crate).

use super::VendorAdapter;
use crate::config::{VendorCheck, VendorSettings};
use std::sync::Arc;

/// Build a vendor's adapter for a base URL.
pub type BuildAdapter = fn(&VendorSettings, &str) -> Result<Arc<dyn VendorAdapter>, String>;

pub struct KindSpec {
    pub name: &'static str,
    /// Problems with a vendor's settings: `(field, message)`, e.g. a missing
    /// `api_secret`, an unknown option, no `callback_token` for a vendor that
    /// does not sign its callbacks.
    pub check: fn(&VendorSettings) -> Vec<(String, String)>,
    /// Build the adapter talking to `base_url`.
    pub build: BuildAdapter,
}

/// The simulator's kind: not in [`KINDS`], its adapter is built apart
/// (`vendors::sim`).
pub const SIM: &str = "sim";

pub const KINDS: &[KindSpec] =
    &[super::laaffic::SPEC, super::ai_voice::SPEC, super::airudder::SPEC, super::blu::SPEC, super::smartivr::SPEC];

pub fn find(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.name == name)
}

/// Every kind a vendor may have: the sim and the real ones.
pub fn names() -> Vec<&'static str> {
    std::iter::once(SIM).chain(KINDS.iter().map(|k| k.name)).collect()
}

/// A required credential is missing: the message every kind uses.
pub fn require(present: bool, field: &str, meaning: &str) -> Option<(String, String)> {
    (!present).then(|| (field.to_string(), format!("required: {meaning}")))
}

/// The vendor side of config validation: config asks it about every
/// vendor (`config::load(path, &vendors::Kinds)`).
pub struct Kinds;

impl VendorCheck for Kinds {
    fn check(&self, v: &VendorSettings) -> Vec<(String, String)> {
        check(v)
    }
}

/// Every problem with one vendor's kind-specific settings, as `(field,
/// message)`: its kind, its `sim`/`fake` tables and `embedded_listen` (see
/// [`super::embedded`]), its credentials and `options`.
pub fn check(v: &VendorSettings) -> Vec<(String, String)> {
    let spec = find(&v.kind);
    let mut out = Vec::new();
    if spec.is_none() && v.kind != SIM {
        out.push(("kind".into(), format!("unknown vendor kind `{}` (known: {})", v.kind, names().join(", "))));
    }
    out.extend(super::embedded::check(v, spec.is_some()));
    match spec {
        Some(spec) => out.extend((spec.check)(v)),
        // The sim signs its callbacks with `callback_secret`; without one
        // the key would be empty and anyone could sign.
        None if v.kind == SIM => out.extend(require(
            v.callback_secret.is_some(),
            "callback_secret",
            "the key the simulator signs its callbacks with",
        )),
        None => {}
    }
    out
}

#[cfg(test)]
#[path = "kinds_tests.rs"]
mod tests;
