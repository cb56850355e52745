//! `campaignd forwarding list|replay`: the forwarding outbox from the
//! command line — what is waiting, what was dead-lettered, and sending a
//! dead (or delivered) event again with its same `webhook-id`.

use super::setup::{load, open};
use crate::clock::{Clock, SystemClock};
use crate::store::forward_outbox::{self, Listed};
use clap::Subcommand;
use entity::forward_outbox::Model;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum ForwardingCommand {
    /// Events not delivered yet (or, with `--dead`, those given up after `max_age`), oldest first.
    List {
        /// Dead-lettered events instead of pending ones.
        #[arg(long)]
        dead: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Deliver an event again from now, with the same id (its dead-letter age restarts).
    Replay {
        /// The event's id (`evt_…`, the `webhook-id` the receiver saw).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        event_id: Option<String>,
        /// Every dead-lettered event.
        #[arg(long)]
        all_dead: bool,
    },
}

pub async fn execute(cli: &super::Cli, command: &ForwardingCommand) -> anyhow::Result<()> {
    let s = load(cli)?;
    let conn = open(&s).await?;
    let mut out = super::out::stdout();
    match command {
        ForwardingCommand::List { dead, limit } => {
            let state = if *dead { Listed::Dead } else { Listed::Pending };
            let rows = forward_outbox::list(&conn, state, 0, *limit).await?;
            for r in &rows {
                writeln!(out, "{}", line(r))?;
            }
            eprintln!("{} {} event(s)", rows.len(), if *dead { "dead" } else { "pending" });
        }
        ForwardingCommand::Replay { event_id: Some(id), .. } => {
            match forward_outbox::replay(&conn, id, SystemClock.now()).await? {
                Some(r) => writeln!(out, "{}: due again now ({})", r.event_id, r.event_type)?,
                None => anyhow::bail!("no forwarded event `{id}` (see `campaignd forwarding list --dead`)"),
            }
        }
        ForwardingCommand::Replay { event_id: None, .. } => {
            let n = forward_outbox::replay_all_dead(&conn, SystemClock.now()).await?;
            writeln!(out, "{n} dead event(s) due again now")?;
        }
    }
    Ok(())
}

/// `evt_… contact.final campaign #1 attempts 3 last 500 (the receiver answered 500) since …`.
fn line(r: &Model) -> String {
    let last = match (&r.last_status, &r.last_error) {
        (_, Some(e)) => format!("last error: {e}"),
        (Some(s), None) => format!("last status {s}"),
        (None, None) => "not tried yet".to_string(),
    };
    let when = match r.dead_at {
        Some(d) => format!("dead since {d}"),
        None => format!("next try {}", r.next_attempt_at),
    };
    format!(
        "{}\t{}\tcampaign #{}\tcontact #{}\tcreated {}\tattempts {}\t{last}\t{when}",
        r.event_id,
        r.event_type,
        r.campaign_id,
        r.contact_id.unwrap_or_default(),
        r.created_at,
        r.attempts
    )
}
