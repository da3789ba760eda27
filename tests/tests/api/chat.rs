//! Chat: `all` in rooms, whispers across tabs and to someone offline, group messages without
//! a group, idempotent retries, per-room `seq`, history for rooms, the lobby and whispers,
//! paging, rate limits.

use std::time::Duration;

use chatting_e2e::{Client, Session, TestServer, unique};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

fn messages(page: &Value) -> &[Value] {
    page["messages"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn seqs(page: &Value) -> Vec<i64> {
    messages(page).iter().map(|m| m["seq"].as_i64().expect("a seq")).collect()
}

fn texts(page: &Value) -> Vec<String> {
    messages(page).iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect()
}

/// A user who made a room and is inside it, and the room's id.
async fn room_owner(server: &TestServer, name: &str, title: &str) -> anyhow::Result<(Session, Client, i64)> {
    let (session, mut ws) = server.connected_user(name).await?;
    let room = ws.ok("room.create", json!({"title": title, "capacity": 20})).await?["roomId"].as_i64().expect("roomId");
    Ok((session, ws, room))
}

#[tokio::test]
async fn all_reaches_only_the_senders_room_and_seq_counts_from_one_per_room() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws, room) = room_owner(&server, "ann", "Talk").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    let (_, mut lobby_ws) = server.connected_user("carl").await?;
    let (_, mut other_ws, other_room) = room_owner(&server, "dan", "Elsewhere").await?;

    let one = ann_ws.ok("chat.send", json!({"type": "all", "text": "one"})).await?;
    let two = bob_ws.ok("chat.send", json!({"type": "all", "text": "two"})).await?;
    let three = ann_ws.ok("chat.send", json!({"type": "all", "text": "three"})).await?;
    assert_eq!([&one, &two, &three].map(|r| r["seq"].as_i64()), [Some(1), Some(2), Some(3)]);
    assert!(
        one["messageId"].as_str() < two["messageId"].as_str()
            && two["messageId"].as_str() < three["messageId"].as_str()
    );

    for ws in [&mut ann_ws, &mut bob_ws] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(ws.event("chat.in").await?);
        }
        let order: Vec<(i64, &str)> =
            seen.iter().map(|m| (m["seq"].as_i64().unwrap(), m["text"].as_str().unwrap())).collect();
        assert_eq!(order, [(1, "one"), (2, "two"), (3, "three")]);
        assert_eq!(
            (seen[1]["type"].as_str(), seen[1]["roomId"].as_i64(), seen[1]["groupId"].clone(), seen[1]["to"].clone()),
            (Some("all"), Some(room), Value::Null, Value::Null)
        );
        assert_eq!(seen[0]["from"], json!({"userId": ann.user_id, "nick": "ann", "groupId": null}));
        assert_eq!(seen[1]["from"]["userId"], bob.user_id.as_str());
        assert_eq!(seen[2]["messageId"], three["messageId"]);
        assert_eq!(seen[2]["sentAt"], three["sentAt"]);
    }
    lobby_ws.no_event("chat.in", QUIET).await?;
    other_ws.no_event("chat.in", QUIET).await?;

    // Another room counts on its own.
    let first_there = other_ws.ok("chat.send", json!({"type": "all", "text": "hello?"})).await?;
    assert_eq!(first_there["seq"], 1);
    let heard = other_ws.event("chat.in").await?;
    assert_eq!(heard["roomId"], other_room);
    ann_ws.no_event("chat.in", QUIET).await?;
    Ok(())
}

#[tokio::test]
async fn messages_of_concurrent_senders_reach_everyone_in_seq_order() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, owner_ws, room) = room_owner(&server, "own", "Busy").await?;
    let mut members = vec![owner_ws];
    for i in 0..5 {
        let (_, mut ws) = server.connected_user(&format!("m{i}_")).await?;
        ws.ok("room.join", json!({"roomId": room})).await?;
        members.push(ws);
    }
    let sends = members.iter_mut().enumerate().map(|(i, ws)| async move {
        for k in 0..10 {
            ws.ok("chat.send", json!({"type": "all", "text": format!("{i}-{k}")})).await?;
        }
        anyhow::Ok(())
    });
    for sent in futures::future::join_all(sends).await {
        sent?;
    }
    for ws in &mut members {
        let mut order = Vec::new();
        for _ in 0..60 {
            order.push(ws.event("chat.in").await?["seq"].as_i64().unwrap());
        }
        assert_eq!(order, (1..=60).collect::<Vec<i64>>());
    }
    Ok(())
}

