//! Who is connected, and where: volatile state shared by every function instance.
//!
//! The lobby is room 0 here, so "moving" a connection is one operation whichever way it
//! goes. Every change that touches several keys is one atomic step of the implementation
//! (one lock in [`memory`], one Lua script in `redis`), so concurrent instances never see
//! half of it; in particular the capacity check and the move are one step.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::{ConnectionId, GroupId, Nick, RoomId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error("presence backend: {0}")]
    Backend(String),
    /// A function built for one storage profile, deployed with the other's configuration.
    #[error("this build has no driver for {0} presence (built for another storage profile?)")]
    NotBuiltIn(&'static str),
    #[error("no presence is configured: set CHATTING_REDIS_URL (this build has no in-process presence)")]
    NotConfigured,
    #[cfg(feature = "dynamodb")]
    #[error("presence: {0}")]
    Dynamo(#[from] crate::dynamodb::DynamoError),
}

pub type PresenceResult<T> = Result<T, PresenceError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub user: UserId,
    pub room: RoomId,
}

/// What a message shows of its sender, kept beside the connections so that sending needs
/// no store read. The store stays the source of truth; this copy follows every change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub nick: Nick,
    pub group: Option<GroupId>,
}

/// Everything `chat.send` needs from presence, read in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderContext {
    pub info: ConnectionInfo,
    /// `None` when no copy is kept (then the store has it).
    pub profile: Option<Profile>,
    /// `Some(wait)` when this attempt is over the rate limit.
    pub retry_after: Option<Duration>,
    /// The connections of the sender's current room (or lobby).
    pub room_connections: Vec<ConnectionId>,
}

/// A new connection, registered in the lobby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connected {
    /// The user had no other connection: they just came online.
    pub came_online: bool,
    /// The user had no other connection in the lobby.
    pub entered_lobby: bool,
}

/// What leaving a room did to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Departure {
    pub room: RoomId,
    /// The user's last connection left the room.
    pub user_left: bool,
    /// Nobody is left: the room is now closed and no one can join it again.
    pub room_closed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub from: Departure,
    /// The user's first connection entered the destination.
    pub user_entered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveOutcome {
    Moved(Moved),
    /// Already there; nothing changed.
    AlreadyThere,
    /// The room holds `capacity` users and the user is not one of them.
    Full,
    /// The room closed (its last member left) before this move.
    Closed,
    UnknownConnection,
}

/// Where an online user is: what `user.listOnline` shows of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    pub user: UserId,
    /// The distinct rooms (0: the lobby) the user's live connections are in, ascending.
    pub rooms: Vec<RoomId>,
    /// The kept copy of the user's profile; `None` when none is kept (then the store has it).
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    pub user: UserId,
    pub from: Departure,
    /// The user has no connection left.
    pub went_offline: bool,
}

