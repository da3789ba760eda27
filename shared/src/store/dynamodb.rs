//! [`Store`] on the DynamoDB profile's single table ([`crate::dynamodb::Table`]).
//!
//! Item layout (`pk` / `sk`; docs/deploy.md has the same table with the reasons):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | user | `USER#<userId>` | `PROFILE` |
//! | refresh token | `TOKEN#<hash>` | `TOKEN` |
//! | token family (revocation, expiry) | `FAMILY#<familyId>` | `FAMILY` |
//! | room id counter | `COUNTER` | `ROOM` |
//! | room (with its `seq` counter; the lobby is room 0) | `ROOM#<roomId>` | `META` |
//! | open-room listing | `ROOMS` | `OPEN#<roomId, 20 digits>` |
//! | room message | `ROOM#<roomId>` | `MSG#<seq, 20 digits>` |
//! | whisper | `WHISPER#<lower userId>#<higher userId>` | `MSG#<messageId>` |
//! | group message | `GROUPMSG#<groupId>` | `MSG#<messageId>` |
//! | group (member count) | `GROUPS` | `G#<groupId>` |
//! | group member | `GROUPS` | `G#<groupId>#M#<userId>` |
//! | message locator (id claim; `at_pk` / `at_sk`) | `MSGID#<messageId>` | `MSGID` |
//! | `clientMsgId` idempotency | `IDEM#<sender>#<clientMsgId>` | `IDEM` |
//! | read mark (`up_to`) | `USER#<userId>` | `READ#r#<roomId>`, `READ#g#<groupId>`, `READ#w#<partner>` |
//! | whisper partner (`last_id`) | `USER#<userId>` | `PARTNER#<partner>` |
//! | upgrade progress | `SCHEMA` | `MESSAGE_LOCATORS` |
//!
//! A message item holds, besides its text, sender and time, `mentions` (a list of user
//! ids, absent when none), `edited_at`, `deleted_at` (its text, mentions and reactions then
//! removed), and `reactions`: a list of `"<emoji> <userId>"`, oldest first, with the
//! `version` every change of that list requires and raises.
//!
//! Every invariant is a condition checked by DynamoDB inside one write or one transaction;
//! reads only supply the expected value of a condition, and a failed condition means
//! "someone else got there first": read again and retry, or report what the other writer did.
//!
//! The requests themselves are [`crate::dynamodb`]'s; here are the layout ([`items`]) and the
//! algorithms by concept: [`tokens`], [`rooms`], [`groups`], [`messages`], [`changes`]
//! (edits, deletes, reactions), [`conversations`] (read marks, unread counts) and
//! [`upgrade`] (locators and partner items for messages stored before them).

mod changes;
mod conversations;
mod groups;
mod items;
mod messages;
mod rooms;
mod tokens;
mod upgrade;

pub use upgrade::Upgrade;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use self::items::{profile_key, room_from_item, room_key, user_from_item};
use super::{
    ConversationState, GroupMove, HistoryPage, HistoryScope, MessageRecord, NewMessage, NewRefreshToken, NewRoom,
    RefreshRotation, RoomChanges, RoomRecord, Rotation, Store, StoreError, StoreResult, StoredMessage, UserRecord,
};
use crate::clock::now_ms;
use crate::domain::{Bounds, ConversationKey, Emoji, GroupId, MessageId, MessageText, Nick, Reaction, RoomId, UserId};
use crate::dynamodb::codec::{n, s};
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, Table};

/// Attempts at a write whose condition keeps losing to concurrent writers. A contended room
/// loses at most one attempt per competing append, so this is well above any burst a room
/// sees; beyond it the send fails as unavailable rather than spinning.
const MAX_ATTEMPTS: u32 = 200;

/// `Store` on one DynamoDB table; cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    table: Table,
    /// The last `seq` seen per room: the expected value of the next append's condition, so a
    /// warm instance appends with one request. A stale value only costs a failed condition.
    seq_hints: Arc<Mutex<HashMap<i64, i64>>>,
}

