//! [`super::Presence`] on the DynamoDB profile's table ([`crate::dynamodb::Table`]).
//!
//! Items (all under `PRESENCE#`, apart from the store's own prefixes):
//!
//! | `pk`                    | `sk`       | attributes                                           |
//! |-------------------------|------------|------------------------------------------------------|
//! | `PRESENCE#CONN#<cid>`   | `CONN`     | `uid`, `rid` (number), `nick`, `grp` (absent: none), `ttl` |
//! | `PRESENCE#USER#<uid>`   | `USER`     | `conns` (string set), `ttl`                          |
//! | `PRESENCE#ROOM#<rid>`   | `USER#<uid>` | `conns` (that user's connections here), `since` (µs), `ttl` |
//! | `PRESENCE#ROOM#<rid>`   | `ROOM`     | `users` (distinct users), `closed`, `ttl` once closed; not for the lobby |
//! | `PRESENCE#RATE#<key>`   | `RATE`     | `w<slot>` attempt counts, `until` (ms), `ttl`        |
//! | `PRESENCE#LEASE#<n>`    | `<lease end ms, 15 digits>#<cid>` | `ttl`; `n` is one of [`LEASE_SHARDS`] by the cid |
//!
//! A string set is never empty in DynamoDB, so an item whose last connection leaves is
//! deleted: "the item exists" and "the user has a connection there" are the same fact.
//!
//! The copy of the sender's profile lives on each of the user's connection items rather than
//! once on the user's item: `chat.send` reads the connection item anyway, so the copy costs
//! it nothing, while a copy on the user's item would cost every message one more read.
//! `set_profile` (a rename, a group change: rare) pays instead, with one write per connection.
//!
//! Every change that touches several items reads them with strongly consistent reads (or first
//! assumes the commonest case), decides, then writes them in one `TransactWriteItems` whose
//! conditions restate what was read and decided on (the connection is still in that room, this
//! user is still new to the room and the room still has fewer than `capacity` users, this was
//! the user's last connection, …). A concurrent change makes a condition fail and the whole
//! step starts over from fresh reads (or from the items the cancellation hands back), so the
//! reported outcome (`came_online`, `user_left`, `room_closed`, `went_offline`, …) is always
//! the one the committed write produced. The lobby keeps no room item: it has no capacity and
//! never closes, and a counter every connect and disconnect wrote would make it one hot item.
//!
//! Requests per operation (strongly consistent reads throughout, since each answer feeds a
//! decision or a fan-out that must not miss a connection that just arrived):
//! - `connect`: 1 `TransactWriteItems` for a user's first connection, 2 for a further one
//!   (see [`Presence::connect`] below);
//! - `move_to`: 2 (`GetItem` of the connection, `TransactWriteItems`) for a user's only
//!   connection, and when the room is full or closed; 3 for one of several connections, or
//!   when its room empties and closes (see [`Presence::move_to`] below); 1 when unknown or
//!   already there;
//! - `disconnect`: 2 (`GetItem`, `TransactWriteItems`) for a user's only connection leaving a
//!   room that others stay in, else 3 (see [`Presence::disconnect`] below); 1 when unknown;
//! - `sender_context`: see [`Presence::sender_context`] below: two round trips, three requests;
//! - `set_profile`: 1 (`GetItem` of the user) then one `UpdateItem` per connection, all at once;
//! - `connection`, `user_connections`, `hit_rate_limit`: 1;
//! - `room_users`, `room_connections`: 1 `Query` (more when the room's items pass 1 MB);
//! - `room_counts`: 1 `BatchGetItem`, plus a concurrent counting `Query` when the lobby is asked;
//! - `user_rooms`: 2; `online`: 1 per 100 users;
//! - `online_users`: 1 `Query` per lease shard, then 1 `BatchGetItem` per 100 live
//!   connections (see [`Presence::online_users`] below).
//!
//! A retry after a lost race reads again, unless the cancellation told it enough. The table's client counts every
//! request it sends in [`crate::metrics::DYNAMODB_REQUESTS`]. Requests run with the SDK's
//! tracing muted ([`crate::dynamodb::Quiet`]), like the store's.
//!
//! Each connection has a lease item, written with it and deleted with it, whose sort key is
//! when the lease ends ([`super::CONNECTION_LEASE`] after the connect or the latest renewal):
//! [`Presence::expired_connections`] queries the shards for lease ends in the past, and the
//! caller disconnects those as usual. A send or a move renews the lease once less than half
//! of it is left (one `TransactWriteItems` per half lease, not per action). Connection, user and per-room user
//! items carry `ttl` a day past the lease, a backstop only: reads do not filter on it.

