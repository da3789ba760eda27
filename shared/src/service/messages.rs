//! `chat.send` and `chat.history`.

use super::{Caller, Chat, Delivery, ServiceError, to_user, unregistered};
use crate::clock::rfc3339_ms;
use crate::domain::{Bounds, ClientMsgId, ConnectionId, MessageKind, MessageText, RoomId, UserId, mention_candidates};
use crate::protocol::{Event, History, HistoryTarget, Message, Sent, User};
use crate::store::{HistoryScope, MessageRecord, NewMessage, RoomInsert, StoreError, StoredMessage};

pub(super) fn to_message(record: MessageRecord) -> Message {
    Message {
        message_id: record.message_id,
        kind: record.kind,
        room_id: record.room_id,
        group_id: record.group_id,
        to: record.recipient,
        from: User { user_id: record.sender, nick: record.sender_nick, group_id: record.sender_group },
        deleted: record.text.is_none(),
        text: record.text.map(|text| text.as_str().to_owned()).unwrap_or_default(),
        sent_at: rfc3339_ms(record.sent_at_ms),
        seq: record.seq,
        edited_at: record.edited_at_ms.map(rfc3339_ms),
        reactions: record.reactions,
        mentions: record.mentions,
    }
}

/// The most a history page's messages may take as JSON: API Gateway's 128 KB message
/// limit, less room for the reply's envelope.
const HISTORY_PAGE_BYTES: usize = 120 * 1024;

/// Drops items from the end away from `keep_front` (or from the front, when `keep_front`
/// is false) until the rest fits [`HISTORY_PAGE_BYTES`] as JSON; true when any were dropped.
pub(super) fn trim_to_frame<T: serde::Serialize>(items: &mut Vec<T>, keep_front: bool) -> bool {
    let mut total = 0;
    let mut within = |item: &&T| {
        total += serde_json::to_string(*item).map_or(0, |json| json.len() + 1);
        total <= HISTORY_PAGE_BYTES
    };
    let fits = if keep_front {
        items.iter().take_while(&mut within).count()
    } else {
        items.iter().rev().take_while(&mut within).count()
    };
    if fits == items.len() {
        return false;
    }
    if keep_front {
        items.truncate(fits);
    } else {
        items.drain(..items.len() - fits);
    }
    true
}

/// The reply to a `chat.send`.
fn sent_reply(stored: &StoredMessage) -> Sent {
    Sent { message_id: stored.message_id, seq: stored.seq, sent_at: rfc3339_ms(stored.sent_at_ms) }
}

/// The `chat.in` of a message just stored.
fn new_message(message: NewMessage, from: User, stored: &StoredMessage) -> Message {
    Message {
        message_id: stored.message_id,
        kind: message.kind,
        room_id: message.room_id,
        group_id: message.group_id,
        to: message.recipient,
        from,
        text: message.text.as_str().to_owned(),
        sent_at: rfc3339_ms(stored.sent_at_ms),
        seq: stored.seq,
        edited_at: None,
        deleted: false,
        reactions: Vec::new(),
        mentions: message.mentions,
    }
}

impl Chat {
    /// The existing users `text` mentions; a store read only when it has `@` candidates.
    pub(super) async fn mentions_in(&self, text: &MessageText) -> Result<Vec<UserId>, ServiceError> {
        let candidates = mention_candidates(text.as_str());
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let existing = self.store.users(&candidates).await?;
        Ok(candidates.into_iter().filter(|c| existing.iter().any(|user| user.user_id == *c)).collect())
    }

    /// Sends a message: one presence call (connection, limit, audience, sender's face), the
    /// store's write (for room messages an insert and a numbering shared with the room's
    /// other waiting messages), then the fan-out.
    pub(super) async fn chat_send(
        &self,
        connection: &ConnectionId,
        kind: MessageKind,
        text: MessageText,
        to: Option<UserId>,
        client_msg_id: Option<ClientMsgId>,
    ) -> Result<Sent, ServiceError> {
        crate::metrics::CHAT_SENDS.add(1);
        let limits = &self.limits;
        let rate_key = format!("send:{connection}");
        let context = self
            .presence
            .sender_context(connection, &rate_key, limits.chat_sends_per_window, limits.chat_send_window)
            .await?
            .ok_or_else(unregistered)?;
        if let Some(wait) = context.retry_after {
            return Err(ServiceError::rate_limited(wait));
        }
        let (user, room) = (context.info.user, context.info.room);
        let from = match context.profile {
            Some(profile) => User { user_id: user.clone(), nick: profile.nick, group_id: profile.group },
            None => to_user(&self.user_record(&user).await?),
        };
        let mut message = NewMessage {
            kind,
            room_id: None,
            group_id: None,
            sender: user.clone(),
            recipient: None,
            mentions: self.mentions_in(&text).await?,
            text,
            client_msg_id,
        };
        let recipients = match kind {
            MessageKind::All => {
                message.room_id = Some(room);
                let stored = self.send_in_room(room, &message, from, context.room_connections).await?;
                return Ok(sent_reply(&stored));
            }
            MessageKind::Group => {
                let group = from.group_id.clone().ok_or_else(|| ServiceError::Invalid("you are in no group".into()))?;
                let members = self.store.group_members(&group).await?;
                message.group_id = Some(group);
                self.presence.connections_of(&members).await?.into_iter().flatten().collect()
            }
            MessageKind::Whisper => {
                let to = to.ok_or_else(|| ServiceError::Invalid("to is required for a whisper".into()))?;
                if to == user {
                    return Err(ServiceError::Invalid("whisper to someone else".into()));
                }
                let audience = self.presence.connections_of(&[to.clone(), user.clone()]).await?;
                // Presence already proves an online recipient exists; only an offline one
                // costs the store read, and finds the whisper later in its history.
                if audience.first().is_none_or(Vec::is_empty) && self.store.user(&to).await?.is_none() {
                    return Err(ServiceError::NoInfo(format!("no user {to}")));
                }
                message.recipient = Some(to);
                // The recipient's connections (none while offline) and the sender's own (their other tabs).
                audience.into_iter().flatten().collect()
            }
        };
        let stored = self.store.append_message(&message).await?;
        if !stored.duplicate {
            self.deliver(vec![Delivery::new(Event::ChatIn(new_message(message, from, &stored)), recipients)]).await;
        }
        Ok(sent_reply(&stored))
    }

