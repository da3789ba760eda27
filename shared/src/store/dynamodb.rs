//! [`Store`] on the DynamoDB profile's single table ([`crate::dynamodb::Table`]).
//!
//! Item layout (`pk` / `sk`; docs/deploy.md has the same table with the reasons):
//!
//! | item | pk | sk |
//! |---|---|---|
//! | user | `USER#<userId>` | `PROFILE` |
//! | refresh token | `TOKEN#<hash>` | `TOKEN` |
//! | token family (revocation, expiry) | `FAMILY#<familyId>` | `FAMILY` |
//! | room id counter | `COUNTER` | `ROOM` |
//! | room (with its `seq` counter; the lobby is room 0) | `ROOM#<roomId>` | `META` |
//! | open-room listing | `ROOMS` | `OPEN#<roomId, 20 digits>` |
//! | room message | `ROOM#<roomId>` | `MSG#<seq, 20 digits>` |
//! | whisper | `WHISPER#<lower userId>#<higher userId>` | `MSG#<messageId>` |
//! | group message | `GROUPMSG#<groupId>` | `MSG#<messageId>` |
//! | group (member count) | `GROUPS` | `G#<groupId>` |
//! | group member | `GROUPS` | `G#<groupId>#M#<userId>` |
//! | message id claim | `MSGID#<messageId>` | `MSGID` |
//! | `clientMsgId` idempotency | `IDEM#<sender>#<clientMsgId>` | `IDEM` |
//!
//! Every invariant is a condition checked by DynamoDB inside one write or one transaction;
//! reads only supply the expected value of a condition, and a failed condition means
//! "someone else got there first": read again and retry, or report what the other writer did.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::sql::IDEMPOTENCY_WINDOW_MS;
use super::{
    GroupMove, HistoryPage, HistoryScope, MessageRecord, NewMessage, NewRefreshToken, NewRoom, RefreshRotation,
    RoomChanges, RoomRecord, Rotation, Store, StoreError, StoreResult, StoredMessage, UserRecord,
};
use crate::clock::now_ms;
use crate::domain::{Bounds, Capacity, GroupId, MessageId, MessageKind, MessageText, Nick, RoomId, RoomTitle, UserId};
use crate::dynamodb::{DynamoError, PK, Quiet, SK, TTL, Table};

type Item = HashMap<String, AttributeValue>;

/// Attempts at a write whose condition keeps losing to concurrent writers. A contended room
/// loses at most one attempt per competing append, so this is well above any burst a room
/// sees; beyond it the send fails as unavailable rather than spinning.
const MAX_ATTEMPTS: u32 = 200;
/// Refresh tokens stay readable this long past expiry, so that a late presentation reads as
/// `Expired` rather than `Unknown`; then TTL deletes them.
const TOKEN_GRACE_SECS: i64 = 7 * 24 * 3600;
/// A message id claim only has to outlive clock differences between instances.
const MESSAGE_ID_CLAIM_SECS: i64 = 24 * 3600;
/// DynamoDB's limit on keys per BatchGetItem.
const BATCH_GET_MAX: usize = 100;
const SEQ_WIDTH: usize = 20;
const MESSAGE_ID_WIDTH: usize = 16;

/// `Store` on one DynamoDB table; cheap to clone.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    table: Table,
    /// The last `seq` seen per room: the expected value of the next append's condition, so a
    /// warm instance appends with one request. A stale value only costs a failed condition.
    seq_hints: Arc<Mutex<HashMap<i64, i64>>>,
}

fn err<E: std::error::Error + 'static>(operation: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Dynamo(DynamoError::request(operation, e))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Dynamo(DynamoError::Corrupt(what.to_string()))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// `#name` → `name` for every attribute an expression mentions (many, like `ttl` and
/// `owner`, are reserved words).
fn names(attributes: &[&str]) -> Option<HashMap<String, String>> {
    Some(attributes.iter().map(|a| (format!("#{a}"), (*a).to_owned())).collect())
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Option<HashMap<String, AttributeValue>> {
    Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn get_s(item: &Item, name: &str) -> StoreResult<String> {
    opt_s(item, name).ok_or_else(|| corrupt(format!("{name} missing")))
}

fn opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

fn get_n(item: &Item, name: &str) -> StoreResult<i64> {
    opt_n(item, name)?.ok_or_else(|| corrupt(format!("{name} missing")))
}

fn opt_n(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        Some(AttributeValue::N(raw)) => {
            raw.parse().map(Some).map_err(|_| corrupt(format!("{name} is not a whole number")))
        }
        _ => Ok(None),
    }
}

fn user_pk(user_id: impl std::fmt::Display) -> String {
    format!("USER#{user_id}")
}

fn room_pk(room_id: RoomId) -> String {
    format!("ROOM#{}", room_id.get())
}

fn open_room_sk(room_id: RoomId) -> String {
    format!("OPEN#{:0SEQ_WIDTH$}", room_id.get())
}

fn group_sk(group_id: &GroupId) -> String {
    format!("G#{group_id}")
}

fn member_sk(group_id: &GroupId, user_id: &UserId) -> String {
    format!("G#{group_id}#M#{user_id}")
}

fn whisper_pk(a: &UserId, b: &UserId) -> String {
    let (lo, hi) = if a.as_str() <= b.as_str() { (a, b) } else { (b, a) };
    format!("WHISPER#{lo}#{hi}")
}

fn message_sk(position: i64, width: usize) -> String {
    format!("MSG#{position:0width$}")
}

fn user_from_item(item: &Item) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        user_id: UserId::parse(&get_s(item, "user_id")?).map_err(corrupt)?,
        nick: Nick::from_stored(&get_s(item, "nick")?).map_err(corrupt)?,
        group_id: opt_s(item, "group_id").as_deref().map(GroupId::parse).transpose().map_err(corrupt)?,
        password_hash: get_s(item, "password_hash")?,
    })
}

