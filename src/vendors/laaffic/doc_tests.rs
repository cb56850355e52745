//! Contract tests on the Laaffic document's own text, cut out of the file at
//! compile time: the create example (request and reply), the signature
//! example, the reply-code and intent-code tables, and the push field list
//! the vendor-docs README gives (the document shows no push example).

use super::adapter::{CREATE_PATH, LaafficAdapter};
use super::codes::{self, INTENT_CODES, REPLY_CODES};
use super::tests::options;
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::embedded::fake_config;
use crate::vendors::itnio_family::sign;
use crate::vendors::itnio_family::testkit::*;
use crate::vendors::{HeaderMap, VendorAdapter};
use doubles::FakeBehavior;
use doubles::laaffic::PUSH_FIELDS;
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub(crate) const DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/laaffic-ai-agent-group-call.txt"));
pub(crate) const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/README.md"));

/// The text between `start` (excluded) and the next `end` after it.
pub(crate) fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("`{start}` not in the document")) + start.len();
    let len = text[from..].find(end).unwrap_or_else(|| panic!("`{end}` not after `{start}`"));
    &text[from..from + len]
}

/// The first word of each line of a table (the code or the field name).
fn first_words(table: &str) -> Vec<&str> {
    table.lines().filter_map(|l| l.split_whitespace().next()).collect()
}

fn example_request() -> Value {
    serde_json::from_str(between(DOC, "Request Body:", "響應參數").trim()).expect("the example body is JSON")
}

fn example_reply() -> &'static str {
    between(DOC, "響應示例", "響應狀態碼").trim()
}

#[test]
fn the_signature_example_of_the_document() {
    let headers = between(DOC, "Request Headers:", "Request Body:");
    let get = |name: &str| {
        let prefix = format!("{name}:");
        headers.lines().find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(str::trim)).expect(name)
    };
    let (sig, ts, key) = (get("Sign"), get("Timestamp"), get("Api-Key"));
    // The secret is not in the document; the README names the one the example was made with.
    let secret = between(README, &format!("md5(\"{key}\" + \""), "\"");
    assert_eq!((key, secret), (KEY, SECRET));
    assert_eq!(sign::sign(key, secret, ts), sig);
    let ours = sign::auth_headers(key, secret, ts.parse().unwrap());
    let expected = [("Sign", sig.to_string()), ("Timestamp", ts.to_string()), ("Api-Key", key.to_string())];
    assert_eq!(ours, expected);
    // The fake's check accepts the example's headers at the example's time.
    let mut map = HeaderMap::new();
    for (k, v) in &expected {
        map.insert(*k, v.parse().unwrap());
    }
    assert_eq!(doubles::itnio::check_auth(&map, key, secret, ts.parse().unwrap()), Ok(()));
}

/// Ours must have the example's shape: every field we send is in the
/// example or in the parameter table, with the example's JSON type.
fn same_shape(ours: &Value, doc: &Value, documented: &BTreeSet<&str>, path: &str) {
    // The table says Integer; the example sends "41": both are read by the vendor.
    const LOOSE: &[&str] = &["$.recallFlow.nodeList[].agentId"];
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    match (ours, doc) {
        (Value::Object(o), Value::Object(d)) => {
            for (k, v) in o {
                assert!(d.contains_key(k) || documented.contains(k.as_str()), "{path}.{k} is not documented");
                if let Some(dv) = d.get(k) {
                    same_shape(v, dv, documented, &format!("{path}.{k}"));
                }
            }
        }
        (Value::Array(o), Value::Array(d)) => {
            if let (Some(a), Some(b)) = (o.first(), d.first()) {
                same_shape(a, b, documented, &format!("{path}[]"));
            }
        }
        (a, b) => assert!(kind(a) == kind(b) || LOOSE.contains(&path), "{path}: we send {a}, the example {b}"),
    }
}

