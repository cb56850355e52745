//! Bad input gets a clear error, is kept for audit, and loses nothing else:
//! callbacks (malformed, unsigned, unknown vendor, oversized), CSV rows,
//! config files, and a second daemon on the same SQLite file.

use crate::common;

use common::daemon::{Daemon, bin, cli};
use common::{ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim, write_contacts};
use doubles::sim::sign;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

fn config(db: &TestDb, sim_url: &str) -> std::path::PathBuf {
    ConfigSpec::new(&db.url, sim_url).write(db, "")
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>, signed: bool) -> (u16, String) {
    let mut req = client.post(url).header("content-type", "application/json");
    if signed {
        req = req.header("x-sim-signature", sign(SECRET, &body));
    }
    let resp = req.body(body).send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_callbacks_get_clear_errors_are_kept_and_do_not_disturb_good_ones() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    // An unmatched callback waits up to dispatch_timeout for its dispatch to be recorded.
    let sim_url = sim.base_url();
    let spec = ConfigSpec { extra_scheduler: "dispatch_timeout = \"2s\"", ..ConfigSpec::new(&db.url, &sim_url) };
    let cfg = spec.write(&db, "");
    let daemon = Daemon::start(&cfg);
    let client = reqwest::Client::new();
    let url = daemon.url("/callbacks/sim-a");

    let (s, body) = post(&client, &url, b"{not json".to_vec(), true).await;
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("malformed"), "reason must say what is wrong: {body}");

    let valid = serde_json::json!({
        "event_id": "e-1", "call_id": "c-1", "reference": "999-1", "batch_id": "b-1",
        "status": "ANSWERED", "intent": "PTP", "started_at": null,
        "ended_at": "2026-11-21T10:00:00Z", "duration_ms": 1000
    })
    .to_string()
    .into_bytes();
    let (s, body) = post(&client, &url, valid.clone(), false).await;
    assert_eq!(s, 401, "unsigned callback: {body}");
    let mut forged = valid.clone();
    forged.extend_from_slice(b" ");
    let resp = client.post(&url).header("x-sim-signature", sign(SECRET, &valid)).body(forged).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "signature of another body");

    let (s, body) = post(&client, &daemon.url("/callbacks/nobody"), valid.clone(), true).await;
    assert_eq!(s, 404);
    assert!(body.contains("unknown vendor `nobody`"), "{body}");

    let (s, body) = post(&client, &url, vec![b' '; 10_000], true).await;
    assert_eq!(s, 413, "{body}");
    assert!(body.contains("4096"), "reason names the limit: {body}");

    // A well-formed, signed callback for an attempt we never made is stored,
    // answered 2xx, and processed without harm.
    let (s, body) = post(&client, &url, valid.clone(), true).await;
    assert_eq!(s, 200, "{body}");
    // Durable before the 2xx: the row is there the moment the answer is, no waiting.
    let conn = db.connect().await;
    let stored = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state IN ('pending', 'processed')").await;
    assert_eq!(stored, 1, "a 2xx'd callback must already be stored");

    // It waits (pending) while it is younger than dispatch_timeout, then is processed.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 1);
    poll_until(Duration::from_secs(10), "good callback processed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'processed'").await == 1).then_some(())
    })
    .await;
    let rejected =
        rows(&conn, "SELECT vendor_id, error FROM callback_inbox WHERE state = 'rejected' ORDER BY id").await;
    let reasons: Vec<(String, String)> = rejected
        .iter()
        .map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index::<Option<String>>(1).unwrap().unwrap_or_default()))
        .collect();
    assert_eq!(reasons.len(), 5, "every rejected delivery kept for audit: {reasons:?}");
    assert!(reasons[0].1.contains("malformed"));
    assert!(reasons[1].1.contains("unauthorized"));
    assert!(reasons[2].1.contains("unauthorized"));
    assert_eq!(reasons[3].0, "nobody");
    assert!(reasons[4].1.contains("larger than 4096"));
    // The malformed body itself is kept, byte for byte.
    let kept = rows(&conn, "SELECT body FROM callback_inbox WHERE state = 'rejected' ORDER BY id LIMIT 1").await;
    assert_eq!(kept[0].try_get_by_index::<Vec<u8>>(0).unwrap(), b"{not json".to_vec());
    // Rejections are counted.
    let metrics = client.get(daemon.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("campaignd_callbacks_total"), "{metrics}");
    assert_eq!(client.get(daemon.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
}

#[test]
fn bad_csv_rows_are_reported_by_line_and_good_rows_kept() {
    let db = TestDb::new();
    let cfg = config(&db, "http://127.0.0.1:9");
    let csv = db.path("contacts.csv");
    std::fs::write(
        &csv,
        "phone,case_id,timezone,amount\n\
         0812-1111-2222,A1,Asia/Jakarta,100\n\
         not-a-phone,A2,,200\n\
         +62812333344,A3,Mars/Olympus,300\n\
         +62812444455,A4\n\
         (0812) 1111 2222,A5,,500\n\
         +6281255556666,A6,,600\n",
    )
    .unwrap();
    let out = cli(&cfg, &["import", "--campaign", "e2e", csv.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "rejected rows make the import exit 3: {stderr}");
    assert!(stdout.contains("6 rows, 2 imported, 1 duplicates skipped, 3 rejected"), "{stdout}");
    assert!(stderr.contains("line 3: phone:"), "{stderr}");
    assert!(stderr.contains("line 4: timezone:") && stderr.contains("Mars/Olympus"), "{stderr}");
    assert!(stderr.contains("line 5: row:"), "{stderr}");
    let summary = format!("{}: 3 of 6 rows rejected; see the lines above (the other rows were kept)", csv.display());
    assert_eq!(stderr.lines().last(), Some(summary.as_str()), "{stderr}");

    // Importing the same file again adds nothing.
    let again = cli(&cfg, &["import", "--campaign", "e2e", csv.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 imported"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let export = cli(&cfg, &["export", "--campaign", "e2e", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&export.stdout).expect("export is JSON");
    let phones: Vec<&str> = v.as_array().unwrap().iter().map(|c| c["phone"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+6281211112222", "+6281255556666"]);

    let missing = cli(&cfg, &["import", "--campaign", "nope", csv.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no campaign named `nope`"));

    // A clean file exits 0.
    let good = db.path("good.csv");
    std::fs::write(&good, "phone\n+6281277778888\n").unwrap();
    let out = cli(&cfg, &["import", "--campaign", "e2e", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_campaign_refuses_an_import_and_says_what_to_do() {
    let db = TestDb::new();
    let cfg = config(&db, "http://127.0.0.1:9");
    let csv = db.path("contacts.csv");
    write_contacts(&csv, 3);
    let out = cli(&cfg, &["import", "--campaign", "e2e", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = db.connect().await;
    let more = db.path("more.csv");
    std::fs::write(&more, "phone\n+6281299990001\n").unwrap();
    for state in ["completed", "cancelled"] {
        let finish = format!("UPDATE campaigns SET state = '{state}' WHERE name = 'e2e'");
        sea_orm::ConnectionTrait::execute_unprepared(&conn, &finish).await.expect("finish the campaign");
        let out = cli(&cfg, &["import", "--campaign", "e2e", more.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{state}: {err}");
        let expected = format!(
            "error: campaign `e2e` is {state}: a finished campaign never dials again and no command reopens it, \
             so nothing was imported. To call these contacts, add a new [[campaigns]] entry to the config \
             and run `campaignd import --campaign <new name> FILE`\n"
        );
        assert_eq!(err, expected);
        assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM contacts").await, 3, "{state}: no contact added");
    }
}

#[test]
fn invalid_config_reports_every_problem_with_field_and_line() {
    let db = TestDb::new();
    let path = db.path("bad.toml");
    std::fs::write(
        &path,
        r#"[database]
url = "sqlite://x.db"

[[vendors]]
id = "v1"
kind = "telepathy"
rate_limit = "fast"

[[campaigns]]
name = "c"
timezone = "Asia/Nowhere"
windows = "mon-fri 09:00-25:00"
vendors = ["v2"]

redial_strategy = "random"

[campaigns.recall]
max_attempts = 0
rules = [{ when = ["bussy"], retry_after = "5x" }]

[[vendors]]
id = "v3"
kind = "sim"
base_url = "http://127.0.0.1:1"
callback_allow_ips = ["10.0.0.0/8", "not-an-ip"]
circuit_cooldown = "soon"
fake = { busy_rate = 0.5 }
"#,
    )
    .unwrap();
    let out = cli(&path, &["check-config"]);
    assert!(!out.status.success(), "check-config must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "line 6: vendors[0].kind: unknown vendor kind `telepathy`",
        "line 7: vendors[0].rate_limit",
        "line 11: campaigns[0].timezone",
        "line 12: campaigns[0].windows",
        "line 13: campaigns[0].vendors[0]: no vendor with id `v2`",
        "campaigns[0].recall.rules[0].when[0]",
        "campaigns[0].recall.rules[0].retry_after",
        "campaigns[0].recall.max_attempts",
        "line 15: campaigns[0].redial_strategy: `random` is not one of same, rotate, failover",
        "line 25: vendors[1].callback_allow_ips[1]: `not-an-ip` is not an address or network",
        "line 26: vendors[1].circuit_cooldown",
        "vendors[1].fake: `fake` is for real vendor kinds",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }

    // Recall errors point at the rule's own line, not the campaign's.
    for expected in [
        "line 18: campaigns[0].recall.max_attempts",
        "line 19: campaigns[0].recall.rules[0].when[0]",
        "line 19: campaigns[0].recall.rules[0].retry_after",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }

    // Each cause once: the path and the OS error are not repeated.
    let missing = db.path("nowhere.toml");
    let out = cli(&missing, &["check-config"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: cannot read config file {}: No such file or directory (os error 2)\n", missing.display())
    );

    std::fs::write(&path, "[database\nurl = 1").unwrap();
    let out = cli(&path, &["check-config"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_daemon_on_the_same_sqlite_file_refuses_to_start() {
    let db = TestDb::sqlite();
    let sim = start_sim(fast_sim(0.0)).await;
    let cfg = config(&db, &sim.base_url());
    let csv = db.path("c.csv");
    write_contacts(&csv, 3);
    let _first = Daemon::start(&cfg);
    let out = std::process::Command::new(bin()).arg("--config").arg(&cfg).arg("run").output().unwrap();
    assert!(!out.status.success(), "second daemon must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another campaignd is already running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let cfg = ConfigSpec::new(&db.url, &sim.base_url()).write(&db, "max_connections = 2");
    let daemon = Daemon::start(&cfg);
    // Two idle connections take both slots.
    let held_a = tokio::net::TcpStream::connect(&daemon.addr).await.unwrap();
    let _held_b = tokio::net::TcpStream::connect(&daemon.addr).await.unwrap();
    let url = daemon.url("/healthz");
    let request = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    // Not a synchronization sleep: a bounded wait during which the request
    // must NOT complete, because no slot is free.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!request.is_finished(), "a third connection was served while two held every slot");
    drop(held_a);
    let status = tokio::time::timeout(Duration::from_secs(10), request).await.expect("served once a slot frees");
    assert_eq!(status.unwrap().unwrap(), 200);
}

/// Run `campaignd` with `env` added; `run` must exit on its own (a daemon
/// that starts is killed and fails the test).
fn campaignd(config: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn campaignd");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("campaignd {args:?} did not exit: it started although the config is invalid");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn empty_secrets_from_any_source_are_refused_by_check_config_and_run() {
    let db = TestDb::new();
    let blank_file = db.path("blank-secret");
    std::fs::write(&blank_file, "  \n").unwrap();
    let text = ConfigSpec::new(&db.url, "http://127.0.0.1:9")
        .render()
        .replace(
            "max_body_bytes = 4096",
            "max_body_bytes = 4096\nadmin_token = { env = \"CAMPAIGND_TEST_ADMIN_TOKEN\" }",
        )
        // sim-a's signing key from a blank file, sim-b's inline and empty.
        .replacen(
            &format!("callback_secret = \"{SECRET}\""),
            &format!("callback_secret = {{ file = \"{}\" }}", blank_file.display()),
            1,
        )
        .replacen(&format!("callback_secret = \"{SECRET}\""), "callback_secret = \"\"", 1);
    let cfg = db.path("config.toml");
    std::fs::write(&cfg, &text).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
    let admin = line("admin_token");
    let file_secret = line("callback_secret = { file");
    let empty_secret = line("callback_secret = \"\"");
    for value in ["", "   "] {
        for command in ["check-config", "run"] {
            let (status, err) = campaignd(&cfg, &[command], &[("CAMPAIGND_TEST_ADMIN_TOKEN", value)]);
            assert_eq!(status.code(), Some(1), "{command} with {value:?}: {err}");
            for expected in [
                format!(
                    "line {admin}: http.admin_token: environment variable `CAMPAIGND_TEST_ADMIN_TOKEN` is empty or blank"
                ),
                format!(
                    "line {file_secret}: vendors[0].callback_secret: secret file `{}` is empty or blank",
                    blank_file.display()
                ),
                format!("line {empty_secret}: vendors[1].callback_secret: the value is empty or blank"),
            ] {
                assert!(err.contains(&expected), "{command}: missing `{expected}` in:\n{err}");
            }
            assert!(!err.contains("listening"), "{err}");
        }
    }
}

#[test]
fn check_config_refuses_a_missing_contacts_file_as_run_would() {
    let db = TestDb::new();
    let text = ConfigSpec::new(&db.url, "http://127.0.0.1:9")
        .render()
        .replace("default_country_code = \"62\"", "default_country_code = \"62\"\ncontacts_file = \"lists/july.csv\"");
    let cfg = db.path("config.toml");
    std::fs::write(&cfg, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("contacts_file")).unwrap() + 1;
    // Relative to the config file's directory, wherever the command runs from.
    let resolved = db.path("lists/july.csv");
    let expected = format!(
        "line {line}: campaigns[0].contacts_file: `lists/july.csv` (resolved from the config file's directory to {}): \
         cannot be opened: No such file or directory (os error 2)",
        resolved.display()
    );
    for command in ["check-config", "run"] {
        let (status, err) = campaignd(&cfg, &[command], &[]);
        assert_eq!(status.code(), Some(1), "{command}: {err}");
        assert!(err.contains(&expected), "{command}: missing `{expected}` in:\n{err}");
    }
    std::fs::create_dir(db.path("lists")).unwrap();
    write_contacts(&resolved, 2);
    let (status, err) = campaignd(&cfg, &["check-config"], &[]);
    assert_eq!(status.code(), Some(0), "{err}");
}

/// Run a command whose stdout is a pipe nobody reads any more (`| head -1`
/// that has already exited): the read end is closed before the command starts.
fn with_closed_stdout(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run campaignd");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_commands_quietly_with_exit_141() {
    let db = TestDb::new();
    let cfg = ConfigSpec { contacts: 3, ..ConfigSpec::new(&db.url, "http://127.0.0.1:9") }.write(&db, "");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["export", "--campaign", "e2e"],
        &["export", "--campaign", "e2e", "--format", "json"],
        &["suppress", "export"],
        &["explain", "--campaign", "e2e", "--phone", "+6281210000000"],
        &["check-config"],
    ] {
        let (code, err) = with_closed_stdout(&cfg, args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error:"), "{args:?}: a closed stdout is not an error to report: {err}");
        assert_eq!(code, Some(141), "{args:?}: {err}");
    }
}
