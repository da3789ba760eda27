//! Dead connections and slow consumers.
//!
//! - A TCP reset, a FIN without a close frame, the idle timeout and a 410 from the
//!   Management API clean up exactly like a clean close: `left` events, owner handover,
//!   room closing, within seconds (500 at once: `tests/api/dead_connections.rs`).
//! - A client that stops reading delays no one; its bounded queue overflows, and it is
//!   closed and cleaned up.

use std::time::{Duration, Instant};

use chatting_e2e::{Client, RawWs, Session, TestServer, forget_connection};
use chatting_shared::domain::{ConnectionId, RoomId, UserId};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Helpers

fn user_id(raw: &str) -> anyhow::Result<UserId> {
    UserId::parse(raw).map_err(anyhow::Error::msg)
}

/// An event a watcher must see, and what it was.
struct Expected {
    name: &'static str,
    matches: Box<dyn Fn(&Value) -> bool>,
    seen: Option<Value>,
}

impl Expected {
    fn new(name: &'static str, matches: impl Fn(&Value) -> bool + 'static) -> Self {
        Self { name, matches: Box::new(matches), seen: None }
    }
}

/// Takes what has arrived of `expects`; true when all of them have.
async fn look_for(client: &mut Client, expects: &mut [Expected]) -> anyhow::Result<bool> {
    for expected in expects.iter_mut().filter(|e| e.seen.is_none()) {
        let matches = &expected.matches;
        if let Ok(found) =
            tokio::time::timeout(Duration::from_millis(20), client.event_where(expected.name, |d| matches(d))).await
        {
            expected.seen = Some(found?);
        }
    }
    Ok(expects.iter().all(|e| e.seen.is_some()))
}

// ---------------------------------------------------------------------------------------
// One connection at a time: every way of dying gives the cleanup of a close

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Death {
    Close,
    Reset,
    Fin,
    IdleTimeout,
    Gone410,
}

