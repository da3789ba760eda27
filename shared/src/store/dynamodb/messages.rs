//! Messages: room messages numbered by the room's `seq` (the room item's conditional update
//! is the ordering), whispers and group messages by a fresh message id; each append also
//! claims its message id (the claim locates the message for good), with a `clientMsgId` its
//! idempotency key and, for a whisper, raises both users' partner items to it, all in one
//! transaction. Then history, read back a page at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use super::items::{
    MESSAGE_ID_WIDTH, SEQ_WIDTH, group_messages_pk, idempotency_key, largest_position, locator_key, message_from_item,
    message_sk, partner_key, profile_key, room_key, room_pk, string_list, user_from_item, whisper_pk,
};
use super::{Bounds, DynamoStore, MAX_ATTEMPTS};
use crate::clock::now_ms;
use crate::domain::{MessageId, RoomId};
use crate::dynamodb::codec::{key, n, s};
use crate::dynamodb::read::SortKey;
use crate::dynamodb::write::{Cancelled, Write};
use crate::dynamodb::{DynamoError, Item, ItemExt, TTL, backoff};
use crate::store::sql::IDEMPOTENCY_WINDOW_MS;
use crate::store::{HistoryPage, HistoryScope, NewMessage, StoreError, StoreResult, StoredMessage, UserRecord};

/// A fresh message id: milliseconds times 1000 plus a random part, so ids sort in the order
/// messages were stored (across instances as closely as their clocks agree), and strictly
/// increasing within this process. The claim item written with the message makes it unique.
pub(super) fn next_message_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let mut random = [0u8; 2];
    // Without randomness the id is still unique (the claim), only likelier to collide.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    let candidate = now_ms() * 1000 + i64::from(u16::from_le_bytes(random) % 1000);
    let previous = LAST.fetch_max(candidate, Ordering::Relaxed);
    if candidate > previous { candidate } else { LAST.fetch_add(1, Ordering::Relaxed) + 1 }
}

/// How one attempt at an append ended.
enum Attempt {
    Stored(StoredMessage),
    /// The `clientMsgId` is taken: the message was stored before (unless that expired since).
    Duplicate,
    /// Another append took this `seq`, or the room closed: the room item as it was, when the
    /// cancellation handed it back.
    SeqTaken(Option<Item>),
    /// Another instance drew the same message id.
    IdTaken,
    /// The whisper's partner item of `.0` (0: the sender's, 1: the recipient's) holds a
    /// later whisper already: it stays as it is.
    PartnerNewer(usize),
    /// Lost to a concurrent transaction on one of the items.
    Raced(Cancelled),
}

impl DynamoStore {
    /// Appends the message, retrying lost races: a `seq` taken by another append goes on from
    /// the current one, a message id drawn twice draws again, a `clientMsgId` already used
    /// answers with the message stored under it.
    pub(super) async fn append(&self, message: &NewMessage) -> StoreResult<StoredMessage> {
        let mut expected_seq = match message.room_id {
            None => None,
            Some(room_id) => match self.seq_hint(room_id) {
                Some(seq) => Some(seq),
                // A retry of a message already stored is answered even when the room closed since.
                None => match self.room_seq(room_id).await? {
                    Some(seq) => Some(seq),
                    None => return self.replay(message).await?.ok_or(StoreError::NotFound),
                },
            },
        };
        let mut message_id = next_message_id();
        let mut partners_newer = [false; 2];
        for attempt in 0..MAX_ATTEMPTS {
            let outcome = self.try_append(message, expected_seq, message_id, partners_newer).await?;
            if !matches!(outcome, Attempt::Stored(_) | Attempt::PartnerNewer(_)) {
                // A retry much later would sort among messages stored meanwhile: draw again.
                (message_id, partners_newer) = (next_message_id(), [false; 2]);
            }
            match outcome {
                Attempt::Stored(stored) => {
                    if let (Some(room_id), Some(seq)) = (message.room_id, stored.seq) {
                        self.remember_seq(room_id, seq);
                    }
                    return Ok(stored);
                }
                Attempt::Duplicate => {
                    if let Some(original) = self.replay(message).await? {
                        return Ok(original);
                    }
                    // It expired in between: try again as a new message.
                }
                Attempt::SeqTaken(room) => {
                    // Go on from the current seq, unless the room closed.
                    let room_id = message.room_id.unwrap_or(RoomId::LOBBY);
                    let current = match room {
                        Some(room) if room.contains_key("closed_at") => None,
                        Some(room) => Some(room.number("seq")?.unwrap_or(0)),
                        None => self.room_seq(room_id).await?,
                    };
                    match current {
                        Some(seq) => {
                            expected_seq = Some(seq);
                            self.remember_seq(room_id, seq);
                        }
                        None => return self.replay(message).await?.ok_or(StoreError::NotFound),
                    }
                    backoff(attempt).await;
                }
                Attempt::IdTaken => {}
                Attempt::PartnerNewer(which) => partners_newer[which] = true,
                Attempt::Raced(cancelled) => {
                    tracing::debug!(codes = ?cancelled.codes(), "append lost a race; retrying");
                    backoff(attempt).await;
                }
            }
        }
        Err(DynamoError::Contended { operation: "append", attempts: MAX_ATTEMPTS }.into())
    }

