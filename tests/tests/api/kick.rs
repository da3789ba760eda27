//! `room.kick`: the owner moves a user out of the room, who may not come back for a while.

use std::time::Duration;

use chatting_e2e::{Client, TestServer, unique};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

fn member_ids(info: &Value) -> Vec<&str> {
    info["members"].as_array().into_iter().flatten().filter_map(|m| m["userId"].as_str()).collect()
}

#[tokio::test]
async fn a_kick_moves_every_tab_of_the_user_to_the_lobby_and_bars_the_room() -> anyhow::Result<()> {
    let bar = Duration::from_secs(3);
    let server = TestServer::start_with(|options| options.config.room_kick_bar = bar).await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let mut bob_tab = Client::connect(&server, &bob.access).await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Quiet room"})).await?["roomId"].clone();
    for ws in [&mut bob_ws, &mut bob_tab, &mut carl_ws] {
        ws.ok("room.join", json!({"roomId": room})).await?;
    }

    let info = ann_ws.ok("room.kick", json!({"userId": bob.user_id})).await?;
    assert_eq!(info["roomId"], room);
    assert_eq!(member_ids(&info), [ann.user_id.as_str(), carl.user_id.as_str()]);
    for ws in [&mut bob_ws, &mut bob_tab] {
        assert_eq!(ws.event("room.kicked").await?, json!({"roomId": room, "by": ann.user_id}));
        assert_eq!(ws.ok("user.me", json!({})).await?["roomId"], 0, "back in the lobby");
    }
    let left = carl_ws.event_where("user.listInRoom.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    assert_eq!(left["change"], "left");
    carl_ws.no_event("room.kicked", QUIET).await?;

    // Barred: refused at once, while someone never kicked joins as before.
    let refused = bob_ws.fails("room.join", json!({"roomId": room}), "notAuth").await?;
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("removed")), "{refused}");
    let (_, mut dan_ws) = server.connected_user("dan").await?;
    dan_ws.ok("room.join", json!({"roomId": room})).await?;
    // Once the bar has passed, the door is open again.
    tokio::time::sleep(bar + Duration::from_millis(200)).await;
    let back = bob_ws.ok("room.join", json!({"roomId": room})).await?;
    assert!(member_ids(&back).contains(&bob.user_id.as_str()));
    Ok(())
}

#[tokio::test]
async fn only_the_owner_kicks_and_only_someone_inside_who_is_not_themselves() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    assert_eq!(server.config.room_kick_bar, Duration::from_secs(600), "ten minutes unless configured");
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    ann_ws.fails("room.kick", json!({"userId": bob.user_id}), "invalid").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Owner only"})).await?["roomId"].clone();
    bob_ws.ok("room.join", json!({"roomId": room})).await?;

    bob_ws.fails("room.kick", json!({"userId": ann.user_id}), "notAuth").await?;
    ann_ws.fails("room.kick", json!({"userId": ann.user_id}), "invalid").await?;
    ann_ws.fails("room.kick", json!({"userId": carl.user_id}), "noInfo").await?;
    ann_ws.fails("room.kick", json!({"userId": unique("nobody")}), "noInfo").await?;
    for bad in [json!({}), json!({"userId": "NOT VALID!"}), json!({"userId": 7})] {
        ann_ws.fails("room.kick", bad, "invalid").await?;
    }
    // Nobody moved: Bob is still inside, and Carl in the lobby heard nothing.
    assert_eq!(bob_ws.ok("user.me", json!({})).await?["roomId"], room);
    carl_ws.no_event("room.kicked", QUIET).await?;
    Ok(())
}
