//! AIRudder's codes: webhook `result`, `ring_type`, `hangup_type` and
//! `result_label` values mapped to the normalized [`Outcome`], and the API's
//! error codes classified for the daemon.

use super::{KIND, LabelMeaning};
use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::domain::tags::{TagIntents, strength};
use crate::vendors::VendorErrorKind;
use std::collections::BTreeMap;

/// Per-callee `result`: `(value, final?, disposition it forces)`. `finished`
/// and `failed` take their disposition from the ring type and the label. Any
/// other value is progress: not final, raw code kept.
pub const RESULTS: &[(&str, bool, Option<Disposition>)] = &[
    // Queued in the task, not dialed yet.
    ("created", false, None),
    // Dialing or waiting for a redial inside the round.
    ("pending", false, None),
    // Dialed to the end (connected, or out of redials).
    ("finished", true, None),
    // Taken out of the task (cancelphonecall / task stopped) before it
    // finished. Also read as `canceled` in any case: the document itself
    // spells it `canceled` in the task status and `Canceled` in `hangup_type`.
    ("cancelled", true, Some(Disposition::Cancelled)),
    // AIRudder could not place the call.
    ("failed", true, None),
];

/// `ring_type`: AIRudder's classification of what the line played before
/// (or instead of) an answer. Applies only to dials nobody answered.
/// `None`: no classification.
pub const RING_TYPES: &[(&str, Option<Disposition>)] = &[
    // Busy tone / "the number is busy".
    ("busy", Some(Disposition::Busy)),
    // "The number cannot be used": suspended or barred subscription.
    ("cantuse", Some(Disposition::OutOfService)),
    // "Please hold / the callee is on another call" (call waiting).
    ("hold", Some(Disposition::Busy)),
    // Line or network fault announcement.
    ("line", Some(Disposition::Unreachable)),
    // "The phone is switched off".
    ("switchoff", Some(Disposition::PowerOff)),
    // "The callee is out of the service area".
    ("outofarea", Some(Disposition::Unreachable)),
    // "The number is not registered" on the network.
    ("unregister", Some(Disposition::Vacant)),
    // "The number is wrong / does not exist".
    ("wrongnum", Some(Disposition::Vacant)),
    // An announcement AIRudder did not recognise; nobody answered.
    ("notmatch", Some(Disposition::NoAnswer)),
    // A normal ring-back tone; nobody answered.
    ("normal", Some(Disposition::NoAnswer)),
    // Initial value: nothing classified.
    ("null", None),
];

/// `hangup_type`: who ended the call (initial value `ByRobot`).
pub const HANGUP_TYPES: &[(&str, Option<Disposition>)] = &[
    // The callee hung up: says nothing about the disposition.
    ("ByCallee", None),
    // The robot hung up (end of script or initial value).
    ("ByRobot", None),
    // The call was cancelled.
    ("Canceled", Some(Disposition::Cancelled)),
];

/// `result_label` values of the document. Labels are per robot: more come
/// from the `intent_labels` option.
pub const LABELS: &[(&str, LabelMeaning)] = &[
    // The document's connected call (43 s, 3 talk rounds, hung up at the
    // first question, `intention_description` "No Answer"): the callee was on
    // the line but gave no usable answer.
    ("E", LabelMeaning::Connected(Intent::Undecided)),
    // The document's redial that was not picked up.
    ("F", LabelMeaning::NotConnected),
];

/// Where a code is handled when it persists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Get a new token and resend once.
    Reauth,
    /// Regenerate the task name and resend once.
    Rename,
    /// Recompute the start as now and resend once.
    Restart,
    /// Checked before sending (the item or the batch is refused first).
    PreChecked,
    /// Nothing to retry inside the adapter.
    None,
}

