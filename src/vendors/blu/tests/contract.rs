//! Contract: the annex of Blu's document, read from the document's own
//! text, and every way a result record may come (nulls, missing optional
//! fields, numbers as strings and strings as numbers, unknown codes, a
//! wrong type, several records with a bad one among them).

use super::{adapter, settings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::blu::adapter::BluAdapter;
use crate::vendors::blu::codes::{self, DICT1, DICT2, LINE_STATUS, SPECIAL};
use crate::vendors::blu::wire::{self, ResultRecord};
use crate::vendors::{CallbackError, ParsedCallback, VendorAdapter};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

/// The vendor's document, as published (CI puts `shared/` beside the repository).
const DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/blu-v2-call-conclusions.txt"));

type Table = &'static [(&'static str, Disposition, Option<Intent>)];

/// The rows of the annex table under `heading`: up to the next heading (a
/// line ending in `#`) or the page footer, without the column header line.
fn doc_rows(heading: &str) -> Vec<&'static str> {
    let start = DOC.find(heading).unwrap_or_else(|| panic!("`{heading}` is not in the document")) + heading.len();
    DOC[start..]
        .lines()
        .map(str::trim)
        .take_while(|l| !l.ends_with('#') && !l.starts_with("Modified at"))
        .filter(|l| !l.is_empty() && *l != "Code responseDescription")
        .collect()
}

/// The document prints code and description run together (`D02Off`,
/// `BusyUsers busy`): the code is the longest code of `table` the row starts with.
fn code_of(row: &str, table: Table) -> Option<&'static str> {
    table.iter().map(|r| r.0).filter(|c| row.starts_with(c) && row.len() > c.len()).max_by_key(|c| c.len())
}

#[test]
fn every_code_of_the_annex_has_its_row_and_no_row_is_invented() {
    let sections: [(&str, Table); 4] = [
        ("Robot communication conclusion dictionary 1#", DICT1),
        ("Robot communication conclusion dictionary 2#", DICT2),
        ("Empty stop detection conclusion field#", LINE_STATUS),
        ("Dictionary of special conclusions#", SPECIAL),
    ];
    for (heading, table) in sections {
        let rows = doc_rows(heading);
        let mut from_doc: Vec<&str> = rows
            .iter()
            .map(|row| code_of(row, table).unwrap_or_else(|| panic!("{heading}: `{row}` has no row in codes.rs")))
            .collect();
        let mut ours: Vec<&str> = table.iter().map(|r| r.0).collect();
        from_doc.sort_unstable();
        ours.sort_unstable();
        assert_eq!(from_doc, ours, "{heading}");
        for row in rows {
            let code = code_of(row, table).unwrap_or_default();
            let (_, disposition, intent) =
                table.iter().find(|r| r.0 == code).copied().unwrap_or_else(|| unreachable!());
            // A line status alone, or a conclusion of a connected call.
            let o = if table == LINE_STATUS || table == SPECIAL {
                codes::normalize(Some(code), None)
            } else {
                codes::normalize(None, Some(code))
            };
            assert_eq!((o.disposition, o.intent), (disposition, intent), "{heading} `{row}`");
            let raw = if o.raw_intent.is_some() { &o.raw_intent } else { &o.raw_code };
            assert_eq!(raw.as_deref(), Some(format!("blu:{code}").as_str()), "{row}");
        }
    }
    // Rows whose meaning decides a recall rule, by the document's words.
    let row = |heading: &str, code: &str| doc_rows(heading).into_iter().find(|r| r.starts_with(code)).unwrap();
    assert_eq!(row("dictionary 1#", "CPL"), "CPLBe inclined to complain");
    assert_eq!(codes::normalize(Some("D99"), Some("CPL")).intent, Some(Intent::Complaint));
    assert_eq!(row("dictionary 2#", "Complan"), "ComplanComplaints, cursing, stop calling");
    assert_eq!(codes::normalize(Some("D99"), Some("Complan")).intent, Some(Intent::Complaint));
    assert_eq!(row("conclusion field#", "D02"), "D02Off");
    assert_eq!(codes::normalize(Some("D02"), None).disposition, Disposition::PowerOff);
}