#[test]
fn our_create_request_has_the_shape_of_the_documents_example() {
    let example = example_request();
    let documented: BTreeSet<&str> = first_words(between(DOC, "請求參數", "請求示例")).into_iter().collect();
    for field in ["appId", "taskName", "numberInfoList", "calleeNumber", "sendTime", "text10", "recallFlow", "agentId"]
    {
        assert!(documented.contains(field), "the parameter table names {field}");
    }
    let mut opts = options();
    opts["display_num"] = json!("1008122211");
    let a = LaafficAdapter::new(&settings("laaffic", opts), "http://x").unwrap();
    let mut b = batch("3fa9c2d41b7e-1042", 2);
    b.vendor_redial = true;
    let now = chrono::Utc::now();
    b.not_after = Some(now + chrono::Duration::minutes(30));
    let ours = a.create_request_for_test(&b, now);
    same_shape(&ours, &example, &documented, "$");
    for field in ["appId", "taskName", "displayNum", "maxCalls", "maxRingingTime", "agentId", "enableRecording"] {
        assert!(ours.get(field).is_some(), "we send {field} like the example");
    }
    assert_eq!(ours["appId"], example["appId"]);
    assert_eq!(ours["agentId"], example["agentId"]);
    assert_eq!(ours["allowSendTime"].as_array().unwrap().len(), 1);
    assert!((2..=64).contains(&ours["taskName"].as_str().unwrap().chars().count()), "taskName 長度2-64");
}

#[tokio::test]
async fn the_fake_accepts_the_documents_example_request() {
    let s = settings("laaffic", options());
    let fake = doubles::laaffic::spawn(&fake_config(&s), FakeBehavior::fast(1), listener().await).await.unwrap();
    let url = format!("{}/{CREATE_PATH}", fake.base_url());
    let reply = raw_post(&url, &example_request(), &signed()).await;
    assert_eq!(reply["status"], "0", "{reply}");
    assert!(reply["data"].is_number(), "keyId Integer: {reply}");
    // The same name again: −41, as the table says.
    assert_eq!(raw_post(&url, &example_request(), &signed()).await["status"], "-41");
    fake.shutdown().await;
}

#[tokio::test]
async fn the_documents_reply_example_gives_the_task_id() {
    let reply = example_reply().to_string();
    let app = axum::Router::new().route(
        &format!("/{CREATE_PATH}"),
        axum::routing::post(move || {
            let reply = reply.clone();
            async move { ([("content-type", "application/json")], reply) }
        }),
    );
    let l = listener().await;
    let base = format!("http://{}", l.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let adapter = LaafficAdapter::new(&settings("laaffic", options()), &base).unwrap();
    let receipt = adapter.dispatch(&batch("r", 2)).await.unwrap();
    assert_eq!(receipt.vendor_task_id, "123123");
    assert_eq!(receipt.accepted.len(), 2);
    assert_eq!(receipt.raw_response.as_deref(), Some(example_reply()));
    server.abort();
}

#[test]
fn every_code_of_the_documents_tables_is_mapped() {
    let replies: Vec<i64> =
        first_words(between(DOC, "響應狀態碼\nstatus", "編碼對應表")).iter().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(replies.len(), 21, "{replies:?}");
    let ours: BTreeSet<i64> = REPLY_CODES.iter().map(|r| r.0).collect();
    assert_eq!(ours, replies.iter().copied().collect::<BTreeSet<i64>>());

    let table = &DOC[DOC.find("編碼對應表\n全局").unwrap()..];
    let lines: Vec<&str> = table
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|w| w.chars().all(|c| c.is_ascii_digit())))
        .collect();
    let documented: BTreeSet<&str> = lines.iter().filter_map(|l| l.split_whitespace().next()).collect();
    let mapped: BTreeSet<&str> = INTENT_CODES.iter().map(|r| r.0).collect();
    assert_eq!(documented.len(), 21);
    assert_eq!(mapped, documented);
    for code in &documented {
        let o = codes::normalize(Some(code), Some(0), None);
        assert_ne!(o.disposition, Disposition::Unknown, "{code}");
        assert_eq!(o.raw_code, Some(format!("laaffic:{code}")));
    }
    // The line the 208 mapping follows: "208 客戶無法還款:否認借貸" (denies the loan).
    let line = lines.iter().find(|l| l.starts_with("208 ")).unwrap();
    assert!(line.contains("否認借貸"), "{line}");
    assert_eq!(codes::normalize(Some("208"), Some(0), None).intent, Some(Intent::Dispute));
    let line = lines.iter().find(|l| l.starts_with("207 ")).unwrap();
    assert!(line.contains("拒絕還款"), "{line}");
    assert_eq!(codes::normalize(Some("207"), Some(0), None).intent, Some(Intent::Refuse));
}

#[test]
fn the_fake_pushes_the_field_list_the_readme_gives() {
    let list = between(README, "Results come as a push: a JSON **array** of records\n(", ")");
    let names: Vec<&str> = list.split([',', '/']).filter_map(|f| f.split_whitespace().next()).collect();
    assert_eq!(names, PUSH_FIELDS);
    assert!(!names.contains(&"taskId"), "the documented push names no task");
}
