//! `[database]`: the URL, the connection pool and its timeouts.

use super::Validator;
use crate::config::raw::RawDatabase;
use crate::domain::duration::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    /// Connections kept open even when idle.
    pub min_connections: u32,
    /// How long one database call waits for a connection. While the server is
    /// down the pool keeps reconnecting for this long, so a shorter outage is
    /// ridden out by waiting and a longer one fails the call (every loop
    /// retries on its next round).
    pub acquire_timeout: Duration,
    /// How long start-up waits for the database to accept connections.
    pub connect_timeout: Duration,
    /// An idle connection above `min_connections` is closed after this.
    pub idle_timeout: Duration,
    /// A connection is replaced after this long (picks up a failover's new
    /// address, bounds server-side memory growth per session).
    pub max_lifetime: Duration,
    /// PostgreSQL only: the server cancels a statement running longer (lock
    /// waits included). `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// PostgreSQL only: how often the daemon checks its tables' changes since
    /// their last `ANALYZE` and analyzes the stale ones (`crate::planner_stats`).
    /// `None`: never (autovacuum's alone).
    pub analyze_every: Option<Duration>,
    /// How many pages of the callback inbox this instance applies at once,
    /// each in its own transaction (`ingest::processor`): 1 on SQLite,
    /// whose one writer takes them in turn anyway.
    pub inbox_workers: usize,
    pub sqlite_synchronous_full: bool,
    pub busy_timeout: Duration,
}

/// The pool size when the config names none.
///
/// WHY 4 on SQLite: the file has one writer (whose transactions queue for
/// their turn and run on one more connection of their own, outside this
/// pool, see `store::sqlite_writer`), and WAL readers never wait for it. But each pooled connection keeps its
/// own prepared statements and page cache, about 2.3 MiB each in the
/// end-to-end bench. With 60 callback senders, 100,000 contacts, 2 cores,
/// alternated: 4 connections 61.8 and 62.9 MiB peak RSS in 84.8 and
/// 81.6 s; 8 connections 83.4 and 77.3 MiB in 97.0 and 78.9 s.
///
/// PostgreSQL keeps 8: the server does not share one writer, and several
/// claims and pages proceed at once.
pub fn default_max_connections(url: &str) -> u32 {
    if is_sqlite(url) { 4 } else { 8 }
}

/// Whether `url` names a SQLite database (every `sqlite:` form: a file,
/// `sqlite://…`, `sqlite::memory:`).
fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Inbox pages applied at once when the config names no number.
///
/// WHY 2 on PostgreSQL: a page is a chain of round trips, each waiting on
/// the server or on the daemon's own decisions, so one page at a time
/// leaves the server idle while the daemon decides and the daemon idle
/// while the server writes. Two pages at once keep both busy; their rows
/// are kept apart as between instances (the inbox rows `FOR UPDATE SKIP
/// LOCKED`, the attempts locked in id order). It also means one page held
/// up on a lock does not hold up the rest of a burst. Measured in
/// docs/benchmarks.md ("Two inbox pages at once on PostgreSQL").
///
/// SQLite has one writer: a second page would only queue for its turn.
pub fn default_inbox_workers(url: &str) -> usize {
    if is_sqlite(url) { 1 } else { 2 }
}

const DEFAULT_URL: &str = "sqlite://campaignd.db?mode=rwc";

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: DEFAULT_URL.into(),
            max_connections: default_max_connections(DEFAULT_URL),
            min_connections: 1,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            // Every statement of the daemon takes milliseconds; one still
            // running after 30 s is stuck on a lock or a bad plan, and failing
            // it lets its loop retry instead of hanging the scheduler or the
            // inbox behind it. Migrations are exempt (see `db::migrate`).
            statement_timeout: Some(Duration::from_secs(30)),
            // A burst of 50,000 rows lands in a few seconds; plans made from
            // the counts before it cost 10-1000x until the next ANALYZE
            // (`domain::planner_stats`). The check reads one catalog view.
            analyze_every: Some(Duration::from_secs(1)),
            inbox_workers: default_inbox_workers(DEFAULT_URL),
            sqlite_synchronous_full: true,
            busy_timeout: Duration::from_secs(10),
        }
    }
}

impl DatabaseSettings {
    /// The defaults with another URL (tests, tools).
    pub fn with_url(url: impl Into<String>) -> Self {
        let url = url.into();
        DatabaseSettings {
            max_connections: default_max_connections(&url),
            inbox_workers: default_inbox_workers(&url),
            url,
            ..DatabaseSettings::default()
        }
    }
}

