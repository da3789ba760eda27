//! DynamoDB only: a table written before message locators upgrades in place, partner items
//! are never lowered, and what each new operation costs in requests.

use chatting_shared::domain::{Bounds, ConversationKey, GroupId, MessageId, RoomId};
use chatting_shared::dynamodb::codec::{key, n, s};
use chatting_shared::dynamodb::write::Write;
use chatting_shared::dynamodb::{Item, ItemExt, Table};
use chatting_shared::metrics::DYNAMODB_REQUESTS;
use chatting_shared::store::dynamodb::{DynamoStore, Upgrade};
use chatting_shared::store::{HistoryScope, Store};

use super::super::store_conformance::{room_message, user, with_users};
use super::{emoji, send, text, text_of, whisper};

/// A message item and its id claim as the store wrote them before locators: the claim has a
/// day's `ttl` and no location (`None`: it has expired and is gone).
async fn put_old_message(table: &Table, pk: &str, sk: &str, fields: &[(&str, &str)], id: i64, claim: Option<i64>) {
    let mut item: Item = key(pk, sk);
    for (name, value) in fields {
        item.insert((*name).into(), s(*value));
    }
    item.insert("message_id".into(), n(id));
    item.insert("sent_at".into(), n(id / 1000));
    if pk.starts_with("ROOM#") {
        item.insert("room_id".into(), n(0));
        item.insert("seq".into(), n(1));
    }
    table.write(Write::put(item)).await.unwrap();
    if let Some(ttl) = claim {
        let mut claimed = key(format!("MSGID#{id}"), "MSGID");
        claimed.insert("ttl".into(), n(ttl));
        table.write(Write::put(claimed)).await.unwrap();
    }
}

#[tokio::test]
async fn messages_stored_before_locators_are_found_after_the_upgrade() {
    let store = DynamoStore::new(chatting_e2e::fresh_dynamodb_table().await.unwrap());
    with_users(&store, &["ann", "bob"]).await;
    let table = store.table().clone();
    let now = chatting_shared::clock::now_ms();
    let (lobby_id, whisper_id, group_id) = (now * 1000, now * 1000 + 1, now * 1000 + 2);
    let mut lobby = key("ROOM#0", "META");
    lobby.insert("seq".into(), n(1));
    lobby.insert("room_id".into(), n(0));
    table.write(Write::put(lobby)).await.unwrap();
    let day = now / 1000 + 24 * 3600;
    let room_sk = format!("MSG#{:020}", 1);
    put_old_message(&table, "ROOM#0", &room_sk, &[("sender", "ann"), ("text", "old lobby")], lobby_id, Some(day)).await;
    let whisper_sk = format!("MSG#{whisper_id:016}");
    let fields = [("sender", "bob"), ("recipient", "ann"), ("text", "old whisper")];
    put_old_message(&table, "WHISPER#ann#bob", &whisper_sk, &fields, whisper_id, Some(day)).await;
    let group_sk = format!("MSG#{group_id:016}");
    let fields = [("sender", "bob"), ("group_id", "red"), ("text", "old group")];
    put_old_message(&table, "GROUPMSG#red", &group_sk, &fields, group_id, None).await;
    let (lobby_id, whisper_id, group_id) =
        (MessageId::from_stored(lobby_id), MessageId::from_stored(whisper_id), MessageId::from_stored(group_id));
    assert!(store.message(lobby_id).await.unwrap().is_none(), "not locatable before the upgrade");

    assert_eq!(store.upgrade().await.unwrap(), Upgrade::Done { messages: 3 });
    assert_eq!(store.upgrade().await.unwrap(), Upgrade::Done { messages: 0 }, "once done, done for good");
    let locator = table.get_item(key(format!("MSGID#{}", lobby_id.get()), "MSGID")).await.unwrap().unwrap();
    assert_eq!((locator.string("at_pk"), locator.contains_key("ttl")), (Some("ROOM#0"), false), "made permanent");

    let edited = store.edit_message(lobby_id, &text("new lobby"), &[user("bob")], 5).await.unwrap();
    assert_eq!((text_of(&edited), edited.seq, edited.sender.as_str()), (Some("new lobby"), Some(1), "ann"));
    let reactions = store.react(whisper_id, &user("ann"), &emoji("👍"), true).await.unwrap();
    assert_eq!((reactions.len(), reactions[0].count), (1, 1));
    let deleted = store.delete_message(group_id).await.unwrap();
    assert_eq!((deleted.text.clone(), deleted.group_id.clone()), (None, Some(GroupId::parse("red").unwrap())));

    send(&store, room_message(RoomId::LOBBY, "bob", "new one")).await;
    let page = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds::default(), 10).await.unwrap();
    let seen: Vec<_> = page.messages.iter().map(|m| (m.seq, text_of(m).map(str::to_owned))).collect();
    assert_eq!(seen, [(Some(1), Some("new lobby".into())), (Some(2), Some("new one".into()))], "nothing lost");
    let talk = store.history(&HistoryScope::Whisper(user("ann"), user("bob")), Bounds::default(), 10).await.unwrap();
    assert_eq!(
        talk.messages.iter().map(|m| text_of(m).map(str::to_owned)).collect::<Vec<_>>(),
        [Some("old whisper".into())]
    );

    let states = store.conversations(&user("ann"), &[ConversationKey::Room { room_id: RoomId::LOBBY }]).await.unwrap();
    let partner = &states[1];
    assert_eq!(partner.key, ConversationKey::Whisper { with: user("bob") }, "old whispers make partners");
    assert_eq!((partner.unread, partner.last.as_ref().map(|m| m.message_id)), (1, Some(whisper_id)));
}

