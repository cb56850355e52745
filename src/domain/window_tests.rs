//! Concrete cases for parsing and for DST/midnight behavior. The randomized
//! properties live in `window_props.rs`.

use super::*;
use chrono::Weekday::*;

#[path = "window_props.rs"]
mod props;

fn w(spec: &str) -> CallingWindows {
    CallingWindows::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn tz(name: &str) -> Tz {
    parse_tz(name).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap()
}

const H: u32 = 3600;

#[test]
fn parses_the_documented_examples() {
    let x = w("mon-fri 09:00-12:00,14:00-20:00");
    for d in [Mon, Tue, Wed, Thu, Fri] {
        assert_eq!(x.intervals(d), [(9 * H, 12 * H), (14 * H, 20 * H)]);
    }
    assert!(x.intervals(Sat).is_empty() && x.intervals(Sun).is_empty());

    let x = w("mon-fri 09:00-20:00; sat 10:00-14:00");
    assert_eq!(x.intervals(Wed), [(9 * H, 20 * H)]);
    assert_eq!(x.intervals(Sat), [(10 * H, 14 * H)]);
    assert!(x.intervals(Sun).is_empty());

    assert_eq!(w("daily 00:00-24:00"), CallingWindows::always());

    let x = w("fri 22:00-02:00");
    assert_eq!(x.intervals(Fri), [(22 * H, DAY)]);
    assert_eq!(x.intervals(Sat), [(0, 2 * H)], "the part after midnight belongs to the next weekday");
    assert!(x.intervals(Thu).is_empty());
}

#[test]
fn parse_handles_wrapping_days_sunday_midnight_and_merging() {
    let x = w("fri-mon 10:00-11:00");
    let open: Vec<_> =
        [Mon, Tue, Wed, Thu, Fri, Sat, Sun].into_iter().filter(|d| !x.intervals(*d).is_empty()).collect();
    assert_eq!(open, [Mon, Fri, Sat, Sun]);
    assert_eq!(w("sun 23:00-01:00").intervals(Mon), [(0, H)], "Sunday wraps to Monday");
    assert_eq!(w("mon 09:00-12:00, 11:00-13:00, 13:00-14:00").intervals(Mon), [(9 * H, 14 * H)]);
    assert_eq!(w("mon 22:00-00:00").intervals(Mon), [(22 * H, DAY)], "ending at 00:00 means midnight");
    assert!(w("mon 22:00-00:00").intervals(Tue).is_empty());
    assert_eq!(w("mon 9:05-17:30").intervals(Mon), [(9 * H + 300, 17 * H + 1800)]);
}

#[test]
fn parse_is_whitespace_tolerant_and_case_insensitive() {
    let messy = "  MON - Fri  09:00 - 12:00 ,14:00-20:00 ;  Sat 10:00-14:00 ;";
    assert_eq!(w(messy), w("mon-fri 09:00-12:00,14:00-20:00; sat 10:00-14:00"));
    assert_eq!(w("Daily 08:00-09:00"), w("mon-sun 08:00-09:00"));
    assert_eq!(w("mon , wed 08:00-09:00"), w("mon,wed 08:00-09:00"));
}

#[test]
fn parse_errors_name_the_token_and_the_group() {
    use WindowError::*;
    let err = |spec: &str| CallingWindows::parse(spec).expect_err(spec);
    assert_eq!(err("funday 09:00-10:00"), BadDay { group: 1, token: "funday".into() });
    assert_eq!(err("mon-fri 09:00-12:00; sat 25:00-26:00"), BadTime { group: 2, token: "25:00".into() });
    assert_eq!(err("mon 09:00-09:00"), EmptyRange { group: 1, token: "09:00-09:00".into() });
    assert_eq!(err("mon-fri"), MissingRanges { group: 1, text: "mon-fri".into() });
    assert_eq!(err("mon 09:00-10:00; 09:00-10:00"), MissingDays { group: 2, text: "09:00-10:00".into() });
    assert_eq!(err(""), Empty);
    assert_eq!(err(" ; "), Empty);
    assert_eq!(err("mon 09:00"), BadRange { group: 1, token: "09:00".into() });
    assert_eq!(err("mon 09:00-10:00-11:00"), BadRange { group: 1, token: "09:00-10:00-11:00".into() });
    assert_eq!(err("mon 24:00-02:00"), BadTime { group: 1, token: "24:00".into() });
    assert_eq!(err("mon 09:60-10:00"), BadTime { group: 1, token: "09:60".into() });
    assert_eq!(err("mon 24:30-10:00"), BadTime { group: 1, token: "24:30".into() });
    assert_eq!(err("mon 9-10"), BadTime { group: 1, token: "9".into() });
    assert_eq!(err("mon-fri, 09:00-10:00"), BadDay { group: 1, token: "".into() });
    assert_eq!(err("mon fri 09:00-10:00"), BadDay { group: 1, token: "mon fri".into() });
    let msg = err("mon-fri 09:00-12:00; sat 25:00-26:00").to_string();
    assert!(msg.contains("group 2") && msg.contains("`25:00`"), "{msg}");
    let msg = err("funday 09:00-10:00").to_string();
    assert!(msg.contains("`funday`") && msg.contains("mon"), "{msg}");
}

#[test]
fn spec_is_canonical_and_round_trips() {
    for (input, canonical) in [
        ("mon-fri 09:00-12:00,14:00-20:00", "mon-fri 09:00-12:00,14:00-20:00"),
        ("mon-fri 09:00-20:00; sat 10:00-14:00", "mon-fri 09:00-20:00; sat 10:00-14:00"),
        ("daily 00:00-24:00", "daily 00:00-24:00"),
        ("fri 22:00-02:00", "fri 22:00-24:00; sat 00:00-02:00"),
        ("sat-tue 10:00-11:00", "mon-tue,sat-sun 10:00-11:00"),
        ("MON,wed,FRI 8:00-9:00", "mon,wed,fri 08:00-09:00"),
        ("mon 09:00-10:00; tue 09:00-10:00; daily 12:00-13:00", "mon-tue 09:00-10:00,12:00-13:00; wed-sun 12:00-13:00"),
    ] {
        let x = w(input);
        assert_eq!(x.spec(), canonical, "{input}");
        assert_eq!(w(&x.spec()), x, "{input}");
        assert_eq!(x.to_string(), canonical);
        assert_eq!(canonical.parse::<CallingWindows>(), Ok(x));
    }
}

#[test]
fn unknown_time_zone_is_named() {
    assert_eq!(parse_tz(" Asia/Jakarta "), Ok(chrono_tz::Asia::Jakarta));
    let msg = parse_tz("Mars/Olympus").unwrap_err().to_string();
    assert!(msg.starts_with("unknown time zone `Mars/Olympus`"), "{msg}");
}

#[test]
fn new_york_spring_forward_window_straddling_the_gap() {
    // 2026-03-08: 02:00 EST (07:00 UTC) jumps to 03:00 EDT.
    let (x, ny) = (w("sun 01:30-03:30"), tz("America/New_York"));
    assert_eq!(x.next_open(utc(2026, 3, 8, 5, 0), ny), Some(utc(2026, 3, 8, 6, 30)), "01:30 EST");
    assert!(x.is_open(utc(2026, 3, 8, 7, 0), ny), "03:00 EDT, right after the gap");
    assert_eq!(
        x.current_close(utc(2026, 3, 8, 6, 45), ny),
        Some(utc(2026, 3, 8, 7, 30)),
        "03:30 EDT, one real hour later"
    );
    assert!(!x.is_open(utc(2026, 3, 8, 7, 30), ny));
}

#[test]
fn new_york_window_entirely_in_the_gap_never_opens_that_day() {
    let (x, ny) = (w("sun 02:00-02:30"), tz("America/New_York"));
    for minute in 0..24 * 60 {
        let t = utc(2026, 3, 8, 5, 0) + TimeDelta::minutes(minute);
        assert!(!x.is_open(t, ny), "{t}");
    }
    // Next Sunday, 02:00 EDT.
    assert_eq!(x.next_open(utc(2026, 3, 8, 0, 0), ny), Some(utc(2026, 3, 15, 6, 0)));
}

#[test]
fn start_inside_the_gap_opens_when_the_gap_ends() {
    let (x, ny) = (w("sun 02:15-04:00"), tz("America/New_York"));
    assert_eq!(x.next_open(utc(2026, 3, 8, 0, 0), ny), Some(utc(2026, 3, 8, 7, 0)), "03:00 EDT");
    assert_eq!(x.current_close(utc(2026, 3, 8, 7, 0), ny), Some(utc(2026, 3, 8, 8, 0)));
}

#[test]
fn london_fall_back_overlap_opens_twice() {
    // 2026-10-25: 02:00 BST (01:00 UTC) goes back to 01:00 GMT; 01:00-02:00 happens twice.
    let (x, lon) = (w("sun 01:00-01:30"), tz("Europe/London"));
    assert_eq!(x.next_open(utc(2026, 10, 24, 23, 0), lon), Some(utc(2026, 10, 25, 0, 0)), "earlier instant first");
    assert_eq!(x.current_close(utc(2026, 10, 25, 0, 10), lon), Some(utc(2026, 10, 25, 0, 30)));
    assert_eq!(x.next_open(utc(2026, 10, 25, 0, 45), lon), Some(utc(2026, 10, 25, 1, 0)), "second pass of 01:00");
    assert_eq!(x.current_close(utc(2026, 10, 25, 1, 0), lon), Some(utc(2026, 10, 25, 1, 30)));
    assert_eq!(x.next_open(utc(2026, 10, 25, 1, 30), lon), Some(utc(2026, 11, 1, 1, 0)), "next Sunday, GMT");
}

#[test]
fn london_fall_back_jump_closes_a_window() {
    // Open from 01:45 BST; the clock jumps back to 01:00 GMT, outside the window.
    let (x, lon) = (w("sun 01:45-03:00"), tz("Europe/London"));
    assert_eq!(x.next_open(utc(2026, 10, 24, 23, 0), lon), Some(utc(2026, 10, 25, 0, 45)));
    assert_eq!(x.current_close(utc(2026, 10, 25, 0, 50), lon), Some(utc(2026, 10, 25, 1, 0)));
    assert_eq!(x.next_open(utc(2026, 10, 25, 1, 0), lon), Some(utc(2026, 10, 25, 1, 45)));
    assert_eq!(x.current_close(utc(2026, 10, 25, 1, 45), lon), Some(utc(2026, 10, 25, 3, 0)));
}

#[test]
fn midnight_crossing_window_belongs_to_friday_night() {
    // London in May is BST (UTC+1). 2026-05-08 is a Friday.
    let (x, lon) = (w("fri 22:00-02:00"), tz("Europe/London"));
    assert!(x.is_open(utc(2026, 5, 9, 0, 0), lon), "Sat 01:00 local");
    assert!(!x.is_open(utc(2026, 5, 9, 1, 0), lon), "Sat 02:00 local");
    assert_eq!(x.current_close(utc(2026, 5, 9, 0, 0), lon), Some(utc(2026, 5, 9, 1, 0)));
    assert!(!x.is_open(utc(2026, 5, 8, 0, 0), lon), "Fri 01:00 is not part of it");
    assert!(!x.is_open(utc(2026, 5, 9, 21, 0), lon), "Sat 22:00 is not part of it");
    assert_eq!(x.next_open(utc(2026, 5, 8, 11, 0), lon), Some(utc(2026, 5, 8, 21, 0)), "Fri 22:00 local");
    assert_eq!(x.current_close(utc(2026, 5, 8, 21, 0), lon), Some(utc(2026, 5, 9, 1, 0)), "one window across midnight");
}

#[test]
fn lord_howe_half_hour_shifts() {
    let lh = tz("Australia/Lord_Howe");
    // 2026-10-04 02:00 +10:30 (2026-10-03 15:30 UTC) jumps to 02:30 +11.
    assert_eq!(
        w("sun 02:00-02:20").next_open(utc(2026, 10, 3, 12, 0), lh),
        Some(utc(2026, 10, 10, 15, 0)),
        "gap: next week at +11"
    );
    assert_eq!(w("sun 02:15-03:00").next_open(utc(2026, 10, 3, 12, 0), lh), Some(utc(2026, 10, 3, 15, 30)));
    let x = w("sun 01:45-02:45");
    assert_eq!(x.next_open(utc(2026, 10, 3, 12, 0), lh), Some(utc(2026, 10, 3, 15, 15)));
    assert_eq!(
        x.current_close(utc(2026, 10, 3, 15, 20), lh),
        Some(utc(2026, 10, 3, 15, 45)),
        "an hour of wall clock, 30 real minutes"
    );
    // 2026-04-05 02:00 +11 (2026-04-04 15:00 UTC) goes back to 01:30 +10:30.
    let x = w("sun 01:40-01:50");
    assert_eq!(x.next_open(utc(2026, 4, 4, 12, 0), lh), Some(utc(2026, 4, 4, 14, 40)));
    assert_eq!(x.current_close(utc(2026, 4, 4, 14, 40), lh), Some(utc(2026, 4, 4, 14, 50)));
    assert_eq!(x.next_open(utc(2026, 4, 4, 14, 50), lh), Some(utc(2026, 4, 4, 15, 10)));
    assert_eq!(x.current_close(utc(2026, 4, 4, 15, 15), lh), Some(utc(2026, 4, 4, 15, 20)));
}

#[test]
fn jakarta_plain_offset_and_weekends() {
    // UTC+7 all year; 2026-05-04 is a Monday.
    let (x, jkt) = (w("mon-fri 09:00-12:00,14:00-20:00"), tz("Asia/Jakarta"));
    assert_eq!(x.next_open(utc(2026, 5, 4, 1, 0), jkt), Some(utc(2026, 5, 4, 2, 0)));
    let just_before = utc(2026, 5, 4, 4, 59) + TimeDelta::seconds(59) + TimeDelta::milliseconds(999);
    assert!(x.is_open(just_before, jkt));
    assert_eq!(x.current_close(just_before, jkt), Some(utc(2026, 5, 4, 5, 0)));
    assert_eq!(x.next_open(utc(2026, 5, 4, 5, 0), jkt), Some(utc(2026, 5, 4, 7, 0)), "lunch break");
    assert_eq!(x.next_open(utc(2026, 5, 8, 13, 0), jkt), Some(utc(2026, 5, 11, 2, 0)), "Friday 20:00 -> Monday 09:00");
    let mid = utc(2026, 5, 4, 3, 0) + TimeDelta::milliseconds(250);
    assert_eq!(x.next_open(mid, jkt), Some(mid), "already open: returns from itself");
    assert_eq!(x.current_close(utc(2026, 5, 4, 1, 0), jkt), None, "closed: no current window");
}

#[test]
fn blackout_dates_skip_to_the_next_day() {
    let jkt = tz("Asia/Jakarta");
    let x = w("daily 09:00-17:00").with_blackout_dates([date(2026, 5, 5)]);
    assert_eq!(x.blackout_dates().iter().copied().collect::<Vec<_>>(), [date(2026, 5, 5)]);
    assert!(!x.is_open(utc(2026, 5, 5, 3, 0), jkt), "Tue 10:00 local is blacked out");
    assert_eq!(x.next_open(utc(2026, 5, 4, 10, 0), jkt), Some(utc(2026, 5, 6, 2, 0)), "Mon 17:00 -> Wed 09:00");
    // A night window is cut at the start of the blacked-out local date.
    let x = w("daily 22:00-02:00").with_blackout_dates([date(2026, 5, 5)]);
    assert_eq!(
        x.current_close(utc(2026, 5, 4, 16, 0), jkt),
        Some(utc(2026, 5, 4, 17, 0)),
        "Mon 23:00 closes at midnight"
    );
    assert_eq!(x.next_open(utc(2026, 5, 4, 17, 0), jkt), Some(utc(2026, 5, 5, 17, 0)), "Wed 00:00 local");
}

#[test]
fn adjacent_intervals_form_one_window() {
    let jkt = tz("Asia/Jakarta");
    let x = w("mon 23:00-24:00; tue 00:00-01:00");
    assert_eq!(x.current_close(utc(2026, 5, 4, 16, 30), jkt), Some(utc(2026, 5, 4, 18, 0)), "Tue 01:00 local");
}

#[test]
fn search_gives_up_after_400_days() {
    let (always, jkt) = (CallingWindows::always(), tz("Asia/Jakarta"));
    let t = utc(2026, 5, 4, 0, 0);
    assert_eq!(always.next_open(t, jkt), Some(t));
    assert_eq!(always.current_close(t, jkt), None, "never closes");
    // Every Monday blacked out for well over 400 days.
    let mondays = (0..70).map(|k| date(2026, 5, 4) + TimeDelta::weeks(k));
    let x = w("mon 09:00-10:00").with_blackout_dates(mondays);
    assert_eq!(x.next_open(t, jkt), None);
    // A blackout ends the "always" window at the local midnight.
    let x = CallingWindows::always().with_blackout_dates([date(2026, 5, 10)]);
    assert_eq!(x.current_close(t, jkt), Some(utc(2026, 5, 9, 17, 0)));
    assert_eq!(x.next_open(utc(2026, 5, 9, 17, 0), jkt), Some(utc(2026, 5, 10, 17, 0)));
}

#[test]
fn a_window_open_around_the_clock_never_closes_unless_a_blackout_closes_it() {
    let jakarta = tz("Asia/Jakarta");
    let x = w("mon-sun 00:00-12:00,12:00-24:00");
    assert!(x.around_the_clock(), "touching ranges merge into a whole day");
    assert_eq!(x.current_close(utc(2026, 3, 8, 6, 45), jakarta), None);
    assert!(!w("mon-sat 00:00-24:00").around_the_clock(), "sunday is closed");
    // A blackout date closes it at the local midnight that starts the date.
    let x = x.with_blackout_dates([date(2026, 3, 10)]);
    assert!(!x.around_the_clock());
    assert_eq!(x.current_close(utc(2026, 3, 8, 6, 45), jakarta), Some(utc(2026, 3, 9, 17, 0)));
}