impl Validator<'_> {
    pub(super) fn database(&mut self, raw: &RawDatabase) -> DatabaseSettings {
        let d = DatabaseSettings::default();
        let url = match &raw.url {
            None => d.url.clone(),
            Some(u) => {
                let url = u.get_ref();
                if !(is_sqlite(url) || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    self.issue("database.url", Some(u), "must start with sqlite:, postgres:// or postgresql://");
                }
                if let Some(problem) = sqlite_dir_problem(url) {
                    self.issue("database.url", Some(u), problem);
                }
                url.clone()
            }
        };
        let max_connections = match &raw.max_connections {
            None => default_max_connections(&url),
            Some(n) if *n.get_ref() == 0 => {
                self.issue("database.max_connections", Some(n), "must be at least 1");
                default_max_connections(&url)
            }
            Some(n) => *n.get_ref(),
        };
        let min_connections = match &raw.min_connections {
            None => d.min_connections.min(max_connections),
            Some(n) if *n.get_ref() > max_connections => {
                let message = format!("{} is more than database.max_connections ({max_connections})", n.get_ref());
                self.issue("database.min_connections", Some(n), message);
                d.min_connections
            }
            Some(n) => *n.get_ref(),
        };
        let statement_timeout = match &raw.statement_timeout {
            None => d.statement_timeout,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(t) if t.is_zero() => None,
                Ok(t) if t < Duration::from_millis(1) => {
                    self.issue("database.statement_timeout", Some(s), "PostgreSQL counts it in whole milliseconds");
                    d.statement_timeout
                }
                Ok(t) => Some(t),
                Err(e) => {
                    self.issue("database.statement_timeout", Some(s), e.to_string());
                    d.statement_timeout
                }
            },
        };
        let analyze_every = match &raw.analyze_every {
            None => d.analyze_every,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(t) if t.is_zero() => None,
                Ok(t) => Some(t),
                Err(e) => {
                    self.issue("database.analyze_every", Some(s), e.to_string());
                    d.analyze_every
                }
            },
        };
        let inbox_workers = self.inbox_workers(raw, &url, max_connections);
        let sqlite_synchronous_full = match raw.sqlite_synchronous.as_ref() {
            None => d.sqlite_synchronous_full,
            Some(s) if s.get_ref() == "full" => true,
            Some(s) if s.get_ref() == "normal" => false,
            Some(s) => {
                self.issue(
                    "database.sqlite_synchronous",
                    Some(s),
                    format!("`{}` is not `full` or `normal`", s.get_ref()),
                );
                d.sqlite_synchronous_full
            }
        };
        DatabaseSettings {
            url,
            max_connections,
            min_connections,
            acquire_timeout: self.duration("database.acquire_timeout", &raw.acquire_timeout, d.acquire_timeout),
            connect_timeout: self.duration("database.connect_timeout", &raw.connect_timeout, d.connect_timeout),
            idle_timeout: self.duration("database.idle_timeout", &raw.idle_timeout, d.idle_timeout),
            max_lifetime: self.duration("database.max_lifetime", &raw.max_lifetime, d.max_lifetime),
            statement_timeout,
            analyze_every,
            inbox_workers,
            sqlite_synchronous_full,
            busy_timeout: self.duration("database.busy_timeout", &raw.busy_timeout, d.busy_timeout),
        }
    }

    /// Each inbox worker holds a pooled connection for its page; the
    /// scheduler and the callback writer need one too.
    fn inbox_workers(&mut self, raw: &RawDatabase, url: &str, max_connections: u32) -> usize {
        let default = default_inbox_workers(url);
        let Some(n) = &raw.inbox_workers else { return default };
        let workers = *n.get_ref();
        let key = "database.inbox_workers";
        if workers == 0 {
            self.issue(key, Some(n), "must be at least 1");
        } else if workers > 1 && is_sqlite(url) {
            self.issue(key, Some(n), "SQLite has one writer and applies one page at a time: remove it or set 1");
        } else if workers >= max_connections {
            let message = format!(
                "{workers} would leave no pooled connection for the scheduler and the callback writer \
                 (database.max_connections = {max_connections})"
            );
            self.issue(key, Some(n), message);
        } else {
            return workers as usize;
        }
        default
    }
}

/// The database file of a `sqlite:` URL, if it names a file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Whether a `sqlite:` URL opens its file read-only (`mode=ro`, or
/// `immutable=true`, as sqlx reads them): nothing may write through it.
pub fn sqlite_read_only(url: &str) -> bool {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query.split('&').any(|pair| matches!(pair, "mode=ro" | "immutable=true" | "immutable=1"))
}