    /// One transaction: the room's `seq` from `expected_seq` to the next (room messages),
    /// the message, its id claim (with its location), its idempotency key and, for a whisper,
    /// the partner items not known to hold a later whisper.
    async fn try_append(
        &self,
        message: &NewMessage,
        expected_seq: Option<i64>,
        message_id: i64,
        partners_newer: [bool; 2],
    ) -> StoreResult<Attempt> {
        let now = now_ms();
        let seq = expected_seq.map(|seq| seq + 1);
        let mut writes = Vec::new();
        let (pk, sk, mut item) = match (message.room_id, &message.group_id, &message.recipient) {
            (Some(room_id), _, _) => {
                let (expected, next) = (expected_seq.unwrap_or(0), seq.unwrap_or(1));
                // The lobby's item is created by its first message.
                let condition = match (room_id.is_lobby(), expected) {
                    (true, 0) => "attribute_not_exists(#seq)",
                    (true, _) => "#seq = :expected",
                    (false, _) => "#seq = :expected AND attribute_not_exists(#closed_at)",
                };
                // A lost race returns the room as it is: the next attempt needs no read.
                writes.push(
                    Write::update(room_key(room_id), "SET #seq = :next, #room_id = :room")
                        .condition(condition)
                        .values(&[(":next", n(next)), (":room", n(room_id.get())), (":expected", n(expected))])
                        .old_on_failure(),
                );
                let item = HashMap::from([("room_id".to_owned(), n(room_id.get())), ("seq".to_owned(), n(next))]);
                (room_pk(room_id), message_sk(next, SEQ_WIDTH), item)
            }
            (None, Some(group_id), _) => {
                let item = HashMap::from([("group_id".to_owned(), s(group_id.as_str()))]);
                (group_messages_pk(group_id), message_sk(message_id, MESSAGE_ID_WIDTH), item)
            }
            (None, None, Some(recipient)) => {
                let item = HashMap::from([("recipient".to_owned(), s(recipient.as_str()))]);
                (whisper_pk(&message.sender, recipient), message_sk(message_id, MESSAGE_ID_WIDTH), item)
            }
            (None, None, None) => {
                return Err(StoreError::Corrupt("a message needs a room, group or recipient".into()));
            }
        };
        let place = (s(&pk), s(&sk));
        let mut claim = locator_key(message_id);
        claim.insert("at_pk".into(), place.0.clone());
        claim.insert("at_sk".into(), place.1.clone());
        item.extend(key(pk, sk));
        item.insert("message_id".into(), n(message_id));
        item.insert("sender".into(), s(message.sender.as_str()));
        item.insert("text".into(), s(message.text.as_str()));
        item.insert("sent_at".into(), n(now));
        if let Some(mentions) = string_list(message.mentions.iter().map(|user| user.as_str())) {
            item.insert("mentions".into(), mentions);
        }
        let message_index = writes.len();
        let said = (s(message.sender.as_str()), s(message.text.as_str()));
        writes.push(Write::put(item).condition("attribute_not_exists(#pk)").old_on_failure());
        let claim_index = writes.len();
        writes.push(Write::put(claim).condition("attribute_not_exists(#pk)").old_on_failure());
        let partner_index = writes.len();
        let mut partner_writes = 0;
        if let (None, None, Some(recipient)) = (message.room_id, &message.group_id, &message.recipient) {
            let pairs = [(&message.sender, recipient), (recipient, &message.sender)];
            // A whisper to oneself has one partner item; a transaction names a key once.
            let distinct = if message.sender == *recipient { 1 } else { 2 };
            for (which, (user, partner)) in pairs.into_iter().enumerate().take(distinct) {
                if partners_newer[which] {
                    continue;
                }
                partner_writes += 1;
                writes.push(
                    Write::update(partner_key(user, partner), "SET #last_id = :id")
                        .condition("attribute_not_exists(#last_id) OR #last_id < :id")
                        .values(&[(":id", n(message_id))]),
                );
            }
        }
        let partner_which = |index: usize| if partners_newer[0] { 1 } else { index - partner_index };
        let idempotency_index = writes.len();
        if let Some(client_msg_id) = &message.client_msg_id {
            let mut idem = idempotency_key(&message.sender, client_msg_id);
            idem.insert("message_id".into(), n(message_id));
            if let Some(seq) = seq {
                idem.insert("seq".into(), n(seq));
            }
            idem.insert("sent_at".into(), n(now));
            idem.insert("expires_at".into(), n(now + IDEMPOTENCY_WINDOW_MS));
            idem.insert(TTL.into(), n((now + IDEMPOTENCY_WINDOW_MS) / 1000 + 1));
            writes.push(
                Write::put(idem)
                    .condition("attribute_not_exists(#pk) OR #expires_at < :now")
                    .values(&[(":now", n(now))]),
            );
        }
        let mut cancelled = match self.table.transact(writes).await? {
            Ok(()) => {
                let message_id = MessageId::from_stored(message_id);
                return Ok(Attempt::Stored(StoredMessage { message_id, seq, sent_at_ms: now, duplicate: false }));
            }
            Err(cancelled) => cancelled,
        };
        // The SDK sends a transaction again when its answer was lost. DynamoDB answers such a
        // retry by its request token, but a store that does not (an emulator) cancels it on the
        // very items the first one wrote: this id claimed for this place, holding this message.
        let written_before = cancelled
            .take_item(claim_index)
            .is_some_and(|claimed| claimed.get("at_pk") == Some(&place.0) && claimed.get("at_sk") == Some(&place.1))
            && cancelled
                .take_item(message_index)
                .is_some_and(|stored| stored.get("sender") == Some(&said.0) && stored.get("text") == Some(&said.1));
        Ok(if written_before {
            let message_id = MessageId::from_stored(message_id);
            Attempt::Stored(StoredMessage { message_id, seq, sent_at_ms: now, duplicate: false })
        } else if message.client_msg_id.is_some() && cancelled.failed(idempotency_index) {
            Attempt::Duplicate
        } else if let Some(index) = (partner_index..partner_index + partner_writes).find(|at| cancelled.failed(*at)) {
            Attempt::PartnerNewer(partner_which(index))
        } else if message.room_id.is_some() && cancelled.failed(0) {
            Attempt::SeqTaken(cancelled.take_item(0))
        } else if cancelled.failed(claim_index) || cancelled.failed(message_index) {
            Attempt::IdTaken
        } else {
            Attempt::Raced(cancelled)
        })
    }

