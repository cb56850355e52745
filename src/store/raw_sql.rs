//! Raw SQL with bound parameters, for the multi-row statements sea-query
//! cannot express (`WITH v(..) AS (VALUES ..) UPDATE t SET .. FROM v ..
//! RETURNING ..`), written once for both backends: SQLite (≥ 3.35 for
//! RETURNING) and PostgreSQL.
//!
//! Parameters are bound in the order they appear in the text (`$1, $2, …`
//! on PostgreSQL, `?` on SQLite), so every value is bound where it is used,
//! even twice.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryTrait, Statement, Value};

pub(crate) struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Sql {
        Sql { backend, text: String::with_capacity(1024), values: Vec::new() }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// [`insert_into`] for this statement's backend.
    pub fn insert_into(&mut self) -> &mut Sql {
        self.push(insert_into(self.backend))
    }

    /// [`update`] for this statement's backend.
    pub fn update(&mut self) -> &mut Sql {
        self.push(update(self.backend))
    }

    /// A parameter here: `$N` on PostgreSQL, `?` on SQLite (a named `$N`
    /// costs SQLite a scan of every parameter name per bound value: with a
    /// few thousand parameters that was a third of a page's time).
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// A parameter whose type PostgreSQL must be told (a `VALUES` list has
    /// no column to take it from); SQLite stores values as bound, so it gets
    /// the bare parameter (its CAST would convert the value by affinity).
    pub fn bind_as(&mut self, value: impl Into<Value>, pg_type: &str) -> &mut Sql {
        if self.backend != DbBackend::Postgres {
            return self.bind(value);
        }
        self.push("CAST(").bind(value).push(" AS ").push(pg_type).push(")")
    }

    /// `(a, b, …)`: one parameter per item, for `IN` lists.
    pub fn bind_list<V: Into<Value> + Clone>(&mut self, items: &[V]) -> &mut Sql {
        for (i, item) in items.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", " }).bind(item.clone());
        }
        self.push(")")
    }

    /// `(row 1), (row 2), …`, each row written by `row`.
    pub fn rows<T>(&mut self, items: &[T], mut row: impl FnMut(&mut Sql, &T)) -> &mut Sql {
        for (i, item) in items.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(self, item);
            self.push(")");
        }
        self
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `head` then `rows` rows of `per_row` positional parameters each, every
/// row closed by `row_tail` (constants all rows share): `(?, …, ?, tail)`.
/// `?` on SQLite, `$N` on PostgreSQL, for the reason [`Sql::bind`] gives.
/// For multi-row INSERTs whose text is built once per size and reused.
pub(crate) fn positional_rows(backend: DbBackend, head: &str, rows: usize, per_row: usize, row_tail: &str) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(head.len() + rows * (per_row * 4 + row_tail.len() + 3));
    sql.push_str(head);
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for _ in 0..per_row {
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    let _ = write!(sql, "${n},");
                }
                _ => sql.push_str("?,"),
            }
        }
        sql.push_str(row_tail);
        sql.push(')');
    }
    sql
}

/// How a multi-row `INSERT` begins: `INSERT INTO`, on SQLite `INSERT OR
/// FAIL INTO` ([`update`] says why).
pub(crate) fn insert_into(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Sqlite { "INSERT OR FAIL INTO" } else { "INSERT INTO" }
}

/// How a multi-row `UPDATE` begins: `UPDATE`, on SQLite `UPDATE OR FAIL`.
///
/// WHY: inside a transaction, SQLite gives a statement that writes several
/// rows and may abort halfway (a NOT NULL or UNIQUE check: every `INSERT`
/// and `UPDATE` of ours) a statement journal, so that the abort can undo
/// that statement alone and the transaction go on: before the statement
/// first changes a page, SQLite copies the page to a temporary file. Our
/// write transactions never go on past a failed statement (the error ends
/// the transaction, which rolls back whole), so the copies are never read.
/// Under `OR FAIL` a failing row stops the statement without undoing the
/// rows before it, and SQLite keeps no journal for it: the inbox's insert
/// wrote half the pages (`strace`: 11,515 `pwrite`s for 23,121), and the
/// same rows went in 1.3× faster (docs/benchmarks.md). Only for statements
/// whose error ends their transaction. PostgreSQL has neither the clause nor
/// the journal.
pub(crate) fn update(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Sqlite { "UPDATE OR FAIL" } else { "UPDATE" }
}

