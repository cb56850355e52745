//! How SQLite's one writer was shared during a measurement, from the
//! daemon's `campaignd_sqlite_write_turn_seconds` (label `writer`): each
//! writer's share of the time, and the inbox writer's rows per commit. On a
//! stage bound by the writer, this says who it was bound by.

use super::daemon::Metrics;
use super::report::{dec, int};

/// The `writer` labels, and the words the report uses for them.
const WRITERS: [(&str, &str); 6] = [
    ("inbox", "callbacks"),
    ("processing", "processing"),
    ("claim", "claims"),
    ("dispatch", "dispatch"),
    ("reconcile", "reconcile"),
    ("other", "other"),
];

pub struct WriterShare {
    /// Each writer's share of the time, and its turns, in `WRITERS`' order.
    held: Vec<(f64, f64)>,
    rows_per_batch: f64,
}

impl WriterShare {
    /// Between two scrapes `seconds` apart (`before`: an empty [`Metrics`]
    /// for "since the daemon started").
    pub fn between(before: &Metrics, after: &Metrics, seconds: f64) -> WriterShare {
        let delta = |name: &str, label: &str| after.sum(name, label) - before.sum(name, label);
        let held = WRITERS
            .iter()
            .map(|(writer, _)| {
                let label = format!("writer=\"{writer}\"");
                (
                    delta("campaignd_sqlite_write_turn_seconds_sum", &label) / seconds.max(1e-9),
                    delta("campaignd_sqlite_write_turn_seconds_count", &label),
                )
            })
            .collect();
        let batches = delta("campaignd_inbox_batch_rows_count", "");
        WriterShare { held, rows_per_batch: delta("campaignd_inbox_batch_rows_sum", "") / batches.max(1.0) }
    }
}

impl std::fmt::Display for WriterShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |share: f64| format!("{:.0} %", share * 100.0);
        let total: f64 = self.held.iter().map(|(share, _)| share).sum();
        write!(f, "SQLite writer held {}:", pct(total))?;
        let mut first = true;
        for ((_, words), (share, turns)) in WRITERS.iter().zip(&self.held) {
            if *turns == 0.0 {
                continue;
            }
            let sep = if first { " " } else { ", " };
            first = false;
            write!(f, "{sep}{words} {} in {} turns", pct(*share), int(*turns))?;
            if *words == "callbacks" {
                write!(f, " ({} rows a commit)", dec(self.rows_per_batch))?;
            }
        }
        Ok(())
    }
}
