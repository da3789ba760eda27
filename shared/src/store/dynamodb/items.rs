//! The store's item layout on the table (see the table in [`super`]): keys and sort keys, and
//! the records read back from items.

use crate::domain::{Capacity, GroupId, Nick, RoomId, RoomTitle, UserId};
use crate::dynamodb::codec::key;
use crate::dynamodb::{DynamoError, Item, ItemExt};
use crate::store::{RoomRecord, UserRecord};

/// Digits of a room message's sort key (and of the open-room listing's): any `i64` fits.
pub(super) const SEQ_WIDTH: usize = 20;
/// Digits of a whisper's or group message's sort key: a message id.
pub(super) const MESSAGE_ID_WIDTH: usize = 16;

fn user_pk(user_id: impl std::fmt::Display) -> String {
    format!("USER#{user_id}")
}

pub(super) fn profile_key(user_id: impl std::fmt::Display) -> Item {
    key(user_pk(user_id), "PROFILE")
}

pub(super) fn token_key(token_hash: &str) -> Item {
    key(format!("TOKEN#{token_hash}"), "TOKEN")
}

pub(super) fn family_key(family_id: &str) -> Item {
    key(format!("FAMILY#{family_id}"), "FAMILY")
}

pub(super) fn room_pk(room_id: RoomId) -> String {
    format!("ROOM#{}", room_id.get())
}

pub(super) fn room_key(room_id: RoomId) -> Item {
    key(room_pk(room_id), "META")
}

pub(super) fn open_room_sk(room_id: RoomId) -> String {
    format!("OPEN#{:0SEQ_WIDTH$}", room_id.get())
}

pub(super) fn group_sk(group_id: &GroupId) -> String {
    format!("G#{group_id}")
}

pub(super) fn member_sk(group_id: &GroupId, user_id: &UserId) -> String {
    format!("G#{group_id}#M#{user_id}")
}

pub(super) fn whisper_pk(a: &UserId, b: &UserId) -> String {
    let (lo, hi) = if a.as_str() <= b.as_str() { (a, b) } else { (b, a) };
    format!("WHISPER#{lo}#{hi}")
}

pub(super) fn group_messages_pk(group_id: &GroupId) -> String {
    format!("GROUPMSG#{group_id}")
}

pub(super) fn message_sk(position: i64, width: usize) -> String {
    format!("MSG#{position:0width$}")
}

pub(super) fn idempotency_key(sender: &UserId, client_msg_id: impl std::fmt::Display) -> Item {
    key(format!("IDEM#{sender}#{client_msg_id}"), "IDEM")
}

pub(super) fn user_from_item(item: &Item) -> Result<UserRecord, DynamoError> {
    Ok(UserRecord {
        user_id: UserId::parse(item.required_string("user_id")?).map_err(DynamoError::corrupt)?,
        nick: Nick::from_stored(item.required_string("nick")?).map_err(DynamoError::corrupt)?,
        group_id: item.string("group_id").map(GroupId::parse).transpose().map_err(DynamoError::corrupt)?,
        password_hash: item.required_string("password_hash")?.to_owned(),
    })
}

pub(super) fn room_from_item(item: &Item) -> Result<RoomRecord, DynamoError> {
    Ok(RoomRecord {
        room_id: RoomId::from_stored(item.required_number("room_id")?),
        title: RoomTitle::parse(item.required_string("title")?).map_err(DynamoError::corrupt)?,
        password_hash: item.string("password_hash").map(str::to_owned),
        capacity: Capacity::parse(item.required_number("capacity")?).map_err(DynamoError::corrupt)?,
        owner: UserId::parse(item.required_string("owner")?).map_err(DynamoError::corrupt)?,
        closed: item.contains_key("closed_at"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_numerically_and_whispers_share_a_partition() {
        assert!(message_sk(9, SEQ_WIDTH) < message_sk(10, SEQ_WIDTH));
        assert!(open_room_sk(RoomId::from_stored(99)) < open_room_sk(RoomId::from_stored(100)));
        let (ann, bob) = (UserId::parse("ann").unwrap(), UserId::parse("bob").unwrap());
        assert_eq!(whisper_pk(&ann, &bob), whisper_pk(&bob, &ann));
        let red = GroupId::parse("red").unwrap();
        assert!(group_sk(&red) < member_sk(&red, &ann), "a group sorts right before its members");
    }
}
