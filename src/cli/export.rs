//! `campaignd export`: one row per contact with its latest result (and its
//! latest call's recording, transcript and cost), paged so a
//! million-contact campaign never sits in memory at once.

use super::Format;
use crate::domain::call_cost::format_amount;
use crate::store::Db;
use crate::store::attempt_details::{self, ContactCallDetails};
use crate::store::contacts;
use entity::campaign;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct Row<'a> {
    phone: &'a str,
    case_id: Option<&'a str>,
    state: &'a str,
    attempts: i32,
    last_disposition: Option<&'a str>,
    last_intent: Option<&'a str>,
    last_raw_code: Option<&'a str>,
    finished_reason: Option<&'a str>,
    updated_at: String,
    /// Of the latest attempt with a result: where its recording is, its
    /// transcript, and what it cost (a decimal in `cost_currency`).
    recording_url: Option<&'a str>,
    transcript: Option<&'a str>,
    cost: Option<String>,
    /// Every attempt's cost summed (when they share one currency).
    cost_total: Option<String>,
    cost_currency: Option<&'a str>,
}

pub async fn export<W: Write>(db: &Db, camp: &campaign::Model, format: Format, mut out: W) -> anyhow::Result<u64> {
    let mut csv = (format == Format::Csv).then(|| csv::WriterBuilder::new().from_writer(Vec::with_capacity(1 << 16)));
    if format == Format::Json {
        out.write_all(b"[")?;
    }
    let mut after = 0;
    let mut n = 0u64;
    loop {
        let page = contacts::page(db, camp.id, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|c| c.id).collect();
        let details = attempt_details::for_contacts(db, &ids).await?;
        let none = ContactCallDetails::default();
        for c in &page {
            let d = details.get(&c.id).unwrap_or(&none);
            let row = Row {
                phone: &c.phone,
                case_id: c.case_id.as_deref(),
                state: &c.state,
                attempts: c.attempt_seq,
                last_disposition: c.last_disposition.as_deref(),
                last_intent: c.last_intent.as_deref(),
                last_raw_code: c.last_raw_code.as_deref(),
                finished_reason: c.finished_reason.as_deref(),
                updated_at: c.updated_at.to_rfc3339(),
                recording_url: d.recording_url.as_deref(),
                transcript: d.transcript.as_deref(),
                cost: d.cost_micros.map(format_amount),
                cost_total: d.total_cost_micros.map(format_amount),
                cost_currency: d.cost_currency.as_deref(),
            };
            match &mut csv {
                Some(w) => w.serialize(&row)?,
                None => {
                    if n > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(b"\n")?;
                    serde_json::to_writer(&mut out, &row)?;
                }
            }
            n += 1;
        }
        if let Some(w) = csv.take() {
            // Hand each page's CSV to the output so memory stays one page.
            let mut buf = w.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
            out.write_all(&buf)?;
            buf.clear();
            csv = Some(csv::WriterBuilder::new().has_headers(n == 0).from_writer(buf));
        }
    }
    if format == Format::Json {
        out.write_all(b"\n]\n")?;
    }
    out.flush()?;
    Ok(n)
}
