//! `chat.typing`: "X is typing…" for the audience a message would reach. Nothing is stored.

use std::time::Duration;

use super::{Caller, Chat, Delivery, ServiceError, to_user};
use crate::domain::{ConnectionId, MessageKind, UserId};
use crate::protocol::{ConversationKey, Event, Typing, TypingSent};

/// One typing event per connection in any such interval: a client may tell every keystroke,
/// its audience hears about it at most this often.
pub const TYPING_INTERVAL: Duration = Duration::from_secs(2);

impl Chat {
    pub(super) async fn chat_typing(
        &self,
        caller: &Caller,
        kind: MessageKind,
        to: Option<UserId>,
    ) -> Result<TypingSent, ServiceError> {
        let key = format!("typing:{}", caller.connection);
        // Looked at first and counted only once it is sent, so that a client telling every
        // keystroke still gets one event out every interval, and a refused one costs nothing.
        if self.presence.rate_limit_wait(&key, 1, TYPING_INTERVAL).await?.is_some() {
            return Ok(TypingSent { sent: false });
        }
        let sender = self.user_record(&caller.user).await?;
        let (conversation, audience) = match kind {
            MessageKind::All => {
                (ConversationKey::Room { room_id: caller.room }, self.presence.room_connections(caller.room).await?)
            }
            MessageKind::Group => {
                let group =
                    sender.group_id.clone().ok_or_else(|| ServiceError::Invalid("you are in no group".into()))?;
                let members = self.store.group_members(&group).await?;
                let connections = self.presence.connections_of(&members).await?.into_iter().flatten().collect();
                (ConversationKey::Group { group_id: group }, connections)
            }
            MessageKind::Whisper => {
                let to = to.ok_or_else(|| ServiceError::Invalid("to is required for a whisper".into()))?;
                if to == caller.user {
                    return Err(ServiceError::Invalid("whisper to someone else".into()));
                }
                let connections = self.presence.user_connections(&to).await?;
                if connections.is_empty() && self.store.user(&to).await?.is_none() {
                    return Err(ServiceError::NoInfo(format!("no user {to}")));
                }
                // The recipient sees the pair named by its other side: the sender.
                (ConversationKey::Whisper { with: caller.user.clone() }, connections)
            }
        };
        if self.presence.hit_rate_limit(&key, 1, TYPING_INTERVAL).await?.is_some() {
            return Ok(TypingSent { sent: false });
        }
        let own: Vec<ConnectionId> = self.presence.user_connections(&caller.user).await?;
        let recipients: Vec<ConnectionId> = audience.into_iter().filter(|c| !own.contains(c)).collect();
        if !recipients.is_empty() {
            let event = Event::ChatTyping(Typing { from: to_user(&sender), kind, conversation });
            self.deliver(vec![Delivery::new(event, recipients)]).await;
        }
        Ok(TypingSent { sent: true })
    }
}
