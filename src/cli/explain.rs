//! `campaignd explain --campaign NAME --phone NUMBER`: a contact's decision
//! trail, attempts and recent dials, as text for people or JSON.

use super::setup::{load, open};
use crate::clock::{Clock, SystemClock};
use crate::domain::window::parse_tz;
use crate::store::explain::{Explanation, explain};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::ValueEnum;
use std::fmt::Write as _;
use std::io::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

pub async fn execute(cli: &super::Cli, campaign: &str, phone: &str, format: ExplainFormat) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let conn = open(&settings).await?;
    let e = explain(&conn, campaign, phone, SystemClock.now()).await?;
    let mut out = super::out::stdout();
    match format {
        ExplainFormat::Text => out.write_all(render_text(&e).as_bytes())?,
        ExplainFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?,
    }
    Ok(())
}

/// `2026-06-01 09:00:00 WIB (02:00:00Z)`: the callee's wall clock first,
/// since windows are judged there; UTC beside it to match logs.
fn when(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    let utc = if local.date_naive() == t.date_naive() { t.format("%H:%M:%SZ") } else { t.format("%m-%d %H:%M:%SZ") };
    format!("{} ({utc})", local.format("%Y-%m-%d %H:%M:%S %Z"))
}

fn or_dash(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("-")
}

/// The human-readable trail: header, suppression, one line per decision,
/// attempts, recent dials.
pub fn render_text(e: &Explanation) -> String {
    let tz = parse_tz(&e.local_timezone).unwrap_or(Tz::UTC);
    let c = &e.contact;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "campaign {} ({}), contact {} case {}",
        e.campaign.name,
        e.campaign.state,
        c.phone,
        or_dash(c.case_id.as_deref())
    );
    let due = c.due_at.map_or_else(|| "-".to_string(), |t| when(t, tz));
    let _ = writeln!(out, "  state {}, {} attempt(s), due {due}", c.state, c.attempt_seq);
    let _ = writeln!(
        out,
        "  timezone {}, zones {} (from {}); times below in {} (and UTC)",
        or_dash(c.timezone.as_deref()),
        c.zones.as_deref().unwrap_or("campaign zone"),
        or_dash(c.zone_source.as_deref()),
        e.local_timezone
    );
    let _ = writeln!(
        out,
        "  last result {} / {} (raw {}); finished: {}",
        or_dash(c.last_disposition.as_deref()),
        or_dash(c.last_intent.as_deref()),
        or_dash(c.last_raw_code.as_deref()),
        or_dash(c.finished_reason.as_deref())
    );
    match &e.suppression {
        None => out.push_str("suppression: not listed\n"),
        Some(s) => {
            let until = s.expires_at.map_or_else(|| "never expires".to_string(), |t| format!("until {}", when(t, tz)));
            let _ = writeln!(
                out,
                "suppression: {} — {} (source {}), since {}, {until}",
                if s.active { "ACTIVE" } else { "expired" },
                s.reason,
                s.source,
                when(s.created_at, tz)
            );
        }
    }

    out.push_str("\ndecisions:\n");
    if e.decisions_truncated {
        out.push_str("  (older decisions left out)\n");
    }
    if e.decisions.is_empty() {
        out.push_str("  none recorded\n");
    }
    for d in &e.decisions {
        let attempt = d.attempt_no.map_or_else(|| "  ".to_string(), |n| format!("#{n}"));
        let scope = match (d.scope, d.zones.as_deref()) {
            ("group", Some("")) => " [campaign-zone group]".to_string(),
            ("group", Some(z)) => format!(" [group {z}]"),
            _ => String::new(),
        };
        let next = d.next_at.map_or_else(String::new, |t| format!(" → next {}", when(t, tz)));
        let _ = writeln!(out, "  {}  {:<10} {attempt} {}{scope}{next}", when(d.at, tz), d.kind, d.reason);
    }

    out.push_str("\nattempts:\n");
    if e.attempts.is_empty() {
        out.push_str("  none\n");
    }
    for a in &e.attempts {
        let _ = writeln!(
            out,
            "  #{} {} {}: {} / {} (raw {}){}",
            a.attempt_no,
            a.vendor_id,
            a.state,
            or_dash(a.disposition.as_deref()),
            or_dash(a.intent.as_deref()),
            or_dash(a.raw_code.as_deref()),
            a.error.as_deref().map_or_else(String::new, |err| format!(", error: {err}"))
        );
        let _ = writeln!(
            out,
            "      claimed {}, dispatched {}, completed {}",
            when(a.created_at, tz),
            a.dispatched_at.map_or_else(|| "-".to_string(), |t| when(t, tz)),
            a.completed_at.map_or_else(|| "-".to_string(), |t| when(t, tz))
        );
        call_details(&mut out, a);
    }

    let _ = writeln!(out, "\ndials of this number since {} (all campaigns):", when(e.dials_since, tz));
    if e.recent_dials.is_empty() {
        out.push_str("  none\n");
    }
    for d in &e.recent_dials {
        let _ = writeln!(
            out,
            "  {}  {} via {}: {} / {}{}",
            when(d.dialed_at, tz),
            d.campaign,
            d.vendor_id,
            d.disposition,
            or_dash(d.intent.as_deref()),
            if d.vendor_redial { " (vendor redial)" } else { "" }
        );
    }
    if !e.rejected_records.is_empty() {
        out.push_str(
            "
vendor callback records about this number that could not be read (kept for audit):
",
        );
    }
    for r in &e.rejected_records {
        let _ = writeln!(
            out,
            "  {}  {} {} record {}: {}\n      {}",
            when(r.received_at, tz),
            r.vendor_id,
            r.inbox_id.map_or_else(|| "poll".to_string(), |id| format!("inbox #{id}")),
            r.record_index,
            r.reason,
            r.raw.chars().take(200).collect::<String>()
        );
    }
    out
}

/// An attempt's call details, one line each, when the vendor gave them.
fn call_details(out: &mut String, a: &crate::store::explain::AttemptInfo) {
    let mut figures = Vec::new();
    if let Some(ms) = a.ring_ms {
        figures.push(format!("rang {:.1}s", ms as f64 / 1000.0));
    }
    if let (Some(end), Some(received)) = (a.vendor_ended_at, a.received_at) {
        let lag = crate::domain::callback_lag::callback_lag(Some(end), received);
        figures.extend(lag.map(|l| format!("result {:.1}s after the call's end", l.seconds)));
    }
    if let Some(cost) = &a.cost {
        figures.push(format!("cost {cost} {}", a.cost_currency.as_deref().unwrap_or("")).trim_end().to_string());
    }
    if !figures.is_empty() {
        let _ = writeln!(out, "      {}", figures.join(", "));
    }
    if let Some(url) = &a.recording_url {
        let _ = writeln!(out, "      recording: {url}");
    }
    if let Some(text) = &a.transcript {
        out.push_str("      transcript:\n");
        for line in text.lines() {
            let _ = writeln!(out, "        {line}");
        }
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
