//! The use cases. Nothing here knows of Lambda or HTTP: the functions hand in parsed
//! values and get back replies, while events go out through the [`Pusher`].
//!
//! - [`auth`]: signup, login, token refresh and logout (the HTTP API).
//! - [`Chat`]: one WebSocket connection's life: [`Chat::connect`], [`Chat::handle_frame`],
//!   [`Chat::disconnect`]; the actions live in [`users`], [`rooms`], [`groups`], [`messages`].

pub mod auth;
mod edits;
mod error;
mod groups;
mod messages;
mod reading;
mod room_order;
mod rooms;
mod typing;
mod users;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value};

pub use error::ServiceError;
pub use room_order::RoomOrder;
pub use typing::TYPING_INTERVAL;

use crate::auth::TokenKeys;
use crate::clock::rfc3339_ms;
use crate::domain::{ConnectionId, GroupId, RoomId, UserId};
use crate::presence::{Departure, Presence, Profile};
use crate::protocol::{
    self, Change, ClientFrame, Code, Command, Event, FrameError, LobbyUsers, Pong, Reply, ReplyData, RoomUsers,
    ServerFrame, User,
};
use crate::push::{PushError, Pusher};
use crate::store::{Store, UserRecord};

/// How many Management API calls one fan-out keeps in flight.
const FAN_OUT_CONCURRENCY: usize = 32;

/// Limits a deployment may tune.
#[derive(Debug, Clone)]
pub struct Limits {
    pub chat_sends_per_window: u32,
    pub chat_send_window: Duration,
    /// State-changing actions (nick, rooms, groups) per connection in `change_window`:
    /// each one sends events to whole rooms or the lobby, a paid push per recipient in AWS.
    pub changes_per_connection: u32,
    /// The same, per user over all their connections.
    pub changes_per_user: u32,
    pub change_window: Duration,
    /// Wrong room passwords one user may give for one room in `room_password_window`; then
    /// every attempt is refused until the oldest failure ages out, right password or not.
    pub room_password_failures: u32,
    pub room_password_window: Duration,
    /// How long a user kicked from a room may not join it again.
    pub room_kick_bar: Duration,
    /// `chat.read`s per connection in `change_window`: a client marks conversations read by
    /// itself as the user reads, apart from the user's own changes.
    pub reads_per_connection: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            chat_sends_per_window: 20,
            chat_send_window: Duration::from_secs(10),
            changes_per_connection: 10,
            changes_per_user: 20,
            change_window: Duration::from_secs(10),
            room_password_failures: 5,
            room_password_window: Duration::from_secs(300),
            room_kick_bar: Duration::from_secs(600),
            reads_per_connection: 30,
        }
    }
}

/// One event and the connections it goes to.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Event,
    pub to: Vec<ConnectionId>,
}

impl Delivery {
    fn new(event: Event, to: Vec<ConnectionId>) -> Self {
        Self { event, to }
    }
}

/// Everything a WebSocket function needs; built once per cold start.
#[derive(Clone)]
pub struct Chat {
    pub store: Arc<dyn Store>,
    pub presence: Arc<dyn Presence>,
    pub pusher: Arc<dyn Pusher>,
    pub keys: TokenKeys,
    pub limits: Limits,
    /// Browser origins allowed to open connections; empty: any.
    pub allowed_origins: Vec<String>,
    pub room_order: Arc<RoomOrder>,
}

/// The connection a frame came from, resolved from presence.
#[derive(Debug, Clone)]
struct Caller {
    connection: ConnectionId,
    user: UserId,
    room: RoomId,
}

fn profile_of(record: &UserRecord) -> Profile {
    Profile { nick: record.nick.clone(), group: record.group_id.clone() }
}

fn to_user(record: &UserRecord) -> User {
    User { user_id: record.user_id.clone(), nick: record.nick.clone(), group_id: record.group_id.clone() }
}

fn unregistered() -> ServiceError {
    ServiceError::Unauthenticated("this connection is no longer registered; reconnect".into())
}

fn reply_ok(request_id: Option<String>, data: &ReplyData) -> String {
    ServerFrame::Reply(Reply::success(request_id, data)).to_json()
}

