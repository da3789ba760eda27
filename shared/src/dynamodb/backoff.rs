//! The pause before another attempt after a lost race, for every retry loop of the store and
//! presence.

use std::hash::BuildHasher;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest pause, however many races were lost.
const CEILING_MS: u64 = 200;

/// Waits before another attempt, longer after each lost race and at random within that
/// bound ("full jitter"), so that the losers of one race do not collide again in lockstep.
pub async fn backoff(attempt: u32) {
    tokio::time::sleep(pause(attempt, random())).await;
}

/// Between 1 ms and a bound that doubles from 4 ms with each attempt, up to [`CEILING_MS`].
fn pause(attempt: u32, random: u64) -> Duration {
    let bound_ms = (4u64 << attempt.min(6)).min(CEILING_MS);
    Duration::from_millis(1 + random % bound_ms)
}

/// Randomness enough to spread contenders: std's per-instance hash keys, no system call.
fn random() -> u64 {
    // A clock before 1970 only makes the input constant; the keys are random regardless.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    std::collections::hash_map::RandomState::new().hash_one(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_attempts_up_to_the_ceiling() {
        assert_eq!(pause(0, 3), Duration::from_millis(4));
        assert_eq!(pause(0, 4), Duration::from_millis(1));
        assert_eq!(pause(2, 15), Duration::from_millis(16));
        assert_eq!(pause(40, u64::MAX), Duration::from_millis(1 + u64::MAX % CEILING_MS));
        assert!((0..1000).all(|r| pause(9, r) <= Duration::from_millis(CEILING_MS)));
    }
}
