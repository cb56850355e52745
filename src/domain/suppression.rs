//! Suppression list rules: when an entry expires, and which of two entries
//! for one number wins.
//!
//! The one rule that matters for compliance: an import never weakens an
//! entry. A complaint suppression that never expires must not be shortened
//! by a later DNC file saying "90 days", so the entry that lasts longer wins,
//! and only an explicit remove deletes one.

use super::duration::parse_duration;
use chrono::{DateTime, Days, NaiveDate, Utc};
use std::collections::HashMap;

/// An entry's end: `None` never expires.
pub type Expiry = Option<DateTime<Utc>>;

/// One entry for the list; `phone` is E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub phone: String,
    pub reason: String,
    /// Where it came from: `import`, `api`, `cli`, `campaign:<name>`, ...
    pub source: String,
    pub expires_at: Expiry,
}

/// Whether an entry ending at `candidate` is in force strictly longer than
/// one ending at `existing`. Never-expiring beats any date; equal ends do not
/// outlast each other, so the existing entry (and its reason) stays.
pub fn outlasts(candidate: Expiry, existing: Expiry) -> bool {
    match (candidate, existing) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(c), Some(e)) => c > e,
    }
}

/// Whether an entry with this expiry suppresses calls at `now`.
pub fn is_active(expires_at: Expiry, now: DateTime<Utc>) -> bool {
    expires_at.is_none_or(|end| end > now)
}

/// What importing an entry does to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOutcome {
    /// The number was not on the list.
    Added,
    /// The number was on the list; the imported entry lasts longer and replaces it.
    Extended,
    /// The number was on the list at least as long; the list keeps its entry.
    Unchanged,
}

/// Merge an imported entry ending at `incoming` into the list, where the
/// number's current entry ends at `existing` (`None` = not on the list).
pub fn merge(existing: Option<Expiry>, incoming: Expiry) -> MergeOutcome {
    match existing {
        None => MergeOutcome::Added,
        Some(current) if outlasts(incoming, current) => MergeOutcome::Extended,
        Some(_) => MergeOutcome::Unchanged,
    }
}

/// One entry per phone: the longest-lasting of its entries (the first of
/// equals), so the never-weaken rule holds inside one import too. In input
/// order, with the number of entries dropped for it.
pub fn strongest_per_phone(entries: &[Entry]) -> (Vec<&Entry>, u64) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<&Entry> = Vec::with_capacity(entries.len());
    for e in entries {
        match index.get(e.phone.as_str()) {
            Some(&i) => {
                if outlasts(e.expires_at, out[i].expires_at) {
                    out[i] = e;
                }
            }
            None => {
                index.insert(&e.phone, out.len());
                out.push(e);
            }
        }
    }
    let dropped = (entries.len() - out.len()) as u64;
    (out, dropped)
}

/// An expiry that could not be understood or lies in the past.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    #[error(
        "`{text}` is not an expiry: expected `never`, an RFC 3339 time (2026-12-31T18:00:00Z), \
         a date (2026-12-31) or a duration from now (90d)"
    )]
    Unreadable { text: String },
    #[error("`{text}` is in the past ({at}): the entry would never be in force")]
    InThePast { text: String, at: DateTime<Utc> },
}