#[tokio::test]
async fn whisper_reaches_every_tab_of_both_sides_and_nobody_else() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let mut bob_tab = Client::connect(&server, &bob.access).await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    // One tab of each is in a room with Dan, who must not overhear.
    let room = ann_tab.ok("room.create", json!({"title": "Open plan"})).await?["roomId"].clone();
    bob_tab.ok("room.join", json!({"roomId": room})).await?;
    let (_, mut dan_ws) = server.connected_user("dan").await?;
    dan_ws.ok("room.join", json!({"roomId": room})).await?;

    let first = ann_ws.ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": "psst"})).await?;
    assert_eq!(first["seq"], Value::Null);
    for ws in [&mut ann_ws, &mut ann_tab, &mut bob_ws, &mut bob_tab] {
        let message = ws.event_where("chat.in", |m| m["text"] == "psst").await?;
        assert_eq!(message["messageId"], first["messageId"]);
        assert_eq!(
            (message["type"].as_str(), message["to"].as_str(), message["from"]["userId"].as_str()),
            (Some("whisper"), Some(bob.user_id.as_str()), Some(ann.user_id.as_str()))
        );
        assert_eq!(
            (message["roomId"].clone(), message["groupId"].clone(), message["seq"].clone()),
            (Value::Null, Value::Null, Value::Null)
        );
    }
    let second = bob_tab.ok("chat.send", json!({"type": "whisper", "to": ann.user_id, "text": "what?"})).await?;
    for ws in [&mut ann_ws, &mut ann_tab, &mut bob_ws, &mut bob_tab] {
        let message = ws.event_where("chat.in", |m| m["text"] == "what?").await?;
        assert_eq!(
            (message["to"].as_str(), message["from"]["userId"].as_str()),
            (Some(ann.user_id.as_str()), Some(bob.user_id.as_str()))
        );
    }
    carl_ws.no_event("chat.in", QUIET).await?;
    dan_ws.no_event("chat.in", QUIET).await?;

    // The conversation reads the same from both sides, and only theirs.
    let from_bob = bob_ws.ok("chat.history", json!({"with": ann.user_id})).await?;
    assert_eq!(texts(&from_bob), ["psst", "what?"]);
    assert_eq!(from_bob, ann_ws.ok("chat.history", json!({"with": bob.user_id})).await?);
    let older = bob_ws.ok("chat.history", json!({"with": ann.user_id, "before": second["messageId"]})).await?;
    assert_eq!((texts(&older), older["hasMore"].as_bool()), (vec!["psst".to_owned()], Some(false)));
    let newer = bob_ws.ok("chat.history", json!({"with": ann.user_id, "after": first["messageId"]})).await?;
    assert_eq!(texts(&newer), ["what?"]);
    let theirs = carl_ws.ok("chat.history", json!({"with": ann.user_id})).await?;
    assert_eq!(theirs, json!({"messages": [], "hasMore": false}));
    Ok(())
}

