//! Rooms: list, create, join, leave, info, update, capacity under contention, owner
//! handover, closing, and the room events other users see.

use std::time::Duration;

use chatting_e2e::{Client, TestServer};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

fn room_id(info: &Value) -> i64 {
    info["roomId"].as_i64().expect("a roomId")
}

fn listed(list: &Value, room: i64) -> Option<Value> {
    list["rooms"].as_array()?.iter().find(|r| r["roomId"] == room).cloned()
}

async fn current_room(client: &mut Client) -> anyhow::Result<i64> {
    Ok(client.ok("user.me", json!({})).await?["roomId"].as_i64().expect("roomId"))
}

#[tokio::test]
async fn room_create_puts_the_creator_inside_as_owner_and_tells_the_lobby() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    ann_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;

    let info = ann_ws.ok("room.create", json!({"title": "Tea", "capacity": 5, "password": "kettle"})).await?;
    let room = room_id(&info);
    assert!(room >= 1, "{info}");
    assert_eq!(
        (info["title"].as_str(), info["hasPassword"].as_bool(), info["count"].as_i64(), info["capacity"].as_i64()),
        (Some("Tea"), Some(true), Some(1), Some(5))
    );
    assert_eq!(info["owner"], ann.user_id.as_str());
    assert_eq!(info["members"], json!([{"userId": ann.user_id, "nick": "ann", "groupId": null}]));
    assert!(!info.to_string().contains("kettle"), "the room password is never returned: {info}");
    assert_eq!(current_room(&mut ann_ws).await?, room);

    let refresh = bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;
    assert_eq!(refresh["room"]["count"], 1);
    assert_eq!(refresh["room"]["owner"], ann.user_id.as_str());
    assert_eq!(refresh["room"]["title"], "Tea");
    assert!(refresh["room"].get("members").is_none(), "a list refresh carries a summary: {refresh}");
    let left = bob_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
    assert_eq!(left["user"]["userId"], ann.user_id.as_str());
    let lobby = bob_ws.ok("user.listInLobby", json!({})).await?;
    assert_eq!(chatting_e2e::user_ids(&lobby["users"]), [bob.user_id.as_str()]);

    // Without a capacity the room holds 10; the list shows the newest room first.
    let second = bob_ws.ok("room.create", json!({"title": "Coffee"})).await?;
    assert_eq!((second["capacity"].as_i64(), second["hasPassword"].as_bool()), (Some(10), Some(false)));
    let list = ann_ws.ok("room.list", json!({})).await?;
    let order: Vec<i64> = list["rooms"].as_array().unwrap().iter().map(room_id).collect();
    assert_eq!(order, [room_id(&second), room]);
    let tea = listed(&list, room).unwrap();
    assert_eq!(
        tea,
        json!({"roomId": room, "title": "Tea", "hasPassword": true, "count": 1, "capacity": 5, "owner": ann.user_id})
    );
    Ok(())
}

#[tokio::test]
async fn room_create_rejects_bad_titles_and_capacities_and_leaves_the_caller_in_place() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    for bad in [
        json!({"title": ""}),
        json!({"title": "x".repeat(51)}),
        json!({"title": "ok", "capacity": 1}),
        json!({"title": "ok", "capacity": 101}),
        json!({"title": "ok", "password": "p".repeat(31)}),
        json!({}),
    ] {
        ann_ws.fails("room.create", bad, "invalid").await?;
    }
    assert_eq!(current_room(&mut ann_ws).await?, 0);
    assert_eq!(ann_ws.ok("room.list", json!({})).await?["rooms"], json!([]));
    // The limits themselves are allowed; lengths count code points, not bytes.
    let info = ann_ws.ok("room.create", json!({"title": "é".repeat(50), "capacity": 100})).await?;
    assert_eq!(info["capacity"], 100);
    Ok(())
}

