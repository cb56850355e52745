//! Import rate: contacts per second through `campaignd::import::import_csv`,
//! the same code path as `campaignd import`, timing only the import itself.

use super::config::{BenchConfig, CAMPAIGN};
use super::per_second;
use super::report::{Report, dec, int, mib};
use anyhow::Context as _;
use campaignd::config::Settings;
use campaignd::import::{ImportReport, import_csv};
use campaignd::store::{campaigns, db};
use entity::campaign;
use sea_orm::DatabaseConnection;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tempfile::TempDir;

/// Callee zones the generated contacts rotate through; "" falls back to the
/// campaign's zone. Several zones make the claim/defer paths do real work.
const ZONES: [&str; 4] = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", ""];

/// A database left behind by an import, kept for the RSS measurement.
pub struct ImportedDb {
    /// Owns the files; they are deleted when this is dropped.
    pub _dir: TempDir,
    pub db_file: PathBuf,
    pub contacts: u64,
}

/// `phone,case_id,timezone,amount,name` with distinct national-format
/// Indonesian mobile numbers (the importer normalizes them to E.164).
pub fn write_csv(path: &Path, rows: u64) -> anyhow::Result<u64> {
    write_csv_in(path, rows, &ZONES)
}

/// `write_csv` with the contacts' zones taken in turn from `zones`.
pub fn write_csv_in(path: &Path, rows: u64, zones: &[&str]) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(out, "phone,case_id,timezone,amount,name")?;
    for i in 0..rows {
        let zone = zones[(i % zones.len() as u64) as usize];
        writeln!(out, "0812{i:08},case-{i},{zone},{},Customer {i}", 100_000 + (i * 7919) % 9_000_000)?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Open the database like the CLI's one-shot commands do: migrate, sync the
/// config's campaigns, and return the benchmark campaign's row.
pub async fn open_store(settings: &Settings) -> anyhow::Result<(DatabaseConnection, campaign::Model)> {
    let conn = db::connect(&settings.database).await?;
    db::migrate(&conn).await?;
    campaigns::sync_from_config(&conn, &settings.campaigns, chrono::Utc::now()).await?;
    let row = campaigns::find_by_name(&conn, CAMPAIGN).await?;
    Ok((conn, row))
}

/// Import a CSV file as `campaignd import` does (1 MiB read buffer, no progress bar).
pub async fn import_file(
    conn: &DatabaseConnection,
    camp: &campaign::Model,
    csv: &Path,
) -> anyhow::Result<ImportReport> {
    let file = std::fs::File::open(csv).with_context(|| format!("opening {}", csv.display()))?;
    let report =
        import_csv(conn, camp, std::io::BufReader::with_capacity(1 << 20, file), None, chrono::Utc::now()).await?;
    anyhow::ensure!(report.rejected == 0, "import rejected rows: {:?}", report.errors.first());
    Ok(report)
}

/// Measure one import of `rows` contacts into a fresh database.
pub async fn measure(rows: u64, report: &mut Report) -> anyhow::Result<ImportedDb> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("contacts.csv");
    let csv_bytes = write_csv(&csv, rows)?;
    let db_file = dir.path().join("import.db");
    let (conn, camp) = open_store(&BenchConfig::new(&db_file).settings()?).await?;

    let started = Instant::now();
    let imported = import_file(&conn, &camp, &csv).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(imported.inserted == rows, "imported {} of {rows} rows", imported.inserted);
    let baseline = sqlite3_import(dir.path(), &csv, rows).await?;
    // Rates, so the ratio reads "how fast against sqlite3": ≥ 0.5 is within 2×.
    report.add_vs(
        format!("Import {} contacts (import_csv)", int(rows as f64)),
        per_second(rows as f64, elapsed),
        "contacts/s",
        "sqlite3 .import, same CSV and indexes",
        per_second(rows as f64, baseline),
        format!(
            "{} s against sqlite3's {} s ({:.2}× its time) for a {} MiB CSV",
            dec(elapsed.as_secs_f64()),
            dec(baseline.as_secs_f64()),
            elapsed.as_secs_f64() / baseline.as_secs_f64().max(1e-9),
            dec(mib(csv_bytes))
        ),
    );

    // Closing the last connection checkpoints the WAL into the main file.
    db::close(conn).await?;
    std::fs::remove_file(&csv)?;
    let size = file_size(&db_file) + file_size(&db_file.with_extension("db-wal"));
    report.add(
        format!("SQLite file size, {} contacts", int(rows as f64)),
        dec(mib(size)),
        "MiB",
        format!("{} bytes/contact incl. indexes", int(size as f64 / rows as f64)),
    );
    Ok(ImportedDb { _dir: dir, db_file, contacts: rows })
}

