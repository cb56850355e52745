//! AIRudder adapter tests: the document's examples (cut out of the document
//! itself), the variations real bodies show, signatures and settings checks,
//! and the adapter against the fake on loopback.

mod doc_examples;
mod lookup;
mod loopback;
mod variations;

use super::adapter::{AirudderAdapter, sign};
use super::{KIND, check};
use crate::config::{Secret, VendorSettings};
use crate::vendors::{CallbackError, ParsedCallback, VendorAdapter};
use axum::http::{HeaderMap, HeaderValue};
use doubles::FakeBehavior;
use serde_json::Value;

/// AIRudder's API page, as published (see `shared/vendor-docs/README.md`).
pub const DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/airudder-workflow-call-webhook.txt"));

/// The text between the first `start` marker and the `end` marker after it
/// (the end marker's first `keep` bytes kept).
fn cut<'a>(doc: &'a str, start: &str, end: &str, keep: usize) -> &'a str {
    let from = doc.find(start).unwrap_or_else(|| panic!("`{start}` not in the document")) + start.len();
    let to = from + doc[from..].find(end).unwrap_or_else(|| panic!("`{end}` not after `{start}`")) + keep;
    &doc[from..to]
}

/// The body example under "示例" (Example) of "Notification of Call
/// Completion in Workflow (Info Check)", exactly as the document has it.
pub fn doc_example() -> &'static str {
    let page = cut(DOC, "Notification of Call Completion in Workflow(Info Check)\n\nPOST", "示例代码", 0);
    cut(page, "\n示例\n", "\n}\n", 2)
}

/// The same body as the document's curl request example (`--data-raw '...'`).
pub fn curl_example() -> &'static str {
    cut(DOC, "--data-raw '", "\n}'", 2)
}

/// The answer the document shows for the webhook ("返回响应", 200).
pub fn doc_answer() -> &'static str {
    let answer = cut(DOC, "🟢200success", "上一页", 0);
    cut(answer, "示例\n", "\n", 0)
}

pub fn settings(options: &str) -> VendorSettings {
    VendorSettings {
        api_key: Some(Secret::new("app-key")),
        api_secret: Some(Secret::new("app-secret")),
        callback_token: Some(Secret::new("url-token")),
        options: toml::from_str(options).unwrap(),
        ..VendorSettings::for_test("ar", KIND)
    }
}

pub const OPTS: &str = "robot_hash = \"robot-1\"\nstart_lead = \"0s\"\n";

pub fn adapter(options: &str, base_url: &str) -> AirudderAdapter {
    AirudderAdapter::new(&settings(options), base_url).unwrap()
}

/// An adapter that talks to nobody, for parsing.
pub fn parser() -> AirudderAdapter {
    adapter(OPTS, "http://127.0.0.1:9")
}

/// Parse `body`, asserting nothing was dropped: every record of `details[]`
/// is an event or a rejection.
pub fn parse_all(a: &AirudderAdapter, body: &Value) -> ParsedCallback {
    let parsed = a.parse_callback(body.to_string().as_bytes()).unwrap();
    let records = body["details"].as_array().map_or(0, Vec::len);
    assert_eq!(parsed.events.len() + parsed.rejected.len(), records, "a record was dropped: {parsed:?}");
    parsed
}

#[test]
fn the_examples_are_cut_from_the_document_whole() {
    for example in [doc_example(), curl_example()] {
        let v: Value = serde_json::from_str(example).expect("the document's example is JSON");
        assert_eq!(v["details"].as_array().map(Vec::len), Some(1));
        assert!(example.starts_with("{\n  \"workflow_id\"") && example.ends_with("\n}"));
    }
    assert_eq!(doc_example(), curl_example(), "the document shows the same body twice");
    assert_eq!(doc_answer(), "{}");
}

#[test]
fn signature_modes() {
    let body = doc_example().as_bytes();
    let none = parser();
    assert!(!none.signs_callbacks());
    none.verify_callback(&HeaderMap::new(), body, None).unwrap();

    let hmac = adapter(&format!("{OPTS}signature = \"hmac-sha256\"\n"), "http://127.0.0.1:9");
    assert!(hmac.signs_callbacks());
    let mut headers = HeaderMap::new();
    assert!(matches!(hmac.verify_callback(&headers, body, None), Err(CallbackError::Unauthorized(_))));
    // The documented default key is "airudder" when no callback_secret is set.
    headers.insert("X-AIRudder-Sign", HeaderValue::from_str(&sign("airudder", body)).unwrap());
    hmac.verify_callback(&headers, body, None).unwrap();
    headers.insert("X-AIRudder-Sign", HeaderValue::from_str(&sign("other", body)).unwrap());
    assert!(matches!(hmac.verify_callback(&headers, body, None), Err(CallbackError::Unauthorized(_))));
    // Known HMAC-SHA256 vector (RFC 4231 style check of the helper itself).
    assert_eq!(
        sign("key", b"The quick brown fox jumps over the lazy dog"),
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
}

#[test]
fn check_reports_missing_credentials_options_and_callback_token() {
    let fields = |s: &VendorSettings| check(s).into_iter().map(|(f, _)| f).collect::<Vec<_>>();
    assert!(check(&settings(OPTS)).is_empty(), "{:?}", check(&settings(OPTS)));
    let mut s = settings("");
    s.api_key = None;
    s.api_secret = None;
    s.callback_token = None;
    let f = fields(&s);
    for want in ["api_key", "api_secret", "options.robot_hash", "callback_token"] {
        assert!(f.contains(&want.to_string()), "{want} missing from {f:?}");
    }
    let why = check(&s).into_iter().find(|(f, _)| f == "callback_token").unwrap().1;
    assert!(why.contains("not verified"), "{why}");
    // Signed webhooks need no URL token.
    let mut signed = settings(&format!("{OPTS}signature = \"hmac-sha256\"\n"));
    signed.callback_token = None;
    assert!(check(&signed).is_empty());
    let unknown = check(&settings(&format!("{OPTS}robot = \"x\"\n")));
    assert_eq!(unknown[0].0, "options");
    assert!(unknown[0].1.contains("unknown field") && unknown[0].1.contains("robot"), "{}", unknown[0].1);
    let bad = fields(&settings(&format!("{OPTS}account_timezone = \"Mars/Olympus\"\n[intent_labels]\nA = \"rich\"\n")));
    assert!(
        bad.contains(&"options.account_timezone".to_string()) && bad.contains(&"options.intent_labels".to_string())
    );
}

#[test]
fn fake_codes_cover_the_default_weights() {
    let known = doubles::kinds::find(KIND).unwrap().codes;
    assert_eq!(known, doubles::airudder::CODES);
    let b = FakeBehavior { outcomes: [("E".to_string(), 1.0)].into(), ..FakeBehavior::default() };
    b.validate(known).unwrap();
}
