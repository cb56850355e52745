//! Small readers the fakes share: loose JSON values as vendors accept them,
//! local vendor times, constant-time comparison.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// A JSON string (trimmed) or number as text.
pub fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON string or number as i64.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A vendor's local `YYYY-MM-DD HH:MM:SS` time in zone `tz` as UTC.
pub fn local_time(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

/// Compare secrets without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A URL without its query string, which may carry a token: safe to log.
pub fn loggable_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loose_values_read_both_ways() {
        assert_eq!(code_text(&json!(" 12 ")), Some("12".into()));
        assert_eq!(code_text(&json!(12)), Some("12".into()));
        assert_eq!(code_text(&json!(null)), None);
        assert_eq!(as_i64(&json!("7")), Some(7));
        assert_eq!(as_i64(&json!(7.9)), Some(7));
        assert_eq!(as_i64(&json!([7])), None);
        let t = local_time("2025-01-02 10:00:00", chrono_tz::Asia::Shanghai).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-02T02:00:00+00:00");
        assert!(constant_time_eq(b"ab", b"ab") && !constant_time_eq(b"ab", b"ac") && !constant_time_eq(b"a", b"ab"));
        assert_eq!(loggable_url("http://h/cb?token=s"), "http://h/cb");
    }
}
