//! When a table's planner statistics are stale enough to refresh
//! (PostgreSQL's `ANALYZE`).
//!
//! WHY the daemon decides this and does not leave it to autovacuum: the
//! daemon's tables change in bursts (an import of a million contacts, a
//! vendor's results for a whole task at once, a backlog dispatched), and
//! PostgreSQL plans each query from the row counts its last `ANALYZE` saw.
//! A table analyzed while its queue was empty is still planned as empty
//! when 50,000 rows are due: the inbox page sorted all of them on disk to
//! take 500 (50–80 ms a page), and the claim's in-flight check walked every
//! attempt in flight for each batch (1–2.4 s a claim). Autovacuum looks
//! once a minute at most (`autovacuum_naptime`), only past 10 % of a table
//! changed, and not at all where it is turned off; the daemon looks every
//! `database.analyze_every` with the same kind of threshold.

/// What the server counts for one table: its rows when it was last
/// analyzed, and the rows changed since.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableChanges {
    /// `pg_class.reltuples`: the rows the last `ANALYZE` (or `VACUUM`)
    /// counted; negative when neither ever ran.
    pub rows_at_last_analyze: f64,
    /// `pg_stat_user_tables.n_mod_since_analyze`: rows inserted, updated or
    /// deleted since the last `ANALYZE` (the server's count, up to about a
    /// second behind).
    pub changed_since: i64,
}

/// Changes below this never call for an `ANALYZE`: on a small table the
/// plans do not depend on its counts, and a burst's first rows would
/// otherwise set one off every check.
pub const MIN_CHANGES: i64 = 1_000;

/// Past this share of the rows the last `ANALYZE` counted, its statistics
/// are stale (autovacuum's default share, `autovacuum_analyze_scale_factor`).
pub const STALE_SHARE: f64 = 0.1;

/// Whether the table's statistics should be refreshed now: at least
/// [`MIN_CHANGES`] rows and [`STALE_SHARE`] of its rows at the last
/// `ANALYZE` changed since (every change counts on a table never analyzed).
pub fn stale(t: TableChanges) -> bool {
    let counted = t.rows_at_last_analyze.max(0.0);
    t.changed_since as f64 >= MIN_CHANGES as f64 + STALE_SHARE * counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(rows: f64, changed: i64) -> TableChanges {
        TableChanges { rows_at_last_analyze: rows, changed_since: changed }
    }

    #[test]
    fn a_table_never_analyzed_is_stale_once_a_thousand_rows_changed() {
        assert!(!stale(changes(-1.0, 999)));
        assert!(stale(changes(-1.0, 1_000)));
        assert!(stale(changes(0.0, 50_000)));
    }

    #[test]
    fn an_analyzed_table_is_stale_past_a_tenth_of_its_rows_beyond_the_minimum() {
        // 1,000 + 10 % of 1,000,000 = 101,000.
        assert!(!stale(changes(1_000_000.0, 100_999)));
        assert!(stale(changes(1_000_000.0, 101_000)));
        // A small table still waits for the minimum.
        assert!(!stale(changes(200.0, 990)));
        assert!(stale(changes(200.0, 1_020)));
    }

    #[test]
    fn nothing_changed_is_never_stale() {
        assert!(!stale(changes(-1.0, 0)));
        assert!(!stale(changes(10.0, 0)));
    }
}
