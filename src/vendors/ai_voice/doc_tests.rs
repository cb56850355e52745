//! Contract tests on the ITNIO document's own text, cut out of the file at
//! compile time: the push parameter list (names and types; the document
//! shows no example body), the `resultStatus` words and the response codes.

use super::AiVoiceAdapter;
use super::codes::REPLY_CODES;
use super::push::{REDIALED, dial_count};
use super::tests::options;
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::VendorAdapter;
use crate::vendors::itnio_family::testkit::settings;
use doubles::ai_voice::PUSH_FIELDS;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub(super) const DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/ai-voice-status-report-push.txt"));

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("`{start}` not in the document")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("`{end}` not after `{start}`"));
    &text[from..from + len]
}

/// The push parameter table: `(name, type, nested)` per line, nested
/// (indented) lines being the fields of `callDetailList` items.
pub(super) fn documented_fields() -> Vec<(&'static str, &'static str, bool)> {
    between(DOC, "Push Parameters\nParameters Description Type\n", "Response Status Code")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next().unwrap();
            // Nested lines are indented (with a no-break space in the page).
            (name, words.last().unwrap(), l.starts_with(char::is_whitespace))
        })
        .collect()
}

/// The JSON type a documented type is sent as.
pub(super) fn json_type(doc_type: &str) -> &'static str {
    match doc_type {
        "String" => "string",
        "Long" => "number",
        "Array" => "array",
        "Map" => "object",
        other => panic!("undocumented type {other}"),
    }
}

pub(super) fn type_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}

/// A value for each documented field, of the documented type.
fn sample(name: &str) -> Value {
    let samples = json!({
        "callId": "1563421", "appId": "app-1", "robotCallJobId": 5001, "dialogFlowId": 77,
        "tenantPhoneNumberId": 3, "calledPhoneNumber": "6281234567890", "startTime": 1630468800,
        "endTime": 1630468865, "resultStatus": "ANSWERED", "hangupBy": "PERSON", "customerConcern": ["price"],
        "analysisBasis": "said yes", "chatDuration": 58, "billingTime": 60, "pay": "0.0200", "chatRound": 4,
        "attributes": [], "properties": {"attemptRef": "3fa9c2d41b7e-1042-2", "amount": "100"},
        "intentLevelDetailName": "A级(较强意向)", "callRecordTagIds": [1], "callRecordTagNames": ["有意向"],
        "customerTagIds": [], "customerTagNames": [], "fullAudioUrl": "https://x/a.wav",
        "customerAudioUrl": "https://x/c.wav", "dynamicProperties": {}, "callCount": 3, "redialTimes": 2,
        "callDetailId": 1, "text": "Hello", "type": "ROBOT", "startOffset": 0, "endOffset": 900
    });
    samples.get(name).cloned().unwrap_or_else(|| panic!("no sample for the documented field {name}"))
}

/// A push with every field of the document's list, each of its documented type.
pub(super) fn documented_push() -> Value {
    let (mut top, mut detail) = (serde_json::Map::new(), serde_json::Map::new());
    for (name, ty, nested) in documented_fields() {
        if name == "callDetailList" {
            continue;
        }
        let v = sample(name);
        assert_eq!(type_of(&v), json_type(ty), "{name} is documented as {ty}");
        if nested {
            detail.insert(name.into(), v)
        } else {
            top.insert(name.into(), v)
        };
    }
    top.insert("callDetailList".into(), json!([detail]));
    Value::Object(top)
}

fn adapter() -> AiVoiceAdapter {
    AiVoiceAdapter::new(&settings("ai-voice", options("Asia/Jakarta")), "http://x").unwrap()
}

#[test]
fn the_fake_and_the_document_name_the_same_push_fields() {
    let fields = documented_fields();
    let top: Vec<&str> = fields.iter().filter(|f| !f.2).map(|f| f.0).collect();
    assert_eq!(top, PUSH_FIELDS);
    let nested: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
    assert_eq!(nested, ["callDetailId", "text", "type", "startOffset", "endOffset"]);
    assert!(!top.contains(&"taskId"));
}

