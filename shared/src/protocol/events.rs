//! What the server sends unasked (PROTOCOL.md, "Events").

use serde::Serialize;

use super::{Change, Code, ConversationKey, GroupSummary, Message, RoomInfo, RoomSummary, User};
use crate::domain::{MessageId, MessageKind, Reaction, RoomId, UserId};

/// A server-initiated frame. Serialized as `{"type":"event","event":…,"data":…}`.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", content = "data")]
pub enum Event {
    /// A chat message for its recipients.
    #[serde(rename = "chat.in")]
    ChatIn(Message),
    /// A room opened, changed or (with `room: null`) closed; to lobby connections.
    #[serde(rename = "room.list.refresh", rename_all = "camelCase")]
    RoomListRefresh { room_id: RoomId, room: Option<RoomSummary> },
    /// A field of the room's `RoomInfo` changed; to the room's connections.
    #[serde(rename = "room.info.refresh")]
    RoomInfoRefresh(RoomInfo),
    /// A user appeared in, left, or changed in the lobby.
    #[serde(rename = "user.listInLobby.refresh")]
    LobbyUsersRefresh { change: Change, user: User },
    /// A user appeared in, left, or changed in a room.
    #[serde(rename = "user.listInRoom.refresh", rename_all = "camelCase")]
    RoomUsersRefresh { room_id: RoomId, change: Change, user: User },
    /// A group's member or online count changed (`members: 0` means removed).
    #[serde(rename = "group.list.refresh")]
    GroupListRefresh(GroupSummary),
    /// The room's owner moved this connection out of the room to the lobby.
    #[serde(rename = "room.kicked", rename_all = "camelCase")]
    RoomKicked { room_id: RoomId, by: UserId },
    /// Someone is typing in a conversation of the recipient; nothing is stored.
    #[serde(rename = "chat.typing")]
    ChatTyping(Typing),
    /// A message's text changed; to its audience.
    #[serde(rename = "chat.edited")]
    ChatEdited(Message),
    /// A message was deleted (shown emptied, in place); to its audience.
    #[serde(rename = "chat.deleted")]
    ChatDeleted(Message),
    /// A message's reactions changed; to its audience.
    #[serde(rename = "chat.reactions")]
    ChatReactions(ReactionsChanged),
    /// The recipient read a conversation on another of its connections.
    #[serde(rename = "chat.read")]
    ChatRead(ReadMark),
    /// A frame that could not be answered with a reply.
    #[serde(rename = "system.error")]
    SystemError { code: Code, message: String },
}

/// `chat.typing`: `{"from": User, "type"}` + the conversation's key as the recipient sees it.
#[derive(Clone, Debug, Serialize)]
pub struct Typing {
    pub from: User,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    #[serde(flatten)]
    pub conversation: ConversationKey,
}

/// `chat.reactions`: `{"messageId","reactions"}` + the conversation's key as the recipient sees it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionsChanged {
    pub message_id: MessageId,
    pub reactions: Vec<Reaction>,
    #[serde(flatten)]
    pub conversation: ConversationKey,
}

/// Where a read mark stands: a `seq` in rooms, a message id in groups and whispers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum UpTo {
    Seq(i64),
    Message(MessageId),
}

impl UpTo {
    pub fn get(self) -> i64 {
        match self {
            UpTo::Seq(seq) => seq,
            UpTo::Message(id) => id.get(),
        }
    }
}

/// `chat.read`: `{"upTo"}` + the conversation's key.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadMark {
    pub up_to: UpTo,
    #[serde(flatten)]
    pub conversation: ConversationKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Nick;
    use crate::protocol::ServerFrame;

    #[test]
    fn typing_events_carry_the_conversation_key_beside_the_sender() {
        let from = User { user_id: UserId::parse("ann").unwrap(), nick: Nick::parse("Ann").unwrap(), group_id: None };
        let whisper = Typing {
            from: from.clone(),
            kind: MessageKind::Whisper,
            conversation: ConversationKey::Whisper { with: UserId::parse("ann").unwrap() },
        };
        let room =
            Typing { from, kind: MessageKind::All, conversation: ConversationKey::Room { room_id: RoomId::LOBBY } };
        assert_eq!(
            ServerFrame::Event(Event::ChatTyping(whisper)).to_json(),
            r#"{"type":"event","event":"chat.typing","data":{"from":{"userId":"ann","nick":"Ann","groupId":null},"type":"whisper","with":"ann"}}"#
        );
        assert_eq!(
            ServerFrame::Event(Event::ChatTyping(room)).to_json(),
            r#"{"type":"event","event":"chat.typing","data":{"from":{"userId":"ann","nick":"Ann","groupId":null},"type":"all","roomId":0}}"#
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::ServerFrame;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;
    use serde_json::Value;

    proptest! {
        #[test]
        fn system_errors_serialize_to_what_they_hold(code in code(), message in ".{0,200}") {
            let frame = ServerFrame::Event(Event::SystemError { code, message: message.clone() });
            let back: Value = serde_json::from_str(&frame.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back["event"], "system.error");
            prop_assert_eq!(serde_json::from_value::<Code>(back["data"]["code"].clone()).ok(), Some(code));
            prop_assert_eq!(back["data"]["message"].as_str(), Some(message.as_str()));
        }

    }
}
