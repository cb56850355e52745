//! ITNIO "AI voice" code tables: the platform's reply codes (classification)
//! and the push's `resultStatus` / intent level (normalized outcome).

use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::domain::tags::TagIntents;
use crate::vendors::itnio_family::sign::{Class, CodeRow};
use std::collections::BTreeMap;

/// Vendor kind prefix of the raw codes kept in an [`Outcome`].
pub const KIND: &str = "ai-voice";

/// Every reply code of the document, classified. −33 (task name exists) is
/// regenerated and retried once by the adapter.
pub const REPLY_CODES: &[CodeRow] = &[
    (0, "Success", Class::Success),
    (-1, "Authentication error", Class::Fatal),
    (-3, "The customer's balance is insufficient", Class::Fatal),
    (-4, "Timestamp expires (clock skew)", Class::Fatal),
    (-5, "Port program unusual (vendor server error)", Class::RetryLater),
    (-6, "Restricted IP access", Class::Fatal),
    (-12, "Getting fee failed (no rate configured)", Class::Fatal),
    (-27, "Abnormal parameter verification", Class::Fatal),
    (-28, "Automatic mode, the task start time cannot be empty", Class::Fatal),
    (-29, "Redial rule parameters abnormal", Class::Fatal),
    (-30, "Redial interval parameters abnormal", Class::Fatal),
    (-31, "Redial parameters abnormal", Class::Fatal),
    (-32, "Outbound task does not exist", Class::Fatal),
    (-33, "Outbound task name already exists", Class::Handled),
    (-35, "Customer information import failed", Class::RetryLater),
    (-37, "Application does not exist", Class::Fatal),
    // Stop: the task already ended (handled as done by cancel), else a misuse.
    (-38, "The current task cannot be paused", Class::Handled),
    (-39, "The current task cannot be started", Class::Fatal),
    (-41, "ID parameter abnormal", Class::Fatal),
    (-42, "The application name already exists", Class::Fatal),
    (-43, "Rates don't exist", Class::Fatal),
    (-44, "Do not delete the current task", Class::Fatal),
    (-45, "Not import customer, can't start", Class::Fatal),
    (-46, "Network exception or parameter error", Class::RetryLater),
    (-47, "Network is busy, please try again later", Class::RetryLater),
    // Asked outside 09:00-20:00: the adapter refuses before sending; later is fine.
    (-48, "Create a daily dial-up task between 9:00-20:00", Class::RetryLater),
    (-49, "Account not authenticated", Class::Fatal),
    (-50, "Application not quoted", Class::Fatal),
    (-51, "Customer custom property is incomplete", Class::Fatal),
    (-52, "The number of concurrent requests exceeds the upper limit", Class::RetryLater),
    // Our batches have unique numbers in a fresh task: a duplicate is our bug.
    (-53, "The customer already exists in this task", Class::Fatal),
    // Stop: the task's status no longer changes (ended): handled as done by cancel.
    (-54, "The current task status cannot be modified", Class::Handled),
    (-55, "This type of operation is not allowed in the word unbinding", Class::Fatal),
    (-56, "Exceed import limit, Max. 100 entries", Class::Fatal),
    (-57, "The Sign cannot be empty", Class::Fatal),
    (-58, "The Timestamp cannot be empty", Class::Fatal),
    (-59, "The Api-Key cannot be empty", Class::Fatal),
    (-60, "Intent level tag not found", Class::Fatal),
];

/// `resultStatus` of the push.
pub const RESULT_STATUS: &[(&str, Disposition)] = &[
    ("ANSWERED", Disposition::Answered),            // answer
    ("NO_ANSWER", Disposition::NoAnswer),           // no answer
    ("BUSY", Disposition::Busy),                    // busy line
    ("POWER_OFF", Disposition::PowerOff),           // shutdown
    ("OUT_OF_SERVICE", Disposition::OutOfService),  // out of service (documented as "shutdown")
    ("REFUSED", Disposition::Rejected),             // rejected
    ("VACANT_NUMBER", Disposition::Vacant),         // empty number
    ("CAN_NOT_CONNECT", Disposition::Unreachable),  // cannot connect
    ("FROM_PHONE_ERROR", Disposition::VendorError), // caller line in arrears: vendor-side failure
    ("SYSTEM_ERROR", Disposition::VendorError),     // outbound call failed
    ("CALL_LOSS", Disposition::CallLoss),           // call lost (customer)
    // Document line "TRANSFER_ARTIFICIAL : transfer to manual call loss": the
    // robot talked with the customer and handed the call to a human agent
    // (whose leg may then be lost). The customer was reached: a conversation
    // with intent `transferred`, unless a stronger intent is known (was
    // `call_loss`, which recall rules redial as if nobody had answered).
    ("TRANSFER_ARTIFICIAL", Disposition::Answered),
];

