//! The code tables of `codes.rs`, row by row.

use super::*;
use std::collections::HashMap;

fn plain(result: &str, ring: &str, hangup: &str, label: &str, duration: i64) -> (bool, Outcome) {
    let dial = Dial {
        result: Some(result),
        ring_type: Some(ring),
        hangup_type: Some(hangup),
        label: Some(label),
        duration,
        signalled: None,
    };
    normalize(&dial, &BTreeMap::new())
}

#[test]
fn every_result_row() {
    let expect: HashMap<&str, (bool, Disposition)> = [
        ("created", (false, Disposition::Unknown)),
        ("pending", (false, Disposition::Unknown)),
        ("finished", (true, Disposition::NoAnswer)),
        ("cancelled", (true, Disposition::Cancelled)),
        ("failed", (true, Disposition::VendorError)),
    ]
    .into();
    assert_eq!(expect.len(), RESULTS.len());
    for (result, ..) in RESULTS {
        let (is_final, o) = plain(result, "null", "ByRobot", "", 0);
        assert_eq!((is_final, o.disposition), expect[result], "{result}");
        assert_eq!(o.raw_code.as_deref(), Some(format!("airudder:{result}/null/ByRobot").as_str()));
    }
    // A connected finished call is answered whatever the label.
    assert_eq!(plain("finished", "normal", "ByCallee", "", 12).1.disposition, Disposition::Answered);
}

#[test]
fn every_ring_type_row() {
    let expect: HashMap<&str, Disposition> = [
        ("busy", Disposition::Busy),
        ("cantuse", Disposition::OutOfService),
        ("hold", Disposition::Busy),
        ("line", Disposition::Unreachable),
        ("switchoff", Disposition::PowerOff),
        ("outofarea", Disposition::Unreachable),
        ("unregister", Disposition::Vacant),
        ("wrongnum", Disposition::Vacant),
        ("notmatch", Disposition::NoAnswer),
        ("normal", Disposition::NoAnswer),
        ("null", Disposition::NoAnswer),
    ]
    .into();
    assert_eq!(expect.len(), RING_TYPES.len());
    for (ring, _) in RING_TYPES {
        let (is_final, o) = plain("finished", ring, "ByCallee", "F", 0);
        assert!(is_final);
        assert_eq!(o.disposition, expect[ring], "{ring}");
        assert_eq!(o.intent, None, "no intent on an unanswered dial");
        assert_eq!(o.raw_intent.as_deref(), Some("airudder:F"));
        assert_ne!(o.disposition, Disposition::Unknown);
    }
}

#[test]
fn every_hangup_type_row() {
    for (hangup, forced) in HANGUP_TYPES {
        let (_, o) = plain("finished", "normal", hangup, "E", 20);
        let want = forced.unwrap_or(Disposition::Answered);
        assert_eq!(o.disposition, want, "{hangup}");
    }
}

#[test]
fn every_label_row_and_extra_labels() {
    for (label, meaning) in LABELS {
        let (_, o) = plain("finished", "normal", "ByCallee", label, 0);
        match meaning {
            LabelMeaning::Connected(i) => {
                assert_eq!(o.disposition, Disposition::Answered, "{label}");
                assert_eq!(o.intent, Some(*i));
                assert_ne!(*i, Intent::Unknown);
            }
            LabelMeaning::NotConnected => {
                assert_eq!(o.disposition, Disposition::NoAnswer, "{label}");
                assert_eq!(o.intent, None);
            }
        }
        assert_eq!(o.raw_intent, Some(format!("airudder:{label}")));
    }
    let extra: BTreeMap<String, LabelMeaning> =
        [("PTP".to_string(), LabelMeaning::Connected(Intent::PromiseToPay))].into();
    let dial = Dial { result: Some("finished"), label: Some("PTP"), ..Dial::default() };
    assert_eq!(normalize(&dial, &extra).1.intent, Some(Intent::PromiseToPay));
}

#[test]
fn unknown_values_keep_their_raw_code() {
    // An undocumented `result` is progress, never a finish: the attempt
    // waits for a documented final value (or the reconciler).
    let (is_final, o) = plain("exploded", "normal", "ByCallee", "", 0);
    assert!(!is_final);
    assert_eq!(o.disposition, Disposition::Unknown);
    assert_eq!(o.raw_code.as_deref(), Some("airudder:exploded/normal/ByCallee"));
    assert_eq!(plain("finished", "siren", "ByCallee", "", 0).1.disposition, Disposition::Unknown);
    assert_eq!(plain("finished", "normal", "ByAlien", "", 0).1.disposition, Disposition::Unknown);
    let (_, o) = plain("finished", "normal", "ByCallee", "Z9", 30);
    assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::Unknown)));
    assert_eq!(o.raw_intent.as_deref(), Some("airudder:Z9"));
}

