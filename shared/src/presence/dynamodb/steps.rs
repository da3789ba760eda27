//! The steps that change several items in one `TransactWriteItems`: one attempt each at
//! connecting, moving and disconnecting a connection with the items as believed, and what a
//! cancelled attempt teaches the next one. The retry drivers are the [`super::Presence`]
//! methods.

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};

use super::super::{Connected, ConnectionInfo, Departure, Disconnected, MoveOutcome, Moved, Profile};
use super::items::{
    BACKSTOP_TTL_SECS, CLOSED_MARK_TTL_SECS, LAST_HERE, NOT_LAST_HERE, connection_key, connections_of, epoch,
    expires_in, lease_key, member_key, number, room_key, user_key,
};
use super::{DynamoPresence, MAX_ATTEMPTS};
use crate::domain::{ConnectionId, RoomId, UserId};
use crate::dynamodb::codec::{n, one_member_set, s};
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, TTL, backoff};

/// The writes that take `connection` of `user` out of `room`, given the room's items as
/// read, and what they do to the room.
struct Leaving<'a> {
    writes: Vec<Write<'a>>,
    departure: Departure,
    /// Where in `writes` the member item's and the room item's writes are, if any.
    member_write: Option<usize>,
    room_write: Option<usize>,
}

/// Adds `connection` to the user's item in `room`; `entering` (read: the user has no
/// connection there) becomes the write's condition.
fn enter<'a>(connection: &ConnectionId, user: &UserId, room: RoomId, entering: bool) -> Write<'a> {
    let condition = if entering { "attribute_not_exists(#conns)" } else { "attribute_exists(#conns)" };
    let since = u64::try_from(epoch().as_micros()).unwrap_or(u64::MAX);
    Write::update(member_key(room, user), "SET #since = if_not_exists(#since, :now), #ttl = :ttl ADD #conns :cset")
        .condition(condition)
        .values(&[
            (":now", n(since)),
            (":ttl", expires_in(BACKSTOP_TTL_SECS)),
            (":cset", one_member_set(connection.as_str())),
        ])
        .old_on_failure()
}

/// Takes `connection` out of the set of `key`'s item: deletes the item when it was the last
/// one there, else removes it from the set; either way conditioned on that.
fn remove_from_set<'a>(key: Item, connection: &ConnectionId, last: bool) -> Write<'a> {
    let values = [(":c", s(connection.as_str())), (":cset", one_member_set(connection.as_str())), (":one", n(1))];
    let write = if last {
        Write::delete(key).condition(LAST_HERE)
    } else {
        Write::update(key, "DELETE #conns :cset").condition(NOT_LAST_HERE)
    };
    write.values(&values).old_on_failure()
}

fn leave<'a>(
    connection: &ConnectionId,
    user: &UserId,
    room: RoomId,
    member: Option<&Item>,
    room_item: Option<&Item>,
) -> Leaving<'a> {
    let here = connections_of(member);
    let mut writes = Vec::new();
    if !here.iter().any(|c| c == connection.as_str()) {
        // Only reachable through a race with another change of this connection, which
        // the condition on the connection item catches, or through items edited by hand.
        let departure = Departure { room, user_left: here.is_empty(), room_closed: false };
        return Leaving { writes, departure, member_write: None, room_write: None };
    }
    let user_left = here.len() == 1;
    writes.push(remove_from_set(member_key(room, user), connection, user_left));
    let mut room_closed = false;
    if user_left && !room.is_lobby() {
        let users = room_item.and_then(|i| number(i, "users")).unwrap_or(0);
        if users <= 1 {
            room_closed = true;
            writes.push(
                Write::update(room_key(room), "SET #closed = :true, #users = :zero, #ttl = :ttl")
                    .condition("attribute_not_exists(#users) OR #users <= :one")
                    .values(&[
                        (":true", AttributeValue::Bool(true)),
                        (":zero", n(0)),
                        (":one", n(1)),
                        (":ttl", expires_in(CLOSED_MARK_TTL_SECS)),
                    ])
                    .old_on_failure(),
            );
        } else {
            writes.push(
                Write::update(room_key(room), "ADD #users :minus_one")
                    .condition("#users > :one")
                    .values(&[(":minus_one", n(-1)), (":one", n(1))])
                    .old_on_failure(),
            );
        }
    }
    let room_write = (writes.len() > 1).then_some(1);
    Leaving { writes, departure: Departure { room, user_left, room_closed }, member_write: Some(0), room_write }
}

