//! Rooms: ids from a counter item, the room's own item (which also carries its message
//! `seq`), and the open-room listing kept in step with it in the same transactions.

use aws_sdk_dynamodb::types::ReturnValue;

use super::items::{open_room_sk, room_from_item, room_key};
use super::{DynamoStore, MAX_ATTEMPTS};
use crate::clock::now_ms;
use crate::domain::RoomId;
use crate::dynamodb::codec::{key, n, s};
use crate::dynamodb::read::SortKey;
use crate::dynamodb::write::{Refused, Write};
use crate::dynamodb::{DynamoError, ItemExt, backoff};
use crate::store::{NewRoom, RoomChanges, RoomRecord, Store as _, StoreError, StoreResult};

impl DynamoStore {
    pub(super) async fn insert_room(&self, room: &NewRoom) -> StoreResult<RoomRecord> {
        let count = Write::update(key("COUNTER", "ROOM"), "ADD #last :one")
            .values(&[(":one", n(1))])
            .returning(ReturnValue::UpdatedNew);
        let counted = self.table.write(count).await?.unwrap_or_default();
        let room_id = RoomId::from_stored(counted.required_number("last")?);
        let mut meta = room_key(room_id);
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
        let writes = vec![
            Write::put(meta).condition("attribute_not_exists(#pk)"),
            Write::put(listed).condition("attribute_not_exists(#pk)"),
        ];
        match self.table.transact(writes).await? {
            Ok(()) => Ok(RoomRecord {
                room_id,
                title: room.title.clone(),
                password_hash: room.password_hash.clone(),
                capacity: room.capacity,
                owner: room.owner.clone(),
                closed: false,
            }),
            // The counter only grows, so its value is free unless the table was tampered with.
            Err(cancelled) => {
                Err(DynamoError::corrupt(format!("room id {room_id} already used: {:?}", cancelled.codes())).into())
            }
        }
    }

    pub(super) async fn listed_rooms(&self) -> StoreResult<Vec<RoomRecord>> {
        let listed =
            self.table.query("ROOMS", SortKey::Between("OPEN#".into(), "OPEN$".into())).backward().items().await?;
        let keys = listed
            .iter()
            .map(|item| item.required_number("room_id").map(|id| room_key(RoomId::from_stored(id))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rooms =
            self.table.get_many(keys).await?.iter().flatten().map(room_from_item).collect::<Result<Vec<_>, _>>()?;
        rooms.retain(|room| !room.closed);
        rooms.sort_by_key(|room| std::cmp::Reverse(room.room_id.get()));
        Ok(rooms)
    }

    pub(super) async fn change_room(&self, room_id: RoomId, changes: &RoomChanges) -> StoreResult<RoomRecord> {
        if room_id.is_lobby() {
            return Err(StoreError::NotFound);
        }
        let mut set = Vec::new();
        let mut remove = Vec::new();
        let mut values = Vec::new();
        if let Some(title) = &changes.title {
            set.push("#title = :title");
            values.push((":title", s(title.as_str())));
        }
        match &changes.password_hash {
            None => {}
            Some(Some(hash)) => {
                set.push("#password_hash = :password_hash");
                values.push((":password_hash", s(hash)));
            }
            Some(None) => remove.push("#password_hash"),
        }
        if let Some(capacity) = changes.capacity {
            set.push("#capacity = :capacity");
            values.push((":capacity", n(i64::from(capacity.get()))));
        }
        if let Some(owner) = &changes.owner {
            set.push("#owner = :owner");
            values.push((":owner", s(owner.as_str())));
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
        let update = Write::update(room_key(room_id), expression.trim())
            .condition("attribute_exists(#pk) AND attribute_not_exists(#closed_at)")
            .values(&values)
            .returning(ReturnValue::AllNew);
        match self.table.try_write(update).await? {
            Ok(room) => Ok(room_from_item(&room.unwrap_or_default())?),
            Err(Refused::Condition(_)) => Err(StoreError::NotFound),
            Err(conflict) => Err(DynamoError::from(conflict).into()),
        }
    }

    pub(super) async fn close(&self, room_id: RoomId) -> StoreResult<()> {
        if room_id.is_lobby() {
            return Ok(());
        }
        let writes = vec![
            Write::update(room_key(room_id), "SET #closed_at = :now")
                .condition("attribute_exists(#pk) AND attribute_not_exists(#closed_at)")
                .values(&[(":now", n(now_ms()))]),
            Write::delete(key("ROOMS", open_room_sk(room_id))),
        ];
        for attempt in 0..MAX_ATTEMPTS {
            match self.table.transact(writes.clone()).await? {
                Ok(()) => return Ok(()),
                // Closed already, or no such room: nothing to do.
                Err(cancelled) if cancelled.failed(0) => return Ok(()),
                Err(_) => backoff(attempt).await,
            }
        }
        Err(DynamoError::Contended { operation: "room close", attempts: MAX_ATTEMPTS }.into())
    }
}
