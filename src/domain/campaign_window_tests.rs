use super::*;
use chrono::TimeZone;
use chrono_tz::Asia::Jakarta;

fn campaign(windows: &str, ends_at: Option<DateTime<Utc>>) -> Campaign {
    Campaign { ends_at, ..Campaign::for_test(1, Jakarta, windows) }
}

fn jakarta(h: u32, m: u32) -> DateTime<Utc> {
    Jakarta.with_ymd_and_hms(2026, 12, 4, h, m, 0).unwrap().with_timezone(&Utc)
}

#[test]
fn the_window_is_judged_in_the_campaigns_zone() {
    let camp = campaign("daily 09:00-17:00", None);
    assert!(camp.window_open(jakarta(9, 0)));
    assert!(camp.window_open(jakarta(16, 30)));
    assert!(!camp.window_open(jakarta(8, 59)));
    assert!(!camp.window_open(jakarta(17, 0)));
}

#[test]
fn the_window_is_closed_after_the_campaigns_end() {
    let camp = campaign("daily 00:00-24:00", Some(jakarta(12, 0)));
    assert!(camp.window_open(jakarta(11, 0)));
    assert!(!camp.window_open(jakarta(12, 0)));
}
