//! Hints to SQLite's query planner, where its guess without statistics
//! reads far more rows than the query needs.
//!
//! WHY: the daemon runs no ANALYZE, and without statistics SQLite takes an
//! equality on `attempts.state` for a selective term: it walks
//! `ix_attempts_state_lease` over every attempt in that state (every call
//! in flight, every batch being dispatched) and checks each against the
//! numbers or refs asked for. Wrapped in `likelihood(…, 0.9)` the state test
//! reads as nearly always true, and SQLite seeks the rows by the selective
//! term instead (a number, a case, an attempt ref). PostgreSQL plans from
//! its statistics, which the daemon keeps current through bursts
//! (`crate::planner_stats`), and gets the plain condition.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, DbBackend};

/// `attempts.state IN (states)`, marked on SQLite as true for most rows.
pub fn attempt_state_in(backend: DbBackend, states: &[&str]) -> SimpleExpr {
    match backend {
        DbBackend::Sqlite => {
            let marks = vec!["?"; states.len()].join(", ");
            let values: Vec<String> = states.iter().map(|s| s.to_string()).collect();
            Expr::cust_with_values(format!("likelihood(\"state\" IN ({marks}), 0.9)"), values)
        }
        _ => entity::attempt::Column::State.is_in(states.iter().copied()),
    }
}

#[cfg(test)]
#[path = "plan_hints_tests.rs"]
mod tests;
