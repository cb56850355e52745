//! Streaming import of contacts, from a CSV file (`campaignd import`) or an
//! upload (CSV or NDJSON, `POST /api/v1/campaigns/{name}/contacts`): one
//! importer, fed a batch of rows at a time (`source`), so memory stays
//! bounded whatever the size of the list. Columns: `phone` (required),
//! optional `case_id` and `timezone` (one or more IANA zones); every other
//! column becomes a variable (`row` normalizes a row, whatever its format). Each row's candidate zones are inferred here (explicit
//! zones, the number's country or NANP area code, the campaign's zone) and
//! stored with the contact. Bad rows are reported with their line number and
//! skipped; good rows are kept. A finished (completed or cancelled) campaign
//! takes no contacts: nothing would ever dial them, so its new rows are only
//! counted (`refused_finished`) and a warning says what to do instead.

mod csv_rows;
mod json_lines;
mod row;
mod source;

pub use csv_rows::CsvRows;
pub use json_lines::{JsonLines, MAX_LINE_BYTES};
pub use row::{Row, RowContext};
pub use source::{Background, Inline, ReadRows, RowSource, background};

use crate::domain::state::CampaignState;
use crate::domain::window::WindowError;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::Txn;
use crate::store::contacts::{NewContact, count_new};
use crate::store::db::{Writer, begin_write};
use crate::store::import_rows::{ROWS_PER_STATEMENT, insert_new};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::campaign;
use indicatif::ProgressBar;
use std::collections::HashSet;
use std::io::Read;

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
    /// Valid rows new to a finished campaign, therefore not added.
    pub refused_finished: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("CSV header: {0}")]
    Header(String),
    #[error("campaign `{campaign}` timezone: {source}")]
    CampaignZone { campaign: String, source: WindowError },
    /// The input could not be read to its end (a file's I/O error, an
    /// upload cut short); nothing of it was written.
    #[error("reading the contacts: {0}")]
    Read(std::io::Error),
    /// The input failed after some rows: the rows before were written and
    /// kept (committed), their counts in `kept`; importing the same input
    /// again adds the rest (the rows already in are duplicates then).
    #[error("reading the contacts stopped after {} rows ({} added, kept): {error}", kept.rows, kept.inserted)]
    Interrupted { error: std::io::Error, kept: Box<ImportReport> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Import a CSV stream into a campaign, read where the import runs.
pub async fn import_csv<R: Read>(
    db: &Db,
    camp: &campaign::Model,
    reader: R,
    progress: Option<&ProgressBar>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let rows = CsvRows::new(reader, RowContext::of(camp)?, progress.cloned())?;
    import_rows(db, camp, Inline(rows), now).await
}

/// Import the rows of `source` into a campaign: the one import of every
/// format and caller. Valid rows go in batches of [`ROWS_PER_STATEMENT`],
/// committed every [`ROWS_PER_TRANSACTION`]; bad rows are counted and the
/// first [`MAX_REPORTED`] kept with their reasons.
pub async fn import_rows<S: RowSource>(
    db: &Db,
    camp: &campaign::Model,
    mut source: S,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    // An unreadable state is not "finished": the import goes ahead as before.
    let finished = camp.state.parse::<CampaignState>().is_ok_and(CampaignState::is_terminal);
    let mut sink = if finished { Sink::Finished { seen: HashSet::new() } } else { Sink::Open { txn: None, rows: 0 } };
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
    loop {
        let rows = match source.next_batch().await {
            Ok(Some(rows)) => rows,
            Ok(None) => break,
            Err(ImportError::Read(error)) if report.rows > 0 => {
                // What was read before the failure is valid: keep it, and
                // say how much, so the client knows where it stands.
                sink.write(db, camp.id, &mut batch, &mut report, now).await?;
                sink.finish().await?;
                return Err(ImportError::Interrupted { error, kept: Box::new(report) });
            }
            Err(e) => return Err(e),
        };
        for row in rows {
            report.rows += 1;
            match row {
                Ok(c) => batch.push(c),
                Err(e) => {
                    report.rejected += 1;
                    if report.errors.len() < MAX_REPORTED {
                        report.errors.push(e);
                    }
                }
            }
        }
        if batch.len() >= ROWS_PER_STATEMENT {
            sink.write(db, camp.id, &mut batch, &mut report, now).await?;
        }
    }
    sink.write(db, camp.id, &mut batch, &mut report, now).await?;
    sink.finish().await?;
    if report.refused_finished > 0 {
        tracing::warn!(
            campaign = %camp.name,
            contacts = report.refused_finished,
            "campaign `{}` is {}: its new contacts were not added (a finished campaign never dials again); \
             to call them, put them in a new [[campaigns]] entry",
            camp.name,
            camp.state
        );
    }
    Ok(report)
}

/// Rows written per transaction. WHY this many: a commit is an fsync
/// (`synchronous = full`), which at 1,000 rows per commit was a large part of
/// the import; at 20,000 the write lock is still held for well under a
/// second at a time, so a daemon running beside the import only waits
/// (within its `busy_timeout`), never fails.
const ROWS_PER_TRANSACTION: u64 = 20 * ROWS_PER_STATEMENT as u64;

/// Where the parsed rows go.
enum Sink {
    /// Inserted; a duplicate number is skipped by the campaign's unique index
    /// (numbers earlier in the file included), so nothing is remembered here.
    Open { txn: Option<Txn>, rows: u64 },
    /// Only counted: new numbers are refused, known ones are duplicates. The
    /// numbers seen so far tell a repeat within the file from a new number.
    Finished { seen: HashSet<String> },
}

impl Sink {
    async fn write(
        &mut self,
        db: &Db,
        campaign_id: i64,
        batch: &mut Vec<NewContact>,
        report: &mut ImportReport,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows = batch.len() as u64;
        match self {
            Sink::Open { txn, rows: in_txn } => {
                let open = match txn.take() {
                    Some(t) => t,
                    None => begin_write(db, Writer::Other).await?,
                };
                let inserted = insert_new(&open, campaign_id, batch, now).await?;
                report.inserted += inserted;
                report.duplicates += rows - inserted;
                *in_txn += rows;
                if *in_txn >= ROWS_PER_TRANSACTION {
                    open.commit().await?;
                    *in_txn = 0;
                } else {
                    *txn = Some(open);
                }
            }
            Sink::Finished { seen } => {
                let mut phones = Vec::with_capacity(batch.len());
                for c in batch.drain(..) {
                    if seen.insert(c.phone.clone()) {
                        phones.push(c.phone);
                    } else {
                        report.duplicates += 1;
                    }
                }
                let new = count_new(db, campaign_id, &phones).await?;
                report.refused_finished += new;
                report.duplicates += phones.len() as u64 - new;
            }
        }
        Ok(())
    }

    /// Commit what is still open.
    async fn finish(self) -> Result<(), StoreError> {
        if let Sink::Open { txn: Some(txn), .. } = self {
            txn.commit().await?;
        }
        Ok(())
    }
}

/// Read a CSV as `import` does, without a database: each row becomes a
/// contact or an error naming its line and field (the fuzz target's view of
/// the importer; `import_csv` adds the database around the same reading).
pub fn read_rows(data: &[u8], cc: Option<&str>, campaign_tz: Tz) -> Result<Vec<Row>, ImportError> {
    let mut csv = CsvRows::new(data, RowContext { cc: cc.map(String::from), campaign_tz }, None)?;
    let mut rows = Vec::new();
    while let Some(batch) = csv.read_batch(ROWS_PER_STATEMENT)? {
        rows.extend(batch);
    }
    Ok(rows)
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