mod items;
mod leases;
mod rate;
mod steps;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::CancellationReason;
use futures::{StreamExt, TryStreamExt};

use self::items::{
    MEMBER_PREFIX, connection_key, connections_of, member_key, number, parse_connection, parse_profile, parse_user,
    room_key, room_partition, user_key,
};
use self::steps::learned;
use super::{
    Connected, ConnectionInfo, Disconnected, MoveOutcome, Presence, PresenceResult, Profile, SenderContext, Whereabouts,
};
use crate::domain::{ConnectionId, RoomId, UserId};
use crate::dynamodb::codec::{n, one_member_set};
use crate::dynamodb::read::{BATCH_GET_MAX, SortKey};
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, ItemExt, SK, Table, backoff};

/// Attempts at one step before giving up on a contended item. A race is lost to a step that
/// commits, so thirty instances racing for one room's last places need far fewer: once the
/// room is full the losers read "full" and stop writing.
const MAX_ATTEMPTS: u32 = 40;
/// `BatchGetItem`s one listing of everyone online keeps in flight.
const READS_IN_FLIGHT: usize = 8;

pub struct DynamoPresence {
    table: Table,
    lease: Duration,
}

impl DynamoPresence {
    pub fn new(table: Table) -> Self {
        Self { table, lease: super::CONNECTION_LEASE }
    }

    /// Leases of `lease` instead of [`super::CONNECTION_LEASE`] (tests).
    pub fn with_lease(self, lease: Duration) -> Self {
        Self { lease, ..self }
    }

    /// The per-user items of a room, in no particular order.
    async fn room_members(&self, room: RoomId) -> Result<Vec<Item>, DynamoError> {
        self.table.query(room_partition(room), SortKey::BeginsWith(MEMBER_PREFIX.to_owned())).items().await
    }

    /// How many users are in the lobby, which has no counter item.
    async fn lobby_count(&self) -> Result<u32, DynamoError> {
        self.table.query(room_partition(RoomId::LOBBY), SortKey::BeginsWith(MEMBER_PREFIX.to_owned())).count().await
    }
}

#[async_trait]
impl Presence for DynamoPresence {
    /// Usually one `TransactWriteItems`: the first attempt assumes the user's first
    /// connection (no user item, no lobby member item) instead of reading. When that is wrong
    /// the cancellation carries the items whose condition failed, so the second attempt
    /// knows them: two requests for a further connection of an online user, as many as
    /// reading first would take. After a lost race with nothing learned it reads.
    async fn connect(&self, connection: &ConnectionId, user: &UserId, profile: &Profile) -> PresenceResult<Connected> {
        let mut belief: Option<[Option<Item>; 2]> = Some([None, None]);
        for attempt in 0..MAX_ATTEMPTS {
            let [user_item, lobby_member] = match belief.take() {
                Some(known) => known,
                None => {
                    backoff(attempt).await;
                    let mut items =
                        self.table.get_many(vec![user_key(user), member_key(RoomId::LOBBY, user)]).await?.into_iter();
                    [items.next().flatten(), items.next().flatten()]
                }
            };
            match self.try_connect(connection, user, profile, user_item.as_ref(), lobby_member.as_ref()).await? {
                Ok(connected) => return Ok(connected),
                // Writes 1 and 2 are the user's item and the lobby member item.
                Err(reasons) => belief = learned(&reasons, [(Some(1), user_item), (Some(2), lobby_member)]),
            }
        }
        Err(DynamoError::Contended { operation: "connect", attempts: MAX_ATTEMPTS }.into())
    }

    /// The user's connections (`GetItem`), then each connection's copy (`UpdateItem`s, all
    /// at once). A connection that arrives meanwhile brings its own copy from `connect`.
    async fn set_profile(&self, user: &UserId, profile: &Profile) -> PresenceResult<()> {
        let item = self.table.get_item(user_key(user)).await?;
        let connections = connections_of(item.as_ref());
        futures::future::try_join_all(connections.iter().map(|c| self.set_connection_profile(c, profile))).await?;
        Ok(())
    }

