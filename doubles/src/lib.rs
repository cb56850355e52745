//! Test doubles of campaignd's vendors: the `sim` vendor's server and a
//! protocol-faithful fake of every real vendor kind.
//!
//! They play the vendor's side of each protocol over real HTTP and are built
//! from the vendors' documents (`vendor-docs/`), never from the daemon's
//! adapters: this crate does not depend on `campaignd`. Each double signs,
//! routes, checks limits and answers with codes written here from the
//! document, so a test of an adapter against a double tests the adapter
//! against the vendor's word, not against itself.
//!
//! # Layout
//!
//! - [`sim`]: the simulator server (its own wire types, codes and signing).
//! - [`fake`]: the engine under every fake: lines, latency, weighted
//!   outcomes, cancels, double-dial detection, callback delivery.
//! - [`laaffic`], [`ai_voice`] (ITNIO, both on [`itnio`]'s request signing),
//!   [`airudder`], [`blu`], [`smartivr`]: one fake per vendor kind, each with
//!   `spawn`, `spawn_with` (and its [`Variations`](laaffic::Variations) of the
//!   documented bodies) and the codes its `outcomes` may weight.
//! - [`kinds`]: the fakes by vendor kind name, for the daemon's
//!   `embedded_listen` and for config checks.
//! - [`FakeConfig`]: the vendor account a fake serves (credentials and the
//!   vendor's `options`).

pub mod ai_voice;
pub mod airudder;
pub mod blu;
mod config;
pub mod fake;
pub mod itnio;
mod json;
pub mod kinds;
pub mod laaffic;
pub mod sim;
pub mod smartivr;

pub use config::FakeConfig;
pub use fake::{FakeBehavior, FakeHandle, FakeStats};
