use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 10, 0, 0).unwrap()
}

fn m(text: &str) -> Matcher {
    Matcher::parse(text).unwrap()
}

fn retry(mins: u64, max: u32) -> RuleAction {
    RuleAction::Retry { after: Duration::from_secs(mins * 60), max }
}

fn rule(when: &[&str], action: RuleAction) -> RecallRule {
    RecallRule { when: when.iter().map(|t| m(t)).collect(), action }
}

fn completed(d: Disposition) -> AttemptResult {
    AttemptResult::Completed(Outcome::new(d))
}

fn policy(rules: Vec<RecallRule>) -> RecallPolicy {
    RecallPolicy { rules, ..RecallPolicy::default_policy() }
}

#[test]
fn matcher_parses_every_documented_form() {
    assert_eq!(m("busy"), Matcher::Disposition(Disposition::Busy));
    assert_eq!(m(" No_Answer "), Matcher::Disposition(Disposition::NoAnswer));
    assert_eq!(m("unknown"), Matcher::Disposition(Disposition::Unknown));
    assert_eq!(m("complaint"), Matcher::Intent(Intent::Complaint));
    assert_eq!(m("intent:promise_to_pay"), Matcher::Intent(Intent::PromiseToPay));
    assert_eq!(m("intent:unknown"), Matcher::Intent(Intent::Unknown));
    assert_eq!(m("disposition:busy"), Matcher::Disposition(Disposition::Busy));
    assert_eq!(m("blu:D01"), Matcher::Raw { vendor: "blu".into(), code: "D01".into() });
    assert_eq!(m("sim:NO_ANSWER"), Matcher::Raw { vendor: "sim".into(), code: "NO_ANSWER".into() });
    for text in ["busy", "intent:complaint", "blu:D01", "unknown", "intent:unknown"] {
        assert_eq!(m(&m(text).to_string()), m(text), "Display round trip of {text}");
    }
}

#[test]
fn matcher_errors_name_the_text_and_the_choices() {
    let msg = Matcher::parse("bussy").unwrap_err().to_string();
    assert!(msg.contains("`bussy`") && msg.contains("no_answer") && msg.contains("promise_to_pay"), "{msg}");
    let msg = Matcher::parse("intent:ptp").unwrap_err().to_string();
    assert!(msg.contains("`intent:ptp`") && msg.contains("promise_to_pay"), "{msg}");
    let msg = Matcher::parse("disposition:nope").unwrap_err().to_string();
    assert!(msg.contains("`disposition:nope`") && msg.contains("busy"), "{msg}");
    assert_eq!(Matcher::parse("  "), Err(RecallError::Empty));
    assert!(matches!(Matcher::parse("blu:"), Err(RecallError::BadRaw { .. })));
    assert!(matches!(Matcher::parse(":D01"), Err(RecallError::BadRaw { .. })));
}

#[test]
fn matcher_matches_disposition_intent_and_raw_codes_exactly() {
    let o = Outcome::new(Disposition::Answered)
        .with_intent(Intent::PromiseToPay)
        .with_raw_code("blu", "D01")
        .with_raw_intent("blu", "HPTP");
    assert!(m("answered").matches(&o));
    assert!(!m("busy").matches(&o));
    assert!(m("promise_to_pay").matches(&o));
    assert!(!m("intent:paid").matches(&o));
    assert!(m("blu:D01").matches(&o));
    assert!(m("blu:HPTP").matches(&o), "raw intent label matches too");
    assert!(!m("blu:d01").matches(&o), "codes are case-sensitive");
    assert!(!m("sim:D01").matches(&o), "vendor must match");
    assert!(!m("intent:unknown").matches(&Outcome::new(Disposition::Busy)), "no intent is not intent unknown");
}

#[test]
fn default_policy_is_as_documented() {
    let p = RecallPolicy::default_policy();
    assert!(p.rules.is_empty());
    assert_eq!(p.max_attempts, 3);
    assert_eq!(p.default_action, RuleAction::Stop);
    assert_eq!(p.vendor_failure_backoff, Duration::from_secs(60));
    assert_eq!(p.max_vendor_failures, 20);
    assert_eq!(p.validate(), Ok(()));
    let zero = RecallPolicy { max_attempts: 0, ..p };
    assert_eq!(zero.validate(), Err(RecallError::ZeroMaxAttempts(0)));
}