/// Insert `rows` in one SeaORM multi-row `INSERT` (with `on_conflict`, if
/// given) begun with [`insert_into`]'s verb, so SQLite keeps no statement
/// journal for it ([`update`] says why); the rows it wrote. No rows, no
/// statement. Only inside a transaction that ends at its error. (Not for an
/// upsert's `DO UPDATE`: its update keeps a check that aborts the statement,
/// and with it the journal, whatever the verb.)
pub(crate) async fn insert_many<C, A>(db: &C, rows: Vec<A>, on_conflict: Option<OnConflict>) -> Result<u64, DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait,
{
    if rows.is_empty() {
        return Ok(0);
    }
    // Built before the first await: the future holds only the statement.
    let statement = insert_statement(db.get_database_backend(), rows, on_conflict);
    Ok(db.execute_raw(statement).await?.rows_affected())
}

fn insert_statement<A: ActiveModelTrait>(
    backend: DbBackend,
    rows: Vec<A>,
    on_conflict: Option<OnConflict>,
) -> Statement {
    let mut insert = A::Entity::insert_many(rows);
    if let Some(on_conflict) = on_conflict {
        insert = insert.on_conflict(on_conflict);
    }
    with_insert_verb(insert.build(backend))
}

/// `statement`, an `INSERT INTO` as sea-query writes it, begun with
/// [`insert_into`]'s verb for its backend instead.
fn with_insert_verb(mut statement: Statement) -> Statement {
    const PLAIN: &str = "INSERT INTO";
    assert!(statement.sql.starts_with(PLAIN), "not an INSERT: {}", statement.sql);
    statement.sql.replace_range(..PLAIN.len(), insert_into(statement.db_backend));
    statement
}

/// Rows per multi-row statement.
pub(crate) const CHUNK: usize = 256;

/// `items` in chunks of at most [`CHUNK`], each padded to a power of two by
/// repeating its last item, so a page of any size is written with a handful
/// of statement shapes that the driver's prepared-statement cache keeps
/// (one shape per row count would evict each other). Only for statements a
/// repeated row does not change: reads, and updates that set a row to the
/// same values twice.
pub(crate) fn padded_chunks<T: Clone>(items: &[T]) -> impl Iterator<Item = Vec<T>> + '_ {
    items.chunks(CHUNK).map(|chunk| {
        let mut v = chunk.to_vec();
        let last = chunk[chunk.len() - 1].clone();
        v.resize(chunk.len().next_power_of_two(), last);
        v
    })
}

/// Row counts of the multi-row INSERTs that cannot pad (a repeated row
/// would be a second row), largest first.
pub(crate) const INSERT_SIZES: [usize; 4] = [64, 16, 4, 1];

/// `items` cut into runs of exactly the sizes in [`INSERT_SIZES`], largest
/// first, every item once and in order.
///
/// WHY: every row count is a new statement text, which sqlx prepares and
/// keeps in each connection's statement cache (100 statements). Inserts cut
/// at "up to 500 rows" prepared one statement per batch size; a statement of
/// a few hundred rows holds a VDBE program and registers of several hundred
/// KiB, and the caches of the pool's connections filled with them: the heap
/// profile of the end-to-end bench showed 55 MiB of SQLite prepared
/// statements at 20,000 contacts, still growing with every new size. Four
/// shapes per INSERT stay cached, stay small, and are prepared once.
pub(crate) fn insert_chunks<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut left = items.len();
    let mut items = items.into_iter();
    while left > 0 {
        let size = INSERT_SIZES.into_iter().find(|s| *s <= left).unwrap_or(1);
        out.push(items.by_ref().take(size).collect());
        left -= size;
    }
    out
}

