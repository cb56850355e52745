//! Reading suppression lists: CSV with a header (the CLI and the API) or a
//! JSON array of objects (the API). Pure: bytes in, entries and per-row
//! errors out; bad rows are reported and the good ones kept.
//!
//! Columns (CSV) / fields (JSON): `phone` (required), `reason`, `source`,
//! `expires_at`. Other CSV columns are ignored, so an export (which adds
//! `created_at` and `active`) imports back unchanged. A missing or empty
//! `reason`/`source`/`expires_at` takes the import's default; `expires_at`
//! reads `never`, RFC 3339, a date (`2026-12-31`: the whole day UTC, i.e.
//! until the start of the next day) or a duration from now (`90d`). In JSON,
//! `"expires_at": null` means never.

use crate::domain::phone::E164;
use crate::domain::suppression::{Entry, Expiry, parse_expiry};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::io::Read;

/// Row errors kept in full; beyond this they are only counted.
pub const MAX_REPORTED: usize = 1000;

/// What a row gets where it says nothing.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Without it every row needs its own `reason`.
    pub reason: Option<String>,
    pub source: String,
    /// Applied to rows without an expiry; `None` = never.
    pub expires_at: Expiry,
    /// For national numbers (`0812...`); without it numbers need a `+`.
    pub country_code: Option<String>,
}

impl Defaults {
    /// No default reason or expiry, international numbers only.
    pub fn with_source(source: &str) -> Defaults {
        Defaults { reason: None, source: source.to_string(), expires_at: None, country_code: None }
    }
}

/// Where a bad row is: a CSV line (the header is line 1) or a JSON array
/// element (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// CSV line (the header is line 1).
    Line(u64),
    /// JSON array element (1-based).
    Item(usize),
}

/// One rejected row: where, which column, and why (phone numbers masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EntryError {
    #[serde(flatten)]
    pub position: Position,
    pub column: &'static str,
    pub message: String,
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Position::Line(n) => write!(f, "line {n}: {}: {}", self.column, self.message),
            Position::Item(n) => write!(f, "item {n}: {}: {}", self.column, self.message),
        }
    }
}

/// A whole list that cannot be read (no rows were taken from it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("CSV header: {0}")]
    Header(String),
    #[error("JSON: {0}")]
    Json(String),
}

/// The valid entries of a list and what was wrong with the others.
#[derive(Debug, Default)]
pub struct ParsedList {
    /// Rows read, good and bad.
    pub rows: u64,
    /// Valid entries in file order, duplicates included (the store keeps the
    /// longest-lasting of them).
    pub entries: Vec<Entry>,
    pub rejected: u64,
    /// The first [`MAX_REPORTED`] rejected rows.
    pub errors: Vec<EntryError>,
}

impl ParsedList {
    fn reject(&mut self, e: EntryError) {
        self.rejected += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(e);
        }
    }
}

/// The text fields of one row, as written (trimmed, empty = absent).
#[derive(Default)]
struct RawRow<'a> {
    phone: &'a str,
    reason: Option<&'a str>,
    source: Option<&'a str>,
    /// `Some(None)`: explicitly no expiry (JSON `null`).
    expires_at: Option<Option<&'a str>>,
}