impl DynamoStore {
    pub fn new(table: Table) -> Self {
        Self { table, seq_hints: Default::default() }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Writes an item whose key must be new; `Conflict` when it exists.
    async fn put_new(&self, item: Item) -> StoreResult<()> {
        match self.table.try_write(Write::put(item).condition("attribute_not_exists(#pk)")).await? {
            Ok(_) => Ok(()),
            Err(Refused::Condition(_)) => Err(StoreError::Conflict),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_user(&self, user_id: &UserId, nick: &Nick, password_hash: &str) -> StoreResult<()> {
        let mut item = profile_key(user_id);
        item.insert("user_id".into(), s(user_id.as_str()));
        item.insert("nick".into(), s(nick.as_str()));
        item.insert("password_hash".into(), s(password_hash));
        item.insert("created_at".into(), n(now_ms()));
        self.put_new(item).await
    }

    async fn user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>> {
        Ok(self.table.get_item(profile_key(user_id)).await?.as_ref().map(user_from_item).transpose()?)
    }

    async fn users(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        let profiles = self.profiles(user_ids.iter().map(UserId::as_str)).await?;
        Ok(profiles.iter().map(user_from_item).collect::<Result<_, _>>()?)
    }

    async fn set_nick(&self, user_id: &UserId, nick: &Nick) -> StoreResult<()> {
        let rename = Write::update(profile_key(user_id), "SET #nick = :nick")
            .condition("attribute_exists(#pk)")
            .values(&[(":nick", s(nick.as_str()))]);
        match self.table.try_write(rename).await? {
            Ok(_) => Ok(()),
            Err(Refused::Condition(_)) => Err(StoreError::NotFound),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }

    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        self.insert_token(token).await
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation<'_>) -> StoreResult<Rotation> {
        self.rotate(rotation).await
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<bool> {
        self.revoke_token_family(token_hash).await
    }

    async fn create_room(&self, room: &NewRoom) -> StoreResult<RoomRecord> {
        self.insert_room(room).await
    }

    async fn room(&self, room_id: RoomId) -> StoreResult<Option<RoomRecord>> {
        if room_id.is_lobby() {
            return Ok(None);
        }
        Ok(self.table.get_item(room_key(room_id)).await?.as_ref().map(room_from_item).transpose()?)
    }

    async fn open_rooms(&self) -> StoreResult<Vec<RoomRecord>> {
        self.listed_rooms().await
    }

    async fn update_room(&self, room_id: RoomId, changes: &RoomChanges) -> StoreResult<RoomRecord> {
        self.change_room(room_id, changes).await
    }

    async fn close_room(&self, room_id: RoomId) -> StoreResult<()> {
        self.close(room_id).await
    }

    async fn create_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, Some(group_id), true).await
    }

    async fn join_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, Some(group_id), false).await
    }

    async fn leave_group(&self, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, None, false).await
    }

    async fn groups(&self) -> StoreResult<Vec<(GroupId, Vec<UserId>)>> {
        self.all_groups().await
    }

    async fn group_members(&self, group_id: &GroupId) -> StoreResult<Vec<UserId>> {
        self.members_of(group_id).await
    }

    async fn append_message(&self, message: &NewMessage) -> StoreResult<StoredMessage> {
        self.append(message).await
    }

    async fn history(&self, scope: &HistoryScope, bounds: Bounds, limit: u32) -> StoreResult<HistoryPage> {
        self.page(scope, bounds, limit).await
    }

    async fn message(&self, message_id: MessageId) -> StoreResult<Option<MessageRecord>> {
        self.message_by_id(message_id).await
    }

    async fn edit_message(
        &self,
        message_id: MessageId,
        text: &MessageText,
        mentions: &[UserId],
        edited_at_ms: i64,
    ) -> StoreResult<MessageRecord> {
        self.edit(message_id, text, mentions, edited_at_ms).await
    }

    async fn delete_message(&self, message_id: MessageId) -> StoreResult<MessageRecord> {
        self.delete(message_id).await
    }

    async fn react(&self, message_id: MessageId, user: &UserId, emoji: &Emoji, on: bool) -> StoreResult<Vec<Reaction>> {
        self.toggle_reaction(message_id, user, emoji, on).await
    }

    async fn mark_read(&self, user: &UserId, conversation: &ConversationKey, up_to: i64) -> StoreResult<bool> {
        self.raise_read_mark(user, conversation, up_to).await
    }

    async fn conversations(&self, user: &UserId, joined: &[ConversationKey]) -> StoreResult<Vec<ConversationState>> {
        self.conversation_states(user, joined).await
    }
}