    /// Two round trips, three requests: the connection's item (`GetItem`: user, room and
    /// profile copy) together with the rate-limit `UpdateItem`, then the room's per-user items
    /// (`Query`, for the audience). The room is only known from the first read, so no single
    /// request can fetch it all. An unknown connection's attempt is still counted, against a
    /// key nobody else uses.
    async fn sender_context(
        &self,
        connection: &ConnectionId,
        rate_key: &str,
        limit: u32,
        window: Duration,
    ) -> PresenceResult<Option<SenderContext>> {
        let (item, retry_after) =
            futures::try_join!(self.table.get_item(connection_key(connection)), self.hit(rate_key, limit, window))?;
        let Some(item) = item else { return Ok(None) };
        let info = parse_connection(&item)?;
        let profile = parse_profile(&item)?;
        let (members, ()) =
            futures::try_join!(self.room_members(info.room), self.renew_lease_if_due(connection, &item))?;
        let room_connections =
            members.iter().flat_map(|member| connections_of(Some(member))).map(ConnectionId::new).collect();
        Ok(Some(SenderContext { info, profile, retry_after, room_connections }))
    }

    async fn connection(&self, connection: &ConnectionId) -> PresenceResult<Option<ConnectionInfo>> {
        let item = self.table.get_item(connection_key(connection)).await?;
        Ok(item.as_ref().map(parse_connection).transpose()?)
    }

    /// Usually two requests: the connection's item (`GetItem`), then one
    /// `TransactWriteItems` that assumes the commonest case instead of reading the rest: the
    /// user's only connection leaves a room that others stay in, for a room the user is not
    /// in yet. Whether that room is open and has space is its write's condition, so it needs
    /// no belief. When the assumption is wrong, the room is full or closed, the cancellation
    /// carries the items whose condition failed: a full or closed room is then answered
    /// without a third request, and a move of one of several connections commits with it.
    async fn move_to(&self, connection: &ConnectionId, to: RoomId, capacity: u32) -> PresenceResult<MoveOutcome> {
        let mut known: Option<(ConnectionInfo, [Option<Item>; 4])> = None;
        for attempt in 0..MAX_ATTEMPTS {
            let (info, beliefs) = match known.take() {
                Some(known) => known,
                None => {
                    if attempt > 0 {
                        backoff(attempt).await;
                    }
                    let Some(item) = self.table.get_item(connection_key(connection)).await? else {
                        return Ok(MoveOutcome::UnknownConnection);
                    };
                    self.renew_lease_if_due(connection, &item).await?;
                    let info = parse_connection(&item)?;
                    if info.room == to {
                        return Ok(MoveOutcome::AlreadyThere);
                    }
                    let beliefs = if attempt == 0 {
                        let alone = HashMap::from([("conns".to_owned(), one_member_set(connection.as_str()))]);
                        let others_stay = HashMap::from([("users".to_owned(), n(2))]);
                        [Some(alone), None, (!info.room.is_lobby()).then_some(others_stay), None]
                    } else {
                        self.read_move(&info, to).await?
                    };
                    (info, beliefs)
                }
            };
            let [from_member, to_member, from_room, to_room] = &beliefs;
            let believed = [from_member.as_ref(), to_member.as_ref(), from_room.as_ref(), to_room.as_ref()];
            match self.try_move(connection, &info, to, capacity, believed).await? {
                Ok(outcome) => return Ok(outcome),
                Err((reasons, [from_member_write, to_member_write, from_room_write, to_room_write])) => {
                    // Write 0 is the connection's own: if its condition failed, start over.
                    if reasons.first().and_then(CancellationReason::code) != Some("None") {
                        continue;
                    }
                    let [from_member, to_member, from_room, to_room] = beliefs;
                    let writes = [
                        (from_member_write, from_member),
                        (to_member_write, to_member),
                        (from_room_write, from_room),
                        (to_room_write, to_room),
                    ];
                    known = learned(&reasons, writes).map(|beliefs| (info, beliefs));
                }
            }
        }
        Err(DynamoError::Contended { operation: "move_to", attempts: MAX_ATTEMPTS }.into())
    }

