//! Whether a contact may be taken out of its campaign: only one that was
//! never dialed. A dialed contact's attempts, results and dials are the
//! record of what was done to the number (frequency caps count them), so it
//! stays; the operator stops it instead (suppression, or cancelling the
//! campaign).
//!
//! The store's DELETE carries the same conditions ([`REMOVABLE_STATES`],
//! `attempt_seq = 0`, no attempt row) in its WHERE clause, so a claim that
//! puts the contact in flight at the same instant either happens before the
//! delete (which then matches nothing) or after it (and finds no contact).

use crate::domain::state::ContactState;

/// The states a contact can hold without ever having been dialed: waiting
/// for its first call, or finished before it (campaign cancelled, number
/// suppressed, no window left). `in_flight` is being dialed; `waiting_retry`
/// and `done` were dialed.
pub const REMOVABLE_STATES: [ContactState; 4] =
    [ContactState::Pending, ContactState::Stopped, ContactState::Suppressed, ContactState::Exhausted];

/// Why a contact stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "is being dialed right now (in_flight): its attempt's result will be recorded; to stop further calls, \
         suppress the number (POST /api/v1/suppressions) or cancel the campaign"
    )]
    Dialing,
    #[error(
        "has been dialed ({attempts} attempt(s), state {state}): its attempts stay on record; to stop further \
         calls, suppress the number (POST /api/v1/suppressions) or cancel the campaign"
    )]
    Dialed { attempts: i32, state: String },
}

/// May a contact in `state` that has `attempts` attempts be removed?
/// `state` is the stored text: one that does not read is not removable
/// (nothing is known about it), and is named as it is.
pub fn check(state: &str, attempts: i32) -> Result<(), Refusal> {
    match state.parse::<ContactState>() {
        Ok(ContactState::InFlight) => Err(Refusal::Dialing),
        Ok(s) if attempts == 0 && REMOVABLE_STATES.contains(&s) => Ok(()),
        _ => Err(Refusal::Dialed { attempts, state: state.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contacts_never_dialed_may_be_removed() {
        for state in ContactState::ALL {
            let never_dialed = check(state.as_str(), 0);
            assert_eq!(never_dialed.is_ok(), REMOVABLE_STATES.contains(state), "{state}");
            assert!(check(state.as_str(), 1).is_err(), "{state} with an attempt");
        }
        assert_eq!(check("in_flight", 1), Err(Refusal::Dialing));
        let dialed = check("done", 2).unwrap_err().to_string();
        assert!(dialed.contains("2 attempt(s), state done") && dialed.contains("suppress the number"), "{dialed}");
        assert!(check("garbled", 0).is_err(), "an unreadable state is not removable");
    }
}
