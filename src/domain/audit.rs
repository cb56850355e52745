//! The decision audit's vocabulary: every decision about a contact is
//! recorded with one of these kinds and its reason.

/// Decision kinds, as stored in `decisions.kind`.
pub mod kind {
    pub const DISPATCHED: &str = "dispatched";
    pub const SUPPRESSED: &str = "suppressed";
    pub const RETRY: &str = "retry";
    pub const CALLBACK: &str = "callback";
    pub const DONE: &str = "done";
    pub const EXHAUSTED: &str = "exhausted";
    pub const STOPPED: &str = "stopped";
    pub const DEFERRED: &str = "deferred";
}