#[tokio::test]
async fn a_whisper_to_someone_offline_is_stored_pushed_to_no_one_and_read_in_history_after_login() -> anyhow::Result<()>
{
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (bob, bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;

    // Bob closes his only tab and logs out: offline once the others no longer list him.
    bob_ws.close().await?;
    let (status, _) = server.post("/auth/logout", json!({"refreshToken": bob.refresh})).await?;
    assert_eq!(status, 200);
    let listed = |page: &Value| page["users"].as_array().is_some_and(|u| u.iter().any(|u| u["userId"] == bob.user_id));
    for _ in 0..50 {
        if !listed(&ann_ws.ok("user.listOnline", json!({})).await?) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!listed(&ann_ws.ok("user.listOnline", json!({})).await?), "bob still online");

    let first = ann_ws.ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": "are you there?"})).await?;
    let second = ann_ws.ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": "call me"})).await?;
    for reply in [&first, &second] {
        assert_eq!(reply["seq"], Value::Null);
        assert!(reply["messageId"].is_string() && reply["sentAt"].is_string(), "{reply}");
    }
    assert!(first["messageId"].as_str() < second["messageId"].as_str());
    // The sender's tabs see it as they see any whisper of theirs; nobody else hears it.
    for ws in [&mut ann_ws, &mut ann_tab] {
        for (reply, text) in [(&first, "are you there?"), (&second, "call me")] {
            let message = ws.event("chat.in").await?;
            assert_eq!(
                (&message["messageId"], message["text"].as_str(), message["to"].as_str()),
                (&reply["messageId"], Some(text), Some(bob.user_id.as_str()))
            );
        }
    }
    carl_ws.no_event("chat.in", QUIET).await?;
    let unknown = unique("nobody");
    ann_ws.fails("chat.send", json!({"type": "whisper", "to": unknown, "text": "hello?"}), "noInfo").await?;
    assert_eq!(ann_ws.ok("chat.history", json!({"with": unknown})).await?["messages"], json!([]));

    // Bob comes back: nothing is pushed for what he missed, history has it, oldest first.
    let bob = server.login(&bob.user_id).await?;
    let mut bob_ws = Client::connect(&server, &bob.access).await?;
    let mut bob_tab = Client::connect(&server, &bob.access).await?;
    bob_ws.no_event("chat.in", QUIET).await?;
    bob_tab.no_event("chat.in", QUIET).await?;
    let page = bob_ws.ok("chat.history", json!({"with": ann.user_id})).await?;
    assert_eq!(
        (texts(&page), page["hasMore"].as_bool()),
        (vec!["are you there?".to_owned(), "call me".to_owned()], Some(false))
    );
    for (message, reply) in messages(&page).iter().zip([&first, &second]) {
        assert_eq!(
            (&message["messageId"], &message["sentAt"], message["type"].as_str(), message["from"]["userId"].as_str()),
            (&reply["messageId"], &reply["sentAt"], Some("whisper"), Some(ann.user_id.as_str()))
        );
        assert_eq!((message["to"].as_str(), &message["roomId"]), (Some(bob.user_id.as_str()), &Value::Null));
    }
    assert_eq!(page, ann_ws.ok("chat.history", json!({"with": bob.user_id})).await?);
    assert_eq!(carl_ws.ok("chat.history", json!({"with": ann.user_id})).await?["messages"], json!([]));

    // Online again, he gets whispers on every tab, and the conversation goes on.
    let answer = bob_tab.ok("chat.send", json!({"type": "whisper", "to": ann.user_id, "text": "calling"})).await?;
    let third = ann_ws.ok("chat.send", json!({"type": "whisper", "to": bob.user_id, "text": "ringing"})).await?;
    for ws in [&mut bob_ws, &mut bob_tab] {
        assert_eq!(ws.event("chat.in").await?["messageId"], answer["messageId"]);
        assert_eq!(ws.event("chat.in").await?["messageId"], third["messageId"]);
    }
    let page = bob_ws.ok("chat.history", json!({"with": ann.user_id})).await?;
    assert_eq!(texts(&page), ["are you there?", "call me", "calling", "ringing"]);
    carl_ws.no_event("chat.in", QUIET).await?;
    Ok(())
}

#[tokio::test]
async fn chat_send_refuses_unknown_whisper_targets_missing_groups_and_bad_input() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let offline = server.user("eve").await?;

    // Someone who exists but is offline is written to; only a user who does not exist is refused.
    let stored = ann_ws.ok("chat.send", json!({"type": "whisper", "to": offline.user_id, "text": "hello?"})).await?;
    assert_eq!(ann_ws.event("chat.in").await?["messageId"], stored["messageId"]);
    ann_ws.fails("chat.send", json!({"type": "whisper", "to": unique("nobody"), "text": "hello?"}), "noInfo").await?;
    ann_ws.fails("chat.send", json!({"type": "whisper", "text": "to whom?"}), "invalid").await?;
    ann_ws.fails("chat.send", json!({"type": "group", "text": "anyone?"}), "invalid").await?;
    for bad in [
        json!({"type": "all", "text": ""}),
        json!({"type": "all", "text": "x".repeat(2001)}),
        json!({"type": "shout", "text": "hi"}),
        json!({"text": "hi"}),
        json!({"type": "all", "text": "hi", "clientMsgId": "c".repeat(65)}),
    ] {
        ann_ws.fails("chat.send", bad, "invalid").await?;
    }
    bob_ws.no_event("chat.in", QUIET).await?;

    // The limits themselves are fine; length counts code points.
    let long = "é".repeat(2000);
    ann_ws.ok("chat.send", json!({"type": "all", "text": long})).await?;
    let heard = bob_ws.event("chat.in").await?;
    assert_eq!(
        (heard["text"].as_str().map(|t| t.chars().count()), heard["from"]["userId"].as_str()),
        (Some(2000), Some(ann.user_id.as_str()))
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_with_the_same_client_msg_id_is_stored_and_delivered_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;

    let send = json!({"type": "all", "text": "exactly once", "clientMsgId": "msg-0001"});
    let first = ann_ws.ok("chat.send", send.clone()).await?;
    bob_ws.event_where("chat.in", |m| m["text"] == "exactly once").await?;
    let retry = ann_ws.ok("chat.send", send.clone()).await?;
    assert_eq!(retry, first);
    bob_ws.no_event("chat.in", QUIET).await?;

    // A retry after a reconnect (the reply was lost with the connection) is still the same message.
    ann_ws.close().await?;
    let mut ann_ws = Client::connect(&server, &ann.access).await?;
    let after_reconnect = ann_ws.ok("chat.send", send.clone()).await?;
    assert_eq!(after_reconnect["messageId"], first["messageId"]);
    bob_ws.no_event("chat.in", QUIET).await?;

    // Another id, or the same id from someone else, is a new message.
    let other =
        ann_ws.ok("chat.send", json!({"type": "all", "text": "exactly once", "clientMsgId": "msg-0002"})).await?;
    assert_ne!(other["messageId"], first["messageId"]);
    let bobs = bob_ws.ok("chat.send", json!({"type": "all", "text": "mine", "clientMsgId": "msg-0001"})).await?;
    assert_ne!(bobs["messageId"], first["messageId"]);

    let history = bob_ws.ok("chat.history", json!({})).await?;
    assert_eq!(texts(&history), ["exactly once", "exactly once", "mine"]);
    assert_eq!(messages(&history)[0]["messageId"], first["messageId"]);
    Ok(())
}

#[tokio::test]
async fn room_history_is_for_those_inside_and_the_lobby_has_its_own() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws, room) = room_owner(&server, "ann", "Minutes").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    ann_ws.ok("chat.send", json!({"type": "all", "text": "item 1"})).await?;
    ann_ws.ok("chat.send", json!({"type": "all", "text": "item 2"})).await?;

    bob_ws.fails("chat.history", json!({"roomId": room}), "notAuth").await?;
    bob_ws.ok("chat.send", json!({"type": "all", "text": "lobby talk"})).await?;
    let lobby = bob_ws.ok("chat.history", json!({})).await?;
    assert_eq!(texts(&lobby), ["lobby talk"]);
    assert_eq!(messages(&lobby)[0]["roomId"], 0);
    assert_eq!(bob_ws.ok("chat.history", json!({"roomId": 0})).await?, lobby);

    // Inside, what was said before one came in is readable too.
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    let inside = bob_ws.ok("chat.history", json!({})).await?;
    assert_eq!((texts(&inside), seqs(&inside)), (vec!["item 1".to_owned(), "item 2".to_owned()], vec![1, 2]));
    assert_eq!(bob_ws.ok("chat.history", json!({"roomId": room})).await?, inside);
    bob_ws.fails("chat.history", json!({"roomId": 0}), "notAuth").await?;

    bob_ws.ok("room.leave", json!({})).await?;
    bob_ws.fails("chat.history", json!({"roomId": room}), "notAuth").await?;

    for bad in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"before": "abc"}),
        json!({"roomId": room, "with": "someone"}),
    ] {
        bob_ws.fails("chat.history", bad, "invalid").await?;
    }
    Ok(())
}

