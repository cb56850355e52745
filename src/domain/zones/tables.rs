//! The data behind zone inference, read once from the committed TSV files in
//! `data/zones/` (each file's header says where it came from and how to
//! extend or regenerate it).

use super::clock::dedup_clocks;
use crate::domain::window::parse_tz;
use chrono_tz::Tz;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

pub const CALLING_CODES_TSV: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/zones/calling_codes.tsv"));
pub const COUNTRY_ZONES_TSV: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/zones/country_zones.tsv"));
pub const NANP_AREA_CODES_TSV: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/zones/nanp_area_codes.tsv"));

/// The embedded tables. The unit tests parse the same text, so a bad row
/// fails the build's tests rather than this panic at run time.
pub static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    Tables::parse(CALLING_CODES_TSV, COUNTRY_ZONES_TSV, NANP_AREA_CODES_TSV)
        .unwrap_or_else(|e| panic!("embedded zone table: {e}"))
});

#[derive(Debug)]
pub struct Country {
    pub name: String,
    /// One zone per distinct clock; one entry = single-zone country.
    pub zones: Vec<Tz>,
    /// Every name of the country's zones (representatives, other zone.tab
    /// zones, legacy links): how a campaign zone is recognised as inside it.
    pub members: HashSet<Tz>,
}

/// What a calling code (or a longer prefix) says about a number.
#[derive(Debug)]
pub struct CodeZones {
    /// ISO codes of the countries sharing the prefix.
    pub countries: Vec<String>,
    /// The union of those countries' zones, one per clock.
    pub zones: Vec<Tz>,
    /// The union of their members.
    pub members: HashSet<Tz>,
}

#[derive(Debug)]
pub struct NanpArea {
    pub country: String,
    /// State or province for US/CA, `-` otherwise.
    pub region: String,
    /// Every clock the area code reaches.
    pub zones: Vec<Tz>,
    /// Why an area code has several zones.
    pub note: String,
}

#[derive(Debug)]
pub struct Tables {
    pub countries: HashMap<String, Country>,
    pub codes: HashMap<String, CodeZones>,
    pub nanp: HashMap<String, NanpArea>,
    longest_prefix: usize,
}

impl Tables {
    /// Parse and cross-check the three tables; errors name the file, line and value.
    pub fn parse(calling_codes: &str, country_zones: &str, nanp_area_codes: &str) -> Result<Tables, String> {
        let countries = parse_countries(country_zones)?;
        let codes = parse_calling_codes(calling_codes, &countries)?;
        let nanp = parse_nanp(nanp_area_codes, &countries)?;
        let longest_prefix = codes.keys().map(String::len).max().unwrap_or(0);
        Ok(Tables { countries, codes, nanp, longest_prefix })
    }

    /// The longest table prefix of `digits` (an E.164 number without `+`).
    pub fn calling_code<'a>(&self, digits: &'a str) -> Option<(&'a str, &CodeZones)> {
        (1..=self.longest_prefix.min(digits.len())).rev().find_map(|n| {
            let prefix = &digits[..n];
            self.codes.get(prefix).map(|c| (prefix, c))
        })
    }

    pub fn nanp_area(&self, area: &str) -> Option<&NanpArea> {
        self.nanp.get(area)
    }
}

/// Data lines as `(1-based line number, tab-separated fields)`.
fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l.split('\t').map(str::trim).collect()))
}

fn zone_list(file: &str, line: usize, text: &str) -> Result<Vec<Tz>, String> {
    text.split(',')
        .filter(|z| !z.is_empty())
        .map(|z| parse_tz(z).map_err(|e| format!("{file} line {line}: {e}")))
        .collect()
}

fn field<'a>(file: &str, line: usize, fields: &[&'a str], i: usize, name: &str) -> Result<&'a str, String> {
    fields
        .get(i)
        .copied()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("{file} line {line}: missing column {} ({name})", i + 1))
}

fn parse_countries(text: &str) -> Result<HashMap<String, Country>, String> {
    const FILE: &str = "country_zones.tsv";
    let mut out = HashMap::new();
    for (line, f) in rows(text) {
        let code = field(FILE, line, &f, 0, "country")?;
        let name = field(FILE, line, &f, 1, "name")?;
        let zones = zone_list(FILE, line, field(FILE, line, &f, 2, "zones")?)?;
        let also = zone_list(FILE, line, f.get(3).copied().unwrap_or_default())?;
        let members = zones.iter().chain(&also).copied().collect();
        let country = Country { name: name.to_string(), zones, members };
        if out.insert(code.to_string(), country).is_some() {
            return Err(format!("{FILE} line {line}: country {code} listed twice"));
        }
    }
    Ok(out)
}

fn known_country<'a>(
    file: &str,
    line: usize,
    countries: &'a HashMap<String, Country>,
    code: &str,
) -> Result<&'a Country, String> {
    countries.get(code).ok_or_else(|| format!("{file} line {line}: country `{code}` is not in country_zones.tsv"))
}

fn parse_calling_codes(text: &str, countries: &HashMap<String, Country>) -> Result<HashMap<String, CodeZones>, String> {
    const FILE: &str = "calling_codes.tsv";
    let mut out = HashMap::new();
    for (line, f) in rows(text) {
        let prefix = field(FILE, line, &f, 0, "prefix")?;
        if !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.starts_with('0') {
            return Err(format!("{FILE} line {line}: prefix `{prefix}` is not digits without a leading 0"));
        }
        let codes: Vec<String> = field(FILE, line, &f, 1, "countries")?.split(',').map(String::from).collect();
        let mut zones = Vec::new();
        let mut members = HashSet::new();
        for code in &codes {
            let country = known_country(FILE, line, countries, code)?;
            zones.extend(&country.zones);
            members.extend(&country.members);
        }
        // Shared codes (+44 GB/GG/JE/IM, +39 IT/VA...) often share one clock too.
        let zones = dedup_clocks(zones);
        if out.insert(prefix.to_string(), CodeZones { countries: codes, zones, members }).is_some() {
            return Err(format!("{FILE} line {line}: prefix {prefix} listed twice"));
        }
    }
    Ok(out)
}

fn parse_nanp(text: &str, countries: &HashMap<String, Country>) -> Result<HashMap<String, NanpArea>, String> {
    const FILE: &str = "nanp_area_codes.tsv";
    let mut out = HashMap::new();
    for (line, f) in rows(text) {
        let area = field(FILE, line, &f, 0, "area")?;
        let valid = area.len() == 3 && area.bytes().all(|b| b.is_ascii_digit()) && !area.starts_with(['0', '1']);
        if !valid {
            return Err(format!("{FILE} line {line}: area code `{area}` is not 3 digits starting 2-9"));
        }
        let country = field(FILE, line, &f, 1, "country")?;
        known_country(FILE, line, countries, country)?;
        let region = field(FILE, line, &f, 2, "region")?;
        let zones = zone_list(FILE, line, field(FILE, line, &f, 3, "zones")?)?;
        let note = f.get(4).copied().unwrap_or_default();
        let row = NanpArea { country: country.into(), region: region.into(), zones, note: note.into() };
        if out.insert(area.to_string(), row).is_some() {
            return Err(format!("{FILE} line {line}: area code {area} listed twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
