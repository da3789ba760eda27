//! The store's item layout on the table (see the table in [`super`]): keys and sort keys, and
//! the records read back from items.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    Capacity, ConversationKey, Emoji, GroupId, MessageId, MessageKind, MessageText, Nick, Reaction, RoomId, RoomTitle,
    UserId,
};
use crate::dynamodb::codec::{key, s};
use crate::dynamodb::{DynamoError, Item, ItemExt};
use crate::store::{MessageRecord, RoomRecord, UserRecord};

/// Digits of a room message's sort key (and of the open-room listing's): any `i64` fits.
pub(super) const SEQ_WIDTH: usize = 20;
/// Digits of a whisper's or group message's sort key: a message id.
pub(super) const MESSAGE_ID_WIDTH: usize = 16;

pub(super) fn user_pk(user_id: impl std::fmt::Display) -> String {
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

/// The largest position a message sort key of `width` digits holds.
pub(super) fn largest_position(width: usize) -> i64 {
    10_i64.saturating_pow(width as u32).saturating_sub(1)
}

pub(super) fn message_sk(position: i64, width: usize) -> String {
    format!("MSG#{position:0width$}")
}

pub(super) fn idempotency_key(sender: &UserId, client_msg_id: impl std::fmt::Display) -> Item {
    key(format!("IDEM#{sender}#{client_msg_id}"), "IDEM")
}

/// A message id's claim, which also locates the message: `at_pk` / `at_sk`.
pub(super) fn locator_key(message_id: i64) -> Item {
    key(format!("MSGID#{message_id}"), "MSGID")
}

/// The key of the message a locator names; `None` for a claim written before locators
/// (the upgrade in [`super::upgrade`] fills those in).
pub(super) fn located(locator: &Item) -> Option<Item> {
    Some(key(locator.string("at_pk")?, locator.string("at_sk")?))
}

/// A user's read mark in one conversation, beside their profile: all of them in one query.
pub(super) fn read_mark_key(user: &UserId, conversation: &ConversationKey) -> Item {
    let target = match conversation {
        ConversationKey::Room { room_id } => format!("r#{}", room_id.get()),
        ConversationKey::Group { group_id } => format!("g#{group_id}"),
        ConversationKey::Whisper { with } => format!("w#{with}"),
    };
    key(user_pk(user), format!("{READ_MARK_PREFIX}{target}"))
}

pub(super) const READ_MARK_PREFIX: &str = "READ#";
pub(super) const PARTNER_PREFIX: &str = "PARTNER#";

/// Someone `user` whispered with, holding the id of their last whisper (`last_id`).
pub(super) fn partner_key(user: &UserId, partner: &UserId) -> Item {
    key(user_pk(user), format!("{PARTNER_PREFIX}{partner}"))
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

/// A list of strings, as mentions are stored; `None` for none (an empty list is not written).
pub(super) fn string_list<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<AttributeValue> {
    let list: Vec<AttributeValue> = values.into_iter().map(s).collect();
    (!list.is_empty()).then_some(AttributeValue::L(list))
}

pub(super) fn strings_of<'a>(item: &'a Item, name: &str) -> Result<Vec<&'a str>, DynamoError> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|value| match value {
                AttributeValue::S(text) => Ok(text.as_str()),
                _ => Err(DynamoError::corrupt(format!("{name} holds a non-string"))),
            })
            .collect(),
        Some(_) => Err(DynamoError::corrupt(format!("{name} is not a list"))),
    }
}

pub(super) fn mentions_of(item: &Item) -> Result<Vec<UserId>, DynamoError> {
    strings_of(item, "mentions")?.into_iter().map(|id| UserId::parse(id).map_err(DynamoError::corrupt)).collect()
}

/// A reaction as stored in a message's `reactions` list, oldest first: emoji and user id,
/// neither of which holds a space.
pub(super) fn reaction_entry(emoji: &Emoji, user: &UserId) -> String {
    format!("{emoji} {user}")
}

pub(super) fn reactions_of(item: &Item) -> Result<Vec<Reaction>, DynamoError> {
    let pairs = strings_of(item, "reactions")?
        .into_iter()
        .map(|entry| {
            let (emoji, user) = entry.split_once(' ').ok_or_else(|| DynamoError::corrupt("reaction without a user"))?;
            Ok((Emoji::parse(emoji).map_err(DynamoError::corrupt)?, UserId::parse(user).map_err(DynamoError::corrupt)?))
        })
        .collect::<Result<Vec<_>, DynamoError>>()?;
    Ok(Reaction::tally(pairs))
}

/// A message item as history shows it, with its sender as they are now.
pub(super) fn message_from_item(item: &Item, sender: &UserRecord) -> Result<MessageRecord, DynamoError> {
    let room_id = item.number("room_id")?.map(RoomId::from_stored);
    let group_id = item.string("group_id").map(GroupId::parse).transpose().map_err(DynamoError::corrupt)?;
    let recipient = item.string("recipient").map(UserId::parse).transpose().map_err(DynamoError::corrupt)?;
    let text = match item.contains_key("deleted_at") {
        true => None,
        false => Some(MessageText::from_stored(item.required_string("text")?).map_err(DynamoError::corrupt)?),
    };
    Ok(MessageRecord {
        message_id: MessageId::from_stored(item.required_number("message_id")?),
        kind: MessageKind::of_stored(room_id.is_some(), group_id.is_some()),
        room_id,
        group_id,
        recipient,
        sender: sender.user_id.clone(),
        sender_nick: sender.nick.clone(),
        sender_group: sender.group_id.clone(),
        text,
        sent_at_ms: item.required_number("sent_at")?,
        seq: item.number("seq")?,
        edited_at_ms: item.number("edited_at")?,
        reactions: reactions_of(item)?,
        mentions: mentions_of(item)?,
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

    #[test]
    fn reactions_and_mentions_read_back_as_written() {
        let (ann, bob) = (UserId::parse("ann").unwrap(), UserId::parse("bob").unwrap());
        let (up, flag) = (Emoji::parse("👍").unwrap(), Emoji::parse("🇫🇷").unwrap());
        let entries = [reaction_entry(&flag, &ann), reaction_entry(&up, &bob), reaction_entry(&flag, &bob)];
        let mut item = key("ROOM#0", message_sk(1, SEQ_WIDTH));
        item.insert("reactions".into(), string_list(entries.iter().map(String::as_str)).unwrap());
        item.insert("mentions".into(), string_list(["bob", "ann"]).unwrap());
        let reactions = reactions_of(&item).unwrap();
        let tallied: Vec<_> = reactions.iter().map(|r| (r.emoji.as_str(), r.count)).collect();
        assert_eq!(tallied, [("🇫🇷", 2), ("👍", 1)]);
        assert_eq!(mentions_of(&item).unwrap(), [bob, ann]);
        assert!(string_list([]).is_none(), "no empty list is written");
        item.insert("reactions".into(), string_list(["no-user"]).unwrap());
        assert!(matches!(reactions_of(&item), Err(DynamoError::Corrupt(_))));
    }
}
