//! SmartIVR's code tables: the number status of `GET v1/task/number` (0–12)
//! and the call grade (`level_name`, A–D) mapped to the normalized
//! [`Outcome`]; raw values kept as `smartivr:<status>` / `smartivr:<level_name>`.

use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::domain::tags::TagIntents;

/// Vendor kind prefix of the raw codes kept in an [`Outcome`].
pub const KIND: &str = "smartivr";

/// The number status that means "not dialed yet" (等待呼叫): not final.
pub const WAITING: i64 = 0;
/// The number status of an answered call (呼叫成功): the only one with a grade.
pub const ANSWERED: i64 = 1;
/// The number status of a number on the vendor's blacklist (黑名单): it is
/// suppressed here too.
pub const BLACKLISTED: i64 = 11;

/// Every number status in the document: (status, vendor meaning, disposition).
pub const STATUS_CODES: &[(i64, &str, Disposition)] = &[
    // 等待呼叫: waiting to be dialed. Not final: never turned into a result.
    (0, "waiting", Disposition::Unknown),
    // 呼叫成功: the call was answered.
    (1, "answered", Disposition::Answered),
    // 线路故障: the vendor's trunk failed, not the callee.
    (2, "line fault", Disposition::VendorError),
    // 拒接: the callee rejected the call.
    (3, "rejected", Disposition::Rejected),
    // 无应答/无人接听: rang, nobody picked up.
    (4, "no answer", Disposition::NoAnswer),
    // 空号: number not assigned.
    (5, "vacant", Disposition::Vacant),
    // 关机: handset powered off.
    (6, "powered off", Disposition::PowerOff),
    // 停机: line suspended by the carrier.
    (7, "suspended", Disposition::OutOfService),
    // 占线/用户正忙: busy.
    (8, "busy", Disposition::Busy),
    // 呼入限制: the callee's line bars incoming calls.
    (9, "incoming calls barred", Disposition::Blocked),
    // 欠费: the callee's line is cut off for arrears.
    (10, "callee in arrears", Disposition::OutOfService),
    // 黑名单: the number is on the vendor's blacklist (`is_blacklist`), not dialed.
    (11, "blacklisted", Disposition::Blocked),
    // 呼损: the call was lost in the network.
    (12, "call lost", Disposition::CallLoss),
];

/// Call grades (the letter `level.name` / `level_name` starts with) and the
/// intent each stands for. The document shows `C级(可再次跟进)` ("can be
/// followed up again") and `D级(无意向)` ("no intention"); A and B are the
/// grades above them in the usual SmartIVR scheme (A 有明确意向 clear
/// intention, B 可能有意向 possible intention). Assumption, see docs/vendors/smartivr.md.
pub const LEVEL_CODES: &[(&str, Intent)] =
    &[("A", Intent::Interested), ("B", Intent::Undecided), ("C", Intent::Callback), ("D", Intent::NotInterested)];

/// True when a number status is a result (anything but "waiting"; unknown
/// statuses are results too, kept raw as [`Disposition::Unknown`]).
pub fn is_final(status: i64) -> bool {
    status != WAITING
}

/// The grade letter of a level name like `D级(无意向)`, `C级` or `A`.
pub fn grade(level_name: &str) -> Option<&'static str> {
    let first = level_name.trim().chars().next()?.to_ascii_uppercase();
    LEVEL_CODES.iter().map(|(code, _)| *code).find(|code| code.starts_with(first))
}

/// Map a number status (and the call's grade, for answered calls) to the
/// normalized [`Outcome`]. Unknown statuses give [`Disposition::Unknown`],
/// unknown grades [`Intent::Unknown`]; the raw values are kept either way.
pub fn normalize(status: i64, level_name: Option<&str>) -> Outcome {
    let disposition = STATUS_CODES.iter().find(|(code, _, _)| *code == status).map_or(Disposition::Unknown, |r| r.2);
    let mut outcome = Outcome::new(disposition).with_raw_code(KIND, &status.to_string());
    if let Some(label) = level_name.map(str::trim).filter(|l| !l.is_empty()) {
        let intent = grade(label)
            .and_then(|g| LEVEL_CODES.iter().find(|(code, _)| *code == g))
            .map_or(Intent::Unknown, |(_, i)| *i);
        outcome = outcome.with_intent(intent).with_raw_intent(KIND, label);
    }
    outcome
}

