//! The facts the contact policy needs about a batch of due contacts, as
//! read by the store (active suppressions, calls in flight for the same
//! numbers in any campaign, recent dials of each number and case), and kept
//! up to date while a claim decides: a contact it dispatches makes its number
//! busy and reserves its dials for the contacts after it.

use crate::domain::compliance::{CapHistory, ContactFacts, DialRecord};
use crate::domain::outcome::{Disposition, Intent};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct BatchFacts {
    /// Phone → reason of its active suppression entry.
    pub suppressed: HashMap<String, String>,
    /// Phone → name of the campaign where it has a call in flight.
    pub busy: HashMap<String, String>,
    pub phone_dials: HashMap<String, Vec<DialRecord>>,
    pub case_dials: HashMap<String, Vec<DialRecord>>,
}

/// A dial counts as a conversation (Regulation F's "telephone conversation")
/// when someone answered and the bot did not find the wrong person.
pub fn conversation(disposition: &str, intent: Option<&str>) -> bool {
    disposition == Disposition::Answered.as_str() && intent != Some(Intent::WrongPerson.as_str())
}

impl BatchFacts {
    /// The facts of one contact, for an attempt that may make `new_dials` dials.
    pub fn for_contact(&self, phone: &str, case_id: Option<&str>, new_dials: u32) -> ContactFacts {
        ContactFacts {
            suppressed: self.suppressed.get(phone).cloned(),
            busy_in: self.busy.get(phone).cloned(),
            history: CapHistory {
                phone: self.phone_dials.get(phone).cloned().unwrap_or_default(),
                case: case_id.map(|case| self.case_dials.get(case).cloned().unwrap_or_default()),
            },
            new_dials,
        }
    }

    /// A contact of this batch was just dispatched: later contacts of the
    /// same batch see its number busy and its dials reserved.
    pub fn reserve(&mut self, phone: &str, case_id: Option<&str>, campaign: &str, dials: u32, now: DateTime<Utc>) {
        let reserved = DialRecord { at: now, dials, conversation: false };
        self.busy.insert(phone.to_string(), campaign.to_string());
        self.phone_dials.entry(phone.to_string()).or_default().push(reserved);
        if let Some(case) = case_id {
            self.case_dials.entry(case.to_string()).or_default().push(reserved);
        }
    }
}
