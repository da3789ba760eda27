//! Groups: list, create, join, leave, one group per user, `group.list.refresh`, and group
//! chat reaching every online member wherever they are.

use std::time::Duration;

use chatting_e2e::{Client, TestServer};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

fn summary(group: &str, members: u32, online: u32) -> Value {
    json!({"groupId": group, "members": members, "online": online})
}

async fn group_of(client: &mut Client, user_id: &str) -> anyhow::Result<Value> {
    Ok(client.ok("user.info", json!({"userId": user_id})).await?["groupId"].clone())
}

#[tokio::test]
async fn group_create_join_leave_and_list() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (_, mut carl_ws) = server.connected_user("carl").await?;
    assert_eq!(ann_ws.ok("group.list", json!({})).await?, json!({"groups": []}));

    assert_eq!(ann_ws.ok("group.create", json!({"groupId": "tea-club_1"})).await?, json!({"groupId": "tea-club_1"}));
    assert_eq!(carl_ws.event("group.list.refresh").await?, summary("tea-club_1", 1, 1));
    assert_eq!(ann_ws.ok("group.list", json!({})).await?, json!({"groups": [summary("tea-club_1", 1, 1)]}));
    assert_eq!(group_of(&mut bob_ws, &ann.user_id).await?, "tea-club_1");

    bob_ws.fails("group.create", json!({"groupId": "tea-club_1"}), "exist").await?;
    for bad in [
        json!({"groupId": ""}),
        json!({"groupId": "tea club"}),
        json!({"groupId": "x".repeat(31)}),
        json!({"groupId": "ü"}),
        json!({}),
    ] {
        bob_ws.fails("group.create", bad, "invalid").await?;
    }
    bob_ws.fails("group.join", json!({"groupId": "no-such-group"}), "noInfo").await?;
    assert_eq!(group_of(&mut bob_ws, &bob.user_id).await?, Value::Null);

    assert_eq!(bob_ws.ok("group.join", json!({"groupId": "tea-club_1"})).await?, json!({"groupId": "tea-club_1"}));
    assert_eq!(ann_ws.event_where("group.list.refresh", |d| d["members"] == 2).await?, summary("tea-club_1", 2, 2));
    assert_eq!(carl_ws.event_where("group.list.refresh", |d| d["members"] == 2).await?, summary("tea-club_1", 2, 2));
    let me = bob_ws.ok("user.me", json!({})).await?;
    assert_eq!(me["groupId"], "tea-club_1");
    // Ann's earlier refreshes have all arrived; a later `members: 1` means Bob left.
    ann_ws.clear_events();

    assert_eq!(bob_ws.ok("group.leave", json!({})).await?, json!({}));
    assert_eq!(ann_ws.event("group.list.refresh").await?, summary("tea-club_1", 1, 1));
    bob_ws.fails("group.leave", json!({}), "invalid").await?;
    assert_eq!(group_of(&mut ann_ws, &bob.user_id).await?, Value::Null);

    // The last member leaving removes the group.
    ann_ws.ok("group.leave", json!({})).await?;
    carl_ws.event_where("group.list.refresh", |d| d["members"] == 0).await?;
    assert_eq!(carl_ws.ok("group.list", json!({})).await?, json!({"groups": []}));
    bob_ws.fails("group.join", json!({"groupId": "tea-club_1"}), "noInfo").await?;
    // Its id is free again.
    bob_ws.ok("group.create", json!({"groupId": "tea-club_1"})).await?;
    Ok(())
}

#[tokio::test]
async fn a_user_is_in_one_group_and_joining_another_leaves_the_first() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (_, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let (_, mut dan_ws) = server.connected_user("dan").await?;
    ann_ws.ok("group.create", json!({"groupId": "first"})).await?;
    carl_ws.ok("group.join", json!({"groupId": "first"})).await?;
    bob_ws.ok("group.create", json!({"groupId": "second"})).await?;
    // Forget the refreshes so far, so that every one awaited below is new.
    carl_ws.event_where("group.list.refresh", |d| *d == summary("first", 2, 2)).await?;
    carl_ws.clear_events();
    dan_ws.event_where("group.list.refresh", |d| d["groupId"] == "second").await?;
    dan_ws.clear_events();

    ann_ws.ok("group.join", json!({"groupId": "second"})).await?;
    assert_eq!(group_of(&mut dan_ws, &ann.user_id).await?, "second");
    assert_eq!(
        carl_ws.event_where("group.list.refresh", |d| *d == summary("first", 1, 1)).await?,
        summary("first", 1, 1)
    );
    dan_ws.event_where("group.list.refresh", |d| *d == summary("second", 2, 2)).await?;
    let list = dan_ws.ok("group.list", json!({})).await?;
    assert_eq!(list, json!({"groups": [summary("first", 1, 1), summary("second", 2, 2)]}));

    // Carl was the last of "first": moving on removes it.
    carl_ws.ok("group.join", json!({"groupId": "second"})).await?;
    dan_ws.event_where("group.list.refresh", |d| *d == summary("first", 0, 0)).await?;
    dan_ws.event_where("group.list.refresh", |d| *d == summary("second", 3, 3)).await?;
    assert_eq!(dan_ws.ok("group.list", json!({})).await?, json!({"groups": [summary("second", 3, 3)]}));
    assert_eq!(group_of(&mut dan_ws, &carl.user_id).await?, "second");

    // Creating a group also leaves the one the creator was in.
    ann_ws.ok("group.create", json!({"groupId": "third"})).await?;
    dan_ws.event_where("group.list.refresh", |d| *d == summary("second", 2, 2)).await?;
    let list = dan_ws.ok("group.list", json!({})).await?;
    assert_eq!(list, json!({"groups": [summary("second", 2, 2), summary("third", 1, 1)]}));

    // Joining the group one is in changes nothing.
    assert_eq!(ann_ws.ok("group.join", json!({"groupId": "third"})).await?, json!({"groupId": "third"}));
    assert_eq!(dan_ws.ok("group.list", json!({})).await?, list);
    Ok(())
}

