//! 500 connections dropped at once, each the way networks drop them (a TCP reset, a FIN
//! without a close frame, the idle timeout, a 410 from the Management API), leave no
//! trace: checked through the presence trait, in Redis key by key (on MariaDB + Redis),
//! in the store (every room they emptied is closed) and in the gateway's table.
//! `tests/api/reliability.rs` shows the same cleanup one connection at a time.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chatting_e2e::{RawWs, TestServer, forget_connection};
use chatting_shared::domain::{ConnectionId, RoomId, UserId};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Death {
    Reset,
    Fin,
    IdleTimeout,
    Gone410,
}

/// One connection in its own task: reads everything it is sent, keeps itself alive with
/// WebSocket pings (the idle timeout is short), and dies when told.
fn spawn_connection(mut ws: RawWs, mut orders: tokio::sync::mpsc::Receiver<Death>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut keep_alive = tokio::time::interval(Duration::from_millis(500));
        let mut pinging = true;
        loop {
            tokio::select! {
                order = orders.recv() => match order {
                    Some(Death::Reset) => {
                        let _ = ws.reset();
                        return;
                    }
                    Some(Death::Fin) => {
                        ws.fin().await;
                        return;
                    }
                    // Silence: the server's idle timeout, or a 410 after the test makes the
                    // gateway forget the connection; either way stop talking, keep reading.
                    Some(Death::IdleTimeout | Death::Gone410) | None => pinging = false,
                },
                _ = keep_alive.tick(), if pinging => {
                    if ws.socket().send(Message::Ping(Vec::new().into())).await.is_err() {
                        return;
                    }
                }
                frame = ws.socket().next() => match frame {
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

struct Member {
    user: usize,
    connection: String,
    death: Death,
    orders: tokio::sync::mpsc::Sender<Death>,
}

fn user_id(raw: &str) -> anyhow::Result<UserId> {
    UserId::parse(raw).map_err(anyhow::Error::msg)
}

#[tokio::test]
async fn five_hundred_dropped_connections_leave_no_trace() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    const USERS: usize = 20;
    const CONNECTIONS: usize = 500;
    let idle = Duration::from_secs(4);
    let server = TestServer::start_with(|options| {
        options.idle_timeout = idle;
        options.config.chat_sends_per_10s = 100_000;
    })
    .await?;
    let started = Instant::now();
    let mut sessions = Vec::new();
    for _ in 0..USERS {
        sessions.push(server.user("many").await?);
    }
    let users: Vec<UserId> = sessions.iter().map(|s| user_id(&s.user_id)).collect::<anyhow::Result<_>>()?;

    // Every user has 25 connections. The first connection of every even user makes a room;
    // the first of the next user and a second one of the even user join it. Each connection
    // gets its task (which keeps it alive) as soon as it has done its part.
    let deaths = [Death::Reset, Death::Fin, Death::IdleTimeout, Death::Gone410];
    let mut tasks = Vec::new();
    let mut members = Vec::new();
    let adopt = |user: usize, ws: RawWs, connection: String, tasks: &mut Vec<_>, members: &mut Vec<Member>| {
        let (orders, receive) = tokio::sync::mpsc::channel(1);
        tasks.push(spawn_connection(ws, receive));
        let death = deaths[members.len() % deaths.len()];
        members.push(Member { user, connection, death, orders });
    };
    let mut rooms = Vec::new();
    for pair in 0..USERS / 2 {
        let (owner, guest) = (2 * pair, 2 * pair + 1);
        let mut ws = RawWs::connect(&server, &sessions[owner].access, None).await?;
        let room = ws.ok("room.create", json!({"title": format!("room {pair}")})).await?["roomId"]
            .as_i64()
            .unwrap_or_default();
        let cid = ws.connection_id().await?;
        adopt(owner, ws, cid, &mut tasks, &mut members);
        for user in [guest, owner] {
            let mut ws = RawWs::connect(&server, &sessions[user].access, None).await?;
            ws.ok("room.join", json!({"roomId": room})).await?;
            let cid = ws.connection_id().await?;
            adopt(user, ws, cid, &mut tasks, &mut members);
        }
        rooms.push(RoomId::from_stored(room));
    }
    let mut opening = futures::stream::iter(members.len()..CONNECTIONS)
        .map(|i| {
            let (server, sessions) = (&server, &sessions);
            async move {
                let user = i % USERS;
                let mut ws = RawWs::connect(server, &sessions[user].access, None).await?;
                let cid = ws.connection_id().await?;
                Ok::<_, anyhow::Error>((user, ws, cid))
            }
        })
        .buffer_unordered(16);
    while let Some(opened) = opening.next().await {
        let (user, ws, cid) = opened?;
        adopt(user, ws, cid, &mut tasks, &mut members);
    }
    drop(opening);
    let set_up = started.elapsed();
    let (_, mut watcher) = server.connected_user("watcher").await?;
    let watcher_cid = watcher.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(server.gateway.registry.len(), CONNECTIONS + 1);

    // All 500 die at once, each its way.
    let died = Instant::now();
    for member in &members {
        if member.death == Death::Gone410 {
            assert!(forget_connection(&server, &member.connection).await?, "the gateway knew {}", member.connection);
        }
        member.orders.send(member.death).await?;
    }
    // Connections the gateway forgot are found when something is pushed to them: whispers
    // reach every connection of a user, a lobby message every lobby connection.
    let presence = server.gateway.chat.presence.clone();
    let deadline = died + idle + Duration::from_secs(30);
    let mut whispers = 0;
    loop {
        let mut remaining = 0;
        for (session, user) in sessions.iter().zip(&users) {
            if !presence.user_connections(user).await?.is_empty() {
                remaining += 1;
                // Once the last connection is gone the whisper is only stored: fine.
                watcher
                    .request("chat.send", json!({"type": "whisper", "to": session.user_id, "text": "still there?"}))
                    .await?;
                whispers += 1;
            }
        }
        if remaining == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{remaining} users still have connections after {:?}", died.elapsed());
        watcher.ok("chat.send", json!({"type": "all", "text": "roll call"})).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let clean = died.elapsed();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }

    // Presence, through the trait (memory or Redis).
    for (user, session) in users.iter().zip(&sessions) {
        assert!(presence.user_connections(user).await?.is_empty(), "{}", session.user_id);
        assert!(presence.user_rooms(user).await?.is_empty(), "{}", session.user_id);
    }
    assert!(presence.online(&users).await?.is_empty());
    for member in &members {
        let cid = ConnectionId::new(member.connection.as_str());
        assert!(presence.connection(&cid).await?.is_none(), "{:?} {}", member.death, member.connection);
        assert!(server.gateway.registry.get(&member.connection).is_none());
    }
    for room in &rooms {
        assert!(presence.room_users(*room).await?.is_empty(), "room {room}");
        assert!(presence.room_connections(*room).await?.is_empty(), "room {room}");
    }
    let lobby = presence.room_connections(RoomId::LOBBY).await?;
    assert_eq!(lobby, vec![ConnectionId::new(watcher_cid.as_str())], "only the watcher is left in the lobby");
    assert_eq!(server.gateway.registry.len(), 1, "only the watcher's socket is open");
    // The store: every room closed, none left listed with nobody inside.
    let open = server.gateway.chat.store.open_rooms().await?;
    assert!(open.is_empty(), "rooms still open: {:?}", open.iter().map(|r| r.room_id).collect::<Vec<_>>());
    // Redis itself: no key names a dead connection, a dead user or a closed room, but for
    // the closed rooms' markers.
    let mut redis_keys = None;
    if let Some(redis) = &server.config.redis {
        let client = redis::Client::open(redis.url.as_str())?;
        let mut redis = client.get_multiplexed_async_connection().await?;
        let prefix = format!("{}:", server.config.redis_prefix);
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut redis).await?;
        let dead_connections: HashSet<&str> = members.iter().map(|m| m.connection.as_str()).collect();
        for key in &keys {
            let parts: Vec<&str> = key.strip_prefix(&prefix).unwrap_or(key).split(':').collect();
            if parts.first() == Some(&"rate") {
                // Rate-limit windows (logins, sends) are not presence: they expire by themselves.
                let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut redis).await?;
                assert!(ttl > 0, "a rate window without an expiry: {key}");
                continue;
            }
            assert!(!parts.iter().any(|p| dead_connections.contains(p)), "a dead connection's key: {key}");
            assert!(!users.iter().any(|u| parts.contains(&u.as_str())), "a dead user's key: {key}");
            if parts.first() == Some(&"room") && parts.get(1) != Some(&"0") {
                assert_eq!(parts.get(2), Some(&"closed"), "only the closed marker is left of a room: {key}");
            }
        }
        redis_keys = Some(keys.len());
    }
    let mut by_death: BTreeMap<String, usize> = BTreeMap::new();
    for member in &members {
        *by_death.entry(format!("{:?}", member.death)).or_default() += 1;
    }
    let per_user = members.iter().filter(|m| m.user == 0).count();
    println!(
        "{CONNECTIONS} connections of {USERS} users ({per_user} each), {} rooms, set up in {:.1} s; died {by_death:?}; presence \
         clean {:.1} s after (idle timeout {} s), {whispers} whispers to find the 410s; Redis keys left: {redis_keys:?}",
        rooms.len(),
        set_up.as_secs_f64(),
        clean.as_secs_f64(),
        idle.as_secs()
    );
    assert!(clean < idle + Duration::from_secs(20), "cleaned up within seconds: {clean:?}");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
