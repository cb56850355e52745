//! Reading results from smartivr's documented lists: every page until the
//! vendor says it is done, each row on its own (one bad row never hides the
//! others), and the events built from a number, its dials and its call record.

use super::adapter::SmartivrAdapter;
use super::codes;
use super::wire::{CallRecord, HistoryRow, NumberRow, Page};
use crate::domain::outcome::{Disposition, Outcome};
use crate::vendors::common::code_text;
use crate::vendors::{AttemptHandle, CallEvent, LookupResult, VendorError, VendorErrorKind, VendorRedial};
use serde_json::Value;
use std::future::Future;

/// The rows of a whole list, read one by one.
#[derive(Debug)]
pub struct Rows<T> {
    pub rows: Vec<T>,
    pub unreadable: Vec<Unreadable>,
}

impl<T> Default for Rows<T> {
    fn default() -> Self {
        Rows { rows: Vec::new(), unreadable: Vec::new() }
    }
}

/// A row that could not be read (or not be used), with what could still be seen of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub number: Option<String>,
    pub callid: Option<String>,
    pub reason: String,
    /// The row as the vendor sent it, kept for audit.
    pub raw: String,
}

impl Unreadable {
    fn of(raw: &Value, number_key: &str, reason: String) -> Unreadable {
        let get = |k: &str| raw.get(k).and_then(code_text).filter(|s| !s.is_empty());
        Unreadable { number: get(number_key), callid: get("callid"), reason, raw: raw.to_string() }
    }
}

/// What a task's lists say: the results, the numbers still waiting, and
/// the rows that could not be used.
#[derive(Debug, Default)]
pub struct TaskView {
    pub events: Vec<CallEvent>,
    pub waiting: Vec<NumberRow>,
    pub unreadable: Vec<Unreadable>,
}

impl SmartivrAdapter {
    /// Every page of a paged list until the vendor says it is done: page
    /// `last_page` reached (and `total` rows seen, when it gives one); without
    /// `last_page`, `total` rows seen or an empty page (a short page may be a
    /// server cap, not the end). Any view short of that is `Unknown`: the
    /// page limit, an empty page too early, fewer rows than the total.
    pub(super) async fn all_pages<T, F, Fut>(
        &self,
        what: &str,
        number_key: &str,
        read: fn(&Value) -> Result<T, String>,
        mut fetch: F,
    ) -> Result<Rows<T>, VendorError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<Page, VendorError>>,
    {
        let mut out = Rows::default();
        let mut seen: i64 = 0;
        let incomplete = |why: String| self.err(VendorErrorKind::Unknown, format!("{what} incomplete: {why}"));
        for page in 1..=self.opts.max_pages {
            let p = fetch(page).await.map_err(|mut e| {
                e.message.push_str(&format!(" (page {page} of {what}, after {seen} rows)"));
                e
            })?;
            let n = p.rows.len() as i64;
            seen += n;
            for raw in &p.rows {
                match read(raw) {
                    Ok(row) => out.rows.push(row),
                    Err(reason) => out.unreadable.push(Unreadable::of(raw, number_key, reason)),
                }
            }
            let short_of_total = p.total.filter(|t| seen < *t);
            match p.last_page {
                Some(last) if i64::from(page) >= last => {
                    return match short_of_total {
                        Some(t) => Err(incomplete(format!("{seen} of {t} rows by the last page {last}"))),
                        None => Ok(out),
                    };
                }
                Some(last) if n == 0 => {
                    return Err(incomplete(format!("page {page} is empty before the last page {last}")));
                }
                Some(_) => {}
                None if n == 0 => {
                    return match short_of_total {
                        Some(t) => Err(incomplete(format!("page {page} is empty after {seen} of {t} rows"))),
                        None => Ok(out),
                    };
                }
                None if p.total.is_some_and(|t| seen >= t) => return Ok(out),
                None => {}
            }
        }
        Err(incomplete(format!("page limit reached ({} pages, {seen} rows)", self.opts.max_pages)))
    }

    /// Every number of a task (all pages), optionally filtered by `keyword`.
    pub async fn all_numbers(
        &self,
        task_id: &str,
        keyword: Option<&str>,
        history: bool,
    ) -> Result<Rows<NumberRow>, VendorError> {
        let what = format!("numbers of task {task_id}");
        self.all_pages(&what, "number", NumberRow::read, |page| self.numbers_page(task_id, page, keyword, history))
            .await
    }

