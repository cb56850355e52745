use super::*;
use crate::domain::suppression::strongest_per_phone;
use chrono::{Duration, TimeZone};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn defaults() -> Defaults {
    Defaults {
        reason: Some("dnc list".into()),
        source: "import".into(),
        expires_at: None,
        country_code: Some("62".into()),
    }
}

fn csv(text: &str, d: &Defaults) -> ParsedList {
    parse_csv(text.as_bytes(), d, now()).expect("header is fine")
}

fn messages(p: &ParsedList) -> Vec<String> {
    p.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn reads_every_column_and_fills_defaults() {
    let text = "phone,reason,source,expires_at,ignored\n\
                +6281234567890,complaint,call-center,never,x\n\
                0812 3456 7891,,,2026-12-31,\n\
                +6281234567892,,,90d,\n";
    let p = csv(text, &Defaults { expires_at: Some(now() + Duration::days(7)), ..defaults() });
    assert_eq!(p.rows, 3);
    assert!(p.errors.is_empty(), "{:?}", messages(&p));
    let e = &p.entries;
    assert_eq!(
        (e[0].phone.as_str(), e[0].reason.as_str(), e[0].source.as_str(), e[0].expires_at),
        ("+6281234567890", "complaint", "call-center", None),
        "`never` overrides a default expiry"
    );
    assert_eq!(e[1].phone, "+6281234567891", "national numbers take the default country code");
    assert_eq!((e[1].reason.as_str(), e[1].source.as_str()), ("dnc list", "import"));
    let next_day = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(e[1].expires_at, Some(next_day), "a date covers its whole day UTC");
    assert_eq!(e[2].expires_at, Some(now() + Duration::days(90)));
}

#[test]
fn an_empty_expiry_takes_the_default() {
    let p = csv(
        "phone,expires_at\n+6281234567890,\n",
        &Defaults { expires_at: Some(now() + Duration::days(7)), ..defaults() },
    );
    assert_eq!(p.entries[0].expires_at, Some(now() + Duration::days(7)));
    let p = csv("phone\n+6281234567890\n", &defaults());
    assert_eq!(p.entries[0].expires_at, None, "no default expiry: never");
}

#[test]
fn bad_rows_are_reported_with_line_column_and_masked_value_and_good_rows_kept() {
    let text = "phone,reason,expires_at\n\
                +6281234567890,ok,\n\
                +62812x4567891,bad phone,\n\
                +6281234567892,bad date,2026-13-45\n\
                +6281234567893,past,2020-01-01\n\
                +6281234567894,too,many,fields\n\
                +6281234567895,ok again,30d\n";
    let p = csv(text, &defaults());
    assert_eq!(p.rows, 6);
    assert_eq!(p.entries.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(), ["ok", "ok again"]);
    assert_eq!(p.rejected, 4);
    let m = messages(&p);
    assert!(m[0].starts_with("line 3: phone: ") && m[0].contains("+6281****"), "{}", m[0]);
    assert!(!m[0].contains("4567891"), "the number is masked: {}", m[0]);
    assert!(m[1].starts_with("line 4: expires_at: `2026-13-45` is not an expiry"), "{}", m[1]);
    assert!(m[2].starts_with("line 5: expires_at: ") && m[2].contains("in the past"), "{}", m[2]);
    assert!(m[3].starts_with("line 6: row: "), "{}", m[3]);
}

#[test]
fn a_missing_phone_column_or_reason_refuses_the_whole_file() {
    let err = parse_csv("number,reason\n+6281234567890,x\n".as_bytes(), &defaults(), now()).unwrap_err();
    assert_eq!(err, ListError::Header("no `phone` column (found: number, reason)".into()));
    let no_reason = Defaults { reason: None, ..defaults() };
    let err = parse_csv("phone\n+6281234567890\n".as_bytes(), &no_reason, now()).unwrap_err();
    assert!(err.to_string().contains("no `reason` column and no default reason"), "{err}");
    // With a reason column, a row that leaves it empty is one bad row.
    let p = csv("phone,reason\n+6281234567890,\n+6281234567891,fraud\n", &no_reason);
    assert_eq!(messages(&p), ["line 2: reason: empty, and the import gives no default reason"]);
    assert_eq!(p.entries.len(), 1);
}

#[test]
fn numbers_without_country_code_need_a_default() {
    let p = csv("phone\n08123456789\n", &Defaults { country_code: None, ..defaults() });
    assert_eq!(p.rejected, 1);
    assert!(messages(&p)[0].contains("no country code"), "{:?}", messages(&p));
}

#[test]
fn duplicate_numbers_in_one_file_the_longest_lasting_entry_wins() {
    // The same number in two spellings, three times: the parser keeps every
    // row; the import keeps the entry that lasts longest (never-weaken holds
    // inside one file too), whichever line it is on.
    let text = "phone,reason,expires_at\n\
                +6281234567890,first,30d\n\
                0812-3456-7890,complaint,never\n\
                +62 812 3456 7890,last,90d\n";
    let p = csv(text, &defaults());
    assert_eq!(p.entries.len(), 3);
    let (kept, dropped) = strongest_per_phone(&p.entries);
    assert_eq!((kept.len(), dropped), (1, 2));
    assert_eq!((kept[0].reason.as_str(), kept[0].expires_at), ("complaint", None));
}

#[test]
fn json_takes_the_same_fields_and_reports_items() {
    let body = br#"[
        {"phone": "+6281234567890", "reason": "complaint", "source": "crm", "expires_at": null},
        {"phone": "0812-3456-7891", "expires_at": "2026-12-31T00:00:00Z"},
        {"phone": 6281234567892},
        "not an object",
        {"phone": "+6281234567893", "expires_at": "tomorrow"},
        {"reason": "no phone"}
    ]"#;
    let d = Defaults { expires_at: Some(now() + Duration::days(7)), ..defaults() };
    let p = parse_json(body, &d, now()).unwrap();
    assert_eq!(p.rows, 6);
    assert_eq!(p.entries.len(), 2);
    assert_eq!(p.entries[0].expires_at, None, "null is never, not the default");
    assert_eq!(p.entries[0].source, "crm");
    assert_eq!(p.entries[1].reason, "dnc list");
    let m = messages(&p);
    assert_eq!(m[0], "item 3: phone: expected a string, found a number");
    assert_eq!(m[1], "item 4: row: expected an object, found a string");
    assert!(m[2].starts_with("item 5: expires_at: `tomorrow`"), "{}", m[2]);
    assert!(m[3].starts_with("item 6: phone: phone number is empty"), "{}", m[3]);
    let json = serde_json::to_value(&p.errors[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "item": 3, "column": "phone", "message": "expected a string, found a number" })
    );
}

#[test]
fn json_that_is_not_an_array_is_refused() {
    let err = parse_json(br#"{"phone": "+6281234567890"}"#, &defaults(), now()).unwrap_err();
    assert!(err.to_string().contains("expected an array"), "{err}");
    assert!(matches!(parse_json(b"[{", &defaults(), now()), Err(ListError::Json(_))));
}

#[test]
fn only_the_first_errors_are_kept_but_all_are_counted() {
    let mut text = String::from("phone\n");
    for _ in 0..(MAX_REPORTED + 5) {
        text.push_str("bad\n");
    }
    let p = csv(&text, &defaults());
    assert_eq!(p.rejected as usize, MAX_REPORTED + 5);
    assert_eq!(p.errors.len(), MAX_REPORTED);
}
