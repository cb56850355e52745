//! Database queries. Functions here perform the effects that the pure domain
//! decided on; they do not decide themselves (except the fences that keep a
//! stale or duplicate write from applying).

pub mod apply;
pub mod attempt_details;
pub mod attempt_match;
pub mod attempt_match_page;
pub mod campaign_definitions;
pub mod campaign_stats;
pub mod campaigns;
pub mod claim;
mod claim_write;
pub mod contact_list;
pub mod contact_refresh;
pub mod contact_removal;
pub mod contacts;
pub mod db;
#[cfg(test)]
mod db_release_tests;
pub mod decisions;
pub mod dispatch;
pub mod explain;
pub mod facts;
pub mod forward_outbox;
pub mod health;
pub mod import_rows;
mod in_flight;
pub mod inbox;
pub mod inbox_depth;
pub mod inbox_page;
pub mod inbox_writer;
pub mod installation;
mod json_rows;
pub mod leases;
mod plan_hints;
pub mod planner_stats;
mod raw_sql;
pub mod reconcile;
pub mod rejected_callbacks;
pub mod report;
pub mod settle_page;
pub mod settle_writes;
mod sqlite_writer;
pub mod suppressions;
mod values_list;
pub mod vendor_limits;
pub mod vendor_scorecard;
pub mod wal_checkpoints;

#[cfg(test)]
pub(crate) mod testkit;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("no campaign named `{0}`")]
    NoSuchCampaign(String),
    #[error("campaign `{name}`: {message}")]
    BadCampaign { name: String, message: String },
    #[error(
        "the database has no installation id (table `installation` is empty): it was not created by `campaignd migrate`, or the row was deleted"
    )]
    NoInstallationId,
    #[error(transparent)]
    Transition(#[from] crate::domain::state::TransitionError),
    /// A stored value that does not read (an admin's SQL edit, a bug):
    /// named by table, row and column, never replaced by a default.
    #[error("{table} row #{id}: {message}")]
    Corrupt { table: &'static str, id: i64, message: String },
}

impl From<crate::domain::campaign::CampaignError> for StoreError {
    fn from(e: crate::domain::campaign::CampaignError) -> StoreError {
        StoreError::BadCampaign { name: e.name, message: e.message }
    }
}

/// A handle on the database (a pool); the rest of the daemon passes it to
/// the functions of this module and never queries through it itself.
pub type Db = sea_orm::DatabaseConnection;

/// What the store's functions take as their connection (a pool or a
/// transaction), for callers that pass one through.
pub use sea_orm::ConnectionTrait;
/// The database driver's error, as [`StoreError::Db`] carries it.
pub use sea_orm::DbErr;

/// An open write transaction ([`db::begin_write`]); commit it or drop it.
pub type Txn = db::WriteTxn;

/// The daemon's log filter when `CAMPAIGND_LOG` is unset: info, with the
/// database libraries' per-statement chatter held to warnings.
pub const DEFAULT_LOG_FILTER: &str = "info,sea_orm=warn,sqlx=warn";

/// Attempt states in which an attempt holds a concurrency slot.
pub const IN_FLIGHT_STATES: [&str; 2] =
    [crate::domain::state::AttemptState::Dispatching.as_str(), crate::domain::state::AttemptState::Dispatched.as_str()];
