//! Throughput benchmark of campaignd: contact import, dispatch through the
//! sim vendor (with and without frequency caps and a legal profile), the
//! contact policy's decisions, result processing, callback ingest (wrk
//! against the release binary, beside `/healthz`), the daemon's peak RSS and
//! an end-to-end campaign (the release binary with its embedded simulator);
//! import and ingest each carry a baseline measured in the same run
//! (`sqlite3 .import`, `/healthz`). Needs `wrk` and `/usr/bin/sqlite3`
//! (`apt-get install wrk sqlite3`); with a PostgreSQL server, dispatch, callback ingest and
//! result processing on PostgreSQL beside SQLite, with one and three instances.
//!
//! ```text
//! cargo bench --bench throughput                  # full run (1-3 min on 2 cores, plus the build)
//! cargo bench --bench throughput -- --quick       # smaller sizes, no 1M import (~30 s)
//! cargo bench --bench throughput -- --quick --contacts-1m
//! cargo bench --bench throughput -- --only dispatch   # one of import, backlog, dispatch, policy, ingest, flood, rss, e2e, instances
//! cargo bench --bench throughput -- --quick --only instances --pg postgres://postgres@127.0.0.1/postgres
//! ```
//!
//! `--pg URL` (or env `CAMPAIGND_BENCH_PG_URL`) names a PostgreSQL server; it
//! adds the `instances` measurement to a run without `--only`, and `--only
//! instances` needs it; `dispatch` then also runs on it, and so does result
//! processing (`support::process`). Each of its runs creates a fresh database there
//! (`campaignd_bench_<uuid>`) and drops it afterwards.
//!
//! Every other measurement runs on a fresh SQLite file in its own temp dir. Figures
//! are printed as they complete, then as one table, which is also written as
//! markdown to `bench-out/latest.md`. Set `CAMPAIGND_LOG` (default `warn`) to
//! see the daemon's logs on stderr.

mod support;

use std::time::Duration;
use support::pg::PG_URL_ENV;
use support::report::Report;
use support::{backlog, dispatch, e2e, import, ingest, ingest_flood, instances, policy, process, rss};

const MEASUREMENTS: [&str; 9] =
    ["import", "backlog", "dispatch", "policy", "ingest", "flood", "rss", "e2e", "instances"];

/// What `--quick`, `--contacts-1m` and `--only` select.
struct Plan {
    quick: bool,
    /// Run only this measurement (`rss` also runs the imports it needs).
    only: Option<String>,
    /// The PostgreSQL server of the `instances` measurement.
    pg: Option<String>,
    /// Import sizes, smallest first; the last one's database is reused for RSS.
    import_rows: Vec<u64>,
    dispatch_contacts: u64,
    callbacks: usize,
    /// How long wrk loads each route of the ingest measurement.
    ingest_seconds: Duration,
    e2e_contacts: u64,
    instances_contacts: u64,
    /// How long the daemon idles (ticking) before its peak RSS is read.
    rss_idle: Duration,
}

impl Plan {
    /// Unknown arguments are ignored: `cargo bench` itself passes `--bench`.
    fn from_args(args: impl Iterator<Item = String>) -> anyhow::Result<Plan> {
        let args: Vec<String> = args.collect();
        let quick = args.iter().any(|a| a == "--quick");
        let contacts_1m = args.iter().any(|a| a == "--contacts-1m") || !quick;
        let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
        if let Some(name) = &only {
            anyhow::ensure!(MEASUREMENTS.contains(&name.as_str()), "--only {name}: expected one of {MEASUREMENTS:?}");
        }
        let pg = match args.iter().position(|a| a == "--pg") {
            Some(i) => Some(args.get(i + 1).filter(|v| !v.starts_with("--")).cloned().ok_or_else(|| {
                anyhow::anyhow!("--pg: expected a server URL like postgres://postgres@127.0.0.1/postgres")
            })?),
            None => std::env::var(PG_URL_ENV).ok().filter(|v| !v.is_empty()),
        };
        anyhow::ensure!(
            only.as_deref() != Some("instances") || pg.is_some(),
            "--only instances compares PostgreSQL with SQLite: give --pg URL or set {PG_URL_ENV}"
        );
        let mut import_rows = vec![if quick { 20_000 } else { 100_000 }];
        if contacts_1m {
            import_rows.push(1_000_000);
        }
        Ok(Plan {
            quick,
            only,
            pg,
            import_rows,
            dispatch_contacts: if quick { 10_000 } else { 50_000 },
            callbacks: if quick { 5_000 } else { 20_000 },
            ingest_seconds: Duration::from_secs(if quick { 5 } else { 10 }),
            e2e_contacts: if quick { 20_000 } else { 100_000 },
            instances_contacts: if quick { 5_000 } else { 20_000 },
            rss_idle: Duration::from_secs(if quick { 5 } else { 10 }),
        })
    }

    /// `instances` runs by default only when a PostgreSQL server is given.
    fn runs(&self, measurement: &str) -> bool {
        match self.only.as_deref() {
            Some(only) => only == measurement,
            None => measurement != "instances" || self.pg.is_some(),
        }
    }
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let plan = Plan::from_args(std::env::args().skip(1))?;
    // The default worker count is the number of cores (2 on the reference box).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(&plan))
}

async fn run(plan: &Plan) -> anyhow::Result<()> {
    let mut report = Report::new(if plan.quick { "quick" } else { "full" }, plan.runs("instances"));
    let mut largest = None;
    if plan.runs("import") || plan.runs("backlog") || plan.runs("rss") {
        for &rows in &plan.import_rows {
            let imported = import::measure(rows, &mut report).await?;
            if plan.runs("backlog") {
                backlog::measure(&imported, &mut report).await?;
            }
            largest = Some(imported);
        }
    }
    if plan.runs("dispatch") {
        dispatch::measure(plan.dispatch_contacts, plan.pg.as_deref(), &mut report).await?;
        if let Some(pg) = plan.pg.as_deref() {
            process::measure_pg(pg, plan.dispatch_contacts, &mut report).await?;
        }
    }
    if plan.runs("policy") {
        policy::measure(if plan.quick { 20_000 } else { 100_000 }, &mut report)?;
    }
    if plan.runs("ingest") {
        for synchronous in [support::config::Synchronous::Full, support::config::Synchronous::Normal] {
            ingest::measure(plan.ingest_seconds, synchronous, &mut report).await?;
        }
    }
    if plan.runs("flood") {
        ingest_flood::measure(plan.callbacks / 5, &mut report).await?;
    }
    if let Some(db) = largest.as_ref().filter(|_| plan.runs("rss")) {
        rss::measure(db, plan.rss_idle, &mut report).await?;
    }
    if plan.runs("e2e") {
        e2e::measure(plan.e2e_contacts, &mut report).await?;
    }
    if let Some(pg) = plan.pg.as_deref().filter(|_| plan.runs("instances")) {
        let sizes = instances::Sizes { contacts: plan.instances_contacts, callbacks: plan.callbacks };
        instances::measure(pg, &sizes, &mut report).await?;
    }
    report.finish(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-out/latest.md"))
}

/// Warnings and errors of the daemon code go to stderr, so a failing run says why.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMPAIGND_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