#[tokio::test]
async fn room_join_moves_out_of_the_current_room_and_tells_both_rooms() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let first = room_id(&ann_ws.ok("room.create", json!({"title": "First"})).await?);
    let second = room_id(&carl_ws.ok("room.create", json!({"title": "Second"})).await?);

    let info = bob_ws.ok("room.join", json!({"roomId": first})).await?;
    assert_eq!((room_id(&info), info["count"].as_i64()), (first, Some(2)));
    assert_eq!(chatting_e2e::user_ids(&info["members"]), [ann.user_id.clone(), bob.user_id.clone()]);
    let joined = ann_ws.event_where("user.listInRoom.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    assert_eq!((joined["roomId"].as_i64(), joined["change"].as_str()), (Some(first), Some("joined")));
    let refreshed = ann_ws.event_where("room.info.refresh", |d| d["count"] == 2).await?;
    assert_eq!(chatting_e2e::user_ids(&refreshed["members"]), [ann.user_id.clone(), bob.user_id.clone()]);
    // Everything Ann was sent so far has arrived; what follows is Bob's move only.
    ann_ws.clear_events();

    // Bob goes from the first room straight into the second.
    let info = bob_ws.ok("room.join", json!({"roomId": second})).await?;
    assert_eq!(chatting_e2e::user_ids(&info["members"]), [carl.user_id.clone(), bob.user_id.clone()]);
    let left = ann_ws.event_where("user.listInRoom.refresh", |d| d["change"] == "left").await?;
    assert_eq!((left["roomId"].as_i64(), left["user"]["userId"].as_str()), (Some(first), Some(bob.user_id.as_str())));
    ann_ws.event_where("room.info.refresh", |d| d["count"] == 1).await?;
    let joined =
        carl_ws.event_where("user.listInRoom.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    assert_eq!((joined["roomId"].as_i64(), joined["change"].as_str()), (Some(second), Some("joined")));
    assert_eq!(current_room(&mut bob_ws).await?, second);
    let list = bob_ws.ok("room.list", json!({})).await?;
    assert_eq!(
        (listed(&list, first).unwrap()["count"].as_i64(), listed(&list, second).unwrap()["count"].as_i64()),
        (Some(1), Some(2))
    );

    // Joining the room one is in only answers its RoomInfo: nobody is told anything.
    carl_ws.clear_events();
    let again = bob_ws.ok("room.join", json!({"roomId": second})).await?;
    assert_eq!(
        (again["count"].as_i64(), chatting_e2e::user_ids(&again["members"])),
        (Some(2), vec![carl.user_id.clone(), bob.user_id.clone()])
    );
    carl_ws.no_event("user.listInRoom.refresh", QUIET).await?;

    bob_ws.fails("room.join", json!({"roomId": 999_999}), "noInfo").await?;
    bob_ws.fails("room.join", json!({"roomId": 0}), "invalid").await?;
    bob_ws.fails("room.join", json!({}), "invalid").await?;
    assert_eq!(current_room(&mut bob_ws).await?, second);
    Ok(())
}

#[tokio::test]
async fn room_password_is_checked_and_a_failed_join_leaves_the_caller_where_they_were() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let locked = room_id(&ann_ws.ok("room.create", json!({"title": "Locked", "password": "sesame"})).await?);
    let own = room_id(&bob_ws.ok("room.create", json!({"title": "Bob's"})).await?);

    bob_ws.fails("room.join", json!({"roomId": locked}), "wrong").await?;
    bob_ws.fails("room.join", json!({"roomId": locked, "password": "SESAME"}), "wrong").await?;
    bob_ws.fails("room.join", json!({"roomId": locked, "password": ""}), "wrong").await?;
    assert_eq!(current_room(&mut bob_ws).await?, own);
    let own_info = bob_ws.ok("room.info", json!({})).await?;
    assert_eq!((own_info["count"].as_i64(), own_info["owner"].as_str()), (Some(1), Some(bob.user_id.as_str())));
    ann_ws.no_event_where("user.listInRoom.refresh", QUIET, |d| d["user"]["userId"] == bob.user_id.as_str()).await?;

    let info = bob_ws.ok("room.join", json!({"roomId": locked, "password": "sesame"})).await?;
    assert_eq!(chatting_e2e::user_ids(&info["members"]), [ann.user_id.clone(), bob.user_id.clone()]);
    // Bob was alone in his own room: leaving it closed it.
    let list = ann_ws.ok("room.list", json!({})).await?;
    assert!(listed(&list, own).is_none(), "{list}");
    Ok(())
}