/// What a cancelled transaction tells of the items behind the writes at `writes` (index,
/// item as believed): a failed condition hands back the item as it was (none: absent), a
/// condition that held confirms the belief. `None` when any of them is unknown (a conflict
/// with another transaction, or no reasons given), so the caller reads instead.
pub(super) fn learned<const N: usize>(
    reasons: &[CancellationReason],
    writes: [(Option<usize>, Option<Item>); N],
) -> Option<[Option<Item>; N]> {
    let mut known = writes.map(|(index, believed)| {
        // An item without a write in this attempt keeps its belief.
        let reason = index.map(|index| reasons.get(index));
        (reason, believed)
    });
    for (reason, believed) in &mut known {
        match reason {
            None => {}
            Some(Some(reason)) if reason.code() == Some("None") => {}
            Some(Some(reason)) if reason.code() == Some("ConditionalCheckFailed") => {
                *believed = reason.item().cloned().filter(|item| !item.is_empty());
            }
            _ => return None,
        }
    }
    Some(known.map(|(_, item)| item))
}

/// A cancelled attempt's reasons, one per write.
pub(super) type Reasons = Vec<CancellationReason>;

impl DynamoPresence {
    /// Commits the writes; when a condition no longer held or a concurrent transaction
    /// touched one of the items, hands back why: one reason per write, in order, with the
    /// item as it was when its condition failed, so the caller retries knowing more. Any
    /// other reason is an error: retrying would not help.
    pub(super) async fn transact(&self, writes: Vec<Write<'_>>) -> Result<Option<Reasons>, DynamoError> {
        match self.table.transact(writes).await? {
            Ok(()) => Ok(None),
            Err(cancelled) if cancelled.lost_race() => Ok(Some(cancelled.reasons)),
            Err(cancelled) => Err(DynamoError::Request {
                operation: "TransactWriteItems",
                message: format!("cancelled: {:?}", cancelled.codes()),
            }),
        }
    }

    /// One attempt at moving `connection` (of `info.user`, in `info.room`) with the member
    /// items of both rooms and the rooms' items as believed; when cancelled, the reasons and
    /// which write each of those items had.
    pub(super) async fn try_move(
        &self,
        connection: &ConnectionId,
        ConnectionInfo { user, room: from }: &ConnectionInfo,
        to: RoomId,
        capacity: u32,
        [from_member, to_member, from_room, to_room]: [Option<&Item>; 4],
    ) -> Result<Result<MoveOutcome, (Reasons, [Option<usize>; 4])>, DynamoError> {
        let from = *from;
        let user_entered = connections_of(to_member).is_empty();
        if !to.is_lobby() {
            if to_room.is_some_and(|room| room.contains_key("closed")) {
                return Ok(Ok(MoveOutcome::Closed));
            }
            let users = to_room.and_then(|room| number(room, "users")).unwrap_or(0);
            if user_entered && users >= i64::from(capacity) {
                return Ok(Ok(MoveOutcome::Full));
            }
        }

        let mut writes = vec![
            Write::update(connection_key(connection), "SET #rid = :to")
                .condition("#rid = :from")
                .values(&[(":to", n(to)), (":from", n(from))])
                .old_on_failure(),
        ];
        let leaving = leave(connection, user, from, from_member, from_room);
        let shifted = |at: Option<usize>| at.map(|at| at + 1);
        let (from_member_write, from_room_write) = (shifted(leaving.member_write), shifted(leaving.room_write));
        writes.extend(leaving.writes);
        let to_member_write = Some(writes.len());
        writes.push(enter(connection, user, to, user_entered));
        let mut to_room_write = None;
        if !to.is_lobby() && user_entered {
            // The capacity check of this move: it commits only with the room still open and
            // still below capacity, whatever other instances do meanwhile.
            to_room_write = Some(writes.len());
            writes.push(
                Write::update(room_key(to), "ADD #users :one")
                    .condition("attribute_not_exists(#closed) AND (attribute_not_exists(#users) OR #users < :capacity)")
                    .values(&[(":one", n(1)), (":capacity", n(capacity))])
                    .old_on_failure(),
            );
        }
        Ok(match self.transact(writes).await? {
            None => Ok(MoveOutcome::Moved(Moved { from: leaving.departure, user_entered })),
            Some(reasons) => Err((reasons, [from_member_write, to_member_write, from_room_write, to_room_write])),
        })
    }