#[test]
fn vendor_failure_backs_off_without_consuming_then_stops() {
    let p = RecallPolicy { max_vendor_failures: 2, ..RecallPolicy::default_policy() };
    let fail = AttemptResult::VendorFailed { reason: "HTTP 503".into() };
    let h0 = RecallHistory { attempts_used: 1, ..Default::default() };
    let (d, h1) = decide(&p, &h0, &fail, now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::minutes(1), rule: None, requested: false });
    assert_eq!((h1.attempts_used, h1.vendor_failures), (1, 1));
    let (d, h2) = decide(&p, &h1, &fail, now());
    match d {
        Decision::Stopped { reason } => {
            assert!(reason.contains("2 consecutive") && reason.contains("HTTP 503"), "{reason}")
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
    assert_eq!((h2.attempts_used, h2.vendor_failures), (1, 2));
}

#[test]
fn a_consuming_attempt_resets_vendor_failures() {
    let p = RecallPolicy::default_policy();
    let h = RecallHistory { attempts_used: 0, vendor_failures: 7, ..Default::default() };
    let (d, h) = decide(&p, &h, &completed(Disposition::Answered), now());
    assert_eq!(d, Decision::Done { rule: None });
    assert_eq!((h.attempts_used, h.vendor_failures), (1, 0));
}

#[test]
fn first_matching_rule_wins() {
    let p = policy(vec![
        rule(&["answered"], RuleAction::Stop),
        rule(&["busy", "no_answer"], retry(30, 5)),
        rule(&["busy"], RuleAction::Suppress),
    ]);
    let (d, h) = decide(&p, &RecallHistory::default(), &completed(Disposition::Busy), now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::minutes(30), rule: Some(1), requested: false });
    assert_eq!(h.rule_retries.get(&1), Some(&1));
    assert_eq!(h.attempts_used, 1);
    let (d, _) = decide(&p, &RecallHistory::default(), &completed(Disposition::Answered), now());
    assert_eq!(d, Decision::Done { rule: Some(0) });
}

#[test]
fn suppress_action_reports_its_rule() {
    let p = policy(vec![rule(&["answered"], RuleAction::Stop), rule(&["intent:complaint"], RuleAction::Suppress)]);
    let o = Outcome::new(Disposition::Voicemail).with_intent(Intent::Complaint);
    let (d, _) = decide(&p, &RecallHistory::default(), &AttemptResult::Completed(o), now());
    assert_eq!(d, Decision::Suppress { rule: 1 });
    let p = RecallPolicy { default_action: RuleAction::Suppress, ..RecallPolicy::default_policy() };
    let (d, _) = decide(&p, &RecallHistory::default(), &completed(Disposition::Vacant), now());
    assert_eq!(d, Decision::Suppress { rule: DEFAULT_RULE });
}

#[test]
fn retry_stops_at_max_attempts() {
    let p = policy(vec![rule(&["busy"], retry(10, 99))]);
    let h = RecallHistory { attempts_used: 2, ..Default::default() };
    let (d, h) = decide(&p, &h, &completed(Disposition::Busy), now());
    assert_eq!(d, Decision::Exhausted { reason: "max_attempts 3 reached".into() });
    assert_eq!(h.attempts_used, 3);
    assert!(h.rule_retries.is_empty(), "no retry was scheduled");
}

#[test]
fn retry_stops_at_the_rules_max() {
    let p = RecallPolicy {
        max_attempts: 10,
        ..policy(vec![rule(&["answered"], RuleAction::Stop), rule(&["busy"], retry(10, 2))])
    };
    let mut h = RecallHistory::default();
    for _ in 0..2 {
        let (d, next) = decide(&p, &h, &completed(Disposition::Busy), now());
        assert!(matches!(d, Decision::RetryAt { rule: Some(1), .. }), "{d:?}");
        h = next;
    }
    let (d, h) = decide(&p, &h, &completed(Disposition::Busy), now());
    assert_eq!(d, Decision::Exhausted { reason: "rule #2 retried max 2 times".into() });
    assert_eq!(h.rule_retries.get(&1), Some(&2));
}

