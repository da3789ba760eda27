//! The answers: one reply per client frame, one envelope per HTTP response. Each action of
//! PROTOCOL.md's action table answers one [`ReplyData`] variant and each HTTP route one
//! [`HttpData`] variant, so the reply tables are types; a refusal is a [`Failure`] whatever
//! carries it.

use serde::Serialize;
use serde_json::Value;

use super::{Code, ConversationKey, GroupSummary, Message, OnlineUser, RoomInfo, RoomSummary, User};
use crate::domain::{ConnectionId, GroupId, MessageId, Nick, Reaction, RoomId, UserId};

/// Reply data as it has always gone out: through a [`Value`], whose objects list their keys
/// sorted (events are serialized directly and keep their fields' order). JSON objects are
/// unordered, but clients have only ever seen this order.
fn rendered(data: &impl Serialize) -> Value {
    // Cannot fail: every map key of these types is a string.
    serde_json::to_value(data).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------
// Refusals

/// A refused request as the client sees it, whichever envelope carries it: the WebSocket
/// reply, the HTTP body, or the `$connect` answer (serialized alone as `{"code","message"}`).
/// Built in one place, `ServiceError::to_failure`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: Code,
    /// Never an internal cause.
    pub message: String,
    /// Set for `rateLimited` only; the envelopes carry it as `data`.
    #[serde(skip)]
    pub retry_after_ms: Option<u64>,
}

/// The `data` of a `rateLimited` refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryAfter {
    pub retry_after_ms: u64,
}

impl Failure {
    fn data(&self) -> Option<Value> {
        self.retry_after_ms.map(|retry_after_ms| rendered(&RetryAfter { retry_after_ms }))
    }

    /// The body of a refused `$connect`.
    pub fn to_json(&self) -> String {
        // Cannot fail: a code and a string.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

// ---------------------------------------------------------------------------------------
// WebSocket

/// The answer to one client frame: `{"type":"reply","requestId","ok","code","data"?,"message"?}`
/// once wrapped in a [`super::ServerFrame`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    request_id: Option<String>,
    ok: bool,
    code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl Reply {
    pub fn success(request_id: Option<String>, data: &ReplyData) -> Self {
        Self { request_id, ok: true, code: Code::Success, data: Some(rendered(data)), message: None }
    }

    pub fn failure(request_id: Option<String>, failure: &Failure) -> Self {
        Self { request_id, ok: false, code: failure.code, data: failure.data(), message: Some(failure.message.clone()) }
    }
}

/// The `data` of a successful reply: one variant per action, in the order of PROTOCOL.md's
/// action table. Only the inner value goes on the wire.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ReplyData {
    /// `ping`
    Ping(Pong),
    /// `user.me`
    UserMe(Me),
    /// `user.info`
    UserInfo(UserStatus),
    /// `user.update`: the caller as renamed.
    UserUpdate(User),
    /// `user.listInLobby`
    UserListInLobby(LobbyUsers),
    /// `user.listInRoom`
    UserListInRoom(RoomUsers),
    /// `user.listOnline`
    UserListOnline(OnlineUsers),
    /// `room.list`
    RoomList(RoomList),
    /// `room.create`: the new room, with the caller as owner and inside.
    RoomCreate(RoomInfo),
    /// `room.join`
    RoomJoin(RoomInfo),
    /// `room.leave`
    RoomLeave(RoomLeft),
    /// `room.info`
    RoomInfo(RoomInfo),
    /// `room.update`: the room as changed.
    RoomUpdate(RoomInfo),
    /// `room.kick`: the room without the user kicked.
    RoomKick(RoomInfo),
    /// `group.list`
    GroupList(GroupList),
    /// `group.create`: the caller is in the new group.
    GroupCreate(GroupJoined),
    /// `group.join`
    GroupJoin(GroupJoined),
    /// `group.leave`
    GroupLeave(Empty),
    /// `chat.send`
    ChatSend(Sent),
    /// `chat.history`
    ChatHistory(History),
    /// `chat.typing`
    ChatTyping(TypingSent),
    /// `chat.edit`
    ChatEdit(Edited),
    /// `chat.delete`
    ChatDelete(Deleted),
    /// `chat.react`
    ChatReact(Reactions),
    /// `chat.read`
    ChatRead(Empty),
    /// `chat.conversations`
    ChatConversations(Conversations),
}

/// `chat.edit`: `{"messageId","editedAt"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edited {
    pub message_id: MessageId,
    /// RFC 3339 with milliseconds.
    pub edited_at: String,
}