/// Blu's callback page (public pages, not in the document file), verbatim:
/// not JSON (`66635573.` and unescaped quotes inside `extVars`). The
/// adapter refuses it as malformed (400, so Blu retries) rather than
/// guessing; the same record written as JSON parses.
#[test]
fn published_callback_example_is_refused_and_its_json_form_parses() {
    let verbatim = r#"{
    "taskId": 66635573.
    "records": [
        {
            "id": 55667448,
            "name": "Anoj Mohoo",
            "mobile": "0177****3990",
            "extVars": "{"key": "string", "intkey":10000}",
            "callVars": "{"name": "Bob", "salary":10000}"
        }
    ]
}"#;
    let a = adapter("http://127.0.0.1:9");
    assert!(matches!(a.parse_callback(verbatim.as_bytes()), Err(CallbackError::Malformed(_))));

    let as_json = json!({"taskId": 66635573, "records": [{"id": 55667448, "name": "Anoj Mohoo",
        "mobile": "0177****3990", "extVars": "{\"key\": \"string\", \"intkey\":10000}",
        "callVars": "{\"name\": \"Bob\", \"salary\":10000}"}]});
    let events = parse(&a, &as_json, 1).events;
    let e = &events[0];
    assert_eq!(e.attempt_ref.as_deref(), Some("55667448"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("66635573"));
    assert_eq!(e.phone, None, "a masked number is no phone");
    assert!(!e.is_final, "the example carries no line status nor conclusion");
    assert_eq!(e.outcome.disposition, Disposition::Unknown);
    assert_eq!(a.callback_ack(), (200, json!({"code": 200, "message": "success"})));
    assert!(!a.signs_callbacks());
}

/// Parse `body` and check that none of its `records` records was dropped.
fn parse(a: &BluAdapter, body: &Value, records: usize) -> ParsedCallback {
    let parsed = a.parse_callback(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(parsed.events.len() + parsed.rejected.len(), records, "every record is an event or rejected: {body}");
    parsed
}

fn jakarta() -> BluAdapter {
    let options = toml::toml! { task_timezone = "Asia/Jakarta" mobile_format = "national" country_code = "62" };
    BluAdapter::from_settings(&settings(options), "http://127.0.0.1:9").unwrap()
}

#[test]
fn a_full_record_becomes_a_final_event() {
    let a = jakarta();
    let body = json!({"taskId":"20240815","records":[{"id":"c7-1","mobile":"081234567","orderId":"c7-1",
        "callStatus":"D99","intention":"HPTP","callStartTime":"2024-08-15 10:00:00",
        "callEndTime":"2024-08-15 10:01:05","duration":65,
        "paymentTime":"['2024-08-15 17:00:00', '2024-08-15 18:00:00']"}]});
    let e = parse(&a, &body, 1).events.remove(0);
    assert_eq!(e.attempt_ref.as_deref(), Some("c7-1"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("20240815"));
    assert_eq!(e.phone.as_deref(), Some("+6281234567"));
    assert!(e.is_final);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::PromiseToPay)));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("blu:D99"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("blu:HPTP"));
    assert_eq!(e.started_at, Some(Utc.with_ymd_and_hms(2024, 8, 15, 3, 0, 0).unwrap()), "Jakarta is UTC+7");
    assert_eq!(e.ended_at, Some(Utc.with_ymd_and_hms(2024, 8, 15, 3, 1, 5).unwrap()));
    assert_eq!(e.duration_ms, Some(65_000));
    assert_eq!(e.outcome.requested_at, Some(Utc.with_ymd_and_hms(2024, 8, 15, 10, 0, 0).unwrap()));
    assert_eq!((e.redials.len(), e.first_dial.clone(), e.blacklisted), (0, None, false), "one dial per record");
}

