//! Durable data: users, refresh tokens, rooms, groups and messages.
//!
//! [`Store`] is the one interface the use cases see. [`sql::SqlStore`] implements it for
//! MySQL-compatible servers (production) and SQLite (the embedded default) over sqlx's `Any`
//! driver: the statements are the same text for both but for the few spelled out in
//! [`sql::Dialect`], and each backend has its own migrations folder. `dynamodb::DynamoStore`
//! implements it on one DynamoDB table (the no-VPC profile).

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod sql;

use async_trait::async_trait;

use crate::domain::{
    Bounds, Capacity, ClientMsgId, ConversationKey, Emoji, GroupId, MessageId, MessageKind, MessageText, Nick,
    Reaction, RoomId, RoomTitle, UserId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error("not found")]
    NotFound,
    #[error("unsupported database url {0}: expected sqlite:, mysql:, mariadb: or dynamodb://")]
    UnsupportedUrl(String),
    /// A URL of a backend this binary was built without: a function built for one storage
    /// profile, deployed with the other's configuration.
    #[error("this build has no driver for the database url {0} (built for another storage profile?)")]
    NotBuiltIn(String),
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    #[error("database: {0}")]
    Backend(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[cfg(feature = "dynamodb")]
    #[error("{0}")]
    Dynamo(#[from] crate::dynamodb::DynamoError),
}

impl StoreError {
    /// The store could not be reached or did not answer, as opposed to refusing the request
    /// or holding data that does not parse.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Backend(_) | StoreError::Migration(_) => true,
            #[cfg(feature = "dynamodb")]
            StoreError::Dynamo(dynamo) => !matches!(dynamo, crate::dynamodb::DynamoError::Corrupt(_)),
            StoreError::Conflict
            | StoreError::NotFound
            | StoreError::Corrupt(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::NotBuiltIn(_)
            | StoreError::Unsupported(_)
            | StoreError::LimitReached(_) => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user_id: UserId,
    pub nick: Nick,
    pub group_id: Option<GroupId>,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub user_id: UserId,
    pub family_id: String,
    pub expires_at_ms: i64,
    /// The session's absolute end: no token of this family outlives it, however rotated.
    pub session_ends_at_ms: i64,
}

/// Presenting refresh token `old_hash` to be replaced by `new_hash`. The new hash is derived
/// from the old token, so a retry of the same rotation names the same successor.
#[derive(Debug, Clone, Copy)]
pub struct RefreshRotation<'a> {
    pub old_hash: &'a str,
    pub new_hash: &'a str,
    /// Capped at the session's end.
    pub new_expires_at_ms: i64,
    /// How long after a rotation the same rotation is answered again instead of counted as
    /// reuse: a client whose answer was lost retries, or two tabs refresh at once.
    pub grace_ms: i64,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and is now retired with its successor stored in its family, or it
    /// was retired by this same rotation within the grace window: either way the successor
    /// is live, and `rotated_at_ms` is when it was made.
    Rotated {
        user_id: UserId,
        rotated_at_ms: i64,
    },
    /// The token was retired or revoked already: its whole family is now revoked.
    Reused,
    Expired,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct RoomRecord {
    pub room_id: RoomId,
    pub title: RoomTitle,
    pub password_hash: Option<String>,
    pub capacity: Capacity,
    pub owner: UserId,
    pub closed: bool,
}

#[derive(Debug, Clone)]
pub struct NewRoom {
    pub title: RoomTitle,
    pub password_hash: Option<String>,
    pub capacity: Capacity,
    pub owner: UserId,
}

/// Fields to change on a room; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct RoomChanges {
    pub title: Option<RoomTitle>,
    /// `Some(None)` removes the password.
    pub password_hash: Option<Option<String>>,
    pub capacity: Option<Capacity>,
    pub owner: Option<UserId>,
}

/// A user's move between groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMove {
    /// The group the user was in before, if another one.
    pub left: Option<GroupId>,
    /// True when `left` lost its last member and was removed.
    pub left_removed: bool,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub kind: MessageKind,
    /// For `all` messages: the room (or lobby) it was said in.
    pub room_id: Option<RoomId>,
    pub group_id: Option<GroupId>,
    pub sender: UserId,
    pub recipient: Option<UserId>,
    pub text: MessageText,
    pub client_msg_id: Option<ClientMsgId>,
    /// The existing users `text` mentions.
    pub mentions: Vec<UserId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMessage {
    pub message_id: MessageId,
    pub seq: Option<i64>,
    pub sent_at_ms: i64,
    /// True when `client_msg_id` was seen within the idempotency window: nothing was stored.
    pub duplicate: bool,
}

#[derive(Debug, Clone)]
pub struct MessageRecord {
    pub message_id: MessageId,
    pub kind: MessageKind,
    pub room_id: Option<RoomId>,
    pub group_id: Option<GroupId>,
    pub recipient: Option<UserId>,
    pub sender: UserId,
    pub sender_nick: Nick,
    pub sender_group: Option<GroupId>,
    /// `None` once deleted.
    pub text: Option<MessageText>,
    pub sent_at_ms: i64,
    pub seq: Option<i64>,
    pub edited_at_ms: Option<i64>,
    pub reactions: Vec<Reaction>,
    pub mentions: Vec<UserId>,
}

impl MessageRecord {
    /// The conversation the message belongs to, named as `reader` sees it.
    pub fn conversation_for(&self, reader: &UserId) -> ConversationKey {
        match (self.room_id, &self.group_id, &self.recipient) {
            (Some(room_id), _, _) => ConversationKey::Room { room_id },
            (None, Some(group_id), _) => ConversationKey::Group { group_id: group_id.clone() },
            (None, None, recipient) => {
                let other = if &self.sender == reader { recipient.as_ref() } else { None };
                ConversationKey::Whisper { with: other.unwrap_or(&self.sender).clone() }
            }
        }
    }
}

/// `unread` and `mentions` of a conversation count up to this: the cost of counting stays
/// bounded however long a conversation went unread.
pub const UNREAD_COUNT_CAP: u32 = 999;
/// `chat.conversations` lists at most this many whisper partners, the most recent.
pub const MAX_WHISPER_PARTNERS: usize = 100;

/// A conversation as one reader sees it in `chat.conversations`.
#[derive(Debug, Clone)]
pub struct ConversationState {
    pub key: ConversationKey,
    /// Messages from others above the reader's mark, deleted ones not counted; at most
    /// [`UNREAD_COUNT_CAP`].
    pub unread: u32,
    /// The unread messages that mention the reader.
    pub mentions: u32,
    pub last: Option<MessageRecord>,
}

/// The first step of a room message on a store that numbers in batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomInsert {
    /// Stored without its `seq`; [`Store::number_room_messages`] gives it one.
    Pending(MessageId),
    /// Nothing new was stored: the `clientMsgId` was seen within the idempotency window.
    Duplicate(StoredMessage),
}