#[tokio::test]
async fn a_full_room_answers_no_space_and_connections_of_one_user_count_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Pair", "capacity": 2})).await?);
    bob_ws.ok("room.join", json!({"roomId": room})).await?;

    let reply = carl_ws.fails("room.join", json!({"roomId": room}), "noSpace").await?;
    assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()), "{reply}");
    assert_eq!(current_room(&mut carl_ws).await?, 0);

    // Bob's second tab is still Bob: the room holds two users, not two connections.
    let mut bob_tab = Client::connect(&server, &bob.access).await?;
    let info = bob_tab.ok("room.join", json!({"roomId": room})).await?;
    assert_eq!(chatting_e2e::user_ids(&info["members"]), [ann.user_id.clone(), bob.user_id.clone()]);
    assert_eq!(info["count"], 2);
    carl_ws.fails("room.join", json!({"roomId": room}), "noSpace").await?;

    // Once somebody leaves there is room again.
    bob_ws.ok("room.leave", json!({})).await?;
    carl_ws.fails("room.join", json!({"roomId": room}), "noSpace").await?;
    bob_tab.ok("room.leave", json!({})).await?;
    let info = carl_ws.ok("room.join", json!({"roomId": room})).await?;
    assert_eq!(info["count"], 2);
    Ok(())
}

#[tokio::test]
async fn thirty_users_racing_for_a_room_of_ten_fill_it_exactly() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut owner_ws) = server.connected_user("owner").await?;
    let room = room_id(&owner_ws.ok("room.create", json!({"title": "Rush", "capacity": 10})).await?);

    // Every racer is connected before the first join goes out.
    let names: Vec<String> = (0..30).map(|i| format!("racer{i}")).collect();
    let mut racers = Vec::new();
    for connected in futures::future::join_all(names.iter().map(|name| server.connected_user(name))).await {
        racers.push(connected?.1);
    }
    let replies =
        futures::future::join_all(racers.iter_mut().map(|c| c.request("room.join", json!({"roomId": room})))).await;
    let mut admitted = 0;
    let mut refused = 0;
    for reply in replies {
        let reply = reply?;
        match reply["code"].as_str() {
            Some("success") => admitted += 1,
            Some("noSpace") => refused += 1,
            _ => panic!("unexpected reply {reply}"),
        }
    }
    // The owner stays inside and is one of the ten, so nine of the thirty get in.
    assert_eq!((admitted, refused), (9, 21));
    let list = owner_ws.ok("room.list", json!({})).await?;
    assert_eq!(listed(&list, room).unwrap()["count"], 10);
    let info = owner_ws.ok("room.info", json!({})).await?;
    assert_eq!(info["members"].as_array().map(Vec::len), Some(10));
    Ok(())
}

