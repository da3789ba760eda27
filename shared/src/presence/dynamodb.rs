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
//! - `user_rooms`: 2; `online`: 1 per 100 users.
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem, Update,
};

use super::{
    Connected, ConnectionInfo, Departure, Disconnected, MoveOutcome, Moved, Presence, PresenceResult, Profile,
    SenderContext,
};
use crate::domain::{ConnectionId, GroupId, Nick, RoomId, UserId};
use crate::dynamodb::{DynamoError, PK, Quiet, SK, TTL, Table};

/// Connection, user and member items outlive a connection's lease by a day: the sweep of
/// expired leases ([`Presence::expired_connections`]) needs them to clean up after a lost
/// `$disconnect`; DynamoDB's expiry only keeps a table nobody sweeps from growing.
const BACKSTOP_TTL_SECS: u64 = super::CONNECTION_LEASE.as_secs() + 24 * 3600;
/// Lease items are spread over this many partitions, so that connects do not all write one.
const LEASE_SHARDS: u64 = 4;
/// A closed room stays unjoinable in presence this long; the store remembers it for good.
const CLOSED_MARK_TTL_SECS: u64 = 7 * 24 * 3600;
/// Attempts at one step before giving up on a contended item. A race is lost to a step that
/// commits, so thirty instances racing for one room's last places need far fewer: once the
/// room is full the losers read "full" and stop writing.
const MAX_ATTEMPTS: u32 = 40;
/// The rate-limit window is counted in this many slots; see [`DynamoPresence::hit`].
const RATE_SLOTS: u64 = 10;
/// `BatchGetItem` takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;

type Item = HashMap<String, AttributeValue>;

/// `:c` is the only connection in the item's set. (`attribute_exists` first: DynamoDB takes
/// `size` of a missing attribute as false, but moto, the test emulator, fails the whole
/// request on it instead of failing the condition.)
const LAST_HERE: &str = "attribute_exists(#conns) AND size(#conns) = :one AND contains(#conns, :c)";
/// `:c` is one of several connections in the item's set.
const NOT_LAST_HERE: &str = "attribute_exists(#conns) AND contains(#conns, :c) AND size(#conns) > :one";

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
}

// ---------------------------------------------------------------------------------------
// Keys and attributes

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk.into()))])
}

fn connection_key(connection: &ConnectionId) -> Item {
    key(format!("PRESENCE#CONN#{connection}"), "CONN")
}

fn user_key(user: &UserId) -> Item {
    key(format!("PRESENCE#USER#{user}"), "USER")
}

fn room_partition(room: RoomId) -> String {
    format!("PRESENCE#ROOM#{room}")
}

const MEMBER_PREFIX: &str = "USER#";

fn member_key(room: RoomId, user: &UserId) -> Item {
    key(room_partition(room), format!("{MEMBER_PREFIX}{user}"))
}

/// FNV-1a of the connection id: stable across processes and versions, unlike std's hasher.
fn lease_shard(connection: &str) -> u64 {
    let hash =
        connection.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash % LEASE_SHARDS
}

fn lease_partition(shard: u64) -> String {
    format!("PRESENCE#LEASE#{shard}")
}

/// Zero-padded, so that sort keys order as numbers.
fn lease_key(connection: &str, ends_ms: u64) -> Item {
    key(lease_partition(lease_shard(connection)), format!("{ends_ms:015}#{connection}"))
}

fn room_key(room: RoomId) -> Item {
    key(room_partition(room), "ROOM")
}

