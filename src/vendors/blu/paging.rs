//! Paging through `queryCallResult` so that a lookup only ever concludes
//! "not found" from the whole task.
//!
//! Blu documents `{taskId, pageNo, pageSize}` (default size 10) and nothing
//! about the answer: whether it carries a total, and how many records a page
//! may hold. So the reader does not trust a short page to be the last one:
//!
//! - a total (when the page has one) is read until reached;
//! - otherwise pages are read until an empty one;
//! - a first page shorter than asked may be a server cap: the following
//!   pages are asked with the size Blu really served (`pageNo` counts pages
//!   of that size either way, so no record is skipped);
//! - a later page shorter than the size is the last: the next must be
//!   empty, or the paging shifted under us;
//! - an empty page before the total, a page after the last, or the page
//!   limit ends the reading as *incomplete*, never as "done".

use super::adapter::BluAdapter;
use super::wire::{Query, QueryPage, ResultRecord};
use crate::vendors::common::code_text;
use crate::vendors::{VendorError, VendorErrorKind};
use serde_json::Value;

/// The records of a task as far as they were read.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub records: Vec<ResultRecord>,
    pub unreadable: Vec<Unreadable>,
}

/// A query record that could not be read, with what could still be seen of it.
#[derive(Debug)]
pub(super) struct Unreadable {
    pub id: Option<String>,
    pub mobile: Option<String>,
    pub reason: String,
}

impl Unreadable {
    fn of(raw: &Value, reason: String) -> Unreadable {
        let get = |keys: &[&str]| keys.iter().find_map(|k| raw.get(*k).and_then(code_text)).filter(|s| !s.is_empty());
        Unreadable { id: get(&["id", "orderId"]), mobile: get(&["mobile", "phone"]), reason }
    }
}

impl BluAdapter {
    /// The records of a task, page by page (see [`super::paging`]), each
    /// read on its own so one bad record does not hide the others. `Ok`
    /// only for a complete view of the task, or once `stop` holds for a
    /// record (the one a lookup wants); an incomplete view is `Unknown`.
    pub(super) async fn scan(
        &self,
        task_id: &str,
        mut stop: impl FnMut(&ResultRecord) -> bool,
    ) -> Result<Scan, VendorError> {
        let mut pager = Pager::new(self.opts.query_page_size, self.opts.query_max_pages);
        let mut next = pager.first();
        let mut scan = Scan::default();
        while let Next::Page { page_no, page_size } = next {
            let body = serde_json::to_value(Query { task_id: task_id.to_string(), page_no, page_size })
                .map_err(|e| self.err(VendorErrorKind::Fatal, format!("queryCallResult: {e}")))?;
            let (data, _) = self.call("queryCallResult", "queryCallResult", &body, true).await.map_err(|mut e| {
                e.message.push_str(&format!(" (page {page_no}, after {} records)", pager.seen()));
                e
            })?;
            let page = QueryPage::read(&data).map_err(|e| {
                self.err(VendorErrorKind::Unknown, format!("queryCallResult page {page_no} of task {task_id}: {e}"))
            })?;
            for raw in &page.records {
                match ResultRecord::read(raw, Some(task_id), self.tz) {
                    Ok(r) => {
                        let done = stop(&r);
                        scan.records.push(r);
                        if done {
                            return Ok(scan);
                        }
                    }
                    Err(reason) => scan.unreadable.push(Unreadable::of(raw, reason)),
                }
            }
            next = pager.after(page.records.len(), page.total).map_err(|why| {
                self.err(VendorErrorKind::Unknown, format!("queryCallResult of task {task_id} incomplete: {why}"))
            })?;
        }
        Ok(scan)
    }
}

/// What to do after a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Ask for this page next.
    Page { page_no: u32, page_size: u32 },
    /// Every record of the task has been seen.
    Done,
}

#[derive(Debug, Clone)]
pub struct Pager {
    page_no: u32,
    size: u32,
    max_pages: u32,
    seen: u64,
    total: Option<u64>,
    short_seen: bool,
}

impl Pager {
    pub fn new(page_size: u32, max_pages: u32) -> Pager {
        Pager {
            page_no: 1,
            size: page_size.max(1),
            max_pages: max_pages.max(1),
            seen: 0,
            total: None,
            short_seen: false,
        }
    }