#[test]
fn nulls_and_missing_optional_fields_read_as_absent() {
    let a = adapter("http://127.0.0.1:9");
    let bare = json!({"taskId":"20240815","id":"c7-1","mobile":"6281234567","callStatus":"D01"});
    let mut nulls = bare.clone();
    for k in ["intention", "orderId", "name", "extVars", "callVars", "callStartTime", "callEndTime", "duration"] {
        nulls[k] = Value::Null;
    }
    nulls["paymentTime"] = Value::Null;
    for body in [bare, nulls] {
        let e = parse(&a, &body, 1).events.remove(0);
        assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Busy, None), "{body}");
        assert_eq!((e.outcome.raw_code.as_deref(), e.outcome.raw_intent.as_deref()), (Some("blu:D01"), None));
        assert_eq!((e.attempt_ref.as_deref(), e.phone.as_deref()), (Some("c7-1"), Some("+6281234567")));
        assert_eq!((e.started_at, e.ended_at, e.duration_ms, e.outcome.requested_at), (None, None, None, None));
        assert!(e.is_final);
    }
    // Neither line status nor conclusion (both null): uploaded, not called yet.
    let waiting = json!({"id":"c7-2","mobile":"6281","callStatus":null,"intention":null});
    assert!(!parse(&a, &waiting, 1).events[0].is_final);
    // A conclusion alone decides the disposition.
    let label_only = json!({"id":"c7-3","callStatus":null,"intention":"NotOneself"});
    let e = parse(&a, &label_only, 1).events.remove(0);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::WrongPerson)));
}

#[test]
fn numbers_and_strings_stand_for_each_other() {
    let a = adapter("http://127.0.0.1:9");
    let body = json!({"taskId":20240815,"id":55667448,"mobile":6281234567_i64,"callStatus":"D99","intention":"AP",
        "duration":"65.5","callStartTime":"1723690800000","callEndTime":1723690865});
    let e = parse(&a, &body, 1).events.remove(0);
    assert_eq!(e.attempt_ref.as_deref(), Some("55667448"));
    assert_eq!(e.vendor_task_id.as_deref(), Some("20240815"));
    assert_eq!(e.phone.as_deref(), Some("+6281234567"));
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Paid)));
    assert_eq!(e.duration_ms, Some(65_500));
    assert_eq!(e.started_at.map(|t| t.timestamp_millis()), Some(1_723_690_800_000));
    assert_eq!(e.ended_at.map(|t| t.timestamp()), Some(1_723_690_865));
    // A time in a form we do not know places no dial but keeps the result.
    let odd = json!({"id":"x","callStatus":"D00","callStartTime":"0000-00-00 00:00:00"});
    let e = parse(&a, &odd, 1).events.remove(0);
    assert_eq!((e.outcome.disposition, e.started_at), (Disposition::NoAnswer, None));
}

#[test]
fn unknown_codes_keep_their_raw_value_and_a_line_status_wins_over_a_status_word() {
    let a = adapter("http://127.0.0.1:9");
    let e = parse(&a, &json!({"id":"u1","callStatus":"D55","intention":"Maybe"}), 1).events.remove(0);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Unknown, Some(Intent::Unknown)));
    assert_eq!(e.outcome.raw_code.as_deref(), Some("blu:D55"));
    assert_eq!(e.outcome.raw_intent.as_deref(), Some("blu:Maybe"));
    assert!(e.is_final);
    let e = parse(&a, &json!({"id":"u2","callStatus":"D99","intention":"Maybe"}), 1).events.remove(0);
    assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Unknown)));
    // `status` is only an alias of the line status: `callStatus` comes first.
    let e = parse(&a, &json!({"id":"u3","callStatus":"D00","status":"success"}), 1).events.remove(0);
    assert_eq!(e.outcome.raw_code.as_deref(), Some("blu:D00"));
    let e = parse(&a, &json!({"id":"u4","status":"D02"}), 1).events.remove(0);
    assert_eq!(e.outcome.disposition, Disposition::PowerOff);
}

