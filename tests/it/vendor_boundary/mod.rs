//! The vendor boundary against the daemon as built: vendors' documented
//! payloads and the variations real vendors send (nulls, loose types, one
//! bad record among good ones, pushes without any reference of ours,
//! truncated lookups), posted over loopback HTTP by fakes that build their
//! bodies from the vendors' documents. A module per vendor.

mod ai_voice;
mod airudder;
mod blu;
mod call_details;
mod laaffic;
mod smartivr;

/// The head of every module's daemon config: its database, its listener
/// (`127.0.0.1:<port>`, or `:0`), a fast scheduler, and `scheduler` lines
/// of the module's own (`reconcile_every = "300ms"`, ...).
fn daemon_head(db_url: &str, listen: &str, scheduler: &str) -> String {
    format!(
        "[database]\nurl = \"{db_url}\"\n\n[http]\nlisten = \"{listen}\"\n\n[scheduler]\ntick = \"100ms\"\nclaim_batch = 200\n{scheduler}\n"
    )
}
