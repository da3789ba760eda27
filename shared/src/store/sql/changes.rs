//! What happens to a message after it is sent: edits, deletes and reactions.
//!
//! A reaction changes under the lock of its message's row, so that two users reacting at
//! once are counted one after the other and the limit on distinct emoji holds.

use sqlx::Row;

use super::{Dialect, MESSAGES_WITH_SENDERS, SqlStore, corrupt, in_transaction, message_from_row};
use crate::domain::{Emoji, MAX_DISTINCT_EMOJI, MessageId, MessageText, Reaction, UserId};
use crate::store::{MessageRecord, StoreError, StoreResult};

impl SqlStore {
    pub(super) async fn message_by_id(&self, message_id: MessageId) -> StoreResult<Option<MessageRecord>> {
        let row = sqlx::query(&format!("{MESSAGES_WITH_SENDERS} WHERE m.message_id = ?"))
            .bind(message_id.get())
            .fetch_optional(self.ready().await?)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut message = [message_from_row(&row)?];
        self.with_reactions(&mut message).await?;
        let [message] = message;
        Ok(Some(message))
    }

    /// Fills in the reactions of `messages` with one statement (none for no messages).
    pub(super) async fn with_reactions(&self, messages: &mut [MessageRecord]) -> StoreResult<()> {
        let ids: Vec<i64> = messages.iter().filter(|m| m.text.is_some()).map(|m| m.message_id.get()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT message_id, emoji, user_id FROM message_reactions WHERE message_id IN ({}) \
             ORDER BY message_id, created_at, user_id",
            vec!["?"; ids.len()].join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id);
        }
        let mut pairs_of: std::collections::HashMap<i64, Vec<(Emoji, UserId)>> = std::collections::HashMap::new();
        for row in query.fetch_all(self.ready().await?).await? {
            pairs_of.entry(row.try_get("message_id")?).or_default().push(reaction_pair(&row)?);
        }
        for message in messages.iter_mut() {
            message.reactions = Reaction::tally(pairs_of.remove(&message.message_id.get()).unwrap_or_default());
        }
        Ok(())
    }

    pub(super) async fn edit(
        &self,
        message_id: MessageId,
        new_text: &MessageText,
        mentions: &[UserId],
        edited_at_ms: i64,
    ) -> StoreResult<MessageRecord> {
        {
            let _writer = self.sqlite_write_turn().await;
            sqlx::query(
                "UPDATE messages SET text = ?, mentions = ?, edited_at = ? WHERE message_id = ? AND deleted_at IS NULL",
            )
            .bind(new_text.as_str())
            .bind(super::mentions_column(mentions))
            .bind(edited_at_ms)
            .bind(message_id.get())
            .execute(self.ready().await?)
            .await?;
        }
        // Read back whether or not a row changed: MySQL counts an update to the same values
        // as no change, and a deleted message is told apart from a missing one.
        match self.message_by_id(message_id).await? {
            None => Err(StoreError::NotFound),
            Some(message) if message.text.is_none() => Err(StoreError::Conflict),
            Some(message) => Ok(message),
        }
    }

    pub(super) async fn delete(&self, message_id: MessageId) -> StoreResult<MessageRecord> {
        {
            let _writer = self.sqlite_write_turn().await;
            let mut tx = self.ready().await?.begin().await?;
            in_transaction(3);
            sqlx::query(
                "UPDATE messages SET text = '', mentions = '', deleted_at = ? WHERE message_id = ? AND deleted_at IS NULL",
            )
            .bind(crate::clock::now_ms())
            .bind(message_id.get())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM message_reactions WHERE message_id = ?")
                .bind(message_id.get())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        self.message_by_id(message_id).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn toggle_reaction(
        &self,
        message_id: MessageId,
        user: &UserId,
        emoji: &Emoji,
        on: bool,
    ) -> StoreResult<Vec<Reaction>> {
        let _writer = self.sqlite_write_turn().await;
        let mut tx = self.ready().await?.begin().await?;
        in_transaction(1);
        // The message's row is the lock: reactions to one message take turns.
        let state: Option<Option<i64>> = match self.dialect {
            Dialect::Sqlite => {
                sqlx::query_scalar(
                    "UPDATE messages SET deleted_at = deleted_at WHERE message_id = ? RETURNING deleted_at",
                )
                .bind(message_id.get())
                .fetch_optional(&mut *tx)
                .await?
            }
            Dialect::MySql => {
                sqlx::query_scalar("SELECT deleted_at FROM messages WHERE message_id = ? FOR UPDATE")
                    .bind(message_id.get())
                    .fetch_optional(&mut *tx)
                    .await?
            }
        };
        match state {
            None => return Err(StoreError::NotFound),
            Some(Some(_deleted)) => return Err(StoreError::Conflict),
            Some(None) => {}
        }
        if on {
            in_transaction(2);
            let present: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT emoji FROM message_reactions WHERE message_id = ?")
                    .bind(message_id.get())
                    .fetch_all(&mut *tx)
                    .await?;
            if !present.iter().any(|e| e == emoji.as_str()) && present.len() >= MAX_DISTINCT_EMOJI {
                return Err(StoreError::LimitReached("different emoji on one message"));
            }
            sqlx::query(&format!(
                "{} INTO message_reactions (message_id, emoji, user_id, created_at) VALUES (?, ?, ?, ?)",
                self.dialect.insert_ignore()
            ))
            .bind(message_id.get())
            .bind(emoji.as_str())
            .bind(user.as_str())
            .bind(crate::clock::now_ms())
            .execute(&mut *tx)
            .await?;
        } else {
            in_transaction(1);
            sqlx::query("DELETE FROM message_reactions WHERE message_id = ? AND emoji = ? AND user_id = ?")
                .bind(message_id.get())
                .bind(emoji.as_str())
                .bind(user.as_str())
                .execute(&mut *tx)
                .await?;
        }
        in_transaction(2);
        let rows = sqlx::query(
            "SELECT emoji, user_id FROM message_reactions WHERE message_id = ? ORDER BY created_at, user_id",
        )
        .bind(message_id.get())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reaction::tally(rows.iter().map(reaction_pair).collect::<StoreResult<Vec<_>>>()?))
    }
}

fn reaction_pair(row: &sqlx::any::AnyRow) -> StoreResult<(Emoji, UserId)> {
    Ok((
        Emoji::parse(&row.try_get::<String, _>("emoji")?).map_err(corrupt)?,
        UserId::parse(&row.try_get::<String, _>("user_id")?).map_err(corrupt)?,
    ))
}
