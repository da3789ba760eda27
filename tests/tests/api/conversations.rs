//! `chat.read`, `chat.conversations` and mentions: what a user has not read yet, where, and
//! how it follows them from one connection (or login) to the next.

use std::time::Duration;

use chatting_e2e::{Client, TestServer, unique};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

/// The entry of `chat.conversations` whose key field `field` is `value`.
fn entry<'a>(conversations: &'a Value, field: &str, value: &Value) -> Option<&'a Value> {
    conversations["conversations"].as_array()?.iter().find(|c| &c[field] == value)
}

#[tokio::test]
async fn mentions_name_existing_users_only_and_are_counted_until_read() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let text = format!("hi @{} and @{}, mail me at x@{}", bob.user_id, unique("ghost"), bob.user_id);
    let sent = ann_ws.ok("chat.send", json!({"type": "all", "text": text})).await?;
    let arrived = bob_ws.event_where("chat.in", |m| m["messageId"] == sent["messageId"]).await?;
    assert_eq!(arrived["mentions"], json!([bob.user_id]));
    assert_eq!(
        (&arrived["editedAt"], &arrived["deleted"], &arrived["reactions"]),
        (&Value::Null, &json!(false), &json!([]))
    );
    ann_ws.ok("chat.send", json!({"type": "all", "text": "no mention here"})).await?;

    let lobby = json!(0);
    let listed = bob_ws.ok("chat.conversations", json!({})).await?;
    let seen = entry(&listed, "roomId", &lobby).expect("the lobby is listed");
    assert_eq!((&seen["unread"], &seen["mentions"]), (&json!(2), &json!(1)));
    assert_eq!(seen["last"]["text"], "no mention here");
    // Ann's own messages are not unread to her.
    let own = ann_ws.ok("chat.conversations", json!({})).await?;
    assert_eq!(entry(&own, "roomId", &lobby).map(|c| c["unread"].clone()), Some(json!(0)));

    bob_ws.ok("chat.read", json!({"roomId": 0, "upTo": sent["seq"]})).await?;
    let listed = bob_ws.ok("chat.conversations", json!({})).await?;
    let seen = entry(&listed, "roomId", &lobby).expect("lobby");
    assert_eq!((&seen["unread"], &seen["mentions"]), (&json!(1), &json!(0)));
    let _ = ann;
    Ok(())
}

#[tokio::test]
async fn a_read_mark_never_moves_back_and_reaches_the_readers_other_connections() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let mut ids = Vec::new();
    for n in 0..3 {
        let sent =
            bob_ws.ok("chat.send", json!({"type": "whisper", "to": ann.user_id, "text": format!("w{n}")})).await?;
        ids.push(sent["messageId"].clone());
    }
    let with_bob = json!(bob.user_id);
    let unread = |listed: &Value| entry(listed, "with", &with_bob).map(|c| c["unread"].clone());

    assert_eq!(ann_ws.ok("chat.read", json!({"with": bob.user_id, "upTo": ids[1]})).await?, json!({}));
    let told = ann_tab.event("chat.read").await?;
    assert_eq!(told, json!({"upTo": ids[1], "with": bob.user_id}));
    ann_ws.no_event("chat.read", QUIET).await?;
    assert_eq!(unread(&ann_ws.ok("chat.conversations", json!({})).await?), Some(json!(1)));

    // Back to the first: nothing changes and no one is told.
    ann_tab.ok("chat.read", json!({"with": bob.user_id, "upTo": ids[0]})).await?;
    ann_ws.no_event("chat.read", QUIET).await?;
    assert_eq!(unread(&ann_ws.ok("chat.conversations", json!({})).await?), Some(json!(1)));
    ann_tab.ok("chat.read", json!({"with": bob.user_id, "upTo": ids[2]})).await?;
    assert_eq!(ann_ws.event("chat.read").await?["upTo"], ids[2]);
    assert_eq!(unread(&ann_ws.ok("chat.conversations", json!({})).await?), Some(json!(0)));
    // Bob's side of the pair is his own: his marks are untouched by Ann's.
    let bobs = bob_ws.ok("chat.conversations", json!({})).await?;
    assert_eq!(entry(&bobs, "with", &json!(ann.user_id)).map(|c| c["unread"].clone()), Some(json!(0)));
    Ok(())
}

