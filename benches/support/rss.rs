//! Peak RSS of the real release binary (`campaignd run`) idling, with its
//! scheduler ticking, on a database holding the largest import's contacts.

use super::config::{BenchConfig, CAMPAIGN};
use super::daemon::Daemon;
use super::import::ImportedDb;
use super::per_second;
use super::report::{Report, dec, int, mib};
use chrono::Datelike;
use std::time::{Duration, Instant};

/// A one-minute window three days from today (UTC): every zone within ±14 h
/// of UTC is on another weekday, so no contact can be called during the run.
fn closed_windows() -> String {
    let day = (chrono::Utc::now() + chrono::Duration::days(3)).weekday();
    let name = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.num_days_from_monday() as usize];
    format!("{name} 00:00-00:01")
}

pub async fn measure(db: &ImportedDb, idle: Duration, report: &mut Report) -> anyhow::Result<()> {
    // The shipped config's scheduler settings, with every contact outside its window:
    // each tick claims due contacts and defers them to their next window.
    let config =
        BenchConfig { windows: closed_windows(), campaign_max_concurrency: 500, ..BenchConfig::new(&db.db_file) };
    let config_file = config.write()?;
    let mut daemon = Daemon::start(&config_file, &db.db_file.with_extension("log")).await?;
    idle_while_alive(&mut daemon, idle).await?;
    let peak = daemon.status_kib("VmHWM")?;
    let current = daemon.status_kib("VmRSS")?;
    let startup = daemon.startup;
    let stop = daemon.stop().await?;
    let deferred = deferred_contacts(&config).await?;

    let contacts = int(db.contacts as f64);
    report.add(
        format!("Peak RSS (VmHWM), daemon idle {} s, {contacts} contacts", idle.as_secs()),
        dec(mib(peak * 1024)),
        "MiB",
        format!(
            "VmRSS at the end {} MiB; startup {} s; {} contacts deferred by its ticks ({}/s); SIGTERM to exit {} ms",
            dec(mib(current * 1024)),
            dec(startup.as_secs_f64()),
            int(deferred as f64),
            int(per_second(deferred as f64, idle)),
            stop.as_millis()
        ),
    );
    Ok(())
}

/// Let the daemon run for `idle`, failing at once if it exits meanwhile.
async fn idle_while_alive(daemon: &mut Daemon, idle: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + idle;
    while Instant::now() < until {
        daemon.ensure_alive()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Contacts the daemon's ticks moved to a later window (their `updated_at`
/// no longer equals the import's `created_at`): proof that it was ticking.
async fn deferred_contacts(config: &BenchConfig) -> anyhow::Result<i64> {
    let settings = config.settings()?;
    let conn = campaignd::store::db::connect(&settings.database).await?;
    let sql = format!(
        "SELECT COUNT(*) FROM contacts WHERE updated_at <> created_at \
         AND campaign_id = (SELECT id FROM campaigns WHERE name = '{CAMPAIGN}')"
    );
    let deferred = super::count(&conn, &sql).await?;
    campaignd::store::db::close(conn).await?;
    Ok(deferred)
}
