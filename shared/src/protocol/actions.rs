//! Every action of PROTOCOL.md's action table, with its `data` checked.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::UpTo;
use crate::domain::{
    Bounds, Capacity, ClientMsgId, ConversationKey, Emoji, GroupId, Invalid, MessageId, MessageKind, MessageText, Nick,
    RoomId, RoomPassword, RoomTitle, UserId,
};

const DEFAULT_HISTORY_LIMIT: u32 = 50;
const MAX_HISTORY_LIMIT: i64 = 100;

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
    "user.listOnline",
    "room.list",
    "room.create",
    "room.join",
    "room.leave",
    "room.info",
    "room.update",
    "room.kick",
    "group.list",
    "group.create",
    "group.join",
    "group.leave",
    "chat.send",
    "chat.history",
    "chat.typing",
    "chat.edit",
    "chat.delete",
    "chat.react",
    "chat.read",
    "chat.conversations",
];

/// Every action of PROTOCOL.md, with its `data` checked.
#[derive(Debug, Clone)]
pub enum Command {
    Ping,
    UserMe,
    UserInfo {
        user_id: UserId,
    },
    UserUpdate {
        nick: Nick,
    },
    UserListInLobby,
    UserListInRoom,
    UserListOnline,
    RoomList,
    RoomCreate {
        title: RoomTitle,
        password: Option<RoomPassword>,
        capacity: Capacity,
    },
    RoomJoin {
        room_id: RoomId,
        password: Option<RoomPassword>,
    },
    RoomLeave,
    RoomInfo {
        room_id: Option<RoomId>,
    },
    RoomUpdate {
        title: Option<RoomTitle>,
        password: Option<RoomPassword>,
        capacity: Option<Capacity>,
    },
    RoomKick {
        user_id: UserId,
    },
    GroupList,
    GroupCreate {
        group_id: GroupId,
    },
    GroupJoin {
        group_id: GroupId,
    },
    GroupLeave,
    ChatSend {
        kind: MessageKind,
        text: MessageText,
        to: Option<UserId>,
        client_msg_id: Option<ClientMsgId>,
    },
    ChatHistory {
        target: HistoryTarget,
        bounds: Bounds,
        limit: u32,
    },
    /// `to` only for a whisper.
    ChatTyping {
        kind: MessageKind,
        to: Option<UserId>,
    },
    ChatEdit {
        message_id: MessageId,
        text: MessageText,
    },
    ChatDelete {
        message_id: MessageId,
    },
    ChatReact {
        message_id: MessageId,
        emoji: Emoji,
        on: bool,
    },
    /// `up_to` is a `seq` for a room, a message id otherwise.
    ChatRead {
        conversation: ConversationKey,
        up_to: UpTo,
    },
    ChatConversations,
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
struct ChatTypingData {
    #[serde(rename = "type")]
    kind: MessageKind,
    to: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageIdData {
    message_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatEditData {
    message_id: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatReactData {
    message_id: String,
    emoji: String,
    on: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatReadData {
    room_id: Option<i64>,
    with: Option<String>,
    group_id: Option<String>,
    up_to: Value,
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
    /// The actions that change state (and most send events to rooms, groups or the lobby);
    /// `chat.send`, `chat.typing` and `chat.read` have limits of their own.
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Command::UserUpdate { .. }
                | Command::RoomCreate { .. }
                | Command::RoomJoin { .. }
                | Command::RoomLeave
                | Command::RoomUpdate { .. }
                | Command::RoomKick { .. }
                | Command::GroupCreate { .. }
                | Command::GroupJoin { .. }
                | Command::GroupLeave
                | Command::ChatEdit { .. }
                | Command::ChatDelete { .. }
                | Command::ChatReact { .. }
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
            "user.listOnline" => Command::UserListOnline,
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
            "room.kick" => {
                let d: UserIdData = data_as(data)?;
                Command::RoomKick { user_id: UserId::parse(&d.user_id)? }
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
            "chat.typing" => {
                let d: ChatTypingData = data_as(data)?;
                let to = match d.kind {
                    MessageKind::Whisper => Some(UserId::parse(
                        d.to.as_deref().ok_or_else(|| Invalid::new("to", "is required for a whisper"))?,
                    )?),
                    _ => None,
                };
                Command::ChatTyping { kind: d.kind, to }
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
            "chat.edit" => {
                let d: ChatEditData = data_as(data)?;
                Command::ChatEdit { message_id: MessageId::parse(&d.message_id)?, text: MessageText::parse(&d.text)? }
            }
            "chat.delete" => {
                let d: MessageIdData = data_as(data)?;
                Command::ChatDelete { message_id: MessageId::parse(&d.message_id)? }
            }
            "chat.react" => {
                let d: ChatReactData = data_as(data)?;
                Command::ChatReact {
                    message_id: MessageId::parse(&d.message_id)?,
                    emoji: Emoji::parse(&d.emoji)?,
                    on: d.on,
                }
            }
            "chat.read" => {
                let d: ChatReadData = data_as(data)?;
                let required = |bound: Option<i64>| bound.ok_or_else(|| Invalid::new("upTo", "is required"));
                let (conversation, up_to) = match (d.room_id, d.group_id, d.with) {
                    (Some(room), None, None) => {
                        let room_id = if room == 0 { RoomId::LOBBY } else { RoomId::parse_room(room)? };
                        let seq = required(seq_bound("upTo", Some(d.up_to))?)?;
                        (ConversationKey::Room { room_id }, UpTo::Seq(seq))
                    }
                    (None, Some(group), None) => {
                        let id = required(message_id_bound("upTo", Some(d.up_to))?)?;
                        (
                            ConversationKey::Group { group_id: GroupId::parse(&group)? },
                            UpTo::Message(MessageId::from_stored(id)),
                        )
                    }
                    (None, None, Some(with)) => {
                        let id = required(message_id_bound("upTo", Some(d.up_to))?)?;
                        (
                            ConversationKey::Whisper { with: UserId::parse(&with)? },
                            UpTo::Message(MessageId::from_stored(id)),
                        )
                    }
                    _ => return Err(Invalid::new("data", "name exactly one of roomId, groupId, with")),
                };
                Command::ChatRead { conversation, up_to }
            }
            "chat.conversations" => Command::ChatConversations,
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
            ("chat.edit", json!({"messageId":"12","text":" "})),
            ("chat.edit", json!({"messageId":12,"text":"x"})),
            ("chat.delete", json!({"messageId":"-1"})),
            ("chat.react", json!({"messageId":"1","emoji":"a b","on":true})),
            ("chat.react", json!({"messageId":"1","emoji":"👍"})),
            ("chat.read", json!({"roomId":0})),
            ("chat.read", json!({"roomId":0,"upTo":"0000000000000001"})),
            ("chat.read", json!({"with":"bob","upTo":3})),
            ("chat.read", json!({"roomId":0,"with":"bob","upTo":3})),
            ("chat.read", json!({"upTo":3})),
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
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;
    use serde_json::json;

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

    }
}