#[test]
fn cancelled_is_read_in_every_spelling() {
    for spelling in ["cancelled", "canceled", "Canceled", "CANCELLED", " Cancelled "] {
        let (is_final, o) = plain(spelling, "null", "ByRobot", "", 0);
        assert!(is_final, "{spelling}");
        assert_eq!(o.disposition, Disposition::Cancelled, "{spelling}");
        assert_eq!(o.raw_code, Some(format!("airudder:{}/null/ByRobot", spelling.trim())), "raw kept as sent");
        let (_, o) = plain("finished", "normal", spelling, "E", 20);
        assert_eq!(o.disposition, Disposition::Cancelled, "hangup_type {spelling}");
    }
    for (ring, want) in [("BUSY", Disposition::Busy), ("SwitchOff", Disposition::PowerOff)] {
        assert_eq!(plain("finished", ring, "byrobot", "F", 0).1.disposition, want, "{ring}");
    }
}

#[test]
fn signals_name_the_intent_of_an_unmapped_label() {
    let tags = TagIntents::default();
    assert_eq!(signalled_intent(["Promise to pay"], &tags), Some(Intent::PromiseToPay));
    assert_eq!(signalled_intent(["PTP", "Correct_Person"], &tags), Some(Intent::PromiseToPay), "strongest wins");
    assert_eq!(signalled_intent(["identity_correct_person"], &tags), Some(Intent::Undecided));
    assert_eq!(signalled_intent(["No Answer", "A0"], &tags), None, "not a conversation result");
    assert_eq!(signalled_intent(["PTP", "投诉"], &tags), Some(Intent::Complaint), "the default tag table applies");
    let mine = TagIntents::with_overrides([("Correct_Person", Intent::Interested)]);
    assert_eq!(signalled_intent(["Correct_Person"], &mine), Some(Intent::Interested), "config remaps");

    // Label Z9 is in no table: the signals decide, the raw label is kept.
    let dial = Dial {
        result: Some("finished"),
        ring_type: Some("normal"),
        hangup_type: Some("ByCallee"),
        label: Some("Z9"),
        duration: 0,
        signalled: Some(Intent::PromiseToPay),
    };
    let (is_final, o) = normalize(&dial, &BTreeMap::new());
    assert!(is_final);
    assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::PromiseToPay)));
    assert_eq!(o.raw_intent.as_deref(), Some("airudder:Z9"));
    // A mapped label keeps its intent unless a signal is stronger.
    let e = Dial { label: Some("E"), ..dial.clone() };
    assert_eq!(normalize(&e, &BTreeMap::new()).1.intent, Some(Intent::PromiseToPay));
    let weak = Dial { label: Some("E"), signalled: Some(Intent::Undecided), ..dial.clone() };
    assert_eq!(normalize(&weak, &BTreeMap::new()).1.intent, Some(Intent::Undecided));
    let complaint = Dial { signalled: Some(Intent::Complaint), ..e };
    assert_eq!(normalize(&complaint, &BTreeMap::new()).1.intent, Some(Intent::Complaint));
    // A label the robot gives unanswered dials wins over a stray signal.
    let f = Dial { label: Some("F"), ..dial };
    assert_eq!(normalize(&f, &BTreeMap::new()).1.disposition, Disposition::NoAnswer);
}

#[test]
fn every_error_code_is_classified() {
    let expect: HashMap<i64, VendorErrorKind> = [
        (10301, VendorErrorKind::Fatal),
        (10302, VendorErrorKind::Fatal),
        (10505, VendorErrorKind::Fatal),
        (10508, VendorErrorKind::RetryLater),
        (10509, VendorErrorKind::Fatal),
        (10510, VendorErrorKind::Fatal),
        (10620, VendorErrorKind::RetryLater),
    ]
    .into();
    assert_eq!(expect.len(), ERRORS.len());
    for (code, kind, ..) in ERRORS {
        assert_eq!(expect[code], *kind, "{code}");
    }
    assert!(is_auth_code(10301) && is_auth_code(10302) && !is_auth_code(10508));
    assert!(error_row(99999).is_none());
}