#[tokio::test]
async fn history_of_120_messages_pages_back_and_forward_exactly_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // Six members send twenty each: one connection may send only twenty per ten seconds.
    let (_, owner_ws, room) = room_owner(&server, "own", "Archive").await?;
    let mut members = vec![owner_ws];
    for i in 0..5 {
        let (_, mut ws) = server.connected_user(&format!("w{i}_")).await?;
        ws.ok("room.join", json!({"roomId": room})).await?;
        members.push(ws);
    }
    let mut sent = Vec::new();
    for (i, ws) in members.iter_mut().enumerate() {
        for k in 0..20 {
            let text = format!("message {} from {i}", i * 20 + k + 1);
            let reply = ws.ok("chat.send", json!({"type": "all", "text": text})).await?;
            sent.push((reply["seq"].as_i64().unwrap(), text));
        }
    }
    assert_eq!(sent.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(), (1..=120).collect::<Vec<i64>>());
    let reader = &mut members[3];

    let mut pages = Vec::new();
    let mut request = json!({});
    loop {
        let page = reader.ok("chat.history", request.clone()).await?;
        let more = page["hasMore"].as_bool().unwrap();
        request = json!({"before": seqs(&page)[0]});
        pages.push(page);
        if !more {
            break;
        }
    }
    assert_eq!(pages.iter().map(|p| p["hasMore"].as_bool().unwrap()).collect::<Vec<_>>(), [true, true, false]);
    assert_eq!(pages.iter().map(|p| messages(p).len()).collect::<Vec<_>>(), [50, 50, 20]);
    let back: Vec<(i64, String)> = pages.iter().rev().flat_map(|p| seqs(p).into_iter().zip(texts(p))).collect();
    assert_eq!(back, sent);

    let mut forward = Vec::new();
    let mut more_flags = Vec::new();
    let mut after = 0;
    loop {
        let page = reader.ok("chat.history", json!({"after": after, "limit": 50})).await?;
        more_flags.push(page["hasMore"].as_bool().unwrap());
        forward.extend(seqs(&page).into_iter().zip(texts(&page)));
        after = forward.last().map(|(seq, _)| *seq).unwrap_or(after);
        if more_flags.last() == Some(&false) {
            break;
        }
    }
    assert_eq!(more_flags, [true, true, false]);
    assert_eq!(forward, sent);

    // Both bounds: the oldest inside the range.
    let window = reader.ok("chat.history", json!({"after": 10, "before": 100, "limit": 5})).await?;
    assert_eq!((seqs(&window), window["hasMore"].as_bool()), (vec![11, 12, 13, 14, 15], Some(true)));
    Ok(())
}

