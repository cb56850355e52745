//! The callee's time zone(s): which zones a contact's calling window is
//! judged in.
//!
//! A contact's zones come from, in order: the operator's explicit zone(s), the
//! number itself (NANP area code, or a calling code whose countries keep one
//! clock), otherwise the campaign's zone. The allowed window is the
//! intersection over all candidate zones, so every zone added makes calling
//! stricter, never wider: when sources disagree, or a country spans several
//! clocks and the campaign is elsewhere, all candidates are kept.

mod clock;
mod tables;

use crate::domain::window::{WindowError, parse_tz};
use chrono_tz::Tz;
use clock::{dedup_clocks, same_clock};
use tables::{CodeZones, NanpArea, TABLES};

/// Where a contact's zones came from (`contacts.zone_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// The operator's zone(s) from the contact list.
    Explicit,
    /// The number's country keeps one clock.
    Country,
    /// The NANP area code of a +1 number.
    Nanp,
    /// A multi-zone country the campaign is not in: all its zones.
    CountryZones,
    /// Nothing better: the campaign's zone.
    Campaign,
}

impl ZoneSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Explicit => "explicit",
            ZoneSource::Country => "country",
            ZoneSource::Nanp => "nanp",
            ZoneSource::CountryZones => "country-zones",
            ZoneSource::Campaign => "campaign",
        }
    }
}

impl std::fmt::Display for ZoneSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The zones a contact's window is judged in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneResolution {
    /// Sorted by name, deduplicated; empty means "the campaign's zone".
    pub zones: Vec<Tz>,
    pub source: ZoneSource,
    /// For a person: a conflict, a fallback, a zone line through an area code.
    pub note: Option<String>,
}

/// What the number alone says.
enum NumberZones {
    /// Every clock the callee can be on: a NANP area code (one or a few
    /// clocks along a zone line) or a calling code whose countries keep one clock.
    Determinate { zones: Vec<Tz>, source: ZoneSource, place: Place, why: &'static str },
    /// A calling code spanning several clocks, and nothing narrower.
    MultiZone { zones: &'static [Tz], members: &'static std::collections::HashSet<Tz>, place: Place },
    /// Not a number any table knows.
    Unknown,
}

/// Where a number points, for notes. Formatted only when a note is written:
/// an import resolves every row and most rows need no note.
enum Place {
    Nanp { area: String, row: &'static NanpArea },
    Code { prefix: String, code: &'static CodeZones },
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Nanp { area, row } if row.region == "-" => write!(f, "NANP area code {area} ({})", row.country),
            Place::Nanp { area, row } => write!(f, "NANP area code {area} ({} {})", row.country, row.region),
            Place::Code { prefix, code } => {
                let names: Vec<&str> = code.countries.iter().map(|cc| TABLES.countries[cc].name.as_str()).collect();
                write!(f, "+{prefix}: {}", names.join(", "))
            }
        }
    }
}

/// Infer a contact's zones. `explicit`: the operator's zones (may be empty);
/// `phone`: normalized E.164 (`+` and digits); `campaign_tz`: the fallback.
pub fn resolve_zones(explicit: &[Tz], phone: &str, campaign_tz: Tz) -> ZoneResolution {
    let number = number_zones(phone);
    if !explicit.is_empty() {
        return with_explicit(explicit, number);
    }
    match number {
        NumberZones::Determinate { zones, source, place, why } => {
            let note = (zones.len() > 1)
                .then(|| format!("{place} spans {} clocks ({why}): calls only when all of them allow", zones.len()));
            ZoneResolution { zones: sorted(zones), source, note }
        }
        NumberZones::MultiZone { members, place, .. } if members.contains(&campaign_tz) => ZoneResolution {
            zones: Vec::new(),
            source: ZoneSource::Campaign,
            note: Some(format!("multi-zone country ({place}), fell back to campaign zone {}", campaign_tz.name())),
        },
        NumberZones::MultiZone { zones, place, .. } => ZoneResolution {
            zones: sorted(zones.to_vec()),
            source: ZoneSource::CountryZones,
            note: Some(format!(
                "multi-zone country ({place}) and the campaign zone {} is not in it: calls only when all {} of its \
                 zones allow; set the contact's timezone to widen the window",
                campaign_tz.name(),
                zones.len()
            )),
        },
        NumberZones::Unknown => ZoneResolution {
            zones: Vec::new(),
            source: ZoneSource::Campaign,
            note: Some("calling code not recognised, using the campaign zone".to_string()),
        },
    }
}

/// The operator's zones, plus the number's when they contradict each other.
///
/// When some explicit zone keeps a clock the number allows, the explicit
/// zones stand (and pick among an area code's clocks, e.g. Central for an 850
/// number in Pensacola). When none does, the number might be right as well,
/// so both are kept and the window is their intersection. A multi-zone
/// country says too little to contradict anything.
fn with_explicit(explicit: &[Tz], number: NumberZones) -> ZoneResolution {
    let mut zones = explicit.to_vec();
    let mut note = None;
    if let NumberZones::Determinate { zones: derived, place, .. } = number {
        let agrees = explicit.iter().any(|e| derived.iter().any(|d| same_clock(*e, *d)));
        if !agrees {
            note = Some(format!(
                "explicit zone(s) {} disagree with {} from {place}: calls only when all of them allow",
                names(explicit),
                names(&derived)
            ));
            zones.extend(derived);
        }
    }
    ZoneResolution { zones: sorted(dedup_clocks(zones)), source: ZoneSource::Explicit, note }
}

fn number_zones(phone: &str) -> NumberZones {
    let digits = phone.trim().strip_prefix('+').unwrap_or(phone.trim());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return NumberZones::Unknown;
    }
    let tables: &'static tables::Tables = &TABLES;
    if let Some(area) = digits.strip_prefix('1').and_then(|rest| rest.get(..3))
        && let Some(row) = tables.nanp_area(area)
    {
        let place = Place::Nanp { area: area.to_string(), row };
        return NumberZones::Determinate { zones: row.zones.clone(), source: ZoneSource::Nanp, place, why: &row.note };
    }
    let Some((prefix, code)) = tables.calling_code(digits) else {
        return NumberZones::Unknown;
    };
    let place = Place::Code { prefix: prefix.to_string(), code };
    match code.zones.as_slice() {
        [zone] => NumberZones::Determinate { zones: vec![*zone], source: ZoneSource::Country, place, why: "" },
        zones => NumberZones::MultiZone { zones, members: &code.members, place },
    }
}

fn sorted(mut zones: Vec<Tz>) -> Vec<Tz> {
    zones.sort_unstable_by_key(|z| z.name());
    zones.dedup();
    zones
}

fn names(zones: &[Tz]) -> String {
    zones.iter().map(|z| z.name()).collect::<Vec<_>>().join(", ")
}

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

#[cfg(test)]
#[path = "zones_tests.rs"]
mod tests;
