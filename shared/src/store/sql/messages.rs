//! Messages as rows: reading them back with their senders' faces, storing them (a room's
//! without its `seq` first), numbering a room's waiting messages together, and answering a
//! repeated `clientMsgId` with the message it first stored.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Bind, Dialect, IDEMPOTENCY_WINDOW_MS, MESSAGES_WITH_SENDERS, SqlStore, corrupt, in_transaction,
    insert_returning_id, is_unique_violation, opt_text, text,
};
use crate::clock::now_ms;
use crate::domain::{GroupId, MessageId, MessageKind, MessageText, Nick, RoomId, UserId};
use crate::store::{MessageRecord, NewMessage, Numbered, StoreError, StoreResult, StoredMessage};

pub(super) fn message_from_row(row: &AnyRow) -> StoreResult<MessageRecord> {
    let room_id = row.try_get::<Option<i64>, _>("room_id")?.map(RoomId::from_stored);
    let group_id =
        row.try_get::<Option<String>, _>("group_id")?.as_deref().map(GroupId::parse).transpose().map_err(corrupt)?;
    let recipient =
        row.try_get::<Option<String>, _>("recipient")?.as_deref().map(UserId::parse).transpose().map_err(corrupt)?;
    let kind = MessageKind::of_stored(room_id.is_some(), group_id.is_some());
    Ok(MessageRecord {
        message_id: MessageId::from_stored(row.try_get("message_id")?),
        kind,
        room_id,
        group_id,
        recipient,
        sender: UserId::parse(&row.try_get::<String, _>("sender")?).map_err(corrupt)?,
        sender_nick: Nick::from_stored(&row.try_get::<String, _>("nick")?).map_err(corrupt)?,
        sender_group: row
            .try_get::<Option<String>, _>("sender_group")?
            .as_deref()
            .map(GroupId::parse)
            .transpose()
            .map_err(corrupt)?,
        text: match row.try_get::<Option<i64>, _>("deleted_at")? {
            Some(_) => None,
            None => Some(MessageText::from_stored(&row.try_get::<String, _>("text")?).map_err(corrupt)?),
        },
        sent_at_ms: row.try_get("created_at")?,
        seq: row.try_get("seq")?,
        edited_at_ms: row.try_get("edited_at")?,
        // Read by `with_reactions` for the messages that have any.
        reactions: Vec::new(),
        mentions: mentions_from_column(&row.try_get::<String, _>("mentions")?)?,
    })
}

/// Mentions as the `mentions` column keeps them: ` id id `, so that a reader's id is found
/// as ` id ` (no id holds a space); empty when none.
pub(super) fn mentions_column(mentions: &[UserId]) -> String {
    if mentions.is_empty() {
        return String::new();
    }
    let mut column = String::from(" ");
    for user in mentions {
        column.push_str(user.as_str());
        column.push(' ');
    }
    column
}

fn mentions_from_column(column: &str) -> StoreResult<Vec<UserId>> {
    column.split_whitespace().map(|id| UserId::parse(id).map_err(corrupt)).collect()
}

/// At most this many messages get their `seq` in one numbering transaction.
pub(super) const NUMBERING_BATCH: usize = 500;

impl SqlStore {
    /// The message already stored under this `clientMsgId`, if within the window; an older
    /// one gives up its id so that the new message can take it.
    pub(super) async fn idempotent_replay(&self, message: &NewMessage) -> StoreResult<Option<StoredMessage>> {
        let Some(client_msg_id) = &message.client_msg_id else { return Ok(None) };
        let row =
            sqlx::query("SELECT message_id, seq, created_at FROM messages WHERE sender = ? AND client_msg_id = ?")
                .bind(message.sender.as_str())
                .bind(client_msg_id.as_str())
                .fetch_optional(self.ready().await?)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let sent_at_ms: i64 = row.try_get("created_at")?;
        let message_id: i64 = row.try_get("message_id")?;
        if now_ms() - sent_at_ms <= IDEMPOTENCY_WINDOW_MS {
            return Ok(Some(StoredMessage {
                message_id: MessageId::from_stored(message_id),
                seq: row.try_get("seq")?,
                sent_at_ms,
                duplicate: true,
            }));
        }
        sqlx::query("UPDATE messages SET client_msg_id = NULL WHERE message_id = ?")
            .bind(message_id)
            .execute(self.ready().await?)
            .await?;
        Ok(None)
    }

    /// One statement, no transaction: a room message goes in without its `seq` (see
    /// `number_room_messages`), so writers in one room never wait for each other here.
    pub(super) async fn insert_message(&self, message: &NewMessage, now: i64) -> StoreResult<MessageId> {
        let _writer = self.sqlite_write_turn().await;
        let message_id = insert_returning_id(
            self.dialect,
            self.ready().await?,
            "INSERT INTO messages (room_id, seq, group_id, sender, recipient, text, client_msg_id, created_at, \
             mentions) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?)",
            "message_id",
            vec![
                Bind::Int(message.room_id.map(RoomId::get)),
                opt_text(message.group_id.as_ref()),
                text(&message.sender),
                opt_text(message.recipient.as_ref()),
                text(&message.text),
                opt_text(message.client_msg_id.as_ref()),
                Bind::Int(Some(now)),
                text(mentions_column(&message.mentions)),
            ],
        )
        .await?;
        Ok(MessageId::from_stored(message_id))
    }