    /// The room's current `seq`, or `None` when there is no open room to append to.
    async fn room_seq(&self, room_id: RoomId) -> StoreResult<Option<i64>> {
        let item = self.table.get_item(room_key(room_id)).await?;
        let seq = match item {
            // The lobby's item appears with its first message.
            None if room_id.is_lobby() => Some(0),
            None => None,
            Some(item) if item.contains_key("closed_at") => None,
            Some(item) => Some(item.number("seq")?.unwrap_or(0)),
        };
        if let Some(seq) = seq {
            self.remember_seq(room_id, seq);
        }
        Ok(seq)
    }

    fn seq_hint(&self, room_id: RoomId) -> Option<i64> {
        self.seq_hints.lock().ok().and_then(|hints| hints.get(&room_id.get()).copied())
    }

    fn remember_seq(&self, room_id: RoomId, seq: i64) {
        if let Ok(mut hints) = self.seq_hints.lock() {
            hints.insert(room_id.get(), seq);
        }
    }

    /// The message stored under this sender's `clientMsgId`, if still within the window.
    async fn replay(&self, message: &NewMessage) -> StoreResult<Option<StoredMessage>> {
        let Some(client_msg_id) = &message.client_msg_id else { return Ok(None) };
        let Some(item) = self.table.get_item(idempotency_key(&message.sender, client_msg_id)).await? else {
            return Ok(None);
        };
        if item.required_number("expires_at")? < now_ms() {
            return Ok(None);
        }
        Ok(Some(StoredMessage {
            message_id: MessageId::from_stored(item.required_number("message_id")?),
            seq: item.number("seq")?,
            sent_at_ms: item.required_number("sent_at")?,
            duplicate: true,
        }))
    }

