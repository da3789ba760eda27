//! `chat.edit`, `chat.delete` and `chat.react`: who may change a message, who hears of it,
//! and what history shows afterwards.

use std::time::Duration;

use chatting_e2e::{Client, TestServer, unique};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

/// Sends and returns the reply (`messageId`, `seq`, `sentAt`).
async fn say(client: &mut Client, data: Value) -> anyhow::Result<Value> {
    client.ok("chat.send", data).await
}

#[tokio::test]
async fn an_edit_reaches_exactly_the_rooms_current_audience_and_history_shows_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let (_, mut dora_ws) = server.connected_user("dora").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Edits"})).await?["roomId"].clone();
    for client in [&mut ann_tab, &mut bob_ws, &mut carl_ws] {
        client.ok("room.join", json!({"roomId": room})).await?;
    }
    let sent = say(&mut ann_ws, json!({"type": "all", "text": "helo @nobody_here"})).await?;
    let id = sent["messageId"].clone();
    bob_ws.event_where("chat.in", |m| m["messageId"] == id).await?;
    // Carl leaves: he is no longer in the audience.
    carl_ws.ok("room.leave", json!({})).await?;

    let text = format!("hello @{}", bob.user_id);
    let edited = ann_ws.ok("chat.edit", json!({"messageId": id, "text": text})).await?;
    assert_eq!(edited["messageId"], id);
    let edited_at = edited["editedAt"].as_str().expect("editedAt").to_owned();
    for client in [&mut ann_ws, &mut ann_tab, &mut bob_ws] {
        let event = client.event("chat.edited").await?;
        assert_eq!((&event["messageId"], &event["text"], &event["editedAt"]), (&id, &json!(text), &json!(edited_at)));
        assert_eq!(event["mentions"], json!([bob.user_id]), "an edit's mentions are found anew");
        assert_eq!((&event["seq"], &event["deleted"]), (&sent["seq"], &json!(false)));
    }
    carl_ws.no_event("chat.edited", QUIET).await?;
    dora_ws.no_event("chat.edited", QUIET).await?;

    let history = bob_ws.ok("chat.history", json!({})).await?;
    let shown = &history["messages"][0];
    assert_eq!(
        (&shown["text"], &shown["editedAt"], &shown["mentions"]),
        (&json!(text), &json!(edited_at), &json!([bob.user_id]))
    );
    assert_eq!(shown["sentAt"], sent["sentAt"], "an edit keeps the time it was sent");
    Ok(())
}

#[tokio::test]
async fn only_the_author_edits_and_only_what_they_can_see() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let lobby = say(&mut ann_ws, json!({"type": "all", "text": "in the lobby"})).await?["messageId"].clone();
    let whisper =
        say(&mut ann_ws, json!({"type": "whisper", "to": bob.user_id, "text": "psst"})).await?["messageId"].clone();

    bob_ws.fails("chat.edit", json!({"messageId": lobby, "text": "mine now"}), "notAuth").await?;
    bob_ws.fails("chat.edit", json!({"messageId": whisper, "text": "mine now"}), "notAuth").await?;
    // A whisper between two others is as unknown to Carl as a message that does not exist.
    carl_ws.fails("chat.edit", json!({"messageId": whisper, "text": "x"}), "noInfo").await?;
    carl_ws.fails("chat.delete", json!({"messageId": whisper}), "noInfo").await?;
    carl_ws.fails("chat.react", json!({"messageId": whisper, "emoji": "👍", "on": true}), "noInfo").await?;
    ann_ws.fails("chat.edit", json!({"messageId": "9999999999999999", "text": "x"}), "noInfo").await?;
    // A room message is visible only from inside the room.
    let room = bob_ws.ok("room.create", json!({"title": "Inside"})).await?["roomId"].clone();
    let inside = say(&mut bob_ws, json!({"type": "all", "text": "inside"})).await?["messageId"].clone();
    ann_ws.fails("chat.react", json!({"messageId": inside, "emoji": "👍", "on": true}), "noInfo").await?;
    ann_ws.ok("room.join", json!({"roomId": room})).await?;
    ann_ws.ok("chat.react", json!({"messageId": inside, "emoji": "👍", "on": true})).await?;
    // Text rules as chat.send.
    ann_ws.ok("room.leave", json!({})).await?;
    ann_ws.fails("chat.edit", json!({"messageId": lobby, "text": "   "}), "invalid").await?;
    ann_ws.fails("chat.edit", json!({"messageId": lobby, "text": "x".repeat(2001)}), "invalid").await?;
    Ok(())
}

