//! Lookups answer `NotFound` only from the vendor's complete view: the task
//! list is paged until the vendor says it ended (an empty page, `total`
//! rows seen); a page limit, a short page without a total, a page without a
//! list or an error on the way never conclude that a call does not exist.

use super::adapter::{LaafficAdapter, QUERY_PATH};
use super::tests::options;
use crate::vendors::itnio_family::testkit::*;
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter, VendorError, VendorErrorKind};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// A task list server answering page `n` (from 1) with `page(n)`: an HTTP
/// status and the `data` of the envelope. Returns its base URL and the
/// number of pages asked for.
async fn task_list(page: impl Fn(i64) -> (u16, Value) + Send + Sync + 'static) -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let (counter, page) = (asked.clone(), Arc::new(page));
    let app = axum::Router::new().route(
        &format!("/{QUERY_PATH}"),
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (counter, page) = (counter.clone(), page.clone());
            async move {
                counter.fetch_add(1, Relaxed);
                let (status, data) = page(body["pageNum"].as_i64().unwrap_or(1));
                let status = axum::http::StatusCode::from_u16(status).unwrap();
                if !status.is_success() {
                    return (status, "Service Unavailable").into_response();
                }
                axum::Json(json!({ "status": "0", "reason": "success", "data": data })).into_response()
            }
        }),
    );
    let l = listener().await;
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (base, asked)
}

/// Tasks `from..from+n` as rows of the list (status 1, calling).
fn rows(from: i64, n: i64) -> Vec<Value> {
    (from..from + n).map(|id| json!({ "taskId": id, "status": 1 })).collect()
}

async fn lookup(base: &str, max_pages: u32, task: &str) -> Result<LookupResult, VendorError> {
    let mut opts = options();
    opts["query_page_size"] = json!(100);
    opts["query_max_pages"] = json!(max_pages);
    let adapter = LaafficAdapter::new(&settings("laaffic", opts), base).unwrap();
    let handle = AttemptHandle {
        vendor_task_id: Some(task.into()),
        phone: "+8613200000007".into(),
        ..AttemptHandle::by_ref("3fa9c2d41b7e-1-1")
    };
    adapter.lookup(&handle).await
}

#[tokio::test]
async fn a_page_limit_hit_is_unknown_not_not_found() {
    // Full pages forever, a total far away: the task may be further on.
    let (base, asked) = task_list(|n| (200, json!({ "total": 100_000, "list": rows(n * 100, 100) }))).await;
    let err = lookup(&base, 3, "7").await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Unknown);
    assert!(err.message.contains("query_max_pages"), "{}", err.message);
    assert_eq!(asked.load(Relaxed), 3);
}

#[tokio::test]
async fn a_short_page_without_a_total_is_not_the_end() {
    // The vendor caps pageSize at 10: a page of 10 when 100 were asked.
    let (base, asked) = task_list(|n| (200, json!({ "list": if n <= 3 { rows(n * 10, 10) } else { vec![] } }))).await;
    assert!(matches!(lookup(&base, 20, "35").await.unwrap(), LookupResult::Pending { .. }), "found on page 3");
    assert_eq!(asked.load(Relaxed), 3);
    // Not in the list at all: read to the empty page; even then the task
    // id came from the vendor, so the answer is unknown, never NotFound.
    asked.store(0, Relaxed);
    let err = lookup(&base, 20, "999").await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Unknown);
    assert_eq!(asked.load(Relaxed), 4, "paged to the empty page");
}

#[tokio::test]
async fn a_total_reached_ends_the_list_and_status_three_is_not_found() {
    let (base, asked) = task_list(|n| {
        let list = if n == 1 { rows(1, 100) } else { vec![json!({ "taskId": 150, "status": 3 })] };
        (200, json!({ "total": 101, "list": list }))
    })
    .await;
    // 提交失敗 submit failed: the vendor's word that nothing of the task was dialed.
    assert_eq!(lookup(&base, 20, "150").await.unwrap(), LookupResult::NotFound);
    asked.store(0, Relaxed);
    assert_eq!(lookup(&base, 20, "151").await.unwrap_err().kind, VendorErrorKind::Unknown);
    assert_eq!(asked.load(Relaxed), 2, "101 of 101 seen");
}

#[tokio::test]
async fn a_page_without_a_list_or_an_error_midway_never_concludes() {
    let (base, _) = task_list(|n| if n == 1 { (200, json!({ "list": rows(1, 100) })) } else { (200, json!({})) }).await;
    let err = lookup(&base, 20, "500").await.unwrap_err();
    assert_eq!(err.kind, VendorErrorKind::Unknown);
    assert!(err.message.contains("no task list"), "{}", err.message);
    let (base, _) =
        task_list(|n| if n == 1 { (200, json!({ "list": rows(1, 100) })) } else { (503, json!(null)) }).await;
    assert_eq!(lookup(&base, 20, "500").await.unwrap_err().kind, VendorErrorKind::RetryLater);
    let (base, _) =
        task_list(|n| if n == 1 { (200, json!({ "list": rows(1, 100) })) } else { (200, json!({ "list": null })) })
            .await;
    assert_eq!(lookup(&base, 20, "500").await.unwrap_err().kind, VendorErrorKind::Unknown);
}
