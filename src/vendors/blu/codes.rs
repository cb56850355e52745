//! Blu's code tables (annex "Dictionary of call conclusions") mapped to the
//! normalized [`Outcome`], and the classification of its API error codes.

use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::vendors::VendorErrorKind;

pub const KIND: &str = "blu";

/// "Empty stop detection conclusion field": the line status of a dial.
pub const LINE_STATUS: &[(&str, Disposition, Option<Intent>)] = &[
    ("D00", Disposition::NoAnswer, None),     // Ringing (no one picked up)
    ("D01", Disposition::Busy, None),         // Busy signal
    ("D02", Disposition::PowerOff, None),     // Off (powered off)
    ("D03", Disposition::Vacant, None),       // Number does not exist
    ("D04", Disposition::OutOfService, None), // Out of service
    ("D05", Disposition::Unreachable, None),  // Muted (silent line)
    ("D06", Disposition::Unreachable, None),  // Not connected
    ("D07", Disposition::Vacant, None),       // Number not activated
    ("D08", Disposition::Voicemail, None),    // Pending transfer (to voicemail)
    ("D09", Disposition::NoAnswer, None),     // Ringing with ringback music
    ("D10", Disposition::NoAnswer, None),     // Merchant number (music)
    ("D90", Disposition::Unknown, None),      // Unidentified (the vendor does not know)
    ("D91", Disposition::Unreachable, None),  // Unable to be connected at the moment
    ("D99", Disposition::Answered, None),     // Connected
    ("NAN", Disposition::Unknown, None),      // Unknown results
];

/// "Dictionary of special conclusions": vendor-side failures, no call made
/// or the call broke on Blu's side.
pub const SPECIAL: &[(&str, Disposition, Option<Intent>)] = &[
    ("ROBOTERROR", Disposition::VendorError, None), // Incorrect robot number (our task/robot config)
    ("STERROR", Disposition::VendorError, None),    // Strategy value error
    ("OVERERROR", Disposition::VendorError, None),  // Failure to give hang-up instructions (likely quota)
    ("LICERROR", Disposition::VendorError, None),   // Authorization (licence) error: account problem
];

/// Robot communication conclusion dictionary #1 (collections).
pub const DICT1: &[(&str, Disposition, Option<Intent>)] = &[
    ("LMS", Disposition::Voicemail, None),                            // Voicemail
    ("Busy", Disposition::Answered, Some(Intent::Callback)),          // User busy (call later)
    ("AP", Disposition::Answered, Some(Intent::Paid)),                // Paid back
    ("HPTP", Disposition::Answered, Some(Intent::PromiseToPay)),      // Promise to repay, no clear timeframe
    ("NOST", Disposition::Answered, Some(Intent::Refuse)),            // No agreement could be reached
    ("NotOneself", Disposition::Answered, Some(Intent::WrongPerson)), // Not oneself
    ("CPL", Disposition::Answered, Some(Intent::Complaint)),          // Inclined to complain
    ("unknown", Disposition::Answered, Some(Intent::Unknown)),        // Unknown intention
    ("undefined", Disposition::Answered, Some(Intent::Unknown)),      // Undefined (built in the system)
];

/// Robot communication conclusion dictionary #2 (general).
pub const DICT2: &[(&str, Disposition, Option<Intent>)] = &[
    ("Voicemail", Disposition::Voicemail, None),                  // Voicemail
    ("Willing", Disposition::Answered, Some(Intent::Interested)), // Willing to be contacted
    ("Unwilling", Disposition::Answered, Some(Intent::NotInterested)), // Unwilling to be contacted
    ("Donotknow", Disposition::Answered, Some(Intent::WrongPerson)), // Does not know the customer
    ("Busy", Disposition::Answered, Some(Intent::Callback)),      // User busy
    ("Whichcompany", Disposition::Answered, Some(Intent::Undecided)), // Asks which company is calling
    ("Complan", Disposition::Answered, Some(Intent::Complaint)),  // Complaints, cursing, stop calling
    ("Undecided", Disposition::Answered, Some(Intent::Undecided)), // Unknown intention
    ("Unconnected", Disposition::NoAnswer, None),                 // Not connected
    ("Taskcancel", Disposition::Cancelled, None),                 // Task cancelled (not dialed)
];

