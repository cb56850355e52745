//! Reading a task's paged `/detail`: every row read leniently, and whether
//! the listing was read to its proven end (see [`Pager`]). Lookups and
//! cancels conclude from absence only when it was.

use super::adapter::AirudderAdapter;
use super::paging::Pager;
use super::record;
use super::wire::DetailRequest;
use crate::vendors::common::{code_text, e164, excerpt};
use crate::vendors::{AttemptHandle, CallEvent, VendorError, VendorErrorKind};
use serde_json::{Value, json};

/// A task's `/detail` listing as far as it was read.
#[derive(Debug, Default)]
pub struct Listing {
    pub events: Vec<CallEvent>,
    /// Rows that could not be read, with why.
    pub bad: Vec<(Value, String)>,
    /// Why the listing may lack rows (see [`Pager`]); None when read to its end.
    pub incomplete: Option<String>,
}

impl AirudderAdapter {
    /// A task's `/detail` rows, page by page, until the listing is proven
    /// complete (see [`Pager`]) or `stop_at` matches a row read.
    pub async fn listing(&self, task_id: &str, stop_at: impl Fn(&CallEvent) -> bool) -> Result<Listing, VendorError> {
        let mut pager = Pager::new(self.opts.detail_page_size, self.opts.detail_max_pages);
        let mut listing = Listing::default();
        while let Some(page) = pager.next_page() {
            let body = DetailRequest { task_id: task_id.to_string(), page, page_size: self.opts.detail_page_size };
            let (answer, reply) = self.call("task detail", "detail", &json!(body), true).await?;
            if !reply.ok(&answer) {
                return Err(self.failure("task detail", &answer, &reply));
            }
            let unreadable = |why: String| {
                self.err(
                    VendorErrorKind::RetryLater,
                    format!("task detail: unreadable page {page} ({why}): {}", excerpt(&answer.body)),
                )
            };
            let data = reply.data.as_object().ok_or_else(|| unreadable("data is not an object".into()))?;
            let total = record::int(data, "total", "total").map_err(unreadable)?.map(|t| t.max(0) as u64);
            let rows = match data.get("details") {
                Some(Value::Array(rows)) => rows.as_slice(),
                Some(Value::Null) | None => &[],
                Some(_) => return Err(unreadable("details is not an array".into())),
            };
            pager.took(rows.len(), total);
            for row in rows {
                match self.reader.event(Some(task_id), row) {
                    Ok(ev) => {
                        if stop_at(&ev) {
                            pager.stop();
                        }
                        listing.events.push(ev);
                    }
                    Err(why) => listing.bad.push((row.clone(), why)),
                }
            }
        }
        listing.incomplete = pager.incomplete().map(str::to_string);
        Ok(listing)
    }

    /// Whether an unreadable `/detail` row may be `attempt`'s: unless what
    /// can still be read of it (our reference, else the callee) names
    /// another call.
    pub(super) fn could_be(&self, row: &Value, attempt: &AttemptHandle, phone: &str) -> bool {
        let reference = row
            .get("Variables")
            .and_then(|v| v.get(&self.opts.reference_variable))
            .and_then(code_text)
            .filter(|r| !r.is_empty());
        match reference {
            Some(r) => r == attempt.attempt_ref,
            None => row.get("callee").and_then(code_text).is_none_or(|c| e164(&c) == phone),
        }
    }

    /// The events of a task's detail (final and pending), as far as read.
    pub async fn poll_details(&self, task_id: &str) -> Result<Vec<CallEvent>, VendorError> {
        Ok(self.listing(task_id, |_| false).await?.events)
    }
}