/// API error codes: `(code, what happens if it persists, handling, meaning)`.
pub const ERRORS: &[(i64, VendorErrorKind, Handling, &str)] = &[
    (10301, VendorErrorKind::Fatal, Handling::Reauth, "APPKey not recognised"),
    (10302, VendorErrorKind::Fatal, Handling::Reauth, "authentication failed (token invalid or expired)"),
    // We never send an empty list: a request-building mismatch an operator must see.
    (10505, VendorErrorKind::Fatal, Handling::PreChecked, "contact list is empty"),
    // A second clash after renaming is a race: try again later with a new name.
    (10508, VendorErrorKind::RetryLater, Handling::Rename, "task name already exists"),
    // Still "in the past" after restarting at now: the clock or account_timezone is wrong.
    (10509, VendorErrorKind::Fatal, Handling::Restart, "schedule start time is in the past"),
    // Numbers are checked first; AIRudder refusing one anyway means the check is wrong.
    (10510, VendorErrorKind::Fatal, Handling::PreChecked, "phone must start with + and have at most 14 digits"),
    // Checked first; AIRudder's clock disagreeing: the window may be open longer next time.
    (10620, VendorErrorKind::RetryLater, Handling::PreChecked, "end time must be at least 5 minutes after start"),
];

pub const SUCCESS: i64 = 200;

pub fn error_row(code: i64) -> Option<&'static (i64, VendorErrorKind, Handling, &'static str)> {
    ERRORS.iter().find(|(c, ..)| *c == code)
}

pub fn is_auth_code(code: i64) -> bool {
    error_row(code).is_some_and(|(_, _, h, _)| *h == Handling::Reauth)
}

/// Intents named by a call's other signals: `EventLabel` keys and values
/// (`PTP`, `Correct_Person`, `identity_correct_person`) and
/// `intention_description` ("Promise to pay"). The document names no list
/// ("different robots have different intent labels"), so these are the
/// collections robots' common names; matching ignores case, `_`, `-` and
/// surrounding spaces. Operators add or remap names in `[vendors.tag_intents]`.
pub const SIGNALS: &[(&str, Intent)] = &[
    ("ptp", Intent::PromiseToPay),
    ("promise to pay", Intent::PromiseToPay),
    ("promised to pay", Intent::PromiseToPay),
    ("action item promise to pay", Intent::PromiseToPay),
    ("paid", Intent::Paid),
    ("already paid", Intent::Paid),
    ("refuse", Intent::Refuse),
    ("refuse to pay", Intent::Refuse),
    ("refused to pay", Intent::Refuse),
    ("wrong person", Intent::WrongPerson),
    ("incorrect person", Intent::WrongPerson),
    ("identity wrong person", Intent::WrongPerson),
    ("identity incorrect person", Intent::WrongPerson),
    ("wrong number", Intent::WrongPerson),
    // The right person talked to the robot: a conversation with no clearer
    // result (any stronger signal beside it wins).
    ("correct person", Intent::Undecided),
    ("identity correct person", Intent::Undecided),
    ("call back", Intent::Callback),
    ("callback", Intent::Callback),
    ("call back later", Intent::Callback),
    ("request callback", Intent::Callback),
    ("interested", Intent::Interested),
    ("not interested", Intent::NotInterested),
    ("complaint", Intent::Complaint),
    ("do not call", Intent::DoNotCall),
    ("dnc", Intent::DoNotCall),
    ("dispute", Intent::Dispute),
    ("deny debt", Intent::Dispute),
    ("transfer", Intent::Transferred),
    ("transfer to agent", Intent::Transferred),
];

fn signal_key(text: &str) -> String {
    text.trim().to_lowercase().replace(['_', '-'], " ")
}

/// The strongest intent `texts` name: the operator's `tag_intents` first
/// (so an entry there remaps a built-in name), then [`SIGNALS`].
pub fn signalled_intent<'a>(texts: impl IntoIterator<Item = &'a str>, tags: &TagIntents) -> Option<Intent> {
    texts
        .into_iter()
        .filter_map(|t| {
            tags.intent([t]).or_else(|| {
                let k = signal_key(t);
                SIGNALS.iter().find(|(s, _)| *s == k).map(|(_, i)| *i)
            })
        })
        .max_by_key(|i| strength(*i))
}

