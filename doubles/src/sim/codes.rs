//! The sim vendor's codes: the final call statuses and the conversation
//! labels it reports (the daemon's adapter maps each to its outcome model).

/// Final call statuses.
pub const STATUS_CODES: &[&str] = &[
    "ANSWERED",
    "NO_ANSWER",
    "BUSY",
    "REJECTED",
    "POWER_OFF",
    "UNREACHABLE",
    "VACANT",
    "OUT_OF_SERVICE",
    "VOICEMAIL",
    "BLOCKED",
    "CALL_LOSS",
    "FAILED",
    "CANCELLED",
];

/// Conversation labels of answered calls.
pub const INTENT_CODES: &[&str] = &[
    "PTP",
    "PAID",
    "REFUSE",
    "WRONG",
    "COMPLAINT",
    "CALLBACK",
    "INTERESTED",
    "NOT_INTERESTED",
    "UNDECIDED",
    "DO_NOT_CALL",
    "DISPUTE",
    "TRANSFERRED",
    "UNKNOWN",
];

/// The status of a call the simulator did not dial.
pub const CANCELLED: &str = "CANCELLED";

/// The intent of a callee who asked to be called back.
pub const CALLBACK: &str = "CALLBACK";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_have_no_duplicates_and_name_the_special_codes() {
        assert_eq!(STATUS_CODES.iter().collect::<HashSet<_>>().len(), STATUS_CODES.len());
        assert_eq!(INTENT_CODES.iter().collect::<HashSet<_>>().len(), INTENT_CODES.len());
        assert!(STATUS_CODES.contains(&CANCELLED) && INTENT_CODES.contains(&CALLBACK));
    }
}
