//! The import's insert: contacts go in as fixed-shape multi-row `INSERT ...
//! ON CONFLICT DO NOTHING` statements written here as SQL, not built by
//! sea-query per batch.
//!
//! WHY raw SQL: building a 1,000-row insert through sea-query (an
//! `ActiveModel` per row, every value boxed, the statement text rendered
//! again for every batch) cost more than SQLite's own work for the rows.
//! Here the text of a full chunk is rendered once per process and is the
//! same for every chunk, so the driver's statement cache prepares it once
//! per connection; the constants every new contact starts with (state,
//! empty recall history, no attempt) are written into the text.
//!
//! Duplicates (a number already in the campaign, or earlier in the same
//! file) are skipped by the unique index `ux_contacts_campaign_phone`, and
//! counted from the rows the statement reports inserted.

use super::StoreError;
use super::contacts::NewContact;
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use std::sync::OnceLock;

/// Rows per statement: 10 bound values each stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters per statement.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// Values bound per row: campaign, due/created/updated (now, three times),
/// phone, case_id, timezone, zones, zone_source, variables.
const PER_ROW: usize = 10;

/// The statement for `rows` rows. Every row binds its own values, with
/// positional placeholders: `?` on SQLite, `$N` on PostgreSQL. WHY not
/// shared numbered values (`$1` in every row): SQLite keeps named and
/// numbered placeholders in a list that the driver searches once per bound
/// value, quadratic in the statement's size (74 % of an import's time at
/// 6,000 values); plain `?` are bound by position.
fn insert_sql(backend: DbBackend, rows: usize) -> String {
    // Due now (the scheduler defers each contact to its window at claim
    // time), no attempt yet, an empty recall history.
    let tail = format!("'{}','{{}}',0", ContactState::Pending.as_str());
    let head = "INSERT INTO contacts (campaign_id, due_at, created_at, updated_at, phone, case_id, timezone, zones, \
         zone_source, variables, state, recall_history, attempt_seq) VALUES ";
    let mut sql = super::raw_sql::positional_rows(backend, head, rows, PER_ROW, &tail);
    sql.push_str(" ON CONFLICT (campaign_id, phone) DO NOTHING");
    sql
}

/// The full-chunk statement of each backend, rendered once.
fn full_chunk_sql(backend: DbBackend) -> &'static str {
    static SQLITE: OnceLock<String> = OnceLock::new();
    static POSTGRES: OnceLock<String> = OnceLock::new();
    let cell = if backend == DbBackend::Postgres { &POSTGRES } else { &SQLITE };
    cell.get_or_init(|| insert_sql(backend, ROWS_PER_STATEMENT))
}

/// Insert `rows` into the campaign (the caller's transaction), at most
/// [`ROWS_PER_STATEMENT`] per statement; numbers the campaign already has are
/// skipped. Returns how many rows were inserted. Drains `rows`.
pub async fn insert_new<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    rows: &mut Vec<NewContact>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let backend = db.get_database_backend();
    let mut inserted = 0;
    while !rows.is_empty() {
        let n = rows.len().min(ROWS_PER_STATEMENT);
        let mut values: Vec<Value> = Vec::with_capacity(n * PER_ROW);
        for c in rows.drain(..n) {
            values.push(campaign_id.into());
            values.push(now.into());
            values.push(now.into());
            values.push(now.into());
            values.push(c.phone.into());
            values.push(c.case_id.into());
            values.push(c.timezone.into());
            values.push(c.zones.into());
            values.push(c.zone_source.into());
            values.push(Value::Json(Some(Box::new(c.variables))));
        }
        let sql = match n {
            ROWS_PER_STATEMENT => full_chunk_sql(backend).to_string(),
            _ => insert_sql(backend, n),
        };
        inserted += db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected();
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_binds_its_own_ten_values_by_position() {
        let pg = insert_sql(DbBackend::Postgres, 2);
        assert!(pg.contains("($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'pending','{}',0),($11,"), "{pg}");
        assert!(
            pg.ends_with(
                "($11,$12,$13,$14,$15,$16,$17,$18,$19,$20,'pending','{}',0) ON CONFLICT (campaign_id, phone) DO NOTHING"
            ),
            "{pg}"
        );
        let sqlite = insert_sql(DbBackend::Sqlite, 2);
        assert!(sqlite.contains("(?,?,?,?,?,?,?,?,?,?,'pending','{}',0),(?,"), "{sqlite}");
        assert!(!sqlite.contains('$'), "{sqlite}");
    }
}
