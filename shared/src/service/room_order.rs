//! Keeps the messages of one room in `seq` order on their way out of this process, while
//! neither the numbering nor the fan-out waits for the other.
//!
//! A sender takes its room's [`RoomTurn`] only to have its message numbered (a store
//! transaction, which the room's row serialises anyway) and to take a place in the room's
//! delivery line; the fan-out then happens after the turn is given up, once the deliveries
//! queued before it have gone out. Numbering of the next batch thus overlaps the fan-out of
//! the last, and every recipient still sees a room's messages in `seq` order.
//!
//! Rooms share a fixed set of shards (bounded memory); two rooms on one shard only wait for
//! each other.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::domain::{MessageId, RoomId};
use crate::store::{MessageRecord, StoreError, StoredMessage};

const SHARDS: usize = 64;

/// Senders allowed to wait for one shard's turn. Numbering takes everyone waiting along,
/// so a long line means the store is not keeping up: newcomers are told to come back
/// rather than queue for seconds.
const MAX_WAITING_SENDERS: usize = 256;

/// Messages a sender of this process may find numbered by a neighbour's transaction. A
/// sender that went away before looking leaves its entry behind; the oldest are dropped.
const REMEMBERED_NUMBERINGS: usize = 1024;

pub struct RoomOrder {
    shards: Vec<Shard>,
}

struct Shard {
    state: Arc<tokio::sync::Mutex<ShardState>>,
    waiting: AtomicUsize,
}

#[derive(Default)]
struct ShardState {
    /// When the store last failed for a sender holding this turn.
    last_store_failure: Option<Instant>,
    /// Messages of this process's senders that a neighbour's numbering took along.
    numbered_by_neighbours: VecDeque<StoredMessage>,
    /// Resolves (or is dropped) once the delivery queued last has gone out.
    last_delivery: Option<oneshot::Receiver<()>>,
}

impl Default for RoomOrder {
    fn default() -> Self {
        let shards = (0..SHARDS).map(|_| Shard { state: Arc::default(), waiting: AtomicUsize::new(0) }).collect();
        Self { shards }
    }
}

/// Gives a place in a shard's line back however the wait ends (also when cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RoomOrder {
    fn shard(&self, room: RoomId) -> &Shard {
        &self.shards[room.get().unsigned_abs() as usize % self.shards.len()]
    }

    /// True when so many senders already wait for this room's turn that another should be
    /// turned away before it stores anything.
    pub fn is_crowded(&self, room: RoomId) -> bool {
        self.shard(room).waiting.load(Ordering::Acquire) >= MAX_WAITING_SENDERS
    }

    pub async fn hold(&self, room: RoomId) -> RoomTurn {
        let shard = self.shard(room);
        shard.waiting.fetch_add(1, Ordering::AcqRel);
        let _place = Waiting(&shard.waiting);
        let queued_at = Instant::now();
        RoomTurn { state: shard.state.clone().lock_owned().await, queued_at }
    }
}

/// A sender's turn at its room: the numbering and the place in the delivery line.
pub struct RoomTurn {
    state: tokio::sync::OwnedMutexGuard<ShardState>,
    queued_at: Instant,
}

impl RoomTurn {
    /// The store failed for a sender ahead in the line while this one waited: in an
    /// outage, N senders in one room would otherwise hear of it one timeout after another.
    pub fn store_failed_while_waiting(&self) -> bool {
        self.state.last_store_failure.is_some_and(|failed_at| failed_at >= self.queued_at)
    }

    /// Remembers a failure of the store itself for the senders waiting behind.
    pub fn note_failure(&mut self, err: &StoreError) {
        if err.is_unavailable() {
            self.state.last_store_failure = Some(Instant::now());
        }
    }

    /// The caller's message, if a neighbour's numbering in this process already took it.
    pub fn take_numbered(&mut self, own: MessageId) -> Option<StoredMessage> {
        let remembered = &mut self.state.numbered_by_neighbours;
        let index = remembered.iter().position(|m| m.message_id == own)?;
        remembered.remove(index)
    }

