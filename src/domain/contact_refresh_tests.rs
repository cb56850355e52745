use super::*;
use chrono::TimeZone;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn jakarta(text: &str) -> RefreshSchedule {
    RefreshSchedule::parse(text, chrono_tz::Asia::Jakarta).unwrap()
}

#[test]
fn a_schedule_needs_six_fields_and_says_what_they_are() {
    let five = RefreshSchedule::parse("30 7 * * Mon-Sat", Tz::UTC).unwrap_err();
    assert!(five.contains("5 field(s)") && five.contains("second minute hour"), "{five}");
    let bad = RefreshSchedule::parse("0 61 7 * * *", Tz::UTC).unwrap_err();
    assert!(bad.contains("`0 61 7 * * *` is not a cron schedule"), "{bad}");
    assert!(RefreshSchedule::parse("0 30 7 * * Mon-Sat", Tz::UTC).is_ok());
}

#[test]
fn firings_are_in_the_campaigns_zone() {
    // 07:30 in Jakarta (UTC+7) is 00:30 UTC; 2026-12-05 is a Saturday.
    let s = jakarta("0 30 7 * * Mon-Sat");
    assert_eq!(s.latest(at("2026-12-05T01:00:00Z")), Some(at("2026-12-05T00:30:00Z")));
    // Sunday has no firing: the latest before Monday's is Saturday's.
    assert_eq!(s.latest(at("2026-12-07T00:29:59Z")), Some(at("2026-12-05T00:30:00Z")));
    assert_eq!(s.next(at("2026-12-05T00:30:00Z")), Some(at("2026-12-07T00:30:00Z")));
}

#[test]
fn firings_follow_daylight_saving_time() {
    // New York, 07:00 local: 12:00 UTC in winter, 11:00 UTC in summer.
    let s = RefreshSchedule::parse("0 0 7 * * *", chrono_tz::America::New_York).unwrap();
    assert_eq!(s.latest(at("2026-03-07T13:00:00Z")), Some(at("2026-03-07T12:00:00Z")));
    assert_eq!(s.latest(at("2026-03-09T13:00:00Z")), Some(at("2026-03-09T11:00:00Z")));
}

#[test]
fn a_wakeup_at_or_just_after_a_firing_names_that_firing() {
    let s = RefreshSchedule::parse("*/2 * * * * *", Tz::UTC).unwrap();
    let firing = Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 2).unwrap();
    for late_ms in [0, 1, 400, 1999] {
        let now = firing + chrono::Duration::milliseconds(late_ms);
        assert_eq!(firing_at_wakeup(&s, now), Some(firing), "{late_ms} ms late");
    }
}

#[test]
fn a_missed_firing_runs_once_within_its_grace() {
    let s = jakarta("0 30 7 * * Mon-Sat");
    let firing = at("2026-12-05T00:30:00Z");
    let grace = Duration::from_secs(15 * 60);
    // Up 10 minutes after the firing, nothing recorded: run it.
    assert_eq!(missed_firing(&s, at("2026-12-05T00:40:00Z"), grace, None), Some(firing));
    // An older run recorded: still missed.
    let yesterday = at("2026-12-04T00:30:00Z");
    assert_eq!(missed_firing(&s, at("2026-12-05T00:40:00Z"), grace, Some(yesterday)), Some(firing));
    // Exactly at the grace's end: still run.
    assert_eq!(missed_firing(&s, at("2026-12-05T00:45:00Z"), grace, None), Some(firing));
    // Past the grace: not run (the next firing reads the list anyway).
    assert_eq!(missed_firing(&s, at("2026-12-05T00:45:01Z"), grace, None), None);
    // Already run (by this or another instance): not again.
    assert_eq!(missed_firing(&s, at("2026-12-05T00:40:00Z"), grace, Some(firing)), None);
}

#[test]
fn only_open_contacts_missing_from_the_source_are_stopped() {
    let open = vec![
        OpenContact { id: 1, phone: "+6281100000001".into() },
        OpenContact { id: 2, phone: "+6281100000002".into() },
        OpenContact { id: 3, phone: "+6281100000003".into() },
    ];
    let source: HashSet<String> = ["+6281100000001", "+6281100000003", "+6281199999999"].map(String::from).into();
    assert_eq!(to_stop(OnRemoved::Stop, &open, &source), Ok(vec![2]));
    assert_eq!(to_stop(OnRemoved::Keep, &open, &source), Ok(vec![]));
    assert_eq!(to_stop(OnRemoved::Stop, &open, &HashSet::new()), Err(RemovalRefused::EmptySource));
    assert_eq!(to_stop(OnRemoved::Keep, &open, &HashSet::new()), Ok(vec![]));
}

#[test]
fn policies_read_by_name() {
    assert_eq!(OnRemoved::parse("stop"), Ok(OnRemoved::Stop));
    assert_eq!(OnRemoved::parse("keep").map(OnRemoved::as_str), Ok("keep"));
    assert!(OnRemoved::parse("delete").unwrap_err().contains("\"stop\" or \"keep\""));
}
