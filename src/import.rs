//! Streaming CSV import of contacts. Header: `phone` (required), optional
//! `case_id` and `timezone` (one or more IANA zones); every other column
//! becomes a variable. Each row's candidate zones are inferred here (explicit
//! zones, the number's country or NANP area code, the campaign's zone) and
//! stored with the contact. Bad rows are reported with their line number and
//! skipped; good rows are kept. A finished (completed or cancelled) campaign
//! takes no contacts: nothing would ever dial them, so its new rows are only
//! counted (`refused_finished`) and a warning says what to do instead.

use crate::domain::contact_columns::Columns;
use crate::domain::phone::E164;
use crate::domain::state::CampaignState;
use crate::domain::window::{WindowError, parse_tz};
use crate::domain::zones::{parse_zone_list, resolve_zones, zones_key};
use crate::store::Db;
use crate::store::StoreError;
use crate::store::Txn;
use crate::store::contacts::{NewContact, count_new};
use crate::store::db::begin_write;
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn columns(header: &csv::StringRecord) -> Result<Columns, ImportError> {
    Columns::find(&header.iter().collect::<Vec<_>>()).map_err(ImportError::Header)
}

/// What every row of one import shares.
struct Context<'a> {
    cols: Columns,
    /// The campaign's default country code, for national-format numbers.
    cc: Option<&'a str>,
    /// The campaign's zone: where contacts fall back to.
    campaign_tz: Tz,
}

fn parse_row(rec: &csv::StringRecord, ctx: &Context<'_>, line: u64) -> Result<NewContact, RowError> {
    let err = |field, message: String| RowError { line, field, message };
    let cols = &ctx.cols;
    let raw_phone = rec.get(cols.phone).unwrap_or_default();
    let phone = E164::parse(raw_phone, ctx.cc).map_err(|e| err("phone", e.to_string()))?;
    let raw_zones = cols.timezone.and_then(|i| rec.get(i)).unwrap_or_default();
    // Several zones (`Asia/Jakarta|Asia/Makassar`) mean "open only when all are".
    let explicit = parse_zone_list(raw_zones).map_err(|e| err("timezone", e.to_string()))?;
    let resolved = resolve_zones(&explicit, phone.as_str(), ctx.campaign_tz);
    // Canonical names, one zone written exactly as before.
    let timezone = zones_key(&explicit);
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
        zones: zones_key(&resolved.zones),
        zone_source: Some(resolved.source.as_str().to_string()),
        variables: serde_json::Value::Object(variables),
    })
}

/// Import a CSV stream into a campaign.
pub async fn import_csv<R: Read>(
    db: &Db,
    camp: &campaign::Model,
    reader: R,
    progress: Option<&ProgressBar>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Fields).from_reader(reader);
    let header = csv.headers().map_err(|e| ImportError::Header(e.to_string()))?.clone();
    let campaign_tz =
        parse_tz(&camp.timezone).map_err(|source| ImportError::CampaignZone { campaign: camp.name.clone(), source })?;
    let ctx = Context { cols: columns(&header)?, cc: camp.default_country_code.as_deref(), campaign_tz };
    // An unreadable state is not "finished": the import goes ahead as before.
    let finished = camp.state.parse::<CampaignState>().is_ok_and(CampaignState::is_terminal);
    let mut sink = if finished { Sink::Finished { seen: HashSet::new() } } else { Sink::Open { txn: None, rows: 0 } };
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(ROWS_PER_STATEMENT);
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
        match parse_row(&record, &ctx, line) {
            Ok(c) => batch.push(c),
            Err(e) => reject(&mut report, e),
        }
        if batch.len() >= ROWS_PER_STATEMENT {
            sink.write(db, camp.id, &mut batch, &mut report, now).await?;
            if let Some(p) = progress {
                p.set_position(csv.position().byte());
            }
        }
    }
    sink.write(db, camp.id, &mut batch, &mut report, now).await?;
    sink.finish().await?;
    if let Some(p) = progress {
        p.set_position(csv.position().byte());
    }
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
                    None => begin_write(db).await?,
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
pub fn read_rows(
    data: &[u8],
    cc: Option<&str>,
    campaign_tz: Tz,
) -> Result<Vec<Result<NewContact, RowError>>, ImportError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Fields).from_reader(data);
    let header = csv.headers().map_err(|e| ImportError::Header(e.to_string()))?.clone();
    let ctx = Context { cols: columns(&header)?, cc, campaign_tz };
    let mut rows = Vec::new();
    for record in csv.records() {
        rows.push(match record {
            Ok(rec) => parse_row(&rec, &ctx, rec.position().map_or(0, |p| p.line())),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                Err(RowError { line, field: "row", message: e.to_string() })
            }
        });
    }
    Ok(rows)
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
