//! One inbox page applied as a whole: the facts are loaded once for every row
//! of the page and the writes made once at its end, so what the page's
//! earlier rows did must be seen by its later rows from memory, exactly as
//! they would have seen it in the database had each row been applied (and
//! written) one after another:
//!
//! - [`InboxCopies`]: is a row a copy of another delivery (an identical body
//!   from the same vendor), counting the rows of this page as they are
//!   decided;
//! - [`PageLedger`]: which attempts the page already finished, and what it
//!   did to their contacts, so a second result for one attempt is late and
//!   a second attempt of one contact finds the contact moved on.

use crate::domain::recall::RecallHistory;
use crate::domain::settlement::{ContactFacts, ContactOutcome, Settlement};
use crate::domain::state::{AttemptState, ContactState};
use std::collections::HashMap;

/// What became of an inbox row of the page, as far as copies of it care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    /// Not decided yet, or waiting (it stays pending).
    Pending,
    Duplicate,
    Processed,
    Rejected,
}

/// The page's rows by dedupe identity, with what became of each so far.
///
/// A delivery is a copy ("seen before") when another row with the same
/// vendor and body was processed, or arrived earlier (lower id) and is
/// pending or itself a copy: `store::inbox_page::copies_outside` applies the
/// rule to rows outside the page, and this applies it to the rows inside it.
#[derive(Debug, Default)]
pub struct InboxCopies {
    /// (vendor, dedupe key) → the page's rows with it: (id, state).
    by_key: HashMap<(String, String), Vec<(i64, CopyState)>>,
}

impl InboxCopies {
    /// The page's rows: (id, vendor, dedupe key); each starts pending.
    pub fn new<'a>(rows: impl IntoIterator<Item = (i64, &'a str, &'a str)>) -> InboxCopies {
        let mut by_key: HashMap<(String, String), Vec<(i64, CopyState)>> = HashMap::new();
        for (id, vendor, key) in rows {
            by_key.entry((vendor.to_string(), key.to_string())).or_default().push((id, CopyState::Pending));
        }
        InboxCopies { by_key }
    }

    /// Is row `id` a copy of another row of the page, as the page stands now?
    pub fn copy_in_page(&self, id: i64, vendor: &str, key: &str) -> bool {
        let Some(rows) = self.by_key.get(&(vendor.to_string(), key.to_string())) else { return false };
        rows.iter().any(|&(other, state)| {
            other != id
                && match state {
                    CopyState::Processed => true,
                    CopyState::Pending | CopyState::Duplicate => other < id,
                    CopyState::Rejected => false,
                }
        })
    }

    /// Row `id` was decided: later rows see it so.
    pub fn decided(&mut self, id: i64, vendor: &str, key: &str, state: CopyState) {
        if let Some(rows) = self.by_key.get_mut(&(vendor.to_string(), key.to_string()))
            && let Some(row) = rows.iter_mut().find(|(other, _)| *other == id)
        {
            row.1 = state;
        }
    }
}

/// What the page has settled so far: the attempts it finished (their new
/// state), the contacts it moved (their new state and recall history), and
/// the vendor call ids it recorded on attempts.
#[derive(Debug, Default)]
pub struct PageLedger {
    attempts: HashMap<i64, AttemptState>,
    contacts: HashMap<i64, (ContactState, RecallHistory)>,
    /// (vendor, external call id) → attempt id.
    calls: HashMap<(String, String), i64>,
}

impl PageLedger {
    /// The attempt's state as the page left it (`stored` if untouched).
    pub fn attempt_state(&self, attempt_id: i64, stored: AttemptState) -> AttemptState {
        self.attempts.get(&attempt_id).copied().unwrap_or(stored)
    }

    /// The contact as the page left it: `stored`, with the state and recall
    /// history of the page's last move of it.
    pub fn contact<'a>(&'a self, stored: ContactFacts<'a>) -> ContactFacts<'a> {
        match self.contacts.get(&stored.id) {
            Some((state, history)) => ContactFacts { state: Ok(*state), history: Ok(history.clone()), ..stored },
            None => stored,
        }
    }

    /// The attempt of `vendor` that the page recorded call `call` on.
    pub fn attempt_for_call(&self, vendor: &str, call: &str) -> Option<i64> {
        self.calls.get(&(vendor.to_string(), call.to_string())).copied()
    }

    /// Attempt `attempt_id` of `vendor` (of contact `contact_id`) was settled.
    pub fn settled(&mut self, attempt_id: i64, vendor: &str, contact_id: i64, s: &Settlement) {
        self.attempts.insert(attempt_id, s.attempt.state);
        if let Some(call) = &s.attempt.external_call_id {
            self.calls.insert((vendor.to_string(), call.clone()), attempt_id);
        }
        if let ContactOutcome::Moved { update, .. } = &s.contact {
            self.contacts.insert(contact_id, (update.state, update.history.clone()));
        }
    }
}

#[cfg(test)]
#[path = "inbox_page_tests.rs"]
mod tests;