/// One dial's fields that decide its outcome.
#[derive(Debug, Clone, Default)]
pub struct Dial<'a> {
    /// `result` (absent on `redail_call[]` entries: they are finished dials).
    pub result: Option<&'a str>,
    pub ring_type: Option<&'a str>,
    pub hangup_type: Option<&'a str>,
    pub label: Option<&'a str>,
    /// Seconds talked (`duration`), when reported.
    pub duration: i64,
    /// What the call's `EventLabel` and `intention_description` say (see
    /// [`signalled_intent`]).
    pub signalled: Option<Intent>,
}

/// The `RESULTS` row of a `result` as sent: any case, both spellings of
/// cancelled.
fn result_row(result: &str) -> Option<&'static (&'static str, bool, Option<Disposition>)> {
    let r = result.trim().to_ascii_lowercase();
    let r = if r == "canceled" { "cancelled".to_string() } else { r };
    RESULTS.iter().find(|(v, ..)| *v == r)
}

/// A row of a `(value, _)` table matched ignoring case (AIRudder writes
/// `Canceled` in `hangup_type` and `canceled` in task statuses).
fn row_of<T>(table: &'static [(&'static str, T)], value: &str) -> Option<&'static (&'static str, T)> {
    let v = value.trim();
    let v = if v.eq_ignore_ascii_case("cancelled") { "Canceled" } else { v };
    table.iter().find(|(k, _)| k.eq_ignore_ascii_case(v))
}

/// A dial as `(final?, outcome)`. The raw code kept is
/// `airudder:<result>/<ring_type>/<hangup_type>` as sent, the raw intent the
/// label. Only the documented final `result` values finish the attempt: an
/// unknown value is progress (`false`), its raw code kept.
pub fn normalize(dial: &Dial<'_>, extra: &BTreeMap<String, LabelMeaning>) -> (bool, Outcome) {
    let result = dial.result.unwrap_or("finished");
    let ring = dial.ring_type.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("null");
    let hangup = dial.hangup_type.map(str::trim).filter(|h| !h.is_empty()).unwrap_or("ByRobot");
    let label = dial.label.map(str::trim).filter(|l| !l.is_empty());
    let meaning = label.and_then(|l| extra.get(l).copied().or_else(|| label_meaning(l)));
    let connected = match meaning {
        Some(LabelMeaning::Connected(_)) => true,
        Some(LabelMeaning::NotConnected) => false,
        // A label this robot's table does not know: talk time or a
        // conversation signal (`EventLabel`, description) says someone answered.
        None => dial.duration > 0 || dial.signalled.is_some(),
    };
    let raw = format!("{}/{ring}/{hangup}", dial.result.map(str::trim).unwrap_or("redial"));
    let result_row = result_row(result);
    let ring_row = row_of(RING_TYPES, ring);
    let hangup_row = row_of(HANGUP_TYPES, hangup);
    let is_final = result_row.is_some_and(|(_, f, _)| *f);
    let disposition = match (result_row, ring_row, hangup_row) {
        (Some((_, _, Some(forced))), _, _) => *forced,
        (_, _, Some((_, Some(forced)))) => *forced,
        (None, ..) | (_, _, None) => Disposition::Unknown,
        (Some((_, false, _)), ..) => Disposition::Unknown,
        _ if connected => Disposition::Answered,
        (_, Some((_, Some(d))), _) => *d,
        (_, None, _) => Disposition::Unknown,
        (Some(("failed", ..)), Some((_, None)), _) => Disposition::VendorError,
        (_, Some((_, None)), _) => Disposition::NoAnswer,
    };
    let mut outcome = Outcome::new(disposition).with_raw_code(KIND, &raw);
    if let Some(l) = label {
        outcome = outcome.with_raw_intent(KIND, l);
    }
    if disposition == Disposition::Answered && (label.is_some() || dial.signalled.is_some()) {
        let coded = match meaning {
            Some(LabelMeaning::Connected(i)) => Some(i),
            _ => None,
        };
        let intent = TagIntents::combine(coded, dial.signalled).unwrap_or(Intent::Unknown);
        outcome = outcome.with_intent(intent);
    }
    (is_final, outcome)
}

fn label_meaning(label: &str) -> Option<LabelMeaning> {
    LABELS.iter().find(|(l, _)| *l == label).map(|(_, m)| *m)
}

#[cfg(test)]
mod tests {
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
}