#[tokio::test]
async fn group_list_refresh_reaches_members_in_rooms_and_follows_who_is_online() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // Eve sits in a room of her own and is in no group: group news is not for her.
    let (_, mut eve_ws) = server.connected_user("eve").await?;
    eve_ws.ok("room.create", json!({"title": "Eve's"})).await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    ann_ws.ok("group.create", json!({"groupId": "crew"})).await?;
    ann_ws.ok("room.create", json!({"title": "Ann's"})).await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;

    bob_ws.ok("group.join", json!({"groupId": "crew"})).await?;
    assert_eq!(ann_ws.event_where("group.list.refresh", |d| d["members"] == 2).await?, summary("crew", 2, 2));
    eve_ws.no_event("group.list.refresh", QUIET).await?;
    ann_ws.clear_events();

    // A second tab does not change who is online.
    let bob_tab = Client::connect(&server, &bob.access).await?;
    ann_ws.no_event("group.list.refresh", QUIET).await?;
    bob_tab.close().await?;
    ann_ws.no_event("group.list.refresh", QUIET).await?;

    bob_ws.close().await?;
    assert_eq!(ann_ws.event("group.list.refresh").await?, summary("crew", 2, 1));
    assert_eq!(ann_ws.ok("group.list", json!({})).await?, json!({"groups": [summary("crew", 2, 1)]}));
    let _bob_back = Client::connect(&server, &bob.access).await?;
    assert_eq!(ann_ws.event("group.list.refresh").await?, summary("crew", 2, 2));
    eve_ws.no_event("group.list.refresh", QUIET).await?;
    Ok(())
}

#[tokio::test]
async fn group_chat_reaches_every_online_member_wherever_they_are_and_nobody_else() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let mut carl_tab = Client::connect(&server, &carl.access).await?;
    let (_, mut dan_ws) = server.connected_user("dan").await?;
    let (_, mut eve_ws) = server.connected_user("eve").await?;
    let (frank, mut frank_ws) = server.connected_user("frank").await?;

    ann_ws.ok("group.create", json!({"groupId": "band"})).await?;
    for ws in [&mut bob_ws, &mut carl_ws, &mut frank_ws] {
        ws.ok("group.join", json!({"groupId": "band"})).await?;
    }
    // Frank is a member but offline; Ann shares a room with Eve (no member); Carl has one tab
    // in another room and one in the lobby, where Bob and Dan (no member) are.
    frank_ws.close().await?;
    let ann_room = ann_ws.ok("room.create", json!({"title": "Rehearsal"})).await?["roomId"].clone();
    eve_ws.ok("room.join", json!({"roomId": ann_room})).await?;
    carl_ws.ok("room.create", json!({"title": "Carl's"})).await?;

    let sent = ann_ws.ok("chat.send", json!({"type": "group", "text": "soundcheck at 8"})).await?;
    assert_eq!(sent["seq"], Value::Null);
    for ws in [&mut ann_ws, &mut bob_ws, &mut carl_ws, &mut carl_tab] {
        let message = ws.event_where("chat.in", |m| m["text"] == "soundcheck at 8").await?;
        assert_eq!(message["messageId"], sent["messageId"]);
        assert_eq!(
            (
                message["type"].as_str(),
                message["groupId"].as_str(),
                message["roomId"].clone(),
                message["to"].clone(),
                message["seq"].clone()
            ),
            (Some("group"), Some("band"), Value::Null, Value::Null, Value::Null)
        );
        assert_eq!(message["from"], json!({"userId": ann.user_id, "nick": "ann", "groupId": "band"}));
    }
    dan_ws.no_event("chat.in", QUIET).await?;
    eve_ws.no_event("chat.in", QUIET).await?;

    // Bob answers from the lobby; the offline member reads both later.
    bob_ws.ok("chat.send", json!({"type": "group", "text": "on my way"})).await?;
    carl_ws.event_where("chat.in", |m| m["text"] == "on my way" && m["from"]["userId"] == bob.user_id.as_str()).await?;
    let mut frank_ws = Client::connect(&server, &frank.access).await?;
    let history = frank_ws.ok("chat.history", json!({"groupId": "band"})).await?;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["soundcheck at 8", "on my way"]);
    assert_eq!(history["hasMore"], false);
    dan_ws.fails("chat.history", json!({"groupId": "band"}), "notAuth").await?;
    Ok(())
}
