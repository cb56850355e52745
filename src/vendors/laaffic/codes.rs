//! Laaffic's code tables: reply codes of the API (classification) and the
//! intent codes of the result push (normalized outcome).

use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::vendors::itnio_family::sign::{Class, CodeRow};

/// Vendor kind prefix of the raw codes kept in an [`Outcome`].
pub const KIND: &str = "laaffic";

/// Every reply code of the create-task document, classified.
pub const REPLY_CODES: &[CodeRow] = &[
    (0, "成功 success", Class::Success),
    (-1, "賬號認證異常 authentication failed", Class::Fatal),
    (-2, "ip限制 IP not allowed", Class::Fatal),
    (-10, "餘額不足 insufficient balance", Class::Fatal),
    (-16, "時間戳過期 timestamp expired (clock skew)", Class::Fatal),
    (-18, "系統異常 vendor system error", Class::RetryLater),
    (-20, "數據已存在 data already exists", Class::Fatal),
    (-21, "數據校驗異常 data validation failed", Class::Fatal),
    (-22, "參數異常 bad parameter", Class::Fatal),
    // An account or request quota: the circuit's cooldown is the right wait.
    (-23, "數據上限 data limit reached", Class::Fatal),
    (-24, "數據不存在 data does not exist (appId/agent/task)", Class::Fatal),
    (-26, "獲取費率失敗 no rate for the destination", Class::Fatal),
    (-35, "沒有被叫號碼 no callee number", Class::Fatal),
    (-37, "too many concurrent group-call tasks", Class::RetryLater),
    (-38, "轉換文本和語言類型必填 text and language type required", Class::Fatal),
    (-39, "獲取文本語言類型失敗 cannot get the text language type", Class::Fatal),
    // Regenerated and retried once by the adapter.
    (-41, "任務名稱已經存在 task name already exists", Class::Handled),
    (-46, "daily long-text-to-speech quota (5) used up", Class::Fatal),
    (-53, "掛機短信觸發條件必須有一個 hang-up SMS needs a trigger", Class::Fatal),
    (-60, "AI話術模板不存在 AI script template does not exist", Class::Fatal),
    (-68, "agent industry intents do not match the recall intents", Class::Fatal),
];

/// Intent codes of the push (the document's 編碼對應表), each with the line
/// disposition and the conversation intent it implies. Rows with no intent
/// were not connected; 102/104 and their 20x/30x twins mean "unknown" in the
/// vendor's own words (no answer from the customer / intent unknown).
pub const INTENT_CODES: &[(&str, Disposition, Option<Intent>)] = &[
    ("99998", Disposition::Cancelled, None), // 未呼叫 not called (task ended/cancelled first)
    ("99999", Disposition::NoAnswer, None),  // 已呼叫未接通 called, not connected (refined by sipCode)
    // IG marketing (10x)
    ("101", Disposition::Voicemail, None),                    // 語音信箱 voicemail
    ("102", Disposition::Answered, Some(Intent::Unknown)),    // 客戶無回應 customer silent
    ("104", Disposition::Answered, Some(Intent::Unknown)),    // 客戶意向未知 intent unknown
    ("105", Disposition::Answered, Some(Intent::Interested)), // 客戶明確有意向 clearly interested
    ("106", Disposition::Answered, Some(Intent::NotInterested)), // 客戶明確無意向 clearly not interested
    // Financial collections (20x)
    ("201", Disposition::Voicemail, None),                 // 語音信箱 voicemail
    ("202", Disposition::Answered, Some(Intent::Unknown)), // 客戶無回應 customer silent
    ("204", Disposition::Answered, Some(Intent::Unknown)), // 客戶還款意向未知 repayment intent unknown
    ("205", Disposition::Answered, Some(Intent::PromiseToPay)), // 承諾還款:按時還款 will pay on time
    ("206", Disposition::Answered, Some(Intent::PromiseToPay)), // 承諾還款:延期還款 will pay late
    ("207", Disposition::Answered, Some(Intent::Refuse)),  // 無法還款:主觀拒絕還款 refuses to pay
    // Document line "208 客戶無法還款:否認借貸" (cannot repay: denies the loan):
    // the debt itself is disputed, not a refusal to pay; refuse-retry rules
    // must not keep calling (was `refuse`).
    ("208", Disposition::Answered, Some(Intent::Dispute)),
    ("209", Disposition::Answered, Some(Intent::Callback)), // 無法還款:需要申請分期 needs instalments: follow up
    ("2010", Disposition::Answered, Some(Intent::Paid)),    // 客戶已還款 already paid
    // Financial marketing (30x)
    ("301", Disposition::Voicemail, None),                    // 語音信箱 voicemail
    ("302", Disposition::Answered, Some(Intent::Unknown)),    // 客戶無回應 customer silent
    ("304", Disposition::Answered, Some(Intent::Unknown)),    // 客戶意向未知 intent unknown
    ("305", Disposition::Answered, Some(Intent::Interested)), // 客戶明確有意向 clearly interested
    ("306", Disposition::Answered, Some(Intent::NotInterested)), // 客戶明確無意向 clearly not interested
];

