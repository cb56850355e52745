//! Test harness: fresh databases, an in-process simulator vendor, the real
//! daemon binary as a child process, and polling with deadlines.

pub mod balancer;
pub mod browser;
pub mod cluster;
pub mod daemon;
pub mod invariants;
pub mod recorder;
pub mod webhook_receiver;

use doubles::sim::{SimAuth, SimHandle, SimSettings, spawn};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const API_KEY: &str = "test-key";
pub const SECRET: &str = "test-secret";

/// A fresh database per test: a SQLite file in its own temp dir, or, when
/// `CAMPAIGND_TEST_DATABASE_URL` names a PostgreSQL server, a new database
/// created on it (dropped again when the test ends).
pub struct TestDb {
    pub dir: tempfile::TempDir,
    pub url: String,
    pg: Option<(String, String)>,
    /// Held until the database is dropped (fields drop after `drop`).
    _turn: Option<ServerTurn>,
}

impl TestDb {
    pub fn new() -> TestDb {
        match std::env::var("CAMPAIGND_TEST_DATABASE_URL") {
            Ok(server) if server.starts_with("postgres") => TestDb::postgres(&server),
            _ => TestDb::sqlite(),
        }
    }

    /// Always SQLite: for tests of SQLite-specific behaviour (file lock, query plan).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("campaignd.db").display());
        TestDb { dir, url, pg: None, _turn: None }
    }

    /// Always PostgreSQL, whatever the environment selects: for tests of
    /// behaviour only PostgreSQL has (several instances on one database).
    /// The server is `CAMPAIGND_TEST_DATABASE_URL` when that names one, else
    /// the local default; an unreachable server fails the test.
    pub fn postgres_always() -> TestDb {
        match std::env::var("CAMPAIGND_TEST_DATABASE_URL") {
            Ok(server) if server.starts_with("postgres") => TestDb::postgres(&server),
            _ => TestDb::postgres("postgres://postgres@127.0.0.1/postgres"),
        }
    }

    /// Like [`TestDb::postgres_always`], with the server to itself until
    /// dropped: for tests that stop or restart it (`pg_restart`). It waits
    /// for every other test's PostgreSQL database to be dropped, and holds
    /// back new ones.
    pub fn postgres_alone() -> TestDb {
        let turn = ServerTurn::alone();
        match std::env::var("CAMPAIGND_TEST_DATABASE_URL") {
            Ok(server) if server.starts_with("postgres") => TestDb::postgres_in(&server, turn),
            _ => TestDb::postgres_in("postgres://postgres@127.0.0.1/postgres", turn),
        }
    }

    fn postgres(server: &str) -> TestDb {
        TestDb::postgres_in(server, ServerTurn::shared())
    }

    fn postgres_in(server: &str, turn: ServerTurn) -> TestDb {
        let name = format!("campaignd_test_{}", uuid::Uuid::new_v4().simple());
        let base = server.trim_end_matches('/').rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or_default();
        let admin = format!("{base}/postgres");
        run_blocking(admin.clone(), format!("CREATE DATABASE {name}"));
        TestDb {
            dir: tempfile::tempdir().expect("temp dir"),
            url: format!("{base}/{name}"),
            pg: Some((admin, name)),
            _turn: Some(turn),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.expect("connect test db")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            run_blocking(admin, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A test's use of the PostgreSQL server, which every test in this process
/// shares: shared by each PostgreSQL [`TestDb`], or alone by one that stops
/// or restarts the server (which would break every other test's database).
/// Shared turns never wait for a waiting alone one, since a test may hold
/// two databases at once; an alone turn waits until no shared one is held.
struct ServerTurn {
    alone: bool,
}

/// (Shared turns held, whether an alone one is.)
static SERVER: Mutex<(usize, bool)> = Mutex::new((0, false));
static SERVER_CHANGED: Condvar = Condvar::new();

impl ServerTurn {
    fn shared() -> ServerTurn {
        let mut held = SERVER_CHANGED.wait_while(lock_server(), |(_, alone)| *alone).expect("server turns");
        held.0 += 1;
        ServerTurn { alone: false }
    }

    fn alone() -> ServerTurn {
        let mut held =
            SERVER_CHANGED.wait_while(lock_server(), |(shared, alone)| *shared > 0 || *alone).expect("server turns");
        held.1 = true;
        ServerTurn { alone: true }
    }
}

impl Drop for ServerTurn {
    fn drop(&mut self) {
        let mut held = lock_server();
        if self.alone {
            held.1 = false;
        } else {
            held.0 -= 1;
        }
        SERVER_CHANGED.notify_all();
    }
}

fn lock_server() -> MutexGuard<'static, (usize, bool)> {
    SERVER.lock().expect("server turns")
}

/// Run one statement on its own thread and runtime, so it works from both
/// sync tests and inside a tokio runtime.
fn run_blocking(url: String, sql: String) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let db = Database::connect(&url).await.expect("connect to the PostgreSQL server");
            db.execute_unprepared(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        });
    })
    .join()
    .expect("database admin thread");
}

pub async fn start_sim(settings: SimSettings) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind sim");
    spawn(settings, SimAuth { api_key: API_KEY.into(), callback_secret: SECRET.into() }, listener)
        .await
        .expect("start sim")
}

