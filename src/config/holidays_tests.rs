//! Loading holiday files from disk, on top of the built-in calendars.

use crate::domain::holidays::HolidayCalendar;
use chrono::NaiveDate;
use std::path::PathBuf;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn operator_files_extend_the_builtin_calendars() {
    let dir = tempfile::tempdir().unwrap();
    let extra = write(&dir, "extra.csv", "country,date,name\nID,2026-08-18,Cuti bersama (our policy)\n");
    let calendar = HolidayCalendar::load(&[extra]).unwrap();
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 17)), Some("Proklamasi Kemerdekaan"));
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 18)), Some("Cuti bersama (our policy)"));
    assert_eq!(calendar.len(), HolidayCalendar::builtin().len() + 1);
}

#[test]
fn no_files_means_exactly_the_builtin_calendars() {
    assert_eq!(HolidayCalendar::load(&[]).unwrap(), HolidayCalendar::builtin());
    assert!(HolidayCalendar::load_without_builtin(&[]).unwrap().is_empty());
}

#[test]
fn without_builtin_only_the_given_files_count() {
    let dir = tempfile::tempdir().unwrap();
    let own = write(&dir, "own.csv", "country,date,name\nID,2027-03-09,Idulfitri 1448 Hijriah\n");
    let calendar = HolidayCalendar::load_without_builtin(&[own]).unwrap();
    assert_eq!(calendar.len(), 1);
    assert_eq!(calendar.is_holiday("ID", date(2026, 8, 17)), None);
}

#[test]
fn every_problem_of_every_file_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(&dir, "first.csv", "country,date,name\nID,2026-02-30,Nope\nIDN,2026-08-18,Nope\n");
    let missing = dir.path().join("missing.csv");
    let second = write(&dir, "second.csv", "ID,2026-08-18,No header\n");
    let problems = HolidayCalendar::load(&[first.clone(), missing.clone(), second.clone()]).unwrap_err();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].starts_with(&format!("{}:2: date \"2026-02-30\"", first.display())), "{}", problems[0]);
    assert!(problems[1].starts_with(&format!("{}:3: country \"IDN\"", first.display())), "{}", problems[1]);
    assert!(
        problems[2].starts_with(&format!("{}: cannot read the holiday file", missing.display())),
        "{}",
        problems[2]
    );
    assert!(problems[3].starts_with(&format!("{}:1: header", second.display())), "{}", problems[3]);
}
