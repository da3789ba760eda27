//! `user.*` actions.

use serde_json::{Value, json};

use super::{Caller, Chat, Delivery, ServiceError, to_user};
use crate::domain::{Nick, UserId};
use crate::protocol::{Change, Event};

impl Chat {
    pub(super) async fn user_me(&self, caller: &Caller) -> Result<Value, ServiceError> {
        let record = self.user_record(&caller.user).await?;
        let mut me = json!(to_user(&record));
        me["roomId"] = json!(caller.room);
        me["connectionId"] = json!(caller.connection);
        Ok(me)
    }

    pub(super) async fn user_info(&self, user_id: &UserId) -> Result<Value, ServiceError> {
        let record = self.user_record(user_id).await?;
        let online = !self.presence.online(std::slice::from_ref(user_id)).await?.is_empty();
        let mut info = json!(to_user(&record));
        info["online"] = json!(online);
        Ok(info)
    }

    /// Renames the caller and tells every list that shows them.
    pub(super) async fn user_update(&self, caller: &Caller, nick: &Nick) -> Result<Value, ServiceError> {
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
        Ok(json!(user))
    }
}
