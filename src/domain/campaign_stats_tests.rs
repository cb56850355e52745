use super::*;

fn group(state: &str, disposition: Option<&str>, intent: Option<&str>, vendor: &str, count: u64) -> AttemptGroup {
    AttemptGroup {
        state: state.into(),
        disposition: disposition.map(Into::into),
        intent: intent.map(Into::into),
        vendor_id: vendor.into(),
        count,
    }
}

fn sample() -> Vec<AttemptGroup> {
    vec![
        group("completed", Some("answered"), Some("promise_to_pay"), "sim-a", 6),
        group("completed", Some("answered"), Some("wrong_person"), "sim-a", 2),
        group("completed", Some("answered"), Some("unknown"), "sim-b", 1),
        group("completed", Some("answered"), None, "sim-b", 1),
        group("completed", Some("voicemail"), None, "sim-b", 2),
        group("completed", Some("busy"), None, "sim-a", 8),
        group("dispatched", None, None, "sim-a", 3),
        group("dispatching", None, None, "sim-b", 1),
        group("failed", None, None, "sim-b", 4),
        // A result on an attempt that did not complete (a lost call) is
        // counted by disposition but not in the rates.
        group("lost", Some("call_loss"), None, "sim-a", 5),
    ]
}

#[test]
fn contact_counts_have_every_state_with_zeros_and_a_total() {
    let c = contact_counts(&[("done".into(), 7), ("pending".into(), 3)]);
    assert_eq!(c.by_state.len(), ContactState::ALL.len());
    assert_eq!((c.by_state["done"], c.by_state["pending"], c.by_state["suppressed"]), (7, 3, 0));
    assert_eq!(c.total, 10);
}

#[test]
fn attempts_are_counted_by_state_disposition_intent_and_vendor() {
    let c = attempt_counts(&sample());
    assert_eq!((c.total, c.in_flight), (33, 4));
    assert_eq!((c.by_state["completed"], c.by_state["failed"], c.by_state["cancelled"]), (20, 4, 0));
    assert_eq!((c.by_disposition["answered"], c.by_disposition["busy"], c.by_disposition["vacant"]), (10, 8, 0));
    assert_eq!(c.by_disposition.len(), Disposition::ALL.len());
    assert_eq!(c.by_disposition.values().sum::<u64>(), 25, "only attempts with a result");
    assert_eq!((c.by_intent["promise_to_pay"], c.by_intent["refuse"]), (6, 0));
    assert_eq!(c.by_intent.len(), Intent::ALL.len());
    assert_eq!(c.by_vendor, BTreeMap::from([("sim-a".to_string(), 24), ("sim-b".to_string(), 9)]));
}

#[test]
fn rates_follow_their_definitions() {
    let r = rates(&sample());
    // 20 completed, 12 of them connected (10 answered + 2 voicemail).
    assert_eq!(r.contact, Rate::of(12, 20));
    // Right party: a recognized intent other than wrong_person/unknown.
    assert_eq!(r.right_party, Rate::of(6, 12));
    assert_eq!(r.promise_to_pay, Rate::of(6, 12));
    assert_eq!(r.contact.value, Some(0.6));
}

#[test]
fn a_rate_over_nothing_is_null() {
    let r = rates(&[group("completed", Some("busy"), None, "sim-a", 3)]);
    assert_eq!(r.contact, Rate { numerator: 0, denominator: 3, value: Some(0.0) });
    assert_eq!(r.right_party, Rate { numerator: 0, denominator: 0, value: None });
    assert_eq!(rates(&[]).contact.value, None);
}

#[test]
fn only_conversations_with_the_debtor_are_right_party() {
    for i in Intent::ALL {
        assert_eq!(is_right_party(*i), !matches!(i, Intent::WrongPerson | Intent::Unknown), "{i}");
    }
}

#[test]
fn in_flight_lists_routes_and_vendors_with_attempts_against_their_caps() {
    let routes = [("sim-a".to_string(), 2), ("sim-c".to_string(), 1)];
    let vendor_caps = BTreeMap::from([("sim-a".to_string(), 30), ("sim-c".to_string(), 5)]);
    let all = BTreeMap::from([("sim-a".to_string(), 9), ("sim-b".to_string(), 1)]);
    let caps = Caps { campaign_cap: 40, routes: &routes, vendor_caps: &vendor_caps, vendor_in_flight: &all };
    let f = in_flight(&sample(), &caps);
    assert_eq!((f.total, f.campaign_cap), (4, 40));
    let ids: Vec<&str> = f.vendors.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["sim-a", "sim-b", "sim-c"]);
    assert_eq!(
        f.vendors[0],
        VendorInFlight { id: "sim-a".into(), in_flight: 3, in_flight_all_campaigns: 9, max_concurrency: Some(30) }
    );
    assert_eq!((f.vendors[1].in_flight, f.vendors[1].max_concurrency), (1, None), "sim-b is no longer configured");
    assert_eq!(f.vendors[2].in_flight, 0);
    assert_eq!(effective_cap(&caps), 35, "the routed vendors' caps add up to less than the campaign's");
}

#[test]
fn the_window_says_whether_calls_may_start_now_and_when_next() {
    use crate::domain::window::CallingWindows;
    use chrono::{TimeDelta, TimeZone};
    use chrono_tz::Asia::Jakarta;
    let at = |d: u32, h: u32, m: u32| Jakarta.with_ymd_and_hms(2026, 3, d, h, m, 0).single().unwrap().to_utc();
    let w =
        DialWindow::new(vec![(CallingWindows::parse("daily 09:00-17:00").unwrap(), Jakarta)], TimeDelta::minutes(5));
    let open = window_now(&w, "Asia/Jakarta", at(2, 10, 0));
    assert_eq!((open.open, open.closes_at, open.next_opening), (true, Some(at(2, 16, 55)), Some(at(3, 9, 0))));
    let closed = window_now(&w, "Asia/Jakarta", at(2, 16, 56));
    assert_eq!((closed.open, closed.closes_at, closed.next_opening), (false, None, Some(at(3, 9, 0))));
    let ended = window_now(&w.clone().ending_at(Some(at(2, 12, 0))), "Asia/Jakarta", at(2, 10, 0));
    assert_eq!((ended.open, ended.closes_at, ended.next_opening), (true, Some(at(2, 12, 0)), None));
}