/// Bob owns a room with Carol in it, Dave is alone in his room, Ann watches from the lobby.
/// Bob and Dave die by `death`; returns how long the cleanup took after they died.
async fn cleanup_after(death: Death) -> anyhow::Result<Duration> {
    // Long enough that the watchers' own pings keep them alive on a slow, loaded backend.
    let idle = if death == Death::IdleTimeout { Duration::from_secs(3) } else { Duration::from_secs(600) };
    let server = TestServer::start_with(|options| options.idle_timeout = idle).await?;
    // Accounts first: under a short idle timeout the connections must not wait on argon2.
    let (ann, carol, bob, dave): (Session, Session, Session, Session) =
        (server.user("ann").await?, server.user("carol").await?, server.user("bob").await?, server.user("dave").await?);
    let (mut ann, mut carol) =
        (Client::connect(&server, &ann.access).await?, Client::connect(&server, &carol.access).await?);
    let carol_id = carol.ok("user.me", json!({})).await?["userId"].as_str().unwrap_or_default().to_owned();
    let mut bob_ws = RawWs::connect(&server, &bob.access, None).await?;
    let mut dave_ws = RawWs::connect(&server, &dave.access, None).await?;
    let bobs_room = bob_ws.ok("room.create", json!({"title": "Bob's"})).await?["roomId"].as_i64().unwrap_or_default();
    let daves_room =
        dave_ws.ok("room.create", json!({"title": "Dave's"})).await?["roomId"].as_i64().unwrap_or_default();
    let (bob_cid, dave_cid) = (bob_ws.connection_id().await?, dave_ws.connection_id().await?);
    // The watchers speak last, so that a slow backend's setup does not eat their idle time
    // before the loop below starts pinging.
    carol.ok("room.join", json!({"roomId": bobs_room})).await?;
    ann.event_where("room.list.refresh", |d| d["roomId"] == daves_room).await?;
    ann.ok("ping", json!({})).await?;
    ann.clear_events();
    carol.clear_events();

    let died = Instant::now();
    let mut silent = Vec::new();
    match death {
        Death::Close => {
            bob_ws.close().await;
            dave_ws.close().await;
        }
        Death::Reset => {
            bob_ws.reset()?;
            dave_ws.reset()?;
        }
        Death::Fin => {
            bob_ws.fin().await;
            dave_ws.fin().await;
        }
        Death::IdleTimeout => silent.extend([bob_ws, dave_ws]),
        Death::Gone410 => {
            // API Gateway lost them without a $disconnect: the next pushes meet 410.
            assert!(forget_connection(&server, &bob_cid).await?);
            assert!(forget_connection(&server, &dave_cid).await?);
            carol.ok("chat.send", json!({"type": "all", "text": "anyone?"})).await?;
            ann.ok("chat.send", json!({"type": "whisper", "to": dave.user_id, "text": "dave?"})).await?;
            silent.extend([bob_ws, dave_ws]);
        }
    }
    // Both watchers keep talking while they wait: under the short idle timeout a silent
    // watcher would be dropped too.
    let deadline = Instant::now() + idle + Duration::from_secs(5);
    let mut carol_expects: Vec<Expected> = vec![
        Expected::new("user.listInRoom.refresh", |d| d["change"] == "left"),
        Expected::new("room.info.refresh", |d| d["count"] == 1),
    ];
    let mut ann_expects: Vec<Expected> = vec![
        Expected::new("room.list.refresh", move |d| d["roomId"] == bobs_room && d["room"]["count"] == 1),
        Expected::new("room.list.refresh", move |d| d["roomId"] == daves_room && d["room"].is_null()),
    ];
    loop {
        let carol_done = look_for(&mut carol, &mut carol_expects).await?;
        let ann_done = look_for(&mut ann, &mut ann_expects).await?;
        if carol_done && ann_done {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{death:?}: the cleanup events never all came");
        carol.ok("ping", json!({})).await?;
        ann.ok("ping", json!({})).await?;
    }
    let seen = |expects: &[Expected], i: usize| expects[i].seen.clone().unwrap_or_default();
    let (left, info) = (seen(&carol_expects, 0), seen(&carol_expects, 1));
    let (listed, closed) = (seen(&ann_expects, 0), seen(&ann_expects, 1));
    assert_eq!(
        (left["roomId"].as_i64(), left["user"]["userId"].as_str()),
        (Some(bobs_room), Some(bob.user_id.as_str())),
        "{death:?}"
    );
    assert_eq!(info["owner"], carol_id.as_str(), "{death:?}: the owner's room passed to Carol");
    assert_eq!(listed["room"]["owner"], carol_id.as_str(), "{death:?}");
    assert_eq!(closed["room"], Value::Null, "{death:?}: Dave's room closed");
    let took = died.elapsed();

    // Nothing is cleaned up twice.
    carol.no_event("user.listInRoom.refresh", Duration::from_millis(300)).await?;
    ann.no_event("room.list.refresh", Duration::from_millis(100)).await?;
    // The state left behind, as clients, presence and the store see it.
    let rooms = ann.ok("room.list", json!({})).await?;
    let ids: Vec<i64> = rooms["rooms"].as_array().into_iter().flatten().filter_map(|r| r["roomId"].as_i64()).collect();
    assert!(ids.contains(&bobs_room) && !ids.contains(&daves_room), "{death:?}: {rooms}");
    for gone in [&bob.user_id, &dave.user_id] {
        assert_eq!(ann.ok("user.info", json!({"userId": gone})).await?["online"], false, "{death:?}: {gone}");
    }
    let presence = &server.gateway.chat.presence;
    for cid in [&bob_cid, &dave_cid] {
        assert!(presence.connection(&ConnectionId::new(cid.as_str())).await?.is_none(), "{death:?}: {cid} in presence");
        assert!(server.gateway.registry.get(cid).is_none(), "{death:?}: {cid} in the gateway");
    }
    assert!(presence.user_connections(&user_id(&bob.user_id)?).await?.is_empty());
    assert!(presence.room_users(RoomId::from_stored(daves_room)).await?.is_empty());
    let store = &server.gateway.chat.store;
    assert!(
        store.room(RoomId::from_stored(daves_room)).await?.is_some_and(|r| r.closed),
        "{death:?}: closed in the store"
    );
    assert_eq!(store.room(RoomId::from_stored(bobs_room)).await?.map(|r| r.owner.to_string()), Some(carol_id.clone()));
    drop(silent);
    Ok(took)
}

#[tokio::test]
async fn every_way_a_connection_dies_cleans_up_like_a_close() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let mut report = Vec::new();
    for death in [Death::Close, Death::Reset, Death::Fin, Death::IdleTimeout, Death::Gone410] {
        let took = cleanup_after(death).await?;
        report.push(format!("{death:?}: {:.0} ms", took.as_secs_f64() * 1000.0));
        let limit = if death == Death::IdleTimeout { Duration::from_secs(6) } else { Duration::from_secs(3) };
        assert!(took < limit, "{death:?} cleaned up in {took:?}");
    }
    println!("cleanup after death (idle timeout 2 s): {}", report.join(", "));
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A client that stops reading

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(index).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One message from Ann to everyone in the lobby; how long until Bob has it.
async fn one_message(ann: &mut Client, bob: &mut Client, n: usize, text: &str) -> anyhow::Result<Duration> {
    let text = format!("{n} {text}");
    let started = Instant::now();
    ann.ok("chat.send", json!({"type": "all", "text": text})).await?;
    bob.event_where("chat.in", |m| m["text"] == text.as_str()).await?;
    Ok(started.elapsed())
}

/// The kernel's state of the server's end of the TCP connection from `client_port`, as
/// /proc/net/tcp shows it (01 established, 04 FIN_WAIT1, …); `None` when it is gone.
#[cfg(target_os = "linux")]
fn server_socket_state(server_port: u16, client_port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!(":{server_port:04X}");
    let remote = format!(":{client_port:04X}");
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1)?.ends_with(&local) && fields.get(2)?.ends_with(&remote))
            .then(|| fields.get(3).map(|s| s.to_string()))?
    })
}

