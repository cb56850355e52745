//! campaignd: outbound voice-bot call campaigns across vendors.
//!
//! Layout: `domain` is pure logic (no I/O); `store` performs database
//! effects; `vendors` holds one module per vendor kind; `scheduler`,
//! `ingest` and `reconcile` are the loops; `api` the HTTP listener; `cli`
//! the command line; `app` wires them together.

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
pub mod report;
pub mod scheduler;
pub mod store;
pub mod suppression_list;
pub mod vendors;
