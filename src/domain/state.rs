//! Explicit state machines for campaigns, contacts and attempts.
//!
//! Every status change in the store goes through `apply`, so an illegal
//! transition (a late webhook finishing an already-cancelled attempt, a
//! double claim) surfaces as an error instead of silently overwriting state.
//! Applying an event that would lead to the state already held is an error
//! too: whether that is harmless is the caller's call, not ours.

use crate::domain::named_enum::named_enum;

/// An event that is not allowed in the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entity}: cannot apply `{event}` in state `{from}`")]
pub struct TransitionError {
    /// "campaign", "contact" or "attempt".
    pub entity: &'static str,
    /// The state the entity was in (snake_case name).
    pub from: String,
    /// The rejected event (snake_case name).
    pub event: String,
}

fn reject<S: std::fmt::Display, E: std::fmt::Display>(entity: &'static str, from: S, event: E) -> TransitionError {
    TransitionError { entity, from: from.to_string(), event: event.to_string() }
}

named_enum!("campaign state",
    /// Lifecycle of a campaign.
    CampaignState {
        /// Being edited; never dialed.
        Draft => "draft",
        /// Armed; the scheduler will start it.
        Scheduled => "scheduled",
        /// Dialing.
        Running => "running",
        /// Held by an operator; nothing is dialed.
        Paused => "paused",
        /// Every contact reached a final state.
        Completed => "completed",
        /// Stopped for good by an operator.
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// Something that happens to a campaign.
    ///
    /// - `schedule`: draft -> scheduled
    /// - `start`: scheduled -> running
    /// - `pause`: running|scheduled -> paused
    /// - `resume`: paused -> running
    /// - `complete`: running -> completed
    /// - `cancel`: any non-terminal -> cancelled
    CampaignEvent {
        Schedule => "schedule",
        Start => "start",
        Pause => "pause",
        Resume => "resume",
        Complete => "complete",
        Cancel => "cancel",
    }
);

impl CampaignState {
    /// Completed and cancelled campaigns never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// Scheduled, running or paused: the campaign still owns its contacts.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Scheduled | Self::Running | Self::Paused)
    }

    /// The state after `event`, or an error if `event` is not allowed now.
    pub fn apply(self, event: CampaignEvent) -> Result<Self, TransitionError> {
        use CampaignEvent as E;
        use CampaignState as S;
        match (self, event) {
            (S::Draft, E::Schedule) => Ok(S::Scheduled),
            (S::Scheduled, E::Start) | (S::Paused, E::Resume) => Ok(S::Running),
            (S::Scheduled | S::Running, E::Pause) => Ok(S::Paused),
            (S::Running, E::Complete) => Ok(S::Completed),
            (s, E::Cancel) if !s.is_terminal() => Ok(S::Cancelled),
            (s, e) => Err(reject("campaign", s, e)),
        }
    }
}

named_enum!("contact state",
    /// Where one contact (phone number in a campaign) stands.
    ContactState {
        /// Never dialed, ready to claim.
        Pending => "pending",
        /// Claimed by the dispatcher; an attempt is under way.
        InFlight => "in_flight",
        /// Waiting for its retry time.
        WaitingRetry => "waiting_retry",
        /// Reached a final answer.
        Done => "done",
        /// Ran out of attempts.
        Exhausted => "exhausted",
        /// Stopped by an operator or by repeated vendor failures.
        Stopped => "stopped",
        /// On the suppression list; never dialed again.
        Suppressed => "suppressed",
    }
);

named_enum!(
    /// Something that happens to a contact.
    ///
    /// - `claim`: pending|waiting_retry -> in_flight
    /// - `retry`: in_flight -> waiting_retry
    /// - `release`: in_flight -> pending: the dispatch was handed back before dialing
    /// - `finish`: in_flight -> done
    /// - `exhaust`: pending|in_flight|waiting_retry -> exhausted
    /// - `stop`: any non-terminal -> stopped
    /// - `suppress`: any non-terminal -> suppressed
    ContactEvent {
        Claim => "claim",
        Retry => "retry",
        Release => "release",
        Finish => "finish",
        Exhaust => "exhaust",
        Stop => "stop",
        Suppress => "suppress",
    }
);

