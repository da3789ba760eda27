//! The WebSocket API's skeleton: handshake, lobby chat, history, bad frames, the
//! Management API.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use chatting_e2e::{Client, TestServer, handshake_status};
use serde_json::{Value, json};

#[tokio::test]
async fn handshake_without_or_with_bad_token_is_401() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    assert_eq!(handshake_status(&server.ws).await?, Some(401));
    assert_eq!(handshake_status(&format!("{}?token=garbage", server.ws)).await?, Some(401));
    assert_eq!(handshake_status(&format!("{}?token=", server.ws)).await?, Some(401));
    let session = server.user("ok").await?;
    assert_eq!(handshake_status(&format!("{}?token={}", server.ws, session.access)).await?, None);
    Ok(())
}

#[tokio::test]
async fn two_users_chat_in_the_lobby() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;

    let joined =
        ann_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    assert_eq!(joined["change"], "joined");
    assert_eq!(joined["user"]["nick"], "bob");

    let users = ann_ws.ok("user.listInLobby", json!({})).await?;
    let ids: Vec<&str> = users["users"].as_array().unwrap().iter().filter_map(|u| u["userId"].as_str()).collect();
    assert!(ids.contains(&ann.user_id.as_str()) && ids.contains(&bob.user_id.as_str()), "{users}");

    let me = bob_ws.ok("user.me", json!({})).await?;
    assert_eq!((me["userId"].as_str(), me["roomId"].as_i64()), (Some(bob.user_id.as_str()), Some(0)));
    assert!(me["connectionId"].as_str().is_some_and(|c| !c.is_empty()));

    let first = ann_ws.ok("chat.send", json!({"type": "all", "text": "hi bob"})).await?;
    let second = bob_ws.ok("chat.send", json!({"type": "all", "text": "hi ann"})).await?;
    assert!(second["seq"].as_i64() > first["seq"].as_i64(), "{first} {second}");
    assert!(second["messageId"].as_str() > first["messageId"].as_str());

    for client in [&mut ann_ws, &mut bob_ws] {
        let a = client.event_where("chat.in", |m| m["text"] == "hi bob").await?;
        let b = client.event_where("chat.in", |m| m["text"] == "hi ann").await?;
        assert_eq!(
            (a["type"].as_str(), a["roomId"].as_i64(), a["from"]["userId"].as_str()),
            (Some("all"), Some(0), Some(ann.user_id.as_str()))
        );
        assert_eq!(a["seq"], first["seq"]);
        assert_eq!(b["seq"], second["seq"]);
        assert!(a["sentAt"].as_str().is_some_and(|t| t.ends_with('Z') && t.len() == 24), "{a}");
    }

    bob_ws.close().await?;
    let left = ann_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
    assert_eq!(left["user"]["userId"], bob.user_id.as_str());
    let users = ann_ws.ok("user.listInLobby", json!({})).await?;
    assert!(!users.to_string().contains(&bob.user_id));
    Ok(())
}