/// A fast simulator with a mixed outcome distribution.
pub fn fast_sim(duplicate_rate: f64) -> SimSettings {
    let weights = |pairs: &[(&str, f64)]| pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    SimSettings {
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(60),
        duplicate_rate,
        callback_retry_interval: Duration::from_millis(200),
        seed: Some(42),
        outcomes: weights(&[
            ("ANSWERED", 40.0),
            ("NO_ANSWER", 30.0),
            ("BUSY", 15.0),
            ("POWER_OFF", 5.0),
            ("VACANT", 10.0),
        ]),
        intents: weights(&[("PTP", 40.0), ("PAID", 20.0), ("REFUSE", 20.0), ("COMPLAINT", 10.0), ("WRONG", 10.0)]),
        ..SimSettings::default()
    }
}

/// Write `n` contacts (Indonesian mobile numbers, a few zones) as CSV.
pub fn write_contacts(path: &Path, n: usize) {
    let zones = ["Asia/Jakarta", "Asia/Makassar", "", "Asia/Jayapura"];
    let mut text = String::from("phone,case_id,timezone,name\n");
    for i in 0..n {
        text.push_str(&format!("0812{:08},CASE-{i},{},Customer {i}\n", 10_000_000 + i, zones[i % zones.len()]));
    }
    std::fs::write(path, text).expect("write contacts");
}

/// Poll `check` until it returns Some, or panic after `timeout` with `what`.
pub async fn poll_until<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_for(timeout, Duration::from_millis(50), check).await {
        Some(v) => v,
        None => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

/// Poll `check` every `interval` until it returns Some, for up to `timeout`
/// (checked once more at the deadline); None if it never did. The one polling
/// loop of the test helpers.
pub async fn poll_for<T, F, Fut>(timeout: Duration, interval: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(interval).await;
    }
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string()))
        .await
        .expect("query")
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("integer column")
}

pub async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql.to_string())).await.expect("query")
}

/// Config text for a daemon with the given sim base URL(s).
/// `[scheduler]` timings of the store-fault tests: short, so that attempts
/// whose write-back or callback failed during a fault are looked up at the
/// vendor soon after it.
pub const FAULT_RECOVERY: &str = r#"dispatch_timeout = "2s"
result_timeout = "3s"
lost_after = "10m"
reconcile_every = "1s""#;

pub struct ConfigSpec<'a> {
    pub db_url: &'a str,
    pub sim_url: &'a str,
    pub contacts: usize,
    pub campaign_cap: u32,
    pub vendor_caps: (u32, u32),
    pub retry_after: &'a str,
    pub extra_scheduler: &'a str,
    /// `rate_limit` of vendor `sim-b`.
    pub rate_limit: &'a str,
}

impl<'a> ConfigSpec<'a> {
    /// Caps 40 (campaign), 30 and 15 (vendors), retries after 1 s, no
    /// contacts, `sim-b` limited to 50 requests a second.
    pub fn new(db_url: &'a str, sim_url: &'a str) -> Self {
        ConfigSpec {
            db_url,
            sim_url,
            contacts: 0,
            campaign_cap: 40,
            vendor_caps: (30, 15),
            retry_after: "1s",
            extra_scheduler: "",
            rate_limit: "50/s",
        }
    }

    /// Write the config (with `extra_http` added to `[http]`) and, when
    /// `contacts > 0`, import that many contacts through the CLI.
    pub fn write(&self, db: &TestDb, extra_http: &str) -> PathBuf {
        let config = db.path("config.toml");
        let text = self.render().replace("max_body_bytes = 4096", &format!("max_body_bytes = 4096\n{extra_http}"));
        std::fs::write(&config, text).expect("write config");
        if self.contacts > 0 {
            let csv = db.path("contacts.csv");
            write_contacts(&csv, self.contacts);
            let out = daemon::cli(&config, &["import", "--campaign", "e2e", csv.to_str().expect("utf-8 path")]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
            assert!(stdout.contains(&format!("{} imported", self.contacts)), "{stdout}");
        }
        config
    }

    pub fn render(&self) -> String {
        format!(
            r#"
[database]
url = "{db}"

[http]
listen = "127.0.0.1:0"
max_body_bytes = 4096

[scheduler]
tick = "100ms"
claim_batch = 200
{extra}

[[vendors]]
id = "sim-a"
kind = "sim"
base_url = "{sim}"
api_key = "{key}"
callback_secret = "{secret}"
max_concurrency = {va}

[[vendors]]
id = "sim-b"
kind = "sim"
base_url = "{sim}"
api_key = "{key}"
callback_secret = "{secret}"
max_concurrency = {vb}
rate_limit = "{rate}"

[[campaigns]]
name = "e2e"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = {cap}
vendors = [{{ id = "sim-a", weight = 2 }}, "sim-b"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "{retry}"
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy", "power_off"]
retry_after = "{retry}"
max = 2

[[campaigns.recall.rules]]
when = ["intent:complaint"]
action = "suppress"
"#,
            db = self.db_url,
            sim = self.sim_url,
            key = API_KEY,
            secret = SECRET,
            va = self.vendor_caps.0,
            vb = self.vendor_caps.1,
            cap = self.campaign_cap,
            retry = self.retry_after,
            extra = self.extra_scheduler,
            rate = self.rate_limit,
        )
    }
}

/// Put `phone` on the suppression list, as a complaint would.
pub async fn suppress(db: &DatabaseConnection, phone: &str) {
    use sea_orm::{ActiveModelTrait, Set};
    entity::suppression::ActiveModel {
        phone: Set(phone.to_string()),
        reason: Set("complaint by phone".into()),
        source: Set("test".into()),
        created_at: Set(chrono::Utc::now()),
        expires_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("insert suppression");
}
