//! What happens to messages after they are sent (edits, deletes, reactions) and what readers
//! have read (read marks, `chat.conversations`), on every `Store`: one suite, as
//! `store_conformance`, whose helpers it shares.

use std::sync::Arc;

use chatting_shared::domain::{
    Bounds, ConversationKey, Emoji, GroupId, MessageId, MessageKind, MessageText, RoomId, UserId,
};
use chatting_shared::store::{ConversationState, HistoryScope, NewMessage, Store, StoreError, UNREAD_COUNT_CAP};

use super::store_conformance::{dynamodb, mysql, new_room, room_message, sqlite, user, with_users};

fn text(raw: &str) -> MessageText {
    MessageText::parse(raw).unwrap()
}

fn emoji(raw: &str) -> Emoji {
    Emoji::parse(raw).unwrap()
}

fn mentioning(mut message: NewMessage, users: &[&str]) -> NewMessage {
    message.mentions = users.iter().map(|name| user(name)).collect();
    message
}

fn whisper(from: &str, to: &str, said: &str) -> NewMessage {
    let mut message = room_message(RoomId::LOBBY, from, said);
    (message.kind, message.room_id, message.recipient) = (MessageKind::Whisper, None, Some(user(to)));
    message
}

fn group_message(group: &GroupId, from: &str, said: &str) -> NewMessage {
    let mut message = room_message(RoomId::LOBBY, from, said);
    (message.kind, message.room_id, message.group_id) = (MessageKind::Group, None, Some(group.clone()));
    message
}

async fn send(store: &dyn Store, message: NewMessage) -> MessageId {
    store.append_message(&message).await.unwrap().message_id
}

/// A message id no store has given: ids are far above the first few.
fn missing() -> MessageId {
    MessageId::from_stored(42)
}

fn text_of(record: &chatting_shared::store::MessageRecord) -> Option<&str> {
    record.text.as_ref().map(MessageText::as_str)
}

async fn edits_replace_text_and_mentions(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob", "cat"]).await;
    let id = send(&*store, mentioning(room_message(RoomId::LOBBY, "ann", "hi @bob"), &["bob"])).await;
    let sent = store.message(id).await.unwrap().unwrap();
    assert_eq!((text_of(&sent), sent.mentions.clone(), sent.edited_at_ms), (Some("hi @bob"), vec![user("bob")], None));

    let edited = store.edit_message(id, &text("hi @cat"), &[user("cat")], 1_234).await.unwrap();
    assert_eq!(
        (text_of(&edited), edited.mentions.clone(), edited.edited_at_ms),
        (Some("hi @cat"), vec![user("cat")], Some(1_234))
    );
    assert_eq!((edited.message_id, edited.seq, edited.sent_at_ms), (id, sent.seq, sent.sent_at_ms));
    let page = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds::default(), 10).await.unwrap();
    let shown = &page.messages[0];
    assert_eq!(
        (text_of(shown), shown.mentions.clone(), shown.edited_at_ms),
        (Some("hi @cat"), vec![user("cat")], Some(1_234))
    );
    let unmentioned = store.edit_message(id, &text("hi all"), &[], 2_000).await.unwrap();
    assert!(unmentioned.mentions.is_empty(), "an edit without mentions clears them");

    assert!(matches!(store.edit_message(missing(), &text("x"), &[], 1).await, Err(StoreError::NotFound)));
    store.delete_message(id).await.unwrap();
    assert!(matches!(store.edit_message(id, &text("back"), &[], 3_000).await, Err(StoreError::Conflict)));
    assert_eq!(store.message(id).await.unwrap().unwrap().text, None, "a refused edit changes nothing");
}

