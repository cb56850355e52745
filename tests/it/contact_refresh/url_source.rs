//! A URL source on loopback (plain HTTP here; HTTPS in production): the
//! request carries the configured bearer token, which never shows in the
//! daemon's log or the run records; a refused download fails the run and
//! stops nothing.

use super::{attempts_of, config, never_answering_sim, runs, state_of, write_config};
use crate::common::daemon::Daemon;
use crate::common::{TestDb, poll_until, start_sim};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "crm-export-token-5f1c";

/// The CRM's export endpoint: the CSV it holds, answered only with the token.
#[derive(Clone, Default)]
struct Crm {
    csv: Arc<Mutex<String>>,
    /// Authorization headers seen, in order.
    seen: Arc<Mutex<Vec<String>>>,
    /// The token it accepts now (rotated to refuse the daemon's).
    token: Arc<Mutex<String>>,
}

async fn export(State(crm): State<Crm>, headers: HeaderMap) -> (StatusCode, String) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    crm.seen.lock().unwrap().push(auth.clone());
    if auth != format!("Bearer {}", crm.token.lock().unwrap()) {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"bad token\"}".into());
    }
    (StatusCode::OK, crm.csv.lock().unwrap().clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_source_is_fetched_with_its_token_and_a_refusal_stops_nothing() {
    let db = TestDb::new();
    let sim = start_sim(never_answering_sim()).await;
    let crm = Crm::default();
    *crm.token.lock().unwrap() = TOKEN.into();
    *crm.csv.lock().unwrap() = "phone,name\n081200000001,A\n081200000002,B\n".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/exports/debtors.csv", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/exports/debtors.csv", axum::routing::get(export)).with_state(crm.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let refresh = format!(
        "schedule = \"*/2 * * * * *\"\nsource = {{ url = \"{url}\", bearer_token = {{ env = \"CRM_TOKEN\" }} }}\n\
         on_removed = \"stop\""
    );
    let cfg = write_config(&db, &config(&db.url, &sim.base_url(), "", &refresh));
    let log = db.path("daemon.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut command = std::process::Command::new(crate::common::daemon::bin());
    command
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env("CAMPAIGND_LOG", "debug")
        .env("CRM_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(file);
    let mut daemon = Daemon::listening(command.spawn().unwrap());
    let conn = db.connect().await;

    poll_until(Duration::from_secs(30), "both rows imported and dialed", || async {
        (attempts_of(&conn, "+6281200000001").await >= 1 && attempts_of(&conn, "+6281200000002").await >= 1)
            .then_some(())
    })
    .await;
    assert!(crm.seen.lock().unwrap().iter().all(|a| a == &format!("Bearer {TOKEN}")), "every request had the token");

    // The CRM rotates its token: the daemon's is refused; B, although gone
    // from the list, is not stopped by a list that could not be read.
    *crm.token.lock().unwrap() = "rotated".into();
    *crm.csv.lock().unwrap() = "phone,name\n081200000001,A\n".into();
    let failed = poll_until(Duration::from_secs(30), "a refused run", || async {
        runs(&conn).await.into_iter().find(|r| r.2 == "failed")
    })
    .await;
    let error = failed.7.clone().unwrap_or_default();
    assert!(error.contains("401") && error.contains(&url), "{error}");
    assert_eq!(failed.5, 0, "a failed run removes nothing");
    let b = state_of(&conn, "+6281200000002").await;
    assert!(b == "waiting_retry" || b == "in_flight" || b == "pending", "B is still open: {b}");

    // The token is right again: B is stopped.
    *crm.token.lock().unwrap() = TOKEN.into();
    poll_until(Duration::from_secs(30), "B stopped", || async {
        (state_of(&conn, "+6281200000002").await == "stopped").then_some(())
    })
    .await;
    daemon.terminate();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("contact refresh"), "the log says what ran (at debug level)");
    assert!(!text.contains(TOKEN), "the token was logged");
    let stored = runs(&conn).await;
    assert!(stored.iter().all(|r| !r.3.contains(TOKEN) && !r.7.clone().unwrap_or_default().contains(TOKEN)));
}
