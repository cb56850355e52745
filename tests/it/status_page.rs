//! The status page at `/`: a real headless Chromium logs in, sees a running
//! campaign's numbers agree with the admin API and change without a reload,
//! and saves a screenshot; over plain HTTP, what the session cookie may and
//! may not do, and the rejected-callbacks listing the page shows.

use crate::common;

use common::browser::Browser;
use common::daemon::Daemon;
use common::{ConfigSpec, TestDb, fast_sim, poll_until, start_sim};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::time::Duration;

const TOKEN: &str = "s3cret-status";
const STATES: [&str; 7] = ["pending", "in_flight", "waiting_retry", "done", "exhausted", "stopped", "suppressed"];

/// A client that shows redirects instead of following them, and keeps no cookies.
fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn api(http: &reqwest::Client, daemon: &Daemon, path: &str) -> Value {
    let r = http.get(daemon.url(path)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.json().await.unwrap()
}

async fn campaign_action(http: &reqwest::Client, daemon: &Daemon, action: &str) {
    let r = http.post(daemon.url(&format!("/api/v1/campaigns/e2e/{action}"))).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{action}: {}", r.text().await.unwrap());
}

/// Two rejected deliveries: one to a vendor id nobody configured, one to
/// `sim-a` without its signature.
async fn reject_two_callbacks(http: &reqwest::Client, daemon: &Daemon) {
    let r = http.post(daemon.url("/callbacks/nobody")).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = http.post(daemon.url("/callbacks/sim-a")).body("{\"unsigned\":true}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// What the page shows for campaign `e2e`, by `data-field`, raw numbers
/// from `data-value`; null until its card is drawn.
const READ_CARD: &str = r#"(() => {
  const card = document.querySelector('[data-campaign="e2e"]');
  if (!card || !card.querySelector('[data-field="contacts.total"]').dataset.value) return null;
  const out = {};
  for (const e of card.querySelectorAll('[data-field]')) out[e.dataset.field] = e.dataset.value ?? e.textContent;
  out.vendors = {};
  for (const row of document.querySelectorAll('#vendors tr[data-vendor]'))
    out.vendors[row.dataset.vendor] = row.querySelector('[data-field="in_flight"]').dataset.value;
  out.rejected = [...document.querySelectorAll('#rejected tr[data-rejected]')].map((r) => r.dataset.rejected);
  return out;
})()"#;

/// The same fields from the admin API's JSON, as the page should show them.
fn expected(stats: &Value, vendors: &Value, rejected: &Value) -> Value {
    let by_state = &stats["contacts"]["by_state"];
    let mut out = serde_json::Map::new();
    out.insert("state".into(), stats["state"].clone());
    out.insert("contacts.total".into(), stats["contacts"]["total"].to_string().into());
    for s in STATES {
        out.insert(format!("contacts.{s}"), by_state[s].to_string().into());
    }
    let finished: u64 =
        ["done", "exhausted", "stopped", "suppressed"].iter().map(|s| by_state[s].as_u64().unwrap()).sum();
    out.insert("finished".into(), finished.to_string().into());
    out.insert("attempts.total".into(), stats["attempts"]["total"].to_string().into());
    out.insert("in_flight".into(), stats["in_flight"]["total"].to_string().into());
    let vendor_counts: serde_json::Map<String, Value> = vendors["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v["in_flight"].to_string().into()))
        .collect();
    out.insert("vendors".into(), vendor_counts.into());
    let ids: Vec<Value> =
        rejected["callbacks"].as_array().unwrap().iter().map(|c| c["id"].to_string().into()).collect();
    out.insert("rejected".into(), ids.into());
    out.into()
}

/// The page's values for the keys `expected` has.
fn shown(page: &Value, expected: &Value) -> Value {
    expected.as_object().unwrap().keys().map(|k| (k.clone(), page[k].clone())).collect::<serde_json::Map<_, _>>().into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_logs_in_and_watches_a_campaign_progress() {
    let db = TestDb::new();
    // Slow calls and a low cap: the campaign takes many seconds.
    let mut sim_settings = fast_sim(0.0);
    sim_settings.latency_min = Duration::from_millis(400);
    sim_settings.latency_max = Duration::from_millis(1200);
    let sim = start_sim(sim_settings).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 60, campaign_cap: 3, vendor_caps: (2, 2), ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let daemon = Daemon::start(&config);
    let http = client();
    reject_two_callbacks(&http, &daemon).await;
    let browser = Browser::launch(1280, 900).await;

    // The login form; a wrong token is refused and the form shown again.
    browser.goto(&daemon.url("/")).await;
    browser.wait_for("the login form", "!!document.querySelector('form#login')").await;
    browser.type_into("input[name=token]", "not-the-token").await;
    browser.press_enter().await;
    let error = browser
        .wait_for("the refusal", "document.querySelector('[data-testid=login-error]')?.textContent ?? null")
        .await;
    assert_eq!(error, "Wrong token.");
    assert_eq!(
        browser.eval("!!document.querySelector('form#login') && !document.getElementById('campaigns')").await,
        true
    );

    // The right token: the status page, the token nowhere in the URL.
    browser.type_into("input[name=token]", TOKEN).await;
    browser.press_enter().await;
    browser.wait_for("the campaign's card", READ_CARD).await;
    let loaded_at = browser.eval("window.__loadedAt").await;
    assert!(loaded_at.is_number(), "{loaded_at}");
    assert_eq!(browser.eval("location.href").await, daemon.url("/"));

    // Paused, the numbers hold still: the page shows what the API says.
    campaign_action(&http, &daemon, "pause").await;
    let at_pause = poll_until(Duration::from_secs(30), "the page to show the API's numbers", || async {
        let page = browser.eval(READ_CARD).await;
        let stats = api(&http, &daemon, "/api/v1/campaigns/e2e/stats").await;
        let vendors = api(&http, &daemon, "/api/v1/vendors").await;
        let rejected = api(&http, &daemon, "/api/v1/callbacks/rejected?limit=8").await;
        let want = expected(&stats, &vendors, &rejected);
        (shown(&page, &want) == want).then_some(stats)
    })
    .await;
    assert_eq!(at_pause["state"], "paused");
    let done_at_pause = at_pause["attempts"]["total"].as_u64().unwrap();
    let open = ["pending", "waiting_retry"].iter().map(|s| at_pause["contacts"]["by_state"][s].as_u64().unwrap());
    assert!(open.sum::<u64>() >= 6, "the campaign has work left when paused: {at_pause}");
    let page = browser.eval(READ_CARD).await;
    assert_eq!(page["rejected"].as_array().map(Vec::len), Some(2), "both rejected deliveries listed: {page}");

    // Resumed, the page follows the campaign without being reloaded (until
    // a quarter of the contacts are finished: a telling screenshot).
    campaign_action(&http, &daemon, "resume").await;
    poll_until(Duration::from_secs(60), "the page to show progress", || async {
        let page = browser.eval(READ_CARD).await;
        let attempts: u64 = page["attempts.total"].as_str()?.parse().ok()?;
        let finished: u64 = page["finished"].as_str()?.parse().ok()?;
        (page["state"] == "running" && attempts >= done_at_pause + 6 && finished >= 15).then_some(())
    })
    .await;
    assert_eq!(browser.eval("window.__loadedAt").await, loaded_at, "the page was reloaded");

    // The screenshot, for the docs (docs/status-page.png is one).
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "a PNG of the page: {} bytes", png.len());
    std::fs::write(db.path("status-page.png"), &png).unwrap();
    if let Ok(out) = std::env::var("CAMPAIGND_SCREENSHOT_OUT") {
        std::fs::write(&out, &png).unwrap_or_else(|e| panic!("write {out}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_reads_but_never_writes_and_is_not_the_token() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 30, campaign_cap: 1, vendor_caps: (1, 1), ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let daemon = Daemon::start(&config);
    let http = client();
    let login = |body: &'static str| {
        http.post(daemon.url("/login")).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send()
    };

    // Without a session: the login form, under a strict policy.
    let r = http.get(daemon.url("/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let text = r.text().await.unwrap();
    assert!(text.contains(r#"<form id="login" method="post" action="/login""#), "{text}");

    // A wrong token, a missing field, a body that is not a form: no cookie.
    let r = login("token=wrong").await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get(SET_COOKIE).is_none());
    assert!(r.text().await.unwrap().contains("Wrong token."));
    let r = login("tokn=s3cret-status").await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("The form has no `token` field."));
    let r = http.post(daemon.url("/login")).body(format!("token={TOKEN}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 415, "no form content type");
    assert!(r.headers().get(SET_COOKIE).is_none());

    // The right token: a cookie that is not the token, scripts cannot read,
    // and other sites' pages do not send.
    let r = login("token=s3cret-status").await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()[LOCATION], "/");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP on loopback: {set}");
    assert!(!set.contains(TOKEN), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();

    // It shows the page and reads the JSON routes...
    let page = http.get(daemon.url("/")).header(COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<div id="campaigns""#) && page.contains(r#"<script src="/status/page.js""#), "{page}");
    for path in ["/api/v1/campaigns", "/api/v1/campaigns/e2e/stats", "/api/v1/vendors", "/api/v1/callbacks/rejected"] {
        let r = http.get(daemon.url(path)).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path} with the cookie");
        let r = http.get(daemon.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path} without it");
    }
    // ...but changes nothing: state-changing routes need the bearer token.
    let r = http.post(daemon.url("/api/v1/campaigns/e2e/pause")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http.delete(daemon.url("/api/v1/suppressions/%2B6281200000001")).header(COOKIE, &cookie).send().await;
    assert_eq!(r.unwrap().status().as_u16(), 401);
    let stats = api(&http, &daemon, "/api/v1/campaigns/e2e").await;
    assert_ne!(stats["state"], "paused", "the cookie paused the campaign");

    // A forged or altered cookie is nobody's.
    let forged = format!("{}0", &cookie[..cookie.len() - 1]);
    let forged = if forged == cookie { format!("{}1", &cookie[..cookie.len() - 1]) } else { forged };
    let r = http.get(daemon.url("/api/v1/campaigns")).header(COOKIE, &forged).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let page = http.get(daemon.url("/")).header(COOKIE, &forged).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<form id="login""#));

    // Logging out removes it.
    let r = http.post(daemon.url("/logout")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().starts_with("campaignd_session=; "));
    assert!(r.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));

    // The page's own files, with their types.
    for (path, kind) in [("/status/page.js", "text/javascript"), ("/status/page.css", "text/css")] {
        let r = http.get(daemon.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with(kind), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_callbacks_are_listed_newest_first() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let config = ConfigSpec::new(&db.url, &sim_url).write(&db, &format!("admin_token = \"{TOKEN}\""));
    let daemon = Daemon::start(&config);
    let http = client();
    assert_eq!(api(&http, &daemon, "/api/v1/callbacks/rejected").await["callbacks"], serde_json::json!([]));
    reject_two_callbacks(&http, &daemon).await;

    let all = api(&http, &daemon, "/api/v1/callbacks/rejected").await;
    let listed = all["callbacks"].as_array().unwrap();
    let vendors: Vec<&str> = listed.iter().map(|c| c["vendor_id"].as_str().unwrap()).collect();
    assert_eq!(vendors, ["sim-a", "nobody"], "newest first: {all}");
    assert!(listed[0]["id"].as_i64() > listed[1]["id"].as_i64());
    assert!(listed.iter().all(|c| c["error"].as_str().is_some_and(|e| !e.is_empty())), "each says why: {all}");
    assert!(listed.iter().all(|c| c["remote_addr"].as_str().is_some_and(|a| a.starts_with("127.0.0.1"))), "{all}");
    assert!(listed.iter().all(|c| c.get("body").is_none()), "bodies stay in the inbox: {all}");
    let one = api(&http, &daemon, "/api/v1/callbacks/rejected?limit=1").await;
    assert_eq!(one["callbacks"], serde_json::json!([listed[0]]));

    for (query, why) in [("0", "limit: 0 is not from 1 to 200"), ("201", "limit: 201 is not from 1 to 200")] {
        let r = http.get(daemon.url(&format!("/api/v1/callbacks/rejected?limit={query}"))).bearer_auth(TOKEN);
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], why);
    }
    let r = http.get(daemon.url("/api/v1/callbacks/rejected?limit=x")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("limit"), "names the parameter");
    let r = http.get(daemon.url("/api/v1/callbacks/rejected")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_token_the_page_is_disabled() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let config = ConfigSpec::new(&db.url, &sim_url).write(&db, "");
    let daemon = Daemon::start(&config);
    let http = client();
    let r = http.get(daemon.url("/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("The status page is disabled: set <code>http.admin_token</code>"));
    let r = http
        .post(daemon.url("/login"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("token=")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get(SET_COOKIE).is_none());
}
