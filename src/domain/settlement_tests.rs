use super::*;
use crate::domain::call_event::VendorRedial;
use crate::domain::outcome::Intent;
use crate::domain::recall::{Matcher, RecallPolicy, RecallRule, RuleAction};
use chrono::{TimeDelta, TimeZone};
use chrono_tz::America::New_York;
use std::time::Duration;

fn ny(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    New_York.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap().with_timezone(&Utc)
}

fn campaign(rules: Vec<RecallRule>) -> Campaign {
    let camp = Campaign::for_test(7, New_York, "daily 09:00-20:00");
    Campaign { policy: RecallPolicy { rules, ..RecallPolicy::default_policy() }, ..camp }
}

fn retry_busy(after_minutes: u64) -> Vec<RecallRule> {
    vec![RecallRule {
        when: vec![Matcher::Disposition(Disposition::Busy)],
        action: RuleAction::Retry { after: Duration::from_secs(after_minutes * 60), max: 5 },
    }]
}

fn attempt() -> AttemptFacts<'static> {
    AttemptFacts {
        attempt_ref: "i-1-1",
        attempt_no: 1,
        vendor_id: "v",
        state: AttemptState::Dispatched,
        created_at: ny(2, 10, 0),
    }
}

fn contact() -> ContactFacts<'static> {
    ContactFacts {
        id: 1,
        phone: "+12125550100",
        zones: None,
        attempt_seq: 1,
        state: Ok(ContactState::InFlight),
        history: Ok(RecallHistory::default()),
    }
}

fn completed(d: Disposition) -> AttemptResult {
    AttemptResult::Completed(Outcome::new(d))
}

fn moved(s: &Settlement) -> (&ContactUpdate, &AuditEntry) {
    match &s.contact {
        ContactOutcome::Moved { update, audit } => (update, audit),
        other => panic!("contact not moved: {other:?}"),
    }
}

#[test]
fn a_retry_is_clamped_into_the_next_window() {
    let now = ny(2, 19, 50);
    let s = settle(&campaign(retry_busy(30)), &attempt(), Some(&contact()), &completed(Disposition::Busy), None, now)
        .unwrap()
        .unwrap();
    let (u, audit) = moved(&s);
    assert_eq!(u.state, ContactState::WaitingRetry);
    // 20:20 is after the window closes at 20:00: the retry waits for 09:00.
    assert_eq!(u.due_at, Some(ny(3, 9, 0)));
    assert_eq!(audit.kind, kind::RETRY);
    assert_eq!(u.history.attempts_used, 1);
}

#[test]
fn no_window_before_the_campaign_ends_exhausts_the_retry() {
    let now = ny(2, 19, 50);
    let camp = Campaign { ends_at: Some(ny(3, 8, 0)), ..campaign(retry_busy(30)) };
    let s = settle(&camp, &attempt(), Some(&contact()), &completed(Disposition::Busy), None, now).unwrap().unwrap();
    let (u, audit) = moved(&s);
    assert_eq!(u.state, ContactState::Exhausted);
    assert_eq!(u.due_at, None);
    assert_eq!(audit.kind, kind::EXHAUSTED);
    assert!(audit.reason.contains("no calling window left for a retry"), "{}", audit.reason);
}

#[test]
fn a_cancelled_campaign_stops_the_contact_whatever_the_rules_say() {
    let camp = Campaign { state: CampaignState::Cancelled, ..campaign(retry_busy(30)) };
    let s = settle(&camp, &attempt(), Some(&contact()), &completed(Disposition::Busy), None, ny(2, 12, 0))
        .unwrap()
        .unwrap();
    let (u, _) = moved(&s);
    assert_eq!(u.state, ContactState::Stopped);
    assert_eq!(u.finished_reason.as_deref(), Some("campaign cancelled"));
}

#[test]
fn a_vendor_cancel_does_not_consume_an_attempt() {
    let s =
        settle(&campaign(vec![]), &attempt(), Some(&contact()), &completed(Disposition::Cancelled), None, ny(2, 12, 0))
            .unwrap()
            .unwrap();
    assert_eq!(s.attempt.state, AttemptState::Cancelled);
    let (u, _) = moved(&s);
    assert_eq!(u.state, ContactState::WaitingRetry);
    assert!(u.vendor_failed);
    assert_eq!(u.history.attempts_used, 0);
    assert_eq!(u.history.vendor_failures, 1);
}

#[test]
fn the_vendor_blacklist_suppresses_the_number() {
    let ev = CallEvent { blacklisted: true, ..CallEvent::final_outcome(Outcome::new(Disposition::Busy)) };
    let s = settle(
        &campaign(retry_busy(30)),
        &attempt(),
        Some(&contact()),
        &completed(Disposition::Busy),
        Some(&ev),
        ny(2, 12, 0),
    )
    .unwrap()
    .unwrap();
    assert_eq!(s.suppressions.len(), 1);
    assert_eq!(s.suppressions[0].source, "vendor:v");
    let (u, audit) = moved(&s);
    assert_eq!(u.state, ContactState::Suppressed);
    assert_eq!(audit.kind, kind::SUPPRESSED);
}

