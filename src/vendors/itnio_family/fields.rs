//! Reading one pushed call record the way the Laaffic/ITNIO family sends it
//! (shared by `laaffic` and `ai_voice`).
//!
//! Lenient where the family varies: a missing field, JSON `null` and a blank
//! string are all "absent"; numbers may come as strings and codes as numbers;
//! times come as Unix seconds/milliseconds or as local date-times. Exact where
//! it matters: a value of a truly wrong type (an array where a code belongs, a
//! number where a status word belongs, text that is no number where a count
//! belongs) is an error naming the field. The record is then rejected and kept
//! for audit instead of being read as "unknown" and finishing a contact.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Number, Value};

pub use crate::vendors::common::shown;

/// The record itself must be a JSON object.
pub fn object(r: &Value) -> Result<(), String> {
    if r.is_object() { Ok(()) } else { Err(format!("record: expected an object, got {}", shown(r))) }
}

/// `key`'s value unless it is missing, `null` or a blank string.
fn present<'a>(r: &'a Value, key: &str) -> Option<&'a Value> {
    match r.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(v) => Some(v),
    }
}

/// A number as code text: `205` and `205.0` are both "205".
fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
        _ => n.to_string(),
    }
}

fn number_int(n: &Number) -> Option<i64> {
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
}

/// A code or an identifier: a string or a number (as text).
pub fn text(r: &Value, key: &str) -> Result<Option<String>, String> {
    match present(r, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(number_text(n))),
        Some(v) => Err(format!("{key}: expected a string or a number, got {}", shown(v))),
    }
}

/// A status word (ITNIO `resultStatus`): a string only. A number there is no
/// spelling of a status but a different field's value.
pub fn word(r: &Value, key: &str) -> Result<Option<String>, String> {
    match present(r, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(v) => Err(format!("{key}: expected a string, got {}", shown(v))),
    }
}

/// An integer: a JSON number or a string of one (`"486"`).
pub fn int(r: &Value, key: &str) -> Result<Option<i64>, String> {
    let wrong = |v: &Value| format!("{key}: expected an integer, got {}", shown(v));
    match present(r, key) {
        None => Ok(None),
        Some(v @ Value::Number(n)) => number_int(n).map(Some).ok_or_else(|| wrong(v)),
        Some(v @ Value::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| wrong(v))
        }
        Some(v) => Err(wrong(v)),
    }
}

/// Local date-time spellings seen in the family's pushes.
const LOCAL_FORMATS: &[&str] =
    &["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y/%m/%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"];

/// A local date-time in zone `tz` as UTC. A time inside a DST gap (which a
/// clock in that zone never shows, but a vendor's formatter may) is read an
/// hour later, as the zone's clocks would have shown it.
pub fn local(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = LOCAL_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())?;
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

/// A time: Unix seconds or milliseconds (a number or a string of digits), or
/// a local date-time in the account's zone `tz`. `0` means "no time" (what
/// the family sends for a call that was never answered).
pub fn time(r: &Value, key: &str, tz: chrono_tz::Tz) -> Result<Option<DateTime<Utc>>, String> {
    let wrong = |v: &Value| format!("{key}: expected a Unix time or a `YYYY-MM-DD HH:MM:SS` time, got {}", shown(v));
    let Some(v) = present(r, key) else { return Ok(None) };
    let unix = match v {
        Value::Number(n) => Some(number_int(n).ok_or_else(|| wrong(v))?),
        Value::String(s) if s.trim().chars().all(|c| c.is_ascii_digit()) => s.trim().parse::<i64>().ok(),
        Value::String(s) => return local(s, tz).map(Some).ok_or_else(|| wrong(v)),
        _ => return Err(wrong(v)),
    };
    match unix {
        Some(0) => Ok(None),
        Some(n) => crate::vendors::common::unix_time(&Value::from(n)).map(Some).ok_or_else(|| wrong(v)),
        None => Err(wrong(v)),
    }
}

/// Separators of tag lists sent as one string: ASCII and full-width commas
/// and semicolons, and the ideographic enumeration comma.
const TAG_SEPARATORS: &[char] = &[',', ';', '，', '；', '、'];

