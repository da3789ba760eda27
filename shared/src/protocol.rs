//! The wire contract of PROTOCOL.md: result codes, envelopes, client frames, replies, events
//! and the JSON shapes they carry.
//!
//! Incoming frames are parsed in two steps: [`parse_frame`] checks the envelope
//! (`action`, `requestId`, `data`), then [`Command::parse`] turns the action's `data` into
//! checked domain values. Nothing past this module sees raw client JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{
    Bounds, Capacity, ClientMsgId, GroupId, Invalid, MessageId, MessageKind, MessageText, Nick, RoomId, RoomPassword,
    RoomTitle, UserId,
};

/// Largest client frame a function accepts (API Gateway's own frame limit).
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// Largest HTTP request body the auth API accepts.
pub const MAX_HTTP_BODY_BYTES: usize = 16 * 1024;
const MAX_REQUEST_ID_CHARS: usize = 64;
const DEFAULT_HISTORY_LIMIT: u32 = 50;
const MAX_HISTORY_LIMIT: i64 = 100;

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

/// The body of every HTTP response.
#[derive(Debug, Serialize)]
pub struct HttpEnvelope {
    pub ok: bool,
    pub code: Code,
    pub data: Option<Value>,
    pub message: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Shapes

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: UserId,
    pub nick: Nick,
    pub group_id: Option<GroupId>,
}

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

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomInfo {
    #[serde(flatten)]
    pub summary: RoomSummary,
    pub members: Vec<User>,
}

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
    pub text: MessageText,
    pub sent_at: String,
    pub seq: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    pub group_id: GroupId,
    pub members: u32,
    pub online: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Joined,
    Left,
    Updated,
}

// ---------------------------------------------------------------------------------------
// Server → client

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
    /// A frame that could not be answered with a reply.
    #[serde(rename = "system.error")]
    SystemError { code: Code, message: String },
}

/// The answer to one client frame.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub request_id: Option<String>,
    pub ok: bool,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
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

// ---------------------------------------------------------------------------------------
// Client → server

/// A frame whose envelope parsed: an object with a string `action`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub action: String,
    pub request_id: Option<String>,
    pub data: Map<String, Value>,
}

/// Why a frame could not be turned into a [`ClientFrame`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// Not a JSON object at all: answered with a `system.error` event.
    #[error("{0}")]
    NotAnObject(String),
    /// Over [`MAX_FRAME_BYTES`]: answered with a `system.error` event.
    #[error("frame is {0} bytes, over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    /// An object with a bad envelope: answered with an `invalid` reply.
    #[error("{message}")]
    BadEnvelope { request_id: Option<String>, message: String },
}

pub fn parse_frame(text: &str) -> Result<ClientFrame, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(text.len()));
    }
    let mut object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(FrameError::NotAnObject("a frame must be a JSON object".into())),
        Err(err) => return Err(FrameError::NotAnObject(format!("frame is not JSON: {err}"))),
    };
    let request_id = match object.remove("requestId") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.chars().count() <= MAX_REQUEST_ID_CHARS => Some(id),
        Some(_) => {
            return Err(FrameError::BadEnvelope {
                request_id: None,
                message: format!("requestId must be a string of at most {MAX_REQUEST_ID_CHARS} characters"),
            });
        }
    };
    let bad = |message: &str| FrameError::BadEnvelope { request_id: request_id.clone(), message: message.into() };
    let action = match object.remove("action") {
        Some(Value::String(action)) => action,
        None | Some(Value::Null) => return Err(bad("action is missing")),
        Some(_) => return Err(bad("action must be a string")),
    };
    let data = match object.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(data)) => data,
        Some(_) => return Err(bad("data must be an object")),
    };
    Ok(ClientFrame { action, request_id, data })
}

/// What a `chat.history` request reads.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryTarget {
    /// A room or the lobby; `None` means the caller's current room.
    Room(Option<RoomId>),
    Whisper(UserId),
    Group(GroupId),
}

