//! Units: error classification, options, and which callbacks are taken.

use super::{OPTIONS, TOKEN, adapter_for, settings};
use crate::config::Secret;
use crate::vendors::common::Answer;
use crate::vendors::smartivr::{adapter, check};
use crate::vendors::{CallbackError, VendorAdapter, VendorErrorKind};
use serde_json::json;

#[test]
fn error_codes_are_classified() {
    for (code, kind, meaning) in adapter::ERROR_CODES {
        assert_eq!(adapter::classify(*code), *kind, "{code} {meaning}");
        let expected = if *code == 408 || *code == 429 || *code >= 500 {
            VendorErrorKind::RetryLater
        } else {
            VendorErrorKind::Fatal
        };
        assert_eq!(*kind, expected, "{code}");
    }
    assert_eq!(adapter::classify(507), VendorErrorKind::RetryLater);
    assert_eq!(adapter::classify(418), VendorErrorKind::Fatal);
    assert_eq!(adapter::classify(-1), VendorErrorKind::Fatal);

    let answer =
        |status: u16, body: &str| Answer { status: reqwest::StatusCode::from_u16(status).unwrap(), body: body.into() };
    assert_eq!(adapter::refusal(&answer(200, r#"{"code":200,"status":"ok","data":{}}"#)), None);
    assert_eq!(adapter::refusal(&answer(200, r#"{"data":[],"total":0,"last_page":1}"#)), None);
    let taken = adapter::refusal(&answer(
        422,
        r#"{"message":"The given data was invalid.","errors":{"name":["The name has already been taken."]}}"#,
    ))
    .unwrap();
    assert!(taken.name_taken && taken.code == 422 && taken.message.contains("already been taken"), "{taken:?}");
    let in_body =
        adapter::refusal(&answer(200, r#"{"code":429,"status":"error","message":"Too Many Attempts."}"#)).unwrap();
    assert_eq!((in_body.code, in_body.name_taken), (429, false));
    let bare = adapter::refusal(&answer(502, "<html>bad gateway</html>")).unwrap();
    assert_eq!(bare.code, 502);
}

#[test]
fn check_reports_missing_credentials_and_bad_options() {
    assert!(check(&settings(OPTIONS)).is_empty(), "{:?}", check(&settings(OPTIONS)));
    let mut s = settings("");
    s.api_key = None;
    let issues = check(&s);
    let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"api_key"), "{issues:?}");
    assert!(fields.contains(&"options.group_id"), "{issues:?}");
    assert!(!fields.contains(&"callback_token"), "polling only: no token needed");

    let issues = check(&settings("group_id = 1\nrobot = 3"));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].0, "options");
    assert!(issues[0].1.contains("robot"), "{issues:?}");

    let issues = check(&settings("group_id = 1\nserver_timezone = \"Mars/Base\"\ncall_notify_type = 3"));
    let fields: Vec<&str> = issues.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"options.server_timezone") && fields.contains(&"options.call_notify_type"), "{issues:?}");

    let issues = check(&settings("group_id = 1\ncall_notify_type = 1"));
    assert_eq!(issues.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(), ["callback_token"]);
    let mut with_token = settings("group_id = 1\ncall_notify_type = 1");
    with_token.callback_token = Some(Secret::new("t"));
    assert!(check(&with_token).is_empty());
    // The secret never shows in the adapter's Debug.
    let a = adapter_for(&settings(OPTIONS), "http://127.0.0.1:9", TOKEN);
    assert!(!format!("{a:?}").contains(TOKEN));
}

#[test]
fn callbacks_are_refused_unless_notifications_are_on() {
    let off = adapter_for(&settings(OPTIONS), "http://127.0.0.1:9", TOKEN);
    assert!(off.signs_callbacks(), "nothing to verify: the registry needs no callback_token");
    let err = off.verify_callback(&Default::default(), b"{}", None).unwrap_err();
    assert!(matches!(&err, CallbackError::Unauthorized(m) if m.contains("disabled")), "{err}");
    let on = adapter_for(&settings(&format!("{OPTIONS}\ncall_notify_type = 2")), "http://127.0.0.1:9", TOKEN);
    assert!(!on.signs_callbacks());
    on.verify_callback(&Default::default(), b"{}", None).unwrap();
    // No task id anywhere: none is invented (the result is matched by vendor and phone).
    let untasked = on.parse_callback(b"{\"number\":\"1\",\"status\":1}").unwrap().events;
    assert_eq!(untasked[0].vendor_task_id, None);
    assert!(matches!(on.parse_callback(b"[]"), Err(CallbackError::Malformed(_))));
    let waiting = on.parse_callback(br#"{"number":"13900000000","status":0,"task_id":"t"}"#).unwrap().events;
    assert!(!waiting[0].is_final);
    assert_eq!(on.callback_ack(), (200, json!({ "code": 200, "status": "ok", "message": "success" })));
}
