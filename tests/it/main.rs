//! The integration tests: the real `campaignd` binary, the simulator and the
//! vendors' fakes on loopback, against SQLite or (with
//! `CAMPAIGND_TEST_DATABASE_URL`) PostgreSQL.
//!
//! One test binary, a module per area, so the crate and the harness in
//! `common` are linked once: `cargo test --test it` runs them all,
//! `cargo test --test it crash_restart::` one area. The tests share this
//! process, so none may change process-wide state (environment, current
//! directory, a global subscriber); what they share outside it, the
//! PostgreSQL server, is taken in turns through `common::TestDb`.

mod common;

mod admin_api;
mod bad_input;
mod callback_time;
mod campaign_admin;
mod campaign_stats;
mod compliance_caps;
mod contact_refresh;
mod contacts_admin;
mod crash_restart;
mod database_settings;
mod e2e_campaign;
mod explain;
mod forwarding;
mod hostile_clients;
mod inbox_fence;
mod inbox_workers;
mod journald_logs;
mod multi_instance;
mod oncall_metrics;
mod operations_logs;
mod pg_restart;
mod planner_stats;
mod reconcile;
mod scheduling_clock;
mod status_page;
mod storage_conformance;
mod store_faults;
mod suppression_admin;
mod vendor_boundary;
mod vendor_kinds;
mod vendor_routing;
mod vendor_scorecard;