    /// Inserts, or finds the message a `clientMsgId` already names.
    pub(super) async fn insert_unless_duplicate(
        &self,
        message: &NewMessage,
    ) -> StoreResult<Result<(MessageId, i64), StoredMessage>> {
        // An old message holding the same `clientMsgId` gives it up in `idempotent_replay`;
        // the insert is then tried again (twice is enough: only a concurrent retry of the
        // same send can take the id back meanwhile, and that one is then found).
        for _ in 0..3 {
            let now = now_ms();
            match self.insert_message(message, now).await {
                Ok(message_id) => return Ok(Ok((message_id, now))),
                Err(StoreError::Backend(err)) if is_unique_violation(&err) && message.client_msg_id.is_some() => {
                    if let Some(stored) = self.idempotent_replay(message).await? {
                        return Ok(Err(stored));
                    }
                }
                Err(err) => return Err(err),
            }
        }
        Err(StoreError::Conflict)
    }

    /// One numbering transaction; `None` when the caller's message is still waiting (more
    /// were waiting than one transaction numbers).
    pub(super) async fn number_once(&self, room_id: RoomId, own: MessageId) -> StoreResult<Option<Numbered>> {
        let _writer = self.sqlite_write_turn().await;
        let mut tx = self.ready().await?.begin().await?;
        in_transaction(1);
        // The room's row is the lock: numberings of one room, from any process, take turns.
        let last_seq: Option<i64> =
            match self.dialect {
                Dialect::Sqlite => sqlx::query_scalar(
                    "UPDATE rooms SET last_seq = last_seq WHERE room_id = ? AND closed_at IS NULL RETURNING last_seq",
                )
                .bind(room_id.get())
                .fetch_optional(&mut *tx)
                .await?,
                Dialect::MySql => {
                    sqlx::query_scalar("SELECT last_seq FROM rooms WHERE room_id = ? AND closed_at IS NULL FOR UPDATE")
                        .bind(room_id.get())
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
        let Some(last_seq) = last_seq else {
            // A closed room never numbers again: what waits in it would wait for ever.
            in_transaction(2);
            sqlx::query("DELETE FROM messages WHERE room_id = ? AND seq IS NULL")
                .bind(room_id.get())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Err(StoreError::NotFound);
        };
        in_transaction(1);
        let waiting = sqlx::query(&format!(
            "{MESSAGES_WITH_SENDERS} WHERE m.room_id = ? AND m.seq IS NULL ORDER BY m.message_id LIMIT {NUMBERING_BATCH}"
        ))
        .bind(room_id.get())
        .fetch_all(&mut *tx)
        .await?;
        let mut batch = waiting.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
        for (record, seq) in batch.iter_mut().zip(last_seq + 1..) {
            record.seq = Some(seq);
        }
        if let Some(newest) = batch.last().and_then(|m| m.seq) {
            let cases = " WHEN ? THEN ?".repeat(batch.len());
            let ids = vec!["?"; batch.len()].join(", ");
            let sql = format!("UPDATE messages SET seq = CASE message_id{cases} END WHERE message_id IN ({ids})");
            let mut numbering = sqlx::query(&sql);
            for record in &batch {
                numbering = numbering.bind(record.message_id.get()).bind(record.seq);
            }
            for record in &batch {
                numbering = numbering.bind(record.message_id.get());
            }
            in_transaction(2);
            numbering.execute(&mut *tx).await?;
            sqlx::query("UPDATE rooms SET last_seq = ? WHERE room_id = ?")
                .bind(newest)
                .bind(room_id.get())
                .execute(&mut *tx)
                .await?;
        }
        let own_stored = match batch.iter().find(|m| m.message_id == own) {
            Some(record) => Some((record.seq, record.sent_at_ms)),
            None => {
                in_transaction(1);
                let row = sqlx::query("SELECT seq, created_at FROM messages WHERE message_id = ?")
                    .bind(own.get())
                    .fetch_optional(&mut *tx)
                    .await?;
                match row {
                    Some(row) => Some((row.try_get::<Option<i64>, _>("seq")?, row.try_get("created_at")?)),
                    None => None,
                }
            }
        };
        in_transaction(1);
        tx.commit().await?;
        match own_stored {
            // Dropped with the room it was waiting in.
            None => Err(StoreError::NotFound),
            Some((None, _)) => Ok(None),
            Some((seq @ Some(_), sent_at_ms)) => {
                Ok(Some(Numbered { own: StoredMessage { message_id: own, seq, sent_at_ms, duplicate: false }, batch }))
            }
        }
    }
}
