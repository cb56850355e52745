//! The file format, its errors, merging, and the shipped data files.

use super::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn parse_ok(text: &str) -> HolidayCalendar {
    HolidayCalendar::parse(text, "test.csv").unwrap_or_else(|e| panic!("{e:?}"))
}

fn parse_err(text: &str) -> Vec<HolidayError> {
    HolidayCalendar::parse(text, "test.csv").expect_err("should be refused")
}

const CUTI_BERSAMA: &str = include_str!("../../../data/holidays/ID-cuti-bersama.csv");

#[test]
fn every_shipped_file_parses() {
    let shipped = BUILTIN_FILES.iter().copied().chain([("data/holidays/ID-cuti-bersama.csv", CUTI_BERSAMA)]);
    for (path, text) in shipped {
        let calendar = HolidayCalendar::parse(text, path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert!(!calendar.is_empty(), "{path} has no holiday");
    }
}

#[test]
fn builtin_knows_indonesian_independence_day_and_not_the_day_after() {
    let calendar = HolidayCalendar::builtin();
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 17)), Some("Proklamasi Kemerdekaan"));
    assert_eq!(calendar.is_holiday("id", date(2026, 8, 17)), Some("Proklamasi Kemerdekaan"));
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 18)), None);
    assert_eq!(calendar.is_holiday("PH", date(2026, 8, 17)), None);
    assert_eq!(calendar.countries().collect::<Vec<_>>(), ["ID", "IN", "PH"]);
}

#[test]
fn builtin_indonesia_has_the_seventeen_decreed_holidays_per_year() {
    // Both SKBs (2025 and 2026) decree 17 national holidays; a lost or
    // duplicated line would change the count.
    let calendar = HolidayCalendar::builtin();
    for year in [2025, 2026] {
        let count = calendar.dates("ID").filter(|d| d.format("%Y").to_string() == year.to_string()).count();
        assert_eq!(count, 17, "Indonesian national holidays in {year}");
    }
    assert_eq!(calendar.is_holiday("ID", date(2026, 3, 21)), Some("Idulfitri 1447 Hijriah"));
}

#[test]
fn collective_leave_days_are_not_loaded_by_default() {
    let builtin = HolidayCalendar::builtin();
    let cuti = HolidayCalendar::parse(CUTI_BERSAMA, "ID-cuti-bersama.csv").unwrap();
    for day in [date(2025, 8, 18), date(2026, 3, 20), date(2026, 12, 24)] {
        assert!(cuti.is_holiday("ID", day).is_some(), "{day} is cuti bersama");
        assert_eq!(builtin.is_holiday("ID", day), None, "{day} must not block calls by default");
    }
    // No cuti bersama day is also a national holiday: the two lists are disjoint.
    assert!(cuti.dates("ID").all(|d| builtin.is_holiday("ID", d).is_none()));
}

#[test]
fn every_undecreed_2027_indonesian_date_is_marked_provisional() {
    // 2027 has no SKB yet: only the fixed-date holidays are certain.
    let fixed = ["2027-01-01", "2027-05-01", "2027-06-01", "2027-08-17", "2027-12-25"];
    let text = BUILTIN_FILES.iter().find(|(path, _)| path.ends_with("/ID.csv")).unwrap().1;
    let lines_2027: Vec<&str> = text.lines().filter(|l| l.starts_with("ID,2027-")).collect();
    assert_eq!(lines_2027.len(), 18);
    for line in lines_2027 {
        let is_fixed = fixed.iter().any(|d| line.starts_with(&format!("ID,{d},")));
        assert_eq!(line.contains("# provisional:"), !is_fixed, "{line}");
    }
}

#[test]
fn reads_comments_blank_lines_crlf_bom_and_any_case() {
    let text = "\u{feff}# Shipped by an operator\r\n\r\nCountry, Date ,NAME\r\n\
                id,2026-08-17, Proklamasi Kemerdekaan  # trailing comment\r\n\
                   # indented comment\n\
                PH,2026-06-12,Independence Day\n";
    let calendar = parse_ok(text);
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 17)), Some("Proklamasi Kemerdekaan"));
    assert_eq!(calendar.is_holiday("PH", date(2026, 6, 12)), Some("Independence Day"));
    assert_eq!(calendar.len(), 2);
}

