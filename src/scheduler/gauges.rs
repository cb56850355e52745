//! The scheduler's gauges, set each tick from what the tick already knows
//! (no query of their own): the in-flight counts the claim made under its
//! locks against the caps, and whether the campaign's window is open.
//!
//! The counts are database-wide (every instance's attempts), and every
//! instance that ticks a campaign sets them: aggregate with `max`, never
//! `sum`, across instances.

use crate::domain::campaign::Campaign;
use crate::store::claim::InFlight;
use crate::vendors::registry::VendorRegistry;
use chrono::{DateTime, Utc};

/// `campaignd_in_flight{campaign}` and its cap, and
/// `campaignd_vendor_in_flight{vendor}` and its cap for each routed vendor
/// in rotation, as the claim counted them.
pub fn record_in_flight(camp: &Campaign, in_flight: &InFlight, vendors: &VendorRegistry) {
    let campaign = camp.name.clone();
    metrics::gauge!("campaignd_in_flight", "campaign" => campaign.clone()).set(in_flight.campaign as f64);
    metrics::gauge!("campaignd_in_flight_cap", "campaign" => campaign).set(f64::from(camp.max_concurrency));
    for (vendor_id, n) in &in_flight.vendors {
        let Some(vendor) = vendors.get(vendor_id) else { continue };
        metrics::gauge!("campaignd_vendor_in_flight", "vendor" => vendor_id.clone()).set(*n as f64);
        metrics::gauge!("campaignd_vendor_in_flight_cap", "vendor" => vendor_id.clone())
            .set(f64::from(vendor.max_concurrency));
    }
}

/// `campaignd_campaign_window_open{campaign}`: 1 while calls may start in
/// the campaign's zone at `now`, 0 otherwise.
pub fn record_window(camp: &Campaign, now: DateTime<Utc>) {
    let open = if camp.window_open(now) { 1.0 } else { 0.0 };
    metrics::gauge!("campaignd_campaign_window_open", "campaign" => camp.name.clone()).set(open);
}