#[tokio::test]
async fn a_deleted_message_keeps_its_seq_so_resuming_after_counts_every_message() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Deletes"})).await?["roomId"].clone();
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    carl_ws.ok("room.join", json!({"roomId": room})).await?;
    let mut sent = Vec::new();
    for n in 0..4 {
        let client = if n % 2 == 0 { &mut ann_ws } else { &mut bob_ws };
        sent.push(say(client, json!({"type": "all", "text": format!("message {n}")})).await?);
    }
    let first_seq = sent[0]["seq"].as_i64().expect("seq");
    let bobs = sent[1]["messageId"].clone();
    ann_ws.ok("chat.react", json!({"messageId": bobs, "emoji": "🎉", "on": true})).await?;

    // Carl is neither author nor owner; Ann owns the room and deletes Bob's message.
    carl_ws.fails("chat.delete", json!({"messageId": bobs}), "notAuth").await?;
    assert_eq!(ann_ws.ok("chat.delete", json!({"messageId": bobs})).await?, json!({"messageId": bobs}));
    for client in [&mut ann_ws, &mut bob_ws, &mut carl_ws] {
        let event = client.event_where("chat.deleted", |m| m["messageId"] == bobs).await?;
        assert_eq!((&event["text"], &event["deleted"], &event["reactions"]), (&json!(""), &json!(true), &json!([])));
        assert_eq!((&event["seq"], &event["sentAt"]), (&sent[1]["seq"], &sent[1]["sentAt"]));
    }
    // Deleting again changes nothing and tells no one again.
    bob_ws.ok("chat.delete", json!({"messageId": bobs})).await?;
    carl_ws.no_event("chat.deleted", QUIET).await?;
    bob_ws.fails("chat.edit", json!({"messageId": bobs, "text": "back"}), "invalid").await?;
    ann_ws.fails("chat.react", json!({"messageId": bobs, "emoji": "👍", "on": true}), "invalid").await?;

    // Bob deletes his own whisper; the owner has no say over whispers.
    let whisper =
        say(&mut bob_ws, json!({"type": "whisper", "to": ann.user_id, "text": "oops"})).await?["messageId"].clone();
    bob_ws.ok("chat.delete", json!({"messageId": whisper})).await?;
    ann_ws.event_where("chat.deleted", |m| m["messageId"] == whisper).await?;

    // A reader resuming after the first message still counts three more, seqs without gaps.
    let after = carl_ws.ok("chat.history", json!({"after": first_seq})).await?;
    let seqs: Vec<i64> =
        after["messages"].as_array().expect("messages").iter().map(|m| m["seq"].as_i64().unwrap_or(-1)).collect();
    assert_eq!(seqs, vec![first_seq + 1, first_seq + 2, first_seq + 3]);
    let gone = &after["messages"][0];
    assert_eq!((&gone["messageId"], &gone["text"], &gone["deleted"]), (&bobs, &json!(""), &json!(true)));
    assert_eq!(after["messages"][1]["text"], "message 2");
    Ok(())
}

