//! `chat.read` and `chat.conversations`: read marks, unread counts and the list of a user's
//! conversations, whispers with people who are offline included.

use super::messages::{to_message, trim_to_frame};
use super::{Caller, Chat, Delivery, ServiceError};
use crate::domain::{ConversationKey, RoomId};
use crate::protocol::{ConversationSummary, Conversations, Empty, Event, ReadMark, UpTo};

impl Chat {
    pub(super) async fn chat_read(
        &self,
        caller: &Caller,
        conversation: ConversationKey,
        up_to: UpTo,
    ) -> Result<Empty, ServiceError> {
        match &conversation {
            ConversationKey::Room { room_id } if !room_id.is_lobby() => {
                if !self.presence.user_rooms(&caller.user).await?.contains(room_id) {
                    return Err(ServiceError::Forbidden(format!("you are not in room {room_id}")));
                }
            }
            ConversationKey::Room { .. } => {}
            ConversationKey::Group { group_id } => {
                if self.user_record(&caller.user).await?.group_id.as_ref() != Some(group_id) {
                    return Err(ServiceError::Forbidden(format!("you are not in group {group_id}")));
                }
            }
            ConversationKey::Whisper { with } => {
                if *with == caller.user {
                    return Err(ServiceError::Invalid("a whisper conversation is with someone else".into()));
                }
            }
        }
        if self.store.mark_read(&caller.user, &conversation, up_to.get()).await? {
            let mut others = self.presence.user_connections(&caller.user).await?;
            others.retain(|c| *c != caller.connection);
            if !others.is_empty() {
                self.deliver(vec![Delivery::new(Event::ChatRead(ReadMark { up_to, conversation }), others)]).await;
            }
        }
        Ok(Empty {})
    }

    pub(super) async fn chat_conversations(&self, caller: &Caller) -> Result<Conversations, ServiceError> {
        let mut joined = vec![ConversationKey::Room { room_id: RoomId::LOBBY }];
        let mut rooms = self.presence.user_rooms(&caller.user).await?;
        rooms.sort();
        rooms.dedup();
        joined.extend(rooms.into_iter().filter(|r| !r.is_lobby()).map(|room_id| ConversationKey::Room { room_id }));
        if let Some(group_id) = self.user_record(&caller.user).await?.group_id {
            joined.push(ConversationKey::Group { group_id });
        }
        let states = self.store.conversations(&caller.user, &joined).await?;
        let conversations = states
            .into_iter()
            .map(|state| ConversationSummary {
                key: state.key,
                unread: state.unread,
                mentions: state.mentions,
                last: state.last.map(to_message),
            })
            .collect::<Vec<_>>();
        // Long last messages of many partners can outgrow one frame: the oldest partners go.
        let mut conversations = conversations;
        trim_to_frame(&mut conversations, true);
        Ok(Conversations { conversations })
    }
}
