//! Databases written by the previous schema upgrade in place when a store of this version
//! opens them: every message still reads as it was, and the version 2 operations work on
//! messages stored before them.

use chatting_e2e::{fresh_mysql_database, unique};
use chatting_shared::domain::{Bounds, ConversationKey, Emoji, MessageId, MessageText, RoomId, UserId};
use chatting_shared::store::{HistoryScope, Store};
use sqlx::Connection as _;

/// The migrations up to `last` of `dialect`, copied aside, as the previous version shipped them.
fn previous_migrations(dialect: &str, last: &str) -> std::path::PathBuf {
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/migrations").join(dialect);
    let to = std::env::temp_dir().join(unique("chatting-previous-schema-"));
    std::fs::create_dir_all(&to).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&from).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names.into_iter().filter(|name| name.as_str() <= last) {
        std::fs::copy(from.join(&name), to.join(&name)).unwrap();
    }
    to
}

/// What the previous version wrote: two users, a group, a room with two messages, a lobby
/// message, a whisper and a group message.
const PREVIOUS_DATA: &[&str] = &[
    "INSERT INTO users (user_id, password_hash, nick, group_id, created_at) VALUES ('ann', 'h', 'Ann', 'red', 0)",
    "INSERT INTO users (user_id, password_hash, nick, group_id, created_at) VALUES ('bob', 'h', 'Bob', NULL, 0)",
    "INSERT INTO user_groups (group_id, created_at) VALUES ('red', 0)",
    "INSERT INTO rooms (room_id, title, capacity, owner, last_seq, created_at) VALUES (5, 'Old', 10, 'ann', 2, 0)",
    "UPDATE rooms SET last_seq = 1 WHERE room_id = 0",
    "INSERT INTO messages (message_id, room_id, seq, sender, text, created_at) VALUES (10, 5, 1, 'ann', 'first', 1000)",
    "INSERT INTO messages (message_id, room_id, seq, sender, text, created_at) VALUES (11, 5, 2, 'bob', 'second', 2000)",
    "INSERT INTO messages (message_id, room_id, seq, sender, text, created_at) VALUES (12, 0, 1, 'bob', 'lobby', 3000)",
    "INSERT INTO messages (message_id, sender, recipient, text, created_at) VALUES (13, 'bob', 'ann', 'psst', 4000)",
    "INSERT INTO messages (message_id, group_id, sender, text, created_at) VALUES (14, 'red', 'ann', 'team', 5000)",
];

async fn write_previous_version(url: &str, dialect: &str) {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(url).await.unwrap();
    let folder = previous_migrations(dialect, "0002_refresh_sessions.sql");
    sqlx::migrate::Migrator::new(folder.as_path()).await.unwrap().run(&mut db).await.unwrap();
    for statement in PREVIOUS_DATA {
        sqlx::query(statement).execute(&mut db).await.unwrap();
    }
    db.close().await.unwrap();
    let _ = std::fs::remove_dir_all(folder);
}

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

async fn upgrades_in_place_with_every_message_kept(store: std::sync::Arc<dyn Store>) {
    let (ann, bob) = (user("ann"), user("bob"));
    let room = store.history(&HistoryScope::Room(RoomId::from_stored(5)), Bounds::default(), 50).await.unwrap();
    let shown: Vec<(Option<i64>, Option<&str>, &str)> = room
        .messages
        .iter()
        .map(|m| (m.seq, m.text.as_ref().map(MessageText::as_str), m.sender_nick.as_str()))
        .collect();
    assert_eq!(shown, [(Some(1), Some("first"), "Ann"), (Some(2), Some("second"), "Bob")]);
    assert!(room.messages.iter().all(|m| m.edited_at_ms.is_none() && m.reactions.is_empty() && m.mentions.is_empty()));
    let whispers =
        store.history(&HistoryScope::Whisper(ann.clone(), bob.clone()), Bounds::default(), 50).await.unwrap();
    assert_eq!(whispers.messages.iter().map(|m| m.message_id.get()).collect::<Vec<_>>(), [13]);
    let group = store
        .history(&HistoryScope::Group(chatting_shared::domain::GroupId::parse("red").unwrap()), Bounds::default(), 50)
        .await
        .unwrap();
    assert_eq!(group.messages.len(), 1);

    // New numbers follow the old ones.
    let next = store
        .append_message(&chatting_shared::store::NewMessage {
            kind: chatting_shared::domain::MessageKind::All,
            room_id: Some(RoomId::from_stored(5)),
            group_id: None,
            sender: bob.clone(),
            recipient: None,
            text: MessageText::parse("third").unwrap(),
            client_msg_id: None,
            mentions: vec![ann.clone()],
        })
        .await
        .unwrap();
    assert_eq!(next.seq, Some(3));

    // Old messages take edits, reactions and deletes.
    let first = MessageId::from_stored(10);
    let edited = store
        .edit_message(first, &MessageText::parse("first!").unwrap(), std::slice::from_ref(&bob), 9000)
        .await
        .unwrap();
    assert_eq!((edited.text.map(|t| t.as_str().to_owned()), edited.edited_at_ms), (Some("first!".into()), Some(9000)));
    let reactions = store.react(MessageId::from_stored(11), &ann, &Emoji::parse("👍").unwrap(), true).await.unwrap();
    assert_eq!(reactions.len(), 1);
    let deleted = store.delete_message(MessageId::from_stored(12)).await.unwrap();
    assert!(deleted.text.is_none());

    // The old whisper and the room are Ann's conversations; Bob's third message mentions her.
    let lobby_and_room =
        [ConversationKey::Room { room_id: RoomId::LOBBY }, ConversationKey::Room { room_id: RoomId::from_stored(5) }];
    let states = store.conversations(&ann, &lobby_and_room).await.unwrap();
    let unread: Vec<(u32, u32)> = states.iter().map(|s| (s.unread, s.mentions)).collect();
    // Lobby: Bob's message was deleted. Room: "second" and "third" (mentioning her). Whisper: one.
    assert_eq!(unread, [(0, 0), (2, 1), (1, 0)]);
    assert_eq!(states[2].key, ConversationKey::Whisper { with: bob.clone() });
    assert!(store.mark_read(&ann, &states[2].key, 13).await.unwrap());
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_version_upgrades_in_place() {
    let dir = std::env::temp_dir().join(unique("chatting-upgrade-"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
    write_previous_version(&url, "sqlite").await;
    upgrades_in_place_with_every_message_kept(chatting_shared::store::connect(&url, 4).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_mariadb_database_of_the_previous_version_upgrades_in_place() {
    let url = fresh_mysql_database().await.unwrap();
    write_previous_version(&url, "mysql").await;
    upgrades_in_place_with_every_message_kept(chatting_shared::store::connect(&url, 4).await.unwrap()).await;
}