#[tokio::test]
async fn a_client_that_stops_reading_delays_no_one_and_is_closed() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start_with(|options| options.config.chat_sends_per_10s = 100_000).await?;
    let (_, mut ann) = server.connected_user("ann").await?;
    let (_, mut bob) = server.connected_user("bob").await?;
    // 2000 four-byte characters: 8 KB frames fill the stalled client's buffers sooner.
    let text = "🦀".repeat(1990);
    for n in 0..10 {
        one_message(&mut ann, &mut bob, n, &text).await?;
    }
    let mut baseline = Vec::new();
    for n in 0..150 {
        baseline.push(one_message(&mut ann, &mut bob, n, &text).await?);
    }

    let (staller, stalled) = {
        let session = server.user("staller").await?;
        let mut ws = RawWs::connect(&server, &session.access, Some(4096)).await?;
        let cid = ws.connection_id().await?;
        (session, (ws, cid))
    };
    let stalled_port = stalled.0.local_port()?;
    bob.event_where("user.listInLobby.refresh", |d| {
        d["user"]["userId"] == staller.user_id.as_str() && d["change"] == "joined"
    })
    .await?;
    // From here on the staller never reads its socket.
    let stall_started = Instant::now();
    let mut during = Vec::new();
    let mut sent = 0;
    let closed_after = loop {
        anyhow::ensure!(sent < 5000, "the stalled connection was never closed");
        during.push(one_message(&mut ann, &mut bob, sent, &text).await?);
        sent += 1;
        if let Ok(left) = tokio::time::timeout(
            Duration::from_millis(1),
            bob.event_where("user.listInLobby.refresh", |d| d["change"] == "left"),
        )
        .await
        {
            assert_eq!(left?["user"]["userId"], staller.user_id.as_str());
            break sent;
        }
    };
    let closed_in = stall_started.elapsed();
    // A few more with the stalled one gone, to see nothing lingers.
    let mut after = Vec::new();
    for n in 0..50 {
        after.push(one_message(&mut ann, &mut bob, 10_000 + n, &text).await?);
    }

    let presence = &server.gateway.chat.presence;
    assert!(presence.connection(&ConnectionId::new(stalled.1.as_str())).await?.is_none(), "purged from presence");
    assert!(server.gateway.registry.get(&stalled.1).is_none(), "gone from the gateway");
    assert!(presence.user_connections(&user_id(&staller.user_id)?).await?.is_empty());

    let (base, stall, late) = (median(baseline.clone()), median(during.clone()), median(after.clone()));
    println!(
        "latency Ann→Bob, median / p95: without a stalled client {:.2} / {:.2} ms; with one {:.2} / {:.2} ms ({} messages \
         until it was closed after {:.1} s); after {:.2} ms",
        ms(base),
        ms(percentile(baseline.clone(), 0.95)),
        ms(stall),
        ms(percentile(during, 0.95)),
        closed_after,
        closed_in.as_secs_f64(),
        ms(late)
    );
    // The server lets go of the socket itself: a client that never reads again must not
    // hold a task, a socket and a full queue on the server for ever.
    #[cfg(target_os = "linux")]
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = server_socket_state(server.address.port(), stalled_port);
            if state.as_deref() != Some("01") {
                break;
            }
            assert!(Instant::now() < deadline, "the server still holds the stalled client's socket open (ESTABLISHED)");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Without it is measured before and after, so that a machine that got busier meanwhile
    // does not count against the stalled client.
    let without = median(baseline.iter().chain(&after).copied().collect());
    assert!(
        stall <= without * 3 + Duration::from_millis(5),
        "a stalled client delayed the others: {stall:?} vs {without:?}"
    );

    // Coming back, the closed client finds everything it missed: the history `after` the
    // last message it had read (the 160 sent before it stopped reading).
    let mut back = Client::connect(&server, &staller.access).await?;
    let mut last_seq = 160;
    loop {
        let page = back.ok("chat.history", json!({"after": last_seq, "limit": 10})).await?;
        for message in page["messages"].as_array().into_iter().flatten() {
            assert_eq!(message["seq"], last_seq + 1, "history after {last_seq} skipped or repeated a message");
            last_seq += 1;
        }
        if page["hasMore"] != true {
            break;
        }
    }
    assert_eq!(
        last_seq,
        160 + closed_after as i64 + 50,
        "every message sent while it stalled and after is in the history"
    );
    drop(stalled);
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

