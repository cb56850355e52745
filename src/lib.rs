//! campaignd: outbound voice-bot call campaigns across vendors.
//!
//! # Layout
//!
//! `domain` is pure logic (no I/O); `store` performs database effects;
//! `vendors` holds one module per vendor kind; `scheduler`, `ingest` and
//! `reconcile` are the loops; `api` the HTTP listener; `cli` the command
//! line; `app` wires them together. Module by module:
//!
//! - [`domain`]: pure decisions as functions of `(state, facts, event, now)`: windows, contact policy, recall, states.
//! - [`store`]: the database queries: they load the facts a decision needs and write what it decided, fenced.
//! - [`vendors`]: the `VendorAdapter` trait and one module per vendor kind, with code tables and fakes.
//! - [`scheduler`]: the tick: campaign states, claiming due contacts, dispatching them to vendors.
//! - [`ingest`]: vendor callbacks stored before the 2xx, the pre-dial check, and the inbox processor.
//! - [`reconcile`]: the leader's sweeps: lookups of unknown or overdue attempts, active cancels, polls.
//! - [`api`]: the HTTP listener: callbacks, health, metrics, the admin API, connection and request limits.
//! - [`cli`]: the command line, one file per command group, and exit codes.
//! - [`config`]: `config.toml` into typed settings, every problem with its field path and line.
//! - [`app`]: start-up from settings, the server and loops under one shutdown signal, SIGHUP reload.
//! - [`context`]: what every loop and handler shares, built once at start-up.
//! - [`clock`]: time as a dependency, so tests step through DST with a manual clock.
//! - [`import`]: streaming CSV import of contacts, with each callee's zones inferred.
//! - [`suppression_list`]: the suppression list in and out of files (CLI and admin API).
//! - [`report`]: campaign status summaries for `campaignd status` and the admin API.
//! - [`failure_log`]: a loop's failures logged once per burst, not once per round.
//! - [`fuzz_support`]: the fuzz targets' entries, also replayed by the ordinary tests.
//!
//! The same map with more detail, and the rest of the documentation: `docs/architecture.md`.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod failure_log;
pub mod fuzz_support;
pub mod import;
pub mod ingest;
pub mod reconcile;
pub mod scheduler;
pub mod store;
pub mod suppression_list;
pub mod vendors;

#[cfg(test)]
mod architecture_tests;