/// `items` padded to a power of two by repeating the last item, in one
/// statement however many: for a read that must see all of a page at once.
pub(crate) fn padded<T: Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    if let Some(last) = items.last() {
        v.resize(items.len().next_power_of_two(), last.clone());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testkit::{journals_statement, memory_db};

    #[tokio::test]
    async fn multi_row_writes_keep_no_statement_journal_on_sqlite() {
        let db = memory_db().await;
        let insert =
            |verb: &str| format!("{verb} inbox_waits (inbox_id, wait_key, vendor_id) VALUES (?, ?, ?), (?, ?, ?)");
        let update = |verb: &str| {
            format!(
                "WITH v(id, state) AS (VALUES (?, ?), (?, ?)) {verb} callback_inbox SET state = v.state \
                 FROM v WHERE callback_inbox.id = v.id"
            )
        };
        // The check sees the journal where SQLite keeps one...
        assert!(journals_statement(&db, &insert("INSERT INTO")).await);
        assert!(journals_statement(&db, &update("UPDATE")).await);
        // ...and none under the verbs our multi-row writes begin with.
        assert!(!journals_statement(&db, &insert(insert_into(DbBackend::Sqlite))).await);
        assert!(!journals_statement(&db, &update(super::update(DbBackend::Sqlite))).await);
        assert_eq!(insert_into(DbBackend::Postgres), "INSERT INTO");
        assert_eq!(super::update(DbBackend::Postgres), "UPDATE");
    }

    #[tokio::test]
    async fn seaorm_inserts_keep_no_statement_journal_on_sqlite() {
        use entity::suppression;
        use sea_orm::Set;
        let db = memory_db().await;
        let row = |phone: &str| suppression::ActiveModel {
            phone: Set(phone.into()),
            reason: Set("opt_out".into()),
            source: Set("test".into()),
            created_at: Set(chrono::Utc::now()),
            expires_at: Set(None),
            ..Default::default()
        };
        for on_conflict in [None, Some(OnConflict::column(suppression::Column::Phone).do_nothing().to_owned())] {
            let mut insert = suppression::Entity::insert_many([row("+1555"), row("+1556")]);
            if let Some(on_conflict) = on_conflict {
                insert = insert.on_conflict(on_conflict);
            }
            let plain = insert.build(DbBackend::Sqlite);
            // As sea-query writes it, SQLite journals it...
            assert!(journals_statement(&db, &plain.sql).await, "{}", plain.sql);
            // ...and not once begun with our verb; PostgreSQL's is left as it was.
            let ours = with_insert_verb(plain);
            assert!(ours.sql.starts_with("INSERT OR FAIL INTO"), "{}", ours.sql);
            assert!(!journals_statement(&db, &ours.sql).await, "{}", ours.sql);
            assert!(with_insert_verb(insert.build(DbBackend::Postgres)).sql.starts_with("INSERT INTO"));
        }
        // The helper writes the rows, and none when given none.
        assert_eq!(insert_many(&db, vec![row("+1555"), row("+1556")], None).await.unwrap(), 2);
        assert_eq!(insert_many(&db, Vec::<suppression::ActiveModel>::new(), None).await.unwrap(), 0);
        assert_eq!(crate::store::testkit::scalar(&db, "SELECT COUNT(*) FROM suppressions").await, 2);
    }

    #[test]
    fn chunks_are_padded_to_a_power_of_two_with_the_last_item() {
        let chunks: Vec<Vec<u32>> = padded_chunks(&[1, 2, 3]).collect();
        assert_eq!(chunks, vec![vec![1, 2, 3, 3]]);
        let many: Vec<u32> = (0..300).collect();
        let sizes: Vec<usize> = padded_chunks(&many).map(|c| c.len()).collect();
        assert_eq!(sizes, vec![256, 64]);
        assert_eq!(padded_chunks::<u32>(&[]).count(), 0);
    }

    #[test]
    fn inserts_are_cut_into_a_few_fixed_sizes_keeping_every_row_in_order() {
        let items: Vec<u32> = (0..153).collect();
        let chunks = insert_chunks(items.clone());
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![64, 64, 16, 4, 4, 1]);
        assert_eq!(chunks.concat(), items);
        assert!(insert_chunks(Vec::<u32>::new()).is_empty());
    }

    #[test]
    fn positional_rows_number_every_value_on_postgres_only() {
        assert_eq!(positional_rows(DbBackend::Sqlite, "VALUES ", 2, 2, "0"), "VALUES (?,?,0),(?,?,0)");
        assert_eq!(positional_rows(DbBackend::Postgres, "VALUES ", 2, 2, "0"), "VALUES ($1,$2,0),($3,$4,0)");
    }

    #[test]
    fn parameters_are_bound_in_text_order_and_cast_on_postgres_only() {
        let mut pg = Sql::new(DbBackend::Postgres);
        pg.push("SELECT ").bind(1i64).push(", ").bind_as(2i64, "BIGINT");
        assert_eq!(pg.build().sql, "SELECT $1, CAST($2 AS BIGINT)");
        let mut lite = Sql::new(DbBackend::Sqlite);
        lite.push("VALUES ").rows(&[1i64, 2], |s, v| {
            s.bind_as(*v, "BIGINT");
        });
        assert_eq!(lite.build().sql, "VALUES (?), (?)");
    }
}
