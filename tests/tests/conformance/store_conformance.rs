//! One suite, written once, that every `Store` implementation must pass: SQLite (the
//! embedded default), MariaDB (production) and DynamoDB (the no-VPC profile, on the emulator),
//! each test on its own database or table.

use std::sync::Arc;
use std::time::Duration;

use chatting_e2e::{fresh_dynamodb_table, fresh_mysql_database, unique};
use chatting_shared::domain::{
    Bounds, Capacity, ClientMsgId, GroupId, MessageId, MessageKind, MessageText, Nick, RoomId, RoomTitle, UserId,
};
use chatting_shared::store::{
    GroupMove, HistoryScope, NewMessage, NewRefreshToken, NewRoom, RefreshRotation, RoomChanges, RoomInsert, Rotation,
    Store, StoreError,
};

pub(crate) async fn sqlite() -> Arc<dyn Store> {
    let dir = std::env::temp_dir().join(unique("chatting-store-"));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
    chatting_shared::store::connect(&url, 8).await.unwrap()
}

pub(crate) async fn mysql() -> Arc<dyn Store> {
    let url = fresh_mysql_database().await.unwrap();
    chatting_shared::store::connect(&url, 8).await.unwrap()
}

pub(crate) async fn dynamodb() -> Arc<dyn Store> {
    Arc::new(chatting_shared::store::dynamodb::DynamoStore::new(fresh_dynamodb_table().await.unwrap()))
}

pub(crate) fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

pub(crate) async fn with_users(store: &dyn Store, names: &[&str]) {
    for name in names {
        store.create_user(&user(name), &Nick::parse(name).unwrap(), "hash").await.unwrap();
    }
}

pub(crate) fn room_message(room: RoomId, sender: &str, text: &str) -> NewMessage {
    NewMessage {
        kind: MessageKind::All,
        room_id: Some(room),
        group_id: None,
        sender: user(sender),
        recipient: None,
        text: MessageText::parse(text).unwrap(),
        client_msg_id: None,
        mentions: Vec::new(),
    }
}

pub(crate) async fn new_room(store: &dyn Store, owner: &str, title: &str) -> RoomId {
    store
        .create_room(&NewRoom {
            title: RoomTitle::parse(title).unwrap(),
            password_hash: None,
            capacity: Capacity::DEFAULT,
            owner: user(owner),
        })
        .await
        .unwrap()
        .room_id
}

async fn users_are_unique_and_renamable(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    assert!(matches!(
        store.create_user(&user("ann"), &Nick::parse("Other").unwrap(), "h").await,
        Err(StoreError::Conflict)
    ));
    let ann = store.user(&user("ann")).await.unwrap().unwrap();
    assert_eq!((ann.nick.as_str(), ann.group_id, ann.password_hash.as_str()), ("ann", None, "hash"));
    assert!(store.user(&user("nobody")).await.unwrap().is_none());
    store.set_nick(&user("ann"), &Nick::parse("Annie").unwrap()).await.unwrap();
    store.set_nick(&user("ann"), &Nick::parse("Annie").unwrap()).await.unwrap();
    let mut both: Vec<String> = store
        .users(&[user("ann"), user("bob"), user("nobody")])
        .await
        .unwrap()
        .iter()
        .map(|u| u.nick.to_string())
        .collect();
    both.sort();
    assert_eq!(both, ["Annie", "bob"]);
    assert!(matches!(store.set_nick(&user("nobody"), &Nick::parse("x").unwrap()).await, Err(StoreError::NotFound)));
}

fn refresh(hash: &str, family: &str, expires_at_ms: i64) -> NewRefreshToken {
    let session_ends_at_ms = chatting_shared::clock::now_ms() + 3_600_000;
    NewRefreshToken {
        token_hash: hash.into(),
        user_id: user("ann"),
        family_id: family.into(),
        expires_at_ms,
        session_ends_at_ms,
    }
}