fn room_from_item(item: &Item) -> StoreResult<RoomRecord> {
    Ok(RoomRecord {
        room_id: RoomId::from_stored(get_n(item, "room_id")?),
        title: RoomTitle::parse(&get_s(item, "title")?).map_err(corrupt)?,
        password_hash: opt_s(item, "password_hash"),
        capacity: Capacity::parse(get_n(item, "capacity")?).map_err(corrupt)?,
        owner: UserId::parse(&get_s(item, "owner")?).map_err(corrupt)?,
        closed: item.contains_key("closed_at"),
    })
}

/// A fresh message id: milliseconds times 1000 plus a random part, so ids sort in the order
/// messages were stored (across instances as closely as their clocks agree), and strictly
/// increasing within this process. The claim item written with the message makes it unique.
fn next_message_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let mut random = [0u8; 2];
    // Without randomness the id is still unique (the claim), only likelier to collide.
    let _ = aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut random);
    let candidate = now_ms() * 1000 + i64::from(u16::from_le_bytes(random) % 1000);
    let previous = LAST.fetch_max(candidate, Ordering::Relaxed);
    if candidate > previous { candidate } else { LAST.fetch_add(1, Ordering::Relaxed) + 1 }
}

/// A short random pause before retrying a lost condition, so contenders spread out.
async fn backoff(attempt: u32) {
    let mut random = [0u8; 1];
    let _ = aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut random);
    let ceiling = u64::from(attempt.min(10) + 1) * 4;
    tokio::time::sleep(Duration::from_millis(u64::from(random[0]) % ceiling)).await;
}

/// How a transaction ended: committed, or cancelled with one reason code per item
/// (`None` for the items that were fine).
enum Transaction {
    Committed,
    Cancelled(Vec<String>),
}

impl Transaction {
    fn failed(codes: &[String], index: usize) -> bool {
        codes.get(index).is_some_and(|code| code == "ConditionalCheckFailed")
    }
}