    /// The items a move of a connection of `info.user` from `info.room` to `to` decides on.
    pub(super) async fn read_move(&self, info: &ConnectionInfo, to: RoomId) -> Result<[Option<Item>; 4], DynamoError> {
        let (user, from) = (&info.user, info.room);
        let mut keys = vec![member_key(from, user), member_key(to, user)];
        if !from.is_lobby() {
            keys.push(room_key(from));
        }
        if !to.is_lobby() {
            keys.push(room_key(to));
        }
        let mut items = self.table.get_many(keys).await?.into_iter();
        let (from_member, to_member) = (items.next().flatten(), items.next().flatten());
        let from_room = if from.is_lobby() { None } else { items.next().flatten() };
        let to_room = if to.is_lobby() { None } else { items.next().flatten() };
        Ok([from_member, to_member, from_room, to_room])
    }

    /// One attempt at `disconnect` of `connection` (in `room`, of `user`) with the user's
    /// item, the member item and the room item as believed; when cancelled, the reasons and
    /// which write each of those items had.
    pub(super) async fn try_disconnect(
        &self,
        connection: &ConnectionId,
        ConnectionInfo { user, room }: &ConnectionInfo,
        lease_ends: Option<i64>,
        [user_item, member, room_item]: [Option<&Item>; 3],
    ) -> Result<Result<Disconnected, (Reasons, [Option<usize>; 3])>, DynamoError> {
        let (user, room) = (user.clone(), *room);
        // The lease read with the item must still be its lease: a renewal meanwhile moved it.
        let own = match lease_ends {
            Some(ends) => Write::delete(connection_key(connection))
                .condition("#rid = :room AND #lease = :lease")
                .values(&[(":room", n(room)), (":lease", n(ends))]),
            None => Write::delete(connection_key(connection)).condition("#rid = :room").values(&[(":room", n(room))]),
        };
        let mut writes = vec![own.old_on_failure()];
        let leaving = leave(connection, &user, room, member, room_item);
        let shifted = |at: Option<usize>| at.map(|at| at + 1);
        let (member_write, room_write) = (shifted(leaving.member_write), shifted(leaving.room_write));
        writes.extend(leaving.writes);

        let everywhere = connections_of(user_item);
        let mut user_write = None;
        let went_offline = if everywhere.iter().any(|c| c == connection.as_str()) {
            let last = everywhere.len() == 1;
            user_write = Some(writes.len());
            writes.push(remove_from_set(user_key(&user), connection, last));
            last
        } else {
            everywhere.is_empty()
        };
        if let Some(ends) = lease_ends.and_then(|ends| u64::try_from(ends).ok()) {
            writes.push(Write::delete(lease_key(connection.as_str(), ends)));
        }
        Ok(match self.transact(writes).await? {
            None => Ok(Disconnected { user, from: leaving.departure, went_offline }),
            Some(reasons) => Err((reasons, [user_write, member_write, room_write])),
        })
    }

