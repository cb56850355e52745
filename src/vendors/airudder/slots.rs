//! Reading a requested time out of a webhook detail's `NerSlots`.
//!
//! AIRudder says the slots "vary by country/region" and documents no value
//! format (its own example is `"PaymentTime": "Time_0"`, a placeholder). So
//! only the unambiguous shapes are read, in the account zone where they carry
//! no offset; anything else yields no time and the value stays in the stored
//! raw callback for audit.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// Local date-time shapes, most precise first.
const LOCAL_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"];

/// The time in slot `key` of `slots` (the `NerSlots` object), if it holds one:
/// an RFC 3339 date-time; `YYYY-MM-DD HH:MM[:SS]` (or with a `T`) in `tz`; or
/// an ISO date, meaning the start of that day in `tz` (the calling windows
/// then decide the hour). `None` for an empty key, a missing slot, a
/// non-string value, a placeholder like `Time_0`, or a local time that does
/// not exist (a DST gap).
pub fn requested_time(slots: &Value, key: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if key.is_empty() {
        return None;
    }
    let text = slots.get(key)?.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let local = LOCAL_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    // A repeated hour (DST fall-back) takes its first occurrence.
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap())
    }

    #[test]
    fn every_accepted_shape_reads_in_the_account_zone() {
        let jkt = chrono_tz::Asia::Jakarta; // UTC+7, no DST
        let slot = |v: Value| requested_time(&json!({ "PaymentTime": v }), "PaymentTime", jkt);
        assert_eq!(slot(json!("2024-03-12T10:00:00+08:00")), at(2024, 3, 12, 2, 0, 0), "offset given: zone unused");
        assert_eq!(slot(json!("2024-03-12T10:00:00Z")), at(2024, 3, 12, 10, 0, 0));
        assert_eq!(slot(json!("2024-03-12 10:30:15")), at(2024, 3, 12, 3, 30, 15));
        assert_eq!(slot(json!(" 2024-03-12 10:30 ")), at(2024, 3, 12, 3, 30, 0));
        assert_eq!(slot(json!("2024-03-12T10:30")), at(2024, 3, 12, 3, 30, 0));
        assert_eq!(slot(json!("2024-03-12")), at(2024, 3, 11, 17, 0, 0), "a date is the start of that local day");
    }

    #[test]
    fn anything_else_yields_no_time() {
        let jkt = chrono_tz::Asia::Jakarta;
        for v in [json!("Time_0"), json!(""), json!("tomorrow"), json!("12/03/2024"), json!(1710208800), json!(null)] {
            assert_eq!(requested_time(&json!({ "PaymentTime": v }), "PaymentTime", jkt), None, "{v}");
        }
        let slots = json!({ "PaymentTime": "2024-03-12" });
        assert_eq!(requested_time(&slots, "CallbackTime", jkt), None, "another key");
        assert_eq!(requested_time(&slots, "", jkt), None, "an empty key turns the feature off");
        assert_eq!(requested_time(&Value::Null, "PaymentTime", jkt), None, "no NerSlots at all");
        // 02:30 does not exist in New York on 2024-03-10.
        let gap = json!({ "PaymentTime": "2024-03-10 02:30" });
        assert_eq!(requested_time(&gap, "PaymentTime", chrono_tz::America::New_York), None);
    }
}
