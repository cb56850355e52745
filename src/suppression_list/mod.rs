//! The suppression list in and out of files: the CLI (`campaignd suppress`)
//! and the admin API (`/api/v1/suppressions`) share the parsing, the import
//! report and the export formats here.

mod export;
pub mod parse;

pub use export::{ExportError, ExportedEntry, ListFormat, export};
pub use parse::{Defaults, EntryError, ListError, ParsedList, parse_csv, parse_json};

use crate::store::Db;
use crate::store::StoreError;
use crate::store::suppressions::{UpsertCounts, upsert_many};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// What an import did: rows read, what the list did with the valid ones,
/// and the rejected ones with reasons.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[schema(as = SuppressionImport)]
pub struct ImportReport {
    pub rows: u64,
    #[serde(flatten)]
    pub counts: UpsertCounts,
    pub rejected: u64,
    /// The first rejected rows.
    pub errors: Vec<EntryError>,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} rows: {} added, {} extended, {} unchanged, {} rejected",
            self.rows, c.added, c.extended, c.unchanged, self.rejected
        )
    }
}

/// Put a parsed list's valid entries on the suppression list.
pub async fn import(db: &Db, list: ParsedList, now: DateTime<Utc>) -> Result<ImportReport, StoreError> {
    let counts = upsert_many(db, &list.entries, now).await?;
    Ok(ImportReport { rows: list.rows, counts, rejected: list.rejected, errors: list.errors })
}