#[tokio::test]
async fn room_leave_returns_to_the_lobby_and_is_invalid_there() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    bob_ws.fails("room.leave", json!({}), "invalid").await?;

    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Den"})).await?);
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    carl_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"]["count"] == 2).await?;
    carl_ws.clear_events();
    // Ann saw the room at count 1 when she made it; only a later count 1 means Bob left.
    ann_ws.event_where("room.info.refresh", |d| d["count"] == 2).await?;
    ann_ws.clear_events();

    assert_eq!(bob_ws.ok("room.leave", json!({})).await?, json!({"roomId": 0}));
    assert_eq!(current_room(&mut bob_ws).await?, 0);
    let left = ann_ws.event_where("user.listInRoom.refresh", |d| d["change"] == "left").await?;
    assert_eq!((left["roomId"].as_i64(), left["user"]["userId"].as_str()), (Some(room), Some(bob.user_id.as_str())));
    let info = ann_ws.event_where("room.info.refresh", |d| d["count"] == 1).await?;
    assert_eq!(chatting_e2e::user_ids(&info["members"]), [ann.user_id.as_str()]);
    let back = carl_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    assert_eq!(back["change"], "joined");
    let summary = carl_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;
    assert_eq!(summary["room"]["count"], 1);
    let lobby = carl_ws.ok("user.listInRoom", json!({})).await?;
    assert!(chatting_e2e::user_ids(&lobby["users"]).contains(&bob.user_id), "{lobby}");
    Ok(())
}

#[tokio::test]
async fn room_info_defaults_to_the_current_room_and_there_is_none_in_the_lobby() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    ann_ws.fails("room.info", json!({}), "noInfo").await?;

    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Hall", "password": "pw"})).await?);
    let inside = ann_ws.ok("room.info", json!({})).await?;
    assert_eq!((room_id(&inside), chatting_e2e::user_ids(&inside["members"])), (room, vec![ann.user_id.clone()]));

    // From the lobby a room can be looked at by id, password or not.
    let outside = bob_ws.ok("room.info", json!({"roomId": room})).await?;
    assert_eq!(outside, inside);
    bob_ws.fails("room.info", json!({}), "noInfo").await?;
    bob_ws.fails("room.info", json!({"roomId": 424_242}), "noInfo").await?;
    Ok(())
}

#[tokio::test]
async fn room_update_is_for_the_owner_keeps_absent_fields_and_refreshes_room_and_lobby() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    let (_, mut lobby_ws) = server.connected_user("dan").await?;
    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Old", "password": "pw1", "capacity": 5})).await?);
    bob_ws.ok("room.join", json!({"roomId": room, "password": "pw1"})).await?;
    carl_ws.ok("room.join", json!({"roomId": room, "password": "pw1"})).await?;
    bob_ws.event_where("room.info.refresh", |d| d["count"] == 3).await?;
    lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"]["count"] == 3).await?;

    bob_ws.fails("room.update", json!({"title": "Mine now"}), "notAuth").await?;
    ann_ws.fails("room.update", json!({"capacity": 2}), "invalid").await?;
    ann_ws.fails("room.update", json!({"title": ""}), "invalid").await?;
    let unchanged = ann_ws.ok("room.info", json!({})).await?;
    assert_eq!((unchanged["title"].as_str(), unchanged["capacity"].as_i64()), (Some("Old"), Some(5)));

    let info = ann_ws.ok("room.update", json!({"title": "New"})).await?;
    assert_eq!(
        (info["title"].as_str(), info["hasPassword"].as_bool(), info["capacity"].as_i64(), info["owner"].as_str()),
        (Some("New"), Some(true), Some(5), Some(ann.user_id.as_str()))
    );
    let seen = bob_ws.event_where("room.info.refresh", |d| d["title"] == "New").await?;
    assert_eq!(seen, info);
    let listed_now =
        lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"]["title"] == "New").await?;
    assert_eq!(
        (listed_now["room"]["hasPassword"].as_bool(), listed_now["room"]["capacity"].as_i64()),
        (Some(true), Some(5))
    );
    lobby_ws.fails("room.join", json!({"roomId": room, "password": "nope"}), "wrong").await?;

    // Capacity equal to the count is allowed.
    let info = ann_ws.ok("room.update", json!({"capacity": 3})).await?;
    assert_eq!(
        (info["capacity"].as_i64(), info["title"].as_str(), info["hasPassword"].as_bool()),
        (Some(3), Some("New"), Some(true))
    );
    carl_ws.event_where("room.info.refresh", |d| d["capacity"] == 3).await?;
    lobby_ws.fails("room.join", json!({"roomId": room, "password": "pw1"}), "noSpace").await?;

    let info = ann_ws.ok("room.update", json!({"password": "", "capacity": 4})).await?;
    assert_eq!(
        (info["hasPassword"].as_bool(), info["title"].as_str(), info["capacity"].as_i64()),
        (Some(false), Some("New"), Some(4))
    );
    let listed_now =
        lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"]["hasPassword"] == false).await?;
    assert_eq!(listed_now["room"]["capacity"], 4);
    let joined = lobby_ws.ok("room.join", json!({"roomId": room})).await?;
    assert_eq!(joined["count"], 4);

    // A new password applies to the next joiner, not to those inside.
    ann_ws.ok("room.update", json!({"password": "pw2", "capacity": 6})).await?;
    bob_ws.ok("room.leave", json!({})).await?;
    bob_ws.fails("room.join", json!({"roomId": room, "password": "pw1"}), "wrong").await?;
    bob_ws.ok("room.join", json!({"roomId": room, "password": "pw2"})).await?;

    // In the lobby there is no room to update.
    let (_, mut outsider) = server.connected_user("eve").await?;
    outsider.fails("room.update", json!({"title": "X"}), "invalid").await?;
    Ok(())
}