#[test]
fn default_retries_are_counted_under_the_default_key() {
    let p = RecallPolicy { max_attempts: 10, default_action: retry(5, 1), ..RecallPolicy::default_policy() };
    let (d, h) = decide(&p, &RecallHistory::default(), &completed(Disposition::NoAnswer), now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::minutes(5), rule: None, requested: false });
    assert_eq!(h.rule_retries.get(&DEFAULT_RULE), Some(&1));
    let (d, _) = decide(&p, &h, &completed(Disposition::NoAnswer), now());
    assert_eq!(d, Decision::Exhausted { reason: "default action retried max 1 times".into() });
}

#[test]
fn lost_consumes_and_matches_as_unknown_with_lost_code() {
    let p = policy(vec![rule(&["campaignd:lost"], retry(15, 3))]);
    let (d, h) = decide(&p, &RecallHistory::default(), &AttemptResult::Lost, now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::minutes(15), rule: Some(0), requested: false });
    assert_eq!(h.attempts_used, 1);
    let p = policy(vec![rule(&["unknown"], RuleAction::Suppress)]);
    let (d, _) = decide(&p, &RecallHistory::default(), &AttemptResult::Lost, now());
    assert_eq!(d, Decision::Suppress { rule: 0 });
}

#[test]
fn huge_retry_interval_saturates_instead_of_panicking() {
    let p = policy(vec![rule(&["busy"], RuleAction::Retry { after: Duration::MAX, max: 1 })]);
    let (d, _) = decide(&p, &RecallHistory::default(), &completed(Disposition::Busy), now());
    assert_eq!(d, Decision::RetryAt { not_before: DateTime::<Utc>::MAX_UTC, rule: Some(0), requested: false });
}

#[test]
fn history_round_trips_through_json() {
    let mut h = RecallHistory { attempts_used: 2, vendor_failures: 1, ..Default::default() };
    h.rule_retries.insert(0, 1);
    h.rule_retries.insert(DEFAULT_RULE, 2);
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<RecallHistory>(&json).unwrap(), h);
    assert_eq!(
        serde_json::from_str::<RecallHistory>(r#"{"attempts_used":0,"rule_retries":{},"vendor_failures":0}"#).unwrap(),
        RecallHistory::default()
    );
}

// ---------------------------------------------------------------- requested times

fn callback_at(at: DateTime<Utc>) -> AttemptResult {
    AttemptResult::Completed(
        Outcome::new(Disposition::Answered).with_intent(Intent::Callback).with_requested_at(Some(at)),
    )
}

fn callback_policy() -> RecallPolicy {
    policy(vec![rule(&["intent:callback"], retry(60, 2)), rule(&["answered"], RuleAction::Stop)])
}

#[test]
fn requested_time_decides_the_retry_instead_of_the_interval() {
    let asked = now() + TimeDelta::minutes(90);
    let (d, h) = decide(&callback_policy(), &RecallHistory::default(), &callback_at(asked), now());
    assert_eq!(d, Decision::RetryAt { not_before: asked, rule: Some(0), requested: true });
    assert_eq!(h.rule_retries.get(&0), Some(&1), "a callback retry counts against the rule like any retry");
    // Earlier than the interval too: the callee's time wins both ways.
    let soon = now() + TimeDelta::minutes(5);
    let (d, _) = decide(&callback_policy(), &RecallHistory::default(), &callback_at(soon), now());
    assert_eq!(d, Decision::RetryAt { not_before: soon, rule: Some(0), requested: true });
}

#[test]
fn requested_time_in_the_past_means_now() {
    let (d, _) =
        decide(&callback_policy(), &RecallHistory::default(), &callback_at(now() - TimeDelta::hours(3)), now());
    assert_eq!(d, Decision::RetryAt { not_before: now(), rule: Some(0), requested: true });
}