#[tokio::test]
async fn reactions_toggled_by_many_at_once_count_right_and_reach_both_whisper_sides() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut reactors = Vec::new();
    for n in 0..6 {
        reactors.push(server.connected_user(&format!("r{n}")).await?);
    }
    let id = say(&mut ann_ws, json!({"type": "all", "text": "react to me"})).await?["messageId"].clone();
    // Everyone at once, twice over: the second round repeats and changes nothing.
    for _ in 0..2 {
        let toggles =
            reactors.iter_mut().map(|(_, ws)| ws.ok("chat.react", json!({"messageId": id, "emoji": "👍", "on": true})));
        for reply in futures::future::join_all(toggles).await {
            reply?;
        }
    }
    let up = ann_ws.ok("chat.react", json!({"messageId": id, "emoji": "👍", "on": true})).await?;
    assert_eq!((&up["messageId"], &up["reactions"][0]["count"]), (&id, &json!(7)));
    // Half take theirs back at once.
    let toggles = reactors
        .iter_mut()
        .take(3)
        .map(|(_, ws)| ws.ok("chat.react", json!({"messageId": id, "emoji": "👍", "on": false})));
    for reply in futures::future::join_all(toggles).await {
        reply?;
    }
    let history = ann_ws.ok("chat.history", json!({})).await?;
    let reaction = &history["messages"][0]["reactions"][0];
    assert_eq!((&reaction["emoji"], &reaction["count"]), (&json!("👍"), &json!(4)));
    let users: Vec<&str> = reaction["users"].as_array().expect("users").iter().filter_map(Value::as_str).collect();
    let mut staying: Vec<&str> = reactors[3..].iter().map(|(s, _)| s.user_id.as_str()).collect();
    staying.sort();
    assert_eq!(users.last(), Some(&ann.user_id.as_str()), "users oldest first: Ann reacted last");
    let mut first_three = users[..3].to_vec();
    first_three.sort();
    assert_eq!(first_three, staying);

    // A whisper's reaction event names the pair as each side sees it; no one else hears it.
    let (bob, mut bob_ws) = reactors.remove(0);
    let whisper =
        say(&mut ann_ws, json!({"type": "whisper", "to": bob.user_id, "text": "just us"})).await?["messageId"].clone();
    bob_ws.ok("chat.react", json!({"messageId": whisper, "emoji": "❤️", "on": true})).await?;
    let seen_by_ann = ann_ws.event_where("chat.reactions", |e| e["messageId"] == whisper).await?;
    assert_eq!(seen_by_ann["with"], json!(bob.user_id));
    let seen_by_bob = bob_ws.event_where("chat.reactions", |e| e["messageId"] == whisper).await?;
    assert_eq!(seen_by_bob["with"], json!(ann.user_id));
    assert_eq!(seen_by_bob["reactions"], json!([{"emoji": "❤️", "count": 1, "users": [bob.user_id]}]));
    let (_, mut other) = reactors.remove(0);
    other.no_event_where("chat.reactions", QUIET, |e| e["messageId"] == whisper).await?;
    Ok(())
}

#[tokio::test]
async fn a_message_takes_twenty_different_emoji_and_refuses_bad_ones() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let id = say(&mut ann_ws, json!({"type": "all", "text": unique("react")})).await?["messageId"].clone();
    // State changes are limited per connection and user: the twenty spread over three users.
    let mut others = Vec::new();
    for n in 0..3 {
        others.push(server.connected_user(&format!("fan{n}")).await?.1);
    }
    for n in 0..20 {
        others[n % 3].ok("chat.react", json!({"messageId": id, "emoji": format!("e{n}"), "on": true})).await?;
    }
    let refused =
        others[2].fails("chat.react", json!({"messageId": id, "emoji": "one-more", "on": true}), "invalid").await?;
    assert!(refused["message"].as_str().unwrap_or_default().contains("20"), "{refused}");
    // Another user's reaction with an emoji already there still counts.
    let again = ann_ws.ok("chat.react", json!({"messageId": id, "emoji": "e0", "on": true})).await?;
    assert_eq!(again["reactions"][0]["count"], 2);
    for bad in ["", "two words", &"x".repeat(17)] {
        ann_ws.fails("chat.react", json!({"messageId": id, "emoji": bad, "on": true}), "invalid").await?;
    }
    Ok(())
}

