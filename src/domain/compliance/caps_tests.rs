use super::*;
use chrono::TimeZone;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

fn dial(hours_ago: i64) -> DialRecord {
    DialRecord { at: t0() - TimeDelta::hours(hours_ago), dials: 1, conversation: false }
}

#[test]
fn rules_parse_and_print_back() {
    let rules = parse_rules("phone:3/24h, CASE:7/7d , case:quiet/7days").unwrap();
    assert_eq!(rules[0], FrequencyRule::MaxDials { scope: CapScope::Phone, max: 3, period: TimeDelta::hours(24) });
    assert_eq!(rules[2], FrequencyRule::QuietAfterConversation { scope: CapScope::Case, period: TimeDelta::days(7) });
    assert_eq!(rules_text(&rules), "phone:3/24h, case:7/7d, case:quiet/7d");
    assert_eq!(parse_rules(&rules_text(&rules)).unwrap(), rules);
    assert_eq!(parse_rules(" ").unwrap(), vec![]);
}

#[test]
fn bad_rules_name_the_item_and_the_problem() {
    let err = |t: &str| FrequencyRule::parse(t).unwrap_err().to_string();
    assert!(err("phone 3/24h").contains("expected `<phone|case>:<max>/<period>`"), "{}", err("phone 3/24h"));
    assert!(err("email:3/24h").contains("unknown scope `email`"));
    assert!(err("phone:0/24h").contains("max `0`"));
    assert!(err("phone:x/24h").contains("max `x`"));
    assert!(err("phone:3/24").contains("period `24`"));
}

#[test]
fn under_the_cap_dials_are_allowed() {
    let rule = parse_rules("phone:3/24h").unwrap();
    let h = CapHistory { phone: vec![dial(23), dial(1)], case: None };
    assert_eq!(check_caps(&rule, &h, 1, t0()), Ok(()));
}

#[test]
fn at_the_cap_the_oldest_dial_must_age_out() {
    let rule = parse_rules("phone:3/24h").unwrap();
    let h = CapHistory { phone: vec![dial(1), dial(23), dial(10), dial(30)], case: None };
    let block = check_caps(&rule, &h, 1, t0()).unwrap_err();
    assert_eq!(block.until, Some(t0() + TimeDelta::hours(1)), "the dial 23 h ago leaves the window in 1 h");
    assert!(block.reason.contains("3 dial(s) of this phone"), "{}", block.reason);
    // Two more dials (a vendor redial reserved) need two to age out.
    let block = check_caps(&rule, &h, 2, t0()).unwrap_err();
    assert_eq!(block.until, Some(t0() + TimeDelta::hours(14)));
}

#[test]
fn reservations_count_with_their_weight() {
    let rule = parse_rules("phone:3/24h").unwrap();
    let reserved = DialRecord { at: t0(), dials: 2, conversation: false };
    let h = CapHistory { phone: vec![dial(5), reserved], case: None };
    let block = check_caps(&rule, &h, 1, t0()).unwrap_err();
    assert_eq!(block.until, Some(t0() + TimeDelta::hours(19)));
}

#[test]
fn an_attempt_bigger_than_the_cap_can_never_start() {
    let rule = parse_rules("phone:2/24h").unwrap();
    let block = check_caps(&rule, &CapHistory::default(), 3, t0()).unwrap_err();
    assert_eq!(block.until, None);
}

#[test]
fn case_rules_count_the_case_and_fall_back_to_the_phone() {
    let rules = parse_rules("case:2/7d").unwrap();
    let with_case = CapHistory { phone: vec![], case: Some(vec![dial(48), dial(24)]) };
    assert_eq!(check_caps(&rules, &with_case, 1, t0()).unwrap_err().until, Some(t0() + TimeDelta::hours(5 * 24)));
    let without_case = CapHistory { phone: vec![dial(48), dial(24)], case: None };
    assert!(check_caps(&rules, &without_case, 1, t0()).is_err(), "no case id: the phone is the debt");
    let phone_only = CapHistory { phone: vec![dial(48), dial(24)], case: Some(vec![]) };
    assert_eq!(check_caps(&rules, &phone_only, 1, t0()), Ok(()), "a case rule does not count other debts' dials");
}

#[test]
fn quiet_after_a_conversation_and_the_latest_block_wins() {
    let rules = parse_rules("phone:3/24h, case:quiet/7d").unwrap();
    let talk = DialRecord { at: t0() - TimeDelta::days(2), dials: 1, conversation: true };
    let h = CapHistory { phone: vec![dial(1), dial(2), dial(3), talk], case: None };
    let block = check_caps(&rules, &h, 1, t0()).unwrap_err();
    assert_eq!(block.until, Some(t0() + TimeDelta::days(5)), "the quiet period outlasts the 24 h cap");
    assert!(block.reason.starts_with("case:quiet/7d"), "{}", block.reason);
}
