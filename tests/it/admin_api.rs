//! The admin API: bearer token, campaign status and state changes, OpenAPI.

use crate::common;

use common::daemon::Daemon;
use common::{ConfigSpec, TestDb, fast_sim, start_sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_the_token_and_changes_state_through_the_state_machine() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { campaign_cap: 5, vendor_caps: (5, 5), ..ConfigSpec::new(&db.url, &sim_url) };
    let text = spec
        .render()
        .replace("max_body_bytes = 4096", "max_body_bytes = 4096\nadmin_token = { env = \"TEST_ADMIN_TOKEN\" }");
    let config = db.path("config.toml");
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start_with_env(&config, &[("TEST_ADMIN_TOKEN", "s3cret")]);
    let http = reqwest::Client::new();

    let r = http.get(daemon.url("/api/v1/campaigns")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http.get(daemon.url("/api/v1/campaigns")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);

    let list: serde_json::Value =
        http.get(daemon.url("/api/v1/campaigns")).bearer_auth("s3cret").send().await.unwrap().json().await.unwrap();
    assert_eq!(list["campaigns"][0]["name"], "e2e");

    // scheduled/running -> paused -> running; pausing twice is a conflict.
    let pause =
        |n: &'static str| http.post(daemon.url(&format!("/api/v1/campaigns/e2e/{n}"))).bearer_auth("s3cret").send();
    common::poll_until(std::time::Duration::from_secs(10), "campaign running", || async {
        let s: serde_json::Value =
            http.get(daemon.url("/api/v1/campaigns/e2e")).bearer_auth("s3cret").send().await.ok()?.json().await.ok()?;
        (s["state"] == "running").then_some(())
    })
    .await;
    let r = pause("pause").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!((body["from"].as_str(), body["to"].as_str()), (Some("running"), Some("paused")));
    let r = pause("pause").await.unwrap();
    assert_eq!(r.status().as_u16(), 409, "illegal transition is refused");
    assert!(r.text().await.unwrap().contains("cannot apply"));
    assert_eq!(pause("resume").await.unwrap().status().as_u16(), 200);
    assert_eq!(pause("explode").await.unwrap().status().as_u16(), 404);
    let r = http.get(daemon.url("/api/v1/campaigns/nope")).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);

    let doc: serde_json::Value =
        http.get(daemon.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/campaigns/{name}/{action}"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/vendors"]["get"].is_object());

    assert_eq!(http.get(daemon.url("/api/v1/vendors")).send().await.unwrap().status().as_u16(), 401);
    let vendors: serde_json::Value =
        http.get(daemon.url("/api/v1/vendors")).bearer_auth("s3cret").send().await.unwrap().json().await.unwrap();
    let list = vendors["vendors"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{vendors}");
    assert_eq!(list[0]["id"], "sim-a");
    assert_eq!(list[0]["kind"], "sim");
    assert_eq!(list[0]["max_concurrency"], 5);
    assert!(list[0]["circuit_open"].is_null() && list[0]["in_flight"] == 0, "{vendors}");
    assert_eq!(http.get(daemon.url("/readyz")).send().await.unwrap().status().as_u16(), 200);

    // Refusals are the JSON error the OpenAPI document promises, also for a
    // query parameter that does not parse and a path no route serves.
    let r = http.get(daemon.url("/api/v1/suppressions?all=maybe")).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().is_some_and(|e| e.contains("all")), "names the parameter: {body}");
    let r = http.get(daemon.url("/api/v1/campaigns/e2e/")).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no route for `/api/v1/campaigns/e2e/`");
}
