//! One claim over a large backlog: the daemon's claim of one batch
//! (`store::claim::claim`, windows open, no policy) on each imported
//! database (100,000 and 1,000,000 contacts, every one due), beside the
//! minimal claim loop's transaction for a batch on the same database. The daemon's claim must cost about a
//! batch, not about the backlog: it holds SQLite's only write turn while it
//! runs, and callbacks wait for that turn.

use super::claim_baseline;
use super::config::{BenchConfig, VENDOR_ID};
use super::import::{ImportedDb, open_store};
use super::report::{Report, int};
use campaignd::domain::routing::VendorSlot;
use campaignd::domain::state::CampaignState;
use campaignd::store::{campaigns, claim};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const BATCH: u32 = 1000;
/// Claims of each kind, taken in turn; the medians are reported.
const ROUNDS: usize = 7;

pub async fn measure(imported: &ImportedDb, report: &mut Report) -> anyhow::Result<()> {
    // A copy: the claims put contacts in flight, and the RSS measurement
    // wants the imported database as it was.
    let dir = tempfile::tempdir()?;
    let db_file = dir.path().join("backlog.db");
    std::fs::copy(&imported.db_file, &db_file)?;
    let config = BenchConfig { campaign_max_concurrency: 1_000_000, ..BenchConfig::new(&db_file) };
    let settings = config.settings()?;
    let (conn, row) = open_store(&settings).await?;
    let mut camp = campaigns::parse(&row, &settings.compliance)?;
    camp.state = CampaignState::Running;
    let slots = HashMap::from([(VENDOR_ID.to_string(), VendorSlot { cap: 1_000_000, own_redials: 0 })]);

    let (mut daemon, mut minimal) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let now = chrono::Utc::now();
        let lease = claim::Lease { owner: "bench", until: now + chrono::Duration::minutes(5) };
        let started = Instant::now();
        let claimed = claim::claim(&conn, &camp, &slots, BATCH, &lease, now).await?;
        daemon.push(started.elapsed());
        anyhow::ensure!(claimed.claimed.len() == BATCH as usize, "the claim took {} contacts", claimed.claimed.len());

        let started = Instant::now();
        let ids = claim_baseline::claim_batch(&conn, row.id, BATCH).await?;
        minimal.push(started.elapsed());
        anyhow::ensure!(ids.len() == BATCH as usize, "the minimal claim took {} contacts", ids.len());
    }
    campaignd::store::db::close(conn).await?;
    let (daemon, minimal) = (median(daemon), median(minimal));
    report.add_vs(
        format!("Claim {} of {} due contacts, SQLite", int(f64::from(BATCH)), int(imported.contacts as f64)),
        daemon.as_secs_f64() * 1000.0,
        "ms",
        "minimal claim loop's batch, hand-written SQL",
        minimal.as_secs_f64() * 1000.0,
        format!("median of {ROUNDS} claims of each, taken in turn; lower is better"),
    );
    Ok(())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