/// Parse an expiry written by a person, relative to `now`:
///
/// - `never` (any case): the entry never expires;
/// - an RFC 3339 instant: expires then;
/// - a date `YYYY-MM-DD`: the whole of that day (UTC) is covered, so the
///   entry expires at the *start of the next day* UTC. "Until 2026-12-31"
///   read as midnight at the start of the 31st would drop the last day,
///   which is the wrong way to err on a do-not-call list;
/// - a duration (`90d`, `12h`, `2w`): that long from `now`.
///
/// An expiry at or before `now` is an error: such an entry would be stored
/// but never suppress anything, which is never what the writer meant.
pub fn parse_expiry(text: &str, now: DateTime<Utc>) -> Result<Expiry, ExpiryError> {
    let trimmed = text.trim();
    let unreadable = || ExpiryError::Unreadable { text: text.to_string() };
    if trimmed.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let at = if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        d.checked_add_days(Days::new(1)).ok_or_else(unreadable)?.and_hms_opt(0, 0, 0).ok_or_else(unreadable)?.and_utc()
    } else if let Ok(d) = parse_duration(trimmed) {
        let d = chrono::Duration::from_std(d).map_err(|_| unreadable())?;
        now.checked_add_signed(d).ok_or_else(unreadable)?
    } else {
        return Err(unreadable());
    };
    if at <= now {
        return Err(ExpiryError::InThePast { text: text.to_string(), at });
    }
    Ok(Some(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn never_outlasts_every_date_and_later_outlasts_earlier() {
        let (early, late) = (Some(t("2026-01-01T00:00:00Z")), Some(t("2027-01-01T00:00:00Z")));
        assert!(outlasts(None, early));
        assert!(!outlasts(early, None));
        assert!(!outlasts(None, None), "equal ends keep the existing entry");
        assert!(outlasts(late, early));
        assert!(!outlasts(early, late));
        assert!(!outlasts(early, early));
    }

    #[test]
    fn merge_never_shortens_an_entry() {
        let (early, late) = (Some(t("2026-01-01T00:00:00Z")), Some(t("2027-01-01T00:00:00Z")));
        assert_eq!(merge(None, early), MergeOutcome::Added);
        assert_eq!(merge(Some(None), early), MergeOutcome::Unchanged, "a complaint (never) is not shortened");
        assert_eq!(merge(Some(None), None), MergeOutcome::Unchanged);
        assert_eq!(merge(Some(late), early), MergeOutcome::Unchanged);
        assert_eq!(merge(Some(early), late), MergeOutcome::Extended);
        assert_eq!(merge(Some(early), None), MergeOutcome::Extended);
    }

    #[test]
    fn duplicates_keep_the_longest_entry_in_input_order() {
        let e = |phone: &str, reason: &str, end: Expiry| Entry {
            phone: phone.into(),
            reason: reason.into(),
            source: "test".into(),
            expires_at: end,
        };
        let (early, late) = (Some(t("2026-01-01T00:00:00Z")), Some(t("2027-01-01T00:00:00Z")));
        let input = [e("+1", "a-early", early), e("+2", "b", late), e("+1", "a-never", None), e("+1", "a-late", late)];
        let (kept, dropped) = strongest_per_phone(&input);
        let reasons: Vec<&str> = kept.iter().map(|x| x.reason.as_str()).collect();
        assert_eq!(reasons, ["a-never", "b"]);
        assert_eq!(dropped, 2);
        let ties = [e("+1", "first", late), e("+1", "second", late)];
        assert_eq!(strongest_per_phone(&ties).0[0].reason, "first");
    }

    #[test]
    fn activity_depends_on_the_end() {
        let now = t("2026-06-01T12:00:00Z");
        assert!(is_active(None, now));
        assert!(is_active(Some(t("2026-06-01T12:00:01Z")), now));
        assert!(!is_active(Some(now), now), "an entry ending now no longer suppresses");
    }

    #[test]
    fn parses_every_documented_form() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_expiry("never", now), Ok(None));
        assert_eq!(parse_expiry(" NEVER ", now), Ok(None));
        assert_eq!(parse_expiry("2026-12-31T18:00:00+07:00", now), Ok(Some(t("2026-12-31T11:00:00Z"))));
        assert_eq!(
            parse_expiry("2026-12-31", now),
            Ok(Some(t("2027-01-01T00:00:00Z"))),
            "a date covers that whole day UTC: expires at the start of the next"
        );
        assert_eq!(parse_expiry("90d", now), Ok(Some(now + chrono::Duration::days(90))));
        assert_eq!(parse_expiry("12h", now), Ok(Some(now + chrono::Duration::hours(12))));
    }

    #[test]
    fn rejects_garbage_and_the_past_naming_the_text() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        for text in ["", "soon", "2026-13-01", "31/12/2026", "90"] {
            let err = parse_expiry(text, now).expect_err(text);
            assert!(matches!(err, ExpiryError::Unreadable { .. }), "{text}: {err}");
            assert!(err.to_string().contains(&format!("`{text}`")), "{err}");
        }
        let err = parse_expiry("2026-05-31", now).unwrap_err();
        assert!(err.to_string().contains("in the past"), "{err}");
        assert!(matches!(parse_expiry("2026-06-01T12:00:00Z", now), Err(ExpiryError::InThePast { .. })));
        assert!(matches!(parse_expiry("0s", now), Err(ExpiryError::InThePast { .. })));
        // The date of today still covers the rest of today.
        assert_eq!(parse_expiry("2026-06-01", now), Ok(Some(t("2026-06-02T00:00:00Z"))));
    }
}