/// Standard SIP final codes (the push's `sipCode`) refining an unconnected call.
pub const SIP_CODES: &[(i64, Disposition)] = &[
    (403, Disposition::Blocked),      // Forbidden
    (404, Disposition::Vacant),       // Not Found: no such number
    (408, Disposition::NoAnswer),     // Request Timeout
    (410, Disposition::OutOfService), // Gone
    (480, Disposition::NoAnswer),     // Temporarily Unavailable
    (484, Disposition::Vacant),       // Address Incomplete
    (486, Disposition::Busy),         // Busy Here
    (487, Disposition::NoAnswer),     // Request Terminated (ring timeout)
    (500, Disposition::VendorError),  // Server Internal Error
    (502, Disposition::Unreachable),  // Bad Gateway
    (503, Disposition::Unreachable),  // Service Unavailable
    (600, Disposition::Busy),         // Busy Everywhere
    (603, Disposition::Rejected),     // Decline
    (604, Disposition::Vacant),       // Does Not Exist Anywhere
];

/// The outcome of one push record: the intent code decides (raw code
/// `laaffic:<intent>`); an unconnected call is refined by its SIP code; without
/// an intent code, `terminationCode` 0 means answered.
pub fn normalize(intent: Option<&str>, termination_code: Option<i64>, sip_code: Option<i64>) -> Outcome {
    let sip = |fallback: Disposition| {
        sip_code.and_then(|s| SIP_CODES.iter().find(|(c, _)| *c == s)).map_or(fallback, |(_, d)| *d)
    };
    match intent.map(str::trim).filter(|s| !s.is_empty()) {
        Some(code) => match INTENT_CODES.iter().find(|(c, _, _)| *c == code) {
            Some((_, Disposition::NoAnswer, None)) => {
                Outcome::new(sip(Disposition::NoAnswer)).with_raw_code(KIND, code)
            }
            Some((_, d, i)) => {
                let o = Outcome::new(*d).with_raw_code(KIND, code);
                match i {
                    Some(i) => o.with_intent(*i).with_raw_intent(KIND, code),
                    None => o,
                }
            }
            None if termination_code == Some(0) => Outcome::new(Disposition::Answered)
                .with_raw_code(KIND, code)
                .with_intent(Intent::Unknown)
                .with_raw_intent(KIND, code),
            None => Outcome::new(Disposition::Unknown).with_raw_code(KIND, code),
        },
        None => {
            let raw = format!("termination-{}", termination_code.map_or("none".to_string(), |c| c.to_string()));
            match termination_code {
                Some(0) => Outcome::new(Disposition::Answered).with_intent(Intent::Unknown).with_raw_code(KIND, &raw),
                _ => Outcome::new(sip(Disposition::Unknown)).with_raw_code(KIND, &raw),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn every_intent_row_maps_as_intended() {
        let map: HashMap<&str, (Disposition, Option<Intent>)> =
            INTENT_CODES.iter().map(|(c, d, i)| (*c, (*d, *i))).collect();
        assert_eq!(map.len(), INTENT_CODES.len(), "duplicate codes");
        assert_eq!(map.len(), 21, "every code of the document's table");
        for (code, d, i) in INTENT_CODES {
            let o = normalize(Some(code), Some(0), None);
            assert_eq!(o.disposition, *d, "{code}");
            assert_eq!(o.intent, *i, "{code}");
            assert_eq!(o.raw_code, Some(format!("laaffic:{code}")));
            assert_ne!(o.disposition, Disposition::Unknown, "{code}");
            // Only the codes that say "no answer"/"intent unknown" map to Intent::Unknown.
            if *i == Some(Intent::Unknown) {
                assert!(["102", "104", "202", "204", "302", "304"].contains(code), "{code}");
            }
        }
        assert_eq!(map["205"], (Disposition::Answered, Some(Intent::PromiseToPay)));
        assert_eq!(map["2010"], (Disposition::Answered, Some(Intent::Paid)));
        assert_eq!(map["207"].1, Some(Intent::Refuse));
        assert_eq!(map["208"].1, Some(Intent::Dispute), "否認借貸 denies the loan: a dispute, not a refusal");
        assert_eq!(map["301"].0, Disposition::Voicemail);
        assert_eq!(map["99998"].0, Disposition::Cancelled);
        // Unconnected calls are refined by the SIP code.
        assert_eq!(normalize(Some("99999"), Some(1), Some(486)).disposition, Disposition::Busy);
        assert_eq!(normalize(Some("99999"), Some(1), Some(404)).disposition, Disposition::Vacant);
        assert_eq!(normalize(Some("99999"), Some(1), Some(999)).disposition, Disposition::NoAnswer);
        for (sip, d) in SIP_CODES {
            assert_eq!(normalize(Some("99999"), Some(1), Some(*sip)).disposition, *d, "sip {sip}");
        }
    }

    #[test]
    fn unknown_codes_keep_their_raw_value() {
        let o = normalize(Some("777"), Some(1), None);
        assert_eq!(o.disposition, Disposition::Unknown);
        assert_eq!(o.raw_code.as_deref(), Some("laaffic:777"));
        let o = normalize(Some("777"), Some(0), None);
        assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::Unknown)));
        assert_eq!(o.raw_intent.as_deref(), Some("laaffic:777"));
        let o = normalize(None, Some(5), None);
        assert_eq!(o.disposition, Disposition::Unknown);
        assert_eq!(o.raw_code.as_deref(), Some("laaffic:termination-5"));
    }

    #[test]
    fn every_reply_code_is_classified_and_fake_codes_are_known() {
        let codes: HashSet<i64> = REPLY_CODES.iter().map(|r| r.0).collect();
        assert_eq!(codes.len(), 21);
        let class = |c: i64| REPLY_CODES.iter().find(|r| r.0 == c).unwrap().2;
        assert_eq!(class(-37), Class::RetryLater);
        assert_eq!(class(-18), Class::RetryLater);
        for c in [-1, -2, -16, -10] {
            assert_eq!(class(c), Class::Fatal, "{c}");
        }
        assert_eq!(class(-41), Class::Handled);
        assert_eq!(class(0), Class::Success);
        for code in doubles::laaffic::CODES {
            let intent = code.split('-').next().unwrap();
            assert!(INTENT_CODES.iter().any(|(c, _, _)| *c == intent), "{code}");
        }
        assert!(doubles::laaffic::DEFAULTS.iter().all(|(c, _)| doubles::laaffic::CODES.contains(c)));
    }
}