    /// A room (or lobby) message: numbered in the room's `seq` order, then delivered to
    /// `audience` after everything numbered before it.
    async fn send_in_room(
        &self,
        room: RoomId,
        message: &NewMessage,
        from: User,
        audience: Vec<ConnectionId>,
    ) -> Result<StoredMessage, ServiceError> {
        if self.room_order.is_crowded(room) {
            return Err(ServiceError::RateLimited { retry_after_ms: 1000 });
        }
        let closed = |err: StoreError| match err {
            StoreError::NotFound => ServiceError::NoInfo(format!("room {room} is closed")),
            other => ServiceError::from(other),
        };
        if !self.store.numbers_in_batches() {
            // The store numbers as it appends: the turn is held across that one write.
            let mut turn = self.room_order.hold(room).await;
            if turn.store_failed_while_waiting() {
                return Err(ServiceError::Unavailable("the store failed for an earlier message of this room".into()));
            }
            let stored =
                self.store.append_message(message).await.inspect_err(|err| turn.note_failure(err)).map_err(closed)?;
            let mut delivery = turn.queue_delivery();
            if !stored.duplicate {
                delivery.wait_for_earlier().await;
                let event = Event::ChatIn(new_message(message.clone(), from, &stored));
                self.deliver(vec![Delivery::new(event, audience)]).await;
            }
            return Ok(stored);
        }
        // Stored first, without waiting for anyone; numbered together with whatever else
        // waits in the room by then (the records carry each sender's face).
        let own = match self.store.insert_room_message(message).await.map_err(closed)? {
            RoomInsert::Duplicate(stored) => return Ok(stored),
            RoomInsert::Pending(own) => own,
        };
        let mut turn = self.room_order.hold(room).await;
        if let Some(stored) = turn.take_numbered(own) {
            return Ok(stored);
        }
        if turn.store_failed_while_waiting() {
            // Stored, not numbered: the next numbering in this room takes it along.
            return Err(ServiceError::Unavailable("the store failed for an earlier message of this room".into()));
        }
        let numbered = self
            .store
            .number_room_messages(room, own)
            .await
            .inspect_err(|err| turn.note_failure(err))
            .map_err(closed)?;
        turn.remember_numbered(&numbered.batch, own);
        let mut delivery = turn.queue_delivery();
        if !numbered.batch.is_empty() {
            delivery.wait_for_earlier().await;
            let deliveries = numbered
                .batch
                .into_iter()
                .map(|record| Delivery::new(Event::ChatIn(to_message(record)), audience.clone()))
                .collect();
            self.deliver(deliveries).await;
        }
        Ok(numbered.own)
    }

    pub(super) async fn chat_history(
        &self,
        caller: &Caller,
        target: HistoryTarget,
        bounds: Bounds,
        limit: u32,
    ) -> Result<History, ServiceError> {
        let scope = match target {
            HistoryTarget::Room(room) => {
                let room = room.unwrap_or(caller.room);
                if room != caller.room {
                    return Err(ServiceError::Forbidden(format!("only members read room {room}'s history")));
                }
                HistoryScope::Room(room)
            }
            HistoryTarget::Whisper(with) => HistoryScope::Whisper(caller.user.clone(), with),
            HistoryTarget::Group(group) => {
                let own = self.user_record(&caller.user).await?.group_id;
                if own.as_ref() != Some(&group) {
                    return Err(ServiceError::Forbidden(format!("only members read group {group}'s history")));
                }
                HistoryScope::Group(group)
            }
        };
        let page = self.store.history(&scope, bounds, limit).await?;
        let mut messages: Vec<Message> = page.messages.into_iter().map(to_message).collect();
        // A page of long messages can be larger than API Gateway carries in one frame: it
        // is cut to fit, from the side away from where the reader is heading, and says so.
        let keep_oldest = bounds.after.is_some();
        let trimmed = trim_to_frame(&mut messages, keep_oldest);
        Ok(History { messages, has_more: page.has_more || trimmed })
    }
}
