//! `room.*` actions and the room events every membership change causes.

use super::{Caller, Chat, Delivery, ServiceError};
use crate::auth;
use crate::domain::{Capacity, ConnectionId, RoomId, RoomPassword, RoomTitle, UserId};
use crate::presence::MoveOutcome;
use crate::protocol::{Event, RoomInfo, RoomLeft, RoomList, RoomSummary};
use crate::store::{NewRoom, RoomChanges, RoomRecord};

fn summary(record: &RoomRecord, count: u32) -> RoomSummary {
    RoomSummary {
        room_id: record.room_id,
        title: record.title.clone(),
        has_password: record.password_hash.is_some(),
        count,
        capacity: record.capacity,
        owner: record.owner.clone(),
    }
}

/// The presence window that bars a kicked user from a room: one entry while the bar lasts.
fn kick_key(room: RoomId, user: &UserId) -> String {
    format!("kicked:{room}:{user}")
}

async fn hash_room_password(password: Option<RoomPassword>) -> Result<Option<String>, ServiceError> {
    match password.filter(|p| !p.is_empty()) {
        Some(password) => Ok(Some(auth::hash_password(password.expose()).await?)),
        None => Ok(None),
    }
}

impl Chat {
    async fn open_room(&self, room: RoomId) -> Result<RoomRecord, ServiceError> {
        match self.store.room(room).await? {
            Some(record) if !record.closed => Ok(record),
            _ => Err(ServiceError::NoInfo(format!("no open room {room}"))),
        }
    }

    async fn room_info(&self, record: &RoomRecord) -> Result<RoomInfo, ServiceError> {
        let members = self.users_in(record.room_id).await?;
        Ok(RoomInfo { summary: summary(record, members.len() as u32), members })
    }

    /// `room.info.refresh` to the room and `room.list.refresh` to the lobby.
    pub(super) async fn room_refresh(&self, room: RoomId) -> Result<Vec<Delivery>, ServiceError> {
        let Some(record) = self.store.room(room).await?.filter(|r| !r.closed) else { return Ok(Vec::new()) };
        let info = self.room_info(&record).await?;
        let listed = Event::RoomListRefresh { room_id: room, room: Some(info.summary.clone()) };
        Ok(vec![
            Delivery::new(Event::RoomInfoRefresh(info), self.presence.room_connections(room).await?),
            Delivery::new(listed, self.presence.room_connections(RoomId::LOBBY).await?),
        ])
    }

    /// Moves the caller's connection into `room` (or the lobby) and sends what that changed.
    async fn enter(&self, caller: &Caller, room: RoomId, capacity: u32) -> Result<(), ServiceError> {
        let moved = match self.presence.move_to(&caller.connection, room, capacity).await? {
            MoveOutcome::Moved(moved) => moved,
            MoveOutcome::AlreadyThere => return Ok(()),
            MoveOutcome::Full => return Err(ServiceError::NoSpace(format!("room {room} is full"))),
            MoveOutcome::Closed => {
                // Presence closed it when its last user left; the store normally hears of it
                // then too, unless it was down at that moment: tell it now.
                self.store.close_room(room).await?;
                return Err(ServiceError::NoInfo(format!("no open room {room}")));
            }
            MoveOutcome::UnknownConnection => {
                return Err(ServiceError::Unauthenticated("this connection is no longer registered; reconnect".into()));
            }
        };
        let user = self.user_record(&caller.user).await?;
        let mut deliveries = self.after_departure(&user, moved.from).await?;
        deliveries.extend(self.after_arrival(&user, room, moved.user_entered).await?);
        self.deliver(deliveries).await;
        Ok(())
    }

    pub(super) async fn room_list(&self) -> Result<RoomList, ServiceError> {
        let rooms = self.store.open_rooms().await?;
        let ids: Vec<RoomId> = rooms.iter().map(|r| r.room_id).collect();
        let counts = self.presence.room_counts(&ids).await?;
        // A room nobody is in is closed (or its creator is a moment away from entering): it
        // cannot be joined, so it is not listed, even if the store missed its closing.
        let summaries: Vec<RoomSummary> = rooms
            .iter()
            .zip(counts)
            .filter(|(_, count)| *count > 0)
            .map(|(room, count)| summary(room, count))
            .collect();
        Ok(RoomList { rooms: summaries })
    }

    pub(super) async fn room_create(
        &self,
        caller: &Caller,
        title: RoomTitle,
        password: Option<RoomPassword>,
        capacity: Capacity,
    ) -> Result<RoomInfo, ServiceError> {
        let password_hash = hash_room_password(password).await?;
        let record =
            self.store.create_room(&NewRoom { title, password_hash, capacity, owner: caller.user.clone() }).await?;
        self.presence.room_created(record.room_id).await?;
        tracing::info!(room = %record.room_id, owner = %caller.user, "room created");
        self.enter(caller, record.room_id, capacity.get()).await?;
        self.room_info(&record).await
    }