async fn deletes_empty_a_message_but_keep_its_place(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let mut ids = Vec::new();
    for said in ["one", "two @bob", "three"] {
        ids.push(send(&*store, mentioning(room_message(RoomId::LOBBY, "ann", said), &["bob"])).await);
    }
    store.react(ids[1], &user("bob"), &emoji("👍"), true).await.unwrap();
    let before = store.message(ids[1]).await.unwrap().unwrap();
    let deleted = store.delete_message(ids[1]).await.unwrap();
    assert_eq!((deleted.text.clone(), deleted.reactions.len(), deleted.mentions.len()), (None, 0, 0));
    assert_eq!(
        (deleted.message_id, deleted.seq, deleted.sender.clone(), deleted.sent_at_ms, deleted.room_id),
        (before.message_id, before.seq, before.sender.clone(), before.sent_at_ms, before.room_id)
    );
    let again = store.delete_message(ids[1]).await.unwrap();
    assert_eq!((again.text, again.seq), (None, before.seq), "deleting again changes nothing");
    assert!(matches!(store.delete_message(missing()).await, Err(StoreError::NotFound)));

    let resumed = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds { before: None, after: Some(0) }, 10).await;
    let resumed = resumed.unwrap();
    let seen: Vec<(i64, Option<&str>)> = resumed.messages.iter().map(|m| (m.seq.unwrap(), text_of(m))).collect();
    assert_eq!(seen, [(1, Some("one")), (2, None), (3, Some("three"))], "a resume sees every seq");
    assert!(resumed.messages[1].reactions.is_empty() && resumed.messages[1].mentions.is_empty());

    let psst = send(&*store, whisper("ann", "bob", "psst")).await;
    store.delete_message(psst).await.unwrap();
    let talk = store.history(&HistoryScope::Whisper(user("bob"), user("ann")), Bounds::default(), 10).await.unwrap();
    assert_eq!(talk.messages.iter().map(|m| (m.message_id, m.text.is_none())).collect::<Vec<_>>(), [(psst, true)]);
}

async fn reactions_toggle_and_repeat_as_no_ops(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let id = send(&*store, room_message(RoomId::LOBBY, "ann", "react to me")).await;
    let (up, heart) = (emoji("👍"), emoji("❤️"));
    let tally = |reactions: Vec<chatting_shared::domain::Reaction>| {
        reactions.into_iter().map(|r| (r.emoji.to_string(), r.count, r.users)).collect::<Vec<_>>()
    };
    assert_eq!(tally(store.react(id, &user("ann"), &up, true).await.unwrap()), [("👍".into(), 1, vec![user("ann")])]);
    assert_eq!(tally(store.react(id, &user("ann"), &up, true).await.unwrap()), [("👍".into(), 1, vec![user("ann")])]);
    store.react(id, &user("bob"), &heart, true).await.unwrap();
    let both = tally(store.react(id, &user("bob"), &up, true).await.unwrap());
    assert_eq!(both, [("👍".into(), 2, vec![user("ann"), user("bob")]), ("❤️".into(), 1, vec![user("bob")])]);
    assert_eq!(tally(store.message(id).await.unwrap().unwrap().reactions), both, "read back as answered");
    let page = store.history(&HistoryScope::Room(RoomId::LOBBY), Bounds::default(), 10).await.unwrap();
    assert_eq!(tally(page.messages[0].reactions.clone()), both, "history shows them");

    let mut off = tally(store.react(id, &user("ann"), &up, false).await.unwrap());
    // Which of bob's two comes first depends on whether they fell in one millisecond.
    off.sort();
    assert_eq!(off, [("❤️".into(), 1, vec![user("bob")]), ("👍".into(), 1, vec![user("bob")])]);
    let mut again = tally(store.react(id, &user("ann"), &up, false).await.unwrap());
    again.sort();
    assert_eq!(again, off, "removing twice is a no-op");
    assert!(matches!(store.react(missing(), &user("ann"), &up, true).await, Err(StoreError::NotFound)));
    store.delete_message(id).await.unwrap();
    assert!(matches!(store.react(id, &user("ann"), &up, true).await, Err(StoreError::Conflict)));
    assert!(matches!(store.react(id, &user("bob"), &heart, false).await, Err(StoreError::Conflict)));
}

async fn concurrent_reactions_are_all_counted(store: Arc<dyn Store>) {
    let names: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    with_users(&*store, &names).await;
    let id = send(&*store, room_message(RoomId::LOBBY, "user00", "popular")).await;
    let (up, heart) = (emoji("👍"), emoji("❤️"));
    let pair = futures::future::join(
        store.react(id, &user("user00"), &up, true),
        store.react(id, &user("user01"), &heart, true),
    )
    .await;
    pair.0.unwrap();
    pair.1.unwrap();
    let toggles = names.iter().map(|name| {
        let (store, up) = (store.clone(), up.clone());
        async move { store.react(id, &user(name), &up, true).await.unwrap() }
    });
    futures::future::join_all(toggles).await;
    let reactions = store.message(id).await.unwrap().unwrap().reactions;
    let mut counts: Vec<(String, u32, usize)> =
        reactions.iter().map(|r| (r.emoji.to_string(), r.count, r.users.len())).collect();
    // The first two raced: either may be first.
    counts.sort();
    assert_eq!(counts, [("❤️".into(), 1, 1), ("👍".into(), 20, 20)]);
    let offs = names.iter().step_by(2).map(|name| {
        let (store, up) = (store.clone(), up.clone());
        async move { store.react(id, &user(name), &up, false).await.unwrap() }
    });
    futures::future::join_all(offs).await;
    let reactions = store.message(id).await.unwrap().unwrap().reactions;
    let up_reaction = reactions.iter().find(|r| r.emoji == up).unwrap();
    assert_eq!(up_reaction.count, 10, "ten of twenty took theirs back at once");
    let expected: Vec<UserId> = names.iter().skip(1).step_by(2).map(|name| user(name)).collect();
    let mut shown = up_reaction.users.clone();
    shown.sort();
    assert_eq!(shown, expected);
}

