//! `chat.typing`: who hears that someone is typing, how often, and what is refused.

use std::time::Duration;

use chatting_e2e::{Client, TestServer, unique};
use chatting_shared::service::TYPING_INTERVAL;
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn typing_in_a_room_reaches_the_others_inside_and_no_connection_of_the_typist() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Typing"})).await?["roomId"].clone();
    ann_tab.ok("room.join", json!({"roomId": room})).await?;
    bob_ws.ok("room.join", json!({"roomId": room})).await?;

    assert_eq!(ann_ws.ok("chat.typing", json!({"type": "all"})).await?, json!({"sent": true}));
    let typing = bob_ws.event("chat.typing").await?;
    assert_eq!(
        typing,
        json!({"from": {"userId": ann.user_id, "nick": "ann", "groupId": null}, "type": "all", "roomId": room})
    );
    ann_tab.no_event("chat.typing", QUIET).await?;
    ann_ws.no_event("chat.typing", QUIET).await?;
    carl_ws.no_event("chat.typing", QUIET).await?;

    // Nothing is stored: the room's history has no trace of it.
    let history = bob_ws.ok("chat.history", json!({})).await?;
    assert_eq!(history["messages"], json!([]));
    let _ = bob;
    Ok(())
}

#[tokio::test]
async fn a_connection_is_heard_typing_at_most_once_every_two_seconds() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    // Both in the lobby.
    assert_eq!(ann_ws.ok("chat.typing", json!({"type": "all"})).await?, json!({"sent": true}));
    bob_ws.event("chat.typing").await?;
    for _ in 0..5 {
        assert_eq!(ann_ws.ok("chat.typing", json!({"type": "all"})).await?, json!({"sent": false}));
    }
    bob_ws.no_event("chat.typing", QUIET).await?;
    // Telling every keystroke does not hold the next event back beyond the interval.
    tokio::time::sleep(TYPING_INTERVAL + Duration::from_millis(100)).await;
    assert_eq!(ann_ws.ok("chat.typing", json!({"type": "all"})).await?, json!({"sent": true}));
    bob_ws.event("chat.typing").await?;
    Ok(())
}

#[tokio::test]
async fn whisper_and_group_typing_reach_only_their_audience_keyed_as_they_see_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;

    ann_ws.ok("chat.typing", json!({"type": "whisper", "to": bob.user_id})).await?;
    let typing = bob_ws.event("chat.typing").await?;
    assert_eq!((typing["type"].as_str(), typing["with"].as_str()), (Some("whisper"), Some(ann.user_id.as_str())));
    assert_eq!(typing["from"]["userId"], ann.user_id.as_str());
    carl_ws.no_event("chat.typing", QUIET).await?;

    let group = unique("g");
    bob_ws.ok("group.create", json!({"groupId": group})).await?;
    carl_ws.ok("group.join", json!({"groupId": group})).await?;
    bob_ws.ok("chat.typing", json!({"type": "group"})).await?;
    let typing = carl_ws.event("chat.typing").await?;
    assert_eq!((typing["type"].as_str(), typing["groupId"].as_str()), (Some("group"), Some(group.as_str())));
    ann_ws.no_event("chat.typing", QUIET).await?;
    bob_ws.no_event("chat.typing", QUIET).await?;
    Ok(())
}

#[tokio::test]
async fn typing_to_nobody_or_without_a_group_is_refused() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    ann_ws.fails("chat.typing", json!({"type": "whisper", "to": unique("nobody")}), "noInfo").await?;
    ann_ws.fails("chat.typing", json!({"type": "whisper", "to": ann.user_id}), "invalid").await?;
    ann_ws.fails("chat.typing", json!({"type": "group"}), "invalid").await?;
    for bad in
        [json!({"type": "whisper"}), json!({"type": "shout"}), json!({}), json!({"type": "whisper", "to": "NO!"})]
    {
        ann_ws.fails("chat.typing", bad, "invalid").await?;
    }
    // A refusal is not a typing event: the next good one goes out at once.
    assert_eq!(ann_ws.ok("chat.typing", json!({"type": "all"})).await?, json!({"sent": true}));
    Ok(())
}
