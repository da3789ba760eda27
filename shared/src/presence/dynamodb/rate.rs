//! Rate limits on the table: one item per key counting attempts in the slots of a sliding
//! window.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::ReturnValue;

use super::items::{epoch, expires_in, millis, rate_key};
use super::{DynamoPresence, MAX_ATTEMPTS};
use crate::dynamodb::codec::n;
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, TTL, backoff};

/// The rate-limit window is counted in this many slots; see [`DynamoPresence::hit`].
const RATE_SLOTS: u64 = 10;

impl DynamoPresence {
    /// Counts one attempt against `key` in one conditional `UpdateItem`.
    ///
    /// The window slides in [`RATE_SLOTS`] steps: attempts are counted per slot of
    /// `window / 10` (rounded up), and an attempt stops counting when its slot leaves the
    /// window, i.e. between 9/10 of `window` and `window` after it was made. Refused attempts
    /// count too, as in the other implementations. Each update also removes the slots that
    /// just left the window, so the item holds at most 11 slots; `until` (last attempt plus
    /// the window) tells a live window from an idle one, which is replaced whole instead,
    /// because slots older than one window may still be in it.
    pub(super) async fn hit(&self, rate: &str, limit: u32, window: Duration) -> Result<Option<Duration>, DynamoError> {
        let window_ms = millis(window).max(1);
        let ttl_secs = window_ms.div_ceil(1000) + 1;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let now = millis(epoch());
            let sliding = SlidingWindow::new(window_ms, now);
            let (slots, current) = (sliding.slots, sliding.current);
            let gone: Vec<String> = (current.saturating_sub(2 * slots)..=current.saturating_sub(slots))
                .filter(|slot| *slot + slots <= current)
                .map(|slot| format!("#w{slot}"))
                .collect();
            let mut update = format!("SET #until = :until, #ttl = :ttl ADD #w{current} :one");
            if !gone.is_empty() {
                update = format!("SET #until = :until, #ttl = :ttl REMOVE {} ADD #w{current} :one", gone.join(", "));
            }
            let counted = Write::update(rate_key(rate), update)
                .condition("attribute_not_exists(#until) OR #until > :now")
                .values(&[
                    (":until", n(now + window_ms)),
                    (":ttl", expires_in(ttl_secs)),
                    (":one", n(1)),
                    (":now", n(now)),
                ])
                .returning(ReturnValue::AllNew);
            match self.table.try_write(counted).await? {
                Ok(attributes) => {
                    return Ok(sliding.verdict(&slot_counts(attributes.as_ref()), limit, Counted::ThisOne));
                }
                Err(Refused::Conflict(_)) => continue,
                Err(Refused::Condition(_)) => {}
            }
            // Idle for a whole window: this attempt starts a new one.
            let mut item = rate_key(rate);
            item.insert(format!("w{current}"), n(1));
            item.insert("until".into(), n(now + window_ms));
            item.insert(TTL.into(), expires_in(ttl_secs));
            let restart = Write::put(item).condition("#until <= :now").values(&[(":now", n(now))]);
            // Refused: another attempt restarted or counted first; count again.
            if self.table.try_write(restart).await?.is_ok() {
                return Ok(sliding.verdict(&BTreeMap::from([(current, 1)]), limit, Counted::ThisOne));
            }
        }
        Err(DynamoError::Contended { operation: "hit_rate_limit", attempts: MAX_ATTEMPTS })
    }

    /// How long until one more attempt against `key` would pass; one consistent `GetItem`.
    pub(super) async fn wait(&self, key: &str, limit: u32, window: Duration) -> Result<Option<Duration>, DynamoError> {
        let item = self.table.get_item(rate_key(key)).await?;
        // Slots that have left the window do not count, however old the item.
        let window = SlidingWindow::new(millis(window).max(1), millis(epoch()));
        Ok(window.verdict(&slot_counts(item.as_ref()), limit, Counted::EarlierOnly))
    }
}

fn slot_counts(item: Option<&Item>) -> BTreeMap<u64, u64> {
    item.into_iter()
        .flatten()
        .filter_map(|(name, value)| {
            let slot = name.strip_prefix('w')?.parse().ok()?;
            Some((slot, value.as_n().ok()?.parse().ok()?))
        })
        .collect()
}

/// Whether the counts a verdict reads include the attempt being judged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    ThisOne,
    EarlierOnly,
}

/// A rate window of `window_ms` as seen at `now`: [`RATE_SLOTS`] slots, `current` the one
/// `now` falls in.
struct SlidingWindow {
    window_ms: u64,
    slots: u64,
    slot_ms: u64,
    current: u64,
    now: u64,
}

impl SlidingWindow {
    fn new(window_ms: u64, now: u64) -> Self {
        let slots = RATE_SLOTS.min(window_ms);
        let slot_ms = window_ms.div_ceil(slots);
        Self { window_ms, slots, slot_ms, current: now / slot_ms, now }
    }

    /// `None` when the attempt judged is within `limit` of the attempts still in the window;
    /// else how long until enough of them have left it for one more to pass.
    fn verdict(&self, counts: &BTreeMap<u64, u64>, limit: u32, counted: Counted) -> Option<Duration> {
        let counted_slots: Vec<(u64, u64)> =
            counts.iter().filter(|(slot, _)| **slot + self.slots > self.current).map(|(s, c)| (*s, *c)).collect();
        let total: u64 = counted_slots.iter().map(|(_, c)| c).sum();
        let limit = u64::from(limit);
        let judged = if counted == Counted::ThisOne { total } else { total + 1 };
        if judged <= limit {
            return None;
        }
        // Once this many of the oldest recorded attempts have left, one more is within the limit.
        let must_leave = (total + 1).saturating_sub(limit);
        let mut left = 0;
        for (slot, count) in counted_slots {
            left += count;
            if left >= must_leave {
                let leaves_at = (slot + self.slots) * self.slot_ms;
                return Some(Duration::from_millis(leaves_at.saturating_sub(self.now).clamp(1, self.window_ms)));
            }
        }
        Some(Duration::from_millis(self.window_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_waits_for_the_oldest_counted_attempts() {
        // Window 1000 ms in slots of 100; attempts in slots 10, 12 and 15, now 1590 ms (slot 15).
        let counts = BTreeMap::from([(10, 1), (12, 1), (15, 1), (3, 7)]);
        let window = SlidingWindow::new(1000, 1590);
        assert_eq!(window.verdict(&counts, 3, Counted::ThisOne), None, "slot 3 left the window");
        // Over by one: once slots 10 and 12 leave (at (12 + 10) * 100 = 2200), one more fits.
        assert_eq!(window.verdict(&counts, 2, Counted::ThisOne), Some(Duration::from_millis(610)));
        // Limit 0 refuses everything, for a whole window.
        assert_eq!(window.verdict(&counts, 0, Counted::ThisOne), Some(Duration::from_millis(1000)));
    }

    #[test]
    fn a_peek_judges_one_more_attempt_than_recorded() {
        let counts = BTreeMap::from([(10, 1), (12, 1), (15, 1)]);
        let window = SlidingWindow::new(1000, 1590);
        assert_eq!(window.verdict(&counts, 4, Counted::EarlierOnly), None);
        // Three recorded, limit 3: one more is allowed once slot 10 leaves at 2000 ms.
        assert_eq!(window.verdict(&counts, 3, Counted::EarlierOnly), Some(Duration::from_millis(410)));
    }
}
