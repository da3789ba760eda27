//! In-process presence for one node: every change happens under one short lock that is
//! never held across an await.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{
    Connected, ConnectionInfo, Departure, Disconnected, MoveOutcome, Moved, Presence, PresenceError, PresenceResult,
    Profile, SenderContext, Whereabouts,
};
use crate::domain::{ConnectionId, RoomId, UserId};

pub struct MemoryPresence {
    state: Mutex<State>,
    lease: Duration,
}

impl Default for MemoryPresence {
    fn default() -> Self {
        Self { state: Mutex::default(), lease: super::CONNECTION_LEASE }
    }
}

#[derive(Default)]
struct State {
    connections: HashMap<ConnectionId, ConnectionInfo>,
    /// When each connection's lease ends unless it is active again.
    leases: HashMap<ConnectionId, Instant>,
    users: HashMap<UserId, HashSet<ConnectionId>>,
    profiles: HashMap<UserId, Profile>,
    rooms: HashMap<RoomId, RoomPresence>,
    closed: HashSet<RoomId>,
    rate_windows: HashMap<String, RateWindow>,
    /// How many windows were left by the last sweep; the next runs when twice as many exist.
    rate_windows_after_sweep: usize,
}

/// Attempt times under one key, as Redis keeps them in a sorted set with an expiry.
struct RateWindow {
    length: Duration,
    attempts: VecDeque<Instant>,
}

/// Fewer windows than this are never swept: not worth a pass over the map.
const RATE_SWEEP_FLOOR: usize = 1024;

#[derive(Default)]
struct RoomPresence {
    /// Users in arrival order with their connection count here.
    members: Vec<(UserId, u32)>,
    connections: HashSet<ConnectionId>,
}

/// How long until enough of the `recorded` attempts (oldest first) have left the window for
/// one more to be within `limit`.
fn retry_after(recorded: &VecDeque<Instant>, limit: u32, window: Duration, now: Instant) -> Duration {
    match recorded.len().checked_sub(limit as usize).and_then(|oldest_counted| recorded.get(oldest_counted)) {
        Some(at) => window.saturating_sub(now.duration_since(*at)),
        None => window,
    }
}

impl State {
    fn hit_rate_limit(&mut self, key: &str, limit: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        self.sweep_rate_windows(now);
        let entry = self
            .rate_windows
            .entry(key.to_owned())
            .or_insert_with(|| RateWindow { length: window, attempts: VecDeque::new() });
        entry.length = window;
        let attempts = &mut entry.attempts;
        while attempts.front().is_some_and(|at| now.duration_since(*at) >= window) {
            attempts.pop_front();
        }
        attempts.push_back(now);
        (attempts.len() > limit as usize).then(|| retry_after(attempts, limit, window, now))
    }

    fn rate_limit_wait(&mut self, key: &str, limit: u32, window: Duration) -> Option<Duration> {
        let now = Instant::now();
        let recorded: VecDeque<Instant> = match self.rate_windows.get(key) {
            Some(entry) => entry.attempts.iter().copied().filter(|at| now.duration_since(*at) < window).collect(),
            None => VecDeque::new(),
        };
        (recorded.len() >= limit as usize).then(|| retry_after(&recorded, limit, window, now))
    }

    /// Drops windows whose every attempt has aged out: keys are per connection and per
    /// login name or address, so without this a stream of new ones would grow the map for
    /// good. Runs when the map has doubled since the last sweep, so its cost per attempt
    /// stays constant.
    fn sweep_rate_windows(&mut self, now: Instant) {
        if self.rate_windows.len() < RATE_SWEEP_FLOOR.max(2 * self.rate_windows_after_sweep) {
            return;
        }
        self.rate_windows
            .retain(|_, window| window.attempts.back().is_some_and(|last| now.duration_since(*last) < window.length));
        self.rate_windows_after_sweep = self.rate_windows.len();
    }

    fn enter(&mut self, connection: &ConnectionId, user: &UserId, room: RoomId) -> bool {
        let presence = self.rooms.entry(room).or_default();
        presence.connections.insert(connection.clone());
        match presence.members.iter_mut().find(|(member, _)| member == user) {
            Some((_, count)) => {
                *count += 1;
                false
            }
            None => {
                presence.members.push((user.clone(), 1));
                true
            }
        }
    }

