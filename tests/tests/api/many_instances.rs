//! Many Lambda instances at once: what only a shared store and shared presence show.
//!
//! Clients hold real WebSocket connections to the local gateway (one API Gateway), while
//! their frames are handled by several independent "instances" of `ws-message` — each with
//! its own SQL pool, Redis client and Management API client, as separate Lambda execution
//! environments would be — invoked 50+ at a time against MariaDB + Redis.

use std::sync::Arc;

use chatting_e2e::{Client, REDIS_URL, Session, TestServer, fresh_mysql_database};
use chatting_local_gateway::events::{WebSocketContext, WebSocketRoute, websocket_event};
use chatting_shared::push::ApiGatewayPusher;
use chatting_shared::service::Chat;
use chatting_shared::startup;
use serde_json::{Value, json};

const INSTANCES: usize = 5;

async fn instances(server: &TestServer) -> anyhow::Result<Vec<Chat>> {
    let mut chats = Vec::new();
    for _ in 0..INSTANCES {
        let store = startup::open_store(&server.config).await?;
        let presence = startup::open_presence(&server.config).await?;
        let pusher = Arc::new(ApiGatewayPusher::new(&server.http, server.gateway.management_key.clone()));
        chats.push(startup::chat(&server.config, store, presence, pusher));
    }
    Ok(chats)
}

/// One `$default` invocation, as API Gateway would make it for `connection_id`.
async fn invoke(chat: &Chat, connection_id: &str, frame: Value) -> anyhow::Result<Value> {
    let context = WebSocketContext {
        connection_id: connection_id.to_owned(),
        connected_at_ms: chatting_shared::clock::now_ms(),
        domain_name: "127.0.0.1".into(),
        stage: "local".into(),
        source_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
    };
    let body = frame.to_string();
    let event = websocket_event(&context, WebSocketRoute::Message { body: &body, binary: false });
    let answer = ws_message::handle(chat, event).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    match answer.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => Ok(serde_json::from_str(&text)?),
        other => anyhow::bail!("unexpected body {other:?}"),
    }
}

async fn shared_backend_server() -> anyhow::Result<TestServer> {
    let database = fresh_mysql_database().await?;
    TestServer::start_with(|options| {
        options.config.store = chatting_shared::config::StoreProfile::sql(database);
        options.config.redis = Some(chatting_shared::config::RedisSettings::new(REDIS_URL.to_owned()));
    })
    .await
}

async fn connect_many(server: &TestServer, count: usize) -> anyhow::Result<Vec<(Session, Client, String)>> {
    let mut people = Vec::new();
    for i in 0..count {
        let (session, mut ws) = server.connected_user(&format!("u{i}_")).await?;
        let connection = ws.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
        people.push((session, ws, connection));
    }
    Ok(people)
}

#[tokio::test]
async fn capacity_and_seq_hold_under_fifty_concurrent_invocations() -> anyhow::Result<()> {
    let server = shared_backend_server().await?;
    let chats = instances(&server).await?;
    let mut people = connect_many(&server, 60).await?;

    let room = people[0].1.ok("room.create", json!({"title": "Crowded", "capacity": 10})).await?;
    let room_id = room["roomId"].as_i64().unwrap();

    // 59 joins at once, spread over the instances: the owner plus 9 fit.
    let joins = people[1..].iter().enumerate().map(|(i, (_, _, connection))| {
        let chat = &chats[i % INSTANCES];
        invoke(chat, connection, json!({"action": "room.join", "requestId": "j", "data": {"roomId": room_id}}))
    });
    let replies = futures::future::try_join_all(joins).await?;
    let joined: Vec<usize> = replies.iter().enumerate().filter(|(_, r)| r["ok"] == true).map(|(i, _)| i + 1).collect();
    let full = replies.iter().filter(|r| r["code"] == "noSpace").count();
    assert_eq!((joined.len(), full), (9, 50), "{replies:?}");
    let listed = people[0].1.ok("room.info", json!({})).await?;
    assert_eq!(listed["count"], 10);

    // 50 sends at once from the 10 members: every seq once, no gaps.
    let members: Vec<&String> = std::iter::once(0).chain(joined.iter().copied()).map(|i| &people[i].2).collect();
    let sends = (0..50).map(|n| {
        let chat = &chats[n % INSTANCES];
        let frame = json!({"action": "chat.send", "requestId": "s", "data": {"type": "all", "text": format!("m{n}")}});
        invoke(chat, members[n % members.len()], frame)
    });
    let replies = futures::future::try_join_all(sends).await?;
    let mut seqs: Vec<i64> = replies.iter().map(|r| r["data"]["seq"].as_i64().unwrap_or(-1)).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "{replies:?}");
    let history = people[0].1.ok("chat.history", json!({"limit": 100})).await?;
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(50));

    // Everyone leaves: presence must be empty but for the closed room's mark and the
    // send-rate windows, which expire by themselves.
    let prefix = server.config.redis_prefix.clone();
    for (_, ws, _) in people.drain(..) {
        ws.close().await?;
    }
    let client = redis::Client::open(REDIS_URL)?;
    let mut redis = client.get_multiplexed_async_connection().await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut redis).await?;
        let lasting: Vec<&String> = keys.iter().filter(|k| !k.ends_with(":closed") && !k.contains(":rate:")).collect();
        if lasting.is_empty() {
            for key in &keys {
                let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut redis).await?;
                assert!(ttl > 0, "{key} never expires");
            }
            assert!(keys.iter().any(|k| k.ends_with(&format!("room:{room_id}:closed"))), "{keys:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "left behind after everyone disconnected: {lasting:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
