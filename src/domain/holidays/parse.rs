//! The holiday-file parser behind [`HolidayCalendar::parse`].

use super::HolidayCalendar;
use chrono::NaiveDate;

const HEADER: [&str; 3] = ["country", "date", "name"];

/// One problem in a holiday file: where, which field, the offending value and
/// why, e.g. `holidays.csv:7: date "2026-02-30": no such day`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field} {value:?}: {reason}")]
pub struct HolidayError {
    /// The file, as given to [`HolidayCalendar::parse`].
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// `header`, `line` (the line as a whole), `country`, `date` or `name`.
    pub field: &'static str,
    /// The offending text, trimmed.
    pub value: String,
    pub reason: String,
}

pub(super) fn parse(text: &str, source: &str) -> Result<HolidayCalendar, Vec<HolidayError>> {
    let mut calendar = HolidayCalendar::default();
    let mut errors = Vec::new();
    let mut header_seen = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |field, value: &str, reason: String| HolidayError {
            file: source.to_string(),
            line,
            field,
            value: value.to_string(),
            reason,
        };
        let content = raw.split('#').next().unwrap_or_default().trim_start_matches('\u{feff}').trim();
        if content.is_empty() {
            continue;
        }
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        if !header_seen {
            header_seen = true;
            if is_header(&fields) {
                continue;
            }
            // Report the missing header once, then read this line as data so
            // its own mistakes (and every later line's) are reported too.
            errors.push(error("header", content, "expected the header `country,date,name` first".into()));
        }
        let &[country, date, name] = fields.as_slice() else {
            let reason = format!(
                "expected 3 fields `country,date,name`, found {} (a name cannot contain `,`; \
                 regional holidays are not supported)",
                fields.len()
            );
            errors.push(error("line", content, reason));
            continue;
        };
        let before = errors.len();
        let country = parse_country(country).map_err(|reason| errors.push(error("country", country, reason)));
        let date = parse_date(date).map_err(|reason| errors.push(error("date", date, reason)));
        if name.is_empty() {
            errors.push(error("name", name, "a holiday needs a name (it is written to the audit trail)".into()));
        }
        if let (Ok(country), Ok(date), true) = (country, date, errors.len() == before) {
            calendar.insert_named(&country, date, name);
        }
    }
    if !header_seen {
        let reason = "no header `country,date,name` and no holiday: the file is empty".to_string();
        errors.push(HolidayError { file: source.to_string(), line: 1, field: "header", value: String::new(), reason });
    }
    if errors.is_empty() { Ok(calendar) } else { Err(errors) }
}

fn is_header(fields: &[&str]) -> bool {
    fields.len() == HEADER.len() && fields.iter().zip(HEADER).all(|(f, h)| f.eq_ignore_ascii_case(h))
}

/// Two ASCII letters, returned upper case. Only the shape is checked: a list
/// of assigned codes would need updating and an unknown code is harmless (no
/// campaign refers to it).
fn parse_country(text: &str) -> Result<String, String> {
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err("expected an ISO 3166-1 alpha-2 country code like ID".into())
    }
}

/// Exactly `YYYY-MM-DD`: chrono alone would also take `2026-8-17`, and a
/// file that mixes shapes is likely to have other mistakes.
fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shape_ok {
        return Err("expected a date as YYYY-MM-DD like 2026-08-17".into());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "no such day in the calendar".into())
}
