//! `log_format = "journald"`: a whole run's events reach a journal socket
//! as native-protocol entries (read here by the protocol's rules, not by the
//! daemon's code), with journald's fields and the spans' campaign, and no
//! callee's number or configured secret; where no journal listens, the
//! daemon says so and logs as text.

use crate::common;

use common::daemon::Daemon;
use common::{API_KEY, ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Entry = HashMap<String, String>;

/// One datagram by https://systemd.io/JOURNAL_NATIVE_PROTOCOL/: `NAME=value`
/// lines, or `NAME`, newline, 64-bit little-endian length, value, newline.
fn parse(mut bytes: &[u8]) -> Entry {
    let mut entry = Entry::new();
    while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
        let line = &bytes[..end];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            let name = String::from_utf8_lossy(&line[..eq]).into_owned();
            entry.insert(name, String::from_utf8_lossy(&line[eq + 1..]).into_owned());
            bytes = &bytes[end + 1..];
        } else {
            let rest = &bytes[end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().expect("length")) as usize;
            let name = String::from_utf8_lossy(line).into_owned();
            entry.insert(name, String::from_utf8_lossy(&rest[8..8 + len]).into_owned());
            bytes = &rest[8 + len + 1..];
        }
    }
    assert!(bytes.is_empty(), "trailing bytes in an entry");
    entry
}

/// A journal: a datagram socket at `path`, its entries collected by a thread.
struct Journal {
    entries: Arc<Mutex<Vec<Entry>>>,
    stop: Arc<AtomicBool>,
}

impl Journal {
    fn listen(path: &std::path::Path) -> Journal {
        let socket = UnixDatagram::bind(path).expect("bind the journal socket");
        socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let (entries, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (into, until) = (entries.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 20];
            while !until.load(Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    into.lock().unwrap().push(parse(&buf[..n]));
                }
            }
        });
        Journal { entries, stop }
    }

    fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap().clone()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_reaches_the_journal_as_structured_entries_without_numbers_or_secrets() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.2)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 20, ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, "");
    let socket = db.path("journal.sock");
    let journal = Journal::listen(&socket);
    let socket_text = socket.to_str().unwrap();
    let vars =
        [("CAMPAIGND_LOG_FORMAT", "journald"), ("CAMPAIGND_JOURNAL_SOCKET", socket_text), ("CAMPAIGND_LOG", "debug")];
    let mut daemon = Daemon::start_with_env(&config, &vars);
    let conn = db.connect().await;
    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    // Every settled result logged before the campaign completed; its entry
    // may still be on its way through the socket.
    let settled = poll_until(Duration::from_secs(10), "every result settled in the journal", || async {
        let settled: Vec<Entry> =
            journal.entries().into_iter().filter(|e| e.get("MESSAGE").is_some_and(|m| m == "result settled")).collect();
        (settled.len() as i64 == completed).then_some(settled)
    })
    .await;
    assert!(daemon.terminate().success());

    for e in &settled {
        assert_eq!(e.get("CAMPAIGN").map(String::as_str), Some("e2e"), "{e:?}");
        assert!(e.get("CONTACT").is_some_and(|c| c.parse::<i64>().is_ok()), "{e:?}");
        assert!(e.get("ATTEMPT").is_some_and(|a| !a.is_empty()), "{e:?}");
        assert_eq!(e.get("PRIORITY").map(String::as_str), Some("7"), "debug is syslog's 7: {e:?}");
    }
    let entries = journal.entries();
    assert!(entries.iter().all(|e| e.get("SYSLOG_IDENTIFIER").is_some_and(|s| s == "campaignd")
        && e.get("PRIORITY").is_some_and(|p| ["3", "4", "6", "7"].contains(&p.as_str()))
        && e.contains_key("MESSAGE")));
    let all: String = entries.iter().flat_map(|e| e.iter().map(|(k, v)| format!("{k}={v}\n"))).collect();
    for secret in [API_KEY, SECRET] {
        assert!(!all.contains(secret), "the journal holds the secret `{secret}`");
    }
    for row in rows(&conn, "SELECT phone FROM contacts").await {
        let e164: String = row.try_get("", "phone").unwrap();
        assert!(!all.contains(e164.trim_start_matches('+')), "the journal holds the number {e164}");
    }
}

#[tokio::test]
async fn without_a_journal_the_daemon_says_so_and_logs_text() {
    let db = TestDb::new();
    let config = ConfigSpec { contacts: 0, ..ConfigSpec::new(&db.url, "http://127.0.0.1:9") }.write(&db, "");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("log_format = \"journald\"\n{text}")).unwrap();
    let log = db.path("daemon.log");
    let file = std::fs::File::create(&log).unwrap();
    let missing = db.path("no-journal.sock");
    let mut command = std::process::Command::new(common::daemon::bin());
    command
        .arg("--config")
        .arg(&config)
        .arg("run")
        .env("CAMPAIGND_JOURNAL_SOCKET", &missing)
        .env("CAMPAIGND_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(file);
    let mut daemon = Daemon::listening(command.spawn().unwrap());
    assert!(daemon.terminate().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("journald does not listen; logging as text"), "{text}");
    assert!(text.contains(missing.to_str().unwrap()), "{text}");
}
