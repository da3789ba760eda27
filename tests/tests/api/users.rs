//! Users: info and online state, nick changes and who hears of them, user lists, and a user
//! with several connections counting as one.

use std::time::Duration;

use chatting_e2e::{Client, TestServer};
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn user_info_tells_who_is_online() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let bob = server.user("bob").await?;

    let me = ann_ws.ok("user.info", json!({"userId": ann.user_id})).await?;
    assert_eq!(me, json!({"userId": ann.user_id, "nick": "ann", "groupId": null, "online": true}));
    let away = ann_ws.ok("user.info", json!({"userId": bob.user_id})).await?;
    assert_eq!(away, json!({"userId": bob.user_id, "nick": "bob", "groupId": null, "online": false}));
    ann_ws.fails("user.info", json!({"userId": "no_such_user_here"}), "noInfo").await?;
    ann_ws.fails("user.info", json!({"userId": "Not A Valid Id"}), "invalid").await?;
    ann_ws.fails("user.info", json!({}), "invalid").await?;

    let bob_ws = Client::connect(&server, &bob.access).await?;
    ann_ws
        .event_where("user.listInLobby.refresh", |d| {
            d["change"] == "joined" && d["user"]["userId"] == bob.user_id.as_str()
        })
        .await?;
    assert_eq!(ann_ws.ok("user.info", json!({"userId": bob.user_id})).await?["online"], true);
    bob_ws.close().await?;
    ann_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
    assert_eq!(ann_ws.ok("user.info", json!({"userId": bob.user_id})).await?["online"], false);
    Ok(())
}

#[tokio::test]
async fn a_nick_change_reaches_the_lobby_and_the_rooms_the_user_is_in() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let room = ann_tab.ok("room.create", json!({"title": "Ann's"})).await?["roomId"].as_i64().unwrap();
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let (_, mut dan_ws) = server.connected_user("dan").await?;
    dan_ws.ok("room.create", json!({"title": "Dan's"})).await?;
    // Everything sent to Dan so far concerned his own arrival.
    dan_ws.event_where("room.info.refresh", |_| true).await?;
    dan_ws.clear_events();

    for bad in ["", "   ", &"n".repeat(21), "bell\u{7}"] {
        ann_ws.fails("user.update", json!({"nick": bad}), "invalid").await?;
    }
    ann_ws.fails("user.update", json!({}), "invalid").await?;
    assert_eq!(carl_ws.ok("user.info", json!({"userId": ann.user_id})).await?["nick"], "ann");

    let renamed = ann_ws.ok("user.update", json!({"nick": "  Annie  "})).await?;
    let annie = json!({"userId": ann.user_id, "nick": "Annie", "groupId": null});
    assert_eq!(renamed, annie);

    let lobby = carl_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "updated").await?;
    assert_eq!(lobby, json!({"change": "updated", "user": annie}));
    let in_room = bob_ws.event_where("user.listInRoom.refresh", |d| d["change"] == "updated").await?;
    assert_eq!(in_room, json!({"roomId": room, "change": "updated", "user": annie}));
    let info = bob_ws.event_where("room.info.refresh", |d| d["members"][0]["nick"] == "Annie").await?;
    assert_eq!(info["members"][0], annie);
    dan_ws.no_event("user.listInRoom.refresh", QUIET).await?;
    dan_ws.no_event("user.listInLobby.refresh", QUIET).await?;

    assert_eq!(carl_ws.ok("user.info", json!({"userId": ann.user_id})).await?["nick"], "Annie");
    ann_tab.ok("chat.send", json!({"type": "all", "text": "new name"})).await?;
    let message = bob_ws.event_where("chat.in", |m| m["text"] == "new name").await?;
    assert_eq!(message["from"], annie);
    Ok(())
}

