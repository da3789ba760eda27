//! The wire contract of PROTOCOL.md: result codes, envelopes, client frames, replies, events
//! and the JSON shapes they carry.
//!
//! Incoming frames are parsed in two steps: [`parse_frame`] checks the envelope
//! (`action`, `requestId`, `data`), then [`Command::parse`] turns the action's `data` into
//! checked domain values. Nothing past this module sees raw client JSON.
//!
//! - `frames`: the envelope of a client frame.
//! - `actions`: every action a client may send, as a [`Command`].
//! - `replies`: the answer to each action and each HTTP request, and how a refusal looks.
//! - `events`: what the server sends unasked.
//! - `shapes`: the objects replies and events carry (`User`, `RoomInfo`, `Message`, …).

mod actions;
mod events;
mod frames;
mod replies;
mod shapes;

use serde::{Deserialize, Serialize};

pub use actions::{ACTIONS, Command, HistoryTarget};
pub use events::Event;
pub use events::{ReactionsChanged, ReadMark, Typing, UpTo};
pub use frames::{ClientFrame, FrameError, parse_frame};
pub use replies::{
    ConversationSummary, Conversations, Deleted, Edited, Empty, Failure, GroupJoined, GroupList, Health, History,
    HttpData, HttpEnvelope, IdAvailable, LobbyUsers, Me, OnlineUsers, Pong, Reactions, Reply, ReplyData, RetryAfter,
    RoomLeft, RoomList, RoomUsers, Sent, Session, SignedUp, TypingSent, UserStatus,
};
pub use shapes::{Change, ConversationKey, GroupSummary, Message, OnlineUser, RoomInfo, RoomSummary, User};

/// Largest client frame a function accepts (API Gateway's own frame limit).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// Largest HTTP request body the auth API accepts.
pub const MAX_HTTP_BODY_BYTES: usize = 16 * 1024;

/// The result of every request, kept from the original service's resCode table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Code {
    Success,
    Invalid,
    NotAuth,
    Wrong,
    NoInfo,
    Exist,
    NoSpace,
    TooLarge,
    RateLimited,
    Error,
}

impl Code {
    /// The HTTP status of this code on the auth API. `notAuth` is 401 there: the HTTP API
    /// has no action a valid token may be refused.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Success => 200,
            Code::Invalid => 400,
            Code::NotAuth | Code::Wrong => 401,
            Code::NoInfo => 404,
            Code::Exist | Code::NoSpace => 409,
            Code::TooLarge => 413,
            Code::RateLimited => 429,
            Code::Error => 500,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[expect(
    clippy::large_enum_variant,
    reason = "a frame is built to be serialized at once and never kept, so its size costs nothing"
)]
pub enum ServerFrame {
    Reply(Reply),
    Event(Event),
}

impl ServerFrame {
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Generators of wire values shared by the property tests of this module's parts.
#[cfg(test)]
mod strategies {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::Code;

    /// JSON without floats (serde_json's float parsing may differ from its printing in the
    /// last bit, which is not what these properties are about).
    pub fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    pub fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(".{0,12}", json_value(), 0..8).prop_map(|m| m.into_iter().collect())
    }

    pub fn code() -> impl Strategy<Value = Code> {
        prop::sample::select(vec![
            Code::Success,
            Code::Invalid,
            Code::NotAuth,
            Code::Wrong,
            Code::NoInfo,
            Code::Exist,
            Code::NoSpace,
            Code::TooLarge,
            Code::RateLimited,
            Code::Error,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RoomId;
    use serde_json::json;

    #[test]
    fn frames_serialize_as_the_protocol_shows() {
        let failure = Failure { code: Code::NoSpace, message: "room 7 is full".into(), retry_after_ms: None };
        let reply = ServerFrame::Reply(Reply::failure(None, &failure));
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            json!({"type":"reply","requestId":null,"ok":false,"code":"noSpace","message":"room 7 is full"})
        );
        let event = ServerFrame::Event(Event::SystemError { code: Code::Invalid, message: "bad".into() });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type":"event","event":"system.error","data":{"code":"invalid","message":"bad"}})
        );
        let closed = ServerFrame::Event(Event::RoomListRefresh { room_id: RoomId::from_stored(3), room: None });
        assert_eq!(
            serde_json::to_value(&closed).unwrap(),
            json!({"type":"event","event":"room.list.refresh","data":{"roomId":3,"room":null}})
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::domain::MessageKind;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn codes_and_kinds_round_trip(code in code(), kind in prop::sample::select(vec![MessageKind::All, MessageKind::Group, MessageKind::Whisper])) {
            let text = serde_json::to_string(&code).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::from_str::<Code>(&text).ok(), Some(code));
            prop_assert!((200..=500).contains(&code.http_status()));
            let text = serde_json::to_string(&kind).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(text.trim_matches('"'), kind.as_str());
            prop_assert_eq!(serde_json::from_str::<MessageKind>(&text).ok(), Some(kind));
        }
    }
}