fn find<'a>(
    tables: &[&'a [(&'a str, Disposition, Option<Intent>)]],
    code: &str,
) -> Option<&'a (&'a str, Disposition, Option<Intent>)> {
    let code = code.trim();
    tables.iter().flat_map(|t| t.iter()).find(|(c, _, _)| *c == code)
}

/// Map a record's line status and conclusion to the normalized [`Outcome`].
/// The line status decides the disposition; the conclusion gives the intent,
/// turns an answered call into voicemail (`LMS`/`Voicemail`) and a record
/// into a cancelled one (`Taskcancel`), and decides alone when there is no
/// known line status. Raw codes are kept as `blu:<code>`.
pub fn normalize(call_status: Option<&str>, intention: Option<&str>) -> Outcome {
    let status = call_status.map(|s| (s, find(&[LINE_STATUS, SPECIAL], s)));
    let label = intention.map(|l| (l, find(&[DICT1, DICT2], l)));
    let from_status = status.and_then(|(_, row)| row.map(|r| r.1)).filter(|d| *d != Disposition::Unknown);
    let from_label = label.and_then(|(_, row)| row.map(|r| r.1));
    let disposition = match (from_status, from_label) {
        (_, Some(Disposition::Cancelled)) => Disposition::Cancelled,
        (Some(Disposition::Answered), Some(Disposition::Voicemail)) => Disposition::Voicemail,
        (Some(d), _) => d,
        (None, Some(d)) => d,
        (None, None) => Disposition::Unknown,
    };
    let mut outcome = Outcome::new(disposition);
    if let Some((code, _)) = status {
        outcome = outcome.with_raw_code(KIND, code);
    } else if let Some((code, _)) = label {
        outcome = outcome.with_raw_code(KIND, code);
    }
    if let Some((code, row)) = label {
        match row {
            Some((_, _, Some(intent))) => outcome = outcome.with_intent(*intent).with_raw_intent(KIND, code),
            Some((_, _, None)) => outcome = outcome.with_raw_intent(KIND, code),
            None => outcome = outcome.with_intent(Intent::Unknown).with_raw_intent(KIND, code),
        }
    }
    outcome
}

/// Blu's API envelope codes. Only 2000 (success) is public; the rest are
/// the adapter's assumptions (served the same way by the fake), kept in one
/// table so they are easy to correct. Unknown codes are fatal.
pub const API_ERRORS: &[(&str, VendorErrorKind, &str)] = &[
    ("4001", VendorErrorKind::Fatal, "sign verification failed (appId/appKey)"),
    ("4002", VendorErrorKind::Fatal, "timeStamp expired (clock skew over 5 minutes)"),
    ("4003", VendorErrorKind::Fatal, "appId unknown or account disabled"),
    ("4004", VendorErrorKind::Fatal, "bad parameter"),
    ("4005", VendorErrorKind::Fatal, "more than 200 records in one upload"),
    ("4006", VendorErrorKind::Fatal, "taskId expired or unknown (check task_timezone / task_id_template)"),
    ("4010", VendorErrorKind::Fatal, "insufficient balance / licence"),
    ("4029", VendorErrorKind::RetryLater, "too many requests"),
    ("5000", VendorErrorKind::RetryLater, "system busy"),
    ("5001", VendorErrorKind::RetryLater, "service unavailable"),
];

/// How an API error code is treated; `extra_retry` are the operator's
/// `retry_later_codes`.
pub fn classify(code: &str, extra_retry: &[String]) -> (VendorErrorKind, &'static str) {
    if extra_retry.iter().any(|c| c == code) {
        return (VendorErrorKind::RetryLater, "listed in retry_later_codes");
    }
    API_ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or((VendorErrorKind::Fatal, "undocumented code"), |(_, k, m)| (*k, *m))
}
