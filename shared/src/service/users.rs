//! `user.*` actions.

use super::{Caller, Chat, Delivery, ServiceError, to_user};
use crate::domain::{Nick, UserId};
use crate::protocol::{Change, Event, Me, User, UserStatus};

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