#[async_trait]
pub trait Presence: Send + Sync {
    async fn connect(&self, connection: &ConnectionId, user: &UserId, profile: &Profile) -> PresenceResult<Connected>;
    /// Replaces the kept copy of an online user's profile.
    async fn set_profile(&self, user: &UserId, profile: &Profile) -> PresenceResult<()>;
    /// The sender's connection, profile and room audience, counting one attempt against
    /// `rate_key`; `None` when the connection is unknown.
    async fn sender_context(
        &self,
        connection: &ConnectionId,
        rate_key: &str,
        limit: u32,
        window: Duration,
    ) -> PresenceResult<Option<SenderContext>>;
    async fn connection(&self, connection: &ConnectionId) -> PresenceResult<Option<ConnectionInfo>>;
    /// Moves a connection; a room other than the lobby admits at most `capacity` users.
    async fn move_to(&self, connection: &ConnectionId, to: RoomId, capacity: u32) -> PresenceResult<MoveOutcome>;
    /// Forgets a connection; `None` when it was already gone.
    async fn disconnect(&self, connection: &ConnectionId) -> PresenceResult<Option<Disconnected>>;
    /// The room's users, longest present first.
    async fn room_users(&self, room: RoomId) -> PresenceResult<Vec<UserId>>;
    /// How many users are in each room.
    async fn room_counts(&self, rooms: &[RoomId]) -> PresenceResult<Vec<u32>>;
    async fn room_connections(&self, room: RoomId) -> PresenceResult<Vec<ConnectionId>>;
    async fn user_connections(&self, user: &UserId) -> PresenceResult<Vec<ConnectionId>>;
    /// The distinct rooms (lobby included) the user's connections are in.
    async fn user_rooms(&self, user: &UserId) -> PresenceResult<Vec<RoomId>>;
    /// The users among `users` with at least one connection.
    async fn online(&self, users: &[UserId]) -> PresenceResult<Vec<UserId>>;
    /// Every user with a connection whose lease is running, once, ordered by user id. A
    /// connection whose lease ran out is left out before the sweep gets to it: it is gone
    /// (API Gateway closes every connection within the lease), only not yet cleaned up.
    /// Reads every live connection, so it costs in proportion to how many there are; each
    /// implementation says what that is in its backend's terms.
    async fn online_users(&self) -> PresenceResult<Vec<Whereabouts>>;
    /// The connections of each of `users`, in their order (empty: offline). Whispers and
    /// group messages find their audience with it; backends that can answer it in one round
    /// trip override this one-call-per-user default.
    async fn connections_of(&self, users: &[UserId]) -> PresenceResult<Vec<Vec<ConnectionId>>> {
        let mut each = Vec::with_capacity(users.len());
        for user in users {
            each.push(self.user_connections(user).await?);
        }
        Ok(each)
    }
    /// Counts one attempt against `key`; `Some(wait)` when over `limit` in the sliding `window`.
    async fn hit_rate_limit(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>>;
    /// What [`Self::hit_rate_limit`] would answer for one more attempt, without counting it:
    /// for limits that count only failures, checked before the work and hit after a failure.
    async fn rate_limit_wait(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>>;
    /// The store has just created `room`: any closed mark under its id belongs to an older
    /// room (ids repeat when a database is made anew under a live presence store) and goes.
    async fn room_created(&self, room: RoomId) -> PresenceResult<()>;
    /// Connections whose lease ran out with no `disconnect` (a `$disconnect` API Gateway never
    /// delivered, an instance that died): at most `limit`, longest expired first, for the
    /// caller to disconnect as usual. A lease lasts [`CONNECTION_LEASE`] from the connection's
    /// last activity (connect, move, send).
    async fn expired_connections(&self, limit: usize) -> PresenceResult<Vec<ConnectionId>>;
}

/// How long presence vouches for a connection after its last activity: API Gateway closes
/// every connection after 2 hours, so one silent for longer than this is certainly gone.
pub const CONNECTION_LEASE: Duration = Duration::from_secs(2 * 3600 + 600);

/// Opens the presence a `CHATTING_REDIS_URL` names (keys under `prefix`; a `rediss://` URL
/// checked against `ca_file` when given), or the in-process one without it, with
/// connection leases of `lease`.
pub async fn connect(
    redis_url: Option<&str>,
    prefix: &str,
    ca_file: Option<&std::path::Path>,
    lease: Duration,
) -> PresenceResult<std::sync::Arc<dyn Presence>> {
    match redis_url {
        #[cfg(feature = "redis")]
        Some(url) => Ok(std::sync::Arc::new(
            redis::RedisPresence::connect_with_ca(url, prefix, ca_file).await?.with_lease(lease),
        )),
        #[cfg(not(feature = "redis"))]
        Some(_) => {
            let _ = (prefix, ca_file, lease);
            Err(PresenceError::NotBuiltIn("Redis"))
        }
        #[cfg(feature = "memory")]
        None => Ok(std::sync::Arc::new(memory::MemoryPresence::with_lease(lease))),
        #[cfg(not(feature = "memory"))]
        None => Err(PresenceError::NotConfigured),
    }
}
