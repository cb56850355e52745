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
#[path = "codes_tests.rs"]
mod tests;