    /// The first page to ask for.
    pub fn first(&self) -> Next {
        Next::Page { page_no: 1, page_size: self.size }
    }

    /// Records seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Account for a page of `n` records that said `total` (if it did).
    /// `Err` says why the view is incomplete.
    pub fn after(&mut self, n: usize, total: Option<u64>) -> Result<Next, String> {
        let n = n as u64;
        self.seen += n;
        if total.is_some() {
            self.total = total;
        }
        let at = self.page_no;
        if n == 0 {
            return match self.total {
                Some(t) if self.seen < t => {
                    Err(format!("page {at} is empty but the total is {t} and only {} records were seen", self.seen))
                }
                _ => Ok(Next::Done),
            };
        }
        if self.short_seen {
            return Err(format!("page {at} has records after a shorter page: the paging shifted"));
        }
        if self.total.is_some_and(|t| self.seen >= t) {
            return Ok(Next::Done);
        }
        if at == 1 {
            // Blu serves pages of its own size when it caps (or ignores) ours.
            self.size = u32::try_from(n).unwrap_or(u32::MAX);
        } else if n < u64::from(self.size) {
            self.short_seen = true;
        } else if n > u64::from(self.size) {
            return Err(format!("page {at} holds {n} records, more than the page size {}", self.size));
        }
        if at >= self.max_pages {
            return Err(format!("page limit reached ({} pages, {} records) before the end of the task", at, self.seen));
        }
        self.page_no += 1;
        Ok(Next::Page { page_no: self.page_no, page_size: self.size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `pages` (length, total) to a pager: the pages it asked for and its last answer.
    fn run(ask: u32, max: u32, pages: &[(usize, Option<u64>)]) -> (Vec<Next>, Result<Next, String>) {
        let mut p = Pager::new(ask, max);
        let mut asked = vec![p.first()];
        for (i, (n, total)) in pages.iter().enumerate() {
            match p.after(*n, *total) {
                Ok(next @ Next::Page { .. }) if i + 1 < pages.len() => asked.push(next),
                other => return (asked, other),
            }
        }
        (asked, Err("ran out of pages".into()))
    }

    #[test]
    fn a_total_is_read_until_reached() {
        let (asked, end) = run(10, 100, &[(10, Some(25)), (10, Some(25)), (5, Some(25))]);
        assert_eq!(end, Ok(Next::Done));
        assert_eq!(asked.len(), 3);
    }

    #[test]
    fn a_capped_first_page_without_total_is_followed_with_the_served_size_to_an_empty_page() {
        // Asked 50, Blu serves 10: the old reader stopped after page 1.
        let (asked, end) = run(50, 100, &[(10, None), (10, None), (3, None), (0, None)]);
        assert_eq!(end, Ok(Next::Done));
        assert_eq!(asked[1], Next::Page { page_no: 2, page_size: 10 });
        assert_eq!(asked.len(), 4, "the short page is confirmed by an empty one");
    }

    #[test]
    fn a_capped_first_page_with_a_total_goes_on() {
        let (_, end) = run(50, 100, &[(10, Some(12)), (2, Some(12))]);
        assert_eq!(end, Ok(Next::Done));
    }

    #[test]
    fn incomplete_views_are_errors() {
        // An empty page before the total.
        let (_, end) = run(10, 100, &[(10, Some(30)), (0, Some(30))]);
        assert!(end.unwrap_err().contains("total is 30"));
        // Records after a short page.
        let (_, end) = run(10, 100, &[(10, None), (4, None), (10, None)]);
        assert!(end.unwrap_err().contains("shifted"));
        // The page limit.
        let (_, end) = run(10, 2, &[(10, None), (10, None)]);
        assert!(end.unwrap_err().contains("page limit"));
        // A later page larger than the size the first one set.
        let (_, end) = run(10, 100, &[(5, None), (7, None)]);
        assert!(end.unwrap_err().contains("more than the page size"));
    }

    #[test]
    fn an_empty_task_is_done_at_once() {
        let (_, end) = run(10, 100, &[(0, None)]);
        assert_eq!(end, Ok(Next::Done));
        let (_, end) = run(10, 100, &[(0, Some(0))]);
        assert_eq!(end, Ok(Next::Done));
    }
}