    /// Usually two requests: the connection's item (`GetItem`), then one
    /// `TransactWriteItems` that assumes the commonest case instead of reading the rest:
    /// the user's only connection, and other users stay in the room. When that is wrong the
    /// cancellation carries the items whose condition failed and the next attempt knows them
    /// (three requests, as many as reading first would take). When the connection itself
    /// moved or went meanwhile, or a race taught nothing, everything is read again.
    async fn disconnect(&self, connection: &ConnectionId) -> PresenceResult<Option<Disconnected>> {
        let mut known: Option<((ConnectionInfo, Option<i64>), [Option<Item>; 3])> = None;
        for attempt in 0..MAX_ATTEMPTS {
            let ((info, lease_ends), beliefs) = match known.take() {
                Some(known) => known,
                None => {
                    if attempt > 0 {
                        backoff(attempt).await;
                    }
                    let Some(item) = self.table.get_item(connection_key(connection)).await? else { return Ok(None) };
                    let info = parse_connection(&item)?;
                    let lease_ends = number(&item, "lease");
                    let beliefs = if attempt == 0 {
                        let alone = HashMap::from([("conns".to_owned(), one_member_set(connection.as_str()))]);
                        let others_stay = HashMap::from([("users".to_owned(), n(2))]);
                        [Some(alone.clone()), Some(alone), (!info.room.is_lobby()).then_some(others_stay)]
                    } else {
                        let mut keys = vec![user_key(&info.user), member_key(info.room, &info.user)];
                        if !info.room.is_lobby() {
                            keys.push(room_key(info.room));
                        }
                        let mut items = self.table.get_many(keys).await?.into_iter();
                        [items.next().flatten(), items.next().flatten(), items.next().flatten()]
                    };
                    ((info, lease_ends), beliefs)
                }
            };
            let [user_item, member, room_item] = &beliefs;
            let believed = [user_item.as_ref(), member.as_ref(), room_item.as_ref()];
            match self.try_disconnect(connection, &info, lease_ends, believed).await? {
                Ok(gone) => return Ok(Some(gone)),
                Err((reasons, [user_write, member_write, room_write])) => {
                    // Write 0 is the connection's own: if its condition failed, start over.
                    if reasons.first().and_then(CancellationReason::code) != Some("None") {
                        continue;
                    }
                    let [user_item, member, room_item] = beliefs;
                    let writes = [(user_write, user_item), (member_write, member), (room_write, room_item)];
                    known = learned(&reasons, writes).map(|beliefs| ((info, lease_ends), beliefs));
                }
            }
        }
        Err(DynamoError::Contended { operation: "disconnect", attempts: MAX_ATTEMPTS }.into())
    }

    async fn room_users(&self, room: RoomId) -> PresenceResult<Vec<UserId>> {
        let mut members = Vec::new();
        for item in self.room_members(room).await? {
            let raw = item.string(SK).and_then(|sk| sk.strip_prefix(MEMBER_PREFIX)).unwrap_or_default();
            members.push((number(&item, "since").unwrap_or(i64::MAX), parse_user(raw)?));
        }
        // The user id breaks ties between equal clocks of two instances.
        members.sort();
        Ok(members.into_iter().map(|(_, user)| user).collect())
    }

    async fn room_counts(&self, rooms: &[RoomId]) -> PresenceResult<Vec<u32>> {
        let distinct: Vec<RoomId> =
            rooms.iter().copied().filter(|room| !room.is_lobby()).collect::<BTreeSet<_>>().into_iter().collect();
        let counters = async {
            if distinct.is_empty() {
                return Ok(Vec::new());
            }
            self.table.get_many(distinct.iter().map(|room| room_key(*room)).collect()).await
        };
        let lobby = async {
            if rooms.iter().any(|room| room.is_lobby()) { self.lobby_count().await.map(Some) } else { Ok(None) }
        };
        let (counters, lobby) = futures::try_join!(counters, lobby)?;
        let counts: HashMap<RoomId, u32> = distinct
            .into_iter()
            .zip(counters)
            .map(|(room, item)| {
                let users = item.as_ref().and_then(|i| number(i, "users")).unwrap_or(0);
                (room, u32::try_from(users).unwrap_or(0))
            })
            .collect();
        Ok(rooms
            .iter()
            .map(|room| if room.is_lobby() { lobby.unwrap_or(0) } else { counts.get(room).copied().unwrap_or(0) })
            .collect())
    }

