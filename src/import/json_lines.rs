//! Rows of an NDJSON contact list: one JSON object per line, with the CSV's
//! column names as keys (`phone` required, optional `case_id` and
//! `timezone`, every other key a variable). Values are read as a CSV cell
//! would be: strings as they are, numbers and booleans as their text, null
//! as empty; an array or object is a row error. Blank lines are skipped.
//! A line is read up to [`MAX_LINE_BYTES`]: a longer one is a row error,
//! never held whole in memory.

use super::row::{Row, RowContext, contact};
use super::source::ReadRows;
use super::{ImportError, RowError};
use crate::domain::contact_columns::Columns;
use serde_json::Value;
use std::io::BufRead;

/// The longest line read; contacts are a few hundred bytes.
pub const MAX_LINE_BYTES: usize = 1 << 20;

pub struct JsonLines<R> {
    reader: R,
    ctx: RowContext,
    /// The line last read, 1-based.
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonLines<R> {
    pub fn new(reader: R, ctx: RowContext) -> JsonLines<R> {
        JsonLines { reader, ctx, line: 0, buf: Vec::new() }
    }

    /// The next line into `buf` (without its end); `None` at the end of the
    /// input, `Some(false)` for a line over [`MAX_LINE_BYTES`] (skipped).
    fn next_line(&mut self) -> std::io::Result<Option<bool>> {
        self.buf.clear();
        let read = std::io::Read::take(&mut self.reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            return Ok(Some(true));
        }
        if self.buf.len() <= MAX_LINE_BYTES {
            return Ok(Some(true)); // the last line, without an end
        }
        self.buf.clear();
        skip_line(&mut self.reader)?;
        Ok(Some(false))
    }
}

/// Consume the rest of a line without keeping it.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let n = chunk.len();
                reader.consume(n);
            }
        }
    }
}

impl<R: BufRead> ReadRows for JsonLines<R> {
    fn read_batch(&mut self, max: usize) -> Result<Option<Vec<Row>>, ImportError> {
        let mut rows = Vec::with_capacity(max);
        while rows.len() < max {
            let Some(fits) = self.next_line().map_err(ImportError::Read)? else { break };
            let line = self.line;
            if !fits {
                let message = format!("longer than {MAX_LINE_BYTES} bytes");
                rows.push(Err(RowError { line, field: "row", message }));
                continue;
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            rows.push(parse_line(&self.buf, &self.ctx, line));
        }
        Ok((!rows.is_empty()).then_some(rows))
    }
}

/// One line: an object whose keys are the CSV's column names.
fn parse_line(text: &[u8], ctx: &RowContext, line: u64) -> Row {
    let err = |field, message: String| RowError { line, field, message };
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(text).map_err(|e| err("row", format!("not a JSON object: {e}")))?;
    if object.keys().any(|k| k.contains('\0')) {
        return Err(err("row", "a key contains a NUL character".into()));
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    let cols = Columns::find(&keys).map_err(|_| err("phone", "missing (every object needs a `phone`)".into()))?;
    let mut cells = Vec::with_capacity(object.len());
    for (key, value) in &object {
        cells.push(match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                let field = [(Some(cols.phone), "phone"), (cols.case_id, "case_id"), (cols.timezone, "timezone")]
                    .into_iter()
                    .find(|(i, _)| *i == Some(cells.len()))
                    .map_or("variables", |(_, f)| f);
                return Err(err(field, format!("`{key}` is an array or object: give a string, number or boolean")));
            }
        });
    }
    contact(&cells, &cols, ctx, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RowContext {
        RowContext { cc: Some("62".into()), campaign_tz: chrono_tz::Asia::Jakarta }
    }

    fn read_all(text: &str) -> Vec<Row> {
        let mut rows = JsonLines::new(text.as_bytes(), ctx());
        let mut all = Vec::new();
        while let Some(batch) = rows.read_batch(2).unwrap() {
            all.extend(batch);
        }
        all
    }

    #[test]
    fn objects_read_like_csv_rows_and_bad_lines_are_named_with_their_line() {
        let text = "{\"phone\":\"0812 1111 2222\",\"case_id\":7,\"Amount\":1500,\"vip\":true,\"note\":null}\n\
                    \n\
                    [1,2]\n\
                    {\"phone\":\"+62812\",\"name\":\"x\"}\n\
                    {\"name\":\"no phone\"}\n\
                    {\"phone\":\"+6281211112223\",\"tags\":[\"a\"]}\n\
                    {\"PHONE\":\"+6281211112224\",\"timezone\":\"Asia/Makassar\"}";
        let rows = read_all(text);
        assert_eq!(rows.len(), 6, "the blank line is no row");
        let first = rows[0].as_ref().unwrap();
        assert_eq!((first.phone.as_str(), first.case_id.as_deref()), ("+6281211112222", Some("7")));
        assert_eq!(first.variables, serde_json::json!({"Amount": "1500", "vip": "true", "note": ""}));
        let errors: Vec<(u64, &str)> =
            rows.iter().filter_map(|r| r.as_ref().err()).map(|e| (e.line, e.field)).collect();
        assert_eq!(errors, vec![(3, "row"), (4, "phone"), (5, "phone"), (6, "variables")]);
        let last = rows[5].as_ref().unwrap();
        assert_eq!((last.zones.as_deref(), last.zone_source.as_deref()), (Some("Asia/Makassar"), Some("explicit")));
    }

    #[test]
    fn a_line_over_the_limit_is_a_row_error_and_the_next_line_still_reads() {
        let long = format!("{{\"phone\":\"+6281211112222\",\"pad\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES));
        let text = format!("{long}\n{{\"phone\":\"+6281211112223\"}}\n");
        let rows = read_all(&text);
        assert_eq!(rows.len(), 2);
        let e = rows[0].as_ref().unwrap_err();
        assert_eq!((e.line, e.field), (1, "row"));
        assert!(e.message.contains("longer than"), "{e}");
        assert_eq!(rows[1].as_ref().unwrap().phone, "+6281211112223");
    }
}
