//! The callee's time zone(s): which zones a contact's calling window is
//! judged in. (Stub interface; the inference tables come with issue 4.)

use crate::domain::window::{WindowError, parse_tz};
use chrono_tz::Tz;

/// Canonical text of a zone set for `contacts.zones`: names sorted and
/// deduplicated, comma-separated; `None` for an empty set (campaign zone).
pub fn zones_key(zones: &[Tz]) -> Option<String> {
    let mut names: Vec<&str> = zones.iter().map(|z| z.name()).collect();
    names.sort_unstable();
    names.dedup();
    (!names.is_empty()).then(|| names.join(","))
}

/// Read a zone list written by a person or by [`zones_key`]: IANA names
/// separated by `,`, `;`, `|` or whitespace. Empty text is an empty list.
pub fn parse_zone_list(text: &str) -> Result<Vec<Tz>, WindowError> {
    let mut out = Vec::new();
    for name in text.split(|c: char| c == ',' || c == ';' || c == '|' || c.is_whitespace()) {
        if !name.is_empty() {
            out.push(parse_tz(name)?);
        }
    }
    out.sort_unstable_by_key(|z| z.name());
    out.dedup();
    Ok(out)
}