/// SQLite creates the file but not its directory: `run` would fail to open
/// it (or its lock file). The path in the URL is relative to the working
/// directory, not to the config file.
fn sqlite_dir_problem(url: &str) -> Option<String> {
    let file = sqlite_file(url)?;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => return None,
    };
    if dir.is_dir() {
        return None;
    }
    let shown = std::path::absolute(&dir).unwrap_or(dir);
    Some(format!(
        "the SQLite file's directory {} does not exist (a relative path is from the working directory)",
        shown.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Settings, parse};
    use std::path::Path;

    fn database(table: &str) -> Result<Settings, ConfigError> {
        parse(
            &format!("[database]\n{table}\n"),
            Path::new("test.toml"),
            Path::new("."),
            &crate::config::validate::NoVendorChecks,
        )
    }

    #[test]
    fn pool_settings_default_and_read_human_durations() {
        let d = database("").unwrap().database;
        assert_eq!((d.max_connections, d.min_connections), (4, 1), "SQLite's default pool");
        let pg = database("url = \"postgres://db/c\"").unwrap().database;
        assert_eq!(pg.max_connections, 8, "PostgreSQL's default pool");
        assert_eq!(DatabaseSettings::with_url("postgres://db/c").max_connections, 8);
        assert_eq!(DatabaseSettings::with_url("sqlite://x.db").max_connections, 4);
        assert_eq!(d.acquire_timeout, Duration::from_secs(30));
        assert_eq!(d.connect_timeout, Duration::from_secs(30));
        assert_eq!(d.statement_timeout, Some(Duration::from_secs(30)));
        let s = database(
            "url = \"postgres://db/c\"\nmax_connections = 20\nmin_connections = 4\nacquire_timeout = \"5s\"\n\
             connect_timeout = \"2m\"\nidle_timeout = \"1m\"\nmax_lifetime = \"1h\"\nstatement_timeout = \"250ms\"",
        )
        .unwrap()
        .database;
        assert_eq!((s.max_connections, s.min_connections), (20, 4));
        assert_eq!(s.acquire_timeout, Duration::from_secs(5));
        assert_eq!(s.connect_timeout, Duration::from_secs(120));
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.max_lifetime, Duration::from_secs(3600));
        assert_eq!(s.statement_timeout, Some(Duration::from_millis(250)));
        assert_eq!(database("statement_timeout = \"0s\"").unwrap().database.statement_timeout, None, "0s: no limit");
        assert_eq!(d.analyze_every, Some(Duration::from_secs(1)));
        assert_eq!(database("analyze_every = \"5s\"").unwrap().database.analyze_every, Some(Duration::from_secs(5)));
        assert_eq!(database("analyze_every = \"0s\"").unwrap().database.analyze_every, None, "0s: autovacuum alone");
        assert_eq!((d.inbox_workers, pg.inbox_workers), (1, 2), "pages at once: SQLite one, PostgreSQL two");
        assert_eq!(database("url = \"postgres://db/c\"\ninbox_workers = 4").unwrap().database.inbox_workers, 4);
        // One connection in all: the default minimum follows it down.
        assert_eq!(database("max_connections = 1").unwrap().database.min_connections, 1);
    }

    #[test]
    fn inbox_workers_are_refused_where_they_cannot_work_with_the_line_named() {
        let err = |table: &str| database(table).unwrap_err().to_string();
        assert!(err("inbox_workers = 0").contains("line 2: database.inbox_workers: must be at least 1"));
        assert!(err("inbox_workers = 2").contains("line 2: database.inbox_workers: SQLite has one writer"));
        let starved = err("url = \"postgres://db/c\"\nmax_connections = 4\ninbox_workers = 4");
        assert!(starved.contains("line 4: database.inbox_workers: 4 would leave no pooled connection"), "{starved}");
        assert_eq!(database("inbox_workers = 1").unwrap().database.inbox_workers, 1, "1 is fine on SQLite");
    }

    #[test]
    fn a_read_only_sqlite_url_is_told_apart() {
        assert!(sqlite_read_only("sqlite://data/c.db?mode=ro"));
        assert!(sqlite_read_only("sqlite:c.db?cache=shared&immutable=true"));
        assert!(!sqlite_read_only("sqlite://data/c.db?mode=rwc"));
        assert!(!sqlite_read_only("sqlite://data/c.db"));
        assert!(!sqlite_read_only("sqlite://data/c.db?mode=rw&x=mode=ro"));
    }

    #[test]
    fn a_sqlite_file_in_a_missing_directory_is_refused_with_the_directory_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let err = database(&format!("url = \"sqlite://{}/c.db?mode=rwc\"", missing.display())).unwrap_err().to_string();
        let expected =
            format!("line 2: database.url: the SQLite file's directory {} does not exist", missing.display());
        assert!(err.contains(&expected), "{err}");
        let fine = format!("url = \"sqlite://{}/c.db?mode=rwc\"", dir.path().display());
        assert!(database(&fine).is_ok());
        assert!(database("url = \"sqlite://c.db?mode=rwc\"").is_ok(), "the working directory exists");
    }

    #[test]
    fn bad_pool_settings_are_named_with_their_lines() {
        let err = database(
            "max_connections = 4\nmin_connections = 5\nacquire_timeout = \"soon\"\nconnect_timeout = \"0s\"\n\
             statement_timeout = \"30\"\nidle_timeout = \"5 parsecs\"\nmax_lifetime = \"-1m\"\nanalyze_every = \"often\"",
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "line 3: database.min_connections: 5 is more than database.max_connections (4)",
            "line 4: database.acquire_timeout: invalid duration `soon`",
            "line 5: database.connect_timeout: must be greater than zero",
            "line 6: database.statement_timeout: invalid duration `30`",
            "line 7: database.idle_timeout: invalid duration `5 parsecs`",
            "line 8: database.max_lifetime: invalid duration `-1m`",
            "line 9: database.analyze_every: invalid duration `often`",
        ] {
            assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
        }
        let zero = database("max_connections = 0").unwrap_err().to_string();
        assert!(zero.contains("line 2: database.max_connections: must be at least 1"), "{zero}");
    }
}
