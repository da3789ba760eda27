//! Presence's item layout on the table (see the table in [`super`]): the keys, the attributes
//! read back, and the clock the leases and expiries count in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::super::{ConnectionInfo, Profile};
use crate::domain::{ConnectionId, GroupId, Nick, RoomId, UserId};
use crate::dynamodb::codec::{key, n};
use crate::dynamodb::{DynamoError, Item, ItemExt};

/// Connection, user and member items outlive a connection's lease by a day: the sweep of
/// expired leases ([`crate::presence::Presence::expired_connections`]) needs them to clean up
/// after a lost `$disconnect`; DynamoDB's expiry only keeps a table nobody sweeps from growing.
pub(super) const BACKSTOP_TTL_SECS: u64 = super::super::CONNECTION_LEASE.as_secs() + 24 * 3600;
/// A closed room stays unjoinable in presence this long; the store remembers it for good.
pub(super) const CLOSED_MARK_TTL_SECS: u64 = 7 * 24 * 3600;
/// Lease items are spread over this many partitions, so that connects do not all write one.
pub(super) const LEASE_SHARDS: u64 = 4;

/// The sort key prefix of a room's per-user items.
pub(super) const MEMBER_PREFIX: &str = "USER#";

/// `:c` is the only connection in the item's set. (`attribute_exists` first: DynamoDB takes
/// `size` of a missing attribute as false, but moto, the test emulator, fails the whole
/// request on it instead of failing the condition.)
pub(super) const LAST_HERE: &str = "attribute_exists(#conns) AND size(#conns) = :one AND contains(#conns, :c)";
/// `:c` is one of several connections in the item's set.
pub(super) const NOT_LAST_HERE: &str = "attribute_exists(#conns) AND contains(#conns, :c) AND size(#conns) > :one";

pub(super) fn connection_key(connection: &ConnectionId) -> Item {
    key(format!("PRESENCE#CONN#{connection}"), "CONN")
}

pub(super) fn user_key(user: &UserId) -> Item {
    key(format!("PRESENCE#USER#{user}"), "USER")
}

pub(super) fn room_partition(room: RoomId) -> String {
    format!("PRESENCE#ROOM#{room}")
}

pub(super) fn member_key(room: RoomId, user: &UserId) -> Item {
    key(room_partition(room), format!("{MEMBER_PREFIX}{user}"))
}

pub(super) fn room_key(room: RoomId) -> Item {
    key(room_partition(room), "ROOM")
}

pub(super) fn rate_key(rate_key: &str) -> Item {
    key(format!("PRESENCE#RATE#{rate_key}"), "RATE")
}

/// FNV-1a of the connection id: stable across processes and versions, unlike std's hasher.
fn lease_shard(connection: &str) -> u64 {
    let hash =
        connection.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash % LEASE_SHARDS
}

pub(super) fn lease_partition(shard: u64) -> String {
    format!("PRESENCE#LEASE#{shard}")
}

/// Zero-padded, so that sort keys order as numbers.
pub(super) fn lease_key(connection: &str, ends_ms: u64) -> Item {
    key(lease_partition(lease_shard(connection)), format!("{ends_ms:015}#{connection}"))
}

/// A number attribute presence can do without: absent or malformed, it reads as `None`.
pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    item.number(name).ok().flatten()
}

/// The connection ids of a `conns` set; none when the item or the attribute is absent.
pub(super) fn connections_of(item: Option<&Item>) -> Vec<String> {
    item.map(|item| item.string_set("conns").to_vec()).unwrap_or_default()
}

pub(super) fn parse_user(raw: &str) -> Result<UserId, DynamoError> {
    UserId::parse(raw).map_err(|_| DynamoError::corrupt(format!("bad user id {raw:?} in presence")))
}

pub(super) fn parse_connection(item: &Item) -> Result<ConnectionInfo, DynamoError> {
    let user = item.string("uid").ok_or_else(|| DynamoError::corrupt("presence connection without uid"))?;
    let room = number(item, "rid").ok_or_else(|| DynamoError::corrupt("presence connection without rid"))?;
    Ok(ConnectionInfo { user: parse_user(user)?, room: RoomId::from_stored(room) })
}

pub(super) fn parse_profile(item: &Item) -> Result<Option<Profile>, DynamoError> {
    // A nick that no longer parses (rules tightened since) leaves the store to answer.
    let Some(nick) = item.string("nick").and_then(|raw| Nick::from_stored(raw).ok()) else { return Ok(None) };
    let group = item
        .string("grp")
        .map(|raw| GroupId::parse(raw).map_err(|_| DynamoError::corrupt(format!("bad group id {raw:?} in presence"))))
        .transpose()?;
    Ok(Some(Profile { nick, group }))
}

pub(super) fn epoch() -> Duration {
    // A clock before 1970 is a broken host; zero keeps the arithmetic defined.
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A `ttl` value `secs` from now.
pub(super) fn expires_in(secs: u64) -> aws_sdk_dynamodb::types::AttributeValue {
    n(epoch().as_secs() + secs)
}