    /// Notes the messages a numbering took along, for their senders to find.
    pub fn remember_numbered(&mut self, batch: &[MessageRecord], own: MessageId) {
        let remembered = &mut self.state.numbered_by_neighbours;
        for record in batch.iter().filter(|m| m.message_id != own) {
            if remembered.len() == REMEMBERED_NUMBERINGS {
                remembered.pop_front();
            }
            remembered.push_back(StoredMessage {
                message_id: record.message_id,
                seq: record.seq,
                sent_at_ms: record.sent_at_ms,
                duplicate: false,
            });
        }
    }

    /// Gives up the turn, keeping a place in the delivery line behind everything numbered
    /// before.
    pub fn queue_delivery(mut self) -> DeliveryTurn {
        let (done, next) = oneshot::channel();
        let earlier = self.state.last_delivery.replace(next);
        DeliveryTurn { earlier, _done: done }
    }
}

/// A place in a room's delivery line; the next place moves up when this one is dropped.
pub struct DeliveryTurn {
    earlier: Option<oneshot::Receiver<()>>,
    _done: oneshot::Sender<()>,
}

impl DeliveryTurn {
    /// Waits until the deliveries queued before this one have gone out.
    pub async fn wait_for_earlier(&mut self) {
        if let Some(earlier) = self.earlier.take() {
            // An error only means the earlier place was dropped without sending: done too.
            let _ = earlier.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn deliveries_go_out_in_the_order_their_turns_were_given_up() {
        let order = Arc::new(RoomOrder::default());
        let room = RoomId::from_stored(7);
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for n in 0..5u64 {
            let turn = order.hold(room).await;
            let mut delivery = turn.queue_delivery();
            let sent = sent.clone();
            // Later turns finish their (simulated) network wait sooner.
            tasks.push(tokio::spawn(async move {
                delivery.wait_for_earlier().await;
                tokio::time::sleep(Duration::from_millis(5 * (5 - n))).await;
                sent.lock().unwrap().push(n);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*sent.lock().unwrap(), vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn a_numbering_taken_along_is_found_once() {
        let order = RoomOrder::default();
        let room = RoomId::from_stored(1);
        let record = |id: i64, seq: i64| MessageRecord {
            message_id: MessageId::from_stored(id),
            kind: crate::domain::MessageKind::All,
            room_id: Some(room),
            group_id: None,
            recipient: None,
            sender: crate::domain::UserId::parse("alice").unwrap(),
            sender_nick: crate::domain::Nick::parse("alice").unwrap(),
            sender_group: None,
            text: Some(crate::domain::MessageText::parse("hi").unwrap()),
            sent_at_ms: 0,
            seq: Some(seq),
            edited_at_ms: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
        };
        let mut turn = order.hold(room).await;
        turn.remember_numbered(&[record(10, 1), record(11, 2)], MessageId::from_stored(10));
        assert!(
            turn.take_numbered(MessageId::from_stored(10)).is_none(),
            "the numbering's own sender is not remembered"
        );
        assert_eq!(turn.take_numbered(MessageId::from_stored(11)).and_then(|m| m.seq), Some(2));
        assert!(turn.take_numbered(MessageId::from_stored(11)).is_none());
    }

    #[tokio::test]
    async fn a_line_too_long_turns_newcomers_away() {
        let order = Arc::new(RoomOrder::default());
        let room = RoomId::from_stored(3);
        let held = order.hold(room).await;
        let mut waiters = Vec::new();
        for _ in 0..MAX_WAITING_SENDERS {
            let order = order.clone();
            waiters.push(tokio::spawn(async move { drop(order.hold(room).await) }));
        }
        while !order.is_crowded(room) {
            tokio::task::yield_now().await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert!(!order.is_crowded(room), "the line empties as turns are given");
    }
}