/// One instance at a time: a live lease of another instance is left alone, an expired one
/// (an instance that stopped midway) is taken over and the upgrade finished.
#[tokio::test]
async fn the_upgrade_waits_for_a_live_lease_and_takes_over_an_expired_one() {
    let store = DynamoStore::new(chatting_e2e::fresh_dynamodb_table().await.unwrap());
    with_users(&store, &["ann"]).await;
    let table = store.table().clone();
    let id = chatting_shared::clock::now_ms() * 1000;
    let sk = format!("MSG#{:020}", 1);
    put_old_message(&table, "ROOM#0", &sk, &[("sender", "ann"), ("text", "old")], id, None).await;
    let lease = |until: i64| {
        let mut state = key("SCHEMA", "MESSAGE_LOCATORS");
        state.insert("owner".into(), s("another-instance"));
        state.insert("lease_until".into(), n(until));
        Write::put(state)
    };
    let now = chatting_shared::clock::now_ms();
    table.write(lease(now + 60_000)).await.unwrap();
    assert_eq!(store.upgrade().await.unwrap(), Upgrade::Unfinished { messages: 0 });
    assert!(store.message(MessageId::from_stored(id)).await.unwrap().is_none(), "left to the lease's holder");
    table.write(lease(now - 1)).await.unwrap();
    assert_eq!(store.upgrade().await.unwrap(), Upgrade::Done { messages: 1 });
    let found = store.message(MessageId::from_stored(id)).await.unwrap().unwrap();
    assert_eq!((text_of(&found), found.seq), (Some("old"), Some(1)));
}

/// A partner item already raised past a whisper's id (another instance's later whisper, or
/// clocks apart) stays as it is, and the whisper is stored all the same.
#[tokio::test]
async fn a_whisper_never_lowers_a_partner_item() {
    let store = DynamoStore::new(chatting_e2e::fresh_dynamodb_table().await.unwrap());
    with_users(&store, &["ann", "bob"]).await;
    let table = store.table().clone();
    let later = (chatting_shared::clock::now_ms() + 3_600_000) * 1000;
    let mut raised = key("USER#ann", "PARTNER#bob");
    raised.insert("last_id".into(), n(later));
    table.write(Write::put(raised)).await.unwrap();
    let id = send(&store, whisper("ann", "bob", "earlier")).await;
    let last_id = |user: &'static str, partner: &'static str| {
        let table = table.clone();
        async move {
            let item = table.get_item(key(format!("USER#{user}"), format!("PARTNER#{partner}"))).await.unwrap();
            item.and_then(|item| item.number("last_id").unwrap())
        }
    };
    assert_eq!(last_id("ann", "bob").await, Some(later), "not lowered");
    assert_eq!(last_id("bob", "ann").await, Some(id.get()), "the other side raised");
    let talk = store.history(&HistoryScope::Whisper(user("ann"), user("bob")), Bounds::default(), 10).await.unwrap();
    assert_eq!(talk.messages.iter().map(|m| m.message_id).collect::<Vec<_>>(), [id]);
}

/// Requests per operation, uncontended (nextest runs each test in its own process, so the
/// counter is this test's alone).
#[tokio::test]
async fn each_operation_costs_a_known_number_of_requests() {
    let store = DynamoStore::new(chatting_e2e::fresh_dynamodb_table().await.unwrap());
    with_users(&store, &["ann", "bob", "cat"]).await;
    let id = send(&store, room_message(RoomId::LOBBY, "bob", "count me")).await;
    send(&store, whisper("bob", "ann", "psst")).await;
    send(&store, whisper("ann", "cat", "hey")).await;
    let lobby = ConversationKey::Room { room_id: RoomId::LOBBY };
    let costs = [
        ("message", requests(store.message(id)).await),
        ("edit_message", requests(store.edit_message(id, &text("edited"), &[], 1)).await),
        ("react", requests(store.react(id, &user("ann"), &emoji("👍"), true)).await),
        ("react (repeat)", requests(store.react(id, &user("ann"), &emoji("👍"), true)).await),
        ("mark_read", requests(store.mark_read(&user("ann"), &lobby, 1)).await),
        (
            "conversations (lobby read, 2 partners)",
            requests(store.conversations(&user("ann"), std::slice::from_ref(&lobby))).await,
        ),
        ("delete_message", requests(store.delete_message(id)).await),
        ("whisper append", requests(store.append_message(&whisper("cat", "ann", "back"))).await),
    ];
    println!("{costs:#?}");
    let counts: Vec<u64> = costs.iter().map(|(_, count)| *count).collect();
    // conversations: marks, partners, the lobby's last (read: no unread query), each
    // partner's last and unread, the senders.
    assert_eq!(counts, [3, 3, 3, 2, 1, 1 + 1 + 1 + 2 * 2 + 1, 3, 1]);
}

async fn requests<T>(operation: impl std::future::Future<Output = chatting_shared::store::StoreResult<T>>) -> u64 {
    let before = DYNAMODB_REQUESTS.get();
    operation.await.unwrap();
    DYNAMODB_REQUESTS.get() - before
}