    /// One attempt at `connect` with the user's item and lobby member item as believed
    /// (read, or guessed); the cancellation reasons when the belief was wrong or a race lost.
    pub(super) async fn try_connect(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        profile: &Profile,
        user_item: Option<&Item>,
        lobby_member: Option<&Item>,
    ) -> Result<Result<Connected, Reasons>, DynamoError> {
        let came_online = connections_of(user_item).is_empty();
        let entered_lobby = connections_of(lobby_member).is_empty();

        let ttl = expires_in(BACKSTOP_TTL_SECS);
        let lease_ends = u64::try_from((epoch() + self.lease).as_millis()).unwrap_or(u64::MAX);
        let mut lease = lease_key(connection.as_str(), lease_ends);
        lease.insert(TTL.into(), ttl.clone());
        let mut item = connection_key(connection);
        item.insert("lease".into(), n(lease_ends));
        item.insert("uid".into(), s(user.as_str()));
        item.insert("rid".into(), n(RoomId::LOBBY));
        item.insert("nick".into(), s(profile.nick.as_str()));
        if let Some(group) = &profile.group {
            item.insert("grp".into(), s(group.as_str()));
        }
        item.insert(TTL.into(), ttl.clone());
        let writes = vec![
            Write::put(item),
            Write::update(user_key(user), "SET #ttl = :ttl ADD #conns :cset")
                .condition(if came_online { "attribute_not_exists(#conns)" } else { "attribute_exists(#conns)" })
                .values(&[(":cset", one_member_set(connection.as_str())), (":ttl", ttl)])
                .old_on_failure(),
            enter(connection, user, RoomId::LOBBY, entered_lobby),
            Write::put(lease),
        ];
        Ok(match self.transact(writes).await? {
            None => Ok(Connected { came_online, entered_lobby }),
            Some(reasons) => Err(reasons),
        })
    }

    /// Replaces a connection's profile copy, if the connection is still there.
    pub(super) async fn set_connection_profile(&self, connection: &str, profile: &Profile) -> Result<(), DynamoError> {
        let mut values = vec![(":nick", s(profile.nick.as_str()))];
        if let Some(group) = &profile.group {
            values.push((":grp", s(group.as_str())));
        }
        let update =
            if profile.group.is_some() { "SET #nick = :nick, #grp = :grp" } else { "SET #nick = :nick REMOVE #grp" };
        // Without the condition, updating a connection that just left would create it again.
        let write = Write::update(connection_key(&ConnectionId::new(connection)), update)
            .condition("attribute_exists(#uid)")
            .values(&values);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            match self.table.try_write(write.clone()).await? {
                // Refused by the condition: gone, it keeps no copy.
                Ok(_) | Err(Refused::Condition(_)) => return Ok(()),
                // A move or disconnect of this connection is committing right now.
                Err(Refused::Conflict(_)) => {}
            }
        }
        Err(DynamoError::Contended { operation: "set_profile", attempts: MAX_ATTEMPTS })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn a_cancellation_teaches_the_items_that_failed_their_condition() {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        let old_user = HashMap::from([("conns".to_owned(), AttributeValue::Ss(vec!["other".into()]))]);
        let failed_with_item = CancellationReason::builder()
            .code("ConditionalCheckFailed")
            .item("conns", AttributeValue::Ss(vec!["other".into()]))
            .build();
        let believed_member = Some(HashMap::from([("since".to_owned(), n(1))]));
        let reasons = [reason("None"), failed_with_item, reason("None")];
        let known = learned(&reasons, [(Some(1), None), (Some(2), believed_member.clone())]);
        assert_eq!(known, Some([Some(old_user), believed_member.clone()]));
        // A failed condition on an absent item: now known absent.
        let reasons = [reason("None"), reason("None"), reason("ConditionalCheckFailed")];
        assert_eq!(learned(&reasons, [(Some(1), None), (Some(2), believed_member.clone())]), Some([None, None]));
        // An item that had no write in this attempt keeps what was believed.
        assert_eq!(
            learned(&reasons, [(None, believed_member.clone()), (Some(2), None)]),
            Some([believed_member, None])
        );
        // A conflict says nothing about the item: read instead.
        let reasons = [reason("None"), reason("TransactionConflict"), reason("None")];
        assert_eq!(learned(&reasons, [(Some(1), None), (Some(2), None)]), None);
        assert_eq!(learned(&[], [(Some(1), None), (Some(2), None)]), None);
    }
}
