//! Result forwarding (issue 16): which events a settled result produces,
//! the JSON body each carries ([`payload`]), when a failed delivery is tried
//! again or given up ([`backoff`]), and how a body is signed the way the
//! Standard Webhooks specification says ([`signature`]). All pure: the store
//! writes the events with the result, the forwarding worker delivers them.

pub mod backoff;
pub mod payload;
pub mod signature;

use crate::domain::named_enum::named_enum;
use crate::domain::state::ContactState;

named_enum!(
    /// A kind of event forwarded to the operator.
    ForwardEvent {
        /// The contact reached a final state (done, exhausted, stopped, suppressed).
        ContactFinal => "contact.final",
        /// One attempt finished (every result, final or not).
        AttemptCompleted => "attempt.completed",
    }
);

/// The events a campaign forwards; empty when it forwards nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForwardEvents {
    pub contact_final: bool,
    pub attempt_completed: bool,
}

impl ForwardEvents {
    pub const NONE: ForwardEvents = ForwardEvents { contact_final: false, attempt_completed: false };

    pub fn of(events: &[ForwardEvent]) -> ForwardEvents {
        ForwardEvents {
            contact_final: events.contains(&ForwardEvent::ContactFinal),
            attempt_completed: events.contains(&ForwardEvent::AttemptCompleted),
        }
    }

    pub fn is_empty(self) -> bool {
        self == Self::NONE
    }

    /// The events one settled result produces, in the order they are
    /// written: its attempt's, then its contact's when the contact's new
    /// state (`moved_to`, None when the result did not move it) is final.
    pub fn for_result(self, moved_to: Option<ContactState>) -> Vec<ForwardEvent> {
        let mut out = Vec::with_capacity(2);
        if self.attempt_completed {
            out.push(ForwardEvent::AttemptCompleted);
        }
        if self.contact_final && moved_to.is_some_and(ContactState::is_terminal) {
            out.push(ForwardEvent::ContactFinal);
        }
        out
    }
}

/// Which events each campaign forwards: its own `forwarding` block when it
/// has one (config campaigns), else the global one. Read with the campaign
/// (see `store::campaigns::parse`), like the deployment-wide caps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardRoutes {
    pub default: ForwardEvents,
    pub campaigns: std::collections::BTreeMap<String, ForwardEvents>,
}

impl ForwardRoutes {
    pub fn events_for(&self, campaign: &str) -> ForwardEvents {
        self.campaigns.get(campaign).copied().unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_contact_yields_contact_final_only_when_asked() {
        let both = ForwardEvents::of(&[ForwardEvent::ContactFinal, ForwardEvent::AttemptCompleted]);
        assert_eq!(
            both.for_result(Some(ContactState::Done)),
            vec![ForwardEvent::AttemptCompleted, ForwardEvent::ContactFinal]
        );
        assert_eq!(both.for_result(Some(ContactState::WaitingRetry)), vec![ForwardEvent::AttemptCompleted]);
        assert_eq!(both.for_result(None), vec![ForwardEvent::AttemptCompleted]);
        let finals = ForwardEvents::of(&[ForwardEvent::ContactFinal]);
        for s in [ContactState::Done, ContactState::Exhausted, ContactState::Stopped, ContactState::Suppressed] {
            assert_eq!(finals.for_result(Some(s)), vec![ForwardEvent::ContactFinal], "{s}");
        }
        assert!(finals.for_result(Some(ContactState::WaitingRetry)).is_empty());
        assert!(ForwardEvents::NONE.for_result(Some(ContactState::Done)).is_empty());
    }
}
