//! `chat.edit`, `chat.delete` and `chat.react`: changes to a message after it was sent,
//! sent to whoever the message reached (as it is now: the room's connections, the group's
//! online members, both sides of a whisper).

use super::messages::to_message;
use super::{Caller, Chat, Delivery, ServiceError};
use crate::clock::{now_ms, rfc3339_ms};
use crate::domain::{ConnectionId, ConversationKey, Emoji, MessageId, MessageText};
use crate::protocol::{Deleted, Edited, Event, Reactions, ReactionsChanged};
use crate::store::{MessageRecord, StoreError};

fn no_message(message_id: MessageId) -> ServiceError {
    ServiceError::NoInfo(format!("no message {message_id}"))
}

fn deleted(message_id: MessageId) -> ServiceError {
    ServiceError::Invalid(format!("message {message_id} was deleted"))
}

impl Chat {
    /// The message, if the caller may see it: a room message while in that room, a group
    /// message of the caller's group, a whisper the caller sent or received. Anything else
    /// is `noInfo`, as if it did not exist.
    async fn visible_message(&self, caller: &Caller, message_id: MessageId) -> Result<MessageRecord, ServiceError> {
        let message = self.store.message(message_id).await?.ok_or_else(|| no_message(message_id))?;
        let visible = match (message.room_id, &message.group_id, &message.recipient) {
            (Some(room), _, _) => room == caller.room && message.seq.is_some(),
            (None, Some(group), _) => self.user_record(&caller.user).await?.group_id.as_ref() == Some(group),
            (None, None, Some(recipient)) => *recipient == caller.user || message.sender == caller.user,
            (None, None, None) => false,
        };
        if visible { Ok(message) } else { Err(no_message(message_id)) }
    }

    /// Who hears of a change to `message`, with the conversation's key as each side sees it.
    async fn audience_of(
        &self,
        message: &MessageRecord,
    ) -> Result<Vec<(ConversationKey, Vec<ConnectionId>)>, ServiceError> {
        let connections = match (message.room_id, &message.group_id, &message.recipient) {
            (Some(room_id), _, _) => vec![self.presence.room_connections(room_id).await?],
            (None, Some(group_id), _) => {
                let members = self.store.group_members(group_id).await?;
                vec![self.presence.connections_of(&members).await?.into_iter().flatten().collect()]
            }
            // Each side of a whisper names the pair by the other.
            (None, None, Some(recipient)) => {
                let sides = [message.sender.clone(), recipient.clone()];
                let connections = self.presence.connections_of(&sides).await?;
                return Ok(sides.iter().map(|side| message.conversation_for(side)).zip(connections).collect());
            }
            (None, None, None) => Vec::new(),
        };
        Ok(connections.into_iter().map(|to| (message.conversation_for(&message.sender), to)).collect())
    }

    /// Sends the message as it is now to its whole audience as `event`.
    async fn announce(
        &self,
        message: MessageRecord,
        event: fn(crate::protocol::Message) -> Event,
    ) -> Result<(), ServiceError> {
        let connections: Vec<_> = self.audience_of(&message).await?.into_iter().flat_map(|(_, to)| to).collect();
        self.deliver(vec![Delivery::new(event(to_message(message)), connections)]).await;
        Ok(())
    }

    pub(super) async fn chat_edit(
        &self,
        caller: &Caller,
        message_id: MessageId,
        text: MessageText,
    ) -> Result<Edited, ServiceError> {
        let message = self.visible_message(caller, message_id).await?;
        if message.sender != caller.user {
            return Err(ServiceError::Forbidden("only its author edits a message".into()));
        }
        if message.text.is_none() {
            return Err(deleted(message_id));
        }
        let mentions = self.mentions_in(&text).await?;
        let edited_at_ms = now_ms();
        let edited = match self.store.edit_message(message_id, &text, &mentions, edited_at_ms).await {
            Ok(edited) => edited,
            Err(StoreError::NotFound) => return Err(no_message(message_id)),
            Err(StoreError::Conflict) => return Err(deleted(message_id)),
            Err(other) => return Err(other.into()),
        };
        self.announce(edited, Event::ChatEdited).await?;
        Ok(Edited { message_id, edited_at: rfc3339_ms(edited_at_ms) })
    }

    pub(super) async fn chat_delete(&self, caller: &Caller, message_id: MessageId) -> Result<Deleted, ServiceError> {
        let message = self.visible_message(caller, message_id).await?;
        if message.sender != caller.user {
            let owner = match message.room_id {
                Some(room) if !room.is_lobby() => self.store.room(room).await?.map(|room| room.owner),
                _ => None,
            };
            if owner.as_ref() != Some(&caller.user) {
                return Err(ServiceError::Forbidden(
                    "only its author, or the owner of its room, deletes a message".into(),
                ));
            }
        }
        if message.text.is_none() {
            // Deleted already: the same answer, nothing sent again.
            return Ok(Deleted { message_id });
        }
        let emptied = match self.store.delete_message(message_id).await {
            Ok(emptied) => emptied,
            Err(StoreError::NotFound) => return Err(no_message(message_id)),
            Err(other) => return Err(other.into()),
        };
        self.announce(emptied, Event::ChatDeleted).await?;
        Ok(Deleted { message_id })
    }

    pub(super) async fn chat_react(
        &self,
        caller: &Caller,
        message_id: MessageId,
        emoji: Emoji,
        on: bool,
    ) -> Result<Reactions, ServiceError> {
        let message = self.visible_message(caller, message_id).await?;
        if message.text.is_none() {
            return Err(deleted(message_id));
        }
        let reactions = match self.store.react(message_id, &caller.user, &emoji, on).await {
            Ok(reactions) => reactions,
            Err(StoreError::NotFound) => return Err(no_message(message_id)),
            Err(StoreError::Conflict) => return Err(deleted(message_id)),
            Err(StoreError::LimitReached(_)) => {
                return Err(ServiceError::Invalid(format!(
                    "a message takes at most {} different emoji",
                    crate::domain::MAX_DISTINCT_EMOJI
                )));
            }
            Err(other) => return Err(other.into()),
        };
        if reactions == message.reactions {
            // Repeated, or undone by someone else meanwhile: nothing anyone sees changed.
            return Ok(Reactions { message_id, reactions });
        }
        let deliveries = self
            .audience_of(&message)
            .await?
            .into_iter()
            .map(|(conversation, to)| {
                let changed = ReactionsChanged { message_id, reactions: reactions.clone(), conversation };
                Delivery::new(Event::ChatReactions(changed), to)
            })
            .collect();
        self.deliver(deliveries).await;
        Ok(Reactions { message_id, reactions })
    }
}