#[test]
fn a_header_alone_is_an_empty_calendar() {
    assert!(parse_ok("country,date,name\n").is_empty());
}

#[test]
fn every_bad_line_is_reported_with_its_line_field_and_value() {
    let text = "country,date,name\n\
                ID,2026-08-17,Proklamasi Kemerdekaan\n\
                IDN,2026-08-18,Too long\n\
                ID,2026-02-30,No such day\n\
                ID,2026-8-17,Short month\n\
                ID,2026-08-19,\n\
                ID,2026-08-20\n\
                ID,2026-08-21,Name,Jawa Barat\n\
                1D,17/08/2026,\n";
    let errors = parse_err(text);
    let found: Vec<(usize, &str, &str)> = errors.iter().map(|e| (e.line, e.field, e.value.as_str())).collect();
    assert_eq!(
        found,
        [
            (3, "country", "IDN"),
            (4, "date", "2026-02-30"),
            (5, "date", "2026-8-17"),
            (6, "name", ""),
            (7, "line", "ID,2026-08-20"),
            (8, "line", "ID,2026-08-21,Name,Jawa Barat"),
            (9, "country", "1D"),
            (9, "date", "17/08/2026"),
            (9, "name", ""),
        ]
    );
    assert!(errors.iter().all(|e| e.file == "test.csv"));
}

#[test]
fn errors_read_as_file_line_field_value_and_reason() {
    let errors = parse_err("country,date,name\nID,2026-02-30,Nope\n");
    assert_eq!(errors[0].to_string(), r#"test.csv:2: date "2026-02-30": no such day in the calendar"#);
    let errors = parse_err("country,date,name\nID,2026-08-21,Name,Jawa Barat\n");
    assert!(errors[0].reason.contains("regional holidays are not supported"), "{}", errors[0]);
}

#[test]
fn a_missing_header_is_reported_and_the_line_still_checked() {
    let errors = parse_err("# no header here\nID,2026-08-17,Proklamasi Kemerdekaan\nID,2026-13-01,Bad\n");
    let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field)).collect();
    assert_eq!(found, [(2, "header"), (3, "date")]);
}

#[test]
fn an_empty_file_is_refused() {
    let errors = parse_err("# only a comment\n\n");
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].field), (1, "header"));
}

#[test]
fn merge_adds_dates_and_keeps_every_distinct_name_once() {
    let mut calendar = parse_ok("country,date,name\nID,2026-08-17,Proklamasi Kemerdekaan\n");
    let operator = parse_ok(
        "country,date,name\n\
         ID,2026-08-17,Proklamasi Kemerdekaan\n\
         ID,2026-08-17,Company anniversary\n\
         MY,2026-08-31,Hari Merdeka\n",
    );
    calendar.merge(operator);
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 17)), Some("Proklamasi Kemerdekaan / Company anniversary"));
    assert_eq!(calendar.is_holiday("MY", date(2026, 8, 31)), Some("Hari Merdeka"));
    assert_eq!(calendar.len(), 2);
}

#[test]
fn insert_without_a_name_still_marks_the_day() {
    let mut calendar = HolidayCalendar::default();
    calendar.insert("id", date(2026, 1, 1));
    assert_eq!(calendar.is_holiday("ID", date(2026, 1, 1)), Some(""));
    calendar.insert_named("ID", date(2026, 1, 1), "Tahun Baru");
    assert_eq!(calendar.is_holiday("ID", date(2026, 1, 1)), Some("Tahun Baru"));
    assert_eq!(calendar.dates("ID").collect::<Vec<_>>(), [date(2026, 1, 1)]);
    assert_eq!(calendar.entries("XX").count(), 0);
}
