//! A drop folder refreshed every two seconds: new rows are dialed, a number
//! the new list leaves out is stopped and never dialed again while the
//! others go on being dialed, a bad row is reported with its line and
//! nothing else is lost; the runs read the same through the CLI and the API.

use super::{ADMIN_TOKEN, attempts_of, config, never_answering_sim, runs, state_of, write_config, write_list};
use crate::common::daemon::{Daemon, cli};
use crate::common::{TestDb, poll_until, start_sim};
use std::time::Duration;

const A: &str = "+6281200000001";
const B: &str = "+6281200000002";
const C: &str = "+6281200000003";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drop_folder_refresh_adds_dials_and_stops_what_the_list_leaves_out() {
    let db = TestDb::new();
    let sim = start_sim(never_answering_sim()).await;
    let drop = db.path("drop");
    std::fs::create_dir(&drop).unwrap();
    write_list(&drop.join("export-1.csv"), &["081200000001", "081200000002"]);
    let refresh = format!(
        "schedule = \"*/2 * * * * *\"\nsource = {{ glob = \"{}/*.csv\" }}\non_removed = \"stop\"\ngrace = \"1m\"",
        drop.display()
    );
    let cfg = write_config(&db, &config(&db.url, &sim.base_url(), "", &refresh));
    let daemon = Daemon::start(&cfg);
    let conn = db.connect().await;

    // The firing of the last two seconds was missed while no daemon ran:
    // it runs at start-up, and imports the first list, which is dialed.
    poll_until(Duration::from_secs(30), "the first list dialed twice each", || async {
        (attempts_of(&conn, A).await >= 2 && attempts_of(&conn, B).await >= 2).then_some(())
    })
    .await;
    let first = runs(&conn).await;
    let (_, trigger, state, source, added, removed, rejected, _) = &first[0];
    assert_eq!((trigger.as_str(), state.as_str()), ("missed", "ok"), "{first:?}");
    assert!(source.ends_with("export-1.csv"), "the file read is recorded: {source}");
    assert_eq!((*added, *removed, *rejected), (2, 0, 0));

    // The CRM drops a new full export: B paid (gone), C is new, line 3 is bad.
    let text =
        "phone,case_id,name\n081200000001,CASE-0,Debtor 0\nnot-a-number,CASE-X,Typo\n081200000003,CASE-2,Debtor 2\n";
    std::fs::write(drop.join("export-2.csv"), text).unwrap();
    let run = poll_until(Duration::from_secs(30), "a run of the second export", || async {
        runs(&conn).await.into_iter().find(|r| r.3.ends_with("export-2.csv"))
    })
    .await;
    let (id, trigger, state, _, added, removed, rejected, error) = &run;
    assert_eq!(trigger, "schedule", "the schedule fired for it");
    assert_eq!((state.as_str(), *added, *removed, *rejected), ("ok", 1, 1, 1), "{error:?}");
    assert_eq!(state_of(&conn, B).await, "stopped");
    let b_attempts = attempts_of(&conn, B).await;

    // A and C go on being dialed; B is never dialed again.
    let (a0, c0) = (attempts_of(&conn, A).await, attempts_of(&conn, C).await);
    poll_until(Duration::from_secs(30), "three more attempts each for A and C", || async {
        (attempts_of(&conn, A).await >= a0 + 3 && attempts_of(&conn, C).await >= c0.max(1) + 3).then_some(())
    })
    .await;
    assert_eq!(attempts_of(&conn, B).await, b_attempts, "the removed contact was dialed again");
    assert_eq!(state_of(&conn, B).await, "stopped");
    let later = runs(&conn).await;
    assert!(later.iter().filter(|r| r.0 > *id).all(|r| r.5 == 0 && r.4 == 0), "later runs change nothing: {later:?}");
    assert!(later.iter().all(|r| r.2 == "ok"), "{later:?}");

    // The bad row, with its line, through the API and the CLI.
    let http = reqwest::Client::new();
    let api: serde_json::Value = http
        .get(daemon.url("/api/v1/campaigns/e2e/refresh-runs?limit=500"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = api.as_array().unwrap().iter().find(|r| r["id"] == *id).expect("the run is listed").clone();
    assert_eq!(listed["rejected_rows"][0]["line"], 3, "{listed}");
    assert_eq!(listed["rejected_rows"][0]["field"], "phone", "{listed}");
    assert_eq!((listed["added"].clone(), listed["removed"].clone()), (1.into(), 1.into()));
    let missing = http.get(daemon.url("/api/v1/campaigns/nope/refresh-runs")).bearer_auth(ADMIN_TOKEN).send().await;
    assert_eq!(missing.unwrap().status(), 404);
    let out = cli(&cfg, &["refresh", "runs", "--campaign", "e2e", "--limit", "500"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("line 3: phone:") && text.contains("export-2.csv"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_now_runs_once_and_a_failed_read_stops_nothing() {
    let db = TestDb::new();
    let sim = start_sim(never_answering_sim()).await;
    let drop = db.path("drop");
    std::fs::create_dir(&drop).unwrap();
    // Never fires by itself (1 January, midnight); only `refresh now` runs it.
    let refresh = format!(
        "schedule = \"0 0 0 1 1 *\"\nsource = {{ glob = \"{}/*.csv\" }}\non_removed = \"stop\"\ngrace = \"1s\"",
        drop.display()
    );
    let cfg = write_config(&db, &config(&db.url, &sim.base_url(), "", &refresh));
    let now = |cfg| cli(cfg, &["refresh", "now", "--campaign", "e2e"]);

    // No file yet: the run fails, saying why.
    let out = now(&cfg);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no file matches") && err.contains("drop/*.csv"), "{err}");

    write_list(&drop.join("a.csv"), &["081200000001", "081200000002"]);
    let out = now(&cfg);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("(manual) ok: 2 rows, 2 added"), "{text}");

    // A header without `phone` fails the run: nothing is stopped.
    std::fs::write(drop.join("b.csv"), "telephone,name\n081200000009,X\n").unwrap();
    let out = now(&cfg);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CSV header"), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = db.connect().await;
    assert_eq!((state_of(&conn, A).await, state_of(&conn, B).await), ("pending".into(), "pending".into()));
    let all = runs(&conn).await;
    assert_eq!(
        all.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect::<Vec<_>>(),
        [("manual", "failed"), ("manual", "ok"), ("manual", "failed")]
    );
    assert!(all.iter().all(|r| r.5 == 0), "no run removed anything: {all:?}");
}