    pub(super) async fn room_join(
        &self,
        caller: &Caller,
        room: RoomId,
        password: Option<RoomPassword>,
    ) -> Result<RoomInfo, ServiceError> {
        let record = self.open_room(room).await?;
        if caller.room != room {
            if let Some(wait) =
                self.presence.rate_limit_wait(&kick_key(room, &caller.user), 1, self.limits.room_kick_bar).await?
            {
                return Err(ServiceError::Forbidden(format!(
                    "you were removed from room {room}; you may join it again in {} s",
                    wait.as_secs().max(1)
                )));
            }
            let already_inside = self.presence.room_users(room).await?.contains(&caller.user);
            if let (Some(hash), false) = (&record.password_hash, already_inside) {
                self.check_room_password(caller, room, hash, password.as_ref()).await?;
            }
            self.enter(caller, room, record.capacity.get()).await?;
        }
        let record = self.open_room(room).await?;
        self.room_info(&record).await
    }

    /// Limited per user and room, counting wrong passwords only, checked before the hash work.
    async fn check_room_password(
        &self,
        caller: &Caller,
        room: RoomId,
        hash: &str,
        given: Option<&RoomPassword>,
    ) -> Result<(), ServiceError> {
        let limits = &self.limits;
        let key = format!("roompw:{}:{room}", caller.user);
        let (failures, window) = (limits.room_password_failures, limits.room_password_window);
        if let Some(wait) = self.presence.rate_limit_wait(&key, failures, window).await? {
            tracing::info!(user = %caller.user, %room, "room password attempt refused by the rate limit");
            return Err(ServiceError::rate_limited(wait));
        }
        if auth::verify_password(given.map(RoomPassword::expose).unwrap_or_default(), hash).await? {
            return Ok(());
        }
        self.presence.hit_rate_limit(&key, failures, window).await?;
        Err(ServiceError::Wrong(format!("wrong password for room {room}")))
    }

    pub(super) async fn room_leave(&self, caller: &Caller) -> Result<RoomLeft, ServiceError> {
        if caller.room.is_lobby() {
            return Err(ServiceError::Invalid("already in the lobby".into()));
        }
        self.enter(caller, RoomId::LOBBY, 0).await?;
        Ok(RoomLeft { room_id: RoomId::LOBBY })
    }

    /// Moves every connection of `target` in the caller's room to the lobby and bars them
    /// from it for [`super::Limits::room_kick_bar`]; the owner only.
    pub(super) async fn room_kick(&self, caller: &Caller, target: UserId) -> Result<RoomInfo, ServiceError> {
        let room = caller.room;
        if room.is_lobby() {
            return Err(ServiceError::Invalid("not in a room".into()));
        }
        if target == caller.user {
            return Err(ServiceError::Invalid("the owner cannot kick themselves; leave instead".into()));
        }
        let record = self.open_room(room).await?;
        if record.owner != caller.user {
            return Err(ServiceError::Forbidden("only the room's owner may kick".into()));
        }
        let mut inside: Vec<ConnectionId> = Vec::new();
        for connection in self.presence.user_connections(&target).await? {
            if self.presence.connection(&connection).await?.is_some_and(|info| info.room == room) {
                inside.push(connection);
            }
        }
        if inside.is_empty() {
            return Err(ServiceError::NoInfo(format!("{target} is not in room {room}")));
        }
        // Barred before the move, so that a join racing the kick is refused too.
        self.presence.hit_rate_limit(&kick_key(room, &target), 1, self.limits.room_kick_bar).await?;
        tracing::info!(%room, user = %target, by = %caller.user, "kicked from the room");
        let kicked = Event::RoomKicked { room_id: room, by: caller.user.clone() };
        self.deliver(vec![Delivery::new(kicked, inside.clone())]).await;
        for connection in inside {
            let theirs = Caller { connection, user: target.clone(), room };
            self.enter(&theirs, RoomId::LOBBY, 0).await?;
        }
        let record = self.open_room(room).await?;
        self.room_info(&record).await
    }

    pub(super) async fn room_info_of(&self, caller: &Caller, room: Option<RoomId>) -> Result<RoomInfo, ServiceError> {
        let room = room.unwrap_or(caller.room);
        if room.is_lobby() {
            return Err(ServiceError::NoInfo("the lobby is not a room".into()));
        }
        let record = self.open_room(room).await?;
        self.room_info(&record).await
    }

    pub(super) async fn room_update(
        &self,
        caller: &Caller,
        title: Option<RoomTitle>,
        password: Option<RoomPassword>,
        capacity: Option<Capacity>,
    ) -> Result<RoomInfo, ServiceError> {
        if caller.room.is_lobby() {
            return Err(ServiceError::Invalid("not in a room".into()));
        }
        let record = self.open_room(caller.room).await?;
        if record.owner != caller.user {
            return Err(ServiceError::Forbidden("only the room's owner may change it".into()));
        }
        if let Some(capacity) = capacity {
            let count = self.presence.room_counts(&[caller.room]).await?.first().copied().unwrap_or(0);
            if capacity.get() < count {
                return Err(ServiceError::Invalid(format!(
                    "capacity {} is below the {count} users inside",
                    capacity.get()
                )));
            }
        }
        let password_hash = match password {
            None => None,
            Some(password) => Some(hash_room_password(Some(password)).await?),
        };
        let changes = RoomChanges { title, password_hash, capacity, owner: None };
        let record = self.store.update_room(caller.room, &changes).await?;
        let deliveries = self.room_refresh(caller.room).await?;
        self.deliver(deliveries).await;
        self.room_info(&record).await
    }
}
