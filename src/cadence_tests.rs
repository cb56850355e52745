//! On tokio's paused clock, a round's length is a simulated `sleep` and the
//! start of each round is read off that clock: no real time passes, and the
//! figures are exact.

use super::Cadence;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The start of each round, as milliseconds after the first, when the
/// rounds take `lengths` in turn.
async fn starts(period_ms: u64, lengths_ms: &[u64]) -> Vec<u64> {
    let origin = Instant::now();
    let never = CancellationToken::new();
    let mut cadence = Cadence::every(Duration::from_millis(period_ms));
    let mut starts = Vec::new();
    for length in lengths_ms {
        assert!(cadence.next(never.cancelled()).await);
        starts.push(u64::try_from(origin.elapsed().as_millis()).unwrap());
        tokio::time::sleep(Duration::from_millis(*length)).await;
    }
    starts
}

#[tokio::test(start_paused = true)]
async fn a_round_shorter_than_the_period_keeps_the_period_start_to_start() {
    // Sleeping the period after each round would start them at 0, 1300, 2600.
    assert_eq!(starts(1000, &[300, 300, 300]).await, vec![0, 1000, 2000]);
}

#[tokio::test(start_paused = true)]
async fn a_round_longer_than_the_period_is_followed_at_once_never_overlapped() {
    assert_eq!(starts(1000, &[1500, 1500, 1500, 1500]).await, vec![0, 1500, 3000, 4500]);
    // No catching up after a long round either: the rounds it missed are
    // not run back to back (that would be 0, 2500, 2600, 3000, 4000).
    assert_eq!(starts(1000, &[2500, 100, 100, 100]).await, vec![0, 2500, 3500, 4500]);
}

#[tokio::test(start_paused = true)]
async fn stopping_wins_over_a_due_round_and_ends_a_wait() {
    let stop = CancellationToken::new();
    let mut cadence = Cadence::every(Duration::from_millis(1000));
    stop.cancel();
    // The first round is due at once, and the stop is ready too.
    assert!(!cadence.next(stop.cancelled()).await);

    let stop = CancellationToken::new();
    let mut cadence = Cadence::every(Duration::from_millis(1000));
    assert!(cadence.next(stop.cancelled()).await);
    let origin = Instant::now();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    assert!(!cadence.next(stop.cancelled()).await);
    assert_eq!(
        origin.elapsed(),
        Duration::from_millis(200),
        "the wait ends when the stop comes, not at the next round"
    );
}
