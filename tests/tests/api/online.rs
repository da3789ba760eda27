//! `user.listOnline`: everyone online, wherever they are, each once with the rooms their
//! connections are in.

use std::time::{Duration, Instant};

use chatting_e2e::{Backend, Client, TestServer, forget_connection};
use serde_json::{Value, json};

/// `(userId, roomIds)` of each listed user, in the order listed.
fn places(reply: &Value) -> Vec<(String, Value)> {
    reply["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| (u["userId"].as_str().unwrap_or_default().to_owned(), u["roomIds"].clone()))
        .collect()
}

fn by_user_id(mut places: Vec<(String, Value)>) -> Vec<(String, Value)> {
    places.sort_by(|a, b| a.0.cmp(&b.0));
    places
}

#[tokio::test]
async fn everyone_online_is_listed_once_with_every_room_they_are_in() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (carl, mut carl_ws) = server.connected_user("carl").await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let mut ann_tab = Client::connect(&server, &ann.access).await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let dan = server.user("dan").await?;
    let room = ann_tab.ok("room.create", json!({"title": "Ann's"})).await?["roomId"].clone();
    bob_ws.ok("room.join", json!({"roomId": room})).await?;

    let listed = carl_ws.ok("user.listOnline", json!({})).await?;
    let expected = by_user_id(vec![
        (ann.user_id.clone(), json!([0, room])),
        (bob.user_id.clone(), json!([room])),
        (carl.user_id.clone(), json!([0])),
    ]);
    assert_eq!(places(&listed), expected, "{listed}");
    assert!(!listed.to_string().contains(&dan.user_id), "Dan never connected: {listed}");
    let carl_listed = listed["users"].as_array().into_iter().flatten().find(|u| u["userId"] == carl.user_id.as_str());
    assert_eq!(carl_listed, Some(&json!({"userId": carl.user_id, "nick": "carl", "groupId": null, "roomIds": [0]})));
    // The same list from inside a room: it does not depend on where the caller is.
    assert_eq!(bob_ws.ok("user.listOnline", json!({})).await?, listed);

    // A new nick and a group show at once.
    ann_ws.ok("user.update", json!({"nick": "Annie"})).await?;
    bob_ws.ok("group.create", json!({"groupId": "builders"})).await?;
    let listed = carl_ws.ok("user.listOnline", json!({})).await?;
    let user = |id: &str| listed["users"].as_array().into_iter().flatten().find(|u| u["userId"] == id).cloned();
    assert_eq!(
        user(&ann.user_id),
        Some(json!({"userId": ann.user_id, "nick": "Annie", "groupId": null, "roomIds": [0, room]}))
    );
    assert_eq!(
        user(&bob.user_id),
        Some(json!({"userId": bob.user_id, "nick": "bob", "groupId": "builders", "roomIds": [room]}))
    );

    // Moves and departures: Bob back in the lobby, Ann's room tab closed, Carl gone, Dan here.
    bob_ws.ok("room.leave", json!({})).await?;
    ann_tab.close().await?;
    carl_ws.close().await?;
    // Both departures are done once the lobby has been told of them.
    bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"].is_null()).await?;
    bob_ws
        .event_where("user.listInLobby.refresh", |d| {
            d["change"] == "left" && d["user"]["userId"] == carl.user_id.as_str()
        })
        .await?;
    let mut dan_ws = Client::connect(&server, &dan.access).await?;
    let listed = dan_ws.ok("user.listOnline", json!({})).await?;
    let expected = by_user_id(vec![
        (ann.user_id.clone(), json!([0])),
        (bob.user_id.clone(), json!([0])),
        (dan.user_id.clone(), json!([0])),
    ]);
    assert_eq!(places(&listed), expected, "{listed}");
    Ok(())
}

/// A connection lost without `$disconnect` stays in its room's lists until the sweep cleans
/// up after it, but is no longer listed online once its lease has run out.
#[tokio::test]
async fn a_connection_lost_without_disconnect_leaves_the_online_list_when_its_lease_ends() -> anyhow::Result<()> {
    let lease = Duration::from_secs(3);
    let server = TestServer::start_with(|options| options.config.connection_lease = lease).await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Lost"})).await?["roomId"].clone();
    let ann_connection = ann_ws.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    let lost_at = Instant::now();
    assert!(forget_connection(&server, &ann_connection).await?, "the gateway knew the connection");
    let listed = bob_ws.ok("user.listOnline", json!({})).await?;
    let expected = by_user_id(vec![(ann.user_id.clone(), json!([room])), (bob.user_id.clone(), json!([0]))]);
    assert_eq!(places(&listed), expected, "listed while its lease runs: {listed}");

    // Bob keeps his own lease running by talking; nobody disconnects, so nothing is swept.
    while lost_at.elapsed() < lease + Duration::from_millis(700) {
        bob_ws.ok("chat.send", json!({"type": "all", "text": "anyone?"})).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let listed = bob_ws.ok("user.listOnline", json!({})).await?;
    assert_eq!(places(&listed), [(bob.user_id.clone(), json!([0]))], "{listed}");
    Ok(())
}

/// Nick and group come from presence's copy, so listing everyone reads no store, and the
/// presence backends answer it in a fixed number of requests however many are online.
#[tokio::test]
async fn listing_everyone_online_reads_no_store_and_a_fixed_number_of_presence_requests() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let room = ann_ws.ok("room.create", json!({"title": "Busy"})).await?["roomId"].clone();
    let mut others = Vec::new();
    for i in 0..12 {
        let (_, mut ws) = server.connected_user(&format!("user{i}")).await?;
        if i % 2 == 0 {
            ws.ok("room.join", json!({"roomId": room})).await?;
        }
        others.push(ws);
    }

    let before = server.metrics().await?;
    let listed = ann_ws.ok("user.listOnline", json!({})).await?;
    let after = server.metrics().await?;
    assert_eq!(places(&listed).len(), 13, "{listed}");
    let spent = |name: &str| after[name].as_u64().unwrap_or(0) - before[name].as_u64().unwrap_or(0);
    assert_eq!(spent("storeStatements"), 0);
    match Backend::from_env()? {
        Backend::Embedded => {}
        Backend::MySqlRedis => assert_eq!(spent("redisRoundTrips"), 2, "the caller's connection, then one script"),
        Backend::DynamoDb => assert_eq!(
            spent("dynamodbRequests"),
            1 + 4 + 1,
            "the caller's connection, a query per lease shard, one batch of connection items"
        ),
    }
    Ok(())
}
