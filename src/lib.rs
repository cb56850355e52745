//! campaignd: outbound voice-bot call campaigns across vendors.
//!
//! # Layout
//!
//! Decide in `domain`, perform in the shell: `domain` holds every decision
//! as a pure function of facts and `now`; `store` holds every query (it
//! loads the facts, calls the decision, writes the answer); `vendors` holds
//! one module per vendor kind; `scheduler`, `ingest` and `reconcile` are the
//! loops; `api` every HTTP handler; `cli` the command line; `app` wires them
//! together. Dependencies point one way (no cycle between these modules,
//! `domain` depends on none of the others, only `store` uses `sea_orm`):
//! `src/architecture_tests.rs` checks it. Module by module:
//!
//! - [`domain`]: pure decisions: the campaign's dial window, the claim plan, the settlement of a result, recall, states.
//! - [`store`]: every query: load the facts a decision needs, write what it decided, fenced; status reports.
//! - [`vendors`]: the `VendorAdapter` trait and one module per vendor kind, with code tables and fakes.
//! - [`scheduler`]: the tick: campaign states, claiming due contacts, dispatching them to vendors.
//! - [`ingest`]: the inbox processor: stored callbacks applied page by page, each row parsed once.
//! - [`reconcile`]: the leader's sweeps: lookups of unknown or overdue attempts, active cancels, polls.
//! - [`api`]: the HTTP listener and every handler: vendor callbacks (stored before the 2xx), pre-dial, health, metrics, the admin API.
//! - [`cli`]: the command line, one file per command group, and exit codes.
//! - [`config`]: `config.toml` into typed settings, every problem with its field path and line.
//! - [`app`]: start-up from settings, the server and loops under one shutdown signal, SIGHUP reload.
//! - [`context`]: what every loop and handler shares, built once at start-up.
//! - [`clock`]: time as a dependency, so tests step through DST with a manual clock.
//! - [`import`]: streaming import of contacts (a CSV file, or an upload of CSV or NDJSON), each callee's zones inferred.
//! - [`refresh`]: scheduled contact refresh from a drop folder or a URL, on a cron schedule, one instance per firing.
//! - [`suppression_list`]: the suppression list in and out of files (CLI and admin API).
//! - [`logging`]: log lines as text or JSON, phone numbers masked in every line.
//! - [`planner_stats`]: PostgreSQL: `ANALYZE` of the daemon's tables once a burst changed them, so plans follow the rows.
//! - [`failure_log`]: a loop's failures logged once per burst, not once per round.
//! - [`cadence`]: the periodic loops' pace, a round every period start to start.
//! - [`fuzz_support`]: the fuzz targets' entries, also replayed by the ordinary tests.
//! - [`allocator`]: the process's malloc (jemalloc, tuned for a small peak), Rust's and SQLite's.
//!
//! The same map with more detail, and the rest of the documentation: `docs/architecture.md`.

pub mod allocator;
pub mod api;
pub mod app;
pub mod cadence;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod failure_log;
pub mod forwarding;
pub mod fuzz_support;
pub mod import;
pub mod ingest;
pub mod logging;
pub mod planner_stats;
pub mod reconcile;
pub mod refresh;
pub mod scheduler;
pub mod store;
pub mod suppression_list;
pub mod vendors;

#[cfg(test)]
mod architecture_tests;