#[tokio::test]
async fn when_the_owner_leaves_the_longest_present_member_becomes_owner() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let (dan, mut dan_ws) = server.connected_user("dan").await?;
    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Crown"})).await?);
    for ws in [&mut bob_ws, &mut carl_ws, &mut dan_ws] {
        ws.ok("room.join", json!({"roomId": room})).await?;
    }

    ann_ws.ok("room.leave", json!({})).await?;
    for ws in [&mut bob_ws, &mut carl_ws, &mut dan_ws] {
        let info = ws.event_where("room.info.refresh", |d| d["owner"] == bob.user_id.as_str()).await?;
        assert_eq!(info["count"], 3);
        assert_eq!(
            chatting_e2e::user_ids(&info["members"]),
            [bob.user_id.clone(), carl.user_id.clone(), dan.user_id.clone()]
        );
    }
    let summary = ann_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;
    assert_eq!(summary["room"]["owner"], bob.user_id.as_str());
    carl_ws.fails("room.update", json!({"title": "Coup"}), "notAuth").await?;
    bob_ws.ok("room.update", json!({"title": "Bob's crown"})).await?;

    // The old owner coming back is just a member.
    ann_ws.ok("room.join", json!({"roomId": room})).await?;
    ann_ws.fails("room.update", json!({"title": "Mine"}), "notAuth").await?;

    bob_ws.ok("room.leave", json!({})).await?;
    for ws in [&mut carl_ws, &mut dan_ws, &mut ann_ws] {
        let info = ws.event_where("room.info.refresh", |d| d["owner"] == carl.user_id.as_str()).await?;
        assert_eq!(
            chatting_e2e::user_ids(&info["members"]),
            [carl.user_id.clone(), dan.user_id.clone(), ann.user_id.clone()]
        );
    }
    Ok(())
}

#[tokio::test]
async fn when_the_last_member_leaves_the_room_closes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Brief"})).await?);
    bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;

    ann_ws.ok("room.leave", json!({})).await?;
    let closed = bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"].is_null()).await?;
    assert_eq!(closed, json!({"roomId": room, "room": null}));
    assert!(listed(&bob_ws.ok("room.list", json!({})).await?, room).is_none());
    bob_ws.fails("room.join", json!({"roomId": room}), "noInfo").await?;
    ann_ws.fails("room.join", json!({"roomId": room}), "noInfo").await?;
    bob_ws.fails("room.info", json!({"roomId": room}), "noInfo").await?;
    assert_eq!(current_room(&mut bob_ws).await?, 0);
    Ok(())
}

