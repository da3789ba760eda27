//! Read marks and what `chat.conversations` shows: each conversation's last message and
//! how much of it a reader has not read.

use std::collections::HashMap;

use sqlx::Row;

use super::{Bind, MESSAGES_WITH_SENDERS, SqlStore, corrupt, message_from_row, text};
use crate::domain::{ConversationKey, MessageId, UserId};
use crate::store::{ConversationState, MAX_WHISPER_PARTNERS, MessageRecord, StoreError, StoreResult, UNREAD_COUNT_CAP};

/// A conversation as the `read_marks` table names it: a kind letter and a target.
fn mark_key(conversation: &ConversationKey) -> (&'static str, String) {
    match conversation {
        ConversationKey::Room { room_id } => ("r", room_id.get().to_string()),
        ConversationKey::Group { group_id } => ("g", group_id.as_str().to_owned()),
        ConversationKey::Whisper { with } => ("w", with.as_str().to_owned()),
    }
}

/// Unread count and unread mentions from the `mentions` column of each unread message.
fn tally_unread<'a>(user: &UserId, unread: impl Iterator<Item = &'a str>) -> (u32, u32) {
    let needle = format!(" {} ", user.as_str());
    let (mut count, mut mentions) = (0, 0);
    for column in unread.take(UNREAD_COUNT_CAP as usize) {
        count += 1;
        if column.contains(&needle) {
            mentions += 1;
        }
    }
    (count, mentions)
}

impl SqlStore {
    pub(super) async fn raise_read_mark(
        &self,
        user: &UserId,
        conversation: &ConversationKey,
        up_to: i64,
    ) -> StoreResult<bool> {
        let (kind, target) = mark_key(conversation);
        // Raised where it stands lower, else created: MySQL reports a found but unchanged row
        // as affected, so an upsert could not tell "moved" from "stayed".
        let raise = || {
            sqlx::query(
                "UPDATE read_marks SET up_to = ? WHERE user_id = ? AND conversation = ? AND target = ? AND up_to < ?",
            )
            .bind(up_to)
            .bind(user.as_str())
            .bind(kind)
            .bind(target.clone())
            .bind(up_to)
        };
        let _writer = self.sqlite_write_turn().await;
        if raise().execute(self.ready().await?).await?.rows_affected() > 0 {
            return Ok(true);
        }
        let created = sqlx::query(&format!(
            "{} INTO read_marks (user_id, conversation, target, up_to) VALUES (?, ?, ?, ?)",
            self.dialect.insert_ignore()
        ))
        .bind(user.as_str())
        .bind(kind)
        .bind(target.clone())
        .bind(up_to)
        .execute(self.ready().await?)
        .await?
        .rows_affected();
        if created > 0 {
            return Ok(true);
        }
        // Created meanwhile by another connection of the user, perhaps lower than this mark.
        Ok(raise().execute(self.ready().await?).await?.rows_affected() > 0)
    }

    pub(super) async fn conversation_states(
        &self,
        user: &UserId,
        joined: &[ConversationKey],
    ) -> StoreResult<Vec<ConversationState>> {
        let marks = self.read_marks(user).await?;
        let mark_of = |conversation: &ConversationKey| {
            let (kind, target) = mark_key(conversation);
            marks.get(&(kind, target)).copied().unwrap_or(0)
        };
        let mut states = Vec::with_capacity(joined.len());
        let mut lasts = Vec::new();
        for conversation in joined {
            let mark = mark_of(conversation);
            let (last, unread) = self.unread_in(conversation, user, mark).await?;
            let (unread, mentions) = tally_unread(user, unread.iter().map(String::as_str));
            states.push(ConversationState { key: conversation.clone(), unread, mentions, last: None });
            lasts.push(last);
        }
        let (partners, partner_lasts) = self.whisper_partners(user).await?;
        let unread_whispers = self.unread_whispers(user).await?;
        for (partner, last) in partners.into_iter().zip(partner_lasts) {
            let key = ConversationKey::Whisper { with: partner.clone() };
            let unread = unread_whispers.iter().filter(|(from, _, _)| *from == partner);
            let (unread, mentions) = tally_unread(user, unread.map(|(_, _, mentions)| mentions.as_str()));
            states.push(ConversationState { key, unread, mentions, last: None });
            lasts.push(last);
        }
        let mut found: Vec<MessageRecord> = lasts.iter().flatten().cloned().collect();
        self.with_reactions(&mut found).await?;
        let mut found = found.into_iter();
        for (state, last) in states.iter_mut().zip(lasts) {
            if last.is_some() {
                state.last = found.next();
            }
        }
        Ok(states)
    }

    async fn read_marks(&self, user: &UserId) -> StoreResult<HashMap<(&'static str, String), i64>> {
        let rows = sqlx::query("SELECT conversation, target, up_to FROM read_marks WHERE user_id = ?")
            .bind(user.as_str())
            .fetch_all(self.ready().await?)
            .await?;
        let mut marks = HashMap::with_capacity(rows.len());
        for row in rows {
            let kind = match row.try_get::<String, _>("conversation")?.as_str() {
                "r" => "r",
                "g" => "g",
                "w" => "w",
                other => return Err(StoreError::Corrupt(format!("read mark of kind {other:?}"))),
            };
            marks.insert((kind, row.try_get::<String, _>("target")?), row.try_get::<i64, _>("up_to")?);
        }
        Ok(marks)
    }

