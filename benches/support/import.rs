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
    report.add(
        format!("Import {} contacts (import_csv)", int(rows as f64)),
        int(per_second(rows as f64, elapsed)),
        "contacts/s",
        format!("{} s for a {} MiB CSV", dec(elapsed.as_secs_f64()), dec(mib(csv_bytes))),
    );

    // Closing the last connection checkpoints the WAL into the main file.
    conn.close().await?;
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

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
