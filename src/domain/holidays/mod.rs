//! Public-holiday calendars per country, for legal profiles that forbid calls
//! on national holidays (Indonesia's POJK 22/2023). The calendars are plain
//! CSV files: the ones in `data/holidays/` are compiled in, an operator adds
//! more through `[compliance] holiday_files` (read by `config::holidays`).
//!
//! File format, one holiday per line:
//!
//! ```text
//! # Comments start with `#`, anywhere on a line; blank lines are ignored.
//! country,date,name
//! ID,2026-08-17,Proklamasi Kemerdekaan
//! ID,2027-03-10,Idulfitri 1448 Hijriah   # provisional: moon sighting
//! ```
//!
//! The header line `country,date,name` comes first. `country` is an ISO 3166-1
//! alpha-2 code (any case), `date` is `YYYY-MM-DD`, `name` is free text for
//! the audit trail; it cannot contain `,` or `#` (there is no quoting). A
//! holiday applies to the whole country: regional holidays (Indonesia's
//! provinces, US states) are not modelled, so a fourth column is refused
//! rather than silently widened to the whole country.

mod parse;

pub use parse::HolidayError;

use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// The calendars compiled into the binary and loaded by
/// [`HolidayCalendar::builtin`], as (path in the repository, contents).
/// `data/holidays/ID-cuti-bersama.csv` is deliberately not among them:
/// collective leave days are not national holidays (see the file's header).
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("data/holidays/ID.csv", include_str!("../../../data/holidays/ID.csv")),
    ("data/holidays/PH.csv", include_str!("../../../data/holidays/PH.csv")),
    ("data/holidays/IN.csv", include_str!("../../../data/holidays/IN.csv")),
];

/// What separates two names that fall on one date.
const NAME_SEPARATOR: &str = " / ";

/// Holidays by ISO 3166-1 alpha-2 country code (upper case), each date with
/// its name(s) for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    by_country: BTreeMap<String, BTreeMap<NaiveDate, String>>,
}

impl HolidayCalendar {
    /// The calendars shipped in `data/holidays/` ([`BUILTIN_FILES`]).
    ///
    /// # Panics
    /// If a shipped file does not parse; a unit test parses every one, so
    /// this cannot happen in a tested build.
    pub fn builtin() -> HolidayCalendar {
        let mut calendar = HolidayCalendar::default();
        for (path, text) in BUILTIN_FILES {
            match HolidayCalendar::parse(text, path) {
                Ok(file) => calendar.merge(file),
                Err(errors) => panic!("built-in holiday file {path} is invalid: {errors:?}"),
            }
        }
        calendar
    }

    /// Read one holiday file (format in the module docs). `source` names the
    /// file in errors. Every bad line is reported, each naming
    /// `source:line`, the field, the value and why.
    pub fn parse(text: &str, source: &str) -> Result<HolidayCalendar, Vec<HolidayError>> {
        parse::parse(text, source)
    }

    /// Add one holiday without a name.
    pub fn insert(&mut self, country: &str, date: NaiveDate) {
        self.insert_named(country, date, "");
    }

    /// Add one holiday. When the date is already a holiday (two holidays on
    /// one day, or two files listing the same one) both names are kept.
    pub fn insert_named(&mut self, country: &str, date: NaiveDate, name: &str) {
        let dates = self.by_country.entry(country.to_ascii_uppercase()).or_default();
        match dates.entry(date) {
            Entry::Vacant(slot) => {
                slot.insert(name.to_string());
            }
            Entry::Occupied(mut slot) => add_name(slot.get_mut(), name),
        }
    }

    /// Add every holiday of `other`. Holidays are only ever added: a file can
    /// extend the calendar, never remove a date from it.
    pub fn merge(&mut self, other: HolidayCalendar) {
        for (country, dates) in other.by_country {
            for (date, names) in dates {
                // `names` may already join several holidays on one date.
                for name in names.split(NAME_SEPARATOR) {
                    self.insert_named(&country, date, name);
                }
            }
        }
    }

    /// The holiday's name(s) if `date` is a holiday in `country` (ISO
    /// alpha-2, any case); `Some("")` for one inserted without a name.
    pub fn is_holiday(&self, country: &str, date: NaiveDate) -> Option<&str> {
        self.by_country.get(&country.to_ascii_uppercase())?.get(&date).map(String::as_str)
    }

    /// The holiday dates of `country` (ISO alpha-2, any case), in order.
    pub fn dates(&self, country: &str) -> impl Iterator<Item = NaiveDate> + '_ {
        self.entries(country).map(|(date, _)| date)
    }

    /// The holidays of `country` (ISO alpha-2, any case) with their names, in
    /// date order.
    pub fn entries(&self, country: &str) -> impl Iterator<Item = (NaiveDate, &str)> + '_ {
        let dates = self.by_country.get(&country.to_ascii_uppercase());
        dates.into_iter().flat_map(|d| d.iter().map(|(date, name)| (*date, name.as_str())))
    }

    /// The countries that have at least one holiday, upper case, in order.
    pub fn countries(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_country.keys().map(String::as_str)
    }

    /// How many (country, date) holidays there are in all.
    pub fn len(&self) -> usize {
        self.by_country.values().map(BTreeMap::len).sum()
    }

    /// No holiday at all.
    pub fn is_empty(&self) -> bool {
        self.by_country.is_empty()
    }
}

/// Append `name` to the names already on a date, unless it is empty or
/// already there (the built-in file and an operator's copy of it must not
/// double every name).
fn add_name(names: &mut String, name: &str) {
    if name.is_empty() || names.split(NAME_SEPARATOR).any(|n| n == name) {
        return;
    }
    if !names.is_empty() {
        names.push_str(NAME_SEPARATOR);
    }
    names.push_str(name);
}

#[cfg(test)]
#[path = "holidays_tests.rs"]
mod tests;