fn reply_err(request_id: Option<String>, err: &ServiceError) -> String {
    ServerFrame::Reply(Reply::failure(request_id, &err.to_failure())).to_json()
}

fn system_error(code: Code, message: String) -> String {
    ServerFrame::Event(Event::SystemError { code, message }).to_json()
}

impl Chat {
    async fn user_record(&self, user: &UserId) -> Result<UserRecord, ServiceError> {
        self.store.user(user).await?.ok_or_else(|| ServiceError::NoInfo(format!("no user {user}")))
    }

    /// Re-reads a user after a change of nick or group and refreshes presence's copy.
    async fn refresh_profile(&self, user: &UserId) -> Result<UserRecord, ServiceError> {
        let record = self.user_record(user).await?;
        self.presence.set_profile(user, &profile_of(&record)).await?;
        Ok(record)
    }

    /// `$connect`: checks the origin and the token, then registers the connection in the
    /// lobby. A request without `Origin` is not from a browser and is not checked.
    pub async fn connect(
        &self,
        connection: &ConnectionId,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<UserId, ServiceError> {
        if let Some(origin) = origin
            && !self.allowed_origins.is_empty()
            && !self.allowed_origins.iter().any(|o| o == "*" || o == origin.trim_end_matches('/'))
        {
            return Err(ServiceError::Forbidden(format!("origin {origin} is not allowed")));
        }
        let user_id = self.keys.verify(token.unwrap_or_default())?;
        let record = self
            .store
            .user(&user_id)
            .await?
            .ok_or_else(|| ServiceError::Unauthenticated("the token's user does not exist".into()))?;
        let connected = self.presence.connect(connection, &user_id, &profile_of(&record)).await?;
        tracing::info!(%connection, user = %user_id, "connected");
        let mut deliveries = Vec::new();
        if connected.entered_lobby {
            let mut lobby = self.presence.room_connections(RoomId::LOBBY).await?;
            // API Gateway refuses posts to a connection until its $connect has returned.
            lobby.retain(|c| c != connection);
            deliveries.push(Delivery::new(
                Event::LobbyUsersRefresh { change: Change::Joined, user: to_user(&record) },
                lobby,
            ));
        }
        if connected.came_online
            && let Some(group) = &record.group_id
        {
            deliveries.extend(self.group_refresh(group, Some(connection)).await?);
        }
        self.deliver(deliveries).await;
        Ok(user_id)
    }

    /// `$disconnect`, a 410 from the Management API, or an idle timeout: the connection
    /// leaves its room (with owner handover and closing) and the user may go offline.
    pub async fn disconnect(&self, connection: &ConnectionId) -> Result<(), ServiceError> {
        let deliveries = self.forget(connection).await?;
        self.deliver(deliveries).await;
        Ok(())
    }

    /// Disconnects, as `$disconnect` would have, up to `limit` connections whose presence
    /// lease ran out without one (API Gateway lost their `$disconnect`, an instance died):
    /// they leave their rooms and go offline, and everyone is told. Returns how many.
    pub async fn sweep_expired_connections(&self, limit: usize) -> Result<usize, ServiceError> {
        let expired = self.presence.expired_connections(limit).await?;
        for connection in &expired {
            tracing::warn!(%connection, "connection's lease ran out without a disconnect; cleaning up after it");
            self.disconnect(connection).await?;
        }
        Ok(expired.len())
    }

    async fn forget(&self, connection: &ConnectionId) -> Result<Vec<Delivery>, ServiceError> {
        let Some(gone) = self.presence.disconnect(connection).await? else { return Ok(Vec::new()) };
        tracing::info!(%connection, user = %gone.user, "disconnected");
        let record = self.store.user(&gone.user).await?;
        let Some(record) = record else { return Ok(Vec::new()) };
        let mut deliveries = self.after_departure(&record, gone.from).await?;
        if gone.went_offline
            && let Some(group) = &record.group_id
        {
            deliveries.extend(self.group_refresh(group, None).await?);
        }
        Ok(deliveries)
    }

    /// `$default`: one client frame in, one reply frame out (the route response).
    pub async fn handle_frame(&self, connection: &ConnectionId, text: &str) -> String {
        let frame = match protocol::parse_frame(text) {
            Ok(frame) => frame,
            Err(FrameError::NotAnObject(message)) => return system_error(Code::Invalid, message),
            Err(err @ FrameError::TooLarge(_)) => return system_error(Code::TooLarge, err.to_string()),
            Err(FrameError::BadEnvelope { request_id, message }) => {
                return reply_err(request_id, &ServiceError::Invalid(message));
            }
        };
        let ClientFrame { action, request_id, data } = frame;
        let started = std::time::Instant::now();
        let outcome = self.run(connection, &action, data).await;
        let failed = outcome.as_ref().is_err_and(|err| err.code() == Code::Error);
        crate::metrics::record_action(&action, started.elapsed(), failed);
        match outcome {
            Ok(data) => reply_ok(request_id, &data),
            Err(err) => {
                err.log(&action);
                reply_err(request_id, &err)
            }
        }
    }

    async fn run(
        &self,
        connection: &ConnectionId,
        action: &str,
        data: Map<String, Value>,
    ) -> Result<ReplyData, ServiceError> {
        let command = Command::parse(action, data)?;
        if let Command::ChatSend { kind, text, to, client_msg_id } = command {
            // The hot path reads its connection, audience and limit in one presence call.
            return self.chat_send(connection, kind, text, to, client_msg_id).await.map(ReplyData::ChatSend);
        }
        let info = self.presence.connection(connection).await?.ok_or_else(unregistered)?;
        let caller = Caller { connection: connection.clone(), user: info.user, room: info.room };
        for (key, limit) in self.budgets(&command, &caller) {
            if let Some(wait) = self.presence.hit_rate_limit(&key, limit, self.limits.change_window).await? {
                return Err(ServiceError::rate_limited(wait));
            }
        }
        Ok(match command {
            Command::Ping => ReplyData::Ping(Pong { server_time: rfc3339_ms(crate::clock::now_ms()) }),
            Command::UserMe => ReplyData::UserMe(self.user_me(&caller).await?),
            Command::UserInfo { user_id } => ReplyData::UserInfo(self.user_info(&user_id).await?),
            Command::UserUpdate { nick } => ReplyData::UserUpdate(self.user_update(&caller, &nick).await?),
            Command::UserListInLobby => {
                ReplyData::UserListInLobby(LobbyUsers { users: self.users_in(RoomId::LOBBY).await? })
            }
            Command::UserListInRoom => {
                let users = self.users_in(caller.room).await?;
                ReplyData::UserListInRoom(RoomUsers { room_id: caller.room, users })
            }
            Command::UserListOnline => ReplyData::UserListOnline(self.user_list_online().await?),
            Command::RoomList => ReplyData::RoomList(self.room_list().await?),
            Command::RoomCreate { title, password, capacity } => {
                ReplyData::RoomCreate(self.room_create(&caller, title, password, capacity).await?)
            }
            Command::RoomJoin { room_id, password } => {
                ReplyData::RoomJoin(self.room_join(&caller, room_id, password).await?)
            }
            Command::RoomLeave => ReplyData::RoomLeave(self.room_leave(&caller).await?),
            Command::RoomInfo { room_id } => ReplyData::RoomInfo(self.room_info_of(&caller, room_id).await?),
            Command::RoomUpdate { title, password, capacity } => {
                ReplyData::RoomUpdate(self.room_update(&caller, title, password, capacity).await?)
            }
            Command::RoomKick { user_id } => ReplyData::RoomKick(self.room_kick(&caller, user_id).await?),
            Command::GroupList => ReplyData::GroupList(self.group_list().await?),
            Command::GroupCreate { group_id } => ReplyData::GroupCreate(self.group_create(&caller, &group_id).await?),
            Command::GroupJoin { group_id } => ReplyData::GroupJoin(self.group_join(&caller, &group_id).await?),
            Command::GroupLeave => ReplyData::GroupLeave(self.group_leave(&caller).await?),
            Command::ChatSend { .. } => return Err(ServiceError::Internal("chat.send is dispatched above".into())),
            Command::ChatHistory { target, bounds, limit } => {
                ReplyData::ChatHistory(self.chat_history(&caller, target, bounds, limit).await?)
            }
            Command::ChatTyping { kind, to } => ReplyData::ChatTyping(self.chat_typing(&caller, kind, to).await?),
            Command::ChatEdit { message_id, text } => {
                ReplyData::ChatEdit(self.chat_edit(&caller, message_id, text).await?)
            }
            Command::ChatDelete { message_id } => ReplyData::ChatDelete(self.chat_delete(&caller, message_id).await?),
            Command::ChatReact { message_id, emoji, on } => {
                ReplyData::ChatReact(self.chat_react(&caller, message_id, emoji, on).await?)
            }
            Command::ChatRead { conversation, up_to } => {
                ReplyData::ChatRead(self.chat_read(&caller, conversation, up_to).await?)
            }
            Command::ChatConversations => ReplyData::ChatConversations(self.chat_conversations(&caller).await?),
        })
    }

    /// The rate limits an action counts against, as (key, limit per `change_window`): a state
    /// change against the caller's connection and user; `chat.read`, which a client sends by
    /// itself as the user reads, against a budget of its own.
    fn budgets(&self, command: &Command, caller: &Caller) -> Vec<(String, u32)> {
        let limits = &self.limits;
        if matches!(command, Command::ChatRead { .. }) {
            vec![(format!("read:{}", caller.connection), limits.reads_per_connection)]
        } else if command.changes_state() {
            vec![
                (format!("change:conn:{}", caller.connection), limits.changes_per_connection),
                (format!("change:user:{}", caller.user), limits.changes_per_user),
            ]
        } else {
            Vec::new()
        }
    }

    /// The users of a room (or the lobby) as `User`s, longest present first.
    async fn users_in(&self, room: RoomId) -> Result<Vec<User>, ServiceError> {
        let ids = self.presence.room_users(room).await?;
        let mut records = self.store.users(&ids).await?;
        records.sort_by_key(|r| ids.iter().position(|id| *id == r.user_id));
        Ok(records.iter().map(to_user).collect())
    }

    /// Events for a user's connection leaving a room or the lobby: the `left` event, and
    /// for rooms the owner handover, the room's refresh, or its closing.
    async fn after_departure(&self, user: &UserRecord, departure: Departure) -> Result<Vec<Delivery>, ServiceError> {
        let mut deliveries = Vec::new();
        if !departure.user_left {
            return Ok(deliveries);
        }
        let room = departure.room;
        if room.is_lobby() {
            let lobby = self.presence.room_connections(RoomId::LOBBY).await?;
            deliveries
                .push(Delivery::new(Event::LobbyUsersRefresh { change: Change::Left, user: to_user(user) }, lobby));
            return Ok(deliveries);
        }
        if departure.room_closed {
            self.store.close_room(room).await?;
            tracing::info!(%room, "room closed");
            let lobby = self.presence.room_connections(RoomId::LOBBY).await?;
            deliveries.push(Delivery::new(Event::RoomListRefresh { room_id: room, room: None }, lobby));
            return Ok(deliveries);
        }
        let members = self.presence.room_connections(room).await?;
        deliveries.push(Delivery::new(
            Event::RoomUsersRefresh { room_id: room, change: Change::Left, user: to_user(user) },
            members,
        ));
        self.hand_over_if_owner_absent(room).await?;
        deliveries.extend(self.room_refresh(room).await?);
        Ok(deliveries)
    }

    /// Gives the room to its longest-present user when its owner is not inside. The owner's
    /// own departure normally does this; checking on every arrival and departure also
    /// repairs a handover that a store outage interrupted.
    async fn hand_over_if_owner_absent(&self, room: RoomId) -> Result<(), ServiceError> {
        let Some(record) = self.store.room(room).await?.filter(|r| !r.closed) else { return Ok(()) };
        let present = self.presence.room_users(room).await?;
        if present.contains(&record.owner) {
            return Ok(());
        }
        if let Some(heir) = present.into_iter().next() {
            let changes = crate::store::RoomChanges { owner: Some(heir.clone()), ..Default::default() };
            self.store.update_room(room, &changes).await?;
            tracing::info!(%room, owner = %heir, "room owner handed over");
        }
        Ok(())
    }

    /// Events for a user's connection entering a room or the lobby.
    async fn after_arrival(
        &self,
        user: &UserRecord,
        room: RoomId,
        user_entered: bool,
    ) -> Result<Vec<Delivery>, ServiceError> {
        if !user_entered {
            return Ok(Vec::new());
        }
        let connections = self.presence.room_connections(room).await?;
        if room.is_lobby() {
            let event = Event::LobbyUsersRefresh { change: Change::Joined, user: to_user(user) };
            return Ok(vec![Delivery::new(event, connections)]);
        }
        let event = Event::RoomUsersRefresh { room_id: room, change: Change::Joined, user: to_user(user) };
        let mut deliveries = vec![Delivery::new(event, connections)];
        self.hand_over_if_owner_absent(room).await?;
        deliveries.extend(self.room_refresh(room).await?);
        Ok(deliveries)
    }

    /// `group.list.refresh` for one group, to the lobby and the group's online members.
    async fn group_refresh(
        &self,
        group: &GroupId,
        except: Option<&ConnectionId>,
    ) -> Result<Vec<Delivery>, ServiceError> {
        let members = self.store.group_members(group).await?;
        let online = self.presence.online(&members).await?;
        let mut to = self.presence.room_connections(RoomId::LOBBY).await?;
        for member in &online {
            to.extend(self.presence.user_connections(member).await?);
        }
        to.sort();
        to.dedup();
        to.retain(|c| Some(c) != except);
        let summary = protocol::GroupSummary {
            group_id: group.clone(),
            members: members.len() as u32,
            online: online.len() as u32,
        };
        Ok(vec![Delivery::new(Event::GroupListRefresh(summary), to)])
    }

    /// Sends every delivery; a connection that answers 410 is purged like a disconnect,
    /// and the events that purge causes are sent in turn. Each connection gets its frames
    /// in the order of `deliveries`; connections do not wait for each other.
    pub async fn deliver(&self, mut deliveries: Vec<Delivery>) {
        while !deliveries.is_empty() {
            let mut lines: Vec<(ConnectionId, Vec<usize>)> = Vec::new();
            if let [only] = deliveries.as_mut_slice() {
                lines.extend(std::mem::take(&mut only.to).into_iter().map(|connection| (connection, vec![0])));
            } else {
                let mut line_of: std::collections::HashMap<ConnectionId, usize> = std::collections::HashMap::new();
                for (frame, delivery) in deliveries.iter_mut().enumerate() {
                    for connection in std::mem::take(&mut delivery.to) {
                        let line = *line_of.entry(connection.clone()).or_insert_with(|| {
                            lines.push((connection, Vec::new()));
                            lines.len() - 1
                        });
                        lines[line].1.push(frame);
                    }
                }
            }
            let frames: Vec<String> = deliveries.drain(..).map(|d| ServerFrame::Event(d.event).to_json()).collect();
            let frames = &frames;
            let mut gone: Vec<ConnectionId> = futures::stream::iter(lines)
                .map(|(connection, line)| async move {
                    for frame in line {
                        match self.pusher.push(&connection, &frames[frame]).await {
                            Ok(()) => {}
                            Err(PushError::Gone) => {
                                crate::metrics::GONE_CONNECTIONS.add(1);
                                return Some(connection);
                            }
                            Err(PushError::Failed(reason)) => tracing::warn!(%connection, %reason, "push failed"),
                        }
                    }
                    None
                })
                .buffer_unordered(FAN_OUT_CONCURRENCY)
                .filter_map(std::future::ready)
                .collect()
                .await;
            gone.sort();
            gone.dedup();
            for connection in gone {
                tracing::info!(%connection, "connection gone; purging");
                match self.forget(&connection).await {
                    Ok(more) => deliveries.extend(more),
                    Err(err) => tracing::warn!(%connection, error = %err, "purge failed"),
                }
            }
        }
    }
}