fn seqs(page: &Value) -> Vec<i64> {
    page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn reconnect_gets_exactly_the_missed_messages() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    ann_ws.ok("chat.send", json!({"type": "all", "text": "before"})).await?;
    let seen = bob_ws.event_where("chat.in", |m| m["text"] == "before").await?;
    let last_seen = seen["seq"].as_i64().unwrap();
    bob_ws.close().await?;

    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            ann_ws.ok("chat.send", json!({"type": "all", "text": format!("missed {i}")})).await?["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    let mut bob_ws = Client::connect(&server, &bob.access).await?;
    let page = bob_ws.ok("chat.history", json!({"after": last_seen})).await?;
    assert_eq!(seqs(&page), sent);
    assert_eq!(page["hasMore"], false);
    let texts: Vec<&str> = page["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["missed 0", "missed 1", "missed 2", "missed 3", "missed 4"]);

    let newest_two = bob_ws.ok("chat.history", json!({"limit": 2})).await?;
    assert_eq!(seqs(&newest_two), sent[3..].to_vec());
    assert_eq!(newest_two["hasMore"], true);
    let before = bob_ws.ok("chat.history", json!({"before": sent[3], "limit": 2})).await?;
    assert_eq!(seqs(&before), sent[1..3].to_vec());
    Ok(())
}

#[tokio::test]
async fn bad_frames_get_the_documented_error_and_the_connection_stays_open() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ws) = server.connected_user("bad").await?;

    ws.send_text("this is not json").await?;
    let frame = ws.next_frame().await?;
    assert_eq!((frame["event"].as_str(), frame["data"]["code"].as_str()), (Some("system.error"), Some("invalid")));

    ws.send_text("[1,2,3]").await?;
    assert_eq!(ws.next_frame().await?["data"]["code"], "invalid");

    let reply = ws.fails("room.explode", json!({}), "invalid").await?;
    assert_eq!(reply["requestId"], "r1");

    ws.send_text(json!({"action": "ping", "requestId": 42}).to_string()).await?;
    let frame = ws.next_frame().await?;
    assert_eq!(
        (frame["type"].as_str(), frame["code"].as_str(), frame["requestId"].clone()),
        (Some("reply"), Some("invalid"), Value::Null)
    );

    ws.send_text(json!({"requestId": "x", "data": {}}).to_string()).await?;
    let frame = ws.next_frame().await?;
    assert_eq!((frame["code"].as_str(), frame["requestId"].as_str()), (Some("invalid"), Some("x")));

    let oversized = json!({"action": "chat.send", "data": {"type": "all", "text": "x".repeat(40 * 1024)}}).to_string();
    ws.send_text(oversized).await?;
    let frame = ws.next_frame().await?;
    assert_eq!((frame["event"].as_str(), frame["data"]["code"].as_str()), (Some("system.error"), Some("tooLarge")));

    let pong = ws.ok("ping", json!({})).await?;
    assert!(pong["serverTime"].as_str().is_some_and(|t| t.ends_with('Z')));
    let reply = ws.request("ping", Value::Null).await?;
    assert_eq!(reply["ok"], true);
    Ok(())
}

#[tokio::test]
async fn idle_connections_are_closed_and_cleaned_up() -> anyhow::Result<()> {
    let server = TestServer::start_with(|options| options.idle_timeout = Duration::from_millis(1500)).await?;
    let (ann, bob) = (server.user("ann").await?, server.user("bob").await?);
    let mut ann_ws = Client::connect(&server, &ann.access).await?;
    let mut bob_ws = Client::connect(&server, &bob.access).await?;
    // Ann keeps talking; Bob says nothing and must be dropped as API Gateway drops idle clients.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let left = loop {
        assert!(tokio::time::Instant::now() < deadline, "bob was never dropped");
        ann_ws.ok("ping", json!({})).await?;
        if let Ok(left) = tokio::time::timeout(
            Duration::from_millis(300),
            ann_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left"),
        )
        .await
        {
            break left?;
        }
    };
    assert_eq!(left["user"]["userId"], bob.user_id.as_str());
    let mut bob_frames = Vec::new();
    let closed = loop {
        match bob_ws.next_frame().await {
            Ok(frame) => bob_frames.push(frame),
            Err(err) => break err.to_string(),
        }
    };
    assert!(closed.contains("idle timeout"), "{closed}; frames: {bob_frames:?}");
    Ok(())
}

fn management_client(server: &TestServer) -> aws_sdk_apigatewaymanagement::Client {
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.http)
        .credentials_provider(Credentials::new(
            &server.gateway.management_key.access_key_id,
            server.gateway.management_key.secret_access_key.expose(),
            None,
            None,
            "test",
        ))
        .http_client(chatting_shared::aws::KeepAliveClient::new(64 * 1024))
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(config)
}

#[tokio::test]
async fn management_api_speaks_the_aws_wire_format() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ws) = server.connected_user("mgmt").await?;
    let connection_id = ws.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap().to_owned();
    let sdk = management_client(&server);

    sdk.post_to_connection()
        .connection_id(&connection_id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(br#"{"hello":"from the sdk"}"#.to_vec()))
        .send()
        .await?;
    assert_eq!(ws.next_frame().await?, json!({"hello": "from the sdk"}));

    let described = sdk.get_connection().connection_id(&connection_id).send().await?;
    assert!(described.connected_at().is_some() && described.last_active_at().is_some());
    assert_eq!(described.identity().and_then(|i| i.source_ip()), Some("127.0.0.1"));

    let err = sdk
        .post_to_connection()
        .connection_id("no-such-connection")
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(b"{}".to_vec()))
        .send()
        .await
        .expect_err("an unknown connection is gone");
    assert!(err.as_service_error().is_some_and(|e| e.is_gone_exception()), "{err:?}");

    // Over API Gateway's 128 KB message limit: refused with 413, as API Gateway does.
    let err = sdk
        .post_to_connection()
        .connection_id(&connection_id)
        .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .expect_err("a message over 128 KB is refused");
    assert!(err.as_service_error().is_some_and(|e| e.is_payload_too_large_exception()), "{err:?}");

    sdk.delete_connection().connection_id(&connection_id).send().await?;
    assert!(ws.next_frame().await.is_err(), "DELETE closes the connection");
    Ok(())
}