/// The baseline: the sqlite3 shell loads the same CSV into the same
/// `contacts` table, on a fresh file migrated by the daemon (so the same
/// columns, indexes and WAL mode), with `synchronous = FULL` and foreign keys
/// on as the daemon runs. Returns its wall time (process start to exit).
///
/// WHY staging + `INSERT ... SELECT` and not `.import` straight into a table:
/// the fair "same indexes" comparison writes the same rows into the same
/// table. `.import` can only fill a table shaped like the CSV, which would
/// skip the JSON variables, the state and times, the E.164 number and the
/// zone columns, and so write smaller rows than the daemon does. Here
/// `.import` parses the CSV into an unindexed temp table (SQLite's CSV
/// reader standing in for ours) and one `INSERT ... SELECT` writes every
/// row through the real indexes, in one transaction, skipping duplicates
/// as the daemon does. Its phone normalization and zones are a plain string
/// rewrite of what the generated CSV holds: the baseline does less per row
/// than the daemon's import (no number parsing, no zone inference), never more.
async fn sqlite3_import(dir: &Path, csv: &Path, rows: u64) -> anyhow::Result<std::time::Duration> {
    const SQLITE3: &str = "/usr/bin/sqlite3";
    anyhow::ensure!(
        Path::new(SQLITE3).exists(),
        "{SQLITE3} is missing: the import baseline needs the sqlite3 shell (apt-get install sqlite3)"
    );
    let db_file = dir.join("baseline.db");
    let (conn, camp) = open_store(&BenchConfig::new(&db_file).settings()?).await?;
    db::close(conn).await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let script = format!(
        "PRAGMA synchronous = FULL;\n\
         PRAGMA foreign_keys = ON;\n\
         CREATE TEMP TABLE staging (phone TEXT, case_id TEXT, timezone TEXT, amount TEXT, name TEXT);\n\
         .mode csv\n\
         .import --schema temp --skip 1 {csv} staging\n\
         BEGIN IMMEDIATE;\n\
         INSERT INTO contacts (campaign_id, state, due_at, created_at, updated_at, recall_history, attempt_seq, \
           phone, case_id, timezone, zones, zone_source, variables) \
         SELECT {id}, 'pending', '{now}', '{now}', '{now}', '{{}}', 0, \
           '+62' || substr(phone, 2), NULLIF(case_id, ''), NULLIF(timezone, ''), NULLIF(timezone, ''), \
           CASE WHEN timezone = '' THEN 'campaign' ELSE 'explicit' END, json_object('amount', amount, 'name', name) \
         FROM temp.staging WHERE true ON CONFLICT (campaign_id, phone) DO NOTHING;\n\
         COMMIT;\n\
         SELECT COUNT(*) FROM contacts;\n",
        csv = csv.display(),
        id = camp.id,
    );
    let started = Instant::now();
    let mut child = tokio::process::Command::new(SQLITE3)
        .arg(&db_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {SQLITE3}"))?;
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().context("sqlite3 stdin")?;
        stdin.write_all(script.as_bytes()).await?;
    }
    let out = child.wait_with_output().await?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success() && out.stderr.is_empty(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(stdout.trim() == rows.to_string(), "sqlite3 loaded `{}` rows, expected {rows}", stdout.trim());
    std::fs::remove_file(&db_file)?;
    Ok(elapsed)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