    async fn room_connections(&self, room: RoomId) -> PresenceResult<Vec<ConnectionId>> {
        let members = self.room_members(room).await?;
        Ok(members.iter().flat_map(|member| connections_of(Some(member))).map(ConnectionId::new).collect())
    }

    async fn user_connections(&self, user: &UserId) -> PresenceResult<Vec<ConnectionId>> {
        let item = self.table.get_item(user_key(user)).await?;
        Ok(connections_of(item.as_ref()).into_iter().map(ConnectionId::new).collect())
    }

    async fn user_rooms(&self, user: &UserId) -> PresenceResult<Vec<RoomId>> {
        let connections = self.user_connections(user).await?;
        if connections.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.table.get_many(connections.iter().map(connection_key).collect()).await?;
        let mut rooms = items
            .iter()
            .flatten()
            .map(|item| parse_connection(item).map(|info| info.room))
            .collect::<Result<Vec<_>, _>>()?;
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }

    async fn online(&self, users: &[UserId]) -> PresenceResult<Vec<UserId>> {
        // BatchGetItem refuses a request that names one key twice.
        let distinct: Vec<&UserId> = users.iter().collect::<BTreeSet<_>>().into_iter().collect();
        if distinct.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.table.get_many(distinct.iter().map(|user| user_key(user)).collect()).await?;
        let online: HashSet<&UserId> = distinct
            .into_iter()
            .zip(items)
            .filter(|(_, item)| !connections_of(item.as_ref()).is_empty())
            .map(|(user, _)| user)
            .collect();
        Ok(users.iter().filter(|user| online.contains(user)).cloned().collect())
    }

    /// The lease shards (one `Query` each, all at once) name every live connection; their
    /// connection items (`BatchGetItem`s of 100, up to [`READS_IN_FLIGHT`] at once) give each
    /// one's user, room and profile copy. So about one read unit per live connection (each
    /// item is read strongly consistent and rounded up to 4 KB) plus one per some 60 lease
    /// items: for 1,000 connections 4 + 10 requests and some 1,020 read units. Lease items
    /// carry no user or room, so that a move writes nothing more than it did; and no index of
    /// online users is kept, so that connecting and disconnecting write nothing more either.
    async fn online_users(&self) -> PresenceResult<Vec<Whereabouts>> {
        let live: Vec<Item> = self.live().await?.iter().map(connection_key).collect();
        let reads: Vec<Vec<Item>> = live.chunks(BATCH_GET_MAX).map(<[Item]>::to_vec).collect();
        let batches: Vec<Vec<Option<Item>>> = futures::stream::iter(reads)
            .map(|keys| self.table.get_many(keys))
            .buffered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut users: BTreeMap<UserId, (BTreeSet<RoomId>, Option<Profile>)> = BTreeMap::new();
        // A connection that left since its lease was read has no item any more.
        for item in batches.iter().flatten().flatten() {
            let info = parse_connection(item)?;
            let (rooms, profile) = users.entry(info.user).or_default();
            rooms.insert(info.room);
            if profile.is_none() {
                *profile = parse_profile(item)?;
            }
        }
        Ok(users
            .into_iter()
            .map(|(user, (rooms, profile))| Whereabouts { user, rooms: rooms.into_iter().collect(), profile })
            .collect())
    }

    async fn hit_rate_limit(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        Ok(self.hit(key, limit, window).await?)
    }

    /// One `Query` per lease shard, all at once, for lease ends before now.
    async fn expired_connections(&self, limit: usize) -> PresenceResult<Vec<ConnectionId>> {
        Ok(self.expired(limit).await?)
    }

    /// One consistent `GetItem` of the window's item.
    async fn rate_limit_wait(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        Ok(self.wait(key, limit, window).await?)
    }

    /// One conditional `DeleteItem`: only a closed mark goes, never a live room's item.
    async fn room_created(&self, room: RoomId) -> PresenceResult<()> {
        let mark = Write::delete(room_key(room)).condition("attribute_exists(#closed)");
        match self.table.try_write(mark).await? {
            Ok(_) | Err(Refused::Condition(_)) => Ok(()),
            Err(conflict @ Refused::Conflict(_)) => Err(DynamoError::from(conflict).into()),
        }
    }
}