#[tokio::test]
async fn a_gone_connection_is_purged_when_a_push_meets_410() -> anyhow::Result<()> {
    // The connection is dropped from the gateway's table behind the service's back, as when
    // API Gateway loses a client without running $disconnect: the next push answers 410
    // and the service must purge it, telling the others it left.
    let server = TestServer::start_with(|options| options.idle_timeout = Duration::from_secs(600)).await?;
    let (_, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let bob_connection = bob_ws.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap().to_owned();
    ann_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "joined").await?;

    let forgotten = chatting_e2e::forget_connection(&server, &bob_connection).await?;
    assert!(forgotten, "the gateway knew the connection");
    ann_ws.ok("chat.send", json!({"type": "all", "text": "anyone there?"})).await?;
    let left = ann_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
    assert_eq!(left["user"]["userId"], bob.user_id.as_str());
    let info = ann_ws.ok("user.info", json!({"userId": bob.user_id})).await?;
    assert_eq!(info["online"], false);
    drop(bob_ws);
    Ok(())
}

/// API Gateway ends every connection after two hours, however busy; the local gateway does
/// the same (here after a second), pings notwithstanding, and cleans up as for a close.
#[tokio::test]
async fn a_connection_ends_at_its_lifetime_even_while_it_pings() -> anyhow::Result<()> {
    let server = TestServer::start_with(|options| options.max_lifetime = Duration::from_secs(1)).await?;
    let (pinger, mut client) = server.connected_user("pinger").await?;
    let started = std::time::Instant::now();
    let closed = loop {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "the connection outlived its lifetime by far");
        match client.request("ping", json!({})).await {
            Ok(reply) => assert_eq!(reply["ok"], true),
            Err(err) => break err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(started.elapsed() >= Duration::from_millis(900), "closed after {:?}: {closed}", started.elapsed());
    assert!(closed.contains("Away") && closed.contains("lifetime"), "closed with 1001 (going away): {closed}");
    // Cleaned up as for a close: someone connecting now finds the pinger offline.
    let (_, mut later) = server.connected_user("later").await?;
    let mut online = true;
    for _ in 0..5 {
        online = later.ok("user.info", json!({"userId": pinger.user_id})).await?["online"] == true;
        if !online {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!online, "the pinger is still online after its connection ended");
    Ok(())
}

/// `GET /metrics` (signed) answers Prometheus's text format, with per-action latency; JSON
/// when the client accepts only that.
#[tokio::test]
async fn metrics_are_prometheus_text_or_json_when_asked() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (_, mut ws) = server.connected_user("prom").await?;
    ws.ok("chat.send", json!({"type": "all", "text": "counted"})).await?;
    ws.fails("room.join", json!({"roomId": 424242}), "noInfo").await?;

    let response = server.management("GET", "/metrics", b"", Some(&server.gateway.management_key)).await?;
    assert_eq!(response.status(), 200);
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await?;
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample is `name value`: {line}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("a number: {line}"));
        assert!(name.starts_with("chatting_"), "{line}");
        samples.insert(name.to_owned(), value);
    }
    for declared in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let kind = declared.split(' ').nth(1).unwrap_or_default();
        assert!(["counter", "gauge", "summary"].contains(&kind), "{declared}");
    }
    assert!(samples["chatting_chat_sends_total"] >= 1.0, "{text}");
    assert!(samples["chatting_open_connections"] >= 1.0, "{text}");
    assert!(samples[r#"chatting_action_seconds_count{action="chat.send"}"#] >= 1.0, "{text}");
    assert!(samples[r#"chatting_action_seconds_sum{action="chat.send"}"#] > 0.0, "{text}");
    assert!(samples[r#"chatting_action_seconds_count{action="room.join"}"#] >= 1.0, "{text}");
    assert!(samples.contains_key("chatting_gone_connections_total") && samples.contains_key("chatting_failures_total"));

    let json = server.metrics().await?;
    assert!(json["chatSends"].as_u64().is_some_and(|n| n >= 1), "{json}");
    assert!(json["actions"]["chat.send"]["count"].as_u64().is_some_and(|n| n >= 1), "{json}");
    Ok(())
}
