//! The one-time upgrade of a table written before message locators and partner items:
//! messages stored then have an id claim that expires (or expired) and names no location,
//! and their whispers raised no partner items.
//!
//! One scan of the message items (`sk` begins with `MSG#`) writes, for each, its locator
//! (the claim made permanent, with `at_pk` / `at_sk`) and, for a whisper, raises both users'
//! partner items; every write is idempotent, so a page done twice does no harm. The scan's
//! progress is kept in the `SCHEMA` / `MESSAGE_LOCATORS` item with a lease: one instance at
//! a time works on it, an instance that stops (a frozen Lambda) leaves it for the next start
//! to resume from the last page recorded, and `done_at` ends it for good.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures::{StreamExt, TryStreamExt};

use super::DynamoStore;
use super::items::{locator_key, partner_key};
use super::messages::next_message_id;
use crate::clock::now_ms;
use crate::domain::UserId;
use crate::dynamodb::codec::{key, n, s};
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, Item, ItemExt, PK, SK};
use crate::store::StoreResult;

/// Items a scan page looks at (the filter keeps the messages among them).
const SCAN_PAGE: usize = 200;
/// Writes of one page in flight at once: enough to be quick, few enough not to throttle a
/// table that is also serving.
const CONCURRENT_WRITES: usize = 8;
/// How long an instance holds the upgrade without recording progress before another may
/// take it over.
const LEASE_MS: i64 = 60_000;
/// Pages one run goes through: a run ends in bounded time and the next start resumes.
const PAGES_PER_RUN: u32 = 5_000;

/// How a run of the upgrade ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// Done, by this run or an earlier one.
    Done { messages: u64 },
    /// Another instance holds it, or this run used up its pages: a later start goes on.
    Unfinished { messages: u64 },
}

fn state_key() -> Item {
    key("SCHEMA", "MESSAGE_LOCATORS")
}

impl DynamoStore {
    /// Runs the upgrade in the background, logging how it ended.
    pub fn spawn_upgrade(&self) {
        let store = self.clone();
        tokio::spawn(async move {
            match store.upgrade().await {
                Ok(Upgrade::Done { messages: 0 }) => tracing::debug!("message locators: up to date"),
                Ok(outcome) => tracing::info!(?outcome, "message locators upgrade"),
                Err(err) => tracing::warn!(error = %err, "message locators upgrade failed; the next start resumes it"),
            }
        });
    }

    /// Brings messages stored before locators up to date; see the module's documentation.
    pub async fn upgrade(&self) -> StoreResult<Upgrade> {
        let state = self.table.get_item(state_key()).await?;
        if state.as_ref().is_some_and(|state| state.contains_key("done_at")) {
            return Ok(Upgrade::Done { messages: 0 });
        }
        let owner = format!("{}", next_message_id());
        let Some(state) = self.renew_lease(&owner, None).await? else {
            return Ok(Upgrade::Unfinished { messages: 0 });
        };
        let mut cursor = match state.get("cursor") {
            Some(AttributeValue::M(cursor)) => Some(cursor.clone()),
            _ => None,
        };
        let mut messages = u64::try_from(state.number("messages")?.unwrap_or(0)).unwrap_or(0);
        for page in 0..PAGES_PER_RUN {
            let (items, next) = self
                .table
                .scan_page("begins_with(#sk, :msg)", &[(":msg", s("MSG#"))], cursor.take(), SCAN_PAGE)
                .await?;
            // Made before they are polled: a lazy map's closure would be part of this future.
            let writes: Vec<_> = items.iter().map(|item| self.upgrade_message(item)).collect();
            futures::stream::iter(writes).buffer_unordered(CONCURRENT_WRITES).try_collect::<Vec<()>>().await?;
            messages += items.len() as u64;
            tracing::info!(page, messages, "message locators upgrade: page done");
            let Some(next) = next else {
                let done = Write::update(state_key(), "SET #done_at = :now, #messages = :messages REMOVE #cursor")
                    .condition("#owner = :owner")
                    .values(&[(":now", n(now_ms())), (":messages", n(messages)), (":owner", s(&owner))]);
                self.table.write(done).await?;
                return Ok(Upgrade::Done { messages });
            };
            if self.renew_lease(&owner, Some((&next, messages))).await?.is_none() {
                break;
            }
            cursor = Some(next);
        }
        Ok(Upgrade::Unfinished { messages })
    }

    /// Takes (or keeps) the upgrade for `owner`, recording the scan's progress; the state
    /// after, or `None` when another instance holds it or it is done.
    async fn renew_lease(&self, owner: &str, progress: Option<(&Item, u64)>) -> StoreResult<Option<Item>> {
        let now = now_ms();
        let expression = match progress {
            Some(_) => "SET #owner = :owner, #lease_until = :until, #cursor = :cursor, #messages = :messages",
            None => "SET #owner = :owner, #lease_until = :until",
        };
        let mut values = vec![(":owner", s(owner)), (":until", n(now + LEASE_MS)), (":now", n(now))];
        if let Some((cursor, messages)) = progress {
            values.push((":cursor", AttributeValue::M(cursor.clone())));
            values.push((":messages", n(messages)));
        }
        let take = Write::update(state_key(), expression)
            .condition("attribute_not_exists(#done_at) AND (attribute_not_exists(#owner) OR #owner = :owner OR #lease_until < :now)")
            .values(&values)
            .returning(ReturnValue::AllNew);
        match self.table.try_write(take).await? {
            Ok(state) => Ok(state),
            Err(Refused::Condition(_)) => Ok(None),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }

    /// The locator of one message item and, for a whisper, both partner items.
    async fn upgrade_message(&self, item: &Item) -> StoreResult<()> {
        let message_id = item.required_number("message_id")?;
        let locate = Write::update(locator_key(message_id), "SET #at_pk = :pk, #at_sk = :sk REMOVE #ttl")
            .values(&[(":pk", s(item.required_string(PK)?)), (":sk", s(item.required_string(SK)?))]);
        self.table.write(locate).await?;
        let (Some(recipient), false) = (item.string("recipient"), item.contains_key("group_id")) else { return Ok(()) };
        let sender = UserId::parse(item.required_string("sender")?).map_err(DynamoError::corrupt)?;
        let recipient = UserId::parse(recipient).map_err(DynamoError::corrupt)?;
        for (user, partner) in [(&sender, &recipient), (&recipient, &sender)] {
            let raise = Write::update(partner_key(user, partner), "SET #last_id = :id")
                .condition("attribute_not_exists(#last_id) OR #last_id < :id")
                .values(&[(":id", n(message_id))]);
            match self.table.try_write(raise).await? {
                // A later whisper raised it already.
                Ok(_) | Err(Refused::Condition(_)) => {}
                Err(conflict) => return Err(DynamoError::from(conflict).into()),
            }
        }
        Ok(())
    }
}
