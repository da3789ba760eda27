//! `user.*` actions.

use std::collections::HashMap;

use super::{Caller, Chat, Delivery, ServiceError, to_user};
use crate::domain::{Nick, UserId};
use crate::protocol::{Change, Event, Me, OnlineUser, OnlineUsers, User, UserStatus};

impl Chat {
    pub(super) async fn user_me(&self, caller: &Caller) -> Result<Me, ServiceError> {
        let record = self.user_record(&caller.user).await?;
        Ok(Me { user: to_user(&record), room_id: caller.room, connection_id: caller.connection.clone() })
    }

    pub(super) async fn user_info(&self, user_id: &UserId) -> Result<UserStatus, ServiceError> {
        let record = self.user_record(user_id).await?;
        let online = !self.presence.online(std::slice::from_ref(user_id)).await?.is_empty();
        Ok(UserStatus { user: to_user(&record), online })
    }

    /// Everyone online, where they are, by user id. Presence answers with its copy of each
    /// profile (what `chat.send` shows as the sender), so the store is read only for users it
    /// keeps no copy of; one of those the store does not know is left out, as in room lists.
    pub(super) async fn user_list_online(&self) -> Result<OnlineUsers, ServiceError> {
        let online = self.presence.online_users().await?;
        let uncopied: Vec<UserId> = online.iter().filter(|o| o.profile.is_none()).map(|o| o.user.clone()).collect();
        let mut records: HashMap<UserId, User> = HashMap::new();
        if !uncopied.is_empty() {
            records.extend(self.store.users(&uncopied).await?.iter().map(|r| (r.user_id.clone(), to_user(r))));
        }
        let users = online
            .into_iter()
            .filter_map(|whereabouts| {
                let user = match whereabouts.profile {
                    Some(profile) => User { user_id: whereabouts.user, nick: profile.nick, group_id: profile.group },
                    None => records.remove(&whereabouts.user)?,
                };
                Some(OnlineUser { user, room_ids: whereabouts.rooms })
            })
            .collect();
        Ok(OnlineUsers { users })
    }

    /// Renames the caller and tells every list that shows them.
    pub(super) async fn user_update(&self, caller: &Caller, nick: &Nick) -> Result<User, ServiceError> {
        self.store.set_nick(&caller.user, nick).await?;
        let record = self.refresh_profile(&caller.user).await?;
        let user = to_user(&record);
        let mut deliveries = Vec::new();
        for room in self.presence.user_rooms(&caller.user).await? {
            let connections = self.presence.room_connections(room).await?;
            if room.is_lobby() {
                deliveries.push(Delivery::new(
                    Event::LobbyUsersRefresh { change: Change::Updated, user: user.clone() },
                    connections,
                ));
            } else {
                let event = Event::RoomUsersRefresh { room_id: room, change: Change::Updated, user: user.clone() };
                deliveries.push(Delivery::new(event, connections));
                deliveries.extend(self.room_refresh(room).await?);
            }
        }
        self.deliver(deliveries).await;
        Ok(user)
    }
}