#[tokio::test]
async fn closing_the_socket_of_a_member_is_like_leaving_the_room() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let (_, mut lobby_ws) = server.connected_user("dan").await?;
    let room = room_id(&ann_ws.ok("room.create", json!({"title": "Drop"})).await?);
    bob_ws.ok("room.join", json!({"roomId": room})).await?;
    carl_ws.ok("room.join", json!({"roomId": room})).await?;
    lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"]["count"] == 3).await?;
    lobby_ws.clear_events();

    ann_ws.close().await?;
    for ws in [&mut bob_ws, &mut carl_ws] {
        let left = ws.event_where("user.listInRoom.refresh", |d| d["change"] == "left").await?;
        assert_eq!(
            (left["roomId"].as_i64(), left["user"]["userId"].as_str()),
            (Some(room), Some(ann.user_id.as_str()))
        );
        let info = ws.event_where("room.info.refresh", |d| d["owner"] == bob.user_id.as_str()).await?;
        assert_eq!(info["count"], 2);
        assert_eq!(chatting_e2e::user_ids(&info["members"]), [bob.user_id.clone(), carl.user_id.clone()]);
    }
    let summary = lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room).await?;
    assert_eq!(
        (summary["room"]["count"].as_i64(), summary["room"]["owner"].as_str()),
        (Some(2), Some(bob.user_id.as_str()))
    );
    // Ann was in a room, not in the lobby: the lobby's user list never showed her.
    lobby_ws.no_event("user.listInLobby.refresh", QUIET).await?;

    bob_ws.close().await?;
    let info = carl_ws.event_where("room.info.refresh", |d| d["count"] == 1).await?;
    assert_eq!(info["owner"], carl.user_id.as_str());
    carl_ws.close().await?;
    lobby_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"].is_null()).await?;
    lobby_ws.fails("room.join", json!({"roomId": room}), "noInfo").await?;
    let info = lobby_ws.ok("user.info", json!({"userId": ann.user_id})).await?;
    assert_eq!(info["online"], false);
    Ok(())
}

/// The database made anew (a developer's reset, a restore) while Redis lives on: room ids
/// start again at 1, and Redis still holds the closed marks of the old rooms. A room the
/// store has just created must open all the same. On MariaDB + Redis the second server
/// gets a fresh database and the first one's key prefix; elsewhere each server has its own
/// presence, and the test shows the plain case.
#[tokio::test]
async fn a_database_made_anew_under_a_live_presence_store_still_opens_rooms() -> anyhow::Result<()> {
    let first = TestServer::start().await?;
    let (_, mut ann) = first.connected_user("ann").await?;
    let mut old_rooms = Vec::new();
    for title in ["One", "Two", "Three"] {
        old_rooms.push(room_id(&ann.ok("room.create", json!({"title": title})).await?));
        ann.ok("room.leave", json!({})).await?;
    }
    let prefix = first.config.redis_prefix.clone();
    drop(ann);
    drop(first);

    let second = TestServer::start_with(|options| options.config.redis_prefix = prefix).await?;
    let (_, mut bob) = second.connected_user("bob").await?;
    let (_, mut cat) = second.connected_user("cat").await?;
    for title in ["Uno", "Dos", "Tres"] {
        let created = bob.ok("room.create", json!({"title": title})).await?;
        let room = room_id(&created);
        cat.ok("room.join", json!({"roomId": room})).await?;
        let list = bob.ok("room.list", json!({})).await?;
        assert_eq!(
            listed(&list, room).map(|r| r["count"].clone()),
            Some(json!(2)),
            "room {room} ({title}) is open: {list}"
        );
        cat.ok("room.leave", json!({})).await?;
        bob.ok("room.leave", json!({})).await?;
    }
    println!("old room ids {old_rooms:?}; the new rooms opened under the same presence store");
    Ok(())
}