/// The status after which a human agent took the call over.
pub const TRANSFER: &str = "TRANSFER_ARTIFICIAL";

/// Default intent of the Yiwise intent grades (`intentLevelDetailName` starts
/// with the grade letter, e.g. "A级(较强意向)"); `options.intent_labels` overrides.
pub const INTENT_LEVELS: &[(&str, Intent)] = &[
    ("A", Intent::Interested),    // strong intent
    ("B", Intent::Interested),    // some intent
    ("C", Intent::Undecided),     // simple conversation, no clear answer
    ("D", Intent::NotInterested), // refused / no intent
    ("E", Intent::Callback),      // customer busy: call back
    ("F", Intent::Unknown),       // invalid conversation: intent unknown
];

/// What a push says about the conversation besides its status: the
/// intent grade name and the intent its tags map to (with the tag).
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals<'a> {
    pub level: Option<&'a str>,
    pub tagged: Option<(Intent, &'a str)>,
}

/// The outcome of one push: `ai-voice:<resultStatus>` (matched without
/// regard to case; the raw code keeps it as sent), for conversations the
/// intent of the level name (`labels` first, then the grade letter), and a
/// tag's intent when it is the stronger signal (a complaint tag on a call
/// graded "A" still suppresses). A missing status is `unknown`
/// (`ai-voice:none`): the vendor reported a call without saying how it went.
pub fn normalize(status: Option<&str>, signals: Signals<'_>, labels: &BTreeMap<String, Intent>) -> Outcome {
    let status = status.map(str::trim).filter(|s| !s.is_empty());
    let key = status.map(str::to_ascii_uppercase);
    let d = (key.as_deref())
        .and_then(|k| RESULT_STATUS.iter().find(|(c, _)| *c == k))
        .map_or(Disposition::Unknown, |(_, d)| *d);
    let mut outcome = Outcome::new(d).with_raw_code(KIND, status.unwrap_or("none"));
    let level = signals.level.map(str::trim).filter(|l| !l.is_empty());
    let graded = level.map(|l| {
        labels.get(l).copied().or_else(|| {
            let letter = l.chars().next().map(|c| c.to_ascii_uppercase().to_string())?;
            INTENT_LEVELS.iter().find(|(g, _)| *g == letter).map(|(_, i)| *i)
        })
    });
    let coded = match (d, key.as_deref()) {
        (Disposition::Answered, Some(TRANSFER)) => TagIntents::combine(Some(Intent::Transferred), graded.flatten()),
        (Disposition::Answered, _) => Some(graded.flatten().unwrap_or(Intent::Unknown)),
        _ => None,
    };
    let tagged = signals.tagged.map(|(i, _)| i);
    let intent = TagIntents::combine(coded, tagged);
    // The raw intent names what decided it: the grade as sent, and the tag
    // when a tag won.
    let tag_won = tagged.is_some() && intent == tagged && intent != coded;
    let mut raw: Vec<String> = Vec::new();
    if let Some(l) = level.filter(|_| d == Disposition::Answered) {
        raw.push(l.to_string());
    }
    if let Some((_, tag)) = signals.tagged.filter(|_| tag_won) {
        raw.push(format!("tag:{tag}"));
    }
    if let Some(i) = intent {
        outcome = outcome.with_intent(i);
    }
    if !raw.is_empty() {
        outcome = outcome.with_raw_intent(KIND, &raw.join(";"));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn graded(level: &str) -> Signals<'_> {
        Signals { level: Some(level), tagged: None }
    }

    #[test]
    fn every_result_status_maps_as_intended() {
        let map: HashMap<&str, Disposition> = RESULT_STATUS.iter().copied().collect();
        assert_eq!(map.len(), 12);
        for (code, d) in RESULT_STATUS {
            let o = normalize(Some(code), Signals::default(), &BTreeMap::new());
            assert_eq!(o.disposition, *d, "{code}");
            assert_ne!(o.disposition, Disposition::Unknown, "{code}");
            assert_eq!(o.raw_code, Some(format!("ai-voice:{code}")));
        }
        assert_eq!(map["FROM_PHONE_ERROR"], Disposition::VendorError);
        assert_eq!(map["REFUSED"], Disposition::Rejected);
        assert_eq!(map["VACANT_NUMBER"], Disposition::Vacant);
        // Every spelling of a status word.
        let o = normalize(Some(" busy "), Signals::default(), &BTreeMap::new());
        assert_eq!((o.disposition, o.raw_code.as_deref()), (Disposition::Busy, Some("ai-voice:busy")));
    }

    #[test]
    fn a_transfer_to_a_human_is_a_conversation() {
        let none = BTreeMap::new();
        let o = normalize(Some("TRANSFER_ARTIFICIAL"), Signals::default(), &none);
        assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::Transferred)));
        assert_eq!(o.raw_code.as_deref(), Some("ai-voice:TRANSFER_ARTIFICIAL"));
        // A stronger grade or tag wins; a weaker one does not.
        assert_eq!(normalize(Some("TRANSFER_ARTIFICIAL"), graded("A级"), &none).intent, Some(Intent::Interested));
        assert_eq!(normalize(Some("TRANSFER_ARTIFICIAL"), graded("F级"), &none).intent, Some(Intent::Transferred));
        let complaint = Signals { level: Some("F级"), tagged: Some((Intent::Complaint, "投诉")) };
        let o = normalize(Some("TRANSFER_ARTIFICIAL"), complaint, &none);
        assert_eq!(o.intent, Some(Intent::Complaint));
        assert_eq!(o.raw_intent.as_deref(), Some("ai-voice:F级;tag:投诉"));
    }

    #[test]
    fn tags_give_intents_on_any_call() {
        let none = BTreeMap::new();
        let complaint = Signals { level: Some("A级"), tagged: Some((Intent::Complaint, "投诉")) };
        let o = normalize(Some("ANSWERED"), complaint, &none);
        assert_eq!(o.intent, Some(Intent::Complaint), "a complaint tag beats grade A");
        let weak = Signals { level: Some("A级"), tagged: Some((Intent::Transferred, "转人工")) };
        let o = normalize(Some("ANSWERED"), weak, &none);
        assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Interested), Some("ai-voice:A级")));
        // A customer tagged as a complainer on a call nobody answered.
        let o = normalize(Some("NO_ANSWER"), Signals { level: None, tagged: Some((Intent::Complaint, "投诉")) }, &none);
        assert_eq!((o.disposition, o.intent), (Disposition::NoAnswer, Some(Intent::Complaint)));
        assert_eq!(o.raw_intent.as_deref(), Some("ai-voice:tag:投诉"));
    }

    #[test]
    fn intent_levels_and_overrides() {
        for (grade, intent) in INTENT_LEVELS {
            let label = format!("{grade}级");
            let o = normalize(Some("ANSWERED"), graded(&label), &BTreeMap::new());
            assert_eq!(o.intent, Some(*intent), "{grade}");
            assert_eq!(o.raw_intent, Some(format!("ai-voice:{label}")));
            if *intent == Intent::Unknown {
                assert_eq!(*grade, "F", "only the invalid-conversation grade means unknown");
            }
        }
        let labels: BTreeMap<String, Intent> = [("承诺还款".to_string(), Intent::PromiseToPay)].into();
        assert_eq!(normalize(Some("ANSWERED"), graded("承诺还款"), &labels).intent, Some(Intent::PromiseToPay));
        // No intent on unanswered calls.
        assert_eq!(normalize(Some("BUSY"), graded("A"), &labels).intent, None);
    }

    #[test]
    fn unknown_codes_keep_their_raw_value() {
        let o = normalize(Some("RINGING_FOREVER"), Signals::default(), &BTreeMap::new());
        assert_eq!(o.disposition, Disposition::Unknown);
        assert_eq!(o.raw_code.as_deref(), Some("ai-voice:RINGING_FOREVER"));
        let o = normalize(None, Signals::default(), &BTreeMap::new());
        assert_eq!((o.disposition, o.raw_code.as_deref()), (Disposition::Unknown, Some("ai-voice:none")));
        let o = normalize(Some("ANSWERED"), graded("Z-level"), &BTreeMap::new());
        assert_eq!(o.intent, Some(Intent::Unknown));
        assert_eq!(o.raw_intent.as_deref(), Some("ai-voice:Z-level"));
    }

    #[test]
    fn every_reply_code_is_classified() {
        let codes: HashSet<i64> = REPLY_CODES.iter().map(|r| r.0).collect();
        assert_eq!(codes.len(), REPLY_CODES.len());
        assert_eq!(codes.len(), 38, "0 and the 37 error codes of the document");
        let class = |c: i64| REPLY_CODES.iter().find(|r| r.0 == c).unwrap().2;
        for c in [-52, -47, -48, -5] {
            assert_eq!(class(c), Class::RetryLater, "{c}");
        }
        for c in [-1, -3, -4, -6, -49, -56, -57, -58, -59] {
            assert_eq!(class(c), Class::Fatal, "{c}");
        }
        assert_eq!(class(-33), Class::Handled);
        for code in doubles::ai_voice::CODES {
            let status = code.split(':').next().unwrap();
            assert!(RESULT_STATUS.iter().any(|(c, _)| *c == status), "{code}");
        }
        assert!(doubles::ai_voice::DEFAULTS.iter().all(|(c, _)| doubles::ai_voice::CODES.contains(c)));
    }
}
