//! What happens to a message after it is sent: edits, deletes and reactions, each a
//! conditional update of the message item found through its id's locator.
//!
//! Edits and reactions are conditioned on the message not being deleted. A message's
//! reactions are one list on its item, oldest first, guarded by a `version` the update
//! requires unchanged: two users reacting at once are applied one after the other (the loser
//! reads again and retries), so counts stay right and the limit on distinct emoji holds.

use aws_sdk_dynamodb::types::ReturnValue;

use super::items::{located, locator_key, message_from_item, reaction_entry, reactions_of, string_list, strings_of};
use super::{DynamoStore, MAX_ATTEMPTS};
use crate::clock::now_ms;
use crate::domain::{Emoji, MAX_DISTINCT_EMOJI, MessageId, MessageText, Reaction, UserId};
use crate::dynamodb::codec::{n, s};
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, ItemExt, backoff};
use crate::store::{MessageRecord, StoreError, StoreResult};

impl DynamoStore {
    /// The key of the message item, from its id's locator.
    async fn locate(&self, message_id: MessageId) -> StoreResult<Option<Item>> {
        Ok(self.table.get_item(locator_key(message_id.get())).await?.as_ref().and_then(located))
    }

    /// The message item and its key.
    async fn message_item(&self, message_id: MessageId) -> StoreResult<Option<(Item, Item)>> {
        let Some(at) = self.locate(message_id).await? else { return Ok(None) };
        Ok(self.table.get_item(at.clone()).await?.map(|item| (at, item)))
    }

    /// The record of a message item; `None` when its sender is gone, as the SQL store's join.
    async fn record(&self, item: &Item) -> StoreResult<Option<MessageRecord>> {
        let senders = self.senders(std::slice::from_ref(item)).await?;
        let Some(sender) = senders.get(item.required_string("sender")?) else { return Ok(None) };
        Ok(Some(message_from_item(item, sender)?))
    }

    pub(super) async fn message_by_id(&self, message_id: MessageId) -> StoreResult<Option<MessageRecord>> {
        match self.message_item(message_id).await? {
            Some((_, item)) => self.record(&item).await,
            None => Ok(None),
        }
    }

    pub(super) async fn edit(
        &self,
        message_id: MessageId,
        text: &MessageText,
        mentions: &[UserId],
        edited_at_ms: i64,
    ) -> StoreResult<MessageRecord> {
        let Some(at) = self.locate(message_id).await? else { return Err(StoreError::NotFound) };
        let mentions = string_list(mentions.iter().map(UserId::as_str));
        let expression = match mentions {
            Some(_) => "SET #text = :text, #edited_at = :at, #mentions = :mentions",
            None => "SET #text = :text, #edited_at = :at REMOVE #mentions",
        };
        let mut values = vec![(":text", s(text.as_str())), (":at", n(edited_at_ms))];
        values.extend(mentions.map(|list| (":mentions", list)));
        let edit = Write::update(at.clone(), expression)
            .condition("attribute_exists(#pk) AND attribute_not_exists(#deleted_at)")
            .values(&values)
            .returning(ReturnValue::AllNew);
        let item = match self.table.try_write(edit).await? {
            Ok(item) => item.ok_or_else(|| DynamoError::corrupt("an edit returned no message"))?,
            // Deleted, or gone since it was located: tell which.
            Err(Refused::Condition(_)) => {
                return Err(match self.table.get_item(at).await? {
                    Some(_) => StoreError::Conflict,
                    None => StoreError::NotFound,
                });
            }
            Err(conflict) => return Err(DynamoError::from(conflict).into()),
        };
        self.record(&item).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn delete(&self, message_id: MessageId) -> StoreResult<MessageRecord> {
        let Some(at) = self.locate(message_id).await? else { return Err(StoreError::NotFound) };
        let delete = Write::update(at.clone(), "SET #deleted_at = :now REMOVE #text, #mentions, #reactions")
            .condition("attribute_exists(#pk) AND attribute_not_exists(#deleted_at)")
            .values(&[(":now", n(now_ms()))])
            .returning(ReturnValue::AllNew);
        let item = match self.table.try_write(delete).await? {
            Ok(item) => item.ok_or_else(|| DynamoError::corrupt("a delete returned no message"))?,
            // Deleted before: it stays as that delete left it.
            Err(Refused::Condition(_)) => self.table.get_item(at).await?.ok_or(StoreError::NotFound)?,
            Err(conflict) => return Err(DynamoError::from(conflict).into()),
        };
        self.record(&item).await?.ok_or(StoreError::NotFound)
    }

    /// Toggles one reaction: reads the message, writes its new list on the condition that
    /// nobody changed the list (its `version`) or deleted the message meanwhile, and on a lost
    /// race reads again.
    pub(super) async fn toggle_reaction(
        &self,
        message_id: MessageId,
        user: &UserId,
        emoji: &Emoji,
        on: bool,
    ) -> StoreResult<Vec<Reaction>> {
        let Some((at, mut item)) = self.message_item(message_id).await? else { return Err(StoreError::NotFound) };
        let entry = reaction_entry(emoji, user);
        for attempt in 0..MAX_ATTEMPTS {
            if item.contains_key("deleted_at") {
                return Err(StoreError::Conflict);
            }
            let mut entries: Vec<String> = strings_of(&item, "reactions")?.into_iter().map(str::to_owned).collect();
            let present = entries.contains(&entry);
            if present == on {
                return Ok(reactions_of(&item)?);
            }
            if on {
                let prefix = format!("{emoji} ");
                let mut distinct: Vec<&str> =
                    entries.iter().filter_map(|e| e.split_once(' ').map(|(e, _)| e)).collect();
                distinct.sort_unstable();
                distinct.dedup();
                if !entries.iter().any(|e| e.starts_with(&prefix)) && distinct.len() >= MAX_DISTINCT_EMOJI {
                    return Err(StoreError::LimitReached("different emoji on one message"));
                }
                entries.push(entry.clone());
            } else {
                entries.retain(|e| *e != entry);
            }
            let version = item.number("version")?.unwrap_or(0);
            let list = string_list(entries.iter().map(String::as_str));
            let expression = match list {
                Some(_) => "SET #reactions = :reactions, #version = :next",
                None => "SET #version = :next REMOVE #reactions",
            };
            let unchanged = match version {
                0 => "attribute_not_exists(#version)",
                _ => "#version = :version",
            };
            let mut values = vec![(":next", n(version + 1)), (":version", n(version))];
            values.extend(list.map(|list| (":reactions", list)));
            let write = Write::update(at.clone(), expression)
                .condition(format!("attribute_exists(#pk) AND attribute_not_exists(#deleted_at) AND {unchanged}"))
                .values(&values)
                .returning(ReturnValue::AllNew);
            match self.table.try_write(write).await? {
                Ok(Some(updated)) => return Ok(reactions_of(&updated)?),
                Ok(None) => return Err(DynamoError::corrupt("a reaction returned no message").into()),
                Err(refused) => {
                    tracing::debug!(?refused, "reaction lost a race; reading again");
                    backoff(attempt).await;
                    item = self.table.get_item(at.clone()).await?.ok_or(StoreError::NotFound)?;
                }
            }
        }
        Err(DynamoError::Contended { operation: "react", attempts: MAX_ATTEMPTS }.into())
    }
}