impl ContactState {
    /// Done, exhausted, stopped and suppressed contacts are never dialed again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Exhausted | Self::Stopped | Self::Suppressed)
    }

    /// Pending or waiting for a retry: may be claimed for dialing.
    pub fn is_dispatchable(self) -> bool {
        matches!(self, Self::Pending | Self::WaitingRetry)
    }

    /// The state after `event`, or an error if `event` is not allowed now.
    pub fn apply(self, event: ContactEvent) -> Result<Self, TransitionError> {
        use ContactEvent as E;
        use ContactState as S;
        match (self, event) {
            (S::Pending | S::WaitingRetry, E::Claim) => Ok(S::InFlight),
            (S::InFlight, E::Retry) => Ok(S::WaitingRetry),
            (S::InFlight, E::Release) => Ok(S::Pending),
            (S::InFlight, E::Finish) => Ok(S::Done),
            (S::Pending | S::InFlight | S::WaitingRetry, E::Exhaust) => Ok(S::Exhausted),
            (s, E::Stop) if !s.is_terminal() => Ok(S::Stopped),
            (s, E::Suppress) if !s.is_terminal() => Ok(S::Suppressed),
            (s, e) => Err(reject("contact", s, e)),
        }
    }
}

named_enum!("attempt state",
    /// One dial of one contact through one vendor.
    AttemptState {
        /// Being handed to the vendor.
        Dispatching => "dispatching",
        /// The vendor accepted it; waiting for the result.
        Dispatched => "dispatched",
        /// The vendor reported a result.
        Completed => "completed",
        /// The vendor refused or errored before dialing.
        Failed => "failed",
        /// No result could ever be obtained.
        Lost => "lost",
        /// Withdrawn before a result arrived.
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// Something that happens to an attempt.
    ///
    /// - `accepted`: dispatching -> dispatched
    /// - `complete`: dispatching|dispatched -> completed
    /// - `fail`: dispatching|dispatched -> failed
    /// - `lose`: dispatching|dispatched -> lost
    /// - `cancel`: dispatching|dispatched -> cancelled
    AttemptEvent {
        Accepted => "accepted",
        Complete => "complete",
        Fail => "fail",
        Lose => "lose",
        Cancel => "cancel",
    }
);

impl AttemptState {
    /// Everything except dispatching and dispatched is final.
    pub fn is_terminal(self) -> bool {
        !self.is_in_flight()
    }

    /// Dispatching or dispatched: a result may still arrive.
    pub fn is_in_flight(self) -> bool {
        matches!(self, Self::Dispatching | Self::Dispatched)
    }

    /// The state after `event`, or an error if `event` is not allowed now.
    pub fn apply(self, event: AttemptEvent) -> Result<Self, TransitionError> {
        use AttemptEvent as E;
        use AttemptState as S;
        match (self, event) {
            (S::Dispatching, E::Accepted) => Ok(S::Dispatched),
            (s, E::Complete) if s.is_in_flight() => Ok(S::Completed),
            (s, E::Fail) if s.is_in_flight() => Ok(S::Failed),
            (s, E::Lose) if s.is_in_flight() => Ok(S::Lost),
            (s, E::Cancel) if s.is_in_flight() => Ok(S::Cancelled),
            (s, e) => Err(reject("attempt", s, e)),
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

named_enum!("inbox row state",
    /// A stored callback delivery (`callback_inbox.state`).
    InboxState {
        /// Stored; not yet applied (or waiting for its attempt).
        Pending => "pending",
        /// Applied.
        Processed => "processed",
        /// The same delivery was applied before.
        Duplicate => "duplicate",
        /// Refused (unauthenticated, unreadable, unknown vendor), kept for audit.
        Rejected => "rejected",
    }
);
