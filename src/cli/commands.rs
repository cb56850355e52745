use super::setup::{load, open};
use super::{Cli, Command, out};
use crate::app::{App, Reloads};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::state::CampaignEvent;
use crate::store::report;
use crate::store::{campaigns, contacts, db, leases};
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Run one CLI command; the returned error is printed by `main`.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::CheckConfig => {
            let s = load(&cli)?;
            writeln!(
                out::stdout(),
                "{}: ok ({} vendor(s), {} campaign(s))",
                cli.config.display(),
                s.vendors.len(),
                s.campaigns.len()
            )?;
            Ok(())
        }
        Command::Migrate => {
            let s = load(&cli)?;
            let conn = db::connect(&s.database).await?;
            db::migrate(&conn).await?;
            writeln!(out::stdout(), "migrations applied")?;
            Ok(())
        }
        Command::Run => run(&cli.config, load(&cli)?).await,
        Command::Import { campaign, file } => super::import::execute(&cli, campaign, file).await,
        Command::Status { name, json } => {
            let s = load(&cli)?;
            let conn = open(&s).await?;
            let all = report::statuses(&conn, name.as_deref()).await?;
            let mut out = out::stdout();
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
            } else {
                for st in all {
                    writeln!(out, "{st}")?;
                }
                match leases::holder(&conn, leases::LEADER, SystemClock.now()).await? {
                    Some(l) => writeln!(
                        out,
                        "sweeps led by {} (since {}, lease until {})",
                        l.owner, l.acquired_at, l.expires_at
                    )?,
                    None => writeln!(out, "sweeps: no leader (no instance running, or its lease ran out)")?,
                }
            }
            Ok(())
        }
        Command::Pause { name } => state_change(&cli, name, CampaignEvent::Pause).await,
        Command::Resume { name } => state_change(&cli, name, CampaignEvent::Resume).await,
        Command::Cancel { name } => state_change(&cli, name, CampaignEvent::Cancel).await,
        Command::Export { campaign, format, output } => {
            let s = load(&cli)?;
            let conn = open(&s).await?;
            let row = campaigns::find_by_name(&conn, campaign).await?;
            let out: Box<dyn std::io::Write> = match output {
                Some(p) => {
                    Box::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
                }
                None => Box::new(out::stdout()),
            };
            let n = super::export::export(&conn, &row, *format, std::io::BufWriter::new(out)).await?;
            eprintln!("exported {n} contacts");
            Ok(())
        }
        Command::Suppress { command } => super::suppress::execute(&cli, command).await,
        Command::Refresh { command } => super::refresh::execute(&cli, command).await,
        Command::Forwarding { command } => super::forwarding::execute(&cli, command).await,
        Command::Explain { campaign, phone, format } => super::explain::execute(&cli, campaign, phone, *format).await,
    }
}

async fn state_change(cli: &Cli, name: &str, event: CampaignEvent) -> anyhow::Result<()> {
    let s = load(cli)?;
    let conn = open(&s).await?;
    let now = SystemClock.now();
    let (from, to) = campaigns::transition(&conn, name, event, now).await?;
    if event == CampaignEvent::Cancel {
        let row = campaigns::find_by_name(&conn, name).await?;
        let n = contacts::stop_open(&conn, row.id, "campaign cancelled", now).await?;
        writeln!(out::stdout(), "{name}: {from} -> {to} ({n} contacts stopped)")?;
    } else {
        writeln!(out::stdout(), "{name}: {from} -> {to}")?;
    }
    Ok(())
}

async fn run(config: &Path, settings: Settings) -> anyhow::Result<()> {
    // Signal handlers first: SIGHUP's default action kills the process, and
    // a reload requested while starting up must not.
    let shutdown = CancellationToken::new();
    let (reload_tx, reload_rx) = mpsc::channel(1);
    let signals = Signals::install()?;
    tokio::spawn(signals.forward(shutdown.clone(), reload_tx));
    let app = App::build(settings, Arc::new(SystemClock)).await?;
    // Tests and operators read this line to learn the bound port. A daemon
    // keeps running when nobody reads its stdout.
    if writeln!(out::stdout(), "campaignd listening on http://{}", app.addr()).is_err() {
        tracing::warn!("standard output is closed; the address is in the next log line");
    }
    app.run(shutdown, Some(Reloads { config: config.to_path_buf(), requests: reload_rx })).await
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        let install = |kind, name| signal(kind).with_context(|| format!("installing the {name} handler"));
        Ok(Signals {
            term: install(SignalKind::terminate(), "SIGTERM")?,
            int: install(SignalKind::interrupt(), "SIGINT")?,
            hup: install(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// SIGTERM or SIGINT: shut down. SIGHUP: ask for a reload; several
    /// arriving during one reload make one more, not one each.
    async fn forward(mut self, shutdown: CancellationToken, reload: mpsc::Sender<()>) {
        loop {
            tokio::select! {
                _ = self.term.recv() => tracing::info!("SIGTERM received"),
                _ = self.int.recv() => tracing::info!("SIGINT received"),
                _ = self.hup.recv() => {
                    let _ = reload.try_send(());
                    continue;
                }
            }
            shutdown.cancel();
            return;
        }
    }
}