#[tokio::test]
async fn the_21st_send_within_ten_seconds_on_one_connection_is_rate_limited() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    for i in 1..=20 {
        ann_ws.ok("chat.send", json!({"type": "all", "text": format!("burst {i}")})).await?;
    }
    let refused = ann_ws.fails("chat.send", json!({"type": "all", "text": "one too many"}), "rateLimited").await?;
    let retry_after = refused["data"]["retryAfterMs"].as_u64().unwrap_or(0);
    assert!(retry_after > 0 && retry_after <= 10_000, "{refused}");

    bob_ws.event_where("chat.in", |m| m["text"] == "burst 20").await?;
    bob_ws.clear_events();
    bob_ws.no_event("chat.in", QUIET).await?;
    let history = bob_ws.ok("chat.history", json!({"limit": 100})).await?;
    assert_eq!(messages(&history).len(), 20);
    assert!(!texts(&history).contains(&"one too many".to_owned()));

    // The limit is per connection: Ann's other tab may still talk.
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    ann_tab.ok("chat.send", json!({"type": "all", "text": "from the other tab"})).await?;
    bob_ws.event_where("chat.in", |m| m["text"] == "from the other tab").await?;
    Ok(())
}

/// A history page of long messages would be larger than API Gateway carries in one frame
/// (128 KB): it is cut to fit, says `hasMore`, and paging on from it loses nothing.
#[tokio::test]
async fn history_pages_fit_in_one_frame_and_page_on_without_loss() -> anyhow::Result<()> {
    let server = TestServer::start_with(|options| options.config.chat_sends_per_10s = 1000).await?;
    let (_, mut ann) = server.connected_user("ann").await?;
    // 40 messages of about 8 KB each (four-byte characters), 320 KB in all.
    let long = "🦀".repeat(1990);
    for i in 0..40 {
        ann.ok("chat.send", json!({"type": "all", "text": format!("{i:02}{long}")})).await?;
    }
    let frame_bytes = |page: &Value| serde_json::to_string(page).map(|s| s.len()).unwrap_or(usize::MAX);
    let seqs = |page: &Value| -> Vec<i64> {
        page["data"]["messages"].as_array().into_iter().flatten().filter_map(|m| m["seq"].as_i64()).collect()
    };

    // Newest first: the page keeps the newest messages.
    let newest = ann.request("chat.history", json!({"limit": 100})).await?;
    assert!(frame_bytes(&newest) < 128 * 1024, "a reply of {} bytes", frame_bytes(&newest));
    let mut seen = seqs(&newest);
    assert!(seen.len() < 40 && !seen.is_empty(), "{} messages in a page", seen.len());
    assert_eq!(seen.last(), Some(&40), "the newest message is on the newest page");
    assert_eq!(newest["data"]["hasMore"], true);
    while let Some(&oldest) = seen.first().filter(|&&s| s > 1) {
        let older = ann.request("chat.history", json!({"limit": 100, "before": oldest})).await?;
        assert!(frame_bytes(&older) < 128 * 1024);
        let mut page = seqs(&older);
        assert!(!page.is_empty(), "paging back from {oldest} stalled");
        page.extend(seen);
        seen = page;
    }
    assert_eq!(seen, (1..=40).collect::<Vec<_>>(), "every message once, in order");

    // Oldest first (`after`): the page keeps the oldest messages.
    let forward = ann.request("chat.history", json!({"limit": 100, "after": 0})).await?;
    let page = seqs(&forward);
    assert_eq!(page.first(), Some(&1));
    assert_eq!(page, (1..=page.len() as i64).collect::<Vec<_>>());
    assert_eq!(forward["data"]["hasMore"], true);
    Ok(())
}