/// Every action a client may send: metrics label actions by these names (a client's own
/// strings would give an unbounded number of labels).
pub const ACTIONS: &[&str] = &[
    "ping",
    "user.me",
    "user.info",
    "user.update",
    "user.listInLobby",
    "user.listInRoom",
    "room.list",
    "room.create",
    "room.join",
    "room.leave",
    "room.info",
    "room.update",
    "group.list",
    "group.create",
    "group.join",
    "group.leave",
    "chat.send",
    "chat.history",
];

/// Every action of PROTOCOL.md, with its `data` checked.
#[derive(Debug, Clone)]
pub enum Command {
    Ping,
    UserMe,
    UserInfo { user_id: UserId },
    UserUpdate { nick: Nick },
    UserListInLobby,
    UserListInRoom,
    RoomList,
    RoomCreate { title: RoomTitle, password: Option<RoomPassword>, capacity: Capacity },
    RoomJoin { room_id: RoomId, password: Option<RoomPassword> },
    RoomLeave,
    RoomInfo { room_id: Option<RoomId> },
    RoomUpdate { title: Option<RoomTitle>, password: Option<RoomPassword>, capacity: Option<Capacity> },
    GroupList,
    GroupCreate { group_id: GroupId },
    GroupJoin { group_id: GroupId },
    GroupLeave,
    ChatSend { kind: MessageKind, text: MessageText, to: Option<UserId>, client_msg_id: Option<ClientMsgId> },
    ChatHistory { target: HistoryTarget, bounds: Bounds, limit: u32 },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdData {
    user_id: String,
}

#[derive(Deserialize)]
struct NickData {
    nick: String,
}

#[derive(Deserialize)]
struct RoomCreateData {
    title: String,
    password: Option<String>,
    capacity: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomJoinData {
    room_id: i64,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomInfoData {
    room_id: Option<i64>,
}

#[derive(Deserialize)]
struct RoomUpdateData {
    title: Option<String>,
    password: Option<String>,
    capacity: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupIdData {
    group_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatSendData {
    #[serde(rename = "type")]
    kind: MessageKind,
    text: String,
    to: Option<String>,
    client_msg_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatHistoryData {
    room_id: Option<i64>,
    with: Option<String>,
    group_id: Option<String>,
    before: Option<Value>,
    after: Option<Value>,
    limit: Option<i64>,
}

fn data_as<T: serde::de::DeserializeOwned>(data: Map<String, Value>) -> Result<T, Invalid> {
    serde_json::from_value(Value::Object(data)).map_err(|err| Invalid::new("data", err.to_string()))
}

fn seq_bound(field: &'static str, value: Option<Value>) -> Result<Option<i64>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(seq) if seq >= 0 => Ok(Some(seq)),
            _ => Err(Invalid::new(field, "must be a seq (a whole number ≥ 0)")),
        },
        Some(_) => Err(Invalid::new(field, "must be a seq (a whole number ≥ 0) for room history")),
    }
}

fn message_id_bound(field: &'static str, value: Option<Value>) -> Result<Option<i64>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => {
            MessageId::parse(&id).map(|id| Some(id.get())).map_err(|_| Invalid::new(field, "must be a messageId"))
        }
        Some(_) => Err(Invalid::new(field, "must be a messageId string")),
    }
}

impl Command {
    /// The actions that change what others see (and so send events to rooms or the lobby);
    /// `chat.send` has a limit of its own.
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Command::UserUpdate { .. }
                | Command::RoomCreate { .. }
                | Command::RoomJoin { .. }
                | Command::RoomLeave
                | Command::RoomUpdate { .. }
                | Command::GroupCreate { .. }
                | Command::GroupJoin { .. }
                | Command::GroupLeave
        )
    }

