use super::*;
use crate::domain::compliance::caps::parse_rules;
use chrono::TimeZone;
use chrono_tz::America::New_York;

fn policy(caps: &str) -> ContactPolicy {
    let windows = CallingWindows::parse("daily 09:00-20:00").unwrap();
    ContactPolicy::new(windows, &[], &parse_rules(caps).unwrap(), &ComplianceSettings::default())
}

fn ny(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    New_York.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap().with_timezone(&Utc)
}

fn facts(dials_hours_ago: &[i64], now: DateTime<Utc>) -> ContactFacts {
    let phone = dials_hours_ago
        .iter()
        .map(|h| DialRecord { at: now - TimeDelta::hours(*h), dials: 1, conversation: false })
        .collect();
    ContactFacts { history: CapHistory { phone, case: None }, new_dials: 1, ..ContactFacts::default() }
}

#[test]
fn open_window_and_room_under_the_cap_dispatch() {
    let p = policy("phone:3/24h");
    let now = ny(2, 10, 0);
    assert_eq!(gate(&p, &p.dial_window(&[New_York]), &facts(&[2], now), now), Gate::Dispatch);
}

#[test]
fn suppression_comes_first() {
    let p = policy("");
    let now = ny(2, 10, 0);
    let f = ContactFacts { suppressed: Some("complaint".into()), new_dials: 1, ..ContactFacts::default() };
    let g = gate(&p, &p.dial_window(&[New_York]), &f, now);
    assert_eq!(g, Gate::Suppressed { reason: "number is on the suppression list: complaint".into() });
}

#[test]
fn closed_window_defers_to_the_next_opening() {
    let p = policy("");
    let now = ny(2, 21, 0);
    match gate(&p, &p.dial_window(&[New_York]), &facts(&[], now), now) {
        Gate::Defer { until, wait: Wait::Window, reason } => {
            assert_eq!(until, ny(3, 9, 0));
            assert!(reason.contains("America/New_York"), "{reason}");
        }
        other => panic!("expected a window deferral, got {other:?}"),
    }
}

#[test]
fn a_capped_contact_waits_for_the_cap_then_for_the_window() {
    let p = policy("phone:3/24h");
    let now = ny(2, 10, 0);
    // Oldest counted dial 23 h 30 m ago: the cap allows 10:30 today, inside the window.
    let f = facts(&[1, 5, 23], now - TimeDelta::minutes(30));
    let g = gate(&p, &p.dial_window(&[New_York]), &f, now);
    assert!(matches!(g, Gate::Defer { until, wait: Wait::Cap, .. } if until == ny(2, 10, 30)), "{g:?}");
    // Oldest dial 14 h ago: allowed at 20:00, when the window is closed: next day 09:00.
    let f = facts(&[1, 5, 14], now);
    match gate(&p, &p.dial_window(&[New_York]), &f, now) {
        Gate::Defer { until, wait: Wait::Cap, reason } => {
            assert_eq!(until, ny(3, 9, 0));
            assert!(reason.contains("phone:3/24h") && reason.contains("next window"), "{reason}");
        }
        other => panic!("expected a cap deferral, got {other:?}"),
    }
}

#[test]
fn a_number_busy_elsewhere_waits_the_backoff() {
    let p = policy("");
    let now = ny(2, 10, 0);
    let f = ContactFacts { busy_in: Some("other".into()), new_dials: 1, ..ContactFacts::default() };
    let g = gate(&p, &p.dial_window(&[New_York]), &f, now);
    assert!(matches!(g, Gate::Defer { until, wait: Wait::Busy, .. } if until == now + TimeDelta::minutes(10)), "{g:?}");
}

#[test]
fn no_window_before_the_end_exhausts() {
    let p = policy("phone:1/24h");
    let now = ny(2, 10, 0);
    let g = gate(&p, &p.dial_window(&[New_York]).ending_at(Some(ny(2, 19, 0))), &facts(&[1], now), now);
    assert!(matches!(g, Gate::Exhaust { .. }), "{g:?}");
    let g = gate(&p, &p.dial_window(&[New_York]).ending_at(Some(ny(3, 8, 0))), &facts(&[], ny(2, 20, 0)), ny(2, 20, 0));
    assert!(matches!(&g, Gate::Exhaust { reason } if reason.contains("no calling window left")), "{g:?}");
}

#[test]
fn every_profile_parses() {
    for p in PROFILES {
        CallingWindows::parse(p.windows).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        caps::parse_rules(p.caps).unwrap_or_else(|e| panic!("{}: {e}", p.name));
    }
    let reg_f = ContactPolicy::new(
        CallingWindows::always(),
        &[profiles::profile("US-Reg-F").unwrap()],
        &[],
        &ComplianceSettings::default(),
    );
    assert_eq!(caps::rules_text(&reg_f.rules), "case:7/7d, case:quiet/7d");
    assert!(profiles::profile("us-fdcpa").unwrap_err().to_string().contains("us-tcpa, us-reg-f"));
}
