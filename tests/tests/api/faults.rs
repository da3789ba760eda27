//! Backends that go away: the client gets a quick `error` reply or a 503 at connect, nothing
//! panics, and the service recovers by itself once the backend answers again.

use std::time::Duration;

use chatting_e2e::{Client, FaultProxy, REDIS_URL, TestServer, fresh_mysql_database, handshake_status};
use serde_json::json;

/// Retries `attempt` until it succeeds, for at most 15 s.
async fn eventually<T, F, Fut>(mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if tokio::time::Instant::now() > deadline => return Err(err.context("never recovered")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Repeats an action on one connection until it succeeds, for at most 15 s.
async fn eventually_ok(ws: &mut Client, action: &str, data: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match ws.ok(action, data.clone()).await {
            Ok(value) => return Ok(value),
            Err(err) if tokio::time::Instant::now() > deadline => return Err(err.context("never recovered")),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test]
async fn redis_outage_gives_error_replies_and_503_then_recovers() -> anyhow::Result<()> {
    let redis = FaultProxy::start("127.0.0.1:6379").await?;
    let database = fresh_mysql_database().await?;
    let server = TestServer::start_with(|options| {
        options.config.store = chatting_shared::config::StoreProfile::sql(database);
        options.config.redis =
            Some(chatting_shared::config::RedisSettings::new(format!("redis://127.0.0.1:{}", redis.port)));
    })
    .await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    ann_ws.ok("chat.send", json!({"type": "all", "text": "before"})).await?;

    redis.stop().await;
    let started = tokio::time::Instant::now();
    let reply = ann_ws.fails("chat.send", json!({"type": "all", "text": "during"}), "error").await?;
    assert!(started.elapsed() < Duration::from_secs(6), "the error must come quickly: {:?}", started.elapsed());
    assert!(!reply["message"].as_str().unwrap_or_default().contains("redis"), "no internals: {reply}");
    assert_eq!(handshake_status(&format!("{}?token={}", server.ws, ann.access)).await?, Some(503));

    redis.resume().await?;
    eventually_ok(&mut ann_ws, "chat.send", json!({"type": "all", "text": "after"})).await?;
    let mut again = eventually(|| Client::connect(&server, &ann.access)).await?;
    again.ok("user.me", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn database_outage_gives_503_and_error_replies_then_recovers() -> anyhow::Result<()> {
    let mariadb = FaultProxy::start("127.0.0.1:3306").await?;
    let database = fresh_mysql_database().await?;
    let name = database.rsplit('/').next().unwrap_or_default().to_owned();
    // Down from the start: the gateway must still come up and answer.
    mariadb.stop().await;
    let server = TestServer::start_with(|options| {
        options.config.store =
            chatting_shared::config::StoreProfile::sql(format!("mysql://root@127.0.0.1:{}/{name}", mariadb.port));
        options.config.redis = Some(chatting_shared::config::RedisSettings::new(REDIS_URL.to_owned()));
    })
    .await?;
    let signup = json!({"userId": "ann_db", "password": "password123", "nick": "Ann"});
    let (status, body) = server.post("/auth/signup", signup.clone()).await?;
    assert_eq!((status, body["code"].as_str()), (503, Some("error")), "{body}");

    mariadb.resume().await?;
    eventually(|| async {
        let (status, body) = server.post("/auth/signup", signup.clone()).await?;
        anyhow::ensure!(status == 201, "{status} {body}");
        Ok(())
    })
    .await?;
    let ann = server.login("ann_db").await?;
    let mut ws = Client::connect(&server, &ann.access).await?;
    ws.ok("chat.send", json!({"type": "all", "text": "one"})).await?;

    mariadb.stop().await;
    ws.fails("chat.send", json!({"type": "all", "text": "lost?"}), "error").await?;
    let (status, _) = server.post("/auth/login", json!({"userId": "ann_db", "password": "password123"})).await?;
    assert_eq!(status, 503);

    mariadb.resume().await?;
    eventually_ok(&mut ws, "chat.send", json!({"type": "all", "text": "two"})).await?;
    let history = ws.ok("chat.history", json!({})).await?;
    let texts: Vec<&str> = history["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, ["one", "two"], "acknowledged messages are kept, refused ones are not stored");
    Ok(())
}