#[test]
fn requested_time_beyond_the_limit_is_capped() {
    let p = RecallPolicy { max_callback_delay: Duration::from_secs(7 * 86_400), ..callback_policy() };
    let next_year = now() + TimeDelta::days(365);
    let (d, _) = decide(&p, &RecallHistory::default(), &callback_at(next_year), now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::days(7), rule: Some(0), requested: true });
    // Exactly at the limit is not capped.
    let (d, _) = decide(&p, &RecallHistory::default(), &callback_at(now() + TimeDelta::days(7)), now());
    assert_eq!(d, Decision::RetryAt { not_before: now() + TimeDelta::days(7), rule: Some(0), requested: true });
    assert_eq!(RecallPolicy::default_policy().max_callback_delay, Duration::from_secs(14 * 86_400));
}

#[test]
fn requested_time_does_not_lift_the_rule_max_or_max_attempts() {
    let asked = now() + TimeDelta::minutes(10);
    let p = RecallPolicy { max_attempts: 10, ..callback_policy() };
    let h = RecallHistory { attempts_used: 2, rule_retries: BTreeMap::from([(0, 2)]), ..Default::default() };
    let (d, _) = decide(&p, &h, &callback_at(asked), now());
    assert_eq!(d, Decision::Exhausted { reason: "rule #1 retried max 2 times".into() });
    let h = RecallHistory { attempts_used: 2, ..Default::default() };
    let (d, _) = decide(&callback_policy(), &h, &callback_at(asked), now());
    assert_eq!(d, Decision::Exhausted { reason: "max_attempts 3 reached".into() });
}

#[test]
fn requested_time_is_ignored_by_stop_and_suppress_and_by_the_default_retry_without_one() {
    let asked = now() + TimeDelta::minutes(10);
    let stop = policy(vec![rule(&["intent:callback"], RuleAction::Stop)]);
    assert_eq!(
        decide(&stop, &RecallHistory::default(), &callback_at(asked), now()).0,
        Decision::Done { rule: Some(0) }
    );
    let suppress = policy(vec![rule(&["intent:callback"], RuleAction::Suppress)]);
    let (d, _) = decide(&suppress, &RecallHistory::default(), &callback_at(asked), now());
    assert_eq!(d, Decision::Suppress { rule: 0 });
    // The default action retries too, and then honours the request.
    let default_retry = RecallPolicy { default_action: retry(60, 1), ..RecallPolicy::default_policy() };
    let (d, _) = decide(&default_retry, &RecallHistory::default(), &callback_at(asked), now());
    assert_eq!(d, Decision::RetryAt { not_before: asked, rule: None, requested: true });
}

const MATCHERS: &[&str] =
    &["busy", "no_answer", "answered", "unknown", "intent:paid", "complaint", "blu:D01", "campaignd:lost"];
const DISPOSITIONS: &[Disposition] =
    &[Disposition::Busy, Disposition::NoAnswer, Disposition::Answered, Disposition::Unknown];

fn action() -> impl Strategy<Value = RuleAction> {
    prop_oneof![
        3 => (0u64..3 * 86_400, 0u32..4).prop_map(|(s, max)| RuleAction::Retry { after: Duration::from_secs(s), max }),
        1 => Just(RuleAction::Stop),
        1 => Just(RuleAction::Suppress),
    ]
}

fn policies() -> impl Strategy<Value = RecallPolicy> {
    let rules = prop::collection::vec(
        (prop::collection::vec(prop::sample::select(MATCHERS), 1..3), action())
            .prop_map(|(when, action)| RecallRule { when: when.into_iter().map(m).collect(), action }),
        0..4,
    );
    (rules, 1u32..6, action(), 0u64..3600, 0u32..5, 0u64..30 * 86_400).prop_map(
        |(rules, max_attempts, default_action, backoff, mvf, max_delay)| RecallPolicy {
            rules,
            max_attempts,
            default_action,
            vendor_failure_backoff: Duration::from_secs(backoff),
            max_vendor_failures: mvf,
            max_callback_delay: Duration::from_secs(max_delay),
        },
    )
}

