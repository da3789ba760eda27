//! What the server sends unasked (PROTOCOL.md, "Events").

use serde::Serialize;

use super::{Change, Code, ConversationKey, GroupSummary, Message, RoomInfo, RoomSummary, User};
use crate::domain::{MessageKind, RoomId, UserId};

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