/// This process's resident memory now and at its peak, in MiB (Linux `/proc`).
#[cfg(target_os = "linux")]
fn memory_mib() -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .ok_or_else(|| anyhow::anyhow!("no {name} in /proc/self/status"))?;
        let kib: f64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// 64 signups at once. Each password hash holds 19 MiB while it runs: unbounded, the burst
/// took 1.2 GB and kept most of it. Hashing now runs on about as many threads as there are
/// cores; a short queue waits, the rest are told to come back (429 `rateLimited` with
/// `retryAfterMs`), and the memory goes back to the system afterwards.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_burst_of_signups_is_bounded_in_memory_and_gives_it_back() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // One signup first, so that what is allocated once (pools, caches) is not counted.
    server.user("warm").await?;
    let (before, _) = memory_mib()?;
    let http = reqwest::Client::new();
    let signups = (0..64).map(|i| {
        let http = http.clone();
        let url = format!("{}/auth/signup", server.http);
        let user_id = chatting_e2e::unique(&format!("burst{i}_"));
        async move {
            let response = http
                .post(url)
                .body(json!({"userId": user_id, "password": "password123", "nick": "b"}).to_string())
                .send()
                .await?;
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").is_some();
            let body: Value = response.json().await?;
            anyhow::Ok((status, retry_after, body))
        }
    });
    let answers = futures::future::try_join_all(signups).await?;
    let (_, peak) = memory_mib()?;
    let created = answers.iter().filter(|(status, ..)| *status == 201).count();
    for (status, retry_after, body) in &answers {
        match status {
            201 => {}
            429 => {
                assert_eq!(body["code"], "rateLimited", "{body}");
                assert!(body["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 0), "{body}");
                assert!(retry_after, "a 429 carries Retry-After");
            }
            other => panic!("a signup in a burst answered {other}: {body}"),
        }
    }
    let cores = std::thread::available_parallelism()?.get();
    assert!(created >= cores.min(64), "only {created} of 64 signups succeeded");
    // Memory is returned as each hash ends; give the last ones a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let after = loop {
        let (now, _) = memory_mib()?;
        if now <= before + 30.0 || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "RSS before {before:.1} MiB, peak of the process {peak:.1} MiB, after {after:.1} MiB; {created} of 64 signed up"
    );
    assert!(peak <= before + 19.0 * (cores as f64) + 80.0, "the burst peaked at {peak:.0} MiB from {before:.0} MiB");
    assert!(after <= before + 30.0, "after the burst RSS stayed at {after:.0} MiB (was {before:.0} MiB)");
    Ok(())
}