#[test]
fn a_wrong_type_rejects_the_record_with_the_field_named() {
    let a = adapter("http://127.0.0.1:9");
    let cases = [
        ("callStatus", json!({"code": "D00"})),
        ("intention", json!(["AP"])),
        ("duration", json!(true)),
        ("duration", json!("sixty")),
        ("callStartTime", json!({})),
        ("paymentTime", json!(5)),
        ("id", json!(["c7-1"])),
        ("taskId", json!({"id": 1})),
    ];
    for (field, value) in cases {
        let mut body = json!({"taskId":"t","id":"c7-1","mobile":"6281234567","callStatus":"D99","intention":"AP"});
        body[field] = value.clone();
        let parsed = parse(&a, &body, 1);
        assert!(parsed.events.is_empty(), "{field} = {value} must not read as a result");
        let r = &parsed.rejected[0];
        assert_eq!(r.index, 0);
        assert!(r.reason.starts_with(&format!("{field}: expected")), "{field}: {}", r.reason);
        assert_eq!(r.phone.as_deref(), Some("+6281234567"), "the phone still shows the contact's trail");
    }
    // Nothing to match on: no reference and no readable number.
    for body in [json!({"callStatus":"D01"}), json!({"mobile":"0177****3990","callStatus":"D01"})] {
        let parsed = parse(&a, &body, 1);
        assert!(parsed.rejected[0].reason.starts_with("id: missing"), "{:?}", parsed.rejected);
    }
}

#[test]
fn one_bad_record_among_several_loses_none_of_the_others() {
    let a = adapter("http://127.0.0.1:9");
    let body = json!({"taskId":"20240815","records":[
        {"id":"r-0","mobile":"6281000","callStatus":"D01"},
        {"id":"r-1","mobile":"6281001","callStatus":["D99"]},
        {"id":"r-2","mobile":"6281002","callStatus":"D99","intention":"CPL"},
        7
    ]});
    let parsed = parse(&a, &body, 4);
    let refs: Vec<_> = parsed.events.iter().map(|e| e.attempt_ref.clone().unwrap_or_default()).collect();
    assert_eq!(refs, ["r-0", "r-2"]);
    assert_eq!(parsed.events[1].outcome.intent, Some(Intent::Complaint));
    assert!(parsed.events.iter().all(|e| e.vendor_task_id.as_deref() == Some("20240815")));
    let rejected: Vec<_> = parsed.rejected.iter().map(|r| (r.index, r.phone.clone())).collect();
    assert_eq!(rejected, [(1, Some("+6281001".to_string())), (3, None)]);
    assert!(parsed.rejected[0].reason.starts_with("callStatus:"));
    assert!(parsed.rejected[1].reason.starts_with("record: expected an object"));
}

#[test]
fn bodies_that_are_no_blu_result_are_malformed() {
    let a = adapter("http://127.0.0.1:9");
    for body in [&b"nope"[..], b"\"x\"", b"[]", br#"{"taskId":"t","records":[]}"#, br#"{"records":"x"}"#] {
        let got = a.parse_callback(body);
        assert!(matches!(got, Err(CallbackError::Malformed(_))), "{}: {got:?}", String::from_utf8_lossy(body));
    }
    // A bare array is a list of records.
    assert_eq!(parse(&a, &json!([{"id":"a","callStatus":"D00"}]), 1).events.len(), 1);
}

#[test]
fn query_pages_are_read_whatever_their_shape() {
    let rec = json!({"id":"a","callStatus":"D00"});
    let page = wire::QueryPage::read(&json!({"total":"12","list":[rec]})).unwrap();
    assert_eq!((page.records.len(), page.total), (1, Some(12)));
    let page = wire::QueryPage::read(&json!({"count":1,"records":[rec]})).unwrap();
    assert_eq!(page.total, None, "`count` may be the page's own length: not a total");
    assert_eq!(wire::QueryPage::read(&json!([rec])).unwrap().records.len(), 1);
    assert_eq!(wire::QueryPage::read(&Value::Null).unwrap(), wire::QueryPage::default());
    assert!(wire::QueryPage::read(&json!({"records":{"id":"a"}})).unwrap_err().starts_with("records:"));
    let r = ResultRecord::read(&rec, Some("t"), chrono_tz::UTC).unwrap();
    assert_eq!((r.task_id.as_deref(), r.call_status.as_deref()), (Some("t"), Some("D00")));
}
