//! Units: the signature, payment slots, pre-dial replies, the code tables
//! and the options.

use super::{adapter, settings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::blu::adapter::BluAdapter;
use crate::vendors::blu::codes::{self, API_ERRORS, DICT1, DICT2, LINE_STATUS, SPECIAL};
use crate::vendors::blu::{BluOptions, MobileFormat, sign};
use crate::vendors::{PredialVerdict, VendorAdapter, VendorErrorKind};
use chrono::{TimeZone, Utc};
use doubles::blu::predial_says_call;
use serde_json::{Value, json};
use std::collections::HashMap;

fn utc_opts() -> BluOptions {
    BluOptions::default()
}

#[test]
fn sign_is_lowercase_hex_sha256_of_app_id_key_and_timestamp() {
    // printf 'id''key''1700000000000' | sha256sum
    assert_eq!(sign("id", "key", "1700000000000"), "1d3b66c4f0cea0e828bfc3ce111fde18ff96641607f521cb3cd4ba9a58673b17");
    // printf '10001''secret''1626856869046' | sha256sum (the headers of Blu's curl examples)
    assert_eq!(
        sign("10001", "secret", "1626856869046"),
        "8b0c247d7fcb84e35efbd5ff9b5ab6a5ef49b536c71567bc1a81f50058b4b918"
    );
}

#[test]
fn payment_slots_of_the_annex_parse() {
    let tz = chrono_tz::UTC;
    let morning =
        crate::vendors::blu::wire::payment_slot(&json!("['2024-08-15 07:00:00', '2024-08-15 12:00:00']"), tz).unwrap();
    assert_eq!(morning.0, Utc.with_ymd_and_hms(2024, 8, 15, 7, 0, 0).unwrap());
    assert_eq!(morning.1, Utc.with_ymd_and_hms(2024, 8, 15, 12, 0, 0).unwrap());
    let tomorrow_or_after =
        crate::vendors::blu::wire::payment_slot(&json!(["2024-08-16 00:00:00", "2024-08-17 23:59:59"]), tz).unwrap();
    assert_eq!(tomorrow_or_after.1, Utc.with_ymd_and_hms(2024, 8, 17, 23, 59, 59).unwrap());
    assert_eq!(crate::vendors::blu::wire::payment_slot(&Value::Null, tz), None, "Payment time not extracted: null");
    assert_eq!(crate::vendors::blu::wire::payment_slot(&json!("garbage"), tz), None);
}

#[test]
fn the_payment_slot_becomes_the_requested_time_per_option() {
    // A promise to pay with the annex's slot format, in the account zone.
    let body = r#"{"taskId":"20240815","id":"c7-1","mobile":"6281234567","callStatus":"D99","intention":"HPTP",
        "paymentTime":"['2024-08-16 09:00:00', '2024-08-16 17:00:00']"}"#;
    let requested = |choice: &str| {
        let opts = toml::toml! { task_timezone = "Asia/Jakarta" }
            .into_iter()
            .chain([("payment_slot_callback".to_string(), toml::Value::String(choice.into()))])
            .collect();
        let a = BluAdapter::from_settings(&settings(opts), "http://127.0.0.1:9").unwrap();
        a.parse_callback(body.as_bytes()).unwrap().events.remove(0).outcome.requested_at
    };
    let jakarta = |h: u32| Some(Utc.with_ymd_and_hms(2024, 8, 16, h - 7, 0, 0).unwrap());
    assert_eq!(requested("start"), jakarta(9));
    assert_eq!(requested("end"), jakarta(17));
    assert_eq!(requested("off"), None);
    assert_eq!(utc_opts().payment_slot_callback, crate::vendors::blu::PaymentSlotCallback::Start, "documented default");
    // No slot extracted (`null`), or one that cannot be read: no requested time.
    for slot in ["null", r#""Payment time not extracted""#] {
        let body =
            format!(r#"{{"taskId":"t","id":"c7-2","callStatus":"D99","intention":"HPTP","paymentTime":{slot}}}"#);
        let e = adapter("http://127.0.0.1:9").parse_callback(body.as_bytes()).unwrap().events.remove(0);
        assert_eq!((e.outcome.intent, e.outcome.requested_at), (Some(Intent::PromiseToPay), None), "{slot}");
    }
    let bad = settings(toml::toml! { payment_slot_callback = "middle" });
    let err = BluAdapter::from_settings(&bad, "http://127.0.0.1:9").unwrap_err();
    assert!(err.contains("middle") && err.contains("start"), "{err}");
}

#[test]
fn predial_queries_and_replies() {
    let a = adapter("http://127.0.0.1:9");
    let q = a.parse_predial(br#"{"taskId":"20261121","id":"c1-2","mobile":"6281234","orderId":"c1-2"}"#).unwrap();
    assert_eq!(q.attempt_ref.as_deref(), Some("c1-2"));
    assert_eq!(q.vendor_task_id.as_deref(), Some("20261121"));
    assert_eq!(q.phone.as_deref(), Some("+6281234"));
    // Only the merchant's customised parameters (extVars): orderId is our reference.
    let q = a.parse_predial(br#"{"orderId":"c1-3"}"#).unwrap();
    assert_eq!(q.attempt_ref.as_deref(), Some("c1-3"));
    assert!(a.parse_predial(br#"{"foo":"bar"}"#).is_err());
    assert!(a.parse_predial(b"nope").is_err());

    let opts = utc_opts();
    let (status, yes) = a.predial_reply(&PredialVerdict::Proceed);
    assert_eq!((status, &yes), (200, &json!({"code": 200, "data": {"call": true}, "message": "call"})));
    assert!(predial_says_call(status, &yes, opts.predial_proceed_code));
    let (status, no) = a.predial_reply(&PredialVerdict::Refuse { reason: "window closed".into() });
    assert_eq!(no["code"], json!(0));
    assert!(!predial_says_call(status, &no, opts.predial_proceed_code));
    // Blu's published example answer, verbatim: a cancel.
    let published: Value = serde_json::from_str(
        r#"{
    "code": 0,
    "message": "Cancel call"
}"#,
    )
    .unwrap();
    assert!(!predial_says_call(200, &published, opts.predial_proceed_code));
    assert!(!predial_says_call(500, &yes, opts.predial_proceed_code), "no clear yes, no dial");
}

// ---------------------------------------------------------------- codes

#[test]
fn every_code_row_maps_as_intended() {
    for (code, d, _) in LINE_STATUS.iter().chain(SPECIAL) {
        let o = codes::normalize(Some(code), None);
        assert_eq!(o.disposition, *d, "{code}");
        assert_eq!(o.raw_code, Some(format!("blu:{code}")));
        assert_eq!((o.intent, o.raw_intent), (None, None));
        if *d == Disposition::Unknown {
            assert!(["D90", "NAN"].contains(code), "{code} should not map to unknown");
        }
    }
    for (code, d, i) in DICT1.iter().chain(DICT2) {
        let o = codes::normalize(None, Some(code));
        assert_eq!((o.disposition, o.intent), (*d, *i), "{code}");
        assert_eq!(o.raw_intent, Some(format!("blu:{code}")));
        if *i == Some(Intent::Unknown) {
            assert!(["unknown", "undefined"].contains(code), "{code} should not map to unknown");
        }
        // Connected calls: the conclusion refines the line status.
        let connected = codes::normalize(Some("D99"), Some(code));
        let expected = match d {
            Disposition::Voicemail | Disposition::Cancelled => *d,
            _ => Disposition::Answered,
        };
        assert_eq!(connected.disposition, expected, "D99 + {code}");
        assert_eq!(connected.raw_code.as_deref(), Some("blu:D99"));
    }
    let all: HashMap<&str, (Disposition, Option<Intent>)> =
        LINE_STATUS.iter().chain(SPECIAL).chain(DICT1).chain(DICT2).map(|(c, d, i)| (*c, (*d, *i))).collect();
    assert_eq!(all.len(), LINE_STATUS.len() + SPECIAL.len() + DICT1.len() + DICT2.len() - 1, "only Busy repeats");
    assert_eq!(LINE_STATUS.len(), 15);
    assert_eq!(all["D01"].0, Disposition::Busy);
    assert_eq!(all["D03"].0, Disposition::Vacant);
    assert_eq!(all["D08"].0, Disposition::Voicemail);
    assert_eq!(all["D99"].0, Disposition::Answered);
    assert_eq!(all["LICERROR"].0, Disposition::VendorError);
    assert_eq!(all["CPL"].1, Some(Intent::Complaint));
    assert_eq!(all["Complan"].1, Some(Intent::Complaint));
    assert_eq!(all["AP"].1, Some(Intent::Paid));
    assert_eq!(all["HPTP"].1, Some(Intent::PromiseToPay));
    assert_eq!(all["NotOneself"].1, Some(Intent::WrongPerson));
    assert_eq!(all["Taskcancel"].0, Disposition::Cancelled);
    for code in doubles::blu::CODES {
        assert!(all.contains_key(code), "fake code {code} is in no table");
    }
    for (code, _) in doubles::blu::DEFAULTS {
        assert!(doubles::blu::CODES.contains(code), "{code}");
    }
}

#[test]
fn unknown_codes_keep_their_raw_value() {
    let o = codes::normalize(Some("D55"), Some("Maybe"));
    assert_eq!(o.disposition, Disposition::Unknown);
    assert_eq!(o.raw_code.as_deref(), Some("blu:D55"));
    assert_eq!(o.intent, Some(Intent::Unknown));
    assert_eq!(o.raw_intent.as_deref(), Some("blu:Maybe"));
    // An unknown line status with a known conclusion: the conclusion decides.
    let o = codes::normalize(Some("D55"), Some("AP"));
    assert_eq!((o.disposition, o.intent), (Disposition::Answered, Some(Intent::Paid)));
    assert_eq!(codes::normalize(None, None).disposition, Disposition::Unknown);
}

#[test]
fn api_error_codes_are_classified() {
    for (code, kind, _) in API_ERRORS {
        assert_eq!(codes::classify(code, &[]).0, *kind, "{code}");
    }
    assert_eq!(codes::classify("4001", &[]).0, VendorErrorKind::Fatal);
    assert_eq!(codes::classify("5000", &[]).0, VendorErrorKind::RetryLater);
    assert_eq!(codes::classify("9999", &[]), (VendorErrorKind::Fatal, "undocumented code"));
    assert_eq!(codes::classify("9999", &["9999".into()]).0, VendorErrorKind::RetryLater);
}

// ---------------------------------------------------------------- options

#[test]
fn check_reports_missing_credentials_and_bad_options_by_field() {
    assert!(crate::vendors::blu::check(&settings(toml::Table::new())).is_empty());
    let mut s = settings(toml::toml! { task_prefx = "x" });
    s.api_key = None;
    s.api_secret = None;
    s.callback_token = None;
    let problems: HashMap<String, String> = crate::vendors::blu::check(&s).into_iter().collect();
    assert!(problems["options"].contains("task_prefx"), "{problems:?}");
    assert!(problems.contains_key("api_key") && problems.contains_key("api_secret"), "{problems:?}");
    assert!(problems["callback_token"].contains("does not sign"), "{problems:?}");
    let s = settings(toml::toml! {
        task_timezone = "Mars/Base" task_id_template = "{prefix}" mobile_format = "national" query_page_size = 0
    });
    let fields: Vec<String> = crate::vendors::blu::check(&s).into_iter().map(|(f, _)| f).collect();
    for f in ["options.task_timezone", "options.task_id_template", "options.country_code", "options.query_page_size"] {
        assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
    }
    assert!(BluAdapter::from_settings(&s, "http://x").is_err());
}

#[test]
fn task_ids_and_mobiles_follow_the_options() {
    let opts: BluOptions = crate::vendors::common::options(
        &toml::toml! { task_id_template = "{prefix}{campaign}-{yyyyMMdd}" task_prefix = "cd-" },
    )
    .unwrap();
    let late = Utc.with_ymd_and_hms(2026, 11, 21, 20, 0, 0).unwrap();
    assert_eq!(crate::vendors::blu::adapter::task_id(&opts, chrono_tz::UTC, late, "c1"), "cd-c1-20261121");
    assert_eq!(crate::vendors::blu::adapter::task_id(&opts, chrono_tz::Asia::Jakarta, late, "c1"), "cd-c1-20261122");

    let mut opts = BluOptions::default();
    assert_eq!(crate::vendors::blu::adapter::to_mobile(&opts, "+6281234567").unwrap(), "6281234567");
    opts.mobile_format = MobileFormat::E164;
    assert_eq!(crate::vendors::blu::adapter::to_mobile(&opts, "+6281234567").unwrap(), "+6281234567");
    opts.mobile_format = MobileFormat::National;
    opts.country_code = Some("62".into());
    assert_eq!(crate::vendors::blu::adapter::to_mobile(&opts, "+6281234567").unwrap(), "081234567");
    assert!(crate::vendors::blu::adapter::to_mobile(&opts, "+4481234567").is_err());
    assert_eq!(crate::vendors::blu::adapter::from_mobile(&opts, "081234567").as_deref(), Some("+6281234567"));
    assert_eq!(crate::vendors::blu::adapter::from_mobile(&opts, "0177****3990"), None);
}