/// A client that asks for large history pages and reads none of them is closed (as an
/// overflow, 1008) once a megabyte waits for it, long before 256 frames of 120 KB would:
/// memory per connection is bounded in bytes, not only in frames.
#[tokio::test]
async fn a_client_that_asks_and_never_reads_is_closed_by_bytes() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start_with(|options| options.config.chat_sends_per_10s = 1000).await?;
    let (session, mut writer) = server.connected_user("writer").await?;
    let long = "🦀".repeat(1990);
    for i in 0..20 {
        writer.ok("chat.send", json!({"type": "all", "text": format!("{i:02}{long}")})).await?;
    }
    let mut hoarder = RawWs::connect(&server, &session.access, Some(4096)).await?;
    let cid = hoarder.connection_id().await?;
    for n in 0..300 {
        let frame = json!({"action": "chat.history", "requestId": n.to_string(), "data": {"limit": 100}});
        if futures::SinkExt::send(
            hoarder.socket(),
            tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into()),
        )
        .await
        .is_err()
        {
            break;
        }
        if server.gateway.registry.get(&cid).is_none() {
            break;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.gateway.registry.get(&cid).is_some() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "a client hoarding {} bytes of replies was never closed",
            300 * 120 * 1024
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let presence = &server.gateway.chat.presence;
    while presence.connection(&ConnectionId::new(cid.as_str())).await?.is_some() {
        anyhow::ensure!(Instant::now() < deadline, "closed, but never purged from presence");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The writer, reading, is unaffected.
    writer.ok("ping", json!({})).await?;
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

/// A connection lost without `$disconnect` (API Gateway loses some; an instance can die
/// between the two) and never pushed to stays a ghost — in its room, listed online, owner —
/// only until its presence lease runs out: the next `$disconnect` anywhere sweeps it, and
/// everyone is told. Activity renews a live connection's lease.
#[tokio::test]
async fn a_connection_lost_without_disconnect_is_swept_once_its_lease_ends() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let lease = Duration::from_secs(3);
    let server = TestServer::start_with(|options| options.config.connection_lease = lease).await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    let room = ann_ws.ok("room.create", json!({"title": "haunted"})).await?["roomId"].clone();
    let ann_connection = ann_ws.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    let lost_at = Instant::now();
    assert!(forget_connection(&server, &ann_connection).await?, "the gateway knew the connection");
    let info = bob_ws.ok("room.info", json!({"roomId": room})).await?;
    assert_eq!(info["members"][0]["userId"], ann.user_id.as_str(), "a ghost for now: {info}");
    assert_eq!(bob_ws.ok("user.info", json!({"userId": ann.user_id})).await?["online"], true);

    // Bob keeps talking in the lobby (nothing goes to Ann's room), past Ann's lease.
    while lost_at.elapsed() < lease + Duration::from_millis(700) {
        bob_ws.ok("chat.send", json!({"type": "all", "text": "still here"})).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Someone else's `$disconnect` sweeps the expired lease.
    let (_, carl_ws) = server.connected_user("carl").await?;
    carl_ws.close().await?;
    let closed = bob_ws.event_where("room.list.refresh", |d| d["roomId"] == room && d["room"].is_null()).await?;
    println!("ghost swept {:?} after the connection was lost (lease {lease:?}): {closed}", lost_at.elapsed());
    assert_eq!(bob_ws.ok("user.info", json!({"userId": ann.user_id})).await?["online"], false, "no longer online");
    bob_ws.fails("room.info", json!({"roomId": room}), "noInfo").await?;
    assert_eq!(
        bob_ws.ok("user.info", json!({"userId": bob.user_id})).await?["online"],
        true,
        "activity renewed Bob's lease"
    );
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