/// The outcome with the call's tags (e.g. 脏话, 投诉) run through the
/// vendor's tag table: a tag whose intent is the stronger signal replaces
/// the grade's intent, and the raw intent becomes that tag
/// (`smartivr:脏话`), so a complaint is acted on whatever the grade.
pub fn with_tags<'a>(mut outcome: Outcome, table: &TagIntents, tags: impl IntoIterator<Item = &'a str>) -> Outcome {
    let tags: Vec<&str> = tags.into_iter().collect();
    let Some(tagged) = table.intent(tags.iter().copied()) else { return outcome };
    if outcome.intent != Some(tagged) && TagIntents::combine(outcome.intent, Some(tagged)) == Some(tagged) {
        let tag = tags.iter().find(|t| table.intent([**t]) == Some(tagged)).copied().unwrap_or_default();
        outcome = outcome.with_intent(tagged).with_raw_intent(KIND, tag.trim());
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn every_status_row_normalizes_to_its_disposition() {
        let table: HashMap<i64, Disposition> = STATUS_CODES.iter().map(|(c, _, d)| (*c, *d)).collect();
        assert_eq!(table.len(), 13, "statuses 0-12, no duplicates");
        for code in 0..=12 {
            let o = normalize(code, None);
            assert_eq!(o.disposition, table[&code], "{code}");
            assert_eq!(o.raw_code.as_deref(), Some(format!("smartivr:{code}").as_str()));
            assert_eq!(o.intent, None);
            // Only "waiting" (not a result at all) maps to Unknown.
            assert_eq!(o.disposition == Disposition::Unknown, code == WAITING, "{code}");
            assert_eq!(is_final(code), code != WAITING);
        }
        assert_eq!(table[&1], Disposition::Answered);
        assert_eq!(table[&2], Disposition::VendorError);
        assert_eq!(table[&4], Disposition::NoAnswer);
        assert_eq!(table[&5], Disposition::Vacant);
        assert_eq!(table[&6], Disposition::PowerOff);
        assert_eq!(table[&7], Disposition::OutOfService);
        assert_eq!(table[&8], Disposition::Busy);
        assert_eq!(table[&9], Disposition::Blocked);
        assert_eq!(table[&10], Disposition::OutOfService);
        assert_eq!(table[&11], Disposition::Blocked);
        assert_eq!(table[&12], Disposition::CallLoss);
    }

    #[test]
    fn every_level_row_normalizes_to_its_intent() {
        for (code, intent) in LEVEL_CODES {
            for label in [code.to_string(), format!("{code}级"), format!("{code}级(说明)")] {
                let o = normalize(ANSWERED, Some(&label));
                assert_eq!(o.intent, Some(*intent), "{label}");
                assert_eq!(o.raw_intent.as_deref(), Some(format!("smartivr:{label}").as_str()));
                assert_ne!(o.intent, Some(Intent::Unknown));
            }
        }
        assert_eq!(normalize(1, Some("D级(无意向)")).intent, Some(Intent::NotInterested));
        assert_eq!(normalize(1, Some("C级(可再次跟进)")).intent, Some(Intent::Callback));
        assert_eq!(normalize(1, Some("a级")).intent, Some(Intent::Interested));
    }

    #[test]
    fn complaint_tags_outrank_the_grade_and_weaker_tags_do_not() {
        let table = TagIntents::default();
        let graded = normalize(ANSWERED, Some("D级(无意向)"));
        let o = with_tags(graded.clone(), &table, ["无意向", "脏话"]);
        assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Complaint), Some("smartivr:脏话")));
        assert_eq!(o.raw_code.as_deref(), Some("smartivr:1"), "the status stays raw");
        let o = with_tags(normalize(ANSWERED, Some("A级")), &table, ["转人工"]);
        assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Interested), Some("smartivr:A级")));
        assert_eq!(
            with_tags(graded.clone(), &table, ["有意向"]),
            graded,
            "a tag the table does not know changes nothing"
        );
        let o = with_tags(normalize(ANSWERED, None), &table, [" 投诉 "]);
        assert_eq!((o.intent, o.raw_intent.as_deref()), (Some(Intent::Complaint), Some("smartivr:投诉")));
    }

    #[test]
    fn unknown_codes_keep_their_raw_value() {
        let o = normalize(42, Some("F级(无效)"));
        assert_eq!(o.disposition, Disposition::Unknown);
        assert_eq!(o.raw_code.as_deref(), Some("smartivr:42"));
        assert_eq!(o.intent, Some(Intent::Unknown));
        assert_eq!(o.raw_intent.as_deref(), Some("smartivr:F级(无效)"));
        assert!(is_final(42));
        assert_eq!(normalize(1, Some("  ")).intent, None);
    }
}