    /// Every call record of a task (all pages), optionally filtered by `keyword`.
    pub async fn all_records(&self, task_id: &str, keyword: Option<&str>) -> Result<Rows<CallRecord>, VendorError> {
        let what = format!("call records of task {task_id}");
        self.all_pages(&what, "callee", CallRecord::read, |page| self.records_page(task_id, page, keyword)).await
    }

    /// The outcome of one dial of the history (a dial without a status is `unknown`).
    fn dial_outcome(h: &HistoryRow) -> Outcome {
        h.status.map_or_else(|| Outcome::new(Disposition::Unknown), |s| codes::normalize(s, None))
    }

    /// The outcome of the number's last dial: its status, the grade of an
    /// answered call, and the call's tags through the tag table.
    fn final_outcome(&self, status: i64, row: &NumberRow, record: Option<&CallRecord>) -> Outcome {
        let grade = match status {
            codes::ANSWERED => record.and_then(CallRecord::grade_label).or_else(|| row.level_name.clone()),
            _ => None,
        };
        let tags = record.into_iter().flat_map(|r| r.tags.iter().chain(&r.tag_groups)).chain(&row.tags);
        codes::with_tags(codes::normalize(status, grade.as_deref()), &self.tags, tags.map(String::as_str))
    }

    /// The event of a number with a status (`None` without one). With
    /// several dials in `call_history` (the vendor's own redials), one dial
    /// each: the first's outcome in `first_dial`, the later ones as
    /// redials, the final outcome (grade, tags) on the last only.
    pub fn number_event(
        &self,
        task_id: Option<&str>,
        row: &NumberRow,
        record: Option<&CallRecord>,
    ) -> Option<CallEvent> {
        let status = row.status?;
        let last = self.final_outcome(status, row, record);
        // The real dials, oldest first (the list is newest first; a waiting entry is no dial).
        let mut dials: Vec<&HistoryRow> =
            row.call_history.iter().filter(|h| h.status != Some(codes::WAITING)).collect();
        dials.sort_by_key(|h| (self.time(h.call_time.as_deref()), h.id));
        let blacklisted = row.is_blacklist == Some(true)
            || status == codes::BLACKLISTED
            || dials.iter().any(|h| h.status == Some(codes::BLACKLISTED));
        let started_at = self.time(row.calldate.as_deref());
        // Ringing is what lay between the dial (`calldate`) and the answer.
        let answered_at = self.time(row.answerdate.as_deref()).or_else(|| self.time(record?.answerdate.as_deref()));
        let ring_ms = match (started_at, answered_at) {
            (Some(s), Some(a)) if a >= s => Some((a - s).num_milliseconds()),
            _ => None,
        };
        let single = CallEvent {
            attempt_ref: row.custom.clone(),
            external_call_id: row.callid.clone(),
            vendor_task_id: task_id.map(str::to_string),
            phone: Some(self.event_phone(&row.number)),
            is_final: codes::is_final(status),
            started_at,
            ended_at: self.time(row.hangupdate.as_deref()),
            duration_ms: row.bill,
            blacklisted,
            recording_url: record.and_then(|r| r.recordfile.clone()),
            ring_ms,
            billed_ms: row.bill,
            ..CallEvent::final_outcome(last.clone())
        };
        let [first, later @ ..] = dials.as_slice() else { return Some(single) };
        if later.is_empty() {
            return Some(single);
        }
        let redials = (later.iter().enumerate())
            .map(|(i, h)| VendorRedial {
                external_call_id: h.call_id.clone(),
                at: self.time(h.call_time.as_deref()),
                outcome: if i + 1 == later.len() { last.clone() } else { Self::dial_outcome(h) },
            })
            .collect();
        let first_call = first.call_id.clone().or_else(|| single.external_call_id.clone());
        let first_at = self.time(first.call_time.as_deref()).or(single.started_at);
        Some(CallEvent {
            external_call_id: first_call,
            started_at: first_at,
            first_dial: Some(VendorRedial {
                external_call_id: first.call_id.clone(),
                at: self.time(first.call_time.as_deref()),
                outcome: Self::dial_outcome(first),
            }),
            redials,
            ..single
        })
    }