    /// Checks an action's `data`; an unknown action is `invalid` like any other bad input.
    pub fn parse(action: &str, data: Map<String, Value>) -> Result<Command, Invalid> {
        Ok(match action {
            "ping" => Command::Ping,
            "user.me" => Command::UserMe,
            "user.info" => {
                let d: UserIdData = data_as(data)?;
                Command::UserInfo { user_id: UserId::parse(&d.user_id)? }
            }
            "user.update" => {
                let d: NickData = data_as(data)?;
                Command::UserUpdate { nick: Nick::parse(&d.nick)? }
            }
            "user.listInLobby" => Command::UserListInLobby,
            "user.listInRoom" => Command::UserListInRoom,
            "room.list" => Command::RoomList,
            "room.create" => {
                let d: RoomCreateData = data_as(data)?;
                Command::RoomCreate {
                    title: RoomTitle::parse(&d.title)?,
                    password: d.password.as_deref().map(RoomPassword::parse).transpose()?.filter(|p| !p.is_empty()),
                    capacity: d.capacity.map(Capacity::parse).transpose()?.unwrap_or(Capacity::DEFAULT),
                }
            }
            "room.join" => {
                let d: RoomJoinData = data_as(data)?;
                Command::RoomJoin {
                    room_id: RoomId::parse_room(d.room_id)?,
                    password: d.password.as_deref().map(RoomPassword::parse).transpose()?,
                }
            }
            "room.leave" => Command::RoomLeave,
            "room.info" => {
                let d: RoomInfoData = data_as(data)?;
                Command::RoomInfo { room_id: d.room_id.map(RoomId::parse_room).transpose()? }
            }
            "room.update" => {
                let d: RoomUpdateData = data_as(data)?;
                Command::RoomUpdate {
                    title: d.title.as_deref().map(RoomTitle::parse).transpose()?,
                    password: d.password.as_deref().map(RoomPassword::parse).transpose()?,
                    capacity: d.capacity.map(Capacity::parse).transpose()?,
                }
            }
            "group.list" => Command::GroupList,
            "group.create" => {
                let d: GroupIdData = data_as(data)?;
                Command::GroupCreate { group_id: GroupId::parse(&d.group_id)? }
            }
            "group.join" => {
                let d: GroupIdData = data_as(data)?;
                Command::GroupJoin { group_id: GroupId::parse(&d.group_id)? }
            }
            "group.leave" => Command::GroupLeave,
            "chat.send" => {
                let d: ChatSendData = data_as(data)?;
                let to = d.to.as_deref().map(UserId::parse).transpose()?;
                if d.kind == MessageKind::Whisper && to.is_none() {
                    return Err(Invalid::new("to", "is required for a whisper"));
                }
                Command::ChatSend {
                    kind: d.kind,
                    text: MessageText::parse(&d.text)?,
                    to: if d.kind == MessageKind::Whisper { to } else { None },
                    client_msg_id: d.client_msg_id.as_deref().map(ClientMsgId::parse).transpose()?,
                }
            }
            "chat.history" => {
                let d: ChatHistoryData = data_as(data)?;
                let named = [d.room_id.is_some(), d.with.is_some(), d.group_id.is_some()];
                if named.iter().filter(|&&n| n).count() > 1 {
                    return Err(Invalid::new("data", "name at most one of roomId, with, groupId"));
                }
                let (target, bounds) = if let Some(with) = d.with {
                    let bounds = Bounds {
                        before: message_id_bound("before", d.before)?,
                        after: message_id_bound("after", d.after)?,
                    };
                    (HistoryTarget::Whisper(UserId::parse(&with)?), bounds)
                } else if let Some(group_id) = d.group_id {
                    let bounds = Bounds {
                        before: message_id_bound("before", d.before)?,
                        after: message_id_bound("after", d.after)?,
                    };
                    (HistoryTarget::Group(GroupId::parse(&group_id)?), bounds)
                } else {
                    let room = match d.room_id {
                        Some(0) => Some(RoomId::LOBBY),
                        Some(raw) => Some(RoomId::parse_room(raw)?),
                        None => None,
                    };
                    let bounds = Bounds { before: seq_bound("before", d.before)?, after: seq_bound("after", d.after)? };
                    (HistoryTarget::Room(room), bounds)
                };
                let limit = match d.limit {
                    None => DEFAULT_HISTORY_LIMIT,
                    Some(limit) if (1..=MAX_HISTORY_LIMIT).contains(&limit) => limit as u32,
                    Some(_) => return Err(Invalid::new("limit", "must be 1–100")),
                };
                Command::ChatHistory { target, bounds, limit }
            }
            other => {
                let shown: String = other.chars().take(64).collect();
                return Err(Invalid::new("action", format!("{shown:?} is not an action")));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("test data must be an object"),
        }
    }

    #[test]
    fn frame_envelope_parses() {
        let frame = parse_frame(r#"{"action":"ping","requestId":"r1","data":{"x":1},"extra":true}"#).unwrap();
        assert_eq!(frame.action, "ping");
        assert_eq!(frame.request_id.as_deref(), Some("r1"));
        assert_eq!(frame.data.get("x"), Some(&json!(1)));
    }

    #[test]
    fn null_request_id_and_data_mean_absent() {
        let frame = parse_frame(r#"{"action":"ping","requestId":null,"data":null}"#).unwrap();
        assert_eq!(frame.request_id, None);
        assert!(frame.data.is_empty());
    }

    #[test]
    fn non_objects_are_not_frames() {
        for text in ["[]", "42", "\"ping\"", "{", "", "null"] {
            assert!(matches!(parse_frame(text), Err(FrameError::NotAnObject(_))), "{text:?}");
        }
    }

    #[test]
    fn bad_request_id_loses_the_id() {
        let long = "r".repeat(65);
        for text in
            [r#"{"action":"ping","requestId":5}"#.to_owned(), format!(r#"{{"action":"ping","requestId":"{long}"}}"#)]
        {
            assert_eq!(
                parse_frame(&text),
                Err(FrameError::BadEnvelope {
                    request_id: None,
                    message: "requestId must be a string of at most 64 characters".into()
                })
            );
        }
    }

    #[test]
    fn bad_action_or_data_keeps_the_id() {
        for text in [
            r#"{"requestId":"a"}"#,
            r#"{"requestId":"a","action":3}"#,
            r#"{"requestId":"a","action":"ping","data":[1]}"#,
        ] {
            match parse_frame(text) {
                Err(FrameError::BadEnvelope { request_id, .. }) => assert_eq!(request_id.as_deref(), Some("a")),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_parsing() {
        let text = format!(r#"{{"action":"ping","data":{{"pad":"{}"}}}}"#, "x".repeat(MAX_FRAME_BYTES));
        assert!(matches!(parse_frame(&text), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn unknown_action_is_invalid() {
        assert_eq!(Command::parse("room.explode", Map::new()).unwrap_err().field, "action");
    }

    #[test]
    fn room_create_defaults_and_drops_empty_password() {
        match Command::parse("room.create", data(json!({"title":"Rust","password":""}))).unwrap() {
            Command::RoomCreate { title, password, capacity } => {
                assert_eq!(title.as_str(), "Rust");
                assert!(password.is_none());
                assert_eq!(capacity, Capacity::DEFAULT);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mistyped_fields_are_invalid() {
        for (action, value) in [
            ("room.join", json!({"roomId":"7"})),
            ("room.join", json!({"roomId":0})),
            ("room.create", json!({"title":"t","capacity":1})),
            ("chat.send", json!({"type":"shout","text":"hi"})),
            ("chat.send", json!({"type":"whisper","text":"hi"})),
            ("chat.send", json!({"type":"all","text":""})),
            ("chat.history", json!({"limit":0})),
            ("chat.history", json!({"before":"abc"})),
            ("chat.history", json!({"with":"bob","before":7})),
            ("chat.history", json!({"roomId":1,"with":"bob"})),
            ("user.info", json!({})),
        ] {
            assert!(Command::parse(action, data(value.clone())).is_err(), "{action} {value}");
        }
    }

    #[test]
    fn history_bounds_follow_the_target() {
        match Command::parse("chat.history", data(json!({"roomId":0,"after":3,"limit":10}))).unwrap() {
            Command::ChatHistory { target, bounds, limit } => {
                assert_eq!(target, HistoryTarget::Room(Some(RoomId::LOBBY)));
                assert_eq!(bounds, Bounds { before: None, after: Some(3) });
                assert_eq!(limit, 10);
            }
            other => panic!("{other:?}"),
        }
        match Command::parse("chat.history", data(json!({"with":"bob","before":"0000000000000042"}))).unwrap() {
            Command::ChatHistory { target: HistoryTarget::Whisper(user), bounds, limit } => {
                assert_eq!(user.as_str(), "bob");
                assert_eq!(bounds.before, Some(42));
                assert_eq!(limit, 50);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frames_serialize_as_the_protocol_shows() {
        let reply = ServerFrame::Reply(Reply {
            request_id: None,
            ok: false,
            code: Code::NoSpace,
            data: None,
            message: Some("room 7 is full".into()),
        });
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

/// Properties of the wire types over generated input: parsing never panics, and what a
/// client can write comes back out of the parser unchanged.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// JSON without floats (serde_json's float parsing may differ from its printing in the
    /// last bit, which is not what these properties are about).
    fn json_value() -> impl Strategy<Value = Value> {
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

    fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(".{0,12}", json_value(), 0..8).prop_map(|m| m.into_iter().collect())
    }

    fn code() -> impl Strategy<Value = Code> {
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

    /// Title-like text: 1–`max` code points, no control characters, nothing to trim.
    fn trimmed_text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(
            any::<char>().prop_filter("printable", |c| !c.is_control() && !c.is_whitespace()),
            1..=max,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn parse_frame_never_panics(text in ".{0,200}") {
            let _ = parse_frame(&text);
        }

        #[test]
        fn parse_frame_never_panics_on_json(value in json_value()) {
            let _ = parse_frame(&value.to_string());
        }

        #[test]
        fn oversized_frames_are_too_large_whatever_they_hold(pad in 0usize..64, body in ".{0,20}") {
            let text = format!("{}{body}", " ".repeat(MAX_FRAME_BYTES + 1 + pad));
            prop_assert!(matches!(parse_frame(&text), Err(FrameError::TooLarge(n)) if n == text.len()));
        }

        #[test]
        fn envelopes_round_trip(action in ".{0,40}", request_id in proptest::option::of(".{0,64}"), data in json_object()) {
            let text = json!({"action": action, "requestId": request_id, "data": data}).to_string();
            prop_assume!(text.len() <= MAX_FRAME_BYTES);
            let frame = parse_frame(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(frame, ClientFrame { action, request_id, data });
        }

        #[test]
        fn long_or_mistyped_request_ids_are_dropped(id in ".{65,80}", other in json_value()) {
            prop_assume!(!matches!(other, Value::Null | Value::String(_)));
            for request_id in [Value::from(id), other] {
                let text = json!({"action": "ping", "requestId": request_id}).to_string();
                match parse_frame(&text) {
                    Err(FrameError::BadEnvelope { request_id: None, .. }) => {}
                    other => prop_assert!(false, "{text}: {other:?}"),
                }
            }
        }

        #[test]
        fn commands_never_panic(action in prop::sample::select(ACTIONS), data in json_object()) {
            let _ = Command::parse(action, data);
        }

        #[test]
        fn commands_never_panic_on_their_own_fields(
            action in prop::sample::select(ACTIONS),
            values in prop::collection::vec(json_value(), 8),
        ) {
            let fields = ["userId", "nick", "title", "password", "capacity", "roomId", "groupId", "type", "text", "to",
                "clientMsgId", "with", "before", "after", "limit"];
            let data: Map<String, Value> = fields.iter().zip(values.iter().cycle()).map(|(f, v)| (f.to_string(), v.clone())).collect();
            let _ = Command::parse(action, data);
        }

        #[test]
        fn room_create_keeps_what_was_asked(title in trimmed_text(50), password in "[a-z0-9]{1,30}", capacity in 2i64..=100) {
            let data = json!({"title": title, "password": password, "capacity": capacity});
            let Value::Object(data) = data else { unreachable!() };
            match Command::parse("room.create", data) {
                Ok(Command::RoomCreate { title: t, password: Some(p), capacity: c }) => {
                    prop_assert_eq!(t.as_str(), title.as_str());
                    prop_assert_eq!(p.expose(), password.as_str());
                    prop_assert_eq!(i64::from(c.get()), capacity);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn chat_send_keeps_the_text_exactly(text in "[^\\p{Cc}]{1,2000}|[^\\p{Cc}]{0,20}[\n\t][^\\p{Cc}]{1,20}", kind in prop::sample::select(vec!["all", "group"]), id in "[a-z0-9-]{1,64}") {
            // Any text without control characters but newline and tab (those are refused).
            prop_assume!(!text.trim().is_empty());
            let Value::Object(data) = json!({"type": kind, "text": text, "clientMsgId": id}) else { unreachable!() };
            match Command::parse("chat.send", data) {
                Ok(Command::ChatSend { text: t, to: None, client_msg_id: Some(c), .. }) => {
                    prop_assert_eq!(t.as_str(), text.as_str());
                    prop_assert_eq!(c.as_str(), id.as_str());
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn history_bounds_and_limits(before in proptest::option::of(0i64..i64::MAX), after in proptest::option::of(0i64..i64::MAX), limit in -5i64..120) {
            let Value::Object(data) = json!({"roomId": 0, "before": before, "after": after, "limit": limit}) else { unreachable!() };
            match Command::parse("chat.history", data) {
                Ok(Command::ChatHistory { target, bounds, limit: l }) => {
                    prop_assert!((1..=100).contains(&limit));
                    prop_assert_eq!(target, HistoryTarget::Room(Some(RoomId::LOBBY)));
                    prop_assert_eq!(bounds, Bounds { before, after });
                    prop_assert_eq!(i64::from(l), limit);
                }
                Err(err) => {
                    prop_assert!(!(1..=100).contains(&limit), "{err}");
                    prop_assert_eq!(err.field, "limit");
                }
                Ok(other) => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn replies_serialize_to_what_they_hold(
            request_id in proptest::option::of(".{0,64}"),
            code in code(),
            message in proptest::option::of(".{0,100}"),
            data in proptest::option::of(json_value()),
        ) {
            let ok = code == Code::Success;
            let reply = ServerFrame::Reply(Reply { request_id: request_id.clone(), ok, code, data: data.clone(), message: message.clone() });
            let back: Value = serde_json::from_str(&reply.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back["type"], "reply");
            prop_assert_eq!(back["requestId"].as_str(), request_id.as_deref());
            prop_assert_eq!(&back["ok"], ok);
            prop_assert_eq!(serde_json::from_value::<Code>(back["code"].clone()).ok(), Some(code));
            prop_assert_eq!(back.get("message").and_then(Value::as_str), message.as_deref());
            // `data: null` and no data look the same on the wire, as PROTOCOL.md says.
            prop_assert_eq!(back.get("data").cloned().unwrap_or(Value::Null), data.unwrap_or(Value::Null));
        }

        #[test]
        fn system_errors_serialize_to_what_they_hold(code in code(), message in ".{0,200}") {
            let frame = ServerFrame::Event(Event::SystemError { code, message: message.clone() });
            let back: Value = serde_json::from_str(&frame.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back["event"], "system.error");
            prop_assert_eq!(serde_json::from_value::<Code>(back["data"]["code"].clone()).ok(), Some(code));
            prop_assert_eq!(back["data"]["message"].as_str(), Some(message.as_str()));
        }

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
