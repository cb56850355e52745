//! The vendor boundary against the daemon as built: vendors' documented
//! payloads and the variations real vendors send (nulls, loose types, one
//! bad record among good ones, pushes without any reference of ours,
//! truncated lookups), posted over loopback HTTP by fakes that build their
//! bodies from the vendors' documents. One binary, a module per vendor.

#[path = "../common/mod.rs"]
mod common;

mod ai_voice;
mod airudder;
mod blu;
mod laaffic;
mod smartivr;