#[test]
fn a_push_built_from_the_documents_field_list_reads_whole() {
    let body = documented_push();
    let p = adapter().parse_callback(body.to_string().as_bytes()).unwrap();
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);
    let e = &p.events[0];
    assert_eq!(e.attempt_ref.as_deref(), Some("3fa9c2d41b7e-1042-2"));
    assert_eq!(e.external_call_id.as_deref(), Some("1563421"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("5001"));
    assert_eq!(e.phone.as_deref(), Some("+6281234567890"));
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Interested)));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("ai-voice:ANSWERED"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("ai-voice:A级(较强意向)"));
    assert_eq!((e.started_at.unwrap().timestamp(), e.ended_at.unwrap().timestamp()), (1630468800, 1630468865));
    assert_eq!(e.duration_ms, Some(58_000));
    // The call's details: the composite recording, the dialogue, the billed
    // time and its price in USD, and the ring time the times give (65 s
    // from dial to end, 58 s of talk).
    assert_eq!(e.recording_url.as_deref(), Some("https://x/a.wav"));
    assert_eq!(e.transcript.as_deref(), Some("ROBOT: Hello"));
    assert_eq!(e.billed_ms, Some(60_000));
    assert_eq!(e.cost, Some(crate::domain::call_cost::CallCost { micros: 20_000, currency: "USD".into() }));
    assert_eq!(e.ring_ms, Some(7_000));
    // callCount 3: the first dial and two redials; the result is the last one's.
    let first = e.first_dial.as_ref().map(|d| &d.outcome).unwrap();
    assert_eq!((first.disposition, first.raw_code.as_deref()), (Disposition::Unknown, Some("ai-voice:REDIALED")));
    assert_eq!(e.redials.len(), 2);
    assert_eq!(e.redials[0].outcome, *first);
    assert_eq!(e.redials[1].outcome, e.outcome);
    assert_eq!(e.redials[1].at, e.started_at);
    assert_eq!(REDIALED, "REDIALED");
}

#[test]
fn dials_are_counted_from_call_count_first() {
    assert_eq!(dial_count(Some(3), Some(1)), 3, "callCount wins over redialTimes");
    assert_eq!(dial_count(None, Some(2)), 3, "else the first dial plus the redials");
    assert_eq!(dial_count(Some(0), Some(2)), 3);
    assert_eq!(dial_count(None, None), 1);
    assert_eq!(dial_count(Some(1), Some(0)), 1);
    assert_eq!(dial_count(Some(1000), None), 50, "capped");
    let mut body = documented_push();
    body.as_object_mut().unwrap().remove("callCount");
    let e = adapter().parse_callback(body.to_string().as_bytes()).unwrap().events.remove(0);
    assert_eq!(e.redials.len(), 2, "1 + redialTimes 2");
    body["redialTimes"] = json!(0);
    let e = adapter().parse_callback(body.to_string().as_bytes()).unwrap().events.remove(0);
    assert!(e.redials.is_empty() && e.first_dial.is_none());
}

#[test]
fn every_documented_result_status_is_mapped() {
    let line = DOC.lines().find(|l| l.starts_with("resultStatus ")).unwrap();
    let list = between(line, "Call results:", " String");
    let documented: BTreeMap<&str, &str> = list
        .split(" , ")
        .filter_map(|item| item.split_once(" : "))
        .map(|(w, meaning)| (w.trim(), meaning.trim().trim_end_matches('.')))
        .collect();
    // What each must read as, written out from the document's words.
    let expected: BTreeMap<&str, (Disposition, Option<Intent>)> = [
        ("ANSWERED", (Disposition::Answered, Some(Intent::Unknown))),
        ("NO_ANSWER", (Disposition::NoAnswer, None)),
        ("BUSY", (Disposition::Busy, None)),
        ("POWER_OFF", (Disposition::PowerOff, None)),
        ("OUT_OF_SERVICE", (Disposition::OutOfService, None)),
        ("REFUSED", (Disposition::Rejected, None)),
        ("VACANT_NUMBER", (Disposition::Vacant, None)),
        ("CAN_NOT_CONNECT", (Disposition::Unreachable, None)),
        ("FROM_PHONE_ERROR", (Disposition::VendorError, None)),
        ("SYSTEM_ERROR", (Disposition::VendorError, None)),
        ("CALL_LOSS", (Disposition::CallLoss, None)),
        ("TRANSFER_ARTIFICIAL", (Disposition::Answered, Some(Intent::Transferred))),
    ]
    .into();
    assert_eq!(documented.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    // The line the TRANSFER_ARTIFICIAL mapping follows.
    assert_eq!(documented["TRANSFER_ARTIFICIAL"], "transfer to manual call loss");
    let a = adapter();
    for (status, (d, i)) in &expected {
        let mut body = documented_push();
        body["resultStatus"] = json!(status);
        body["intentLevelDetailName"] = Value::Null;
        body["callCount"] = json!(1);
        let e = a.parse_callback(body.to_string().as_bytes()).unwrap().events.remove(0);
        assert_eq!((e.outcome.disposition, e.outcome.intent), (*d, *i), "{status}");
        assert_eq!(e.outcome.raw_code, Some(format!("ai-voice:{status}")));
    }
}

#[test]
fn every_documented_response_code_is_classified() {
    let table = &DOC[DOC.find("Response Status Code\nstatus Description\n").unwrap()..];
    let codes: BTreeSet<i64> = table.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
    assert_eq!(codes.len(), 38, "0 and 37 error codes");
    assert_eq!(codes, REPLY_CODES.iter().map(|r| r.0).collect::<BTreeSet<i64>>());
}