/// What each version 2 action costs in store statements, presence round trips, DynamoDB
/// requests and pushes, on the backend under test (docs/PERFORMANCE.md quotes these lines).
#[tokio::test]
async fn what_each_version_2_action_costs() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, _carl_ws) = server.connected_user("carl").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Costs"})).await?["roomId"].clone();
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    let group = unique("g");
    ann_ws.ok("group.create", json!({"groupId": group})).await?;
    bob_ws.ok("group.join", json!({"groupId": group})).await?;
    say(&mut bob_ws, json!({"type": "whisper", "to": ann.user_id, "text": "hi"})).await?;
    let plain = say(&mut ann_ws, json!({"type": "all", "text": "plain"})).await?;
    let id = plain["messageId"].clone();

    let mut costs = Vec::new();
    let mut measure = async |label: &str, client: &mut Client, action: &str, data: Value| -> anyhow::Result<Value> {
        let before = server.metrics().await?;
        client.ok(action, data).await?;
        let after = server.metrics().await?;
        let spent = |name: &str| after[name].as_u64().unwrap_or(0) - before[name].as_u64().unwrap_or(0);
        let cost = json!({
            "store": spent("storeStatements"),
            "redis": spent("redisRoundTrips"),
            "dynamodb": spent("dynamodbRequests"),
            "pushes": spent("managementApiCalls") + spent("directPushes"),
        });
        println!("cost {label}: {cost}");
        costs.push((label.to_owned(), cost.clone()));
        Ok(cost)
    };
    let mention = format!("hey @{}", bob.user_id);
    let sent = measure("chat.send, no mention", &mut ann_ws, "chat.send", json!({"type": "all", "text": "x"})).await?;
    let mentioned =
        measure("chat.send, one mention", &mut ann_ws, "chat.send", json!({"type": "all", "text": mention})).await?;
    let edit = measure("chat.edit", &mut ann_ws, "chat.edit", json!({"messageId": id, "text": "edited"})).await?;
    let react =
        measure("chat.react", &mut bob_ws, "chat.react", json!({"messageId": id, "emoji": "👍", "on": true})).await?;
    let repeat =
        measure("chat.react, repeated", &mut bob_ws, "chat.react", json!({"messageId": id, "emoji": "👍", "on": true}))
            .await?;
    let delete = measure("chat.delete", &mut ann_ws, "chat.delete", json!({"messageId": id})).await?;
    let read = measure("chat.read", &mut ann_ws, "chat.read", json!({"roomId": room, "upTo": plain["seq"]})).await?;
    let listed = measure("chat.conversations", &mut ann_ws, "chat.conversations", json!({})).await?;

    // Pushes: the room's two connections hear of an edit, a reaction and a delete; nothing else.
    for (cost, pushes) in [(&edit, 2), (&react, 2), (&delete, 2), (&repeat, 0), (&read, 0), (&listed, 0)] {
        assert_eq!(cost["pushes"], pushes, "{cost}");
    }
    // A mention costs one store read of the users named, and only then.
    let reads = |cost: &Value| cost["store"].as_u64().unwrap_or(0) + cost["dynamodb"].as_u64().unwrap_or(0);
    assert_eq!(reads(&mentioned), reads(&sent) + 1, "{sent} vs {mentioned}");
    // Every action stays within a handful of requests, whatever the backend.
    for (label, cost) in &costs {
        let requests = reads(cost) + cost["redis"].as_u64().unwrap_or(0);
        assert!(requests <= 16, "{label}: {cost}");
    }
    Ok(())
}

#[tokio::test]
async fn a_group_messages_changes_reach_its_members_online_now_and_no_one_else() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let group = unique("g");
    ann_ws.ok("group.create", json!({"groupId": group})).await?;
    bob_ws.ok("group.join", json!({"groupId": group})).await?;
    let id = say(&mut ann_ws, json!({"type": "group", "text": "team only"})).await?["messageId"].clone();

    ann_ws.ok("chat.edit", json!({"messageId": id, "text": "team only!"})).await?;
    let edited = bob_ws.event_where("chat.edited", |m| m["messageId"] == id).await?;
    assert_eq!((&edited["groupId"], &edited["text"]), (&json!(group), &json!("team only!")));
    carl_ws.no_event("chat.edited", QUIET).await?;
    // Carl cannot see it at all; once Bob leaves the group, neither can he, nor does he hear more.
    carl_ws.fails("chat.react", json!({"messageId": id, "emoji": "👍", "on": true}), "noInfo").await?;
    bob_ws.ok("group.leave", json!({})).await?;
    bob_ws.fails("chat.react", json!({"messageId": id, "emoji": "👍", "on": true}), "noInfo").await?;
    ann_ws.ok("chat.delete", json!({"messageId": id})).await?;
    ann_ws.event_where("chat.deleted", |m| m["messageId"] == id).await?;
    bob_ws.no_event("chat.deleted", QUIET).await?;
    carl_ws.no_event("chat.deleted", QUIET).await?;
    Ok(())
}
