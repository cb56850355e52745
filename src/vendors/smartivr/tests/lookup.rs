//! Lookups only answer "not found" (which lets the daemon dial again) from
//! the whole list: pages without `last_page` or `total`, shorter pages than
//! documented, the page limit, an error mid-way and rows that cannot be
//! read all give another answer.

use super::{OPTIONS, TOKEN, adapter_for, settings};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter, VendorError, VendorErrorKind};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// `page` → (HTTP status, body).
type Script = Arc<dyn Fn(u32) -> (u16, Value) + Send + Sync>;

const OURS: &str = "13900000007";

fn ours() -> AttemptHandle {
    AttemptHandle {
        attempt_ref: "3fa9c2d41b7e-1042-2".into(),
        phone: format!("+86{OURS}"),
        vendor_task_id: Some("task-1".into()),
        external_call_id: None,
        dispatched_at: None,
    }
}

/// A smartivr whose number list answers `numbers(page)` (whatever the
/// keyword) and whose call records answer `records(page)`.
async fn lookup(options: &str, numbers: Script, records: Script) -> Result<LookupResult, VendorError> {
    let app = axum::Router::new()
        .route(
            "/v1/task/number",
            get(move |Query(q): Query<HashMap<String, String>>| {
                let numbers = numbers.clone();
                async move {
                    let (status, body) = numbers(q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0));
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        )
        .route(
            "/v1/task/query_done_task_phones",
            post(move |axum::Json(body): axum::Json<Value>| {
                let records = records.clone();
                async move {
                    let (status, body) = records(body["page"].as_u64().unwrap_or(0) as u32);
                    (StatusCode::from_u16(status).unwrap(), axum::Json(body))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let a = adapter_for(&settings(&format!("{OPTIONS}\n{options}")), &base, TOKEN);
    let got = a.lookup(&ours()).await;
    server.abort();
    got
}

/// A `task/number` answer holding `rows`, with `extra` page fields (`total`, `last_page`).
fn numbers_page(rows: Vec<Value>, extra: Value) -> (u16, Value) {
    let mut data = json!({ "data": rows });
    data.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    (200, json!({ "code": 200, "status": "ok", "message": "获取号码列表成功", "data": data }))
}

fn row(number: &str, status: i64) -> Value {
    json!({ "number": number, "status": status, "callid": format!("call-{number}"),
            "calldate": "2024-01-01 10:00:00", "hangupdate": "2024-01-01 10:01:00", "bill": 1000 })
}

fn others(from: usize, n: usize) -> Vec<Value> {
    (from..from + n).map(|i| row(&format!("1380000{i:04}"), 4)).collect()
}

fn no_records() -> Script {
    Arc::new(|_| (200, json!({ "data": [], "total": 0, "last_page": 1 })))
}

fn unknown(got: Result<LookupResult, VendorError>, why: &str) {
    match got {
        Err(e) => {
            assert_eq!(e.kind, VendorErrorKind::Unknown, "{e}");
            assert!(e.message.contains(why), "`{why}` not in: {}", e.message);
        }
        Ok(answer) => panic!("an incomplete view answered {answer:?}"),
    }
}

/// Pages of 5 rows (a server cap below the documented 15) and neither
/// `last_page` nor `total`: the reader before this change took the short
/// first page for the last and answered "not found" (a double dial).
#[tokio::test]
async fn short_pages_without_last_page_are_read_to_the_empty_page() {
    let numbers: Script = Arc::new(|page| match page {
        1 | 2 => numbers_page(others((page as usize - 1) * 5, 5), json!({})),
        3 => numbers_page(vec![row(OURS, 1)], json!({})),
        _ => numbers_page(Vec::new(), json!({})),
    });
    let records: Script = Arc::new(|page| match page {
        1 => (
            200,
            json!({ "data": [{ "callid": format!("call-{OURS}"), "callee": OURS, "level_name": "B级",
                                       "tags": [{ "name": "投诉" }] }] }),
        ),
        _ => (200, json!({ "data": [] })),
    });
    match lookup("", numbers, records).await {
        Ok(LookupResult::Finished(e)) => {
            assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(Intent::Complaint)));
            assert_eq!(e.phone.as_deref(), Some("+8613900000007"));
        }
        other => panic!("ours is on page 3: {other:?}"),
    }
    // The same list without ours: "not found", from the whole list.
    let numbers: Script = Arc::new(|page| match page {
        1 | 2 => numbers_page(others((page as usize - 1) * 5, 5), json!({})),
        _ => numbers_page(Vec::new(), json!({})),
    });
    assert_eq!(lookup("", numbers, no_records()).await.unwrap(), LookupResult::NotFound);
}

#[tokio::test]
async fn full_pages_that_never_end_hit_the_page_limit() {
    let numbers: Script = Arc::new(|page| numbers_page(others(page as usize * 15, 15), json!({})));
    unknown(lookup("max_pages = 3", numbers, no_records()).await, "page limit");
}

#[tokio::test]
async fn fewer_rows_than_the_total_or_an_empty_page_before_the_last_is_unknown() {
    let numbers: Script = Arc::new(|_| numbers_page(others(0, 15), json!({ "total": 20, "last_page": 1 })));
    unknown(lookup("", numbers, no_records()).await, "15 of 20 rows");
    let numbers: Script = Arc::new(|page| match page {
        1 => numbers_page(others(0, 15), json!({ "last_page": 3 })),
        _ => numbers_page(Vec::new(), json!({ "last_page": 3 })),
    });
    unknown(lookup("", numbers, no_records()).await, "empty before the last page 3");
    let numbers: Script = Arc::new(|page| match page {
        1 => numbers_page(others(0, 15), json!({ "total": 30 })),
        _ => numbers_page(Vec::new(), json!({ "total": 30 })),
    });
    unknown(lookup("", numbers, no_records()).await, "after 15 of 30 rows");
}

#[tokio::test]
async fn an_error_mid_way_is_no_answer() {
    let numbers: Script = Arc::new(|page| match page {
        1 => numbers_page(others(0, 15), json!({ "last_page": 2 })),
        _ => (503, json!({ "code": 503, "status": "error", "message": "busy" })),
    });
    let e = lookup("", numbers, no_records()).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::RetryLater);
    assert!(e.message.contains("page 2") && e.message.contains("after 15 rows"), "{}", e.message);
}

#[tokio::test]
async fn a_row_that_may_be_ours_but_cannot_be_read_is_unknown() {
    // Our number, with a status of the wrong type.
    let numbers: Script =
        Arc::new(|_| numbers_page(vec![json!({ "number": OURS, "status": { "code": 1 } })], json!({ "last_page": 1 })));
    unknown(lookup("", numbers, no_records()).await, "status: expected");
    // Our answered call, whose call record (grade, tags) cannot be read.
    let numbers: Script = Arc::new(|_| numbers_page(vec![row(OURS, 1)], json!({ "last_page": 1 })));
    let records: Script = Arc::new(|_| {
        (200, json!({ "data": [{ "callid": format!("call-{OURS}"), "callee": OURS, "tags": "投诉" }], "last_page": 1 }))
    });
    unknown(lookup("", numbers, records).await, "tags: expected an array");
    // Another number's bad row does not stand in the way.
    let numbers: Script =
        Arc::new(|_| numbers_page(vec![json!({ "number": "13800000001", "status": [4] })], json!({ "last_page": 1 })));
    assert_eq!(lookup("", numbers, no_records()).await.unwrap(), LookupResult::NotFound);
}