    /// The call record of a number: by call id, else the newest for its
    /// callee. `Err` when none is readable and an unreadable one may be it
    /// (an answered call's grade and tags decide what happens next).
    fn record_for<'a>(&self, records: &'a Rows<CallRecord>, n: &NumberRow) -> Result<Option<&'a CallRecord>, String> {
        let phone = self.event_phone(&n.number);
        let same_callee = |c: Option<&str>| c.is_some_and(|c| self.event_phone(c) == phone);
        if let Some(r) = records.rows.iter().find(|r| r.callid.is_some() && r.callid == n.callid) {
            return Ok(Some(r));
        }
        let newest =
            records.rows.iter().filter(|r| same_callee(r.callee.as_deref())).max_by_key(|r| r.calldate.clone());
        if newest.is_some() || n.status != Some(codes::ANSWERED) {
            return Ok(newest);
        }
        match records.unreadable.iter().find(|u| match (&u.callid, &u.number) {
            (Some(callid), _) => n.callid.as_ref() == Some(callid),
            (None, number) => number.is_none() || same_callee(number.as_deref()),
        }) {
            Some(u) => Err(format!("its call record is unreadable: {}", u.reason)),
            None => Ok(None),
        }
    }

    /// What a task's lists say about its numbers (filtered by `keyword`).
    pub(super) async fn task_view(&self, task_id: &str, keyword: Option<&str>) -> Result<TaskView, VendorError> {
        let numbers = self.all_numbers(task_id, keyword, true).await?;
        let answered = numbers.rows.iter().any(|n| n.status == Some(codes::ANSWERED));
        let records = if answered { self.all_records(task_id, keyword).await? } else { Rows::default() };
        let mut view = TaskView { unreadable: numbers.unreadable, ..TaskView::default() };
        // A row that read but cannot be used: its parsed form is what is left to keep.
        let unusable = |n: &NumberRow, reason: String| Unreadable {
            number: Some(n.number.clone()),
            callid: n.callid.clone(),
            reason,
            raw: format!("{n:?}"),
        };
        for n in numbers.rows {
            match n.status {
                None => view.unreadable.push(unusable(&n, "status: missing".into())),
                Some(s) if !codes::is_final(s) => view.waiting.push(n),
                Some(_) => match self.record_for(&records, &n) {
                    Ok(record) => view.events.extend(self.number_event(Some(task_id), &n, record)),
                    Err(reason) => view.unreadable.push(unusable(&n, reason)),
                },
            }
        }
        Ok(view)
    }

    /// Reads every page of the task's numbers (filtered by `keyword`) and,
    /// for an answered call, its call records. "Not found" only from that
    /// whole view, and only when the task is known to hold numbers; a row
    /// that may be this number but cannot be read makes the answer unknown.
    /// An attempt without a vendor task id was never handed over: numbers
    /// are only added to a task whose id came back.
    pub(super) async fn look_up(&self, attempt: &AttemptHandle) -> Result<LookupResult, VendorError> {
        let Some(task_id) = attempt.vendor_task_id.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(LookupResult::NotFound);
        };
        let Some(number) = self.wire_number(&attempt.phone) else {
            return Ok(LookupResult::NotFound); // refused at dispatch: never sent
        };
        let phone = self.event_phone(&number);
        let view = self.task_view(task_id, Some(&number)).await?;
        if let Some(event) = view.events.into_iter().find(|e| e.phone.as_deref() == Some(phone.as_str())) {
            return Ok(LookupResult::Finished(event));
        }
        if let Some(row) = view.waiting.iter().find(|r| self.event_phone(&r.number) == phone) {
            return Ok(LookupResult::Pending { external_call_id: row.callid.clone() });
        }
        if let Some(u) =
            view.unreadable.iter().find(|u| u.number.as_deref().is_none_or(|n| self.event_phone(n) == phone))
        {
            return Err(self.err(
                VendorErrorKind::Unknown,
                format!("lookup {}: its row cannot be used: {}", attempt.attempt_ref, u.reason),
            ));
        }
        // Only a task that exists (has numbers) clearly lacks this one.
        let any = self.numbers_page(task_id, 1, None, false).await?;
        if any.rows.is_empty() {
            return Err(
                self.err(VendorErrorKind::RetryLater, format!("lookup: task {task_id} has no numbers at the vendor"))
            );
        }
        Ok(LookupResult::NotFound)
    }
}
