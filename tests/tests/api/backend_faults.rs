//! Backends that stop in the middle of traffic and come back.
//!
//! Redis is a real `redis-server` of the test's own on a spare port, killed (SIGKILL) and
//! started again, so presence is really lost and really empty afterwards; MariaDB is the
//! shared server behind a [`FaultProxy`] (a stand-in for stop and start: open connections
//! are cut and new ones refused, but the data survives, as a restarted MariaDB's would).
//! Several users keep chatting all the while, retrying with the same `clientMsgId` until
//! they are answered `success`. During the outage they get quick `error` replies or 503 at
//! the handshake, nothing panics, the service recovers by itself, and afterwards every
//! acknowledged message is in history exactly once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatting_e2e::{Client, FaultProxy, REDIS_URL, Session, TestServer, fresh_mysql_database, handshake_status};
use chatting_shared::domain::{RoomId, UserId};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// A Redis of the test's own

struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    async fn start() -> anyhow::Result<Self> {
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port();
        let mut redis = Self { port, child: None };
        redis.resume().await?;
        Ok(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts `redis-server` on the port (again), empty, and waits until it answers.
    async fn resume(&mut self) -> anyhow::Result<()> {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("redis-server must be installed (it runs beside the suite's Redis): {e}"))?;
        self.child = Some(child);
        let client = redis::Client::open(self.url())?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut connection) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING").query_async::<String>(&mut connection).await.is_ok()
            {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "redis-server on {} never answered", self.port);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills it as a crash would: everything it held is gone.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------
// Traffic that must not lose or double anything

#[derive(Default)]
struct Tally {
    /// text → messageId of every message answered `success`.
    acknowledged: HashMap<String, String>,
    attempts: usize,
    error_replies: usize,
    other_failures: HashMap<String, usize>,
    slowest_failure: Duration,
    reconnects: usize,
    handshake_refusals: HashMap<u16, usize>,
    last_failure: Option<Instant>,
    first_success_after_failure: Option<Instant>,
}

struct Traffic {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Value>>>>,
}

/// Where the senders chat.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Venue {
    /// All in the lobby.
    Lobby,
    /// Each in a room of their own (which they join again after a reconnect).
    OwnRooms,
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

/// Connects, retrying through an outage; counts the handshake refusals.
async fn connect_through(
    ws_url: &str,
    server: &TestServer,
    session: &Session,
    tally: &Mutex<Tally>,
) -> anyhow::Result<Client> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        match handshake_status(&format!("{ws_url}?token={}", session.access)).await {
            Ok(None) => {
                if let Ok(client) = Client::connect(server, &session.access).await {
                    return Ok(client);
                }
            }
            Ok(Some(status)) => *lock(tally).handshake_refusals.entry(status).or_default() += 1,
            Err(_) => {}
        }
        anyhow::ensure!(Instant::now() < deadline, "could not reconnect for 40 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Traffic {
    /// Each session sends `all` messages, one after the other, each retried with its
    /// `clientMsgId` until it is acknowledged. With [`Venue::OwnRooms`] each sender's task
    /// ends with its room's history (a room closes when its last member leaves).
    fn start(server: &Arc<TestServer>, sessions: &[Session], venue: Venue) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let tasks = sessions
            .iter()
            .cloned()
            .map(|session| {
                let (server, stop, tally) = (server.clone(), stop.clone(), tally.clone());
                tokio::spawn(async move {
                    let ws_url = server.ws.clone();
                    let mut client = connect_through(&ws_url, &server, &session, &tally).await?;
                    let room = match venue {
                        Venue::Lobby => None,
                        Venue::OwnRooms => {
                            Some(client.ok("room.create", json!({"title": "own"})).await?["roomId"].clone())
                        }
                    };
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        anyhow::ensure!(n < 100_000, "bounded");
                        let text = format!("{} says {n}", session.user_id);
                        let data = json!({"type": "all", "text": text, "clientMsgId": format!("m{n}")});
                        let deadline = Instant::now() + Duration::from_secs(60);
                        loop {
                            anyhow::ensure!(Instant::now() < deadline, "{text} never got through");
                            lock(&tally).attempts += 1;
                            let started = Instant::now();
                            let reply = match client.request("chat.send", data.clone()).await {
                                Ok(reply) => reply,
                                Err(err) => {
                                    // No reply within 10 s, or the connection went: a hang
                                    // counts as a failure of its own, then reconnect.
                                    *lock(&tally).other_failures.entry(format!("no reply: {err}")).or_default() += 1;
                                    client = connect_through(&ws_url, &server, &session, &tally).await?;
                                    lock(&tally).reconnects += 1;
                                    rejoin(&mut client, room.as_ref()).await?;
                                    continue;
                                }
                            };
                            let took = started.elapsed();
                            match reply["code"].as_str().unwrap_or_default() {
                                "success" => {
                                    let mut tally = lock(&tally);
                                    let id = reply["data"]["messageId"].as_str().unwrap_or_default().to_owned();
                                    if let Some(first) = tally.acknowledged.insert(text.clone(), id.clone()) {
                                        anyhow::ensure!(first == id, "{text} acknowledged twice with different ids");
                                    }
                                    if tally.last_failure.is_some() && tally.first_success_after_failure.is_none() {
                                        tally.first_success_after_failure = Some(Instant::now());
                                    }
                                    break;
                                }
                                "error" => {
                                    {
                                        let mut tally = lock(&tally);
                                        tally.error_replies += 1;
                                        tally.slowest_failure = tally.slowest_failure.max(took);
                                        tally.last_failure = Some(Instant::now());
                                        tally.first_success_after_failure = None;
                                    }
                                    tokio::time::sleep(Duration::from_millis(100)).await;
                                }
                                "notAuth" => {
                                    // Presence lost the connection (Redis came back empty):
                                    // the client is asked to reconnect, and does.
                                    *lock(&tally).other_failures.entry("notAuth: reconnect".into()).or_default() += 1;
                                    client = connect_through(&ws_url, &server, &session, &tally).await?;
                                    lock(&tally).reconnects += 1;
                                    rejoin(&mut client, room.as_ref()).await?;
                                }
                                other => anyhow::bail!("{text}: unexpected reply {other}: {reply}"),
                            }
                        }
                    }
                    match room {
                        Some(_) => history(&mut client).await,
                        None => Ok(Vec::new()),
                    }
                })
            })
            .collect();
        Self { stop, tally, tasks }
    }

    fn acknowledged(&self) -> usize {
        lock(&self.tally).acknowledged.len()
    }

    fn error_replies(&self) -> usize {
        let tally = lock(&self.tally);
        tally.error_replies + tally.other_failures.values().sum::<usize>()
    }

    /// Waits (bounded) until `check` holds.
    async fn until(&self, what: &str, within: Duration, check: impl Fn(&Self) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while !check(self) {
            anyhow::ensure!(Instant::now() < deadline, "{what} did not happen within {within:?}");
            anyhow::ensure!(self.tasks.iter().all(|t| !t.is_finished()), "a sender stopped early");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Stops the senders; returns the tally and the histories of their own rooms.
    async fn finish(self) -> anyhow::Result<(Tally, Vec<Value>)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut histories = Vec::new();
        for task in self.tasks {
            histories.extend(
                tokio::time::timeout(Duration::from_secs(60), task)
                    .await??
                    .map_err(|e| e.context("a sender failed"))?,
            );
        }
        Ok((std::mem::take(&mut *lock(&self.tally)), histories))
    }
}

