//! A batch's rows as one bound JSON text, read back as a table inside the
//! statement: `json_each` on SQLite, `json_array_elements` on PostgreSQL.
//!
//! WHY: a multi-row statement with one parameter per value has one text per
//! row count, so a batch is cut into a few fixed sizes — a claim of 1,000
//! attempts took ~20 INSERTs per table, each a round trip on PostgreSQL. One
//! JSON parameter carries any number of rows in one statement whose text
//! never changes: one prepared statement, one round trip, whatever the batch.
//!
//! Values go in as JSON numbers, strings and nulls, which both backends store
//! exactly as the bound values would be (SQLite: `json_extract` gives an
//! INTEGER or TEXT; PostgreSQL: `->>` then a cast to the column's type).
//! Instants go in as the text sqlx binds on SQLite ([`instant`]), so a
//! stored row compares with every other one (SQLite compares them as text).

use super::raw_sql::Sql;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::DbBackend;

/// A column of a JSON row: its name in the statement and its PostgreSQL type
/// (SQLite takes the JSON value as it is).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col(pub &'static str, pub &'static str);

/// The rows as one JSON text: an array of arrays, one value per column.
pub(crate) fn encode(rows: &[Vec<serde_json::Value>]) -> String {
    serde_json::Value::Array(rows.iter().map(|r| serde_json::Value::Array(r.clone())).collect()).to_string()
}

/// An instant as sqlx binds a `DateTime<Utc>` on SQLite (RFC 3339, as many
/// fraction digits as needed, `+00:00`), which PostgreSQL's `timestamptz`
/// reads too.
pub(crate) fn instant(t: DateTime<Utc>) -> serde_json::Value {
    serde_json::Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

impl Sql {
    /// `(SELECT <value 0> AS a, <value 1> AS b, … FROM <the rows of json>)`:
    /// the rows of [`encode`] as a table with the columns `cols`, bound as
    /// one parameter.
    pub fn json_table(&mut self, cols: &[Col], json: String) -> &mut Sql {
        let postgres = self.backend() == DbBackend::Postgres;
        self.push("(SELECT ");
        for (i, Col(name, pg_type)) in cols.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            let value = match postgres {
                true => format!("CAST(e->>{i} AS {pg_type}) AS {name}"),
                false => format!("json_extract(e.value, '$[{i}]') AS {name}"),
            };
            self.push(&value);
        }
        match postgres {
            true => self.push(" FROM json_array_elements(").bind_as(json, "json").push(") AS e)"),
            false => self.push(" FROM json_each(").bind(json).push(") AS e)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_read_back_as_a_table_with_one_parameter_on_either_backend() {
        let cols = [Col("id", "BIGINT"), Col("name", "TEXT")];
        let rows = encode(&[vec![json!(1), json!("a")], vec![json!(2), json!(null)]]);
        assert_eq!(rows, r#"[[1,"a"],[2,null]]"#);
        let mut pg = Sql::new(DbBackend::Postgres);
        pg.json_table(&cols, rows.clone());
        assert_eq!(
            pg.build().sql,
            "(SELECT CAST(e->>0 AS BIGINT) AS id, CAST(e->>1 AS TEXT) AS name \
             FROM json_array_elements(CAST($1 AS json)) AS e)"
        );
        let mut lite = Sql::new(DbBackend::Sqlite);
        lite.json_table(&cols, rows);
        assert_eq!(
            lite.build().sql,
            "(SELECT json_extract(e.value, '$[0]') AS id, json_extract(e.value, '$[1]') AS name FROM json_each(?) AS e)"
        );
    }

    #[test]
    fn an_instant_is_written_as_sqlx_binds_it_on_sqlite() {
        let t = DateTime::parse_from_rfc3339("2030-01-01T03:00:00.25Z").unwrap().with_timezone(&Utc);
        assert_eq!(instant(t), json!("2030-01-01T03:00:00.250+00:00"));
    }
}
