//! The config text every measurement builds its `Settings` from, parsed by
//! the daemon's own `config::parse` so the benchmark runs what users configure.

use campaignd::config::Settings;
use std::path::{Path, PathBuf};

pub const VENDOR_ID: &str = "sim";
pub const API_KEY: &str = "bench-api-key";
pub const CALLBACK_SECRET: &str = "bench-callback-secret";
pub const CAMPAIGN: &str = "bench";
/// Windows open around the clock: nothing is deferred.
pub const ALWAYS_OPEN: &str = "daily 00:00-24:00";
/// A base URL nobody listens on, for runs that never dispatch.
pub const NOWHERE: &str = "http://127.0.0.1:9";

/// SQLite `synchronous` pragma (`database.sqlite_synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Full,
    Normal,
}

impl Synchronous {
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Full => "full",
            Synchronous::Normal => "normal",
        }
    }

    /// The setting named `text` (`full` or `normal`), as the config spells it.
    pub fn parse(text: &str) -> Option<Synchronous> {
        [Synchronous::Full, Synchronous::Normal].into_iter().find(|s| s.as_str() == text)
    }
}

/// The knobs the measurements turn; everything else is the daemon's default.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `sqlite://...` or `postgres://...` (see `pg::BenchDb`).
    pub database_url: String,
    /// Where the config text is written and relative paths resolve.
    pub dir: PathBuf,
    /// SQLite only; a PostgreSQL server keeps its own settings.
    pub synchronous: Synchronous,
    /// `scheduler.instance_id`: must differ between instances sharing a database.
    pub instance_id: Option<String>,
    /// Where the sim POSTs callbacks (a listener the benchmark serves).
    pub public_url: Option<String>,
    pub tick: &'static str,
    pub claim_batch: u32,
    pub vendor_url: String,
    pub vendor_max_concurrency: u32,
    pub windows: String,
    pub campaign_max_concurrency: u32,
    /// Extra `[[campaigns]]` keys (legal profiles, caps); empty by default.
    pub campaign_policy: String,
}

impl BenchConfig {
    /// A SQLite file (created if missing).
    pub fn new(db_file: &Path) -> BenchConfig {
        let dir = db_file.parent().unwrap_or(Path::new(".")).to_path_buf();
        BenchConfig::with_url(format!("sqlite://{}?mode=rwc", db_file.display()), &dir)
    }

    /// Any database URL the daemon accepts; `dir` holds the written config.
    pub fn with_url(database_url: String, dir: &Path) -> BenchConfig {
        BenchConfig {
            database_url,
            dir: dir.to_path_buf(),
            synchronous: Synchronous::Full,
            instance_id: None,
            public_url: None,
            tick: "500ms",
            claim_batch: 500,
            vendor_url: NOWHERE.to_string(),
            vendor_max_concurrency: 50,
            windows: ALWAYS_OPEN.to_string(),
            campaign_max_concurrency: 10,
            campaign_policy: String::new(),
        }
    }

    pub fn text(&self) -> String {
        let public_url = self.public_url.as_ref().map(|u| format!("public_url = \"{u}\"\n")).unwrap_or_default();
        let synchronous = match self.database_url.starts_with("sqlite:") {
            true => format!("sqlite_synchronous = \"{}\"\n", self.synchronous.as_str()),
            false => String::new(),
        };
        let instance_id = self.instance_id.as_ref().map(|id| format!("instance_id = \"{id}\"\n")).unwrap_or_default();
        // `CAMPAIGND_BENCH_FORWARD=1`: every result also writes its forwarding
        // events (both kinds) to the outbox, to measure what that costs the
        // processor. The URL leads nowhere; the measurements do not deliver.
        let forwarding = match std::env::var("CAMPAIGND_BENCH_FORWARD").as_deref() {
            Ok("1") => {
                "[forwarding]\nurl = \"http://127.0.0.1:9/hooks\"\nsecret = \"bench-secret\"\n\
                        events = [\"contact.final\", \"attempt.completed\"]\n"
            }
            _ => "",
        };
        format!(
            r#"{forwarding}
[database]
url = "{db}"
{synchronous}
[http]
listen = "127.0.0.1:0"
# The sim delivers its callbacks from this process, all from 127.0.0.1, up
# to thousands at once: the default per-peer cap (64) would refuse them.
max_connections_per_peer = 4096
{public_url}
[scheduler]
tick = "{tick}"
claim_batch = {claim_batch}
{instance_id}
[[vendors]]
id = "{VENDOR_ID}"
kind = "sim"
base_url = "{vendor_url}"
api_key = "{API_KEY}"
callback_secret = "{CALLBACK_SECRET}"
max_concurrency = {vendor_max}

[[campaigns]]
name = "{CAMPAIGN}"
timezone = "Asia/Jakarta"
windows = "{windows}"
max_concurrency = {campaign_max}
vendors = ["{VENDOR_ID}"]
default_country_code = "62"
{policy}

[campaigns.recall]
max_attempts = 3
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy", "power_off"]
retry_after = "1h"
max = 2
"#,
            db = self.database_url,
            tick = self.tick,
            claim_batch = self.claim_batch,
            vendor_url = self.vendor_url,
            vendor_max = self.vendor_max_concurrency,
            windows = self.windows,
            campaign_max = self.campaign_max_concurrency,
            policy = self.campaign_policy,
        )
    }

    /// Validated settings, exactly as `campaignd --config` would load them.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(campaignd::config::parse(
            &self.text(),
            Path::new("bench-config.toml"),
            &self.dir,
            &campaignd::vendors::Kinds,
        )?)
    }

    /// Write the text into `dir`, for the real binary.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join("bench-config.toml");
        std::fs::write(&path, self.text())?;
        Ok(path)
    }
}