/// Back into the sender's own room after a reconnect (presence may have forgotten it).
async fn rejoin(client: &mut Client, room: Option<&Value>) -> anyhow::Result<()> {
    let Some(room) = room else { return Ok(()) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.ok("room.join", json!({"roomId": room})).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "could not get back into room {room}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Every message of the client's current room (or the lobby), oldest first, read page by page.
async fn history(client: &mut Client) -> anyhow::Result<Vec<Value>> {
    let mut messages: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    for _ in 0..1000 {
        let page = client.ok("chat.history", json!({"limit": 100, "before": before})).await?;
        let batch = page["messages"].as_array().cloned().unwrap_or_default();
        before = batch.first().and_then(|m| m["seq"].as_i64());
        messages.splice(0..0, batch);
        if page["hasMore"] != true {
            return Ok(messages);
        }
    }
    anyhow::bail!("history never ended")
}

/// Every acknowledged message is in history exactly once, and no text twice.
fn assert_none_lost_none_doubled(tally: &Tally, history: &[Value]) {
    let mut seen: HashMap<&str, Vec<&str>> = HashMap::new();
    for message in history {
        seen.entry(message["text"].as_str().unwrap_or_default())
            .or_default()
            .push(message["messageId"].as_str().unwrap_or_default());
    }
    for (text, ids) in &seen {
        assert_eq!(ids.len(), 1, "{text:?} is in history {} times: {ids:?}", ids.len());
    }
    for (text, id) in &tally.acknowledged {
        assert_eq!(
            seen.get(text.as_str()).map(|ids| ids[0]),
            Some(id.as_str()),
            "acknowledged {text:?} ({id}) is not in history"
        );
    }
    assert_eq!(seen.len(), tally.acknowledged.len(), "history holds exactly the acknowledged messages");
    let mut by_room: HashMap<i64, Vec<i64>> = HashMap::new();
    for message in history {
        by_room
            .entry(message["roomId"].as_i64().unwrap_or(-1))
            .or_default()
            .push(message["seq"].as_i64().unwrap_or(-1));
    }
    for (room, seqs) in by_room {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "room {room}: seq strictly increasing, without repeats: {seqs:?}"
        );
    }
}

fn summary(tally: &Tally) -> String {
    format!(
        "{} acknowledged in {} attempts; {} error replies (slowest {:.0} ms), other failures {:?}, handshake refusals {:?}, {} reconnects",
        tally.acknowledged.len(),
        tally.attempts,
        tally.error_replies,
        tally.slowest_failure.as_secs_f64() * 1000.0,
        tally.other_failures,
        tally.handshake_refusals,
        tally.reconnects
    )
}

async fn senders(server: &TestServer, count: usize) -> anyhow::Result<Vec<Session>> {
    let mut sessions = Vec::new();
    for _ in 0..count {
        sessions.push(server.user("talker").await?);
    }
    Ok(sessions)
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn redis_killed_and_restarted_mid_traffic_loses_and_doubles_nothing() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let mut redis = OwnRedis::start().await?;
    let database = fresh_mysql_database().await?;
    let redis_url = redis.url();
    let server = Arc::new(
        TestServer::start_with(|options| {
            options.config.store = chatting_shared::config::StoreProfile::sql(database);
            options.config.redis = Some(chatting_shared::config::RedisSettings::new(redis_url));
            options.config.chat_sends_per_10s = 100_000;
        })
        .await?,
    );
    let sessions = senders(&server, 3).await?;
    let traffic = Traffic::start(&server, &sessions, Venue::Lobby);
    traffic.until("traffic", Duration::from_secs(20), |t| t.acknowledged() >= 30).await?;

    redis.stop();
    let down = Instant::now();
    let before_outage = traffic.acknowledged();
    traffic.until("error replies", Duration::from_secs(15), |t| t.error_replies() >= 3).await?;
    // While presence is down: the handshake is refused quickly with 503, and logging in still
    // works (it needs only the database; the login limiter lets attempts through).
    let started = Instant::now();
    assert_eq!(handshake_status(&format!("{}?token={}", server.ws, sessions[0].access)).await?, Some(503));
    let handshake_took = started.elapsed();
    let started = Instant::now();
    let (status, body) =
        server.post("/auth/login", json!({"userId": sessions[0].user_id, "password": "password123"})).await?;
    let login_took = started.elapsed();
    assert_eq!(status, 200, "login without presence: {body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = traffic.acknowledged() - before_outage;

    redis.resume().await?;
    let up = Instant::now();
    let at_restart = traffic.acknowledged();
    traffic.until("recovery", Duration::from_secs(30), |t| t.acknowledged() >= at_restart + 30).await?;
    let recovered_in = up.elapsed();
    let (tally, _) = traffic.finish().await?;

    let mut reader = Client::connect(&server, &sessions[0].access).await?;
    let history = history(&mut reader).await?;
    assert_none_lost_none_doubled(&tally, &history);
    println!(
        "redis killed for {:.1} s: {during} acknowledged during the outage; handshake 503 in {:.0} ms, login 200 in {:.0} ms; \
         recovered (30 more acknowledged) {:.1} s after restart; {}; history {} messages",
        (up - down).as_secs_f64(),
        handshake_took.as_secs_f64() * 1000.0,
        login_took.as_secs_f64() * 1000.0,
        recovered_in.as_secs_f64(),
        summary(&tally),
        history.len()
    );
    assert!(tally.slowest_failure < Duration::from_secs(6), "error replies come quickly: {:?}", tally.slowest_failure);
    assert!(handshake_took < Duration::from_secs(6), "the 503 comes quickly: {handshake_took:?}");
    assert!(login_took < Duration::from_secs(4), "the limiter does not hold logins up: {login_took:?}");
    assert!(tally.error_replies > 0, "the outage was noticed");
    assert_eq!(chatting_e2e::panics(), 0, "nothing panicked");
    Ok(())
}

#[tokio::test]
async fn mariadb_stopped_and_restarted_mid_traffic_loses_and_doubles_nothing() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let (mariadb, server) = server_with_cuttable_store().await?;
    let server = Arc::new(server);
    let sessions = senders(&server, 3).await?;
    let traffic = Traffic::start(&server, &sessions, Venue::OwnRooms);
    traffic.until("traffic", Duration::from_secs(20), |t| t.acknowledged() >= 30).await?;

    mariadb.stop().await;
    let down = Instant::now();
    traffic.until("error replies", Duration::from_secs(15), |t| t.error_replies() >= 3).await?;
    let started = Instant::now();
    let (status, body) =
        server.post("/auth/login", json!({"userId": sessions[0].user_id, "password": "password123"})).await?;
    let login_took = started.elapsed();
    assert_eq!((status, body["code"].as_str()), (503, Some("error")), "{body}");
    let started = Instant::now();
    assert_eq!(handshake_status(&format!("{}?token={}", server.ws, sessions[1].access)).await?, Some(503));
    let handshake_took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;

    mariadb.resume().await?;
    let up = Instant::now();
    let at_restart = traffic.acknowledged();
    traffic.until("recovery", Duration::from_secs(30), |t| t.acknowledged() >= at_restart + 30).await?;
    let recovered_in = up.elapsed();
    let (tally, history) = traffic.finish().await?;
    assert_none_lost_none_doubled(&tally, &history);
    println!(
        "mariadb (FaultProxy) down for {:.1} s: login 503 in {:.0} ms, handshake 503 in {:.0} ms; recovered (30 more \
         acknowledged) {:.1} s after restart; {}; history {} messages",
        (up - down).as_secs_f64(),
        login_took.as_secs_f64() * 1000.0,
        handshake_took.as_secs_f64() * 1000.0,
        recovered_in.as_secs_f64(),
        summary(&tally),
        history.len()
    );
    assert!(tally.slowest_failure < Duration::from_secs(6), "error replies come quickly: {:?}", tally.slowest_failure);
    assert!(login_took < Duration::from_secs(6) && handshake_took < Duration::from_secs(6));
    assert!(tally.error_replies > 0, "the outage was noticed");
    assert_eq!(chatting_e2e::panics(), 0, "nothing panicked");
    Ok(())
}

/// A server on the shared MariaDB behind a [`FaultProxy`] (the store can be cut) and the
/// shared Redis (presence stays up).
async fn server_with_cuttable_store() -> anyhow::Result<(Arc<FaultProxy>, TestServer)> {
    let mariadb = FaultProxy::start("127.0.0.1:3306").await?;
    let database = fresh_mysql_database().await?;
    let name = database.rsplit('/').next().unwrap_or_default().to_owned();
    let proxied = format!("mysql://root@127.0.0.1:{}/{name}", mariadb.port);
    let server = TestServer::start_with(|options| {
        options.config.store = chatting_shared::config::StoreProfile::sql(proxied);
        options.config.redis = Some(chatting_shared::config::RedisSettings::new(REDIS_URL.to_owned()));
        options.config.chat_sends_per_10s = 100_000;
    })
    .await?;
    Ok((mariadb, server))
}

/// Waits until presence shows exactly `expected` in `room`.
async fn until_room_users(server: &TestServer, room: i64, expected: &[&str]) -> anyhow::Result<()> {
    let room = RoomId::from_stored(room);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let users = server.gateway.chat.presence.room_users(room).await?;
        if users.iter().map(UserId::as_str).eq(expected.iter().copied()) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "room {room} still holds {users:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first `success` reply to `action` once the store is back (the pool reconnects lazily).
async fn once_recovered(client: &mut Client, action: &str, data: Value) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = client.request(action, data.clone()).await?;
        if reply["ok"] == true {
            return Ok(reply["data"].clone());
        }
        anyhow::ensure!(reply["code"] == "error", "{action} after the outage: {reply}");
        anyhow::ensure!(Instant::now() < deadline, "{action} never succeeded after the outage: {reply}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_room_emptied_during_a_database_outage_is_closed_after_it() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let (mariadb, server) = server_with_cuttable_store().await?;
    let (_, mut owner) = server.connected_user("owner").await?;
    let (_, mut watcher) = server.connected_user("watcher").await?;
    let room = owner.ok("room.create", json!({"title": "short-lived"})).await?["roomId"].as_i64().unwrap_or_default();

    mariadb.stop().await;
    // Its last user leaves while the store cannot hear of it: presence closes the room.
    owner.close().await?;
    until_room_users(&server, room, &[]).await?;
    mariadb.resume().await?;

    let listed = once_recovered(&mut watcher, "room.list", json!({})).await?;
    let ids: Vec<i64> = listed["rooms"].as_array().into_iter().flatten().filter_map(|r| r["roomId"].as_i64()).collect();
    assert!(!ids.contains(&room), "an empty, closed room is not listed: {listed}");
    watcher.fails("room.join", json!({"roomId": room}), "noInfo").await?;
    let stored = server.gateway.chat.store.room(RoomId::from_stored(room)).await?;
    assert!(stored.is_some_and(|r| r.closed), "the store has the room closed too");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

#[tokio::test]
async fn an_owner_who_left_during_a_database_outage_is_replaced_after_it() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let (mariadb, server) = server_with_cuttable_store().await?;
    let (_, mut owner) = server.connected_user("owner").await?;
    let (heir, mut staying) = server.connected_user("heir").await?;
    let (_, mut latecomer) = server.connected_user("late").await?;
    let room = owner.ok("room.create", json!({"title": "handed over"})).await?["roomId"].as_i64().unwrap_or_default();
    staying.ok("room.join", json!({"roomId": room})).await?;

    mariadb.stop().await;
    owner.close().await?;
    until_room_users(&server, room, &[heir.user_id.as_str()]).await?;
    mariadb.resume().await?;

    // The next arrival finds the owner gone and hands the room over.
    let joined = once_recovered(&mut latecomer, "room.join", json!({"roomId": room})).await?;
    assert_eq!(joined["owner"], heir.user_id.as_str(), "{joined}");
    let info = staying.ok("room.info", json!({})).await?;
    assert_eq!(info["owner"], heir.user_id.as_str(), "{info}");
    staying.ok("room.update", json!({"title": "the heir's now"})).await?;
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

#[tokio::test]
async fn error_replies_in_one_room_come_quickly_during_a_database_outage() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let (mariadb, server) = server_with_cuttable_store().await?;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(server.connected_user("member").await?.1);
    }
    let room = members[0].ok("room.create", json!({"title": "busy"})).await?["roomId"].as_i64().unwrap_or_default();
    for member in &mut members[1..] {
        member.ok("room.join", json!({"roomId": room})).await?;
    }
    for member in &mut members {
        member.ok("chat.send", json!({"type": "all", "text": "before"})).await?;
    }

    mariadb.stop().await;
    let sent = Instant::now();
    let replies = futures::future::join_all(members.iter_mut().map(|member| async move {
        let reply = member.request("chat.send", json!({"type": "all", "text": "during"})).await;
        (reply, sent.elapsed())
    }))
    .await;
    let mut slowest = Duration::ZERO;
    for (reply, took) in replies {
        let reply = reply?;
        assert_eq!(reply["code"], "error", "{reply}");
        slowest = slowest.max(took);
    }
    println!(
        "three senders in one room, store cut: slowest error reply after {:.0} ms",
        slowest.as_secs_f64() * 1000.0
    );
    // One pool acquire timeout (3 s) for the first; the others do not wait it out in turn.
    assert!(slowest < Duration::from_millis(5_500), "error replies queued one after another: {slowest:?}");
    mariadb.resume().await?;
    once_recovered(&mut members[0], "chat.send", json!({"type": "all", "text": "after"})).await?;
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
