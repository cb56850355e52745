//! Writing the list out, paged so a large list never sits in memory at once.
//!
//! CSV columns: `phone,reason,source,created_at,expires_at` (+ `active` when
//! expired entries are included); a never-expiring entry says `never`, so an
//! export imports back exactly. JSON: an array of objects with the same
//! fields, `expires_at` null for never.

use crate::domain::suppression::is_active;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::suppressions::{ListFilter, page};
use chrono::{DateTime, SecondsFormat, Utc};
use entity::suppression;
use serde::Serialize;
use std::io::Write;

const PAGE: u64 = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Csv,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Write the entries `filter` selects; with [`ListFilter::All`] each row says
/// whether it is `active` at `now`. Returns how many entries were written.
pub async fn export<W: Write>(
    db: &Db,
    filter: ListFilter,
    format: ListFormat,
    now: DateTime<Utc>,
    mut out: W,
) -> Result<u64, ExportError> {
    let with_active = filter == ListFilter::All;
    let mut n = 0u64;
    let mut after = 0;
    match format {
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            let mut header = vec!["phone", "reason", "source", "created_at", "expires_at"];
            if with_active {
                header.push("active");
            }
            w.write_record(&header)?;
            loop {
                let rows = page(db, filter, after, PAGE, now).await?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                for s in &rows {
                    let expires = s.expires_at.map_or_else(|| "never".to_string(), time);
                    let mut record =
                        vec![s.phone.clone(), s.reason.clone(), s.source.clone(), time(s.created_at), expires];
                    if with_active {
                        record.push(is_active(s.expires_at, now).to_string());
                    }
                    w.write_record(&record)?;
                    n += 1;
                }
                w.flush()?;
            }
        }
        ListFormat::Json => {
            out.write_all(b"[")?;
            loop {
                let rows = page(db, filter, after, PAGE, now).await?;
                let Some(last) = rows.last() else { break };
                after = last.id;
                for s in &rows {
                    out.write_all(if n == 0 { b"\n" } else { b",\n" })?;
                    serde_json::to_writer(&mut out, &json_row(s, with_active, now)).map_err(std::io::Error::from)?;
                    n += 1;
                }
            }
            out.write_all(b"\n]\n")?;
        }
    }
    out.flush()?;
    Ok(n)
}

/// One entry of a JSON export (`Suppression` in the OpenAPI document).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Suppression)]
pub struct ExportedEntry {
    pub phone: String,
    pub reason: String,
    pub source: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Null: never expires.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// In force now; only in an export of all entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

fn json_row(s: &suppression::Model, with_active: bool, now: DateTime<Utc>) -> ExportedEntry {
    ExportedEntry {
        phone: s.phone.clone(),
        reason: s.reason.clone(),
        source: s.source.clone(),
        created_at: time(s.created_at),
        expires_at: s.expires_at.map(time),
        active: with_active.then(|| is_active(s.expires_at, now)),
    }
}
