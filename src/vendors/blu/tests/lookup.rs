//! Lookups only answer "not found" (which lets the daemon dial again) from
//! the whole task: capped pages, pages without a total, a page limit, an
//! error mid-way or a record that cannot be read all give another answer.

use super::{Receiver, batch, fake_varying, handle, settings, wait_until};
use crate::domain::outcome::Disposition;
use crate::vendors::blu::adapter::BluAdapter;
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter, VendorError, VendorErrorKind};
use axum::http::StatusCode;
use axum::routing::post;
use chrono::Utc;
use doubles::FakeBehavior;
use doubles::blu::Variations;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Blu serves 3 records a page although 50 are asked, and says no total:
/// the reader before this change took the short first page for the last
/// and answered "not found" for every record past it (a double dial).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_page_size_without_total_never_answers_not_found() {
    let rx = Receiver::start(|_| false).await;
    let behavior = FakeBehavior { callback_url: Some(rx.url.clone()), ..FakeBehavior::fast(7) };
    let vary = Variations { page_cap: Some(3), no_total: true, ..Variations::default() };
    let (fake, a) = fake_varying(behavior, toml::toml! { query_page_size = 50 }, vary).await;
    let b = batch("cap", 11);
    let task = a.dispatch(&b).await.unwrap().vendor_task_id;
    wait_until("11 results", Duration::from_secs(20), || rx.finals().len() == 11).await;
    for i in 0..11 {
        match a.lookup(&handle(&b, i, &task)).await.unwrap() {
            LookupResult::Finished(e) => assert_eq!(e.attempt_ref.as_deref(), Some(b.items[i].attempt_ref.as_str())),
            other => panic!("record {i} behind the capped first page: {other:?}"),
        }
    }
    let mut never = handle(&b, 0, &task);
    never.attempt_ref = "cap-never".into();
    assert_eq!(a.lookup(&never).await.unwrap(), LookupResult::NotFound, "read on to the empty page");
    fake.shutdown().await;
}

type Script = Arc<dyn Fn(u32, u32) -> (u16, Value) + Send + Sync>;

/// A Blu whose `queryCallResult` answers `script(pageNo, pageSize)`.
async fn stub(options: toml::Table, script: Script) -> (BluAdapter, tokio::task::JoinHandle<()>) {
    let app = axum::Router::new().route(
        "/rest/v1/queryCallResult",
        post(move |axum::Json(body): axum::Json<Value>| {
            let script = script.clone();
            async move {
                let n = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
                let (status, reply) = script(n("pageNo"), n("pageSize"));
                (StatusCode::from_u16(status).unwrap(), axum::Json(reply))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (BluAdapter::from_settings(&settings(options), &base).unwrap(), server)
}

fn ok(data: Value) -> (u16, Value) {
    (200, json!({ "code": 2000, "message": "success", "data": data }))
}

/// `n` results of other attempts, numbered from `from`.
fn others(from: u32, n: u32) -> Vec<Value> {
    (from..from + n).map(|i| json!({"id": format!("other-{i}"), "mobile": "6281999", "callStatus": "D01"})).collect()
}

fn ours() -> AttemptHandle {
    AttemptHandle {
        attempt_ref: "3fa9c2d41b7e-1042-2".into(),
        phone: "+6281234567".into(),
        vendor_task_id: Some("20260101".into()),
        external_call_id: None,
        dispatched_at: Some(Utc::now()),
    }
}

async fn lookup(options: toml::Table, script: Script) -> Result<LookupResult, VendorError> {
    let (a, server) = stub(options, script).await;
    let got = a.lookup(&ours()).await;
    server.abort();
    got
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

#[tokio::test]
async fn full_pages_that_never_end_hit_the_page_limit_and_answer_unknown() {
    let options = toml::toml! { query_page_size = 5 query_max_pages = 4 };
    let got = lookup(options, Arc::new(|page, size| ok(json!({ "records": others(page * 100, size) })))).await;
    unknown(got, "page limit");
}

#[tokio::test]
async fn an_empty_page_before_the_total_is_unknown() {
    let got = lookup(
        toml::toml! { query_page_size = 2 },
        Arc::new(|page, _| match page {
            1 => ok(json!({ "total": 5, "records": others(0, 2) })),
            _ => ok(json!({ "total": 5, "records": [] })),
        }),
    )
    .await;
    unknown(got, "total is 5");
}

#[tokio::test]
async fn an_error_mid_way_is_no_answer() {
    let got = lookup(
        toml::toml! { query_page_size = 2 },
        Arc::new(|page, _| match page {
            1 => ok(json!({ "records": others(0, 2) })),
            _ => (503, json!({ "code": 5000, "message": "system busy" })),
        }),
    )
    .await;
    let e = got.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::RetryLater);
    assert!(e.message.contains("page 2, after 2 records"), "{}", e.message);
}

#[tokio::test]
async fn an_unreadable_record_that_may_be_ours_is_unknown_and_one_of_another_is_skipped() {
    let bad_ours = json!({ "id": ours().attempt_ref, "callStatus": { "code": "D01" } });
    let got = lookup(
        toml::Table::new(),
        Arc::new(move |_, _| {
            ok(json!({ "total": 3, "records": [others(0, 1)[0].clone(), bad_ours.clone(), others(1, 1)[0].clone()] }))
        }),
    )
    .await;
    unknown(got, "callStatus: expected");
    // Without any reference, only its (unreadable or matching) number could make it ours.
    let nameless = json!({ "mobile": ["6281234567"], "callStatus": "D01" });
    unknown(
        lookup(toml::Table::new(), Arc::new(move |_, _| ok(json!({ "total": 1, "records": [nameless.clone()] }))))
            .await,
        "mobile: expected",
    );
    let bad_other = json!({ "id": "other-9", "callStatus": { "code": "D01" } });
    let got =
        lookup(toml::Table::new(), Arc::new(move |_, _| ok(json!({ "total": 1, "records": [bad_other.clone()] }))))
            .await;
    assert_eq!(got.unwrap(), LookupResult::NotFound);
}

/// Blu's reply read by its documented `code`, whatever else it carries.
#[tokio::test]
async fn replies_are_read_by_their_code() {
    let record = json!({ "id": ours().attempt_ref, "mobile": "6281234567", "callStatus": "D01" });
    let replies = [
        json!({ "code": 2000, "status": "success", "message": "ok", "data": { "total": 1, "records": [record] } }),
        json!({ "code": "2000", "msg": "ok", "data": [record] }),
        json!({ "status": "success", "code": 2000, "data": { "list": [record], "totalCount": "1" } }),
    ];
    for reply in replies {
        let r = reply.clone();
        match lookup(toml::Table::new(), Arc::new(move |_, _| (200, r.clone()))).await {
            Ok(LookupResult::Finished(e)) => assert_eq!(e.outcome.disposition, Disposition::Busy, "{reply}"),
            other => panic!("{reply}: {other:?}"),
        }
    }
    // A refusal with a status word beside it keeps its code (and its class).
    let refusal = json!({ "code": 4001, "status": "fail", "message": "sign verification failed" });
    let e = lookup(toml::Table::new(), Arc::new(move |_, _| (200, refusal.clone()))).await.unwrap_err();
    assert_eq!(e.kind, VendorErrorKind::Fatal);
    assert!(e.message.contains("Blu code 4001"), "{}", e.message);
}
