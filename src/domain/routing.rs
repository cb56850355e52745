//! Which vendor dials a contact's next attempt: the campaign's redial strategy
//! applied to its weighted vendor list, skipping vendors that are out of
//! rotation (open circuit) or at their concurrency cap.

use rand::Rng;
use serde::{Deserialize, Serialize};

crate::domain::named_enum::named_enum!(
    /// How a campaign picks the vendor for a redial.
    RedialStrategy {
        /// Keep the vendor of the previous attempt while it is usable.
        Same => "same",
        /// Next vendor in the campaign's list on every attempt.
        Rotate => "rotate",
        /// Keep the vendor, move to the next one only after a vendor-side failure.
        Failover => "failover",
    }
);

impl RedialStrategy {
    /// `failover`: what a campaign gets when its config names no strategy.
    pub const DEFAULT: RedialStrategy = RedialStrategy::Failover;
}

/// One routed vendor as seen by a claim: its weight and free slots right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub vendor_id: String,
    pub weight: u32,
    pub free: u64,
}

/// What is known of a contact's previous attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousAttempt {
    pub vendor_id: Option<String>,
    /// The previous attempt failed on the vendor's side (refused, cancelled
    /// before dialing, never received).
    pub vendor_failed: bool,
}

/// Pick the vendor for one attempt and take one of its free slots. `None`
/// when no routed vendor has a free slot. First attempts (and fallbacks when
/// the preferred vendor is full) use a weighted random choice.
pub fn choose_vendor(
    strategy: RedialStrategy,
    routes: &mut [Route],
    previous: &PreviousAttempt,
    rng: &mut impl Rng,
) -> Option<String> {
    let position = previous.vendor_id.as_ref().and_then(|v| routes.iter().position(|r| &r.vendor_id == v));
    let preferred = match (strategy, position) {
        (_, None) => None,
        (RedialStrategy::Same, Some(i)) => Some(i),
        (RedialStrategy::Failover, Some(i)) if !previous.vendor_failed => Some(i),
        // Rotate, or failover after a vendor failure: the next usable vendor
        // after the previous one, wrapping around, the previous one last.
        (_, Some(i)) => (1..=routes.len()).map(|k| (i + k) % routes.len()).find(|j| routes[*j].free > 0),
    };
    if let Some(i) = preferred.filter(|i| routes[*i].free > 0) {
        routes[i].free -= 1;
        return Some(routes[i].vendor_id.clone());
    }
    weighted(routes, rng)
}

/// Weighted random choice among routes with a free slot; takes the slot.
fn weighted(routes: &mut [Route], rng: &mut impl Rng) -> Option<String> {
    let total: u64 = routes.iter().filter(|r| r.free > 0).map(|r| u64::from(r.weight.max(1))).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.random_range(0..total);
    for r in routes.iter_mut().filter(|r| r.free > 0) {
        let w = u64::from(r.weight.max(1));
        if roll < w {
            r.free -= 1;
            return Some(r.vendor_id.clone());
        }
        roll -= w;
    }
    None
}

/// What the claim needs of a vendor in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorSlot {
    /// Concurrency cap.
    pub cap: u32,
    /// Redials it makes on its own when a campaign allows them.
    pub own_redials: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn routes(free: &[u64]) -> Vec<Route> {
        free.iter().enumerate().map(|(i, f)| Route { vendor_id: format!("v{i}"), weight: 1, free: *f }).collect()
    }

    fn prev(v: &str, failed: bool) -> PreviousAttempt {
        PreviousAttempt { vendor_id: Some(v.into()), vendor_failed: failed }
    }

    #[test]
    fn each_strategy_picks_as_documented() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let cases = [
            (RedialStrategy::Same, prev("v1", false), "v1"),
            (RedialStrategy::Same, prev("v1", true), "v1"),
            (RedialStrategy::Rotate, prev("v1", false), "v2"),
            (RedialStrategy::Rotate, prev("v2", false), "v0"),
            (RedialStrategy::Failover, prev("v1", false), "v1"),
            (RedialStrategy::Failover, prev("v1", true), "v2"),
            (RedialStrategy::Failover, prev("v2", true), "v0"),
        ];
        for (strategy, previous, want) in cases {
            let mut r = routes(&[5, 5, 5]);
            assert_eq!(
                choose_vendor(strategy, &mut r, &previous, &mut rng).as_deref(),
                Some(want),
                "{strategy} {previous:?}"
            );
            assert_eq!(r.iter().map(|r| r.free).sum::<u64>(), 14, "one slot taken");
        }
    }

    #[test]
    fn full_or_missing_vendors_are_skipped() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        // Rotate from v0 with v1 full goes to v2.
        let mut r = routes(&[5, 0, 5]);
        assert_eq!(choose_vendor(RedialStrategy::Rotate, &mut r, &prev("v0", false), &mut rng).as_deref(), Some("v2"));
        // Same vendor full (or out of rotation, so not routed): any other one.
        let mut r = routes(&[0, 3, 0]);
        assert_eq!(choose_vendor(RedialStrategy::Same, &mut r, &prev("v0", false), &mut rng).as_deref(), Some("v1"));
        let mut r = routes(&[3]);
        assert_eq!(choose_vendor(RedialStrategy::Same, &mut r, &prev("gone", false), &mut rng).as_deref(), Some("v0"));
        // Rotation with only the previous vendor usable keeps it.
        let mut r = routes(&[0, 2]);
        assert_eq!(choose_vendor(RedialStrategy::Rotate, &mut r, &prev("v1", false), &mut rng).as_deref(), Some("v1"));
        let mut r = routes(&[0, 0]);
        assert_eq!(choose_vendor(RedialStrategy::Rotate, &mut r, &PreviousAttempt::default(), &mut rng), None);
    }

    #[test]
    fn first_attempts_follow_the_weights() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut counts = [0u32; 2];
        for _ in 0..4000 {
            let mut r = vec![
                Route { vendor_id: "a".into(), weight: 3, free: 10 },
                Route { vendor_id: "b".into(), weight: 1, free: 10 },
            ];
            let v = choose_vendor(RedialStrategy::Rotate, &mut r, &PreviousAttempt::default(), &mut rng).unwrap();
            counts[usize::from(v == "b")] += 1;
        }
        assert!((2800..3200).contains(&counts[0]), "{counts:?}");
    }
}