#[test]
fn a_suppress_rule_puts_the_number_on_the_list_with_the_campaign_as_source() {
    let rules = vec![RecallRule { when: vec![Matcher::Intent(Intent::Complaint)], action: RuleAction::Suppress }];
    let o = Outcome { intent: Some(Intent::Complaint), ..Outcome::new(Disposition::Answered) };
    let s = settle(&campaign(rules), &attempt(), Some(&contact()), &AttemptResult::Completed(o), None, ny(2, 12, 0))
        .unwrap()
        .unwrap();
    assert_eq!(s.suppressions.len(), 1);
    assert_eq!(s.suppressions[0].source, "campaign:c");
    assert!(s.suppressions[0].reason.starts_with("recall rule #1 (suppress) after answered / complaint"));
}

#[test]
fn a_corrupt_recall_history_stops_the_contact_instead_of_resetting_its_counters() {
    let c = ContactFacts { history: Err("expected u32".into()), ..contact() };
    let s = settle(&campaign(retry_busy(30)), &attempt(), Some(&c), &completed(Disposition::Busy), None, ny(2, 12, 0))
        .unwrap()
        .unwrap();
    let (u, _) = moved(&s);
    assert_eq!(u.state, ContactState::Stopped, "a reset history would have scheduled a retry");
    assert!(s.corrupt.as_deref().is_some_and(|r| r.contains("contact #1")), "{:?}", s.corrupt);
}

#[test]
fn a_corrupt_contact_state_records_the_attempt_only() {
    let c = ContactFacts { state: Err("unknown contact state `zombie`".into()), ..contact() };
    let s = settle(&campaign(vec![]), &attempt(), Some(&c), &completed(Disposition::Answered), None, ny(2, 12, 0))
        .unwrap()
        .unwrap();
    assert_eq!(s.attempt.state, AttemptState::Completed);
    assert!(matches!(&s.contact, ContactOutcome::Corrupt { reason } if reason.contains("zombie")), "{:?}", s.contact);
}

#[test]
fn a_result_for_a_contact_that_moved_on_records_the_attempt_only() {
    let c = ContactFacts { attempt_seq: 2, ..contact() };
    let s = settle(&campaign(vec![]), &attempt(), Some(&c), &completed(Disposition::Answered), None, ny(2, 12, 0))
        .unwrap()
        .unwrap();
    assert_eq!(s.contact, ContactOutcome::MovedOn { state: ContactState::InFlight });
}

#[test]
fn a_finished_attempt_is_not_settled_twice() {
    let a = AttemptFacts { state: AttemptState::Completed, ..attempt() };
    let s = settle(&campaign(vec![]), &a, Some(&contact()), &completed(Disposition::Answered), None, ny(2, 12, 0));
    assert_eq!(s.unwrap(), None);
}

#[test]
fn redials_are_one_dial_each_clamped_to_the_claim_and_now() {
    let now = ny(2, 12, 0);
    let ev = CallEvent {
        // The vendor's clock says a day before the claim.
        started_at: Some(ny(1, 10, 0)),
        redials: vec![VendorRedial {
            external_call_id: Some("r1".into()),
            at: Some(now - TimeDelta::minutes(5)),
            outcome: Outcome::new(Disposition::Answered),
        }],
        ..CallEvent::final_outcome(Outcome::new(Disposition::Answered))
    };
    let s = settle(&campaign(vec![]), &attempt(), Some(&contact()), &completed(Disposition::Answered), Some(&ev), now)
        .unwrap()
        .unwrap();
    assert_eq!(s.dials.len(), 2);
    assert_eq!(s.dials[0].outcome.disposition, Disposition::Unknown, "the first dial was not described");
    assert_eq!(s.dials[0].dialed_at, ny(2, 10, 0), "clamped to the claim");
    assert_eq!(s.dials[0].vendor_dialed_at, Some(ny(1, 10, 0)));
    assert!(s.dials[1].vendor_redial);
    assert_eq!(s.dials[1].dialed_at, now - TimeDelta::minutes(5));
}

#[test]
fn the_attempt_keeps_the_calls_details_and_when_the_result_came() {
    let now = ny(2, 12, 0);
    let ev = CallEvent {
        ended_at: Some(ny(2, 11, 59)),
        recording_url: Some("https://a.example/1.wav".into()),
        transcript: Some("ROBOT: Hello".into()),
        ring_ms: Some(4_000),
        cost: Some(CallCost { micros: 12_300, currency: "USD".into() }),
        ..CallEvent::final_outcome(Outcome::new(Disposition::Answered))
    };
    let settle_with = |ev: Option<&CallEvent>, result: &AttemptResult| {
        settle(&campaign(Vec::new()), &attempt(), Some(&contact()), result, ev, now).unwrap().unwrap()
    };
    let s = settle_with(Some(&ev), &completed(Disposition::Answered));
    assert_eq!(
        s.attempt.details,
        CallDetails {
            recording_url: Some("https://a.example/1.wav".into()),
            transcript: Some("ROBOT: Hello".into()),
            ring_ms: Some(4_000),
            vendor_ended_at: Some(ny(2, 11, 59)),
            received_at: Some(now),
            cost: Some(CallCost { micros: 12_300, currency: "USD".into() }),
        }
    );
    // A negative ring time is no ring time.
    let odd = CallEvent { ring_ms: Some(-5), ..ev };
    assert_eq!(settle_with(Some(&odd), &completed(Disposition::Answered)).attempt.details.ring_ms, None);
    // Without an event (a lost call) there is nothing to keep.
    assert_eq!(settle_with(None, &AttemptResult::Lost).attempt.details, CallDetails::default());
}