    /// A room's or group's last message and the `mentions` column of its first unread ones.
    async fn unread_in(
        &self,
        conversation: &ConversationKey,
        user: &UserId,
        mark: i64,
    ) -> StoreResult<(Option<MessageRecord>, Vec<String>)> {
        // A room's rows go by `seq` (those still waiting for one are not there yet), a group's
        // by message id.
        let (filter, position, key) = match conversation {
            ConversationKey::Room { room_id } => {
                ("room_id = ? AND seq IS NOT NULL", "seq", Bind::Int(Some(room_id.get())))
            }
            ConversationKey::Group { group_id } => ("group_id = ?", "message_id", text(group_id)),
            ConversationKey::Whisper { .. } => {
                return Err(StoreError::Corrupt("whisper partners are found, not given".into()));
            }
        };
        let last_sql = format!("{MESSAGES_WITH_SENDERS} WHERE m.{filter} ORDER BY m.{position} DESC LIMIT 1");
        let last = key.clone().onto(sqlx::query(&last_sql)).fetch_optional(self.ready().await?).await?;
        let unread_sql = format!(
            "SELECT mentions FROM messages WHERE {filter} AND {position} > ? AND sender <> ? AND deleted_at IS NULL \
             ORDER BY {position} LIMIT {UNREAD_COUNT_CAP}"
        );
        let rows =
            key.onto(sqlx::query(&unread_sql)).bind(mark).bind(user.as_str()).fetch_all(self.ready().await?).await?;
        let unread = rows.iter().map(|row| row.try_get::<String, _>("mentions")).collect::<Result<Vec<_>, _>>()?;
        Ok((last.as_ref().map(message_from_row).transpose()?, unread))
    }

    /// Everyone `user` whispered with, the most recent first, with the last whisper of each.
    async fn whisper_partners(&self, user: &UserId) -> StoreResult<(Vec<UserId>, Vec<Option<MessageRecord>>)> {
        let rows = sqlx::query(&format!(
            "SELECT partner, MAX(message_id) AS last_id FROM (\
                 SELECT recipient AS partner, message_id FROM messages WHERE sender = ? AND recipient IS NOT NULL \
                 UNION ALL SELECT sender AS partner, message_id FROM messages WHERE recipient = ?\
             ) pairs GROUP BY partner ORDER BY last_id DESC LIMIT {MAX_WHISPER_PARTNERS}"
        ))
        .bind(user.as_str())
        .bind(user.as_str())
        .fetch_all(self.ready().await?)
        .await?;
        let mut partners = Vec::with_capacity(rows.len());
        let mut last_ids = Vec::with_capacity(rows.len());
        for row in &rows {
            partners.push(UserId::parse(&row.try_get::<String, _>("partner")?).map_err(corrupt)?);
            last_ids.push(row.try_get::<i64, _>("last_id")?);
        }
        if last_ids.is_empty() {
            return Ok((partners, Vec::new()));
        }
        let sql = format!("{MESSAGES_WITH_SENDERS} WHERE m.message_id IN ({})", vec!["?"; last_ids.len()].join(", "));
        let mut query = sqlx::query(&sql);
        for id in &last_ids {
            query = query.bind(id);
        }
        let mut by_id: HashMap<MessageId, MessageRecord> = HashMap::new();
        for row in query.fetch_all(self.ready().await?).await? {
            let message = message_from_row(&row)?;
            by_id.insert(message.message_id, message);
        }
        let lasts = last_ids.iter().map(|id| by_id.remove(&MessageId::from_stored(*id))).collect();
        Ok((partners, lasts))
    }

    /// Whispers to `user` above their read mark with the sender: `(sender, message id, mentions)`.
    async fn unread_whispers(&self, user: &UserId) -> StoreResult<Vec<(UserId, i64, String)>> {
        let rows = sqlx::query(
            "SELECT m.sender, m.message_id, m.mentions FROM messages m \
             LEFT JOIN read_marks r ON r.user_id = m.recipient AND r.conversation = 'w' AND r.target = m.sender \
             WHERE m.recipient = ? AND m.deleted_at IS NULL AND m.message_id > COALESCE(r.up_to, 0) \
             ORDER BY m.message_id LIMIT 20000",
        )
        .bind(user.as_str())
        .fetch_all(self.ready().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    UserId::parse(&row.try_get::<String, _>("sender")?).map_err(corrupt)?,
                    row.try_get::<i64, _>("message_id")?,
                    row.try_get::<String, _>("mentions")?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unread_tallies_count_mentions_of_the_reader_only() {
        let ann = UserId::parse("ann").unwrap();
        let columns = ["", " ann ", " bob ", " annie bob ", " bob ann "];
        assert_eq!(tally_unread(&ann, columns.into_iter()), (5, 2));
        let many = vec![" ann "; 2000];
        assert_eq!(tally_unread(&ann, many.into_iter()), (UNREAD_COUNT_CAP, UNREAD_COUNT_CAP));
    }
}
