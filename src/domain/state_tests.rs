//! Table tests: every (state, event) pair is checked against a hand-written
//! list of the legal transitions; anything not listed must be rejected.

use super::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Check `apply` over the full cross product against `legal`.
fn check_table<S, E>(
    states: &[S],
    events: &[E],
    legal: &[(S, E, S)],
    apply: impl Fn(S, E) -> Result<S, TransitionError>,
) where
    S: Copy + PartialEq + fmt::Debug + fmt::Display,
    E: Copy + PartialEq + fmt::Debug + fmt::Display,
{
    let mut checked = 0;
    for &s in states {
        for &e in events {
            let expected = legal.iter().find(|(from, ev, _)| *from == s && *ev == e).map(|t| t.2);
            match (apply(s, e), expected) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{s:?} + {e:?}"),
                (Err(err), None) => {
                    assert_eq!(err.from, s.to_string());
                    assert_eq!(err.event, e.to_string());
                }
                (got, want) => panic!("{s:?} + {e:?}: got {got:?}, expected {want:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, states.len() * events.len());
}

#[test]
fn campaign_transitions_match_the_table() {
    use CampaignEvent as E;
    use CampaignState as S;
    let legal = [
        (S::Draft, E::Schedule, S::Scheduled),
        (S::Scheduled, E::Start, S::Running),
        (S::Scheduled, E::Pause, S::Paused),
        (S::Running, E::Pause, S::Paused),
        (S::Paused, E::Resume, S::Running),
        (S::Running, E::Complete, S::Completed),
        (S::Draft, E::Cancel, S::Cancelled),
        (S::Scheduled, E::Cancel, S::Cancelled),
        (S::Running, E::Cancel, S::Cancelled),
        (S::Paused, E::Cancel, S::Cancelled),
    ];
    check_table(S::ALL, E::ALL, &legal, S::apply);
}

#[test]
fn contact_transitions_match_the_table() {
    use ContactEvent as E;
    use ContactState as S;
    let legal = [
        (S::Pending, E::Claim, S::InFlight),
        (S::WaitingRetry, E::Claim, S::InFlight),
        (S::InFlight, E::Retry, S::WaitingRetry),
        (S::InFlight, E::Release, S::Pending),
        (S::InFlight, E::Finish, S::Done),
        (S::Pending, E::Exhaust, S::Exhausted),
        (S::InFlight, E::Exhaust, S::Exhausted),
        (S::WaitingRetry, E::Exhaust, S::Exhausted),
        (S::Pending, E::Stop, S::Stopped),
        (S::InFlight, E::Stop, S::Stopped),
        (S::WaitingRetry, E::Stop, S::Stopped),
        (S::Pending, E::Suppress, S::Suppressed),
        (S::InFlight, E::Suppress, S::Suppressed),
        (S::WaitingRetry, E::Suppress, S::Suppressed),
    ];
    check_table(S::ALL, E::ALL, &legal, S::apply);
}

#[test]
fn attempt_transitions_match_the_table() {
    use AttemptEvent as E;
    use AttemptState as S;
    let mut legal = vec![(S::Dispatching, E::Accepted, S::Dispatched)];
    for from in [S::Dispatching, S::Dispatched] {
        legal.push((from, E::Complete, S::Completed));
        legal.push((from, E::Fail, S::Failed));
        legal.push((from, E::Lose, S::Lost));
        legal.push((from, E::Cancel, S::Cancelled));
    }
    check_table(S::ALL, E::ALL, &legal, S::apply);
}

#[test]
fn error_message_names_entity_event_and_state() {
    let err = ContactState::Done.apply(ContactEvent::Claim).unwrap_err();
    assert_eq!(err.to_string(), "contact: cannot apply `claim` in state `done`");
    let err = CampaignState::Paused.apply(CampaignEvent::Pause).unwrap_err();
    assert_eq!(err.to_string(), "campaign: cannot apply `pause` in state `paused`");
    let err = AttemptState::Lost.apply(AttemptEvent::Complete).unwrap_err();
    assert_eq!(err.to_string(), "attempt: cannot apply `complete` in state `lost`");
}

#[test]
fn predicates_match_the_brief() {
    let terminal: Vec<_> = CampaignState::ALL.iter().filter(|s| s.is_terminal()).collect();
    assert_eq!(terminal, [&CampaignState::Completed, &CampaignState::Cancelled]);
    let active: Vec<_> = CampaignState::ALL.iter().filter(|s| s.is_active()).map(|s| s.as_str()).collect();
    assert_eq!(active, ["scheduled", "running", "paused"]);

    let terminal: Vec<_> = ContactState::ALL.iter().filter(|s| s.is_terminal()).map(|s| s.as_str()).collect();
    assert_eq!(terminal, ["done", "exhausted", "stopped", "suppressed"]);
    let ready: Vec<_> = ContactState::ALL.iter().filter(|s| s.is_dispatchable()).map(|s| s.as_str()).collect();
    assert_eq!(ready, ["pending", "waiting_retry"]);

    let in_flight: Vec<_> = AttemptState::ALL.iter().filter(|s| s.is_in_flight()).map(|s| s.as_str()).collect();
    assert_eq!(in_flight, ["dispatching", "dispatched"]);
    let terminal: Vec<_> = AttemptState::ALL.iter().filter(|s| s.is_terminal()).map(|s| s.as_str()).collect();
    assert_eq!(terminal, ["completed", "failed", "lost", "cancelled"]);
}

#[test]
fn terminal_states_accept_no_event() {
    for s in CampaignState::ALL.iter().filter(|s| s.is_terminal()) {
        assert!(CampaignEvent::ALL.iter().all(|e| s.apply(*e).is_err()), "{s}");
    }
    for s in ContactState::ALL.iter().filter(|s| s.is_terminal()) {
        assert!(ContactEvent::ALL.iter().all(|e| s.apply(*e).is_err()), "{s}");
    }
    for s in AttemptState::ALL.iter().filter(|s| s.is_terminal()) {
        assert!(AttemptEvent::ALL.iter().all(|e| s.apply(*e).is_err()), "{s}");
    }
}

#[test]
fn names_round_trip_through_from_str_display_and_serde() {
    fn check<S>(all: &[S])
    where
        S: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr + Serialize + for<'de> Deserialize<'de>,
        <S as FromStr>::Err: fmt::Debug,
    {
        for s in all {
            let name = s.to_string();
            assert_eq!(name.parse::<S>().unwrap(), *s);
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<S>(&json).unwrap(), *s);
        }
    }
    check(CampaignState::ALL);
    check(ContactState::ALL);
    check(AttemptState::ALL);
    assert_eq!(ContactState::InFlight.as_str(), "in_flight");
    assert_eq!(ContactState::WaitingRetry.as_str(), "waiting_retry");
}

#[test]
fn unknown_state_name_lists_the_valid_ones() {
    let err = "inflight".parse::<ContactState>().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("`inflight`") && msg.contains("in_flight, waiting_retry"), "{msg}");
    assert!("Running".parse::<CampaignState>().is_err(), "names are exact snake_case");
}