/// `chat.delete`: `{"messageId"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub message_id: MessageId,
}

/// `chat.react`: `{"messageId","reactions"}`, the message's reactions after the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reactions {
    pub message_id: MessageId,
    pub reactions: Vec<Reaction>,
}

/// `chat.conversations`: `{"conversations":[Conversation key + {"unread","mentions","last"}]}`.
#[derive(Clone, Debug, Serialize)]
pub struct Conversations {
    pub conversations: Vec<ConversationSummary>,
}

/// One conversation of `chat.conversations`.
#[derive(Clone, Debug, Serialize)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub key: ConversationKey,
    /// Messages from others above the caller's read mark (at most 999).
    pub unread: u32,
    /// The unread ones that mention the caller.
    pub mentions: u32,
    pub last: Option<Message>,
}

/// `chat.typing`: `{"sent"}`, false when this connection's last typing event is under 2 s
/// old and nothing was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypingSent {
    pub sent: bool,
}

/// `ping`: `{"serverTime"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pong {
    /// RFC 3339 with milliseconds.
    pub server_time: String,
}

/// `user.me`: `User` + `"roomId"`, `"connectionId"`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    /// This connection's current room (0: the lobby).
    pub room_id: RoomId,
    /// This connection's API Gateway id.
    pub connection_id: ConnectionId,
}

/// `user.info`: `User` + `"online"`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    #[serde(flatten)]
    pub user: User,
    /// Whether any connection of the user is open.
    pub online: bool,
}

/// `user.listInLobby`: `{"users":[User]}`, longest present first.
#[derive(Clone, Debug, Serialize)]
pub struct LobbyUsers {
    pub users: Vec<User>,
}

/// `user.listInRoom`: `{"roomId","users":[User]}` of the caller's current room (or the lobby).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomUsers {
    pub room_id: RoomId,
    pub users: Vec<User>,
}

/// `user.listOnline`: `{"users":[User + "roomIds"]}`, every online user once, by `userId`.
#[derive(Clone, Debug, Serialize)]
pub struct OnlineUsers {
    pub users: Vec<OnlineUser>,
}

/// `room.list`: `{"rooms":[RoomSummary]}`, open rooms with someone inside, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
}

/// `room.leave`: `{"roomId":0}`, back in the lobby.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomLeft {
    pub room_id: RoomId,
}

/// `group.list`: `{"groups":[{"groupId","members","online"}]}`.
#[derive(Clone, Debug, Serialize)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
}

/// `group.create`, `group.join`: `{"groupId"}`, the group the caller is now in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupJoined {
    pub group_id: GroupId,
}

/// `group.leave`, `POST /auth/logout`: `{}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// `chat.send`: `{"messageId","seq","sentAt"}` of the stored message (the first one's, for a
/// retry with the same `clientMsgId`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub message_id: MessageId,
    /// The room's number for it; null for group and whisper messages.
    pub seq: Option<i64>,
    /// RFC 3339 with milliseconds.
    pub sent_at: String,
}

/// `chat.history`: `{"messages":[Message],"hasMore"}`, oldest first.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub messages: Vec<Message>,
    /// More messages match beyond the page: older without `after`, newer with it.
    pub has_more: bool,
}

// ---------------------------------------------------------------------------------------
// HTTP

/// The body of every HTTP response: `{"ok","code","data","message"}`, all four always present.
#[derive(Debug, Serialize)]
pub struct HttpEnvelope {
    ok: bool,
    code: Code,
    data: Option<Value>,
    message: Option<String>,
}

impl HttpEnvelope {
    pub fn success(data: &HttpData) -> Self {
        Self { ok: true, code: Code::Success, data: Some(rendered(data)), message: None }
    }

    pub fn failure(failure: &Failure) -> Self {
        Self { ok: false, code: failure.code, data: failure.data(), message: Some(failure.message.clone()) }
    }