async fn distinct_emoji_are_limited_and_users_are_the_oldest(store: Arc<dyn Store>) {
    let names: Vec<String> = (0..25).map(|i| format!("user{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    with_users(&*store, &names).await;
    let id = send(&*store, room_message(RoomId::LOBBY, "user00", "so many")).await;
    let distinct: Vec<Emoji> = (0..20).map(|i| emoji(&format!("e{i}"))).collect();
    for each in &distinct {
        store.react(id, &user("user00"), each, true).await.unwrap();
    }
    assert!(matches!(store.react(id, &user("user01"), &emoji("e20"), true).await, Err(StoreError::LimitReached(_))));
    let more = store.react(id, &user("user01"), &distinct[19], true).await.unwrap();
    let last = more.iter().find(|r| r.emoji == distinct[19]).map(|r| r.count);
    assert_eq!((more.len(), last), (20, Some(2)), "an emoji already there is not a new one");
    store.react(id, &user("user00"), &distinct[0], false).await.unwrap();
    store.react(id, &user("user01"), &emoji("e20"), true).await.expect("a place came free");

    let id = send(&*store, room_message(RoomId::LOBBY, "user00", "liked")).await;
    let up = emoji("👍");
    for name in &names {
        store.react(id, &user(name), &up, true).await.unwrap();
    }
    let reactions = store.react(id, &user("user00"), &up, false).await.unwrap();
    let up_reaction = &reactions[0];
    assert_eq!(up_reaction.count, 24, "count counts every user");
    assert_eq!(up_reaction.users, names[1..21].iter().map(|name| user(name)).collect::<Vec<_>>(), "the oldest 20");
}

async fn read_marks_only_move_forward(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob"]).await;
    let ann = user("ann");
    let lobby = ConversationKey::Room { room_id: RoomId::LOBBY };
    let red = ConversationKey::Group { group_id: GroupId::parse("red").unwrap() };
    let bob = ConversationKey::Whisper { with: user("bob") };
    assert!(store.mark_read(&ann, &lobby, 5).await.unwrap());
    assert!(!store.mark_read(&ann, &lobby, 3).await.unwrap(), "never back");
    assert!(!store.mark_read(&ann, &lobby, 5).await.unwrap(), "the same mark does not move");
    assert!(store.mark_read(&ann, &lobby, 7).await.unwrap());
    assert!(store.mark_read(&ann, &red, 2).await.unwrap(), "each conversation has its own mark");
    assert!(store.mark_read(&ann, &bob, 2).await.unwrap());
    assert!(store.mark_read(&user("bob"), &lobby, 1).await.unwrap(), "and each reader");
    assert!(!store.mark_read(&ann, &bob, 1).await.unwrap());
}

fn summary(state: &ConversationState) -> (ConversationKey, u32, u32, Option<String>) {
    let last = state.last.as_ref().map(|m| text_of(m).unwrap_or("(deleted)").to_owned());
    (state.key.clone(), state.unread, state.mentions, last)
}

async fn conversations_count_unread_and_mentions(store: Arc<dyn Store>) {
    with_users(&*store, &["ann", "bob", "cat", "dan"]).await;
    let (ann, lobby) = (user("ann"), RoomId::LOBBY);
    let room = new_room(&*store, "ann", "Talk").await;
    send(&*store, room_message(lobby, "bob", "l1")).await;
    send(&*store, mentioning(room_message(lobby, "bob", "l2 @ann"), &["ann"])).await;
    send(&*store, mentioning(room_message(lobby, "ann", "l3 @ann"), &["ann"])).await;
    let gone = send(&*store, mentioning(room_message(lobby, "bob", "l4 @ann"), &["ann"])).await;
    store.delete_message(gone).await.unwrap();
    send(&*store, room_message(lobby, "cat", "l5")).await;
    store.mark_read(&ann, &ConversationKey::Room { room_id: lobby }, 1).await.unwrap();
    send(&*store, room_message(room, "ann", "r1")).await;

    let red = GroupId::parse("red").unwrap();
    store.create_group(&red, &ann).await.unwrap();
    store.join_group(&red, &user("bob")).await.unwrap();
    let g1 = send(&*store, group_message(&red, "bob", "g1")).await;
    send(&*store, mentioning(group_message(&red, "bob", "g2 @ann"), &["ann"])).await;
    store.mark_read(&ann, &ConversationKey::Group { group_id: red.clone() }, g1.get()).await.unwrap();

    send(&*store, whisper("ann", "cat", "to cat")).await;
    send(&*store, whisper("dan", "ann", "from dan")).await;
    let w1 = send(&*store, whisper("bob", "ann", "w1")).await;
    send(&*store, mentioning(whisper("bob", "ann", "w2 @ann"), &["ann"])).await;
    send(&*store, whisper("bob", "ann", "w3")).await;
    send(&*store, whisper("ann", "bob", "reply")).await;
    store.mark_read(&ann, &ConversationKey::Whisper { with: user("bob") }, w1.get()).await.unwrap();

    let joined = [
        ConversationKey::Room { room_id: lobby },
        ConversationKey::Room { room_id: room },
        ConversationKey::Group { group_id: red.clone() },
    ];
    let states = store.conversations(&ann, &joined).await.unwrap();
    let seen: Vec<_> = states.iter().map(summary).collect();
    let whisper_with = |name: &str| ConversationKey::Whisper { with: user(name) };
    assert_eq!(
        seen,
        [
            (joined[0].clone(), 2, 1, Some("l5".to_owned())),
            (joined[1].clone(), 0, 0, Some("r1".to_owned())),
            (joined[2].clone(), 1, 1, Some("g2 @ann".to_owned())),
            (whisper_with("bob"), 2, 1, Some("reply".to_owned())),
            (whisper_with("dan"), 1, 0, Some("from dan".to_owned())),
            (whisper_with("cat"), 0, 0, Some("to cat".to_owned())),
        ]
    );
    assert_eq!(states[3].last.as_ref().map(|m| m.sender.clone()), Some(ann.clone()));

    let for_cat = store.conversations(&user("cat"), &[]).await.unwrap();
    assert_eq!(for_cat.iter().map(summary).collect::<Vec<_>>(), [(whisper_with("ann"), 1, 0, Some("to cat".into()))]);
    let quiet = new_room(&*store, "ann", "Quiet").await;
    let empty = store.conversations(&user("dan"), &[ConversationKey::Room { room_id: quiet }]).await.unwrap();
    let empty: Vec<_> = empty.iter().map(summary).collect();
    assert_eq!(
        empty,
        [(ConversationKey::Room { room_id: quiet }, 0, 0, None), (whisper_with("ann"), 0, 0, Some("from dan".into()))]
    );
}

/// One message more than the cap, from others and mentioning the reader: both counts stop
/// at the cap. A group's messages, sent a few at a time (no `seq` to contend for).
async fn unread_counts_stop_at_the_cap(store: Arc<dyn Store>) {
    use futures::StreamExt;
    with_users(&*store, &["ann", "bob"]).await;
    let red = GroupId::parse("red").unwrap();
    store.create_group(&red, &user("ann")).await.unwrap();
    store.join_group(&red, &user("bob")).await.unwrap();
    let sends = (0..=UNREAD_COUNT_CAP).map(|i| {
        let (store, red) = (store.clone(), red.clone());
        async move { send(&*store, mentioning(group_message(&red, "bob", &format!("m{i} @ann")), &["ann"])).await }
    });
    let mut ids: Vec<MessageId> = futures::stream::iter(sends).buffer_unordered(16).collect().await;
    ids.sort();
    let states = store.conversations(&user("ann"), &[ConversationKey::Group { group_id: red }]).await.unwrap();
    assert_eq!((states[0].unread, states[0].mentions), (UNREAD_COUNT_CAP, UNREAD_COUNT_CAP));
    assert_eq!(states[0].last.as_ref().map(|m| m.message_id), ids.last().copied());
}

conformance!(
    edits_replace_text_and_mentions,
    deletes_empty_a_message_but_keep_its_place,
    reactions_toggle_and_repeat_as_no_ops,
    concurrent_reactions_are_all_counted,
    distinct_emoji_are_limited_and_users_are_the_oldest,
    read_marks_only_move_forward,
    conversations_count_unread_and_mentions,
);

mod unread_cap {
    use super::{dynamodb, mysql, sqlite, unread_counts_stop_at_the_cap};
    conformance!(unread_counts_stop_at_the_cap);
}

mod dynamodb_upgrade;
