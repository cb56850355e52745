//! Public-holiday calendars per country, for legal profiles that forbid
//! calls on national holidays. (Stub interface; data files come with issue 4.)

use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// Holiday dates by ISO 3166-1 alpha-2 country code (upper case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolidayCalendar {
    by_country: BTreeMap<String, BTreeSet<NaiveDate>>,
}

impl HolidayCalendar {
    /// Add one holiday.
    pub fn insert(&mut self, country: &str, date: NaiveDate) {
        self.by_country.entry(country.to_ascii_uppercase()).or_default().insert(date);
    }

    /// The holiday dates of `country` (ISO alpha-2, any case), in order.
    pub fn dates(&self, country: &str) -> impl Iterator<Item = NaiveDate> + '_ {
        self.by_country.get(&country.to_ascii_uppercase()).into_iter().flat_map(|s| s.iter().copied())
    }
}
