//! Read marks and what `chat.conversations` shows: each conversation's last message and how
//! much of it a reader has not read.
//!
//! A read mark is an item beside the user's profile, raised by a conditional update that
//! never lowers it. A conversation costs two bounded queries of its partition: the last
//! message (`Limit` 1, newest first), and the messages above the mark from others, not
//! deleted (a filter; only their `mentions` read, at most [`UNREAD_COUNT_CAP`]), skipped when
//! the last message is not above the mark. Whisper partners come from the user's partner
//! items, which each whisper's append raises to its id.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::DynamoStore;
use super::items::{
    MESSAGE_ID_WIDTH, PARTNER_PREFIX, READ_MARK_PREFIX, SEQ_WIDTH, group_messages_pk, largest_position,
    message_from_item, message_sk, read_mark_key, room_pk, strings_of, user_pk, whisper_pk,
};
use crate::domain::{ConversationKey, UserId};
use crate::dynamodb::codec::{n, s};
use crate::dynamodb::read::SortKey;
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, ItemExt, SK};
use crate::store::{ConversationState, MAX_WHISPER_PARTNERS, StoreError, StoreResult, UNREAD_COUNT_CAP};

/// Conversations read at once: a reader with many whisper partners waits for a few rounds
/// of queries, not one per partner in turn.
const CONCURRENT_READS: usize = 8;

/// Where a conversation's messages are: their partition and how wide their sort keys are.
struct Place {
    key: ConversationKey,
    pk: String,
    width: usize,
    mark: i64,
}

/// A conversation's last message item and its unread and mentioning counts.
type Tally = (Option<Item>, u32, u32);

fn sort_key(key: &Item) -> &str {
    key.string(SK).unwrap_or_default()
}

impl DynamoStore {
    pub(super) async fn raise_read_mark(
        &self,
        user: &UserId,
        conversation: &ConversationKey,
        up_to: i64,
    ) -> StoreResult<bool> {
        let raise = Write::update(read_mark_key(user, conversation), "SET #up_to = :up_to")
            .condition("attribute_not_exists(#up_to) OR #up_to < :up_to")
            .values(&[(":up_to", n(up_to))]);
        match self.table.try_write(raise).await? {
            Ok(_) => Ok(true),
            Err(Refused::Condition(_)) => Ok(false),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }

    pub(super) async fn conversation_states(
        &self,
        user: &UserId,
        joined: &[ConversationKey],
    ) -> StoreResult<Vec<ConversationState>> {
        let profile_pk = user_pk(user);
        let marks: HashMap<String, i64> = self
            .table
            .query(profile_pk.clone(), SortKey::BeginsWith(READ_MARK_PREFIX.into()))
            .items()
            .await?
            .iter()
            .map(|item| Ok((sort_key(item).to_owned(), item.required_number("up_to")?)))
            .collect::<Result<_, DynamoError>>()?;
        let mark_of = |key: &ConversationKey| marks.get(sort_key(&read_mark_key(user, key))).copied().unwrap_or(0);
        let mut places = Vec::with_capacity(joined.len());
        for key in joined {
            let (pk, width) = match key {
                ConversationKey::Room { room_id } => (room_pk(*room_id), SEQ_WIDTH),
                ConversationKey::Group { group_id } => (group_messages_pk(group_id), MESSAGE_ID_WIDTH),
                ConversationKey::Whisper { .. } => {
                    return Err(StoreError::Corrupt("whisper partners are found, not given".into()));
                }
            };
            places.push(Place { key: key.clone(), pk, width, mark: mark_of(key) });
        }
        let joined_count = places.len();
        for partner in self.recent_partners(&profile_pk).await? {
            let key = ConversationKey::Whisper { with: partner.clone() };
            let mark = mark_of(&key);
            places.push(Place { key, pk: whisper_pk(user, &partner), width: MESSAGE_ID_WIDTH, mark });
        }
        // Made before they are polled: a lazy map's closure would be part of this future.
        let reads: Vec<_> = places.iter().map(|place| self.tally(place, user)).collect();
        let tallies: Vec<Tally> = futures::stream::iter(reads).buffered(CONCURRENT_READS).try_collect().await?;
        let lasts: Vec<Item> = tallies.iter().filter_map(|(last, _, _)| last.clone()).collect();
        let senders = self.senders(&lasts).await?;
        let mut states = Vec::with_capacity(places.len());
        for (place, (last, unread, mentions)) in places.into_iter().zip(tallies) {
            let last = match last {
                Some(item) => match senders.get(item.required_string("sender")?) {
                    Some(sender) => Some(message_from_item(&item, sender)?),
                    None => None,
                },
                None => None,
            };
            states.push(ConversationState { key: place.key, unread, mentions, last });
        }
        // Partner items are raised by each whisper; the last whispers themselves say exactly
        // which conversation is the newest.
        let newest = |state: &ConversationState| std::cmp::Reverse(state.last.as_ref().map(|m| m.message_id.get()));
        states[joined_count..].sort_by_key(newest);
        Ok(states)
    }

    /// The whisper partners of `user` whose last whisper is the most recent, at most
    /// [`MAX_WHISPER_PARTNERS`].
    async fn recent_partners(&self, profile_pk: &str) -> StoreResult<Vec<UserId>> {
        let items = self.table.query(profile_pk, SortKey::BeginsWith(PARTNER_PREFIX.into())).items().await?;
        let mut partners = Vec::with_capacity(items.len());
        for item in &items {
            let id = sort_key(item).strip_prefix(PARTNER_PREFIX).unwrap_or_default();
            let partner = UserId::parse(id).map_err(DynamoError::corrupt)?;
            partners.push((item.required_number("last_id")?, partner));
        }
        partners.sort_by(|a, b| b.cmp(a));
        Ok(partners.into_iter().take(MAX_WHISPER_PARTNERS).map(|(_, partner)| partner).collect())
    }

    /// A conversation's last message and the number of its unread messages (and of those
    /// that mention `user`), up to [`UNREAD_COUNT_CAP`].
    async fn tally(&self, place: &Place, user: &UserId) -> StoreResult<Tally> {
        let highest = largest_position(place.width);
        let all = SortKey::Between(message_sk(0, place.width), message_sk(highest, place.width));
        let last = self.table.query(place.pk.clone(), all).backward().limit(1).items().await?.pop();
        let position = |item: &Item| match place.width {
            SEQ_WIDTH => item.number("seq"),
            _ => item.number("message_id"),
        };
        let newest = match &last {
            Some(item) => position(item)?.unwrap_or(0),
            None => 0,
        };
        let lowest = place.mark.saturating_add(1).max(0);
        if newest < lowest {
            return Ok((last, 0, 0));
        }
        let unread = self
            .table
            .query(
                place.pk.clone(),
                SortKey::Between(message_sk(lowest, place.width), message_sk(highest, place.width)),
            )
            .filter("#sender <> :reader AND attribute_not_exists(#deleted_at)", &[(":reader", s(user.as_str()))])
            // The sort key too: an item with no mentions still comes back, as its key.
            .project("#sk, #mentions")
            .limit(UNREAD_COUNT_CAP as usize)
            .items()
            .await?;
        let mut mentions = 0;
        for item in &unread {
            if strings_of(item, "mentions")?.contains(&user.as_str()) {
                mentions += 1;
            }
        }
        Ok((last, u32::try_from(unread.len()).unwrap_or(UNREAD_COUNT_CAP), mentions))
    }
}
