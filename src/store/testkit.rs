//! What store-level unit tests start from: a migrated in-memory SQLite
//! database holding one config-declared campaign, or the settings of a
//! SQLite file; and reading one number back.

use super::{Db, campaigns, db};
use crate::config::{DatabaseSettings, Settings};
use crate::domain::campaign::Campaign;
use chrono::Utc;
use entity::campaign;
use std::path::Path;
use std::time::Duration;

/// A fresh migrated in-memory database.
pub async fn memory_db() -> Db {
    let settings = DatabaseSettings {
        // One connection: every connection to `:memory:` is a database of its own.
        max_connections: 1,
        sqlite_synchronous_full: false,
        busy_timeout: Duration::from_secs(5),
        ..DatabaseSettings::with_url("sqlite::memory:")
    };
    let conn = db::connect(&settings).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    conn
}

/// Campaign `name` as an admin declares it (`fields` are its TOML lines;
/// it routes to a sim vendor), synced the way the daemon does.
pub async fn declared_campaign(conn: &Db, name: &str, fields: &str) -> (Settings, campaign::Model) {
    let config = format!(
        "[[vendors]]\nid = \"sim\"\nkind = \"sim\"\nbase_url = \"http://127.0.0.1:9\"\napi_key = \"k\"\n\
         callback_secret = \"s\"\n[[campaigns]]\nname = \"{name}\"\nvendors = [\"sim\"]\n{fields}\n"
    );
    let settings =
        crate::config::parse(&config, Path::new("test.toml"), Path::new("."), &crate::vendors::Kinds).expect("config");
    campaigns::sync_from_config(conn, &settings.campaigns, Utc::now()).await.expect("sync");
    let row = campaigns::find_by_name(conn, name).await.expect("campaign");
    (settings, row)
}

/// A running campaign `c` (always-open window in Asia/Jakarta, routed to
/// the sim vendor) with `phones` imported as its contacts.
pub async fn running_campaign(conn: &Db, phones: &[&str]) -> (Settings, campaign::Model, Campaign) {
    let fields = "timezone = \"Asia/Jakarta\"\nwindows = \"daily 00:00-24:00\"\ndefault_country_code = \"62\"";
    let (settings, row) = declared_campaign(conn, "c", fields).await;
    let csv = format!("phone\n{}\n", phones.join("\n"));
    crate::import::import_csv(conn, &row, csv.as_bytes(), None, Utc::now()).await.expect("import");
    let mut camp = campaigns::parse(&row, &settings.compliance).expect("parse");
    camp.state = crate::domain::state::CampaignState::Running;
    (settings, row, camp)
}

/// The settings of a SQLite file at `file`, made if missing.
pub fn sqlite_file(file: &Path) -> DatabaseSettings {
    DatabaseSettings::with_url(format!("sqlite://{}?mode=rwc", file.display()))
}

/// Whether SQLite keeps a statement journal for `sql` (with `?`
/// parameters) when it writes several rows: whether its program holds a
/// constraint check that aborts the statement (`Halt` or `HaltIfNull` with
/// P2 = 2, SQLite's `OE_Abort`), what makes SQLite open one
/// (`raw_sql::update` says why we avoid it).
pub async fn journals_statement(db: &Db, sql: &str) -> bool {
    let params = vec![sea_orm::Value::String(None); sql.matches('?').count()];
    let explain = sea_orm::Statement::from_sql_and_values(db.get_database_backend(), format!("EXPLAIN {sql}"), params);
    let program = sea_orm::ConnectionTrait::query_all_raw(db, explain).await.expect("EXPLAIN");
    program.iter().any(|op| {
        let opcode: String = op.try_get("", "opcode").unwrap();
        let (p1, p2): (i64, i64) = (op.try_get("", "p1").unwrap(), op.try_get("", "p2").unwrap());
        (opcode == "Halt" || opcode == "HaltIfNull") && p1 != 0 && p2 == 2
    })
}

/// The one integer `sql` returns.
pub async fn scalar<C: sea_orm::ConnectionTrait>(db: &C, sql: &str) -> i64 {
    let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap();
    row.expect("one row").try_get_by_index::<i64>(0).unwrap()
}
