//! What every command starts from: the config, and the database opened
//! for a one-shot command.

use super::Cli;
use crate::clock::{Clock, SystemClock};
use crate::config::{self, Settings};
use crate::store::{Db, campaigns, db};
use anyhow::Context;

pub(super) fn load(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(config::load(&cli.config, &crate::vendors::Kinds)?)
}

/// Open the database for a one-shot command (no single-daemon lock: the CLI
/// may run next to a daemon) and make sure the schema and config campaigns exist.
pub(super) async fn open(settings: &Settings) -> anyhow::Result<Db> {
    let conn = db::connect(&settings.database).await.context("connecting to the database")?;
    db::migrate(&conn).await.context("running migrations")?;
    campaigns::sync_from_config(&conn, &settings.campaigns, SystemClock.now()).await?;
    Ok(conn)
}