fn rate_key(rate_key: &str) -> Item {
    key(format!("PRESENCE#RATE#{rate_key}"), "RATE")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn one_member_set(connection: &ConnectionId) -> AttributeValue {
    AttributeValue::Ss(vec![connection.as_str().to_owned()])
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn number_attr(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|raw| raw.parse().ok())
}

/// The connection ids of a `conns` set; none when the item or the attribute is absent.
fn connections_of(item: Option<&Item>) -> Vec<String> {
    item.and_then(|i| i.get("conns")).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
}

fn corrupt(what: impl Into<String>) -> DynamoError {
    DynamoError::Corrupt(what.into())
}

fn parse_user(raw: &str) -> Result<UserId, DynamoError> {
    UserId::parse(raw).map_err(|_| corrupt(format!("bad user id {raw:?} in presence")))
}

fn parse_connection(item: &Item) -> Result<ConnectionInfo, DynamoError> {
    let user = string_attr(item, "uid").ok_or_else(|| corrupt("presence connection without uid"))?;
    let room = number_attr(item, "rid").ok_or_else(|| corrupt("presence connection without rid"))?;
    Ok(ConnectionInfo { user: parse_user(user)?, room: RoomId::from_stored(room) })
}

fn parse_profile(item: &Item) -> Result<Option<Profile>, DynamoError> {
    // A nick that no longer parses (rules tightened since) leaves the store to answer.
    let Some(nick) = string_attr(item, "nick").and_then(|raw| Nick::from_stored(raw).ok()) else { return Ok(None) };
    let group = string_attr(item, "grp")
        .map(|raw| GroupId::parse(raw).map_err(|_| corrupt(format!("bad group id {raw:?} in presence"))))
        .transpose()?;
    Ok(Some(Profile { nick, group }))
}

fn epoch() -> Duration {
    // A clock before 1970 is a broken host; zero keeps the arithmetic defined.
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn expires_in(secs: u64) -> AttributeValue {
    n(epoch().as_secs() + secs)
}

// ---------------------------------------------------------------------------------------
// Expressions

/// The `#name` or `:value` placeholders an expression uses: DynamoDB rejects a request that
/// defines one its expressions do not use.
fn placeholders<'a>(expressions: impl IntoIterator<Item = &'a str>, sigil: char) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for expression in expressions {
        let mut rest = expression;
        while let Some(at) = rest.find(sigil) {
            let tail = &rest[at + 1..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            found.insert(format!("{sigil}{}", &tail[..end]));
            rest = &tail[end..];
        }
    }
    found
}

/// `#attr` always stands for the attribute `attr` (several, like `ttl` and `users`, are
/// reserved words), and the values an expression does not use are left out.
struct Expression {
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

impl Expression {
    fn new(expressions: &[&str], values: &[(&str, AttributeValue)]) -> Self {
        let names: HashMap<String, String> = placeholders(expressions.iter().copied(), '#')
            .into_iter()
            .map(|placeholder| {
                let attribute = placeholder[1..].to_owned();
                (placeholder, attribute)
            })
            .collect();
        let used = placeholders(expressions.iter().copied(), ':');
        let values: HashMap<String, AttributeValue> =
            values.iter().filter(|(name, _)| used.contains(*name)).map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        Self { names: (!names.is_empty()).then_some(names), values: (!values.is_empty()).then_some(values) }
    }
}

fn build_error(operation: &'static str) -> impl FnOnce(aws_sdk_dynamodb::error::BuildError) -> DynamoError {
    move |err| DynamoError::request(operation, err)
}

// ---------------------------------------------------------------------------------------
// Requests

impl DynamoPresence {
    fn update_op(
        &self,
        key: Item,
        update: &str,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, DynamoError> {
        let expression = Expression::new(&[Some(update), condition].into_iter().flatten().collect::<Vec<_>>(), values);
        let update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(expression.names)
            .set_expression_attribute_values(expression.values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error("TransactWriteItems"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn delete_op(
        &self,
        key: Item,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<TransactWriteItem, DynamoError> {
        let expression = Expression::new(&[condition], values);
        let delete = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(expression.names)
            .set_expression_attribute_values(expression.values)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error("TransactWriteItems"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Moves the connection's lease to a full one from now once less than half of it is
    /// left: activity keeps a connection's lease, at one write per half lease, not per action.
    async fn renew_lease_if_due(&self, connection: &ConnectionId, item: &Item) -> Result<(), DynamoError> {
        // Items written before leases existed have none to renew; their backstop ttl applies.
        let Some(old) = number_attr(item, "lease").and_then(|ends| u64::try_from(ends).ok()) else { return Ok(()) };
        let (now, lease) = (millis(epoch()), millis(self.lease));
        if old.saturating_sub(now) > lease / 2 {
            return Ok(());
        }
        let renewed = now.saturating_add(lease);
        let mut lease_item = lease_key(connection.as_str(), renewed);
        lease_item.insert(TTL.into(), expires_in(BACKSTOP_TTL_SECS));
        let writes = vec![
            self.update_op(
                connection_key(connection),
                "SET #lease = :new",
                Some("#lease = :old"),
                &[(":new", n(renewed)), (":old", n(old))],
            )?,
            self.delete_any_op(lease_key(connection.as_str(), old))?,
            self.put_op(lease_item)?,
        ];
        // Cancelled: another action renewed it first, or the connection left. Either is fine.
        let _cancelled = self.transact(writes).await?;
        Ok(())
    }

    /// Deletes the item if it is there; never fails the transaction.
    fn delete_any_op(&self, key: Item) -> Result<TransactWriteItem, DynamoError> {
        let delete = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .build()
            .map_err(build_error("TransactWriteItems"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn put_op(&self, item: Item) -> Result<TransactWriteItem, DynamoError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .build()
            .map_err(build_error("TransactWriteItems"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Commits the writes; when a condition no longer held or a concurrent transaction
    /// touched one of the items, hands back why: one reason per write, in order, with the
    /// item as it was when its condition failed, so the caller retries knowing more.
    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<Option<Vec<CancellationReason>>, DynamoError> {
        match self.table.client.transact_write_items().set_transact_items(Some(writes)).send().quiet().await {
            Ok(_) => Ok(None),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(canceled)) = err.as_service_error() {
                    let lost_race = canceled.cancellation_reasons().iter().all(|reason| {
                        matches!(
                            reason.code(),
                            None | Some("None" | "ConditionalCheckFailed" | "TransactionConflict" | "ThrottlingError")
                        )
                    });
                    if lost_race {
                        return Ok(Some(canceled.cancellation_reasons().to_vec()));
                    }
                }
                Err(DynamoError::request("TransactWriteItems", err))
            }
        }
    }

    async fn get_item(&self, key: Item) -> Result<Option<Item>, DynamoError> {
        self.table.get_item(key).await
    }

    /// Strongly consistent reads of distinct keys, answered in the order asked.
    async fn get_many(&self, keys: Vec<Item>) -> Result<Vec<Option<Item>>, DynamoError> {
        fn id(item: &Item) -> (Option<&str>, Option<&str>) {
            (string_attr(item, PK), string_attr(item, SK))
        }
        let mut found: Vec<Item> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error("BatchGetItem"))?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                if attempt > 0 {
                    if attempt >= MAX_ATTEMPTS {
                        return Err(DynamoError::Contended { operation: "BatchGetItem", attempts: attempt });
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let mut out = self
                    .table
                    .client
                    .batch_get_item()
                    .request_items(&self.table.name, request)
                    .send()
                    .quiet()
                    .await
                    .map_err(|err| DynamoError::request("BatchGetItem", err))?;
                if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(&self.table.name)) {
                    found.extend(items);
                }
                // Keys DynamoDB did not get to (throughput, 16 MB) are asked again.
                pending = out
                    .unprocessed_keys
                    .as_mut()
                    .and_then(|u| u.remove(&self.table.name))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        let mut by_key: HashMap<(Option<String>, Option<String>), Item> = found
            .into_iter()
            .map(|item| {
                let (pk, sk) = id(&item);
                ((pk.map(str::to_owned), sk.map(str::to_owned)), item)
            })
            .collect();
        Ok(keys
            .iter()
            .map(|k| {
                let (pk, sk) = id(k);
                by_key.remove(&(pk.map(str::to_owned), sk.map(str::to_owned)))
            })
            .collect())
    }

    /// The per-user items of a room, in no particular order.
    async fn room_members(&self, room: RoomId) -> Result<Vec<Item>, DynamoError> {
        Ok(self.query_members(room, Select::AllAttributes).await?.0)
    }

    /// How many users are in the lobby, which has no counter item.
    async fn lobby_count(&self) -> Result<u32, DynamoError> {
        Ok(self.query_members(RoomId::LOBBY, Select::Count).await?.1)
    }

    /// All pages of a room's per-user items: the items (unless only counted) and their count.
    async fn query_members(&self, room: RoomId, select: Select) -> Result<(Vec<Item>, u32), DynamoError> {
        let (mut members, mut count) = (Vec::new(), 0u32);
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(room_partition(room)))
                .expression_attribute_values(":prefix", s(MEMBER_PREFIX))
                .select(select.clone())
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .quiet()
                .await
                .map_err(|err| DynamoError::request("Query", err))?;
            count = count.saturating_add(u32::try_from(out.count).unwrap_or(0));
            members.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok((members, count)),
            }
        }
    }
}

/// Waits before another attempt, longer after each lost race and at random within that
/// bound, so that the losers of one race do not collide again in lockstep.
async fn backoff(attempt: u32) {
    use std::hash::BuildHasher;
    let bound_ms = (4u64 << attempt.min(6)).min(200);
    let random = std::collections::hash_map::RandomState::new().hash_one(epoch().subsec_nanos());
    tokio::time::sleep(Duration::from_millis(1 + random % bound_ms)).await;
}

// ---------------------------------------------------------------------------------------
// The steps that change several items

/// The writes that take `connection` of `user` out of `room`, given the room's items as
/// read, and what they do to the room.
struct Leaving {
    writes: Vec<TransactWriteItem>,
    departure: Departure,
    /// Where in `writes` the member item's and the room item's writes are, if any.
    member_write: Option<usize>,
    room_write: Option<usize>,
}

impl DynamoPresence {
    fn leave(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        room: RoomId,
        member: Option<&Item>,
        room_item: Option<&Item>,
    ) -> Result<Leaving, DynamoError> {
        let here = connections_of(member);
        let mut writes = Vec::new();
        if !here.iter().any(|c| c == connection.as_str()) {
            // Only reachable through a race with another change of this connection, which
            // the condition on the connection item catches, or through items edited by hand.
            let departure = Departure { room, user_left: here.is_empty(), room_closed: false };
            return Ok(Leaving { writes, departure, member_write: None, room_write: None });
        }
        let values =
            [(":c", s(connection.as_str())), (":cset", one_member_set(connection)), (":one", n(1)), (":zero", n(0))];
        let user_left = here.len() == 1;
        writes.push(if user_left {
            self.delete_op(member_key(room, user), LAST_HERE, &values)?
        } else {
            self.update_op(member_key(room, user), "DELETE #conns :cset", Some(NOT_LAST_HERE), &values)?
        });
        let mut room_closed = false;
        if user_left && !room.is_lobby() {
            let users = room_item.and_then(|i| number_attr(i, "users")).unwrap_or(0);
            if users <= 1 {
                room_closed = true;
                writes.push(self.update_op(
                    room_key(room),
                    "SET #closed = :true, #users = :zero, #ttl = :ttl",
                    Some("attribute_not_exists(#users) OR #users <= :one"),
                    &[
                        (":true", AttributeValue::Bool(true)),
                        (":zero", n(0)),
                        (":one", n(1)),
                        (":ttl", expires_in(CLOSED_MARK_TTL_SECS)),
                    ],
                )?);
            } else {
                writes.push(self.update_op(
                    room_key(room),
                    "ADD #users :minus_one",
                    Some("#users > :one"),
                    &[(":minus_one", n(-1)), (":one", n(1))],
                )?);
            }
        }
        let room_write = (writes.len() > 1).then_some(1);
        Ok(Leaving { writes, departure: Departure { room, user_left, room_closed }, member_write: Some(0), room_write })
    }

    /// Adds `connection` to the user's item in `room`; `entering` (read: the user has no
    /// connection there) becomes the write's condition.
    fn enter(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        room: RoomId,
        entering: bool,
    ) -> Result<TransactWriteItem, DynamoError> {
        let condition = if entering { "attribute_not_exists(#conns)" } else { "attribute_exists(#conns)" };
        let since = u64::try_from(epoch().as_micros()).unwrap_or(u64::MAX);
        self.update_op(
            member_key(room, user),
            "SET #since = if_not_exists(#since, :now), #ttl = :ttl ADD #conns :cset",
            Some(condition),
            &[(":now", n(since)), (":ttl", expires_in(BACKSTOP_TTL_SECS)), (":cset", one_member_set(connection))],
        )
    }

    /// One attempt at moving `connection` (of `info.user`, in `info.room`) with the member
    /// items of both rooms and the rooms' items as believed; when cancelled, the reasons and
    /// which write each of those items had.
    async fn try_move(
        &self,
        connection: &ConnectionId,
        ConnectionInfo { user, room: from }: &ConnectionInfo,
        to: RoomId,
        capacity: u32,
        [from_member, to_member, from_room, to_room]: [Option<&Item>; 4],
    ) -> Result<Result<MoveOutcome, (Vec<CancellationReason>, [Option<usize>; 4])>, DynamoError> {
        let from = *from;
        let user_entered = connections_of(to_member).is_empty();
        if !to.is_lobby() {
            if to_room.is_some_and(|room| room.contains_key("closed")) {
                return Ok(Ok(MoveOutcome::Closed));
            }
            let users = to_room.and_then(|room| number_attr(room, "users")).unwrap_or(0);
            if user_entered && users >= i64::from(capacity) {
                return Ok(Ok(MoveOutcome::Full));
            }
        }

        let mut writes = vec![self.update_op(
            connection_key(connection),
            "SET #rid = :to",
            Some("#rid = :from"),
            &[(":to", n(to)), (":from", n(from))],
        )?];
        let leaving = self.leave(connection, user, from, from_member, from_room)?;
        let shifted = |at: Option<usize>| at.map(|at| at + 1);
        let (from_member_write, from_room_write) = (shifted(leaving.member_write), shifted(leaving.room_write));
        writes.extend(leaving.writes);
        let to_member_write = Some(writes.len());
        writes.push(self.enter(connection, user, to, user_entered)?);
        let mut to_room_write = None;
        if !to.is_lobby() && user_entered {
            // The capacity check of this move: it commits only with the room still open and
            // still below capacity, whatever other instances do meanwhile.
            to_room_write = Some(writes.len());
            writes.push(self.update_op(
                room_key(to),
                "ADD #users :one",
                Some("attribute_not_exists(#closed) AND (attribute_not_exists(#users) OR #users < :capacity)"),
                &[(":one", n(1)), (":capacity", n(capacity))],
            )?);
        }
        Ok(match self.transact(writes).await? {
            None => Ok(MoveOutcome::Moved(Moved { from: leaving.departure, user_entered })),
            Some(reasons) => Err((reasons, [from_member_write, to_member_write, from_room_write, to_room_write])),
        })
    }

    /// The items a move of a connection of `info.user` from `info.room` to `to` decides on.
    async fn read_move(&self, info: &ConnectionInfo, to: RoomId) -> Result<[Option<Item>; 4], DynamoError> {
        let (user, from) = (&info.user, info.room);
        let mut keys = vec![member_key(from, user), member_key(to, user)];
        if !from.is_lobby() {
            keys.push(room_key(from));
        }
        if !to.is_lobby() {
            keys.push(room_key(to));
        }
        let mut items = self.get_many(keys).await?.into_iter();
        let (from_member, to_member) = (items.next().flatten(), items.next().flatten());
        let from_room = if from.is_lobby() { None } else { items.next().flatten() };
        let to_room = if to.is_lobby() { None } else { items.next().flatten() };
        Ok([from_member, to_member, from_room, to_room])
    }

    /// One attempt at `disconnect` of `connection` (in `room`, of `user`) with the user's
    /// item, the member item and the room item as believed; when cancelled, the reasons and
    /// which write each of those items had.
    async fn try_disconnect(
        &self,
        connection: &ConnectionId,
        ConnectionInfo { user, room }: &ConnectionInfo,
        lease_ends: Option<i64>,
        [user_item, member, room_item]: [Option<&Item>; 3],
    ) -> Result<Result<Disconnected, (Vec<CancellationReason>, [Option<usize>; 3])>, DynamoError> {
        let (user, room) = (user.clone(), *room);
        // The lease read with the item must still be its lease: a renewal meanwhile moved it.
        let own = match lease_ends {
            Some(ends) => self.delete_op(
                connection_key(connection),
                "#rid = :room AND #lease = :lease",
                &[(":room", n(room)), (":lease", n(ends))],
            )?,
            None => self.delete_op(connection_key(connection), "#rid = :room", &[(":room", n(room))])?,
        };
        let mut writes = vec![own];
        let leaving = self.leave(connection, &user, room, member, room_item)?;
        let shifted = |at: Option<usize>| at.map(|at| at + 1);
        let (member_write, room_write) = (shifted(leaving.member_write), shifted(leaving.room_write));
        writes.extend(leaving.writes);

        let everywhere = connections_of(user_item);
        let mut user_write = None;
        let went_offline = if everywhere.iter().any(|c| c == connection.as_str()) {
            let values = [(":c", s(connection.as_str())), (":cset", one_member_set(connection)), (":one", n(1))];
            let last = everywhere.len() == 1;
            user_write = Some(writes.len());
            writes.push(if last {
                self.delete_op(user_key(&user), LAST_HERE, &values)?
            } else {
                self.update_op(user_key(&user), "DELETE #conns :cset", Some(NOT_LAST_HERE), &values)?
            });
            last
        } else {
            everywhere.is_empty()
        };
        if let Some(ends) = lease_ends.and_then(|ends| u64::try_from(ends).ok()) {
            writes.push(self.delete_any_op(lease_key(connection.as_str(), ends))?);
        }
        Ok(match self.transact(writes).await? {
            None => Ok(Disconnected { user, from: leaving.departure, went_offline }),
            Some(reasons) => Err((reasons, [user_write, member_write, room_write])),
        })
    }

    /// One attempt at `connect` with the user's item and lobby member item as believed
    /// (read, or guessed); the cancellation reasons when the belief was wrong or a race lost.
    async fn try_connect(
        &self,
        connection: &ConnectionId,
        user: &UserId,
        profile: &Profile,
        user_item: Option<&Item>,
        lobby_member: Option<&Item>,
    ) -> Result<Result<Connected, Vec<CancellationReason>>, DynamoError> {
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
            self.put_op(item)?,
            self.update_op(
                user_key(user),
                "SET #ttl = :ttl ADD #conns :cset",
                Some(if came_online { "attribute_not_exists(#conns)" } else { "attribute_exists(#conns)" }),
                &[(":cset", one_member_set(connection)), (":ttl", ttl)],
            )?,
            self.enter(connection, user, RoomId::LOBBY, entered_lobby)?,
            self.put_op(lease)?,
        ];
        Ok(match self.transact(writes).await? {
            None => Ok(Connected { came_online, entered_lobby }),
            Some(reasons) => Err(reasons),
        })
    }
}

/// Replaces a connection's profile copy, if the connection is still there.
const SET_PROFILE: &str = "SET #nick = :nick, #grp = :grp";
/// The same without a group.
const SET_PROFILE_NO_GROUP: &str = "SET #nick = :nick REMOVE #grp";

impl DynamoPresence {
    async fn set_connection_profile(&self, connection: &str, profile: &Profile) -> Result<(), DynamoError> {
        let mut values = vec![(":nick", s(profile.nick.as_str()))];
        if let Some(group) = &profile.group {
            values.push((":grp", s(group.as_str())));
        }
        let update = if profile.group.is_some() { SET_PROFILE } else { SET_PROFILE_NO_GROUP };
        // Without the condition, updating a connection that just left would create it again.
        let condition = "attribute_exists(#uid)";
        let expression = Expression::new(&[update, condition], &values);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let answer = self
                .table
                .client
                .update_item()
                .table_name(&self.table.name)
                .set_key(Some(connection_key(&ConnectionId::new(connection))))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(expression.names.clone())
                .set_expression_attribute_values(expression.values.clone())
                .send()
                .quiet()
                .await;
            match answer {
                Ok(_) => return Ok(()),
                Err(err) => match err.as_service_error() {
                    // Gone: it keeps no copy.
                    Some(e) if e.is_conditional_check_failed_exception() => return Ok(()),
                    // A move or disconnect of this connection is committing right now.
                    Some(e) if e.is_transaction_conflict_exception() => {}
                    _ => return Err(DynamoError::request("UpdateItem", err)),
                },
            }
        }
        Err(DynamoError::Contended { operation: "set_profile", attempts: MAX_ATTEMPTS })
    }
}

// ---------------------------------------------------------------------------------------
// Rate limits

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
    async fn hit(&self, rate: &str, limit: u32, window: Duration) -> Result<Option<Duration>, DynamoError> {
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
            let condition = "attribute_not_exists(#until) OR #until > :now";
            let expression = Expression::new(
                &[&update, condition],
                &[(":until", n(now + window_ms)), (":ttl", expires_in(ttl_secs)), (":one", n(1)), (":now", n(now))],
            );
            let answer = self
                .table
                .client
                .update_item()
                .table_name(&self.table.name)
                .set_key(Some(rate_key(rate)))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(expression.names)
                .set_expression_attribute_values(expression.values)
                .return_values(ReturnValue::AllNew)
                .send()
                .quiet()
                .await;
            match answer {
                Ok(out) => {
                    return Ok(sliding.verdict(&slot_counts(out.attributes.as_ref()), limit, Counted::ThisOne));
                }
                Err(err) => {
                    let service = err.as_service_error();
                    if service.is_some_and(|e| e.is_transaction_conflict_exception()) {
                        continue;
                    }
                    if !service.is_some_and(|e| e.is_conditional_check_failed_exception()) {
                        return Err(DynamoError::request("UpdateItem", err));
                    }
                }
            }
            // Idle for a whole window: this attempt starts a new one.
            let mut item = rate_key(rate);
            item.insert(format!("w{current}"), n(1));
            item.insert("until".into(), n(now + window_ms));
            item.insert(TTL.into(), expires_in(ttl_secs));
            let restarted = self
                .table
                .client
                .put_item()
                .table_name(&self.table.name)
                .set_item(Some(item))
                .condition_expression("#until <= :now")
                .expression_attribute_names("#until", "until")
                .expression_attribute_values(":now", n(now))
                .send()
                .quiet()
                .await;
            match restarted {
                Ok(_) => {
                    return Ok(sliding.verdict(&BTreeMap::from([(current, 1)]), limit, Counted::ThisOne));
                }
                Err(err) => {
                    let service = err.as_service_error();
                    let raced = service.is_some_and(|e| {
                        e.is_conditional_check_failed_exception() || e.is_transaction_conflict_exception()
                    });
                    if !raced {
                        return Err(DynamoError::request("PutItem", err));
                    }
                }
            }
        }
        Err(DynamoError::Contended { operation: "hit_rate_limit", attempts: MAX_ATTEMPTS })
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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

// ---------------------------------------------------------------------------------------

/// What a cancelled transaction tells of the items behind the writes at `writes` (index,
/// item as believed): a failed condition hands back the item as it was (none: absent), a
/// condition that held confirms the belief. `None` when any of them is unknown (a conflict
/// with another transaction, or no reasons given), so the caller reads instead.
fn learned<const N: usize>(
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
                        self.get_many(vec![user_key(user), member_key(RoomId::LOBBY, user)]).await?.into_iter();
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
        let item = self.get_item(user_key(user)).await?;
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
            futures::try_join!(self.get_item(connection_key(connection)), self.hit(rate_key, limit, window))?;
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
        let item = self.get_item(connection_key(connection)).await?;
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
                    let Some(item) = self.get_item(connection_key(connection)).await? else {
                        return Ok(MoveOutcome::UnknownConnection);
                    };
                    self.renew_lease_if_due(connection, &item).await?;
                    let info = parse_connection(&item)?;
                    if info.room == to {
                        return Ok(MoveOutcome::AlreadyThere);
                    }
                    let beliefs = if attempt == 0 {
                        let alone = HashMap::from([("conns".to_owned(), one_member_set(connection))]);
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
                    let Some(item) = self.get_item(connection_key(connection)).await? else { return Ok(None) };
                    let info = parse_connection(&item)?;
                    let lease_ends = number_attr(&item, "lease");
                    let beliefs = if attempt == 0 {
                        let alone = HashMap::from([("conns".to_owned(), one_member_set(connection))]);
                        let others_stay = HashMap::from([("users".to_owned(), n(2))]);
                        [Some(alone.clone()), Some(alone), (!info.room.is_lobby()).then_some(others_stay)]
                    } else {
                        let mut keys = vec![user_key(&info.user), member_key(info.room, &info.user)];
                        if !info.room.is_lobby() {
                            keys.push(room_key(info.room));
                        }
                        let mut items = self.get_many(keys).await?.into_iter();
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
            let raw = string_attr(&item, SK).and_then(|sk| sk.strip_prefix(MEMBER_PREFIX)).unwrap_or_default();
            members.push((number_attr(&item, "since").unwrap_or(i64::MAX), parse_user(raw)?));
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
            self.get_many(distinct.iter().map(|room| room_key(*room)).collect()).await
        };
        let lobby = async {
            if rooms.iter().any(|room| room.is_lobby()) { self.lobby_count().await.map(Some) } else { Ok(None) }
        };
        let (counters, lobby) = futures::try_join!(counters, lobby)?;
        let counts: HashMap<RoomId, u32> = distinct
            .into_iter()
            .zip(counters)
            .map(|(room, item)| {
                let users = item.as_ref().and_then(|i| number_attr(i, "users")).unwrap_or(0);
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
        let item = self.get_item(user_key(user)).await?;
        Ok(connections_of(item.as_ref()).into_iter().map(ConnectionId::new).collect())
    }

    async fn user_rooms(&self, user: &UserId) -> PresenceResult<Vec<RoomId>> {
        let connections = self.user_connections(user).await?;
        if connections.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.get_many(connections.iter().map(connection_key).collect()).await?;
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
        let items = self.get_many(distinct.iter().map(|user| user_key(user)).collect()).await?;
        let online: HashSet<&UserId> = distinct
            .into_iter()
            .zip(items)
            .filter(|(_, item)| !connections_of(item.as_ref()).is_empty())
            .map(|(user, _)| user)
            .collect();
        Ok(users.iter().filter(|user| online.contains(user)).cloned().collect())
    }

    async fn hit_rate_limit(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        Ok(self.hit(key, limit, window).await?)
    }

    /// One `Query` per lease shard, all at once, for lease ends before now.
    async fn expired_connections(&self, limit: usize) -> PresenceResult<Vec<ConnectionId>> {
        let now = format!("{:015}", u64::try_from(epoch().as_millis()).unwrap_or(u64::MAX));
        let page = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let shards = (0..LEASE_SHARDS).map(|shard| {
            self.table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("#pk = :pk AND #sk < :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(lease_partition(shard)))
                .expression_attribute_values(":now", s(&now))
                .consistent_read(true)
                .limit(page)
                .send()
                .quiet()
        });
        let mut expired: Vec<String> = Vec::new();
        for answer in futures::future::join_all(shards).await {
            let out = answer.map_err(|err| DynamoError::request("Query", err))?;
            expired.extend(
                out.items.unwrap_or_default().iter().filter_map(|item| string_attr(item, SK).map(str::to_owned)),
            );
        }
        // `<lease end>#<cid>`: sorting the keys sorts by lease end.
        expired.sort();
        Ok(expired
            .into_iter()
            .filter_map(|sk| sk.split_once('#').map(|(_, connection)| ConnectionId::new(connection)))
            .take(limit)
            .collect())
    }

    /// One consistent `GetItem` of the window's item.
    async fn rate_limit_wait(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        let item = self.get_item(rate_key(key)).await?;
        // Slots that have left the window do not count, however old the item.
        let window = SlidingWindow::new(millis(window).max(1), millis(epoch()));
        Ok(window.verdict(&slot_counts(item.as_ref()), limit, Counted::EarlierOnly))
    }

    /// One conditional `DeleteItem`: only a closed mark goes, never a live room's item.
    async fn room_created(&self, room: RoomId) -> PresenceResult<()> {
        let deleted = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(room_key(room)))
            .condition_expression("attribute_exists(#closed)")
            .expression_attribute_names("#closed", "closed")
            .send()
            .quiet()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(DynamoError::request("DeleteItem", err).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_once_each() {
        let names = placeholders(["SET #a = :x, #b_2 = :y", "#a > :x AND size(#conns) = :one"], '#');
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["#a", "#b_2", "#conns"]);
        let values = placeholders(["SET #a = :x, #b_2 = :y", "#a > :x"], ':');
        assert_eq!(values.into_iter().collect::<Vec<_>>(), [":x", ":y"]);
    }

    #[test]
    fn unused_values_are_left_out() {
        let expression = Expression::new(&["SET #ttl = :ttl"], &[(":ttl", n(1)), (":other", n(2))]);
        assert_eq!(expression.values.map(|v| v.len()), Some(1));
        assert_eq!(expression.names, Some(HashMap::from([("#ttl".to_owned(), "ttl".to_owned())])));
    }

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
        // An item that had no write keeps what was believed.
        assert_eq!(
            learned(&reasons, [(None, believed_member.clone()), (Some(2), None)]),
            Some([believed_member, None])
        );
        // A conflict says nothing about the item: read instead.
        let reasons = [reason("None"), reason("TransactionConflict"), reason("None")];
        assert_eq!(learned(&reasons, [(Some(1), None), (Some(2), None)]), None);
        assert_eq!(learned(&[], [(Some(1), None), (Some(2), None)]), None);
    }

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
