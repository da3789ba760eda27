//! Limits against scripts: accounts per address, state changes per connection and per
//! user, room password guesses per user and room. (Login attempts: `security`.)

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use chatting_e2e::{Client, TestServer, unique};
use serde_json::{Value, json};

use super::security::client_from;

/// Accounts one address may create in 5 minutes: each is a password hash and a row, and a
/// script must not make them by the thousand. Another address is a fresh budget.
#[tokio::test]
async fn signups_are_limited_per_address() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let defaults =
        chatting_shared::config::Config::from_local_env(&std::env::temp_dir().join(unique("chatting-defaults-")))?;
    assert_eq!(defaults.signups_per_address, 20, "documented default");
    let per_address = 4;
    let server = TestServer::start_with(|options| options.config.signups_per_address = per_address).await?;
    let signup_from = |client: reqwest::Client, user_id: String| {
        let url = format!("{}/auth/signup", server.http);
        async move {
            let response = client
                .post(url)
                .body(json!({"userId": user_id, "password": "password123", "nick": "n"}).to_string())
                .send()
                .await?;
            let status = response.status().as_u16();
            anyhow::Ok((status, response.json::<Value>().await?))
        }
    };
    let here = client_from(Ipv4Addr::new(127, 0, 0, 3))?;
    let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 4))?;
    for _ in 0..per_address {
        let (status, body) = signup_from(here.clone(), unique("made")).await?;
        assert_eq!(status, 201, "{body}");
    }
    let refused_id = unique("refused");
    let (status, body) = signup_from(here.clone(), refused_id.clone()).await?;
    assert_eq!((status, body["code"].as_str()), (429, Some("rateLimited")), "{body}");
    assert!(body["data"]["retryAfterMs"].as_u64().is_some_and(|ms| (1..=300_000).contains(&ms)), "{body}");
    let (status, _) = server.call("GET", &format!("/auth/id-check/{refused_id}"), None, None).await?;
    assert_eq!(status, 200, "a refused signup creates nothing");
    let (status, body) = signup_from(elsewhere, unique("other")).await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

/// Every state-changing action is limited per connection and per user: a script cannot
/// make the lobby receive hundreds of events a second (each a paid push in AWS) by
/// creating and leaving rooms or renaming itself in a loop.
#[tokio::test]
async fn state_changing_actions_are_limited_per_connection_and_per_user() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let defaults =
        chatting_shared::config::Config::from_local_env(&std::env::temp_dir().join(unique("chatting-defaults-")))?;
    assert_eq!((defaults.changes_per_10s, defaults.changes_per_user_per_10s), (10, 20), "documented defaults");
    let server = TestServer::start_with(|options| {
        options.config.changes_per_10s = 6;
        options.config.changes_per_user_per_10s = 9;
        // Long enough that no attempt ages out while a slow backend serves the test.
        options.config.changes_window = Duration::from_secs(300);
    })
    .await?;
    let (_, mut watcher) = server.connected_user("watcher").await?;
    let (spammer, mut first) = server.connected_user("spammer").await?;

    // One connection: 6 changes go through, the 7th is refused with a wait.
    let mut accepted = 0;
    let refused = loop {
        let reply = first.request("room.create", json!({"title": format!("spam{accepted}")})).await?;
        if reply["ok"] != true {
            break reply;
        }
        accepted += 1;
        let reply = first.request("room.leave", json!({})).await?;
        if reply["ok"] != true {
            break reply;
        }
        accepted += 1;
        anyhow::ensure!(accepted < 50, "no limit on room.create + room.leave");
    };
    assert_eq!(accepted, 6, "the 7th change of one connection is refused");
    assert_eq!(refused["code"], "rateLimited", "{refused}");
    assert!(
        refused["data"]["retryAfterMs"].as_u64().is_some_and(|ms| (1..=300_000).contains(&ms)),
        "within the window: {refused}"
    );
    let reply = first.request("user.update", json!({"nick": "again"})).await?;
    assert_eq!(reply["code"], "rateLimited", "user.update is a change too: {reply}");
    // Reading is not limited.
    first.ok("room.list", json!({})).await?;
    first.ok("user.me", json!({})).await?;

    // A second connection of the same user has its own 6, but the user's 9 run out first.
    let mut second = Client::connect(&server, &spammer.access).await?;
    let mut more = 0;
    while second.request("user.update", json!({"nick": format!("n{more}")})).await?["ok"] == true {
        more += 1;
        anyhow::ensure!(more < 50, "no limit per user");
    }
    assert_eq!(more, 3, "the user's 9 changes are spent: 6 on the first connection, 3 here");

    // Other users are untouched.
    watcher.ok("user.update", json!({"nick": "watched"})).await?;
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

/// Room passwords cannot be guessed: 5 wrong ones per user and room in 5 minutes, then every
/// attempt is refused with a wait (the right password too), before any hashing. Other users
/// and other rooms keep their own budgets.
#[tokio::test]
async fn room_password_guesses_are_limited_per_user_and_room() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    let (_, mut owner) = server.connected_user("owner").await?;
    let (_, mut guesser) = server.connected_user("guesser").await?;
    let (_, mut friend) = server.connected_user("friend").await?;
    let locked = owner.ok("room.create", json!({"title": "vault", "password": "sesame"})).await?["roomId"].clone();
    let other =
        friend.ok("room.create", json!({"title": "other vault", "password": "sesame"})).await?["roomId"].clone();

    for guess in 1..=5 {
        guesser.fails("room.join", json!({"roomId": locked, "password": format!("guess{guess}")}), "wrong").await?;
    }
    let started = Instant::now();
    let refused = guesser.request("room.join", json!({"roomId": locked, "password": "sesame"})).await?;
    let took = started.elapsed();
    assert_eq!(refused["code"], "rateLimited", "the 6th attempt, even the right password: {refused}");
    let wait = refused["data"]["retryAfterMs"].as_u64().unwrap_or(0);
    assert!((250_000..=300_000).contains(&wait), "until the first wrong guess is 5 minutes old: {wait}");
    assert!(took < Duration::from_millis(500), "a refusal costs no password hashing: {took:?}");

    // Another room, and another user, are untouched.
    guesser.ok("room.join", json!({"roomId": other, "password": "sesame"})).await?;
    friend.fails("room.join", json!({"roomId": locked, "password": "nope"}), "wrong").await?;
    friend.ok("room.join", json!({"roomId": locked, "password": "sesame"})).await?;
    println!("room password: 5 wrong guesses answered wrong, the 6th rateLimited in {took:?}, retryAfterMs {wait}");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
