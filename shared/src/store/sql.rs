//! [`Store`] on sqlx's `Any` driver: MySQL-compatible servers in production, a SQLite file
//! as the embedded default. Only the drivers whose cargo features are on are linked in.
//!
//! Transactions open with a write so that SQLite takes its write lock first and waits on its
//! busy timeout instead of failing on a lock upgrade.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

use super::{
    ConversationState, GroupMove, HistoryPage, HistoryScope, MessageRecord, NewMessage, NewRefreshToken, NewRoom,
    Numbered, RefreshRotation, RoomChanges, RoomInsert, RoomRecord, Rotation, Store, StoreError, StoreResult,
    StoredMessage, UserRecord,
};
use crate::clock::now_ms;
use crate::domain::{
    Bounds, Capacity, ConversationKey, Emoji, GroupId, MessageId, MessageText, Nick, Reaction, RoomId, RoomTitle,
    UserId,
};

mod changes;
mod conversations;
mod dialect;
mod messages;

pub use self::dialect::Dialect;

use self::messages::{mentions_column, message_from_row};

/// A `clientMsgId` makes `chat.send` idempotent for this long.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 10 * 60 * 1000;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("migrations/mysql");

/// Runs an `INSERT` and returns the auto-increment id it assigned: SQLite's `Any` driver
/// does not report it, so there the statement asks for it with `RETURNING`.
async fn insert_returning_id<'c, E>(
    dialect: Dialect,
    executor: E,
    sql: &str,
    id_column: &str,
    binds: Vec<Bind>,
) -> StoreResult<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let sql = match dialect {
        Dialect::Sqlite => format!("{sql} RETURNING {id_column}"),
        Dialect::MySql => sql.to_owned(),
    };
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = bind.onto(query);
    }
    match dialect {
        Dialect::Sqlite => Ok(query.fetch_one(executor).await?.try_get(0)?),
        Dialect::MySql => {
            query.execute(executor).await?.last_insert_id().ok_or_else(|| StoreError::Corrupt("no insert id".into()))
        }
    }
}

/// Counts statements sent on an open transaction (`ready` counts the rest).
fn in_transaction(statements: u64) {
    crate::metrics::STORE_STATEMENTS.add(statements);
}

/// A value bound to a statement built at run time.
#[derive(Clone)]
enum Bind {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Bind {
    fn onto<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        match self {
            Bind::Int(value) => query.bind(value),
            Bind::Text(value) => query.bind(value),
        }
    }
}

fn text(value: impl AsRef<str>) -> Bind {
    Bind::Text(Some(value.as_ref().to_owned()))
}

fn opt_text<T: AsRef<str>>(value: Option<&T>) -> Bind {
    Bind::Text(value.map(|v| v.as_ref().to_owned()))
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// Set once the schema is known to be current; until then every call tries to migrate,
    /// so a database that is down at start-up is picked up as soon as it is back.
    migrated: std::sync::Arc<tokio::sync::OnceCell<()>>,
    /// See `sqlite_write_turn`.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn corrupt(err: crate::domain::Invalid) -> StoreError {
    StoreError::Corrupt(err.to_string())
}

fn user_from_row(row: &AnyRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        user_id: UserId::parse(&row.try_get::<String, _>("user_id")?).map_err(corrupt)?,
        nick: Nick::from_stored(&row.try_get::<String, _>("nick")?).map_err(corrupt)?,
        group_id: row
            .try_get::<Option<String>, _>("group_id")?
            .as_deref()
            .map(GroupId::parse)
            .transpose()
            .map_err(corrupt)?,
        password_hash: row.try_get("password_hash")?,
    })
}

fn room_from_row(row: &AnyRow) -> StoreResult<RoomRecord> {
    Ok(RoomRecord {
        room_id: RoomId::from_stored(row.try_get("room_id")?),
        title: RoomTitle::parse(&row.try_get::<String, _>("title")?).map_err(corrupt)?,
        password_hash: row.try_get("password_hash")?,
        capacity: Capacity::parse(row.try_get("capacity")?).map_err(corrupt)?,
        owner: UserId::parse(&row.try_get::<String, _>("owner")?).map_err(corrupt)?,
        closed: row.try_get::<Option<i64>, _>("closed_at")?.is_some(),
    })
}

fn is_deadlock(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("40001"))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