#[tokio::test]
async fn read_marks_are_refused_where_the_reader_is_not() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let room = bob_ws.ok("room.create", json!({"title": "Closed door"})).await?["roomId"].clone();
    ann_ws.fails("chat.read", json!({"roomId": room, "upTo": 1}), "notAuth").await?;
    let group = unique("g");
    bob_ws.ok("group.create", json!({"groupId": group})).await?;
    ann_ws.fails("chat.read", json!({"groupId": group, "upTo": "0000000000000001"}), "notAuth").await?;
    ann_ws.fails("chat.read", json!({"with": ann.user_id, "upTo": "0000000000000001"}), "invalid").await?;
    ann_ws.fails("chat.read", json!({"roomId": 0, "upTo": "0000000000000001"}), "invalid").await?;
    ann_ws.fails("chat.read", json!({"roomId": 0}), "invalid").await?;
    // Inside the room it is fine.
    ann_ws.ok("room.join", json!({"roomId": room})).await?;
    ann_ws.ok("chat.read", json!({"roomId": room, "upTo": 0})).await?;
    Ok(())
}

#[tokio::test]
async fn an_offline_whisper_is_found_through_conversations_after_login() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let bob = server.user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    // Bob has no connection: both whispers wait for him.
    ann_ws.ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": "are you there?"})).await?;
    carl_ws
        .ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": format!("@{} ping", bob.user_id)}))
        .await?;

    let mut bob_ws = Client::connect(&server, &bob.access).await?;
    let listed = bob_ws.ok("chat.conversations", json!({})).await?;
    let keys: Vec<Value> = listed["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c.get("roomId").or(c.get("groupId")).or(c.get("with")).cloned().unwrap_or_default())
        .collect();
    // The lobby first, then whisper partners newest first.
    assert_eq!(keys, vec![json!(0), json!(carl.user_id), json!(ann.user_id)]);
    let from_carl = entry(&listed, "with", &json!(carl.user_id)).expect("carl");
    assert_eq!((&from_carl["unread"], &from_carl["mentions"]), (&json!(1), &json!(1)));
    let from_ann = entry(&listed, "with", &json!(ann.user_id)).expect("ann");
    assert_eq!((&from_ann["unread"], &from_ann["last"]["text"]), (&json!(1), &json!("are you there?")));
    assert_eq!(from_ann["last"]["from"]["userId"], json!(ann.user_id));
    // Ann lists Bob too, with nothing unread on her side.
    let anns = ann_ws.ok("chat.conversations", json!({})).await?;
    assert_eq!(entry(&anns, "with", &json!(bob.user_id)).map(|c| c["unread"].clone()), Some(json!(0)));
    Ok(())
}

#[tokio::test]
async fn conversations_list_the_lobby_the_callers_rooms_and_group() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let room = bob_ws.ok("room.create", json!({"title": "Listed"})).await?["roomId"].clone();
    ann_tab.ok("room.join", json!({"roomId": room})).await?;
    let group = unique("g");
    bob_ws.ok("group.create", json!({"groupId": group})).await?;
    ann_ws.ok("group.join", json!({"groupId": group})).await?;
    bob_ws.ok("chat.send", json!({"type": "all", "text": "in the room"})).await?;
    bob_ws.ok("chat.send", json!({"type": "group", "text": "to the group"})).await?;

    let listed = ann_ws.ok("chat.conversations", json!({})).await?;
    let keys: Vec<String> = listed["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| {
            c.as_object()
                .map(|o| {
                    o.keys()
                        .filter(|k| !["unread", "mentions", "last"].contains(&k.as_str()))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(keys, ["roomId", "roomId", "groupId"]);
    let in_room = entry(&listed, "roomId", &room).expect("room");
    assert_eq!((&in_room["unread"], &in_room["last"]["text"]), (&json!(1), &json!("in the room")));
    let in_group = entry(&listed, "groupId", &json!(group)).expect("group");
    assert_eq!((&in_group["unread"], &in_group["last"]["text"]), (&json!(1), &json!("to the group")));
    Ok(())
}

#[tokio::test]
async fn reads_have_a_budget_of_their_own_apart_from_the_users_changes() -> anyhow::Result<()> {
    let server = TestServer::start_with(|options| {
        options.config.changes_per_10s = 2;
        options.config.changes_per_user_per_10s = 2;
    })
    .await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    for seq in 0..30 {
        ann_ws.ok("chat.read", json!({"roomId": 0, "upTo": seq})).await?;
    }
    let refused = ann_ws.fails("chat.read", json!({"roomId": 0, "upTo": 31}), "rateLimited").await?;
    assert!(refused["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0), "{refused}");
    // Thirty reads took nothing from the user's own changes.
    let sent = ann_ws.ok("chat.send", json!({"type": "all", "text": "still here"})).await?;
    ann_ws.ok("chat.react", json!({"messageId": sent["messageId"], "emoji": "👍", "on": true})).await?;
    ann_ws.ok("chat.edit", json!({"messageId": sent["messageId"], "text": "still here!"})).await?;
    ann_ws.fails("chat.delete", json!({"messageId": sent["messageId"]}), "rateLimited").await?;
    Ok(())
}