/// What one numbering did.
#[derive(Debug, Clone)]
pub struct Numbered {
    /// The caller's message, with its `seq` (given by this numbering or an earlier one).
    pub own: StoredMessage,
    /// Every message this numbering gave a `seq`, in `seq` order: the caller delivers them.
    /// Empty when an earlier numbering (another sender's, perhaps in another process) took
    /// the caller's message with it; that one delivered it.
    pub batch: Vec<MessageRecord>,
}

/// Whose messages a history page reads.
#[derive(Debug, Clone)]
pub enum HistoryScope {
    Room(RoomId),
    Whisper(UserId, UserId),
    Group(GroupId),
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Oldest first.
    pub messages: Vec<MessageRecord>,
    pub has_more: bool,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// `Conflict` when the id is taken.
    async fn create_user(&self, user_id: &UserId, nick: &Nick, password_hash: &str) -> StoreResult<()>;
    async fn user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// The users that exist among `user_ids`, in no particular order.
    async fn users(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserRecord>>;
    async fn set_nick(&self, user_id: &UserId, nick: &Nick) -> StoreResult<()>;

    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()>;
    /// Retires `old_hash` and stores `new` in its family, atomically; see [`Rotation`].
    async fn rotate_refresh_token(&self, rotation: &RefreshRotation<'_>) -> StoreResult<Rotation>;
    /// Revokes the family of the token; false when no such token exists.
    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<bool>;

    async fn create_room(&self, room: &NewRoom) -> StoreResult<RoomRecord>;
    async fn room(&self, room_id: RoomId) -> StoreResult<Option<RoomRecord>>;
    /// Open rooms, newest first; the lobby is not a room.
    async fn open_rooms(&self) -> StoreResult<Vec<RoomRecord>>;
    /// `NotFound` when the room is closed or missing.
    async fn update_room(&self, room_id: RoomId, changes: &RoomChanges) -> StoreResult<RoomRecord>;
    async fn close_room(&self, room_id: RoomId) -> StoreResult<()>;

    /// Creates the group and moves the user into it; `Conflict` when the id is taken.
    async fn create_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove>;
    /// Moves the user into an existing group; `NotFound` when there is none.
    async fn join_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove>;
    /// Takes the user out of their group; `left: None` when they were in none.
    async fn leave_group(&self, user_id: &UserId) -> StoreResult<GroupMove>;
    /// Every group with its members, oldest group first.
    async fn groups(&self) -> StoreResult<Vec<(GroupId, Vec<UserId>)>>;
    async fn group_members(&self, group_id: &GroupId) -> StoreResult<Vec<UserId>>;

    /// Stores a message, giving room messages the room's next `seq` in the same transaction.
    async fn append_message(&self, message: &NewMessage) -> StoreResult<StoredMessage>;

    /// True when room messages take two steps, [`Store::insert_room_message`] then
    /// [`Store::number_room_messages`], so that the messages of a busy room share one
    /// numbering transaction instead of queueing one commit apiece. Otherwise room messages
    /// go through [`Store::append_message`].
    fn numbers_in_batches(&self) -> bool {
        false
    }

    /// Stores a room message without its `seq`. Writers in one room do not wait for each
    /// other here: the room's row is not touched.
    async fn insert_room_message(&self, _message: &NewMessage) -> StoreResult<RoomInsert> {
        Err(StoreError::Unsupported("room messages are numbered as they are appended"))
    }

    /// Numbers, in one transaction under the room's lock, every message of the room still
    /// waiting for a `seq`: the caller's, and any its neighbours (in this process or any
    /// other) stored meanwhile. `seq`s stay gap-free and in numbering order. `NotFound`
    /// when the room closed; its waiting messages are then dropped.
    async fn number_room_messages(&self, _room_id: RoomId, _own: MessageId) -> StoreResult<Numbered> {
        Err(StoreError::Unsupported("room messages are numbered as they are appended"))
    }
    async fn history(&self, scope: &HistoryScope, bounds: Bounds, limit: u32) -> StoreResult<HistoryPage>;

    /// One message as history shows it; `None` when there is no such message.
    async fn message(&self, message_id: MessageId) -> StoreResult<Option<MessageRecord>>;
    /// Replaces a message's text and mentions. `NotFound` when there is no such message,
    /// `Conflict` when it was deleted.
    async fn edit_message(
        &self,
        message_id: MessageId,
        text: &MessageText,
        mentions: &[UserId],
        edited_at_ms: i64,
    ) -> StoreResult<MessageRecord>;
    /// Empties a message (text, reactions, mentions) and marks it deleted; it keeps its id,
    /// `seq`, sender, time and conversation. Deleting it again changes nothing.
    /// `NotFound` when there is no such message.
    async fn delete_message(&self, message_id: MessageId) -> StoreResult<MessageRecord>;
    /// Adds (`on`) or removes `user`'s `emoji` on a message and returns its reactions after;
    /// repeating either is a no-op. `NotFound`; `Conflict` when deleted; `LimitReached`
    /// for a new emoji beyond [`crate::domain::MAX_DISTINCT_EMOJI`].
    async fn react(&self, message_id: MessageId, user: &UserId, emoji: &Emoji, on: bool) -> StoreResult<Vec<Reaction>>;
    /// Moves `user`'s read mark in a conversation up to `up_to` (a `seq` in rooms, a message
    /// id otherwise); never back. True when it moved.
    async fn mark_read(&self, user: &UserId, conversation: &ConversationKey, up_to: i64) -> StoreResult<bool>;
    /// `user`'s view of each of `joined` (the lobby, rooms, group), in that order, then of
    /// each whisper partner (at most [`MAX_WHISPER_PARTNERS`]), the newest `last` first.
    async fn conversations(&self, user: &UserId, joined: &[ConversationKey]) -> StoreResult<Vec<ConversationState>>;
}

/// Opens the SQL database a `CHATTING_DATABASE_URL` names and brings its schema up to date.
/// A build with no SQL driver (the DynamoDB profile's functions) refuses every such URL and
/// leaves the SQL store, its statements and migrations out of the binary.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<std::sync::Arc<dyn Store>> {
    #[cfg(any(feature = "sqlite", feature = "mysql"))]
    return Ok(std::sync::Arc::new(sql::SqlStore::connect(url, max_connections).await?));
    #[cfg(not(any(feature = "sqlite", feature = "mysql")))]
    {
        let _ = max_connections;
        // No dialect is built in, so this refuses every URL, saying why.
        sql::Dialect::built_for(url).map(|_| unreachable!("a build without SQL drivers accepted {url}"))
    }
}
