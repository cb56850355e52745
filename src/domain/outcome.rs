//! The normalized outcome model: every vendor's result codes become a
//! [`Disposition`] (what happened on the line) plus an [`Intent`] (what the
//! conversation produced). The raw vendor codes are always kept beside them so
//! nothing is lost when a mapping is wrong or a code is new.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::named_enum::named_enum;

named_enum!(
    /// Normalized telephony outcome of one dial.
    Disposition {
        Answered => "answered",
        NoAnswer => "no_answer",
        Busy => "busy",
        Rejected => "rejected",
        PowerOff => "power_off",
        Unreachable => "unreachable",
        Vacant => "vacant",
        OutOfService => "out_of_service",
        Voicemail => "voicemail",
        Blocked => "blocked",
        CallLoss => "call_loss",
        VendorError => "vendor_error",
        Cancelled => "cancelled",
        Unknown => "unknown",
    }
);

named_enum!(
    /// Normalized conversation outcome (bot intent label).
    Intent {
        PromiseToPay => "promise_to_pay",
        Paid => "paid",
        Refuse => "refuse",
        WrongPerson => "wrong_person",
        Complaint => "complaint",
        Callback => "callback",
        Interested => "interested",
        NotInterested => "not_interested",
        /// Talked, but gave no clear answer (e.g. "undecided", "don't know").
        Undecided => "undecided",
        /// Asked not to be called again (stronger than a refusal).
        DoNotCall => "do_not_call",
        /// Disputes the debt itself (denies the loan, "not my debt"): not a
        /// refusal to pay, so refuse-retry rules must not keep calling.
        Dispute => "dispute",
        /// The bot handed the call to a human agent (ITNIO
        /// `TRANSFER_ARTIFICIAL`): a conversation took place.
        Transferred => "transferred",
        Unknown => "unknown",
    }
);

impl Disposition {
    /// True when a human (or a voicemail box) picked up, so the dial counts as a
    /// conversation for reporting.
    pub fn is_connected(self) -> bool {
        matches!(self, Disposition::Answered | Disposition::Voicemail)
    }
}

/// One normalized result of one dial, with the vendor's raw codes kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub disposition: Disposition,
    pub intent: Option<Intent>,
    /// Raw telephony/result code as `vendor_kind:code`, e.g. `blu:D01`.
    pub raw_code: Option<String>,
    /// Raw intent label as the vendor sent it, e.g. `blu:HPTP`.
    pub raw_intent: Option<String>,
    /// The callee asked to be called (back) at this time: a callback slot the
    /// bot extracted, or a promised payment time. A retry decided by the
    /// recall policy is due then instead of after the rule's interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
}

impl Outcome {
    pub fn new(disposition: Disposition) -> Self {
        Outcome { disposition, intent: None, raw_code: None, raw_intent: None, requested_at: None }
    }
    pub fn with_requested_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.requested_at = at;
        self
    }
    pub fn with_intent(mut self, intent: Intent) -> Self {
        self.intent = Some(intent);
        self
    }
    pub fn with_raw_code(mut self, vendor_kind: &str, code: &str) -> Self {
        self.raw_code = Some(format!("{vendor_kind}:{code}"));
        self
    }
    pub fn with_raw_intent(mut self, vendor_kind: &str, label: &str) -> Self {
        self.raw_intent = Some(format!("{vendor_kind}:{label}"));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_disposition_round_trips_through_its_name() {
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>().unwrap(), *d);
        }
        for i in Intent::ALL {
            assert_eq!(i.as_str().parse::<Intent>().unwrap(), *i);
        }
    }

    #[test]
    fn unknown_name_is_an_error_that_lists_the_choices() {
        let err = "bussy".parse::<Disposition>().unwrap_err().to_string();
        assert!(err.contains("bussy") && err.contains("no_answer"), "{err}");
    }
}