#[tokio::test]
async fn user_list_in_room_lists_the_current_room_or_the_lobby() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;

    let lobby = carl_ws.ok("user.listInRoom", json!({})).await?;
    assert_eq!(lobby["roomId"], 0);
    assert_eq!(
        chatting_e2e::user_ids(&lobby["users"]),
        [ann.user_id.clone(), bob.user_id.clone(), carl.user_id.clone()]
    );
    assert_eq!(lobby["users"][1], json!({"userId": bob.user_id, "nick": "bob", "groupId": null}));

    let room = ann_ws.ok("room.create", json!({"title": "Two"})).await?["roomId"].as_i64().unwrap();
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    let inside = bob_ws.ok("user.listInRoom", json!({})).await?;
    assert_eq!(
        (inside["roomId"].as_i64(), chatting_e2e::user_ids(&inside["users"])),
        (Some(room), vec![ann.user_id.clone(), bob.user_id.clone()])
    );
    let lobby = carl_ws.ok("user.listInRoom", json!({})).await?;
    assert_eq!(
        (lobby["roomId"].as_i64(), chatting_e2e::user_ids(&lobby["users"])),
        (Some(0), vec![carl.user_id.clone()])
    );
    assert_eq!(carl_ws.ok("user.listInLobby", json!({})).await?["users"], lobby["users"]);
    Ok(())
}

#[tokio::test]
async fn several_connections_of_one_user_are_one_user_everywhere() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let ann = server.user("ann").await?;

    let mut first = Client::connect(&server, &ann.access).await?;
    let joined =
        bob_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == ann.user_id.as_str()).await?;
    assert_eq!(joined["change"], "joined");
    let mut second = Client::connect(&server, &ann.access).await?;
    let third = Client::connect(&server, &ann.access).await?;
    bob_ws.no_event("user.listInLobby.refresh", QUIET).await?;
    let lobby = bob_ws.ok("user.listInLobby", json!({})).await?;
    assert_eq!(chatting_e2e::user_ids(&lobby["users"]), [bob.user_id.clone(), ann.user_id.clone()]);

    // One tab goes into a room; the others keep Ann in the lobby, so the lobby hears nothing.
    let room = first.ok("room.create", json!({"title": "Tabs"})).await?["roomId"].as_i64().unwrap();
    bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;
    bob_ws.no_event("user.listInLobby.refresh", QUIET).await?;
    assert!(chatting_e2e::user_ids(&bob_ws.ok("user.listInLobby", json!({})).await?["users"]).contains(&ann.user_id));

    // Carl shares the room; Ann's second tab following her in is not news to him.
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    carl_ws.ok("room.join", json!({"roomId": room})).await?;
    carl_ws.event_where("room.info.refresh", |d| d["count"] == 2).await?;
    carl_ws.clear_events();
    let info = second.ok("room.join", json!({"roomId": room})).await?;
    assert_eq!(
        (info["count"].as_i64(), chatting_e2e::user_ids(&info["members"])),
        (Some(2), vec![ann.user_id.clone(), carl.user_id.clone()])
    );
    carl_ws.no_event("user.listInRoom.refresh", QUIET).await?;
    let list = bob_ws.ok("room.list", json!({})).await?;
    assert_eq!(list["rooms"][0]["count"], 2);

    // Ann's first tab leaving keeps her in the room (and its owner) through the second one.
    first.ok("room.leave", json!({})).await?;
    carl_ws.no_event("user.listInRoom.refresh", QUIET).await?;
    let info = carl_ws.ok("room.info", json!({})).await?;
    assert_eq!((info["owner"].as_str(), info["count"].as_i64()), (Some(ann.user_id.as_str()), Some(2)));

    // `left` comes with the last connection only, in the room and in the lobby.
    second.close().await?;
    let left = carl_ws.event_where("user.listInRoom.refresh", |d| d["change"] == "left").await?;
    assert_eq!(left["user"]["userId"], ann.user_id.as_str());
    third.close().await?;
    bob_ws.no_event_where("user.listInLobby.refresh", QUIET, |d| d["user"]["userId"] == ann.user_id.as_str()).await?;
    assert_eq!(bob_ws.ok("user.info", json!({"userId": ann.user_id})).await?["online"], true);
    first.close().await?;
    let left = bob_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == ann.user_id.as_str()).await?;
    assert_eq!(left["change"], "left");
    assert_eq!(bob_ws.ok("user.info", json!({"userId": ann.user_id})).await?["online"], false);
    Ok(())
}