fn results() -> impl Strategy<Value = AttemptResult> {
    let outcome = (
        prop::sample::select(DISPOSITIONS),
        prop::option::of(prop::sample::select(&[Intent::Paid, Intent::Complaint][..])),
        any::<bool>(),
        // Requested times from well in the past to beyond any cap.
        prop::option::of(-3 * 86_400i64..60 * 86_400),
    )
        .prop_map(|(d, i, raw, requested)| {
            let at = requested.map(|s| now() + TimeDelta::seconds(s));
            let mut o = Outcome { intent: i, ..Outcome::new(d) }.with_requested_at(at);
            if raw {
                o = o.with_raw_code("blu", "D01");
            }
            o
        });
    prop_oneof![
        3 => outcome.prop_map(AttemptResult::Completed),
        1 => Just(AttemptResult::Lost),
        2 => Just(AttemptResult::VendorFailed { reason: "refused".into() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn decide_respects_every_cap(p in policies(), seq in prop::collection::vec((results(), 0i64..7200), 1..40)) {
        let mut h = RecallHistory::default();
        let mut t = now();
        let mut retries_per_key: BTreeMap<usize, u32> = BTreeMap::new();
        for (result, jitter) in seq {
            let (d, next) = decide(&p, &h, &result, t);
            prop_assert!(next.attempts_used <= p.max_attempts, "attempts {} > max {}", next.attempts_used, p.max_attempts);
            let Decision::RetryAt { not_before, rule, requested } = d else { break };
            let requested_at = match &result { AttemptResult::Completed(o) => o.requested_at, _ => None };
            prop_assert_eq!(requested, requested_at.is_some(), "requested iff the outcome carried a time");
            let interval = match (&result, rule) {
                (AttemptResult::VendorFailed { .. }, None) => p.vendor_failure_backoff,
                (AttemptResult::VendorFailed { .. }, Some(_)) => { prop_assert!(false, "vendor failures match no rule"); unreachable!() }
                (_, rule) => {
                    let (key, action) = match rule {
                        Some(i) => (i, &p.rules[i].action),
                        None => (DEFAULT_RULE, &p.default_action),
                    };
                    let RuleAction::Retry { after, max } = *action else {
                        prop_assert!(false, "RetryAt from a non-retry action"); unreachable!()
                    };
                    let n = retries_per_key.entry(key).or_insert(0);
                    *n += 1;
                    prop_assert!(*n <= max, "key {key}: {n} retries > max {max}");
                    prop_assert_eq!(next.rule_retries.get(&key), Some(&*n));
                    after
                }
            };
            match requested_at {
                Some(at) => {
                    let cap = t + TimeDelta::from_std(p.max_callback_delay).unwrap();
                    prop_assert_eq!(not_before, at.clamp(t, cap));
                }
                None => prop_assert!(not_before >= t + TimeDelta::from_std(interval).unwrap()),
            }
            h = next;
            t = not_before + TimeDelta::seconds(jitter);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// Whatever the callee asked for and whatever the policy, a retry is
    /// never due before the moment it was decided.
    #[test]
    fn a_retry_is_never_due_before_now(
        p in policies(),
        result in results(),
        now_offset in -400i64 * 86_400..400 * 86_400,
        used in 0u32..3,
    ) {
        let t = now() + TimeDelta::seconds(now_offset);
        let h = RecallHistory { attempts_used: used, ..Default::default() };
        if let (Decision::RetryAt { not_before, .. }, _) = decide(&p, &h, &result, t) {
            prop_assert!(not_before >= t, "not_before {not_before} < now {t}");
        }
    }
}

#[test]
fn a_new_contacts_empty_history_reads_as_zero_and_a_corrupt_one_does_not_read() {
    let empty: RecallHistory = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(empty, RecallHistory::default());
    let partial: RecallHistory = serde_json::from_value(serde_json::json!({ "attempts_used": 2 })).unwrap();
    assert_eq!(partial.attempts_used, 2);
    assert!(serde_json::from_value::<RecallHistory>(serde_json::json!({ "attempts_used": "two" })).is_err());
    assert!(serde_json::from_value::<RecallHistory>(serde_json::json!([1, 2])).is_err());
}