    fn leave(&mut self, connection: &ConnectionId, user: &UserId, room: RoomId) -> Departure {
        let mut departure = Departure { room, user_left: false, room_closed: false };
        let Some(presence) = self.rooms.get_mut(&room) else { return departure };
        presence.connections.remove(connection);
        if let Some(index) = presence.members.iter().position(|(member, _)| member == user) {
            presence.members[index].1 -= 1;
            if presence.members[index].1 == 0 {
                presence.members.remove(index);
                departure.user_left = true;
            }
        }
        if presence.members.is_empty() {
            self.rooms.remove(&room);
            if !room.is_lobby() {
                self.closed.insert(room);
                departure.room_closed = true;
            }
        }
        departure
    }
}

impl MemoryPresence {
    /// Leases of `lease` instead of [`super::CONNECTION_LEASE`] (tests).
    pub fn with_lease(lease: Duration) -> Self {
        Self { lease, ..Self::default() }
    }

    fn state(&self) -> PresenceResult<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| PresenceError::Backend("presence lock poisoned".into()))
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn connect(&self, connection: &ConnectionId, user: &UserId, profile: &Profile) -> PresenceResult<Connected> {
        let mut state = self.state()?;
        state.profiles.insert(user.clone(), profile.clone());
        let connections = state.users.entry(user.clone()).or_default();
        let came_online = connections.is_empty();
        connections.insert(connection.clone());
        state.connections.insert(connection.clone(), ConnectionInfo { user: user.clone(), room: RoomId::LOBBY });
        state.leases.insert(connection.clone(), Instant::now() + self.lease);
        let entered_lobby = state.enter(connection, user, RoomId::LOBBY);
        Ok(Connected { came_online, entered_lobby })
    }

    async fn connection(&self, connection: &ConnectionId) -> PresenceResult<Option<ConnectionInfo>> {
        Ok(self.state()?.connections.get(connection).cloned())
    }

    async fn move_to(&self, connection: &ConnectionId, to: RoomId, capacity: u32) -> PresenceResult<MoveOutcome> {
        let mut state = self.state()?;
        let Some(info) = state.connections.get(connection).cloned() else {
            return Ok(MoveOutcome::UnknownConnection);
        };
        if info.room == to {
            return Ok(MoveOutcome::AlreadyThere);
        }
        if !to.is_lobby() {
            if state.closed.contains(&to) {
                return Ok(MoveOutcome::Closed);
            }
            let members = state.rooms.get(&to).map(|r| r.members.as_slice()).unwrap_or_default();
            let inside = members.iter().any(|(member, _)| *member == info.user);
            if !inside && members.len() >= capacity as usize {
                return Ok(MoveOutcome::Full);
            }
        }
        state.leases.insert(connection.clone(), Instant::now() + self.lease);
        let from = state.leave(connection, &info.user, info.room);
        let user_entered = state.enter(connection, &info.user, to);
        if let Some(entry) = state.connections.get_mut(connection) {
            entry.room = to;
        }
        Ok(MoveOutcome::Moved(Moved { from, user_entered }))
    }

    async fn disconnect(&self, connection: &ConnectionId) -> PresenceResult<Option<Disconnected>> {
        let mut state = self.state()?;
        let Some(info) = state.connections.remove(connection) else { return Ok(None) };
        state.leases.remove(connection);
        let from = state.leave(connection, &info.user, info.room);
        let went_offline = match state.users.get_mut(&info.user) {
            Some(connections) => {
                connections.remove(connection);
                connections.is_empty()
            }
            None => true,
        };
        if went_offline {
            state.users.remove(&info.user);
            state.profiles.remove(&info.user);
        }
        Ok(Some(Disconnected { user: info.user, from, went_offline }))
    }

    async fn room_users(&self, room: RoomId) -> PresenceResult<Vec<UserId>> {
        let state = self.state()?;
        Ok(state.rooms.get(&room).map(|r| r.members.iter().map(|(user, _)| user.clone()).collect()).unwrap_or_default())
    }

    async fn room_counts(&self, rooms: &[RoomId]) -> PresenceResult<Vec<u32>> {
        let state = self.state()?;
        Ok(rooms.iter().map(|room| state.rooms.get(room).map_or(0, |r| r.members.len() as u32)).collect())
    }

    async fn room_connections(&self, room: RoomId) -> PresenceResult<Vec<ConnectionId>> {
        let state = self.state()?;
        Ok(state.rooms.get(&room).map(|r| r.connections.iter().cloned().collect()).unwrap_or_default())
    }

    async fn user_connections(&self, user: &UserId) -> PresenceResult<Vec<ConnectionId>> {
        let state = self.state()?;
        Ok(state.users.get(user).map(|c| c.iter().cloned().collect()).unwrap_or_default())
    }

    async fn user_rooms(&self, user: &UserId) -> PresenceResult<Vec<RoomId>> {
        let state = self.state()?;
        let mut rooms: Vec<RoomId> = state
            .users
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|connection| state.connections.get(connection).map(|info| info.room))
            .collect();
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }

    async fn online(&self, users: &[UserId]) -> PresenceResult<Vec<UserId>> {
        let state = self.state()?;
        Ok(users.iter().filter(|user| state.users.contains_key(*user)).cloned().collect())
    }

    /// One pass over the connections under the lock.
    async fn online_users(&self) -> PresenceResult<Vec<Whereabouts>> {
        let now = Instant::now();
        let state = self.state()?;
        let mut rooms: BTreeMap<&UserId, BTreeSet<RoomId>> = BTreeMap::new();
        for (connection, info) in &state.connections {
            if state.leases.get(connection).is_some_and(|ends| *ends > now) {
                rooms.entry(&info.user).or_default().insert(info.room);
            }
        }
        Ok(rooms
            .into_iter()
            .map(|(user, rooms)| Whereabouts {
                user: user.clone(),
                rooms: rooms.into_iter().collect(),
                profile: state.profiles.get(user).cloned(),
            })
            .collect())
    }

    async fn connections_of(&self, users: &[UserId]) -> PresenceResult<Vec<Vec<ConnectionId>>> {
        let state = self.state()?;
        Ok(users
            .iter()
            .map(|user| state.users.get(user).map(|c| c.iter().cloned().collect()).unwrap_or_default())
            .collect())
    }

    async fn hit_rate_limit(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        Ok(self.state()?.hit_rate_limit(key, limit, window))
    }

    async fn rate_limit_wait(&self, key: &str, limit: u32, window: Duration) -> PresenceResult<Option<Duration>> {
        Ok(self.state()?.rate_limit_wait(key, limit, window))
    }

    async fn expired_connections(&self, limit: usize) -> PresenceResult<Vec<ConnectionId>> {
        let now = Instant::now();
        let state = self.state()?;
        let mut expired: Vec<(Instant, ConnectionId)> =
            state.leases.iter().filter(|(_, ends)| **ends <= now).map(|(c, ends)| (*ends, c.clone())).collect();
        expired.sort();
        Ok(expired.into_iter().take(limit).map(|(_, connection)| connection).collect())
    }

    async fn room_created(&self, room: RoomId) -> PresenceResult<()> {
        self.state()?.closed.remove(&room);
        Ok(())
    }

    async fn set_profile(&self, user: &UserId, profile: &Profile) -> PresenceResult<()> {
        let mut state = self.state()?;
        if state.users.contains_key(user) {
            state.profiles.insert(user.clone(), profile.clone());
        }
        Ok(())
    }

    async fn sender_context(
        &self,
        connection: &ConnectionId,
        rate_key: &str,
        limit: u32,
        window: Duration,
    ) -> PresenceResult<Option<SenderContext>> {
        let mut state = self.state()?;
        let Some(info) = state.connections.get(connection).cloned() else { return Ok(None) };
        state.leases.insert(connection.clone(), Instant::now() + self.lease);
        let retry_after = state.hit_rate_limit(rate_key, limit, window);
        let room_connections =
            state.rooms.get(&info.room).map(|r| r.connections.iter().cloned().collect()).unwrap_or_default();
        let profile = state.profiles.get(&info.user).cloned();
        Ok(Some(SenderContext { info, profile, retry_after, room_connections }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_keys_no_longer_used_are_dropped_and_live_ones_still_limit() {
        let mut state = State::default();
        for i in 0..2000 {
            assert_eq!(state.hit_rate_limit(&format!("login:gone{i}"), 5, Duration::from_millis(20)), None);
        }
        std::thread::sleep(Duration::from_millis(30));
        for i in 0..2000 {
            assert_eq!(state.hit_rate_limit(&format!("login:live{i}"), 5, Duration::from_secs(60)), None);
        }
        assert_eq!(state.rate_windows.len(), 2000, "only the windows with attempts still inside them are kept");
        assert!(state.rate_windows.keys().all(|key| key.starts_with("login:live")));
        for _ in 0..4 {
            assert_eq!(state.hit_rate_limit("login:live7", 5, Duration::from_secs(60)), None);
        }
        assert!(
            state.hit_rate_limit("login:live7", 5, Duration::from_secs(60)).is_some(),
            "the sixth attempt is refused"
        );
    }
}
