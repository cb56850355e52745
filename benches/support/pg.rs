//! Which database a measurement runs on: a fresh SQLite file in a temp dir, or
//! a fresh database on a PostgreSQL server (`--pg URL` or
//! `CAMPAIGND_BENCH_PG_URL`), created for the measurement and dropped after it.

use sea_orm::{ConnectionTrait, Database};
use std::path::Path;
use tempfile::TempDir;

/// The environment variable naming the PostgreSQL server, like `--pg`.
pub const PG_URL_ENV: &str = "CAMPAIGND_BENCH_PG_URL";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A server URL whose database we may connect to and `CREATE DATABASE` from,
    /// e.g. `postgres://postgres@127.0.0.1/postgres`.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// One measurement's database. Dropping it deletes the SQLite file with its
/// temp dir, or drops the PostgreSQL database (`WITH (FORCE)`: connections
/// still open in the measured instances are closed by the server).
pub struct BenchDb {
    pub dir: TempDir,
    pub url: String,
    /// The server URL we created the database from, and its name.
    pg: Option<(String, String)>,
}

impl BenchDb {
    /// `label` names the SQLite file (`{label}.db`); PostgreSQL databases get
    /// a unique `campaignd_bench_{uuid}` name so runs never collide.
    pub async fn create(backend: &Backend, label: &str) -> anyhow::Result<BenchDb> {
        let dir = tempfile::tempdir()?;
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join(format!("{label}.db")).display());
                Ok(BenchDb { dir, url, pg: None })
            }
            Backend::Postgres(server) => {
                let name = format!("campaignd_bench_{}", uuid::Uuid::new_v4().simple());
                execute(server, &format!("CREATE DATABASE {name}")).await?;
                let url = database_url(server, &name)?;
                Ok(BenchDb { dir, url, pg: Some((server.clone(), name)) })
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.pg.take() else { return };
        // Drop runs inside the benchmark's runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(execute(&server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: benchmark database was not dropped: {e:#}"),
            Err(_) => eprintln!("warning: dropping the benchmark database panicked"),
        }
    }
}

/// Run one statement on its own short-lived connection to `server`.
async fn execute(server: &str, sql: &str) -> anyhow::Result<()> {
    let conn = Database::connect(server)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to the PostgreSQL server given by --pg / {PG_URL_ENV}: {e}"))?;
    conn.execute_unprepared(sql).await.map_err(|e| anyhow::anyhow!("{sql}: {e}"))?;
    campaignd::store::db::close(conn).await?;
    Ok(())
}

/// `server` with its database name replaced by `name`, query kept (the URL
/// may hold a password, so errors do not repeat it):
/// `postgres://u@h/postgres?sslmode=disable` → `postgres://u@h/{name}?sslmode=disable`.
fn database_url(server: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let rest = base.split_once("://").map(|(_, rest)| rest).unwrap_or_default();
    anyhow::ensure!(
        (server.starts_with("postgres://") || server.starts_with("postgresql://")) && !rest.is_empty(),
        "--pg / {PG_URL_ENV}: expected a postgres:// URL like postgres://postgres@127.0.0.1/postgres"
    );
    // No path (`postgres://host`) means the default database: append ours.
    let host_part = match rest.split_once('/') {
        Some((host, _)) => host,
        None => rest,
    };
    let scheme = &base[..base.len() - rest.len()];
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!("{scheme}{host_part}/{name}{query}"))
}
