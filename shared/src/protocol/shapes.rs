//! The JSON objects that replies and events carry (PROTOCOL.md, "Shapes").

use serde::Serialize;

pub use crate::domain::ConversationKey;
use crate::domain::{Capacity, GroupId, MessageId, MessageKind, Nick, Reaction, RoomId, RoomTitle, UserId};

/// `User`: `{"userId","nick","groupId"}`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: UserId,
    pub nick: Nick,
    pub group_id: Option<GroupId>,
}

/// A user as `user.listOnline` shows them: `User` + `"roomIds"`, the rooms their
/// connections are in (0: the lobby), ascending, each once.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineUser {
    #[serde(flatten)]
    pub user: User,
    pub room_ids: Vec<RoomId>,
}

/// `RoomSummary`: a room as the lobby's list shows it; `count` counts users, not connections.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    pub room_id: RoomId,
    pub title: RoomTitle,
    pub has_password: bool,
    pub count: u32,
    pub capacity: Capacity,
    pub owner: UserId,
}

/// `RoomInfo`: `RoomSummary` + `"members"`, longest present first.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    #[serde(flatten)]
    pub summary: RoomSummary,
    pub members: Vec<User>,
}

/// `Message`: one chat message as `chat.in` and `chat.history` show it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: MessageId,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    pub room_id: Option<RoomId>,
    pub group_id: Option<GroupId>,
    pub to: Option<UserId>,
    pub from: User,
    /// Empty once deleted.
    pub text: String,
    pub sent_at: String,
    pub seq: Option<i64>,
    /// RFC 3339 with milliseconds; `null` until the first edit.
    pub edited_at: Option<String>,
    pub deleted: bool,
    pub reactions: Vec<Reaction>,
    pub mentions: Vec<UserId>,
}

/// A group as `group.list` and `group.list.refresh` show it (`members` 0: removed).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    pub group_id: GroupId,
    pub members: u32,
    pub online: u32,
}

/// What happened to a user in a `user.listIn*.refresh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Joined,
    Left,
    Updated,
}
