//! The sim vendor's code tables: its status and intent labels mapped to the
//! normalized [`Outcome`] model, the way a real vendor's adapter maps its codes.

use crate::domain::outcome::{Disposition, Intent, Outcome};

/// Vendor kind prefix of the raw codes kept in an [`Outcome`].
pub const KIND: &str = "sim";

/// Final call statuses the simulator reports, and what each one means.
pub const STATUS_CODES: &[(&str, Disposition)] = &[
    ("ANSWERED", Disposition::Answered),
    ("NO_ANSWER", Disposition::NoAnswer),
    ("BUSY", Disposition::Busy),
    ("REJECTED", Disposition::Rejected),
    ("POWER_OFF", Disposition::PowerOff),
    ("UNREACHABLE", Disposition::Unreachable),
    ("VACANT", Disposition::Vacant),
    ("OUT_OF_SERVICE", Disposition::OutOfService),
    ("VOICEMAIL", Disposition::Voicemail),
    ("BLOCKED", Disposition::Blocked),
    ("CALL_LOSS", Disposition::CallLoss),
    ("FAILED", Disposition::VendorError),
    ("CANCELLED", Disposition::Cancelled),
];

/// Conversation labels the simulator reports for answered calls.
pub const INTENT_CODES: &[(&str, Intent)] = &[
    ("PTP", Intent::PromiseToPay),
    ("PAID", Intent::Paid),
    ("REFUSE", Intent::Refuse),
    ("WRONG", Intent::WrongPerson),
    ("COMPLAINT", Intent::Complaint),
    ("CALLBACK", Intent::Callback),
    ("INTERESTED", Intent::Interested),
    ("NOT_INTERESTED", Intent::NotInterested),
    ("UNDECIDED", Intent::Undecided),
    ("DO_NOT_CALL", Intent::DoNotCall),
    ("DISPUTE", Intent::Dispute),
    ("TRANSFERRED", Intent::Transferred),
    ("UNKNOWN", Intent::Unknown),
];

/// The status the simulator reports for a call it did not dial.
pub const CANCELLED: &str = "CANCELLED";

/// The intent of a callee who asked to be called back.
pub const CALLBACK: &str = "CALLBACK";

/// Map a sim result to the normalized [`Outcome`], keeping the raw codes as
/// `sim:<status>` / `sim:<intent>`. An unknown status maps to
/// [`Disposition::Unknown`], an unknown intent to [`Intent::Unknown`].
pub fn normalize(status: &str, intent: Option<&str>) -> Outcome {
    let disposition = STATUS_CODES.iter().find(|(code, _)| *code == status).map_or(Disposition::Unknown, |(_, d)| *d);
    let mut outcome = Outcome::new(disposition).with_raw_code(KIND, status);
    if let Some(label) = intent {
        let mapped = INTENT_CODES.iter().find(|(code, _)| *code == label).map_or(Intent::Unknown, |(_, i)| *i);
        outcome = outcome.with_intent(mapped).with_raw_intent(KIND, label);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_status_row_normalizes_to_its_disposition() {
        for (code, disposition) in STATUS_CODES {
            let o = normalize(code, None);
            assert_eq!(o.disposition, *disposition, "{code}");
            assert_eq!(o.raw_code.as_deref(), Some(format!("sim:{code}").as_str()));
            assert_eq!(o.intent, None);
            assert_eq!(o.raw_intent, None);
        }
    }

    #[test]
    fn every_intent_row_normalizes_to_its_intent() {
        for (code, intent) in INTENT_CODES {
            let o = normalize("ANSWERED", Some(code));
            assert_eq!(o.disposition, Disposition::Answered);
            assert_eq!(o.intent, Some(*intent), "{code}");
            assert_eq!(o.raw_intent.as_deref(), Some(format!("sim:{code}").as_str()));
        }
    }

    #[test]
    fn tables_have_no_duplicate_codes_and_cover_the_model() {
        let statuses: HashSet<_> = STATUS_CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(statuses.len(), STATUS_CODES.len());
        let intents: HashSet<_> = INTENT_CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(intents.len(), INTENT_CODES.len());
        // Every disposition except Unknown is reachable from some sim status.
        for d in Disposition::ALL.iter().filter(|d| **d != Disposition::Unknown) {
            assert!(STATUS_CODES.iter().any(|(_, m)| m == d), "{d} has no sim status");
        }
        for i in Intent::ALL {
            assert!(INTENT_CODES.iter().any(|(_, m)| m == i), "{i} has no sim intent");
        }
        assert!(statuses.contains(CANCELLED));
    }

    /// Every code the simulator can send is in a table here.
    #[test]
    fn every_code_the_simulator_sends_is_mapped() {
        let statuses: Vec<&str> = STATUS_CODES.iter().map(|(c, _)| *c).collect();
        let intents: Vec<&str> = INTENT_CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(statuses, doubles::sim::codes::STATUS_CODES);
        assert_eq!(intents, doubles::sim::codes::INTENT_CODES);
    }

    #[test]
    fn unknown_codes_keep_their_raw_value() {
        let o = normalize("HUNG_UP_EARLY", Some("MAYBE_LATER"));
        assert_eq!(o.disposition, Disposition::Unknown);
        assert_eq!(o.raw_code.as_deref(), Some("sim:HUNG_UP_EARLY"));
        assert_eq!(o.intent, Some(Intent::Unknown));
        assert_eq!(o.raw_intent.as_deref(), Some("sim:MAYBE_LATER"));
        // Codes are case-sensitive, as on the wire.
        assert_eq!(normalize("answered", None).disposition, Disposition::Unknown);
    }
}
