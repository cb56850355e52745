use super::*;
use crate::domain::zones::clock::same_clock;

fn embedded() -> Tables {
    match Tables::parse(CALLING_CODES_TSV, COUNTRY_ZONES_TSV, NANP_AREA_CODES_TSV) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

/// Data rows of a table as tab-separated fields.
fn data_rows(text: &str) -> Vec<Vec<&str>> {
    rows(text).map(|(_, f)| f).collect()
}

#[test]
fn every_zone_name_in_the_data_files_is_a_chrono_tz_zone() {
    let mut checked = 0;
    for row in data_rows(COUNTRY_ZONES_TSV) {
        for name in row[2..].iter().flat_map(|col| col.split(',')).filter(|n| !n.is_empty()) {
            assert!(name.parse::<Tz>().is_ok(), "country_zones.tsv {}: `{name}` is not a chrono-tz zone", row[0]);
            checked += 1;
        }
    }
    for row in data_rows(NANP_AREA_CODES_TSV) {
        for name in row[3].split(',') {
            assert!(name.parse::<Tz>().is_ok(), "nanp_area_codes.tsv {}: `{name}` is not a chrono-tz zone", row[0]);
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} names checked: did a file lose its rows?");
}

#[test]
fn every_calling_code_is_digits_and_names_known_countries() {
    let t = embedded();
    let rows = data_rows(CALLING_CODES_TSV);
    assert!(rows.len() >= 210, "{} calling codes", rows.len());
    for row in &rows {
        assert!(!row[0].is_empty() && row[0].bytes().all(|b| b.is_ascii_digit()), "calling code `{}`", row[0]);
        for cc in row[1].split(',') {
            assert!(t.countries.contains_key(cc), "calling code {} names unknown country {cc}", row[0]);
        }
    }
    // Codes proper are 1 to 3 digits; longer rows only refine a shared code.
    for row in rows.iter().filter(|r| r[0].len() > 3) {
        let parent = (1..=3).rev().map(|n| &row[0][..n]).find(|p| t.codes.contains_key(*p));
        assert!(parent.is_some(), "prefix {} refines no calling code", row[0]);
    }
}

#[test]
fn the_nanp_table_covers_us_canada_and_the_other_nanp_countries() {
    let t = embedded();
    let count = |cc: &str| t.nanp.values().filter(|a| a.country == cc).count();
    assert!(count("US") >= 330, "{} US area codes", count("US"));
    assert!(count("CA") >= 40, "{} Canadian area codes", count("CA"));
    for cc in ["JM", "PR", "DO", "BS", "TT", "BB", "GU", "VI", "BM"] {
        assert!(count(cc) >= 1, "no area code for {cc}");
    }
    for area in t.nanp.values().filter(|a| matches!(a.country.as_str(), "US" | "CA")) {
        assert!(area.region.len() >= 2, "{area:?}: US/CA rows name the state or province");
    }
}

#[test]
fn other_nanp_countries_get_their_own_single_zone() {
    let t = embedded();
    for (code, area) in t.nanp.iter().filter(|(_, a)| !matches!(a.country.as_str(), "US" | "CA")) {
        let country = &t.countries[&area.country];
        assert_eq!(country.zones.len(), 1, "{} should be single-zone", area.country);
        assert_eq!(area.zones, country.zones, "area code {code} ({})", area.country);
    }
}

#[test]
fn us_and_canadian_area_code_zones_keep_a_clock_of_their_country() {
    let t = embedded();
    for (code, area) in t.nanp.iter().filter(|(_, a)| matches!(a.country.as_str(), "US" | "CA")) {
        let reps = &t.countries[&area.country].zones;
        for z in &area.zones {
            assert!(reps.iter().any(|r| same_clock(*r, *z)), "area code {code}: {z} is on none of {reps:?}");
        }
        if area.zones.len() > 1 {
            assert!(!area.note.is_empty(), "area code {code} spans zones and should say why");
        }
    }
}

#[test]
fn a_countrys_representative_zones_are_distinct_clocks() {
    for (cc, country) in &embedded().countries {
        for (i, a) in country.zones.iter().enumerate() {
            for b in &country.zones[i + 1..] {
                assert!(!same_clock(*a, *b), "{cc}: {a} and {b} keep one clock, keep one of them");
            }
        }
    }
}

#[test]
fn shared_codes_on_one_clock_are_single_zone() {
    let t = embedded();
    let zones = |prefix: &str| t.codes[prefix].zones.iter().map(|z| z.name()).collect::<Vec<_>>();
    assert_eq!(zones("44"), ["Europe/London"], "GB, GG, JE, IM");
    assert_eq!(zones("39"), ["Europe/Rome"], "IT, VA");
    assert_eq!(zones("47"), ["Europe/Oslo"], "NO, SJ");
    assert_eq!(zones("358"), ["Europe/Helsinki"], "FI, AX");
    assert_eq!(zones("590").len(), 1, "GP, BL, MF");
    assert_eq!(zones("599").len(), 1, "CW, BQ");
    // ...and ones on several clocks keep all of them.
    assert_eq!(zones("262").len(), 2, "Reunion and Mayotte differ by an hour");
    assert_eq!(zones("262269"), ["Indian/Mayotte"]);
    assert!(zones("61").contains(&"Indian/Christmas"), "AU, CX, CC");
    // Russia and Kazakhstan share +7; Kazakhstan's clock is also one of Russia's.
    assert_eq!(t.codes["7"].zones.len(), t.countries["RU"].zones.len());
}

#[test]
fn longest_prefix_wins() {
    let t = embedded();
    let countries = |digits: &str| t.calling_code(digits).map(|(p, c)| (p.to_string(), c.countries.clone()));
    assert_eq!(countries("77012345678"), Some(("77".into(), vec!["KZ".into()])));
    assert_eq!(countries("74951234567"), Some(("7".into(), vec!["RU".into(), "KZ".into()])));
    assert_eq!(countries("2626391234"), Some(("262639".into(), vec!["YT".into()])));
    assert_eq!(countries("3581234567"), Some(("358".into(), vec!["FI".into(), "AX".into()])));
    assert_eq!(countries("8001234567"), None, "+800 is not a country");
    assert_eq!(countries(""), None);
}

#[test]
fn bad_rows_are_rejected_naming_file_line_and_value() {
    let countries = "# header\nGB\tBritain\tEurope/London\t\n";
    let err = Tables::parse("44\tGB\tUK\n4x\tGB\tbad\n", countries, "").unwrap_err();
    assert!(err.contains("calling_codes.tsv line 2") && err.contains("`4x`"), "{err}");
    let err = Tables::parse("44\tZZ\tnowhere\n", countries, "").unwrap_err();
    assert!(err.contains("`ZZ`"), "{err}");
    let err = Tables::parse("", "GB\tBritain\tEurope/Londres\t\n", "").unwrap_err();
    assert!(err.contains("country_zones.tsv line 1") && err.contains("Europe/Londres"), "{err}");
    let err = Tables::parse("", countries, "21\tGB\t-\tEurope/London\n").unwrap_err();
    assert!(err.contains("nanp_area_codes.tsv line 1") && err.contains("`21`"), "{err}");
    let err = Tables::parse("", countries, "212\tGB\t-\t\n").unwrap_err();
    assert!(err.contains("missing column 4"), "{err}");
}
