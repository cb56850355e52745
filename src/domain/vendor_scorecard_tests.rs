use super::*;

fn group(vendor: &str, state: &str, disposition: Option<&str>, intent: Option<&str>, count: u64) -> ScorecardGroup {
    ScorecardGroup {
        vendor_id: vendor.into(),
        state: state.into(),
        disposition: disposition.map(Into::into),
        intent: intent.map(Into::into),
        count,
        ..Default::default()
    }
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_configured_vendor_is_listed_with_zeros_and_null_rates() {
    let cards = scorecards(&ids(&["b", "a"]), &[], &[]);
    assert_eq!(cards.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let a = &cards[0];
    assert!(a.configured);
    assert_eq!((a.dials, a.attempts, a.completed, a.connected, a.conversations), (0, 0, 0, 0, 0));
    assert_eq!((a.connect_rate, a.conversation_rate, a.average_talk_seconds), (None, None, None));
    assert_eq!(a.by_intent.len(), Intent::ALL.len());
    assert!(a.by_intent.values().all(|n| *n == 0));
    assert!(a.errors_by_code.is_empty());
}

#[test]
fn rates_are_over_completed_attempts_only() {
    let groups = [
        group("a", "completed", Some("answered"), Some("promise_to_pay"), 3),
        group("a", "completed", Some("answered"), Some("unknown"), 1),
        group("a", "completed", Some("voicemail"), None, 2),
        group("a", "completed", Some("no_answer"), None, 4),
        // Not completed: counted as attempts, never in a rate.
        group("a", "dispatched", None, None, 5),
        group("a", "lost", Some("answered"), Some("refuse"), 1),
    ];
    let a = &scorecards(&ids(&["a"]), &groups, &[("a".into(), 17)])[0];
    assert_eq!((a.dials, a.attempts, a.completed, a.connected), (17, 16, 10, 6));
    assert_eq!(a.connect_rate, Some(0.6));
    assert_eq!(a.conversations, 3, "unknown and no intent are not conversations");
    assert_eq!(a.conversation_rate, Some(0.3));
    assert_eq!((a.by_intent["promise_to_pay"], a.by_intent["unknown"], a.by_intent["refuse"]), (3, 1, 1));
}

#[test]
fn a_wrong_person_is_a_conversation_but_not_an_unconnected_intentless_call() {
    let groups = [
        group("a", "completed", Some("answered"), Some("wrong_person"), 1),
        group("a", "completed", Some("busy"), None, 1),
    ];
    let a = &scorecards(&ids(&["a"]), &groups, &[])[0];
    assert_eq!((a.conversations, a.conversation_rate), (1, Some(0.5)));
}

#[test]
fn talk_time_is_the_mean_of_connected_attempts_that_report_one() {
    let mut answered = group("a", "completed", Some("answered"), None, 3);
    answered.duration_ms_sum = 30_000;
    answered.with_duration = 2; // one answered attempt without a duration
    let mut busy = group("a", "completed", Some("busy"), None, 1);
    busy.duration_ms_sum = 99_000;
    busy.with_duration = 1;
    let a = &scorecards(&ids(&["a"]), &[answered, busy], &[])[0];
    assert_eq!(a.average_talk_seconds, Some(15.0));
}

#[test]
fn errors_are_failed_attempts_and_vendor_errors_by_code() {
    let mut failed = group("a", "failed", None, None, 2);
    failed.raw_code = Some("itnio:500".into());
    let mut vendor_error = group("a", "completed", Some("vendor_error"), None, 3);
    vendor_error.raw_code = Some("itnio:500".into());
    let uncoded = group("a", "failed", None, None, 1);
    let fine = group("a", "completed", Some("busy"), None, 4);
    let a = &scorecards(&ids(&["a"]), &[failed, vendor_error, uncoded, fine], &[])[0];
    let expected: BTreeMap<String, u64> = [("itnio:500".to_string(), 5), (NO_CODE.to_string(), 1)].into();
    assert_eq!(a.errors_by_code, expected);
}

#[test]
fn a_vendor_no_longer_configured_is_listed_when_it_has_attempts_or_dials() {
    let cards = scorecards(&ids(&["a"]), &[group("old", "completed", Some("busy"), None, 1)], &[("gone".into(), 2)]);
    let listed: Vec<(&str, bool)> = cards.iter().map(|c| (c.id.as_str(), c.configured)).collect();
    assert_eq!(listed, [("a", true), ("gone", false), ("old", false)]);
    assert_eq!((cards[1].dials, cards[2].attempts), (2, 1));
}

#[test]
fn rates_are_per_vendor() {
    let groups = [group("a", "completed", Some("answered"), None, 1), group("b", "completed", Some("busy"), None, 1)];
    let cards = scorecards(&ids(&["a", "b"]), &groups, &[]);
    assert_eq!((cards[0].connect_rate, cards[1].connect_rate), (Some(1.0), Some(0.0)));
}
