//! Streaming CSV import of contacts. Header: `phone` (required), optional
//! `case_id` and `timezone`; every other column becomes a variable. Bad rows
//! are reported with their line number and skipped; good rows are kept.

use crate::domain::phone::E164;
use crate::domain::window::parse_tz;
use crate::store::StoreError;
use crate::store::contacts::{NewContact, insert_batch};
use crate::store::db::begin_write;
use chrono::{DateTime, Utc};
use entity::campaign;
use indicatif::ProgressBar;
use sea_orm::DatabaseConnection;
use std::collections::HashSet;
use std::io::Read;

const BATCH: usize = 1000;
/// Row errors kept in full; beyond this only counted.
const MAX_REPORTED: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub rows: u64,
    pub inserted: u64,
    /// Valid rows whose phone was already in the campaign (or earlier in the file).
    pub duplicates: u64,
    pub rejected: u64,
    /// The first rejected rows, with reasons.
    pub errors: Vec<RowError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("CSV header: {0}")]
    Header(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Columns {
    phone: usize,
    case_id: Option<usize>,
    timezone: Option<usize>,
    variables: Vec<(usize, String)>,
}

fn columns(header: &csv::StringRecord) -> Result<Columns, ImportError> {
    let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let phone = find("phone").ok_or_else(|| {
        ImportError::Header(
            "no `phone` column (found: ".to_string() + &header.iter().collect::<Vec<_>>().join(", ") + ")",
        )
    })?;
    let case_id = find("case_id");
    let timezone = find("timezone");
    let variables = header
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != phone && Some(*i) != case_id && Some(*i) != timezone)
        .map(|(i, h)| (i, h.trim().to_string()))
        .collect();
    Ok(Columns { phone, case_id, timezone, variables })
}

fn parse_row(rec: &csv::StringRecord, cols: &Columns, cc: Option<&str>, line: u64) -> Result<NewContact, RowError> {
    let err = |field, message: String| RowError { line, field, message };
    let raw_phone = rec.get(cols.phone).unwrap_or_default();
    let phone = E164::parse(raw_phone, cc).map_err(|e| err("phone", e.to_string()))?;
    let timezone = match cols.timezone.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty()) {
        Some(z) => Some(parse_tz(z).map_err(|e| err("timezone", e.to_string()))?.to_string()),
        None => None,
    };
    let case_id = cols.case_id.and_then(|i| rec.get(i)).map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let variables = cols
        .variables
        .iter()
        .map(|(i, name)| (name.clone(), serde_json::Value::String(rec.get(*i).unwrap_or_default().to_string())))
        .collect::<serde_json::Map<_, _>>();
    Ok(NewContact {
        phone: phone.as_str().to_string(),
        case_id,
        timezone,
        variables: serde_json::Value::Object(variables),
    })
}

/// Import a CSV stream into a campaign.
pub async fn import_csv<R: Read>(
    db: &DatabaseConnection,
    camp: &campaign::Model,
    reader: R,
    progress: Option<&ProgressBar>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Fields).from_reader(reader);
    let header = csv.headers().map_err(|e| ImportError::Header(e.to_string()))?.clone();
    let cols = columns(&header)?;
    let cc = camp.default_country_code.as_deref();
    let mut report = ImportReport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    let reject = |report: &mut ImportReport, e: RowError| {
        report.rejected += 1;
        if report.errors.len() < MAX_REPORTED {
            report.errors.push(e);
        }
    };
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.rows += 1;
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                reject(&mut report, RowError { line, field: "row", message: e.to_string() });
                continue;
            }
        }
        report.rows += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        match parse_row(&record, &cols, cc, line) {
            Ok(c) => {
                if seen.insert(c.phone.clone()) {
                    batch.push(c);
                } else {
                    report.duplicates += 1;
                }
            }
            Err(e) => reject(&mut report, e),
        }
        if batch.len() >= BATCH {
            flush(db, camp.id, &mut batch, &mut report, now).await?;
            if let Some(p) = progress {
                p.set_position(csv.position().byte());
            }
        }
    }
    flush(db, camp.id, &mut batch, &mut report, now).await?;
    if let Some(p) = progress {
        p.set_position(csv.position().byte());
    }
    Ok(report)
}

async fn flush(
    db: &DatabaseConnection,
    campaign_id: i64,
    batch: &mut Vec<NewContact>,
    report: &mut ImportReport,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let txn = begin_write(db).await?;
    let inserted = insert_batch(&txn, campaign_id, batch, now).await?;
    txn.commit().await?;
    report.inserted += inserted;
    report.duplicates += batch.len() as u64 - inserted;
    batch.clear();
    Ok(())
}
