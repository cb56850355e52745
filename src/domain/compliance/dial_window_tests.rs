use super::*;
use crate::domain::compliance::profiles::profile;
use crate::domain::compliance::{ComplianceSettings, ContactPolicy};
use crate::domain::holidays::HolidayCalendar;
use chrono::{NaiveDate, TimeZone};
use chrono_tz::America::{Chicago, New_York};
use chrono_tz::Asia::Jakarta;
use chrono_tz::Pacific::{Honolulu, Kiritimati};
use std::sync::Arc;

fn w(spec: &str) -> CallingWindows {
    CallingWindows::parse(spec).unwrap()
}

fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap().with_timezone(&Utc)
}

fn both_zones(margin: i64) -> DialWindow {
    let day = w("daily 08:00-21:00");
    DialWindow::new(vec![(day.clone(), New_York), (day, Chicago)], TimeDelta::seconds(margin))
}

#[test]
fn two_zones_allow_only_their_overlap() {
    let dw = both_zones(0);
    // 08:00 in New York is 07:00 in Chicago: not yet.
    assert!(!dw.is_open(at(New_York, 2026, 3, 2, 8, 0, 0)));
    assert_eq!(dw.next_dispatch(at(New_York, 2026, 3, 2, 7, 0, 0)), Some(at(New_York, 2026, 3, 2, 9, 0, 0)));
    // The overlap ends when New York reaches 21:00 (20:00 in Chicago).
    assert_eq!(dw.close(at(New_York, 2026, 3, 2, 12, 0, 0)), Some(at(New_York, 2026, 3, 2, 21, 0, 0)));
}

#[test]
fn dispatch_stops_a_margin_before_the_window_ends() {
    let dw = both_zones(60);
    assert!(dw.can_dispatch(at(New_York, 2026, 3, 2, 20, 58, 59)), "61 s left is more than the margin");
    assert!(!dw.can_dispatch(at(New_York, 2026, 3, 2, 20, 59, 0)), "exactly the margin left: stop");
    assert!(dw.is_open(at(New_York, 2026, 3, 2, 20, 59, 30)), "still open, only inside the margin");
    assert_eq!(dw.next_dispatch(at(New_York, 2026, 3, 2, 20, 59, 30)), Some(at(New_York, 2026, 3, 3, 9, 0, 0)));
}

#[test]
fn a_window_no_longer_than_the_margin_is_skipped() {
    let dw = DialWindow::new(vec![(w("mon 09:00-09:01; tue 09:00-10:00"), Jakarta)], TimeDelta::minutes(1));
    // 2026-03-02 is a Monday.
    assert_eq!(dw.next_dispatch(at(Jakarta, 2026, 3, 2, 8, 0, 0)), Some(at(Jakarta, 2026, 3, 3, 9, 0, 0)));
}

#[test]
fn zones_a_day_apart_never_overlap_on_weekday_windows() {
    // Same wall clock, 24 hours apart: Monday in Kiritimati is Sunday in Honolulu.
    let mon = w("mon 09:00-17:00");
    let dw = DialWindow::new(vec![(mon.clone(), Kiritimati), (mon, Honolulu)], TimeDelta::zero());
    assert_eq!(dw.next_dispatch(at(Honolulu, 2026, 3, 2, 0, 0, 0)), None);
}

#[test]
fn windows_across_midnight_join_when_every_part_is_open() {
    let dw =
        DialWindow::new(vec![(w("daily 22:00-02:00"), Jakarta), (w("daily 00:00-24:00"), Jakarta)], TimeDelta::zero());
    assert_eq!(dw.close(at(Jakarta, 2026, 3, 2, 23, 0, 0)), Some(at(Jakarta, 2026, 3, 3, 2, 0, 0)));
}

#[test]
fn spring_forward_gap_is_never_a_dispatch_instant() {
    // 2026-03-08 02:00-03:00 does not exist in New York.
    let dw = DialWindow::new(vec![(w("daily 02:00-02:30, 03:10-04:00"), New_York)], TimeDelta::zero());
    let t = dw.next_dispatch(at(New_York, 2026, 3, 8, 1, 0, 0)).unwrap();
    assert_eq!(t, at(New_York, 2026, 3, 8, 3, 10, 0));
}

#[test]
fn a_profile_cannot_widen_the_campaign_and_closes_holidays() {
    let mut holidays = HolidayCalendar::default();
    holidays.insert("ID", NaiveDate::from_ymd_opt(2026, 8, 17).unwrap());
    let settings = ComplianceSettings { holidays: Arc::new(holidays), ..ComplianceSettings::default() };
    let pojk = profile("id-pojk-22-2023").unwrap();
    // The campaign asks for every day 07:00-22:00; the profile allows Mon-Sat 08:00-20:00.
    let policy = ContactPolicy::new(w("daily 07:00-22:00"), &[pojk], &[], &settings);
    let dw = policy.dial_window(&[Jakarta]);
    // Saturday 2026-08-15 07:30: the campaign is open, the profile not yet.
    assert_eq!(dw.next_dispatch(at(Jakarta, 2026, 8, 15, 7, 30, 0)), Some(at(Jakarta, 2026, 8, 15, 8, 0, 0)));
    // Saturday 19:59:30 is inside the margin; Sunday is closed, Monday the 17th a holiday.
    assert_eq!(dw.next_dispatch(at(Jakarta, 2026, 8, 15, 19, 59, 30)), Some(at(Jakarta, 2026, 8, 18, 8, 0, 0)));
}

#[test]
fn nothing_is_dispatched_at_or_after_the_campaign_end() {
    let end = at(New_York, 2026, 3, 3, 12, 0, 0);
    let dw = both_zones(0).ending_at(Some(end));
    // Open on the 2nd, and on the 3rd until the end at noon.
    assert!(dw.can_dispatch(at(New_York, 2026, 3, 3, 11, 59, 0)));
    assert!(!dw.can_dispatch(end), "the window is still open, the campaign is not");
    assert_eq!(dw.next_dispatch(at(New_York, 2026, 3, 3, 7, 0, 0)), Some(at(New_York, 2026, 3, 3, 9, 0, 0)));
    assert_eq!(dw.next_dispatch(end), None, "the next opening is after the end");
    // The vendor must stop at the end, before the window closes.
    assert_eq!(dw.dispatch_deadline(at(New_York, 2026, 3, 3, 10, 0, 0)), Some(end));
    assert_eq!(
        both_zones(0).dispatch_deadline(at(New_York, 2026, 3, 3, 10, 0, 0)),
        Some(at(New_York, 2026, 3, 3, 21, 0, 0))
    );
}