    pub(super) async fn page(&self, scope: &HistoryScope, bounds: Bounds, limit: u32) -> StoreResult<HistoryPage> {
        let (pk, width) = match scope {
            HistoryScope::Room(room_id) => (room_pk(*room_id), SEQ_WIDTH),
            HistoryScope::Whisper(a, b) => (whisper_pk(a, b), MESSAGE_ID_WIDTH),
            HistoryScope::Group(group_id) => (group_messages_pk(group_id), MESSAGE_ID_WIDTH),
        };
        let lowest = bounds.after.map_or(0, |after| after.saturating_add(1)).max(0);
        let highest = bounds.before.map_or(i64::MAX, |before| before.saturating_sub(1));
        let highest = highest.min(largest_position(width));
        if lowest > highest || limit == 0 {
            return Ok(HistoryPage { messages: Vec::new(), has_more: false });
        }
        let newest_first = bounds.after.is_none();
        let wanted = limit as usize + 1;
        let query = self.table.query(pk, SortKey::Between(message_sk(lowest, width), message_sk(highest, width)));
        let items = if newest_first { query.backward() } else { query }.limit(wanted).items().await?;
        let has_more = items.len() > limit as usize;
        let items = &items[..items.len().min(limit as usize)];
        let senders = self.senders(items).await?;
        let mut messages = Vec::with_capacity(items.len());
        for item in items {
            // As the SQL store's join: a message shows its sender as they are now.
            let Some(sender) = senders.get(item.required_string("sender")?) else { continue };
            messages.push(message_from_item(item, sender)?);
        }
        if newest_first {
            messages.reverse();
        }
        Ok(HistoryPage { messages, has_more })
    }

    /// The senders' current nick and group, as history shows them.
    pub(super) async fn senders(&self, items: &[Item]) -> StoreResult<HashMap<String, UserRecord>> {
        let ids = items.iter().filter_map(|item| item.string("sender"));
        self.profiles(ids)
            .await?
            .iter()
            .map(|item| Ok(user_from_item(item).map(|user| (user.user_id.as_str().to_owned(), user))?))
            .collect()
    }

    /// The profile items of these users that exist, each asked for once (`BatchGetItem`
    /// refuses a request that names a key twice).
    pub(super) async fn profiles<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) -> StoreResult<Vec<Item>> {
        let unique: std::collections::HashSet<&str> = user_ids.into_iter().collect();
        let found = self.table.get_many(unique.into_iter().map(profile_key).collect()).await?;
        Ok(found.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_increase_and_fit_the_wire_width() {
        let ids: Vec<i64> = (0..1000).map(|_| next_message_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids.iter().all(|id| id.to_string().len() <= MESSAGE_ID_WIDTH));
    }
}
