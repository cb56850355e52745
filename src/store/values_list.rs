//! A batch's rows as bound `VALUES` lists (a table written into a
//! [`Sql`] statement), for the multi-row writes sea-query
//! cannot express (`UPDATE … FROM (VALUES …)`, the same text on SQLite ≥ 3.33
//! and PostgreSQL).
//!
//! WHY fixed sizes: each distinct SQL text is prepared once per connection
//! and then reused from sqlx's statement cache. A list is padded up to one of
//! a few sizes with rows of NULLs, which join nothing (`= NULL` is never
//! true), so a batch of any size costs a handful of statement texts, not one
//! per size.
//!
//! WHY plain `?` on SQLite, in text order: sqlx asks SQLite for each
//! parameter's name while binding, and for numbered ones (`?7`, `$7`) SQLite
//! finds the name by a linear scan, so binding n numbered parameters costs
//! n²/2 steps — more than the statement itself at a few thousand.

use super::raw_sql::Sql;
use sea_orm::Value;

/// Row counts a list is padded up to; the last is the most rows one
/// statement carries (a batch beyond it takes several).
const SIZES: [usize; 4] = [1, 8, 64, 512];

/// `rows` (each one value per column, of the same types row to row) in
/// chunks of at most the largest size, each padded with typed NULL rows up
/// to a size of [`SIZES`].
pub(crate) fn chunks(rows: Vec<Vec<Value>>) -> Vec<Vec<Vec<Value>>> {
    let Some(nulls) = rows.first().map(|row| row.iter().map(Value::as_null).collect::<Vec<_>>()) else {
        return Vec::new();
    };
    let largest = SIZES[SIZES.len() - 1];
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut chunk: Vec<Vec<Value>> = rows.by_ref().take(largest).collect();
        let size = SIZES.into_iter().find(|s| *s >= chunk.len()).unwrap_or(largest);
        chunk.resize(size, nulls.clone());
        out.push(chunk);
    }
    out
}

impl Sql {
    /// `(SELECT column1 AS a, column2 AS b FROM (VALUES (…), (…)) AS vals)`, the
    /// rows bound: `VALUES` names its columns `column1, column2, …` on both
    /// backends.
    pub fn values_table(&mut self, columns: &[&str], rows: Vec<Vec<Value>>) -> &mut Sql {
        let names: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("column{} AS {c}", i + 1)).collect();
        self.push(&format!("(SELECT {} FROM (VALUES ", names.join(", ")));
        for (r, row) in rows.into_iter().enumerate() {
            debug_assert_eq!(row.len(), columns.len(), "a VALUES row has one value per column");
            self.push(if r == 0 { "(" } else { ", (" });
            for (c, value) in row.into_iter().enumerate() {
                if c > 0 {
                    self.push(", ");
                }
                self.bind(value);
            }
            self.push(")");
        }
        self.push(") AS vals)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    fn row(id: i64, name: &str) -> Vec<Value> {
        vec![id.into(), name.into()]
    }

    #[test]
    fn rows_are_padded_with_typed_nulls_up_to_a_fixed_size() {
        let chunks = chunks(vec![row(1, "a"), row(2, "b")]);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].len(), 8);
        assert_eq!(chunks[0][..2], [row(1, "a"), row(2, "b")]);
        assert!(chunks[0][2..].iter().all(|r| *r == [Value::BigInt(None), Value::String(None)]));
    }

    #[test]
    fn a_large_batch_takes_full_chunks_then_one_padded_chunk() {
        let chunks = chunks((0..600).map(|i| row(i, "x")).collect());
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [512, 512]);
        assert_eq!(chunks[1][87], row(599, "x"));
        assert_eq!(chunks[1][88][0], Value::BigInt(None));
    }

    #[test]
    fn no_rows_no_statement() {
        assert!(chunks(Vec::new()).is_empty());
    }

    #[test]
    fn values_are_bound_in_text_order() {
        let sql = |backend| {
            let mut sql = Sql::new(backend);
            sql.push("UPDATE t SET a = ")
                .bind("x")
                .push(" FROM ")
                .values_table(&["id", "name"], vec![row(1, "a"), row(2, "b")])
                .push(" AS v WHERE t.id = v.id AND t.b = ")
                .bind(7i64);
            sql.build()
        };
        let pg = sql(DbBackend::Postgres);
        assert_eq!(
            pg.sql,
            "UPDATE t SET a = $1 FROM (SELECT column1 AS id, column2 AS name FROM (VALUES ($2, $3), ($4, $5)) AS vals) \
             AS v WHERE t.id = v.id AND t.b = $6"
        );
        let sqlite = sql(DbBackend::Sqlite);
        assert_eq!(sqlite.sql.matches('?').count(), 6);
        assert!(!sqlite.sql.contains('$'));
        let values = sqlite.values.expect("bound").0;
        assert_eq!(values, ["x".into(), 1i64.into(), "a".into(), 2i64.into(), "b".into(), 7i64.into()]);
    }
}
