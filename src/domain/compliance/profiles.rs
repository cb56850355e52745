//! Legal calling-hour profiles: named presets a campaign attaches. Their
//! windows are intersected with the campaign's own (a campaign can narrow a
//! profile, never widen it), their holidays close whole local days, and their
//! frequency rules join the campaign's caps. Sources: docs/compliance/.

/// One preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Calling windows in the callee's local time (`CallingWindows` grammar).
    pub windows: &'static str,
    /// Country (ISO alpha-2) whose public holidays are closed days.
    pub holiday_country: Option<&'static str>,
    /// Frequency rules (`caps` grammar).
    pub caps: &'static str,
    /// The instrument the numbers come from.
    pub source: &'static str,
}

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "us-tcpa",
        windows: "daily 08:00-21:00",
        holiday_country: None,
        caps: "",
        source: "47 CFR 64.1200(c)(1): no telephone solicitation before 8 a.m. or after 9 p.m. local time",
    },
    Profile {
        name: "us-reg-f",
        windows: "daily 08:00-21:00",
        holiday_country: None,
        caps: "case:7/7d, case:quiet/7d",
        source: "12 CFR 1006.6(b)(1)(i) (8 a.m.-9 p.m.), 12 CFR 1006.14(b)(2) (7 calls in 7 days, 7 days after a conversation)",
    },
    Profile {
        name: "id-pojk-22-2023",
        windows: "mon-sat 08:00-20:00",
        holiday_country: Some("ID"),
        caps: "",
        source: "POJK 22/2023 on consumer protection: collection Monday-Saturday outside national holidays, 08.00-20.00 local time",
    },
    Profile {
        name: "ph-sec-mc18",
        windows: "daily 06:00-22:00",
        holiday_country: None,
        caps: "",
        source: "SEC Memorandum Circular No. 18, s. 2019: no contact between 10 p.m. and 6 a.m.",
    },
    Profile {
        name: "mx-condusef",
        windows: "daily 07:00-22:00",
        holiday_country: None,
        caps: "",
        source: "CONDUSEF rules for collection agencies (despachos de cobranza): contact 07:00-22:00 debtor's local time",
    },
    Profile {
        name: "in-rbi",
        windows: "daily 08:00-19:00",
        holiday_country: None,
        caps: "",
        source: "RBI guidelines on recovery agents: calls only between 08:00 and 19:00",
    },
];

/// A profile name nobody knows; the message lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown legal profile `{name}`: expected one of {}", PROFILES.iter().map(|p| p.name).collect::<Vec<_>>().join(", "))]
pub struct UnknownProfile {
    pub name: String,
}

/// Look a profile up by name (case-insensitive).
pub fn profile(name: &str) -> Result<&'static Profile, UnknownProfile> {
    let wanted = name.trim();
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(wanted)).ok_or(UnknownProfile { name: wanted.to_string() })
}

/// A comma-separated list of profile names; empty text is none.
pub fn parse_profiles(text: &str) -> Result<Vec<&'static Profile>, UnknownProfile> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(profile).collect()
}