fn rotation<'a>(old_hash: &'a str, new_hash: &'a str, new_expires_at_ms: i64) -> RefreshRotation<'a> {
    RefreshRotation { old_hash, new_hash, new_expires_at_ms, grace_ms: 10_000 }
}

fn rotated(outcome: Rotation) -> i64 {
    match outcome {
        Rotation::Rotated { user_id, rotated_at_ms } if user_id == user("ann") => rotated_at_ms,
        other => panic!("expected a rotation of ann's token, got {other:?}"),
    }
}

async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let later = chatting_shared::clock::now_ms() + 60_000;
    store.insert_refresh_token(&refresh("t1", "f1", later)).await.unwrap();
    let at = rotated(store.rotate_refresh_token(&rotation("t1", "t2", later)).await.unwrap());
    // A retry of the same rotation within the grace window: the same answer, no revocation.
    assert_eq!(rotated(store.rotate_refresh_token(&rotation("t1", "t2", later)).await.unwrap()), at, "retried");
    // Any other successor is reuse, and so is the same one once the grace window has passed.
    assert_eq!(store.rotate_refresh_token(&rotation("t1", "t3", later)).await.unwrap(), Rotation::Reused);
    assert_eq!(
        store.rotate_refresh_token(&rotation("t1", "t2", later)).await.unwrap(),
        Rotation::Reused,
        "family revoked"
    );
    assert_eq!(
        store.rotate_refresh_token(&rotation("t2", "t4", later)).await.unwrap(),
        Rotation::Reused,
        "t2 died with its family"
    );
    assert_eq!(store.rotate_refresh_token(&rotation("nope", "t5", later)).await.unwrap(), Rotation::Unknown);

    store.insert_refresh_token(&refresh("g1", "fg", later)).await.unwrap();
    rotated(store.rotate_refresh_token(&rotation("g1", "g2", later)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let no_grace = RefreshRotation { grace_ms: 20, ..rotation("g1", "g2", later) };
    assert_eq!(store.rotate_refresh_token(&no_grace).await.unwrap(), Rotation::Reused, "after the grace window");

    store.insert_refresh_token(&refresh("old", "f2", chatting_shared::clock::now_ms() - 1)).await.unwrap();
    assert_eq!(store.rotate_refresh_token(&rotation("old", "t6", later)).await.unwrap(), Rotation::Expired);

    store.insert_refresh_token(&refresh("live", "f3", later)).await.unwrap();
    assert!(store.revoke_refresh_family("live").await.unwrap());
    assert_eq!(store.rotate_refresh_token(&rotation("live", "t7", later)).await.unwrap(), Rotation::Reused);
    assert!(!store.revoke_refresh_family("never-issued").await.unwrap());
}

/// A session ends at its absolute end however often it is rotated: every successor expires
/// by then.
async fn rotation_never_extends_a_session_beyond_its_end(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let now = chatting_shared::clock::now_ms();
    let token = NewRefreshToken { session_ends_at_ms: now + 400, ..refresh("s1", "fs", now + 60_000) };
    store.insert_refresh_token(&token).await.unwrap();
    rotated(store.rotate_refresh_token(&rotation("s1", "s2", now + 60_000)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = chatting_shared::clock::now_ms() + 60_000;
    assert_eq!(store.rotate_refresh_token(&rotation("s2", "s3", later)).await.unwrap(), Rotation::Expired);
    let ended = NewRefreshToken { session_ends_at_ms: now - 1, ..refresh("e1", "fe", now + 60_000) };
    store.insert_refresh_token(&ended).await.unwrap();
    assert_eq!(
        store.rotate_refresh_token(&rotation("e1", "e2", later)).await.unwrap(),
        Rotation::Expired,
        "born ended"
    );
}

async fn concurrent_rotation_of_one_token_succeeds_once(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let later = chatting_shared::clock::now_ms() + 60_000;
    store.insert_refresh_token(&refresh("race", "f", later)).await.unwrap();
    let attempts = (0..10).map(|i| {
        let store = store.clone();
        async move { store.rotate_refresh_token(&rotation("race", &format!("next{i}"), later)).await.unwrap() }
    });
    let outcomes = futures::future::join_all(attempts).await;
    assert_eq!(outcomes.iter().filter(|o| matches!(o, Rotation::Rotated { .. })).count(), 1, "{outcomes:?}");
}

/// Two tabs refreshing one token at once name the same successor: both get it.
async fn concurrent_retries_of_one_rotation_all_get_its_answer(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let later = chatting_shared::clock::now_ms() + 60_000;
    store.insert_refresh_token(&refresh("tabs", "ft", later)).await.unwrap();
    let attempts = (0..10).map(|_| {
        let store = store.clone();
        async move { store.rotate_refresh_token(&rotation("tabs", "tabs-next", later)).await.unwrap() }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let times: std::collections::BTreeSet<i64> = outcomes.into_iter().map(rotated).collect();
    assert_eq!(times.len(), 1, "one rotation, answered ten times: {times:?}");
    rotated(store.rotate_refresh_token(&rotation("tabs-next", "tabs-after", later)).await.unwrap());
}

async fn rooms_open_change_and_close(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let first = new_room(&*store, "ann", "First").await;
    let second = store
        .create_room(&NewRoom {
            title: RoomTitle::parse("Second").unwrap(),
            password_hash: Some("secret-hash".into()),
            capacity: Capacity::parse(3).unwrap(),
            owner: user("bob"),
        })
        .await
        .unwrap();
    assert!(first.get() >= 1 && second.room_id.get() > first.get());
    let open: Vec<RoomId> = store.open_rooms().await.unwrap().iter().map(|r| r.room_id).collect();
    assert_eq!(open, [second.room_id, first], "newest first, lobby not listed");

    let changed = store
        .update_room(
            second.room_id,
            &RoomChanges { title: Some(RoomTitle::parse("Renamed").unwrap()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.title.as_str(), changed.password_hash.as_deref(), changed.capacity.get()),
        ("Renamed", Some("secret-hash"), 3)
    );
    let changed = store
        .update_room(
            second.room_id,
            &RoomChanges {
                password_hash: Some(None),
                capacity: Some(Capacity::parse(5).unwrap()),
                owner: Some(user("ann")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((changed.password_hash, changed.capacity.get(), changed.owner.as_str()), (None, 5, "ann"));

    store.close_room(first).await.unwrap();
    assert!(store.room(first).await.unwrap().unwrap().closed);
    assert_eq!(store.open_rooms().await.unwrap().len(), 1);
    assert!(matches!(store.update_room(first, &RoomChanges::default()).await, Err(StoreError::NotFound)));
    assert!(store.room(RoomId::LOBBY).await.unwrap().is_none(), "the lobby is not a room");
}

async fn groups_hold_each_user_once_and_vanish_when_empty(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let (red, blue) = (GroupId::parse("red").unwrap(), GroupId::parse("blue").unwrap());
    assert_eq!(store.create_group(&red, &user("ann")).await.unwrap(), GroupMove::default());
    assert!(matches!(store.create_group(&red, &user("bob")).await, Err(StoreError::Conflict)));
    assert!(matches!(
        store.join_group(&GroupId::parse("none").unwrap(), &user("bob")).await,
        Err(StoreError::NotFound)
    ));
    store.join_group(&red, &user("bob")).await.unwrap();
    assert_eq!(store.group_members(&red).await.unwrap(), [user("ann"), user("bob")]);

    let moved = store.create_group(&blue, &user("ann")).await.unwrap();
    assert_eq!(moved, GroupMove { left: Some(red.clone()), left_removed: false });
    let moved = store.leave_group(&user("bob")).await.unwrap();
    assert_eq!(moved, GroupMove { left: Some(red.clone()), left_removed: true });
    assert_eq!(store.leave_group(&user("bob")).await.unwrap(), GroupMove::default());
    let groups = store.groups().await.unwrap();
    assert_eq!(groups, [(blue.clone(), vec![user("ann")])]);
    assert_eq!(store.user(&user("ann")).await.unwrap().unwrap().group_id, Some(blue));
    store.create_group(&red, &user("bob")).await.expect("a removed group's id is free again");
}

async fn room_messages_are_numbered_per_room(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let room = new_room(&*store, "ann", "Numbers").await;
    let mut seqs = Vec::new();
    for i in 0..3 {
        seqs.push(store.append_message(&room_message(room, "ann", &format!("m{i}"))).await.unwrap().seq);
    }
    assert_eq!(seqs, [Some(1), Some(2), Some(3)]);
    let lobby = store.append_message(&room_message(RoomId::LOBBY, "ann", "hello lobby")).await.unwrap();
    assert_eq!(lobby.seq, Some(1), "the lobby counts on its own");
    store.close_room(room).await.unwrap();
    assert!(matches!(store.append_message(&room_message(room, "ann", "late")).await, Err(StoreError::NotFound)));
}

async fn concurrent_appends_get_unique_gapless_seqs(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let room = new_room(&*store, "ann", "Busy").await;
    let appends = (0..50).map(|i| {
        let store = store.clone();
        async move { store.append_message(&room_message(room, "ann", &format!("m{i}"))).await.unwrap() }
    });
    let mut seqs: Vec<i64> = futures::future::join_all(appends).await.iter().filter_map(|m| m.seq).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
}

async fn client_msg_id_makes_sends_idempotent(store: Arc<dyn Store>) {
    with_users(&*store, &["ann"]).await;
    let mut message = room_message(RoomId::LOBBY, "ann", "once");
    message.client_msg_id = Some(ClientMsgId::parse("c-1").unwrap());
    let first = store.append_message(&message).await.unwrap();
    let retry = store.append_message(&message).await.unwrap();
    assert!(!first.duplicate && retry.duplicate);
    assert_eq!((retry.message_id, retry.seq), (first.message_id, first.seq));
    let page = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds::default(), 50).await.unwrap();
    assert_eq!(page.messages.len(), 1);
}

async fn history_pages_without_gaps_or_doubles(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob", "cat"]).await;
    for i in 1..=7 {
        store.append_message(&room_message(RoomId::LOBBY, "ann", &format!("m{i}"))).await.unwrap();
    }
    let scope = HistoryScope::Room(RoomId::LOBBY);
    let seqs =
        |page: &chatting_shared::store::HistoryPage| page.messages.iter().map(|m| m.seq.unwrap()).collect::<Vec<_>>();
    let newest = store.history(&scope, Bounds::default(), 3).await.unwrap();
    assert_eq!((seqs(&newest), newest.has_more), (vec![5, 6, 7], true));
    let older = store.history(&scope, Bounds { before: Some(5), after: None }, 3).await.unwrap();
    assert_eq!((seqs(&older), older.has_more), (vec![2, 3, 4], true));
    let oldest = store.history(&scope, Bounds { before: Some(2), after: None }, 3).await.unwrap();
    assert_eq!((seqs(&oldest), oldest.has_more), (vec![1], false));
    let missed = store.history(&scope, Bounds { before: None, after: Some(4) }, 2).await.unwrap();
    assert_eq!((seqs(&missed), missed.has_more), (vec![5, 6], true));
    let inside = store.history(&scope, Bounds { before: Some(6), after: Some(2) }, 10).await.unwrap();
    assert_eq!((seqs(&inside), inside.has_more), (vec![3, 4, 5], false));

    for (from, to, text) in
        [("ann", "bob", "psst"), ("bob", "ann", "what"), ("ann", "cat", "other"), ("bob", "ann", "ok")]
    {
        let mut whisper = room_message(RoomId::LOBBY, from, text);
        (whisper.kind, whisper.room_id, whisper.recipient) = (MessageKind::Whisper, None, Some(user(to)));
        store.append_message(&whisper).await.unwrap();
    }
    let talk = store.history(&HistoryScope::Whisper(user("bob"), user("ann")), Bounds::default(), 50).await.unwrap();
    let texts: Vec<&str> = talk.messages.iter().map(|m| m.text.as_ref().unwrap().as_str()).collect();
    assert_eq!(texts, ["psst", "what", "ok"]);
    assert!(talk.messages.iter().all(|m| m.kind == MessageKind::Whisper && m.seq.is_none()));
    let first_id = talk.messages[0].message_id.get();
    let after_first = store
        .history(&HistoryScope::Whisper(user("ann"), user("bob")), Bounds { before: None, after: Some(first_id) }, 1)
        .await
        .unwrap();
    assert_eq!((after_first.messages[0].text.as_ref().unwrap().as_str(), after_first.has_more), ("what", true));

    let red = GroupId::parse("red").unwrap();
    store.create_group(&red, &user("cat")).await.unwrap();
    let mut said = room_message(RoomId::LOBBY, "cat", "team!");
    (said.kind, said.room_id, said.group_id) = (MessageKind::Group, None, Some(red.clone()));
    store.append_message(&said).await.unwrap();
    let group = store.history(&HistoryScope::Group(red.clone()), Bounds::default(), 50).await.unwrap();
    assert_eq!(group.messages.len(), 1);
    let message = &group.messages[0];
    assert_eq!(
        (message.kind, message.group_id.as_ref(), message.sender_group.as_ref()),
        (MessageKind::Group, Some(&red), Some(&red))
    );
}

/// The batch numbering of the SQL stores: messages stored while others wait are numbered
/// together by whoever numbers next, each once, in storing order.
async fn waiting_messages_are_numbered_together_in_order(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let room = new_room(&*store, "ann", "Batch").await;
    assert!(store.numbers_in_batches());
    store.append_message(&room_message(room, "ann", "first")).await.unwrap();
    let mut waiting = Vec::new();
    for (i, sender) in ["ann", "bob", "ann", "bob"].iter().enumerate() {
        match store.insert_room_message(&room_message(room, sender, &format!("w{i}"))).await.unwrap() {
            RoomInsert::Pending(id) => waiting.push(id),
            RoomInsert::Duplicate(_) => panic!("no clientMsgId, no duplicate"),
        }
    }
    let history = store.history(&HistoryScope::Room(room), Bounds::default(), 50).await.unwrap();
    assert_eq!(history.messages.len(), 1, "messages waiting for their seq are not history yet");

    let numbered = store.number_room_messages(room, waiting[2]).await.unwrap();
    assert_eq!(numbered.own.seq, Some(4), "the third waiting message follows the first two");
    let batch: Vec<(i64, &str, &str)> = numbered
        .batch
        .iter()
        .map(|m| (m.seq.unwrap(), m.text.as_ref().unwrap().as_str(), m.sender_nick.as_str()))
        .collect();
    assert_eq!(batch, [(2, "w0", "ann"), (3, "w1", "bob"), (4, "w2", "ann"), (5, "w3", "bob")]);

    let later = store.number_room_messages(room, waiting[0]).await.unwrap();
    assert_eq!(later.own.seq, Some(2), "a message numbered by a neighbour keeps that number");
    assert!(later.batch.is_empty(), "nothing is numbered (and so delivered) twice");
    let history = store.history(&HistoryScope::Room(room), Bounds::default(), 50).await.unwrap();
    let seqs: Vec<i64> = history.messages.iter().filter_map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);

    let orphan = match store.insert_room_message(&room_message(room, "bob", "too late")).await.unwrap() {
        RoomInsert::Pending(id) => id,
        RoomInsert::Duplicate(_) => panic!("no clientMsgId, no duplicate"),
    };
    store.close_room(room).await.unwrap();
    assert!(matches!(store.number_room_messages(room, orphan).await, Err(StoreError::NotFound)));
}

/// Two stores on one database, as two Lambda instances: 60 senders at once, each message
/// numbered exactly once across every batch, seqs gap-free, each sender told its own.
async fn two_instances_number_one_room_without_gaps_or_doubles(first: Arc<dyn Store>, second: Arc<dyn Store>) {
    with_users(&*first, &["ann"]).await;
    let room = new_room(&*first, "ann", "Shared").await;
    let sends = (0..60).map(|i| {
        let store = if i % 2 == 0 { first.clone() } else { second.clone() };
        async move {
            let RoomInsert::Pending(own) =
                store.insert_room_message(&room_message(room, "ann", &format!("m{i}"))).await.unwrap()
            else {
                panic!("no clientMsgId, no duplicate")
            };
            let numbered = store.number_room_messages(room, own).await.unwrap();
            (own, numbered)
        }
    });
    let results = futures::future::join_all(sends).await;
    let mut delivered: Vec<(i64, MessageId)> =
        results.iter().flat_map(|(_, n)| n.batch.iter().map(|m| (m.seq.unwrap(), m.message_id))).collect();
    delivered.sort();
    assert_eq!(delivered.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=60).collect::<Vec<_>>());
    let mut ids: Vec<MessageId> = delivered.iter().map(|(_, id)| *id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "every message in exactly one batch");
    for (own, numbered) in &results {
        let in_batch = delivered.iter().find(|(_, id)| id == own).map(|(seq, _)| *seq);
        assert_eq!(numbered.own.seq, in_batch, "each sender is told the seq its message was numbered with");
    }
}

mod batch_numbering {
    #[tokio::test]
    async fn on_sqlite() {
        super::waiting_messages_are_numbered_together_in_order(super::sqlite().await).await
    }

    #[tokio::test]
    async fn on_mysql() {
        super::waiting_messages_are_numbered_together_in_order(super::mysql().await).await
    }

    #[tokio::test]
    async fn two_instances_on_sqlite() {
        let dir = std::env::temp_dir().join(chatting_e2e::unique("chatting-store-"));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("store.db").display());
        let first = chatting_shared::store::connect(&url, 8).await.unwrap();
        let second = chatting_shared::store::connect(&url, 8).await.unwrap();
        super::two_instances_number_one_room_without_gaps_or_doubles(first, second).await
    }

    #[tokio::test]
    async fn two_instances_on_mysql() {
        let url = chatting_e2e::fresh_mysql_database().await.unwrap();
        let first = chatting_shared::store::connect(&url, 4).await.unwrap();
        let second = chatting_shared::store::connect(&url, 4).await.unwrap();
        super::two_instances_number_one_room_without_gaps_or_doubles(first, second).await
    }
}

conformance!(
    users_are_unique_and_renamable,
    refresh_tokens_rotate_once_and_reuse_revokes_the_family,
    concurrent_rotation_of_one_token_succeeds_once,
    concurrent_retries_of_one_rotation_all_get_its_answer,
    rotation_never_extends_a_session_beyond_its_end,
    rooms_open_change_and_close,
    groups_hold_each_user_once_and_vanish_when_empty,
    room_messages_are_numbered_per_room,
    concurrent_appends_get_unique_gapless_seqs,
    client_msg_id_makes_sends_idempotent,
    history_pages_without_gaps_or_doubles,
);

/// A MariaDB database made by the first schema, with a session open, upgrades in place when
/// the store connects: nothing lost, and the open session rotates (ending, as the migration
/// says, when its current token would have).
#[tokio::test]
async fn a_database_of_the_first_schema_upgrades_with_its_sessions_open() {
    use sqlx::Connection as _;
    let url = fresh_mysql_database().await.unwrap();
    let first = std::env::temp_dir().join(unique("chatting-first-schema-"));
    std::fs::create_dir_all(&first).unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/migrations/mysql");
    std::fs::copy(migrations.join("0001_schema.sql"), first.join("0001_schema.sql")).unwrap();
    let mut db = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::migrate::Migrator::new(first.as_path()).await.unwrap().run(&mut db).await.unwrap();
    let expires_at = chatting_shared::clock::now_ms() + 60_000;
    sqlx::query("INSERT INTO users (user_id, password_hash, nick, created_at) VALUES ('ann', 'hash', 'Ann', 0)")
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ('open', 'ann', 'f', ?)",
    )
    .bind(expires_at)
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();

    let store = chatting_shared::store::connect(&url, 2).await.unwrap();
    assert_eq!(store.user(&user("ann")).await.unwrap().map(|u| u.nick.to_string()), Some("Ann".to_owned()));
    let far = chatting_shared::clock::now_ms() + 3_600_000;
    rotated(store.rotate_refresh_token(&rotation("open", "next", far)).await.unwrap());
    let mut db = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let successor_expires: i64 = sqlx::query_scalar("SELECT expires_at FROM refresh_tokens WHERE token_hash = 'next'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(successor_expires, expires_at, "capped at the session's end, which the migration set");
    let _ = std::fs::remove_dir_all(&first);
}

/// MySQL over TLS with `ssl-mode=VERIFY_IDENTITY`: the server's certificate must chain to the
/// given CA and name the host; another CA is refused, and a server that requires TLS refuses
/// a plain connection.
#[tokio::test]
async fn the_store_speaks_tls_to_mysql_and_verifies_the_server() {
    use chatting_e2e::{MYSQL_TLS_PORT, tls_dir};
    use sqlx::Connection as _;
    let ca = tls_dir().join("ca.crt");
    assert!(ca.exists(), "scripts/tls-services makes {} and starts MariaDB with TLS on {MYSQL_TLS_PORT}", ca.display());
    let verified = |database: &str, ca: &std::path::Path| {
        format!("mysql://root@127.0.0.1:{MYSQL_TLS_PORT}/{database}?ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca.display())
    };
    let database = unique("chatting_tls_");
    let mut admin = sqlx::MySqlConnection::connect(&verified("test", &ca)).await.expect("TLS MariaDB on 3307");
    sqlx::query(&format!("CREATE DATABASE `{database}`")).execute(&mut admin).await.unwrap();

    let store = chatting_shared::store::connect(&verified(&database, &ca), 2).await.unwrap();
    store.create_user(&user("ann"), &Nick::parse("Ann").unwrap(), "hash").await.expect("over TLS");
    assert_eq!(store.user(&user("ann")).await.unwrap().map(|u| u.nick.to_string()), Some("Ann".to_owned()));
    let cipher: (String, String) =
        sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'").fetch_one(&mut admin).await.unwrap();
    assert!(!cipher.1.is_empty(), "the session is encrypted: {cipher:?}");

    let other = chatting_shared::store::connect(&verified(&database, &tls_dir().join("other-ca.crt")), 2).await;
    let refused = match other {
        Err(err) => err.to_string(),
        Ok(store) => store.user(&user("ann")).await.map(|_| ()).expect_err("another CA is refused").to_string(),
    };
    assert!(refused.contains("certificate") || refused.contains("TLS") || refused.contains("tls"), "{refused}");
    let plain = format!("mysql://root@127.0.0.1:{MYSQL_TLS_PORT}/{database}?ssl-mode=DISABLED");
    let plain = match chatting_shared::store::connect(&plain, 2).await {
        Err(err) => Err(err),
        Ok(store) => store.user(&user("ann")).await.map(|_| ()),
    };
    let plain = plain.expect_err("the server requires TLS").to_string();
    println!("another CA: {refused}\nplain: {plain}");
    sqlx::query(&format!("DROP DATABASE `{database}`")).execute(&mut admin).await.unwrap();
}