/// A list of names: a JSON array of strings (or numbers), or one string of
/// names separated by commas or semicolons.
pub fn names(r: &Value, key: &str) -> Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split(TAG_SEPARATORS).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect()
    };
    match present(r, key) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(split(s)),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::Null => {}
                    Value::String(s) => out.extend(split(s)),
                    Value::Number(n) => out.push(number_text(n)),
                    other => return Err(format!("{key}: expected names (strings), got {}", shown(other))),
                }
            }
            Ok(out)
        }
        Some(v) => Err(format!("{key}: expected a list of names, got {}", shown(v))),
    }
}

/// A money amount (ITNIO `pay`, Laaffic `cost`): a decimal string
/// (`"0.0120"`) or a JSON number, in micro-units of its currency. Text that
/// is no amount is an error naming the field.
pub fn amount(r: &Value, key: &str) -> Result<Option<i64>, String> {
    match present(r, key) {
        None => Ok(None),
        Some(Value::String(s)) => {
            crate::domain::call_cost::parse_amount(s).map(Some).map_err(|e| format!("{key}: {e}"))
        }
        Some(Value::Number(n)) => {
            crate::domain::call_cost::parse_amount(&n.to_string()).map(Some).map_err(|e| format!("{key}: {e}"))
        }
        Some(v) => Err(format!("{key}: expected a decimal amount, got {}", shown(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn absent_loose_and_wrong_values() {
        let r = json!({"a": null, "b": " ", "c": 205, "d": "205", "e": ["205"], "f": 205.0, "g": true});
        assert_eq!(text(&r, "missing"), Ok(None));
        assert_eq!(text(&r, "a"), Ok(None));
        assert_eq!(text(&r, "b"), Ok(None));
        assert_eq!(text(&r, "c"), Ok(Some("205".into())));
        assert_eq!(text(&r, "d"), Ok(Some("205".into())));
        assert_eq!(text(&r, "f"), Ok(Some("205".into())));
        assert_eq!(text(&r, "e").unwrap_err(), r#"e: expected a string or a number, got ["205"]"#);
        assert!(text(&r, "g").unwrap_err().starts_with("g: "));
        assert_eq!(word(&r, "d"), Ok(Some("205".into())));
        assert_eq!(word(&r, "c").unwrap_err(), "c: expected a string, got 205");
        assert_eq!(int(&r, "d"), Ok(Some(205)));
        assert_eq!(int(&r, "f"), Ok(Some(205)));
        assert_eq!(int(&json!({"n": "486 Busy"}), "n").unwrap_err(), r#"n: expected an integer, got "486 Busy""#);
        assert!(int(&r, "e").unwrap_err().starts_with("e: expected an integer"));
        assert_eq!(object(&json!([1])).unwrap_err(), "record: expected an object, got [1]");
    }

    #[test]
    fn times_in_every_spelling() {
        let at = |v: Value| time(&json!({ "t": v }), "t", TZ);
        let utc = "2021-09-01T02:00:00+00:00";
        for v in [
            json!("2021-09-01 10:00:00"),
            json!("2021-09-01T10:00:00"),
            json!("2021/09/01 10:00:00"),
            json!("2021-09-01 10:00:00.000"),
            json!("2021-09-01T02:00:00Z"),
            json!(1630461600),
            json!("1630461600"),
            json!(1630461600000i64),
        ] {
            assert_eq!(at(v.clone()).unwrap().unwrap().to_rfc3339(), utc, "{v}");
        }
        assert_eq!(at(json!(0)), Ok(None));
        assert_eq!(at(json!("")), Ok(None));
        assert!(at(json!("yesterday")).unwrap_err().starts_with("t: expected a Unix time"));
        assert!(at(json!([1])).is_err());
        // A time in New York's spring-forward gap is read an hour later.
        let gap = local("2024-03-10 02:30:00", chrono_tz::America::New_York).unwrap();
        assert_eq!(gap.to_rfc3339(), "2024-03-10T07:30:00+00:00");
    }

    #[test]
    fn names_as_arrays_or_separated_text() {
        let r = json!({"a": ["投诉", " x ", 7, null], "b": "投诉, 转人工；其他、y", "c": 5, "d": [{"k": 1}]});
        assert_eq!(names(&r, "a").unwrap(), ["投诉", "x", "7"]);
        assert_eq!(names(&r, "b").unwrap(), ["投诉", "转人工", "其他", "y"]);
        assert_eq!(names(&r, "missing").unwrap(), Vec::<String>::new());
        assert_eq!(names(&r, "c").unwrap_err(), "c: expected a list of names, got 5");
        assert!(names(&r, "d").unwrap_err().starts_with("d: expected names"));
    }
}
