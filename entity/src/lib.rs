//! SeaORM entities for campaignd. Only table shapes live here; every rule about
//! what the values may be lives in the daemon's `domain` module.
//!
//! State columns are plain text (`running`, `in_flight`, ...) so that admins can
//! read and edit them with SQL; the daemon parses them into domain enums.

pub mod attempt;
pub mod callback_inbox;
pub mod campaign;
pub mod contact;
pub mod contact_refresh_run;
pub mod decision;
pub mod dial;
pub mod forward_outbox;
pub mod inbox_wait;
pub mod installation;
pub mod lease;
pub mod rejected_record;
pub mod suppression;
pub mod vendor_limit;
pub mod vendor_task;
