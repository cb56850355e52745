//! Rows of a CSV contact list: a header line (`phone` required, optional
//! `case_id` and `timezone`, every other column a variable), then one
//! contact per record. A record that does not parse is a row error with its
//! line; a failing reader stops the import.

use super::row::{Row, RowContext, contact};
use super::source::ReadRows;
use super::{ImportError, RowError};
use crate::domain::contact_columns::Columns;
use indicatif::ProgressBar;
use std::io::Read;

pub struct CsvRows<R> {
    csv: csv::Reader<R>,
    cols: Columns,
    ctx: RowContext,
    record: csv::StringRecord,
    progress: Option<ProgressBar>,
}

impl<R: Read> CsvRows<R> {
    /// Read the header; the error names what is wrong with it.
    pub fn new(reader: R, ctx: RowContext, progress: Option<ProgressBar>) -> Result<CsvRows<R>, ImportError> {
        let mut csv = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Fields).from_reader(reader);
        let header = csv.headers().map_err(reading)?.clone();
        if header.iter().any(|h| h.contains('\0')) {
            return Err(ImportError::Header("a column name contains a NUL character".into()));
        }
        let cols = Columns::find(&header.iter().collect::<Vec<_>>()).map_err(ImportError::Header)?;
        Ok(CsvRows { csv, cols, ctx, record: csv::StringRecord::new(), progress })
    }
}

/// A reader's failure stops the import; anything else wrong is the data's.
fn reading(e: csv::Error) -> ImportError {
    if !e.is_io_error() {
        return ImportError::Header(e.to_string());
    }
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ImportError::Read(io),
        other => ImportError::Header(format!("{other:?}")),
    }
}

impl<R: Read> ReadRows for CsvRows<R> {
    fn read_batch(&mut self, max: usize) -> Result<Option<Vec<Row>>, ImportError> {
        let mut rows = Vec::with_capacity(max);
        while rows.len() < max {
            let line = self.csv.position().line();
            match self.csv.read_record(&mut self.record) {
                Ok(false) => break,
                Ok(true) => {
                    let line = self.record.position().map(|p| p.line()).unwrap_or(line);
                    rows.push(contact(&self.record, &self.cols, &self.ctx, line));
                }
                Err(e) if e.is_io_error() => return Err(reading(e)),
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(line);
                    rows.push(Err(RowError { line, field: "row", message: e.to_string() }));
                }
            }
        }
        if let Some(p) = &self.progress {
            p.set_position(self.csv.position().byte());
        }
        Ok((!rows.is_empty()).then_some(rows))
    }
}