impl DynamoStore {
    pub fn new(table: Table) -> Self {
        Self { table, seq_hints: Default::default() }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    fn put(&self, item: Item, condition: &str, attribute_names: &[&str]) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_names(names(attribute_names))
            .build()
            .map_err(err("Put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn update(
        &self,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        attribute_names: &[&str],
        attribute_values: Option<HashMap<String, AttributeValue>>,
    ) -> StoreResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(&self.table.name)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(names(attribute_names))
            .set_expression_attribute_values(attribute_values)
            .build()
            .map_err(err("Update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    fn delete(&self, key: Item) -> StoreResult<TransactWriteItem> {
        let delete =
            Delete::builder().table_name(&self.table.name).set_key(Some(key)).build().map_err(err("Delete"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Transaction> {
        Ok(match self.transact_returning_old(items).await? {
            Ok(()) => Transaction::Committed,
            Err(reasons) => Transaction::Cancelled(reasons.into_iter().map(|(code, _)| code).collect()),
        })
    }

    /// A transaction; when cancelled, each item's reason code and, for the writes that ask
    /// for it, the item as it was.
    async fn transact_returning_old(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Result<(), Vec<(String, Option<Item>)>>> {
        match self.table.client.transact_write_items().set_transact_items(Some(items)).send().quiet().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Ok(Err(cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| (r.code().unwrap_or("None").to_owned(), r.item().cloned()))
                    .collect())),
                // Another transaction on the same items is in flight: as good as a conflict.
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    Ok(Err(vec![("TransactionConflict".to_owned(), None)]))
                }
                _ => Err(err("TransactWriteItems")(e)),
            },
        }
    }

    /// Writes an item whose key must be new; `Conflict` when it exists.
    async fn put_new(&self, item: Item) -> StoreResult<()> {
        let put = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .set_expression_attribute_names(names(&[PK]))
            .send()
            .quiet()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(err("PutItem")(e)),
        }
    }

    /// The profile items of these users, each asked for once (BatchGetItem refuses a
    /// request that names a key twice).
    async fn profiles<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>) -> StoreResult<Vec<Item>> {
        let unique: HashSet<&str> = user_ids.into_iter().collect();
        self.batch_get(unique.into_iter().map(|id| key(user_pk(id), "PROFILE")).collect()).await
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        Ok(self.table.get_item(key).await?)
    }

    /// The items under these keys that exist, in no particular order.
    async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(err("BatchGetItem"))?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let out = self
                    .table
                    .client
                    .batch_get_item()
                    .request_items(&self.table.name, request)
                    .send()
                    .quiet()
                    .await
                    .map_err(err("BatchGetItem"))?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table.name).unwrap_or_default());
                }
                pending =
                    out.unprocessed_keys.and_then(|mut u| u.remove(&self.table.name)).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(StoreError::Dynamo(DynamoError::Contended {
                            operation: "BatchGetItem",
                            attempts: attempt,
                        }));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    /// The items of a partition whose sort keys lie in `from..=to`, following pages until
    /// `limit` items (all of them without a limit).
    async fn query(
        &self,
        pk: &str,
        from: &str,
        to: &str,
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .table
                .client
                .query()
                .table_name(&self.table.name)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .set_expression_attribute_names(names(&[PK, SK]))
                .set_expression_attribute_values(values([(":pk", s(pk)), (":from", s(from)), (":to", s(to))]))
                .consistent_read(true)
                .scan_index_forward(forward)
                .set_exclusive_start_key(start.take());
            if let Some(limit) = limit {
                request = request.limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX));
            }
            let out = request.send().quiet().await.map_err(err("Query"))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() || limit.is_some_and(|limit| items.len() >= limit) {
                return Ok(items);
            }
        }
    }

    async fn current_group(&self, user_id: &UserId) -> StoreResult<Option<GroupId>> {
        Ok(self.user(user_id).await?.ok_or(StoreError::NotFound)?.group_id)
    }

    /// Moves the user into `to` (creating it when `create`) or out of any group, in one
    /// transaction conditioned on the group the user was in; then removes the group left
    /// behind if that made it empty.
    async fn move_user(&self, user_id: &UserId, to: Option<&GroupId>, create: bool) -> StoreResult<GroupMove> {
        for attempt in 0..MAX_ATTEMPTS {
            let previous = self.current_group(user_id).await?;
            if previous.as_ref() == to {
                return match (to, create) {
                    // The user's own group exists, so its id is taken.
                    (Some(_), true) => Err(StoreError::Conflict),
                    _ => Ok(GroupMove::default()),
                };
            }
            let now = now_ms();
            let mut items = Vec::new();
            if let Some(group) = to {
                if create {
                    let mut meta = key("GROUPS", group_sk(group));
                    meta.insert("group_id".into(), s(group.as_str()));
                    meta.insert("created_at".into(), n(now));
                    meta.insert("members".into(), n(1));
                    items.push(self.put(meta, "attribute_not_exists(#pk)", &[PK])?);
                } else {
                    items.push(self.update(
                        key("GROUPS", group_sk(group)),
                        "ADD #members :one",
                        Some("attribute_exists(#pk)"),
                        &[PK, "members"],
                        values([(":one", n(1))]),
                    )?);
                }
                let mut member = key("GROUPS", member_sk(group, user_id));
                member.insert("group_id".into(), s(group.as_str()));
                member.insert("user_id".into(), s(user_id.as_str()));
                items.push(self.put(member, "attribute_not_exists(#pk)", &[PK])?);
            }
            let user_index = items.len();
            let (expression, mut user_values) = match to {
                Some(group) => ("SET #group_id = :to", vec![(":to", s(group.as_str()))]),
                None => ("REMOVE #group_id", vec![]),
            };
            let condition = match &previous {
                Some(group) => {
                    user_values.push((":previous", s(group.as_str())));
                    "attribute_exists(#pk) AND #group_id = :previous"
                }
                None => "attribute_exists(#pk) AND attribute_not_exists(#group_id)",
            };
            let user_values = (!user_values.is_empty())
                .then(|| user_values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<HashMap<_, _>>());
            items.push(self.update(
                key(user_pk(user_id), "PROFILE"),
                expression,
                Some(condition),
                &[PK, "group_id"],
                user_values,
            )?);
            if let Some(group) = &previous {
                items.push(self.update(
                    key("GROUPS", group_sk(group)),
                    "ADD #members :minus",
                    None,
                    &["members"],
                    values([(":minus", n(-1))]),
                )?);
                items.push(self.delete(key("GROUPS", member_sk(group, user_id)))?);
            }
            match self.transact(items).await? {
                Transaction::Committed => {
                    let Some(left) = previous else { return Ok(GroupMove::default()) };
                    let left_removed = self.remove_group_if_empty(&left).await?;
                    return Ok(GroupMove { left: Some(left), left_removed });
                }
                Transaction::Cancelled(codes) if to.is_some() && Transaction::failed(&codes, 0) => {
                    return Err(if create { StoreError::Conflict } else { StoreError::NotFound });
                }
                // The user moved meanwhile, or another transaction held an item: read again.
                Transaction::Cancelled(codes) => {
                    tracing::debug!(?codes, user_index, "group move lost a race; retrying");
                    backoff(attempt).await;
                }
            }
        }
        Err(StoreError::Dynamo(DynamoError::Contended { operation: "group move", attempts: MAX_ATTEMPTS }))
    }

    /// Deletes the group unless someone is in it: a join that lands first keeps it, and a
    /// join after the delete finds no group.
    async fn remove_group_if_empty(&self, group_id: &GroupId) -> StoreResult<bool> {
        let deleted = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key("GROUPS", group_sk(group_id))))
            .condition_expression("attribute_exists(#pk) AND #members <= :zero")
            .set_expression_attribute_names(names(&[PK, "members"]))
            .set_expression_attribute_values(values([(":zero", n(0))]))
            .send()
            .quiet()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(err("DeleteItem")(e)),
        }
    }

    /// When the old token of `rotation` was retired by this same rotation within its grace
    /// window, in a family still live: the time of that rotation.
    async fn recent_rotation(
        &self,
        rotation: &RefreshRotation<'_>,
        family_id: &str,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let Some(old) = self.get(key(format!("TOKEN#{}", rotation.old_hash), "TOKEN")).await? else {
            return Ok(None);
        };
        let retired_at = match (opt_s(&old, "replaced_by"), opt_n(&old, "retired_at")?) {
            (Some(successor), Some(at)) if successor == rotation.new_hash && now - at <= rotation.grace_ms => at,
            _ => return Ok(None),
        };
        let family = self.get(key(format!("FAMILY#{family_id}"), "FAMILY")).await?;
        let revoked = family.is_some_and(|family| family.contains_key("revoked_at"));
        Ok((!revoked).then_some(retired_at))
    }

    async fn revoke_family(&self, family_id: &str, expires_at_ms: i64) -> StoreResult<()> {
        self.table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(format!("FAMILY#{family_id}"), "FAMILY")))
            .update_expression("SET #revoked_at = if_not_exists(#revoked_at, :now), #ttl = if_not_exists(#ttl, :ttl)")
            .set_expression_attribute_names(names(&["revoked_at", TTL]))
            .set_expression_attribute_values(values([
                (":now", n(now_ms())),
                (":ttl", n(expires_at_ms / 1000 + TOKEN_GRACE_SECS)),
            ]))
            .send()
            .quiet()
            .await
            .map_err(err("UpdateItem"))?;
        Ok(())
    }

    /// The room's current `seq`, or `None` when there is no open room to append to.
    async fn room_seq(&self, room_id: RoomId) -> StoreResult<Option<i64>> {
        let item = self.get(key(room_pk(room_id), "META")).await?;
        let seq = match item {
            // The lobby's item appears with its first message.
            None if room_id.is_lobby() => Some(0),
            None => None,
            Some(item) if item.contains_key("closed_at") => None,
            Some(item) => Some(opt_n(&item, "seq")?.unwrap_or(0)),
        };
        if let (Some(seq), Ok(mut hints)) = (seq, self.seq_hints.lock()) {
            hints.insert(room_id.get(), seq);
        }
        Ok(seq)
    }

    fn seq_hint(&self, room_id: RoomId) -> Option<i64> {
        self.seq_hints.lock().ok().and_then(|hints| hints.get(&room_id.get()).copied())
    }

    /// The message stored under this sender's `clientMsgId`, if still within the window.
    async fn replay(&self, message: &NewMessage) -> StoreResult<Option<StoredMessage>> {
        let Some(client_msg_id) = &message.client_msg_id else { return Ok(None) };
        let Some(item) = self.get(key(format!("IDEM#{}#{client_msg_id}", message.sender), "IDEM")).await? else {
            return Ok(None);
        };
        if get_n(&item, "expires_at")? < now_ms() {
            return Ok(None);
        }
        Ok(Some(StoredMessage {
            message_id: MessageId::from_stored(get_n(&item, "message_id")?),
            seq: opt_n(&item, "seq")?,
            sent_at_ms: get_n(&item, "sent_at")?,
            duplicate: true,
        }))
    }

    /// The sender's current nick and group, as history shows them.
    async fn senders(&self, items: &[Item]) -> StoreResult<HashMap<String, UserRecord>> {
        let ids: Vec<String> = items.iter().filter_map(|item| opt_s(item, "sender")).collect();
        self.profiles(ids.iter().map(String::as_str))
            .await?
            .iter()
            .map(|item| user_from_item(item).map(|user| (user.user_id.as_str().to_owned(), user)))
            .collect()
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_user(&self, user_id: &UserId, nick: &Nick, password_hash: &str) -> StoreResult<()> {
        let mut item = key(user_pk(user_id), "PROFILE");
        item.insert("user_id".into(), s(user_id.as_str()));
        item.insert("nick".into(), s(nick.as_str()));
        item.insert("password_hash".into(), s(password_hash));
        item.insert("created_at".into(), n(now_ms()));
        self.put_new(item).await
    }

    async fn user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.get(key(user_pk(user_id), "PROFILE")).await?.as_ref().map(user_from_item).transpose()
    }

    async fn users(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        self.profiles(user_ids.iter().map(UserId::as_str)).await?.iter().map(user_from_item).collect()
    }

    async fn set_nick(&self, user_id: &UserId, nick: &Nick) -> StoreResult<()> {
        let updated = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("SET #nick = :nick")
            .condition_expression("attribute_exists(#pk)")
            .set_expression_attribute_names(names(&[PK, "nick"]))
            .set_expression_attribute_values(values([(":nick", s(nick.as_str()))]))
            .send()
            .quiet()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(err("UpdateItem")(e)),
        }
    }

    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        let expires_at_ms = token.expires_at_ms.min(token.session_ends_at_ms);
        let mut item = key(format!("TOKEN#{}", token.token_hash), "TOKEN");
        item.insert("user_id".into(), s(token.user_id.as_str()));
        item.insert("family_id".into(), s(&token.family_id));
        item.insert("expires_at".into(), n(expires_at_ms));
        item.insert("session_ends_at".into(), n(token.session_ends_at_ms));
        item.insert(TTL.into(), n(expires_at_ms / 1000 + TOKEN_GRACE_SECS));
        self.put_new(item).await
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation<'_>) -> StoreResult<Rotation> {
        let old_key = || key(format!("TOKEN#{}", rotation.old_hash), "TOKEN");
        let Some(old) = self.get(old_key()).await? else {
            return Ok(Rotation::Unknown);
        };
        let user_id = UserId::parse(&get_s(&old, "user_id")?).map_err(corrupt)?;
        let family_id = get_s(&old, "family_id")?;
        let expires_at = get_n(&old, "expires_at")?;
        // Tokens made before sessions had an end: theirs is when the token expires.
        let session_ends_at = opt_n(&old, "session_ends_at")?.unwrap_or(expires_at);
        let new_expires_at_ms = rotation.new_expires_at_ms.min(session_ends_at);
        for attempt in 0..MAX_ATTEMPTS {
            let now = now_ms();
            // The conditional retirement is the whole race: of two concurrent presentations
            // of one token exactly one commits; the other finds it retired by the same
            // rotation just now and answers alike.
            let retire = self.update(
                old_key(),
                "SET #replaced_by = :new, #retired_at = :now",
                Some("attribute_exists(#pk) AND attribute_not_exists(#replaced_by) AND #expires_at > :now"),
                &[PK, "replaced_by", "retired_at", "expires_at"],
                values([(":new", s(rotation.new_hash)), (":now", n(now))]),
            )?;
            // The family must not be revoked; it lives as long as its newest token.
            let family = self.update(
                key(format!("FAMILY#{family_id}"), "FAMILY"),
                "SET #ttl = :ttl",
                Some("attribute_not_exists(#revoked_at)"),
                &[TTL, "revoked_at"],
                values([(":ttl", n(new_expires_at_ms / 1000 + TOKEN_GRACE_SECS))]),
            )?;
            let mut new = key(format!("TOKEN#{}", rotation.new_hash), "TOKEN");
            new.insert("user_id".into(), s(user_id.as_str()));
            new.insert("family_id".into(), s(&family_id));
            new.insert("expires_at".into(), n(new_expires_at_ms));
            new.insert("session_ends_at".into(), n(session_ends_at));
            new.insert(TTL.into(), n(new_expires_at_ms / 1000 + TOKEN_GRACE_SECS));
            let insert = self.put(new, "attribute_not_exists(#pk)", &[PK])?;
            match self.transact(vec![retire, family, insert]).await? {
                Transaction::Committed => return Ok(Rotation::Rotated { user_id, rotated_at_ms: now }),
                Transaction::Cancelled(codes) if Transaction::failed(&codes, 0) || Transaction::failed(&codes, 1) => {
                    if let Some(rotated_at_ms) = self.recent_rotation(rotation, &family_id, now).await? {
                        return Ok(Rotation::Rotated { user_id, rotated_at_ms });
                    }
                    if expires_at <= now {
                        return Ok(Rotation::Expired);
                    }
                    self.revoke_family(&family_id, expires_at).await?;
                    return Ok(Rotation::Reused);
                }
                Transaction::Cancelled(codes) if Transaction::failed(&codes, 2) => return Err(StoreError::Conflict),
                Transaction::Cancelled(_) => backoff(attempt).await,
            }
        }
        Err(StoreError::Dynamo(DynamoError::Contended { operation: "refresh rotation", attempts: MAX_ATTEMPTS }))
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<bool> {
        let Some(token) = self.get(key(format!("TOKEN#{token_hash}"), "TOKEN")).await? else {
            return Ok(false);
        };
        self.revoke_family(&get_s(&token, "family_id")?, get_n(&token, "expires_at")?).await?;
        Ok(true)
    }

    async fn create_room(&self, room: &NewRoom) -> StoreResult<RoomRecord> {
        let counted = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key("COUNTER", "ROOM")))
            .update_expression("ADD #last :one")
            .set_expression_attribute_names(names(&["last"]))
            .set_expression_attribute_values(values([(":one", n(1))]))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .quiet()
            .await
            .map_err(err("UpdateItem"))?;
        let room_id = RoomId::from_stored(get_n(&counted.attributes.unwrap_or_default(), "last")?);
        let mut meta = key(room_pk(room_id), "META");
        meta.insert("room_id".into(), n(room_id.get()));
        meta.insert("title".into(), s(room.title.as_str()));
        if let Some(hash) = &room.password_hash {
            meta.insert("password_hash".into(), s(hash));
        }
        meta.insert("capacity".into(), n(i64::from(room.capacity.get())));
        meta.insert("owner".into(), s(room.owner.as_str()));
        meta.insert("seq".into(), n(0));
        meta.insert("created_at".into(), n(now_ms()));
        let mut listed = key("ROOMS", open_room_sk(room_id));
        listed.insert("room_id".into(), n(room_id.get()));
        let items = vec![
            self.put(meta, "attribute_not_exists(#pk)", &[PK])?,
            self.put(listed, "attribute_not_exists(#pk)", &[PK])?,
        ];
        match self.transact(items).await? {
            Transaction::Committed => Ok(RoomRecord {
                room_id,
                title: room.title.clone(),
                password_hash: room.password_hash.clone(),
                capacity: room.capacity,
                owner: room.owner.clone(),
                closed: false,
            }),
            // The counter only grows, so its value is free unless the table was tampered with.
            Transaction::Cancelled(codes) => Err(corrupt(format!("room id {room_id} already used: {codes:?}"))),
        }
    }

    async fn room(&self, room_id: RoomId) -> StoreResult<Option<RoomRecord>> {
        if room_id.is_lobby() {
            return Ok(None);
        }
        self.get(key(room_pk(room_id), "META")).await?.as_ref().map(room_from_item).transpose()
    }

    async fn open_rooms(&self) -> StoreResult<Vec<RoomRecord>> {
        let listed = self.query("ROOMS", "OPEN#", "OPEN$", false, None).await?;
        let keys = listed
            .iter()
            .map(|item| get_n(item, "room_id").map(|id| key(room_pk(RoomId::from_stored(id)), "META")))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut rooms = self.batch_get(keys).await?.iter().map(room_from_item).collect::<StoreResult<Vec<_>>>()?;
        rooms.retain(|room| !room.closed);
        rooms.sort_by_key(|room| std::cmp::Reverse(room.room_id.get()));
        Ok(rooms)
    }

    async fn update_room(&self, room_id: RoomId, changes: &RoomChanges) -> StoreResult<RoomRecord> {
        if room_id.is_lobby() {
            return Err(StoreError::NotFound);
        }
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut attribute_values = HashMap::new();
        let mut attribute_names = vec![PK, "closed_at"];
        if let Some(title) = &changes.title {
            set.push("#title = :title");
            attribute_names.push("title");
            attribute_values.insert(":title".to_owned(), s(title.as_str()));
        }
        match &changes.password_hash {
            None => {}
            Some(Some(hash)) => {
                set.push("#password_hash = :password_hash");
                attribute_values.insert(":password_hash".to_owned(), s(hash));
                attribute_names.push("password_hash");
            }
            Some(None) => {
                remove.push("#password_hash");
                attribute_names.push("password_hash");
            }
        }
        if let Some(capacity) = changes.capacity {
            set.push("#capacity = :capacity");
            attribute_names.push("capacity");
            attribute_values.insert(":capacity".to_owned(), n(i64::from(capacity.get())));
        }
        if let Some(owner) = &changes.owner {
            set.push("#owner = :owner");
            attribute_names.push("owner");
            attribute_values.insert(":owner".to_owned(), s(owner.as_str()));
        }
        if set.is_empty() && remove.is_empty() {
            return match self.room(room_id).await? {
                Some(room) if !room.closed => Ok(room),
                _ => Err(StoreError::NotFound),
            };
        }
        let mut expression = String::new();
        if !set.is_empty() {
            expression.push_str(&format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let updated = self
            .table
            .client
            .update_item()
            .table_name(&self.table.name)
            .set_key(Some(key(room_pk(room_id), "META")))
            .update_expression(expression.trim())
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#closed_at)")
            .set_expression_attribute_names(names(&attribute_names))
            .set_expression_attribute_values((!attribute_values.is_empty()).then_some(attribute_values))
            .return_values(ReturnValue::AllNew)
            .send()
            .quiet()
            .await;
        match updated {
            Ok(out) => room_from_item(&out.attributes.unwrap_or_default()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(err("UpdateItem")(e)),
        }
    }

    async fn close_room(&self, room_id: RoomId) -> StoreResult<()> {
        if room_id.is_lobby() {
            return Ok(());
        }
        let items = vec![
            self.update(
                key(room_pk(room_id), "META"),
                "SET #closed_at = :now",
                Some("attribute_exists(#pk) AND attribute_not_exists(#closed_at)"),
                &[PK, "closed_at"],
                values([(":now", n(now_ms()))]),
            )?,
            self.delete(key("ROOMS", open_room_sk(room_id)))?,
        ];
        for attempt in 0..MAX_ATTEMPTS {
            match self.transact(items.clone()).await? {
                Transaction::Committed => return Ok(()),
                // Closed already, or no such room: nothing to do.
                Transaction::Cancelled(codes) if Transaction::failed(&codes, 0) => return Ok(()),
                Transaction::Cancelled(_) => backoff(attempt).await,
            }
        }
        Err(StoreError::Dynamo(DynamoError::Contended { operation: "room close", attempts: MAX_ATTEMPTS }))
    }

    async fn create_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, Some(group_id), true).await
    }

    async fn join_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, Some(group_id), false).await
    }

    async fn leave_group(&self, user_id: &UserId) -> StoreResult<GroupMove> {
        self.move_user(user_id, None, false).await
    }

    async fn groups(&self) -> StoreResult<Vec<(GroupId, Vec<UserId>)>> {
        let items = self.query("GROUPS", "G#", "G$", true, None).await?;
        // Sort keys put each group right before its members.
        let mut groups: Vec<(i64, GroupId, Vec<UserId>)> = Vec::new();
        for item in &items {
            let group_id = GroupId::parse(&get_s(item, "group_id")?).map_err(corrupt)?;
            match opt_s(item, "user_id") {
                None => groups.push((get_n(item, "created_at")?, group_id, Vec::new())),
                Some(member) => match groups.last_mut() {
                    Some((_, last, members)) if *last == group_id => {
                        members.push(UserId::parse(&member).map_err(corrupt)?)
                    }
                    // A member item left over from a removed group.
                    _ => {}
                },
            }
        }
        groups.sort_by(|a, b| (a.0, a.1.as_str()).cmp(&(b.0, b.1.as_str())));
        Ok(groups.into_iter().map(|(_, group, members)| (group, members)).collect())
    }

    async fn group_members(&self, group_id: &GroupId) -> StoreResult<Vec<UserId>> {
        let prefix = format!("G#{group_id}#M#");
        let items = self.query("GROUPS", &prefix, &format!("{prefix}\u{10ffff}"), true, None).await?;
        items.iter().map(|item| UserId::parse(&get_s(item, "user_id")?).map_err(corrupt)).collect()
    }

    async fn append_message(&self, message: &NewMessage) -> StoreResult<StoredMessage> {
        let idempotency_key =
            message.client_msg_id.as_ref().map(|id| key(format!("IDEM#{}#{id}", message.sender), "IDEM"));
        let mut expected_seq = match message.room_id {
            None => None,
            Some(room_id) => match self.seq_hint(room_id) {
                Some(seq) => Some(seq),
                // A retry of a message already stored is answered even when the room closed since.
                None => match self.room_seq(room_id).await? {
                    Some(seq) => Some(seq),
                    None => return self.replay(message).await?.ok_or(StoreError::NotFound),
                },
            },
        };
        for attempt in 0..MAX_ATTEMPTS {
            let now = now_ms();
            let message_id = next_message_id();
            let seq = expected_seq.map(|seq| seq + 1);
            let mut items = Vec::new();
            let mut item = match (message.room_id, &message.group_id, &message.recipient) {
                (Some(room_id), _, _) => {
                    let (expected, next) = (expected_seq.unwrap_or(0), seq.unwrap_or(1));
                    // The lobby's item is created by its first message.
                    let condition = match (room_id.is_lobby(), expected) {
                        (true, 0) => "attribute_not_exists(#seq)",
                        (true, _) => "#seq = :expected",
                        (false, _) => "#seq = :expected AND attribute_not_exists(#closed_at)",
                    };
                    let mut seq_values = vec![(":next", n(next)), (":room", n(room_id.get()))];
                    if condition.contains(":expected") {
                        seq_values.push((":expected", n(expected)));
                    }
                    // A lost race returns the room as it is: the next attempt needs no read.
                    let update = Update::builder()
                        .table_name(&self.table.name)
                        .set_key(Some(key(room_pk(room_id), "META")))
                        .update_expression("SET #seq = :next, #room_id = :room")
                        .condition_expression(condition)
                        .set_expression_attribute_names(names(
                            &["seq", "room_id", "closed_at"][..if room_id.is_lobby() { 2 } else { 3 }],
                        ))
                        .set_expression_attribute_values(Some(
                            seq_values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                        ))
                        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                        .build()
                        .map_err(err("Update"))?;
                    items.push(TransactWriteItem::builder().update(update).build());
                    let mut item = key(room_pk(room_id), message_sk(next, SEQ_WIDTH));
                    item.insert("room_id".into(), n(room_id.get()));
                    item.insert("seq".into(), n(next));
                    item
                }
                (None, Some(group_id), _) => {
                    let mut item = key(format!("GROUPMSG#{group_id}"), message_sk(message_id, MESSAGE_ID_WIDTH));
                    item.insert("group_id".into(), s(group_id.as_str()));
                    item
                }
                (None, None, Some(recipient)) => {
                    let mut item =
                        key(whisper_pk(&message.sender, recipient), message_sk(message_id, MESSAGE_ID_WIDTH));
                    item.insert("recipient".into(), s(recipient.as_str()));
                    item
                }
                (None, None, None) => {
                    return Err(StoreError::Corrupt("a message needs a room, group or recipient".into()));
                }
            };
            item.insert("message_id".into(), n(message_id));
            item.insert("sender".into(), s(message.sender.as_str()));
            item.insert("text".into(), s(message.text.as_str()));
            item.insert("sent_at".into(), n(now));
            let message_index = items.len();
            items.push(self.put(item, "attribute_not_exists(#pk)", &[PK])?);
            let mut claim = key(format!("MSGID#{message_id}"), "MSGID");
            claim.insert(TTL.into(), n(now / 1000 + MESSAGE_ID_CLAIM_SECS));
            let claim_index = items.len();
            items.push(self.put(claim, "attribute_not_exists(#pk)", &[PK])?);
            let idempotency_index = items.len();
            if let Some(idempotency_key) = &idempotency_key {
                let mut idem = idempotency_key.clone();
                idem.insert("message_id".into(), n(message_id));
                if let Some(seq) = seq {
                    idem.insert("seq".into(), n(seq));
                }
                idem.insert("sent_at".into(), n(now));
                idem.insert("expires_at".into(), n(now + IDEMPOTENCY_WINDOW_MS));
                idem.insert(TTL.into(), n((now + IDEMPOTENCY_WINDOW_MS) / 1000 + 1));
                let put = Put::builder()
                    .table_name(&self.table.name)
                    .set_item(Some(idem))
                    .condition_expression("attribute_not_exists(#pk) OR #expires_at < :now")
                    .set_expression_attribute_names(names(&[PK, "expires_at"]))
                    .set_expression_attribute_values(values([(":now", n(now))]))
                    .build()
                    .map_err(err("Put"))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            let (codes, mut old): (Vec<String>, Vec<Option<Item>>) = match self.transact_returning_old(items).await? {
                Ok(()) => {
                    if let (Some(room_id), Some(seq), Ok(mut hints)) = (message.room_id, seq, self.seq_hints.lock()) {
                        hints.insert(room_id.get(), seq);
                    }
                    return Ok(StoredMessage {
                        message_id: MessageId::from_stored(message_id),
                        seq,
                        sent_at_ms: now,
                        duplicate: false,
                    });
                }
                Err(reasons) => reasons.into_iter().unzip(),
            };
            if idempotency_key.is_some() && Transaction::failed(&codes, idempotency_index) {
                if let Some(original) = self.replay(message).await? {
                    return Ok(original);
                }
                // It expired in between: try again as a new message.
            } else if message.room_id.is_some() && Transaction::failed(&codes, 0) {
                // Another append took this seq (or the room closed): go on from the current one.
                let room_id = message.room_id.unwrap_or(RoomId::LOBBY);
                let current = match old.get_mut(0).and_then(Option::take) {
                    Some(room) if room.contains_key("closed_at") => None,
                    Some(room) => Some(opt_n(&room, "seq")?.unwrap_or(0)),
                    None => self.room_seq(room_id).await?,
                };
                match current {
                    Some(seq) => {
                        expected_seq = Some(seq);
                        if let Ok(mut hints) = self.seq_hints.lock() {
                            hints.insert(room_id.get(), seq);
                        }
                    }
                    None => return self.replay(message).await?.ok_or(StoreError::NotFound),
                }
                backoff(attempt).await;
            } else if Transaction::failed(&codes, claim_index) || Transaction::failed(&codes, message_index) {
                // Another instance drew the same message id: draw again.
            } else {
                tracing::debug!(?codes, "append lost a race; retrying");
                backoff(attempt).await;
            }
        }
        Err(StoreError::Dynamo(DynamoError::Contended { operation: "append", attempts: MAX_ATTEMPTS }))
    }

    async fn history(&self, scope: &HistoryScope, bounds: Bounds, limit: u32) -> StoreResult<HistoryPage> {
        let (pk, width) = match scope {
            HistoryScope::Room(room_id) => (room_pk(*room_id), SEQ_WIDTH),
            HistoryScope::Whisper(a, b) => (whisper_pk(a, b), MESSAGE_ID_WIDTH),
            HistoryScope::Group(group_id) => (format!("GROUPMSG#{group_id}"), MESSAGE_ID_WIDTH),
        };
        let lowest = bounds.after.map_or(0, |after| after.saturating_add(1)).max(0);
        let highest = bounds.before.map_or(i64::MAX, |before| before.saturating_sub(1));
        let highest = highest.min(10_i64.saturating_pow(width as u32).saturating_sub(1));
        if lowest > highest || limit == 0 {
            return Ok(HistoryPage { messages: Vec::new(), has_more: false });
        }
        let newest_first = bounds.after.is_none();
        let wanted = limit as usize + 1;
        let items = self
            .query(&pk, &message_sk(lowest, width), &message_sk(highest, width), !newest_first, Some(wanted))
            .await?;
        let has_more = items.len() > limit as usize;
        let items = &items[..items.len().min(limit as usize)];
        let senders = self.senders(items).await?;
        let mut messages = Vec::with_capacity(items.len());
        for item in items {
            let sender_id = get_s(item, "sender")?;
            // As the SQL store's join: a message shows its sender as they are now.
            let Some(sender) = senders.get(&sender_id) else { continue };
            let room_id = opt_n(item, "room_id")?.map(RoomId::from_stored);
            let group_id = opt_s(item, "group_id").as_deref().map(GroupId::parse).transpose().map_err(corrupt)?;
            let recipient = opt_s(item, "recipient").as_deref().map(UserId::parse).transpose().map_err(corrupt)?;
            let kind = if room_id.is_some() {
                MessageKind::All
            } else if group_id.is_some() {
                MessageKind::Group
            } else {
                MessageKind::Whisper
            };
            messages.push(MessageRecord {
                message_id: MessageId::from_stored(get_n(item, "message_id")?),
                kind,
                room_id,
                group_id,
                recipient,
                sender: sender.user_id.clone(),
                sender_nick: sender.nick.clone(),
                sender_group: sender.group_id.clone(),
                text: MessageText::from_stored(&get_s(item, "text")?).map_err(corrupt)?,
                sent_at_ms: get_n(item, "sent_at")?,
                seq: opt_n(item, "seq")?,
            });
        }
        if newest_first {
            messages.reverse();
        }
        Ok(HistoryPage { messages, has_more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_increase_and_fit_the_wire_width() {
        let ids: Vec<i64> = (0..1000).map(|_| next_message_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids.iter().all(|id| id.to_string().len() <= MESSAGE_ID_WIDTH));
    }

    #[test]
    fn sort_keys_order_numerically_and_whispers_share_a_partition() {
        assert!(message_sk(9, SEQ_WIDTH) < message_sk(10, SEQ_WIDTH));
        assert!(open_room_sk(RoomId::from_stored(99)) < open_room_sk(RoomId::from_stored(100)));
        let (ann, bob) = (UserId::parse("ann").unwrap(), UserId::parse("bob").unwrap());
        assert_eq!(whisper_pk(&ann, &bob), whisper_pk(&bob, &ann));
        let red = GroupId::parse("red").unwrap();
        assert!(group_sk(&red) < member_sk(&red, &ann), "a group sorts right before its members");
    }
}
