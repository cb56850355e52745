//! Pure domain logic: no I/O, no async, time always passed in as `now`.
//!
//! Everything that decides — may this contact be dialed now, when is the next
//! window, what happens after this outcome — lives here as plain functions so
//! it can be tested across DST changes and midnight without waiting.

pub mod audit;
pub mod call_cost;
pub mod call_event;
pub mod callback_lag;
pub mod campaign;
pub mod campaign_eta;
pub mod campaign_stats;
pub mod claim;
pub mod compliance;
pub mod contact_columns;
pub mod contact_refresh;
pub mod contact_removal;
pub mod duration;
pub mod forwarding;
pub mod holidays;
pub mod inbox_page;
pub mod inbox_wait;
pub mod matching;
pub mod named_enum;
pub mod outcome;
pub mod phone;
pub mod planner_stats;
pub mod predial;
pub mod recall;
pub mod routing;
pub mod scorecard_calls;
pub mod settlement;
pub mod state;
pub mod suppression;
pub mod tags;
pub mod vendor_scorecard;
pub mod window;
pub mod work;
pub mod zones;
