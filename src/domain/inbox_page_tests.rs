use super::*;
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::recall::AttemptResult;
use crate::domain::settlement::{AttemptFacts, settle};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::America::New_York;

#[test]
fn a_later_identical_row_of_the_page_is_a_copy_of_the_earlier_one_not_the_other_way() {
    let copies = InboxCopies::new([(5, "v", "k"), (9, "v", "k"), (7, "v", "other"), (8, "w", "k")]);
    assert!(!copies.copy_in_page(5, "v", "k"), "the first delivery is the original");
    assert!(copies.copy_in_page(9, "v", "k"), "the later copy, while the earlier is pending");
    assert!(!copies.copy_in_page(7, "v", "other"));
    assert!(!copies.copy_in_page(8, "w", "k"), "the same body from another vendor is its own delivery");
}

#[test]
fn a_copy_stays_a_copy_whatever_the_original_became_except_rejected() {
    for (original, later_is_copy) in [
        (CopyState::Processed, true),
        (CopyState::Duplicate, true),
        (CopyState::Pending, true),
        (CopyState::Rejected, false),
    ] {
        let mut copies = InboxCopies::new([(5, "v", "k"), (9, "v", "k")]);
        copies.decided(5, "v", "k", original);
        assert_eq!(copies.copy_in_page(9, "v", "k"), later_is_copy, "original {original:?}");
    }
}

#[test]
fn a_processed_row_makes_even_an_earlier_pending_copy_a_duplicate() {
    // Page order is retry time, not id: row 9 may be decided before row 5.
    let mut copies = InboxCopies::new([(9, "v", "k"), (5, "v", "k")]);
    copies.decided(9, "v", "k", CopyState::Processed);
    assert!(copies.copy_in_page(5, "v", "k"));
    copies.decided(9, "v", "k", CopyState::Duplicate);
    assert!(!copies.copy_in_page(5, "v", "k"), "a later row that is itself a copy names no original");
}

fn at(h: u32) -> DateTime<Utc> {
    New_York.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap().with_timezone(&Utc)
}

fn campaign() -> Campaign {
    Campaign::for_test(7, New_York, "daily 09:00-20:00")
}

fn attempt(attempt_ref: &str, attempt_no: i32) -> AttemptFacts<'_> {
    AttemptFacts { attempt_ref, attempt_no, vendor_id: "v", state: AttemptState::Dispatched, created_at: at(10) }
}

fn stored_contact(attempt_seq: i32) -> ContactFacts<'static> {
    ContactFacts {
        id: 1,
        phone: "+12125550100",
        zones: None,
        attempt_seq,
        state: Ok(ContactState::InFlight),
        history: Ok(RecallHistory::default()),
    }
}

fn answered(call: &str) -> (AttemptResult, CallEvent) {
    let outcome = Outcome::new(Disposition::Answered);
    let ev = CallEvent { external_call_id: Some(call.into()), ..CallEvent::final_outcome(outcome.clone()) };
    (AttemptResult::Completed(outcome), ev)
}

/// Settle attempt `id` as the page sees it, and note it in the ledger.
fn settle_in_page(
    ledger: &mut PageLedger,
    id: i64,
    a: &AttemptFacts<'_>,
    stored: ContactFacts<'_>,
    call: &str,
) -> Option<Settlement> {
    let facts = AttemptFacts { state: ledger.attempt_state(id, a.state), ..a.clone() };
    let (result, ev) = answered(call);
    let contact = ledger.contact(stored);
    let s = settle(&campaign(), &facts, Some(&contact), &result, Some(&ev), at(11)).unwrap()?;
    ledger.settled(id, "v", contact.id, &s);
    Some(s)
}

#[test]
fn a_second_result_for_an_attempt_in_the_same_page_is_late() {
    let mut ledger = PageLedger::default();
    let first = settle_in_page(&mut ledger, 3, &attempt("1-1", 1), stored_contact(1), "c1");
    assert!(matches!(first.map(|s| s.contact), Some(ContactOutcome::Moved { .. })));
    assert_eq!(ledger.attempt_state(3, AttemptState::Dispatched), AttemptState::Completed);
    assert!(settle_in_page(&mut ledger, 3, &attempt("1-1", 1), stored_contact(1), "c1").is_none());
    assert_eq!(ledger.attempt_state(4, AttemptState::Dispatched), AttemptState::Dispatched, "others untouched");
}

#[test]
fn the_contact_a_page_moved_is_seen_moved_by_its_next_result() {
    let mut ledger = PageLedger::default();
    settle_in_page(&mut ledger, 3, &attempt("1-1", 1), stored_contact(1), "c1").unwrap();
    let seen = ledger.contact(stored_contact(1));
    assert_eq!(seen.state, Ok(ContactState::Done));
    // Another in-flight attempt of the contact (as the store last read it)
    // finds it moved on, as it would after the first result was written.
    let second = settle_in_page(&mut ledger, 4, &attempt("1-1b", 1), stored_contact(1), "c2").unwrap();
    assert_eq!(second.contact, ContactOutcome::MovedOn { state: ContactState::Done });
}

#[test]
fn the_call_ids_a_page_recorded_find_their_attempt() {
    let mut ledger = PageLedger::default();
    settle_in_page(&mut ledger, 3, &attempt("1-1", 1), stored_contact(1), "call-9").unwrap();
    assert_eq!(ledger.attempt_for_call("v", "call-9"), Some(3));
    assert_eq!(ledger.attempt_for_call("w", "call-9"), None, "call ids are per vendor");
    assert_eq!(ledger.attempt_for_call("v", "call-8"), None);
}