const ROOM_COLUMNS: &str = "room_id, title, password_hash, capacity, owner, closed_at";

/// Messages with their senders' nick and group, as `message_from_row` reads them.
const MESSAGES_WITH_SENDERS: &str = "SELECT m.message_id, m.room_id, m.seq, m.group_id, m.sender, m.recipient, m.text, \
     m.created_at, m.edited_at, m.deleted_at, m.mentions, u.nick AS nick, u.group_id AS sender_group \
     FROM messages m JOIN users u ON u.user_id = m.sender";

impl SqlStore {
    /// Opens a pool without connecting: start-up succeeds while the database is down, and
    /// calls fail (as `Backend` errors) until it answers.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let dialect = Dialect::built_for(url)?;
        // Installs exactly the drivers whose cargo features are on.
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets readers run beside the one writer.
                        sqlx::Executor::execute(&mut *conn, "PRAGMA journal_mode = WAL").await?;
                        sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_lazy(url)?;
        let store = Self { pool, dialect, migrated: Default::default(), sqlite_writer: Default::default() };
        match dialect {
            // The embedded file has no migration lock: it is brought up to date before the
            // store is handed out, so that stores opened one after another on one file
            // never migrate it at once. It is local, not a Lambda cold start.
            Dialect::Sqlite => {
                if let Err(err) = store.migrate().await {
                    tracing::warn!(error = %err, "database not ready at start-up; will retry on use");
                }
            }
            // The first connection and the schema check are several round trips: they run
            // beside the rest of the cold start and the wait for the first event, and the
            // first call waits only for what is left of them (or tries again when they failed).
            Dialect::MySql => {
                let early = store.clone();
                tokio::spawn(async move {
                    if let Err(err) = early.migrate().await {
                        tracing::warn!(error = %err, "database not ready at start-up; will retry on use");
                    }
                });
            }
        }
        Ok(store)
    }

    /// Brings the schema up to date once per process; concurrent callers wait for one run.
    async fn migrate(&self) -> StoreResult<()> {
        self.migrated
            .get_or_try_init(|| async {
                match self.dialect {
                    Dialect::Sqlite => Ok(SQLITE_MIGRATIONS.run(&self.pool).await?),
                    Dialect::MySql => self.migrate_mysql().await,
                }
            })
            .await?;
        Ok(())
    }

    /// The MySQL migrations under a lock of their own: sqlx's asks for `GET_LOCK(name, -1)`,
    /// which MariaDB answers at once with NULL and no lock, so two instances starting on a
    /// fresh database would both apply the first migration (a duplicate key in
    /// `_sqlx_migrations`).
    async fn migrate_mysql(&self) -> StoreResult<()> {
        const LOCK: &str = "SELECT GET_LOCK(CONCAT('chatting-migrations:', DATABASE()), 30)";
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar(LOCK).fetch_one(&mut *conn).await?;
        if locked != Some(1) {
            return Err(StoreError::Backend(sqlx::Error::Protocol("no migration lock within 30 s".into())));
        }
        let outcome = MYSQL_MIGRATIONS.run_direct(&mut *conn).await;
        // Closing the connection would release the lock too; a failed release only delays
        // another instance's migration check until this connection goes.
        let _ =
            sqlx::query("SELECT RELEASE_LOCK(CONCAT('chatting-migrations:', DATABASE()))").execute(&mut *conn).await;
        Ok(outcome?)
    }

    /// The pool, once the schema is current.
    async fn ready(&self) -> StoreResult<&AnyPool> {
        self.migrate().await?;
        // Every call is followed by one statement (or a BEGIN); statements inside a
        // transaction count themselves with `in_transaction`.
        crate::metrics::STORE_STATEMENTS.add(1);
        Ok(&self.pool)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn group_move(
        &self,
        user_id: &UserId,
        previous: Option<GroupId>,
        now_in: Option<&GroupId>,
    ) -> StoreResult<GroupMove> {
        let Some(previous) = previous.filter(|p| Some(p) != now_in) else {
            return Ok(GroupMove::default());
        };
        // One statement, so a concurrent join either lands first (group kept) or fails.
        let removed = sqlx::query(
            "DELETE FROM user_groups WHERE group_id = ? AND NOT EXISTS (SELECT 1 FROM users WHERE group_id = ?)",
        )
        .bind(previous.as_str())
        .bind(previous.as_str())
        .execute(self.ready().await?)
        .await?
        .rows_affected()
            > 0;
        tracing::debug!(user = %user_id, group = %previous, removed, "left group");
        Ok(GroupMove { left: Some(previous), left_removed: removed })
    }

    async fn current_group(&self, user_id: &UserId) -> StoreResult<Option<GroupId>> {
        Ok(self.user(user_id).await?.ok_or(StoreError::NotFound)?.group_id)
    }

    /// SQLite has one writer at a time, and a writer that finds the lock taken sleeps (1, 2,
    /// 5, 10 … ms) before it looks again: under load those sleeps become the latency.
    /// Message writers in this process queue here instead, in order and without sleeping.
    async fn sqlite_write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect {
            Dialect::Sqlite => Some(self.sqlite_writer.lock().await),
            Dialect::MySql => None,
        }
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn create_user(&self, user_id: &UserId, nick: &Nick, password_hash: &str) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO users (user_id, password_hash, nick, group_id, created_at) VALUES (?, ?, ?, NULL, ?)",
        )
        .bind(user_id.as_str())
        .bind(password_hash)
        .bind(nick.as_str())
        .bind(now_ms())
        .execute(self.ready().await?)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict),
            Err(err) => Err(err.into()),
        }
    }

    async fn user(&self, user_id: &UserId) -> StoreResult<Option<UserRecord>> {
        sqlx::query("SELECT user_id, nick, group_id, password_hash FROM users WHERE user_id = ?")
            .bind(user_id.as_str())
            .fetch_optional(self.ready().await?)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn users(&self, user_ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; user_ids.len()].join(", ");
        let sql = format!("SELECT user_id, nick, group_id, password_hash FROM users WHERE user_id IN ({placeholders})");
        let mut query = sqlx::query(&sql);
        for user_id in user_ids {
            query = query.bind(user_id.as_str());
        }
        query.fetch_all(self.ready().await?).await?.iter().map(user_from_row).collect()
    }

    async fn set_nick(&self, user_id: &UserId, nick: &Nick) -> StoreResult<()> {
        let updated = sqlx::query("UPDATE users SET nick = ? WHERE user_id = ?")
            .bind(nick.as_str())
            .bind(user_id.as_str())
            .execute(self.ready().await?)
            .await?;
        if updated.rows_affected() == 0 {
            // MySQL counts changed rows: an unchanged nick is still a success.
            return match self.user(user_id).await? {
                Some(_) => Ok(()),
                None => Err(StoreError::NotFound),
            };
        }
        Ok(())
    }

    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_ends_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(token.user_id.as_str())
        .bind(&token.family_id)
        .bind(token.expires_at_ms.min(token.session_ends_at_ms))
        .bind(token.session_ends_at_ms)
        .execute(self.ready().await?)
        .await?;
        Ok(())
    }

    async fn rotate_refresh_token(&self, rotation: &RefreshRotation<'_>) -> StoreResult<Rotation> {
        let now = now_ms();
        let mut tx = self.ready().await?.begin().await?;
        // The conditional update is the whole race: of two concurrent presentations of one
        // token exactly one retires it; the other finds it retired by the same rotation just
        // now and answers alike.
        in_transaction(2);
        let retired = sqlx::query(
            "UPDATE refresh_tokens SET replaced_by = ?, retired_at = ? \
             WHERE token_hash = ? AND replaced_by IS NULL AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(rotation.new_hash)
        .bind(now)
        .bind(rotation.old_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let row = sqlx::query(
            "SELECT user_id, family_id, expires_at, session_ends_at, replaced_by, retired_at, revoked_at \
             FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(rotation.old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            in_transaction(1);
            tx.rollback().await?;
            return Ok(Rotation::Unknown);
        };
        let family_id: String = row.try_get("family_id")?;
        let user_id =
            || -> StoreResult<UserId> { UserId::parse(&row.try_get::<String, _>("user_id")?).map_err(corrupt) };
        if retired == 1 {
            let session_ends_at: i64 = row.try_get("session_ends_at")?;
            in_transaction(2);
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_ends_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(rotation.new_hash)
            .bind(row.try_get::<String, _>("user_id")?)
            .bind(&family_id)
            .bind(rotation.new_expires_at_ms.min(session_ends_at))
            .bind(session_ends_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated { user_id: user_id()?, rotated_at_ms: now });
        }
        in_transaction(1);
        tx.rollback().await?;
        let retired_at: Option<i64> = row.try_get("retired_at")?;
        let replaced_by: Option<String> = row.try_get("replaced_by")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        if let (Some(at), Some(successor), None) = (retired_at, &replaced_by, revoked_at)
            && successor == rotation.new_hash
            && now - at <= rotation.grace_ms
        {
            return Ok(Rotation::Rotated { user_id: user_id()?, rotated_at_ms: at });
        }
        let expires_at: i64 = row.try_get("expires_at")?;
        if expires_at <= now {
            return Ok(Rotation::Expired);
        }
        sqlx::query("UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(&family_id)
            .execute(self.ready().await?)
            .await?;
        Ok(Rotation::Reused)
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<bool> {
        let revoked = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND family_id = \
             (SELECT family_id FROM (SELECT family_id FROM refresh_tokens WHERE token_hash = ?) AS t)",
        )
        .bind(now_ms())
        .bind(token_hash)
        .execute(self.ready().await?)
        .await?
        .rows_affected();
        if revoked > 0 {
            return Ok(true);
        }
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM refresh_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(self.ready().await?)
            .await?;
        Ok(known.is_some())
    }

    async fn create_room(&self, room: &NewRoom) -> StoreResult<RoomRecord> {
        let room_id = insert_returning_id(
            self.dialect,
            self.ready().await?,
            "INSERT INTO rooms (title, password_hash, capacity, owner, last_seq, created_at) VALUES (?, ?, ?, ?, 0, ?)",
            "room_id",
            vec![
                text(&room.title),
                opt_text(room.password_hash.as_ref()),
                Bind::Int(Some(i64::from(room.capacity.get()))),
                text(&room.owner),
                Bind::Int(Some(now_ms())),
            ],
        )
        .await?;
        Ok(RoomRecord {
            room_id: RoomId::from_stored(room_id),
            title: room.title.clone(),
            password_hash: room.password_hash.clone(),
            capacity: room.capacity,
            owner: room.owner.clone(),
            closed: false,
        })
    }

    async fn room(&self, room_id: RoomId) -> StoreResult<Option<RoomRecord>> {
        if room_id.is_lobby() {
            return Ok(None);
        }
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE room_id = ?");
        sqlx::query(&sql)
            .bind(room_id.get())
            .fetch_optional(self.ready().await?)
            .await?
            .as_ref()
            .map(room_from_row)
            .transpose()
    }

    async fn open_rooms(&self) -> StoreResult<Vec<RoomRecord>> {
        let sql =
            format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE room_id > 0 AND closed_at IS NULL ORDER BY room_id DESC");
        sqlx::query(&sql).fetch_all(self.ready().await?).await?.iter().map(room_from_row).collect()
    }

    async fn update_room(&self, room_id: RoomId, changes: &RoomChanges) -> StoreResult<RoomRecord> {
        let (set_password, password_hash) = match &changes.password_hash {
            None => (0_i64, None),
            Some(hash) => (1, hash.clone()),
        };
        sqlx::query(
            "UPDATE rooms SET title = COALESCE(?, title), \
             password_hash = CASE WHEN ? = 1 THEN ? ELSE password_hash END, \
             capacity = COALESCE(?, capacity), owner = COALESCE(?, owner) \
             WHERE room_id = ? AND room_id > 0 AND closed_at IS NULL",
        )
        .bind(changes.title.as_ref().map(|t| t.as_str().to_owned()))
        .bind(set_password)
        .bind(password_hash)
        .bind(changes.capacity.map(|c| i64::from(c.get())))
        .bind(changes.owner.as_ref().map(|o| o.as_str().to_owned()))
        .bind(room_id.get())
        .execute(self.ready().await?)
        .await?;
        match self.room(room_id).await? {
            Some(room) if !room.closed => Ok(room),
            _ => Err(StoreError::NotFound),
        }
    }

    async fn close_room(&self, room_id: RoomId) -> StoreResult<()> {
        sqlx::query("UPDATE rooms SET closed_at = ? WHERE room_id = ? AND room_id > 0 AND closed_at IS NULL")
            .bind(now_ms())
            .bind(room_id.get())
            .execute(self.ready().await?)
            .await?;
        Ok(())
    }

    async fn create_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        let previous = self.current_group(user_id).await?;
        let created = sqlx::query("INSERT INTO user_groups (group_id, created_at) VALUES (?, ?)")
            .bind(group_id.as_str())
            .bind(now_ms())
            .execute(self.ready().await?)
            .await;
        match created {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => return Err(StoreError::Conflict),
            Err(err) => return Err(err.into()),
        }
        sqlx::query("UPDATE users SET group_id = ? WHERE user_id = ?")
            .bind(group_id.as_str())
            .bind(user_id.as_str())
            .execute(self.ready().await?)
            .await?;
        self.group_move(user_id, previous, Some(group_id)).await
    }

    async fn join_group(&self, group_id: &GroupId, user_id: &UserId) -> StoreResult<GroupMove> {
        let previous = self.current_group(user_id).await?;
        if previous.as_ref() == Some(group_id) {
            return Ok(GroupMove::default());
        }
        let joined = sqlx::query(
            "UPDATE users SET group_id = ? WHERE user_id = ? AND EXISTS (SELECT 1 FROM user_groups WHERE group_id = ?)",
        )
        .bind(group_id.as_str())
        .bind(user_id.as_str())
        .bind(group_id.as_str())
        .execute(self.ready().await?)
        .await?;
        if joined.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.group_move(user_id, previous, Some(group_id)).await
    }

    async fn leave_group(&self, user_id: &UserId) -> StoreResult<GroupMove> {
        let previous = self.current_group(user_id).await?;
        if previous.is_none() {
            return Ok(GroupMove::default());
        }
        sqlx::query("UPDATE users SET group_id = NULL WHERE user_id = ?")
            .bind(user_id.as_str())
            .execute(self.ready().await?)
            .await?;
        self.group_move(user_id, previous, None).await
    }

    async fn groups(&self) -> StoreResult<Vec<(GroupId, Vec<UserId>)>> {
        let rows = sqlx::query(
            "SELECT g.group_id AS group_id, u.user_id AS user_id FROM user_groups g \
             LEFT JOIN users u ON u.group_id = g.group_id ORDER BY g.created_at, g.group_id, u.user_id",
        )
        .fetch_all(self.ready().await?)
        .await?;
        let mut groups: Vec<(GroupId, Vec<UserId>)> = Vec::new();
        for row in &rows {
            let group_id = GroupId::parse(&row.try_get::<String, _>("group_id")?).map_err(corrupt)?;
            let member = row
                .try_get::<Option<String>, _>("user_id")?
                .as_deref()
                .map(UserId::parse)
                .transpose()
                .map_err(corrupt)?;
            match groups.last_mut() {
                Some((last, members)) if *last == group_id => members.extend(member),
                _ => groups.push((group_id, member.into_iter().collect())),
            }
        }
        Ok(groups)
    }

    async fn group_members(&self, group_id: &GroupId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT user_id FROM users WHERE group_id = ? ORDER BY user_id")
            .bind(group_id.as_str())
            .fetch_all(self.ready().await?)
            .await?;
        ids.iter().map(|id| UserId::parse(id).map_err(corrupt)).collect()
    }

    async fn append_message(&self, message: &NewMessage) -> StoreResult<StoredMessage> {
        if let Some(room_id) = message.room_id {
            return match self.insert_room_message(message).await? {
                RoomInsert::Duplicate(stored) => Ok(stored),
                RoomInsert::Pending(own) => Ok(self.number_room_messages(room_id, own).await?.own),
            };
        }
        match self.insert_unless_duplicate(message).await? {
            Ok((message_id, sent_at_ms)) => Ok(StoredMessage { message_id, seq: None, sent_at_ms, duplicate: false }),
            Err(duplicate) => Ok(duplicate),
        }
    }

    fn numbers_in_batches(&self) -> bool {
        true
    }

    async fn insert_room_message(&self, message: &NewMessage) -> StoreResult<RoomInsert> {
        match self.insert_unless_duplicate(message).await? {
            Ok((message_id, _)) => Ok(RoomInsert::Pending(message_id)),
            // The first attempt is stored but not numbered yet: whoever numbers it next
            // (this attempt, or that one) delivers it, once.
            Err(StoredMessage { message_id, seq: None, .. }) => Ok(RoomInsert::Pending(message_id)),
            Err(duplicate) => Ok(RoomInsert::Duplicate(duplicate)),
        }
    }

    async fn number_room_messages(&self, room_id: RoomId, own: MessageId) -> StoreResult<Numbered> {
        let mut deadlocks = 0;
        loop {
            match self.number_once(room_id, own).await {
                Ok(Some(numbered)) => return Ok(numbered),
                // More were waiting than one transaction numbers; the caller's is still among them.
                Ok(None) => {}
                // InnoDB chose this transaction to break a deadlock: nothing was written.
                Err(StoreError::Backend(err)) if is_deadlock(&err) && deadlocks < 3 => deadlocks += 1,
                Err(err) => return Err(err),
            }
        }
    }

    async fn history(&self, scope: &HistoryScope, bounds: Bounds, limit: u32) -> StoreResult<HistoryPage> {
        let (filter, key, room_param, text_params): (&str, &str, Option<i64>, Vec<&str>) = match scope {
            // Messages still waiting for their `seq` are not history yet.
            HistoryScope::Room(room_id) => {
                ("m.room_id = ? AND m.seq IS NOT NULL", "m.seq", Some(room_id.get()), vec![])
            }
            HistoryScope::Group(group_id) => ("m.group_id = ?", "m.message_id", None, vec![group_id.as_str()]),
            HistoryScope::Whisper(a, b) => (
                "m.room_id IS NULL AND m.group_id IS NULL AND \
                 ((m.sender = ? AND m.recipient = ?) OR (m.sender = ? AND m.recipient = ?))",
                "m.message_id",
                None,
                vec![a.as_str(), b.as_str(), b.as_str(), a.as_str()],
            ),
        };
        let mut sql = format!("{MESSAGES_WITH_SENDERS} WHERE {filter}");
        if bounds.before.is_some() {
            sql.push_str(&format!(" AND {key} < ?"));
        }
        if bounds.after.is_some() {
            sql.push_str(&format!(" AND {key} > ?"));
        }
        let newest_first = bounds.after.is_none();
        sql.push_str(&format!(" ORDER BY {key} {} LIMIT ?", if newest_first { "DESC" } else { "ASC" }));
        let mut query = sqlx::query(&sql);
        if let Some(room_id) = room_param {
            query = query.bind(room_id);
        }
        for param in text_params {
            query = query.bind(param);
        }
        for bound in [bounds.before, bounds.after].into_iter().flatten() {
            query = query.bind(bound);
        }
        query = query.bind(i64::from(limit) + 1);
        let rows = query.fetch_all(self.ready().await?).await?;
        let has_more = rows.len() > limit as usize;
        let mut messages = rows.iter().take(limit as usize).map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
        if newest_first {
            messages.reverse();
        }
        self.with_reactions(&mut messages).await?;
        Ok(HistoryPage { messages, has_more })
    }

    async fn message(&self, message_id: MessageId) -> StoreResult<Option<MessageRecord>> {
        self.message_by_id(message_id).await
    }

    async fn edit_message(
        &self,
        message_id: MessageId,
        text: &MessageText,
        mentions: &[UserId],
        edited_at_ms: i64,
    ) -> StoreResult<MessageRecord> {
        self.edit(message_id, text, mentions, edited_at_ms).await
    }

    async fn delete_message(&self, message_id: MessageId) -> StoreResult<MessageRecord> {
        self.delete(message_id).await
    }

    async fn react(&self, message_id: MessageId, user: &UserId, emoji: &Emoji, on: bool) -> StoreResult<Vec<Reaction>> {
        self.toggle_reaction(message_id, user, emoji, on).await
    }

    async fn mark_read(&self, user: &UserId, conversation: &ConversationKey, up_to: i64) -> StoreResult<bool> {
        self.raise_read_mark(user, conversation, up_to).await
    }

    async fn conversations(&self, user: &UserId, joined: &[ConversationKey]) -> StoreResult<Vec<ConversationState>> {
        self.conversation_states(user, joined).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_as_such_not_as_another_build() {
        let Err(err) = SqlStore::connect("postgres://chat:hunter2@db/chat", 1).await else {
            panic!("a postgres url was accepted");
        };
        assert_eq!(
            err.to_string(),
            "unsupported database url postgres://***@db/chat: expected sqlite:, mysql:, mariadb: or dynamodb://"
        );
    }
}