fn entry(raw: RawRow<'_>, at: Position, defaults: &Defaults, now: DateTime<Utc>) -> Result<Entry, EntryError> {
    let err = |column, message: String| EntryError { position: at, column, message };
    let phone = E164::parse(raw.phone, defaults.country_code.as_deref()).map_err(|e| err("phone", e.to_string()))?;
    let reason = match raw.reason.or(defaults.reason.as_deref()) {
        Some(r) => r.to_string(),
        None => return Err(err("reason", "empty, and the import gives no default reason".into())),
    };
    let expires_at = match raw.expires_at {
        None => defaults.expires_at,
        Some(None) => None,
        Some(Some(text)) => parse_expiry(text, now).map_err(|e| err("expires_at", e.to_string()))?,
    };
    Ok(Entry {
        phone: phone.as_str().to_string(),
        reason,
        source: raw.source.unwrap_or(&defaults.source).to_string(),
        expires_at,
    })
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

struct Columns {
    phone: usize,
    reason: Option<usize>,
    source: Option<usize>,
    expires_at: Option<usize>,
}

fn columns(header: &csv::StringRecord, defaults: &Defaults) -> Result<Columns, ListError> {
    let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let found = || header.iter().collect::<Vec<_>>().join(", ");
    let phone = find("phone").ok_or_else(|| ListError::Header(format!("no `phone` column (found: {})", found())))?;
    let reason = find("reason");
    if reason.is_none() && defaults.reason.is_none() {
        return Err(ListError::Header(format!(
            "no `reason` column and no default reason (--reason) (found: {})",
            found()
        )));
    }
    Ok(Columns { phone, reason, source: find("source"), expires_at: find("expires_at") })
}

/// Read a CSV list with a header line.
pub fn parse_csv<R: Read>(reader: R, defaults: &Defaults, now: DateTime<Utc>) -> Result<ParsedList, ListError> {
    let mut csv = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::Fields).from_reader(reader);
    let header = csv.headers().map_err(|e| ListError::Header(e.to_string()))?.clone();
    let cols = columns(&header, defaults)?;
    let mut out = ParsedList::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                out.rows += 1;
                let line = e.position().map_or(line, |p| p.line());
                out.reject(EntryError { position: Position::Line(line), column: "row", message: e.to_string() });
                continue;
            }
        }
        out.rows += 1;
        let at = Position::Line(record.position().map_or(line, |p| p.line()));
        let cell = |i: Option<usize>| non_empty(i.and_then(|i| record.get(i)));
        let raw = RawRow {
            phone: record.get(cols.phone).unwrap_or_default(),
            reason: cell(cols.reason),
            source: cell(cols.source),
            expires_at: cell(cols.expires_at).map(Some),
        };
        match entry(raw, at, defaults, now) {
            Ok(e) => out.entries.push(e),
            Err(e) => out.reject(e),
        }
    }
    Ok(out)
}

/// Read a JSON array of objects with the same fields as the CSV columns.
pub fn parse_json(body: &[u8], defaults: &Defaults, now: DateTime<Utc>) -> Result<ParsedList, ListError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ListError::Json(e.to_string()))?;
    let serde_json::Value::Array(items) = value else {
        return Err(ListError::Json("expected an array of objects like [{\"phone\": \"+62...\"}]".into()));
    };
    let mut out = ParsedList::default();
    for (i, item) in items.iter().enumerate() {
        out.rows += 1;
        let at = Position::Item(i + 1);
        match json_row(item, at).and_then(|raw| entry(raw, at, defaults, now)) {
            Ok(e) => out.entries.push(e),
            Err(e) => out.reject(e),
        }
    }
    Ok(out)
}

fn json_row(item: &serde_json::Value, at: Position) -> Result<RawRow<'_>, EntryError> {
    let err = |column, message: String| EntryError { position: at, column, message };
    let Some(obj) = item.as_object() else {
        return Err(err("row", format!("expected an object, found {}", json_kind(item))));
    };
    // Absent or null: the default; a string: its text; anything else is an error.
    let text = |column: &'static str| -> Result<Option<&str>, EntryError> {
        match obj.get(column) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(non_empty(Some(s))),
            Some(other) => Err(err(column, format!("expected a string, found {}", json_kind(other)))),
        }
    };
    let expires_at = match obj.get("expires_at") {
        Some(serde_json::Value::Null) => Some(None),
        _ => text("expires_at")?.map(Some),
    };
    Ok(RawRow {
        phone: text("phone")?.unwrap_or_default(),
        reason: text("reason")?,
        source: text("source")?,
        expires_at,
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