    pub fn to_json(&self) -> String {
        // Cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// The `data` of a successful HTTP response: one variant per route of PROTOCOL.md's HTTP
/// table. Only the inner value goes on the wire.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum HttpData {
    /// `GET /auth/id-check/{userId}`
    IdCheck(IdAvailable),
    /// `POST /auth/signup`
    Signup(SignedUp),
    /// `POST /auth/login`
    Login(Session),
    /// `POST /auth/refresh`: a new pair, like a login.
    Refresh(Session),
    /// `POST /auth/logout`
    Logout(Empty),
    /// `GET /auth/me`
    Me(User),
    /// `GET /health`
    Health(Health),
}

/// `GET /auth/id-check/{userId}`: `{"available": true}` (a taken id is refused `exist`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IdAvailable {
    pub available: bool,
}

/// `POST /auth/signup`: `{"userId","nick"}` of the new account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedUp {
    pub user_id: UserId,
    pub nick: Nick,
}

/// `POST /auth/login`, `POST /auth/refresh`: `{"accessToken","refreshToken","expiresIn","user"}`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    pub user: User,
}

/// `GET /health`: `{"status":"ok"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
}

impl Health {
    pub const OK: Health = Health { status: "ok" };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Capacity, MessageKind, RoomTitle};
    use crate::protocol::ServerFrame;
    use serde_json::json;

    const AT: &str = "2026-01-02T03:04:05.678Z";

    fn ann() -> User {
        User { user_id: UserId::parse("ann").unwrap(), nick: Nick::parse("Ann").unwrap(), group_id: None }
    }

    fn room() -> RoomInfo {
        RoomInfo {
            summary: RoomSummary {
                room_id: RoomId::from_stored(7),
                title: RoomTitle::parse("Rust").unwrap(),
                has_password: false,
                count: 1,
                capacity: Capacity::DEFAULT,
                owner: UserId::parse("ann").unwrap(),
            },
            members: vec![ann()],
        }
    }

    fn message() -> Message {
        Message {
            message_id: MessageId::from_stored(42),
            kind: MessageKind::All,
            room_id: Some(RoomId::from_stored(7)),
            group_id: None,
            to: None,
            from: ann(),
            text: "hi".into(),
            sent_at: AT.into(),
            seq: Some(3),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            mentions: Vec::new(),
        }
    }

    fn red() -> GroupId {
        GroupId::parse("red").unwrap()
    }

    fn ann_json() -> Value {
        json!({"userId":"ann","nick":"Ann","groupId":null})
    }

    fn room_json() -> Value {
        json!({"roomId":7,"title":"Rust","hasPassword":false,"count":1,"capacity":10,"owner":"ann","members":[ann_json()]})
    }

    #[test]
    fn every_action_replies_as_the_protocol_shows() {
        let cases = [
            (ReplyData::Ping(Pong { server_time: AT.into() }), json!({"serverTime":AT})),
            (
                ReplyData::UserMe(Me { user: ann(), room_id: RoomId::LOBBY, connection_id: ConnectionId::new("c1") }),
                json!({"userId":"ann","nick":"Ann","groupId":null,"roomId":0,"connectionId":"c1"}),
            ),
            (
                ReplyData::UserInfo(UserStatus { user: ann(), online: true }),
                json!({"userId":"ann","nick":"Ann","groupId":null,"online":true}),
            ),
            (ReplyData::UserUpdate(ann()), ann_json()),
            (ReplyData::UserListInLobby(LobbyUsers { users: vec![ann()] }), json!({"users":[ann_json()]})),
            (
                ReplyData::UserListInRoom(RoomUsers { room_id: RoomId::from_stored(7), users: vec![ann()] }),
                json!({"roomId":7,"users":[ann_json()]}),
            ),
            (
                ReplyData::RoomList(RoomList { rooms: vec![room().summary] }),
                json!({"rooms":[{"roomId":7,"title":"Rust","hasPassword":false,"count":1,"capacity":10,"owner":"ann"}]}),
            ),
            (ReplyData::RoomCreate(room()), room_json()),
            (ReplyData::RoomJoin(room()), room_json()),
            (ReplyData::RoomLeave(RoomLeft { room_id: RoomId::LOBBY }), json!({"roomId":0})),
            (ReplyData::RoomInfo(room()), room_json()),
            (ReplyData::RoomUpdate(room()), room_json()),
            (
                ReplyData::GroupList(GroupList {
                    groups: vec![GroupSummary { group_id: red(), members: 2, online: 1 }],
                }),
                json!({"groups":[{"groupId":"red","members":2,"online":1}]}),
            ),
            (ReplyData::GroupCreate(GroupJoined { group_id: red() }), json!({"groupId":"red"})),
            (ReplyData::GroupJoin(GroupJoined { group_id: red() }), json!({"groupId":"red"})),
            (ReplyData::GroupLeave(Empty {}), json!({})),
            (
                ReplyData::ChatSend(Sent { message_id: MessageId::from_stored(42), seq: None, sent_at: AT.into() }),
                json!({"messageId":"0000000000000042","seq":null,"sentAt":AT}),
            ),
            (
                ReplyData::ChatHistory(History { messages: vec![message()], has_more: true }),
                json!({"messages":[{"messageId":"0000000000000042","type":"all","roomId":7,"groupId":null,"to":null,
                    "from":ann_json(),"text":"hi","sentAt":AT,"seq":3,"editedAt":null,"deleted":false,"reactions":[],"mentions":[]}],"hasMore":true}),
            ),
            (
                ReplyData::UserListOnline(OnlineUsers {
                    users: vec![OnlineUser { user: ann(), room_ids: vec![RoomId::LOBBY, RoomId::from_stored(7)] }],
                }),
                json!({"users":[{"userId":"ann","nick":"Ann","groupId":null,"roomIds":[0,7]}]}),
            ),
            (
                ReplyData::ChatEdit(Edited { message_id: MessageId::from_stored(42), edited_at: AT.into() }),
                json!({"messageId":"0000000000000042","editedAt":AT}),
            ),
            (
                ReplyData::ChatDelete(Deleted { message_id: MessageId::from_stored(42) }),
                json!({"messageId":"0000000000000042"}),
            ),
            (
                ReplyData::ChatReact(Reactions {
                    message_id: MessageId::from_stored(42),
                    reactions: vec![Reaction {
                        emoji: crate::domain::Emoji::parse("👍").unwrap(),
                        count: 21,
                        users: vec![UserId::parse("ann").unwrap()],
                    }],
                }),
                json!({"messageId":"0000000000000042","reactions":[{"emoji":"👍","count":21,"users":["ann"]}]}),
            ),
            (ReplyData::ChatRead(Empty {}), json!({})),
            (
                ReplyData::ChatConversations(Conversations {
                    conversations: vec![
                        ConversationSummary {
                            key: ConversationKey::Room { room_id: RoomId::LOBBY },
                            unread: 2,
                            mentions: 1,
                            last: None,
                        },
                        ConversationSummary {
                            key: ConversationKey::Whisper { with: UserId::parse("bob").unwrap() },
                            unread: 0,
                            mentions: 0,
                            last: None,
                        },
                    ],
                }),
                json!({"conversations":[{"roomId":0,"unread":2,"mentions":1,"last":null},
                    {"with":"bob","unread":0,"mentions":0,"last":null}]}),
            ),
        ];
        for (data, expected) in cases {
            let frame = ServerFrame::Reply(Reply::success(Some("r1".into()), &data)).to_json();
            let back: Value = serde_json::from_str(&frame).unwrap();
            assert_eq!(back, json!({"type":"reply","requestId":"r1","ok":true,"code":"success","data":expected}));
        }
    }

    #[test]
    fn every_route_answers_as_the_protocol_shows() {
        let session = Session { access_token: "a".into(), refresh_token: "r".into(), expires_in: 900, user: ann() };
        let session_json = json!({"accessToken":"a","refreshToken":"r","expiresIn":900,"user":ann_json()});
        let cases = [
            (HttpData::IdCheck(IdAvailable { available: true }), json!({"available":true})),
            (
                HttpData::Signup(SignedUp {
                    user_id: UserId::parse("ann").unwrap(),
                    nick: Nick::parse("Ann").unwrap(),
                }),
                json!({"userId":"ann","nick":"Ann"}),
            ),
            (HttpData::Login(session.clone()), session_json.clone()),
            (HttpData::Refresh(session), session_json),
            (HttpData::Logout(Empty {}), json!({})),
            (HttpData::Me(ann()), ann_json()),
            (HttpData::Health(Health::OK), json!({"status":"ok"})),
        ];
        for (data, expected) in cases {
            let back: Value = serde_json::from_str(&HttpEnvelope::success(&data).to_json()).unwrap();
            assert_eq!(back, json!({"ok":true,"code":"success","data":expected,"message":null}));
        }
    }

    /// The bytes, not just the JSON: reply objects list their keys sorted, as they always have.
    #[test]
    fn reply_data_keeps_its_wire_order() {
        let sent =
            ReplyData::ChatSend(Sent { message_id: MessageId::from_stored(42), seq: Some(3), sent_at: AT.into() });
        assert_eq!(
            ServerFrame::Reply(Reply::success(None, &sent)).to_json(),
            format!(
                r#"{{"type":"reply","requestId":null,"ok":true,"code":"success","data":{{"messageId":"0000000000000042","sentAt":"{AT}","seq":3}}}}"#
            )
        );
        let me = ReplyData::UserMe(Me { user: ann(), room_id: RoomId::LOBBY, connection_id: ConnectionId::new("c1") });
        assert_eq!(
            ServerFrame::Reply(Reply::success(Some("r".into()), &me)).to_json(),
            r#"{"type":"reply","requestId":"r","ok":true,"code":"success","data":{"connectionId":"c1","groupId":null,"nick":"Ann","roomId":0,"userId":"ann"}}"#
        );
        let session = HttpData::Login(Session {
            access_token: "a".into(),
            refresh_token: "r".into(),
            expires_in: 900,
            user: ann(),
        });
        assert_eq!(
            HttpEnvelope::success(&session).to_json(),
            r#"{"ok":true,"code":"success","data":{"accessToken":"a","expiresIn":900,"refreshToken":"r","user":{"groupId":null,"nick":"Ann","userId":"ann"}},"message":null}"#
        );
    }

    #[test]
    fn failures_look_the_same_in_every_envelope() {
        let limited = Failure {
            code: Code::RateLimited,
            message: "too many requests; retry in 1500 ms".into(),
            retry_after_ms: Some(1500),
        };
        assert_eq!(
            ServerFrame::Reply(Reply::failure(Some("r".into()), &limited)).to_json(),
            r#"{"type":"reply","requestId":"r","ok":false,"code":"rateLimited","data":{"retryAfterMs":1500},"message":"too many requests; retry in 1500 ms"}"#
        );
        assert_eq!(
            HttpEnvelope::failure(&limited).to_json(),
            r#"{"ok":false,"code":"rateLimited","data":{"retryAfterMs":1500},"message":"too many requests; retry in 1500 ms"}"#
        );
        let refused = Failure { code: Code::NotAuth, message: "bad token".into(), retry_after_ms: None };
        assert_eq!(refused.to_json(), r#"{"code":"notAuth","message":"bad token"}"#);
        assert_eq!(
            ServerFrame::Reply(Reply::failure(None, &refused)).to_json(),
            r#"{"type":"reply","requestId":null,"ok":false,"code":"notAuth","message":"bad token"}"#
        );
        assert_eq!(
            HttpEnvelope::failure(&refused).to_json(),
            r#"{"ok":false,"code":"notAuth","data":null,"message":"bad token"}"#
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::ServerFrame;
    use crate::protocol::strategies::*;
    use proptest::prelude::*;

    proptest! {
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
        fn failures_carry_their_code_message_and_wait(code in code(), message in ".{0,100}", wait in proptest::option::of(any::<u64>())) {
            let failure = Failure { code, message: message.clone(), retry_after_ms: wait };
            let expected_data = wait.map_or(Value::Null, |ms| serde_json::json!({"retryAfterMs": ms}));
            let reply: Value = serde_json::from_str(&ServerFrame::Reply(Reply::failure(None, &failure)).to_json())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let http: Value = serde_json::from_str(&HttpEnvelope::failure(&failure).to_json())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for back in [&reply, &http] {
                prop_assert_eq!(&back["ok"], false);
                prop_assert_eq!(serde_json::from_value::<Code>(back["code"].clone()).ok(), Some(code));
                prop_assert_eq!(back["message"].as_str(), Some(message.as_str()));
                prop_assert_eq!(back.get("data").cloned().unwrap_or(Value::Null), expected_data.clone());
            }
        }
    }
}
