//! Tokens and passwords: forged handshakes, the pinned JWT algorithm and `exp`, login that
//! tells nothing about which ids exist, login rate limits per user id and per client
//! address, argon2id's cost, hashes at rest, no secret in the logs of a whole session, and
//! the Management API's signature check.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatting_e2e::{Client, TestServer, handshake_status, unique};
use chatting_shared::auth::TokenKeys;
use chatting_shared::aws::AwsKeys;
use chatting_shared::config::StoreProfile;
use chatting_shared::domain::{Secret, UserId};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tracing_subscriber::util::SubscriberInitExt as _;

// ---------------------------------------------------------------------------------------
// Helpers

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// An access token that expired: issued with a zero lifetime by the server's own key, then
/// waited on (bounded) until the server's own check refuses it.
async fn expired_token(server: &TestServer, user_id: &str) -> anyhow::Result<String> {
    let keys = TokenKeys::new(&server.config.jwt_secret, Duration::ZERO);
    let token = keys.issue(&UserId::parse(user_id).map_err(anyhow::Error::msg)?)?.token;
    let deadline = Instant::now() + Duration::from_secs(3);
    while server.gateway.chat.keys.verify(&token).is_ok() {
        anyhow::ensure!(Instant::now() < deadline, "a zero-lifetime token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(token)
}

/// Every kind of token an attacker might try, each with what it is.
async fn forged_tokens(
    server: &TestServer,
    victim: &str,
    real_token: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let exp = now_secs() + 600;
    let payload = b64url(format!(r#"{{"sub":"{victim}","iat":1,"exp":{exp}}}"#).as_bytes());
    let alg_none = format!("{}.{payload}.", b64url(br#"{"alg":"none","typ":"JWT"}"#));
    let alg_none_upper = format!("{}.{payload}.", b64url(br#"{"alg":"NONE","typ":"JWT"}"#));
    let other_keys =
        TokenKeys::new(&Secret::from_config("an attacker's own secret, 32 bytes+"), Duration::from_secs(600));
    let wrong_signature = other_keys.issue(&UserId::parse(victim).map_err(anyhow::Error::msg)?)?.token;
    let parts: Vec<&str> = real_token.split('.').collect();
    anyhow::ensure!(parts.len() == 3, "a JWT has three parts");
    // The victim's signature on someone else's claims.
    let swapped_payload =
        format!("{}.{}.{}", parts[0], b64url(br#"{"sub":"admin","iat":1,"exp":99999999999}"#), parts[2]);
    // The victim's claims and signature under another algorithm's name.
    let relabelled = format!("{}.{}.{}", b64url(br#"{"alg":"HS512","typ":"JWT"}"#), parts[1], parts[2]);
    let truncated_signature = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() / 2]);
    let no_exp = {
        let unsigned = format!("{}.{}", parts[0], b64url(format!(r#"{{"sub":"{victim}","iat":1}}"#).as_bytes()));
        format!("{unsigned}.{}", parts[2])
    };
    let unknown_user =
        server.gateway.chat.keys.issue(&UserId::parse(&unique("ghost")).map_err(anyhow::Error::msg)?)?.token;
    Ok(vec![
        ("garbage", "garbage".into()),
        ("three dots", "a.b.c".into()),
        ("alg none", alg_none),
        ("alg NONE", alg_none_upper),
        ("signed with another secret", wrong_signature),
        ("payload swapped under a real signature", swapped_payload),
        ("header relabelled HS512", relabelled),
        ("truncated signature", truncated_signature),
        ("claims without exp under a real signature", no_exp),
        ("valid signature, user does not exist", unknown_user),
        ("expired", expired_token(server, victim).await?),
        ("unicode", "ţøķëñ🔑".into()),
        ("very long", "x".repeat(6000)),
    ])
}

fn url_with_token(server: &TestServer, token: &str) -> String {
    let encoded: String = token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{}?token={encoded}", server.ws)
}

/// An HTTP client whose connections come from `local` (any 127.x.y.z reaches the server).
pub(crate) fn client_from(local: Ipv4Addr) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().local_address(IpAddr::V4(local)).build()?)
}

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
    took: Duration,
}

async fn login_from(
    client: &reqwest::Client,
    server: &TestServer,
    user_id: &str,
    password: &str,
) -> anyhow::Result<Answer> {
    let started = Instant::now();
    let response = client
        .post(format!("{}/auth/login", server.http))
        .body(json!({"userId": user_id, "password": password}).to_string())
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Value = serde_json::from_str(&response.text().await?)?;
    Ok(Answer { status, body, retry_after, took: started.elapsed() })
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------
// Handshakes

#[tokio::test]
async fn forged_handshakes_are_refused_with_401() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    let victim = server.user("victim").await?;
    assert_eq!(handshake_status(&server.ws).await?, Some(401), "no token");
    assert_eq!(handshake_status(&format!("{}?token=", server.ws)).await?, Some(401), "empty token");
    assert_eq!(handshake_status(&format!("{}?tok=x&token", server.ws)).await?, Some(401), "token without value");
    for (what, token) in forged_tokens(&server, &victim.user_id, &victim.access).await? {
        assert_eq!(handshake_status(&url_with_token(&server, &token)).await?, Some(401), "{what}");
        let (status, body) = server.call("GET", "/auth/me", None, Some(&token)).await?;
        assert_eq!((status, body["code"].as_str()), (401, Some("notAuth")), "/auth/me with {what}");
    }
    assert_eq!(server.gateway.registry.len(), 0, "no refused handshake left a connection behind");
    assert_eq!(handshake_status(&url_with_token(&server, &victim.access)).await?, None, "the real token opens");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

#[tokio::test]
async fn a_flood_of_forged_handshakes_disturbs_no_one() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    let (ann, mut ann_ws) = server.connected_user("ann").await?;
    let (bob, mut bob_ws) = server.connected_user("bob").await?;
    ann_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == bob.user_id.as_str()).await?;
    ann_ws.clear_events();
    let forged = forged_tokens(&server, &ann.user_id, &ann.access).await?;

    // 400 forged handshakes, 32 at a time, while Ann and Bob keep chatting.
    let urls: Vec<String> = (0..400).map(|i| url_with_token(&server, &forged[i % forged.len()].1)).collect();
    let flood = tokio::spawn(async move {
        let statuses: Vec<Option<u16>> = futures::stream::iter(urls)
            .map(|url| async move { handshake_status(&url).await.ok().flatten() })
            .buffer_unordered(32)
            .collect()
            .await;
        statuses
    });
    let mut chatted = 0;
    let mut took = Vec::new();
    while !flood.is_finished() || chatted < 20 {
        anyhow::ensure!(chatted < 2000, "the flood never ended");
        let text = format!("still here {chatted}");
        let started = Instant::now();
        ann_ws.ok("chat.send", json!({"type": "all", "text": text})).await?;
        bob_ws.event_where("chat.in", |m| m["text"] == text.as_str()).await?;
        took.push(started.elapsed());
        chatted += 1;
    }
    let statuses = flood.await?;
    let refused = statuses.iter().filter(|s| **s == Some(401)).count();
    took.sort();
    let (median, slowest) = (took[took.len() / 2], took[took.len() - 1]);
    println!(
        "forged handshakes: {refused}/{} refused with 401; {chatted} messages meanwhile, median {:.1} ms, slowest {:.1} ms",
        statuses.len(),
        ms(median),
        ms(slowest)
    );
    assert_eq!(refused, 400, "every forged handshake is a 401: {statuses:?}");
    // The median shows whether the flood slowed the chat; the bound on the slowest one is
    // loose because a backend (the DynamoDB emulator serves one request at a time, for every
    // test running) may stall a single request regardless of the flood.
    assert!(median < Duration::from_millis(500), "chat stayed responsive: median {median:?}");
    assert!(slowest < Duration::from_secs(5), "every message arrived promptly: slowest {slowest:?}");

    ann_ws.no_event("user.listInLobby.refresh", Duration::from_millis(300)).await?;
    let users = ann_ws.ok("user.listInLobby", json!({})).await?;
    let mut ids: Vec<&str> =
        users["users"].as_array().into_iter().flatten().filter_map(|u| u["userId"].as_str()).collect();
    ids.sort();
    let mut expected = vec![ann.user_id.as_str(), bob.user_id.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "nobody else appeared in the lobby");
    assert_eq!(server.gateway.registry.len(), 2, "only the two real connections are open");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Login

#[tokio::test]
async fn login_answer_and_time_do_not_tell_whether_an_id_exists() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let existing = server.user("exists").await?.user_id;
    let unknown = unique("nobody");
    let cases: [(&str, String, &str); 4] = [
        ("existing id, wrong password", existing.clone(), "not-the-password"),
        ("unknown id", unknown, "not-the-password"),
        ("malformed id", "NOT VALID!".into(), "not-the-password"),
        ("malformed password", existing.clone(), "short"),
    ];
    let client = reqwest::Client::new();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    let mut bodies: Vec<Value> = vec![Value::Null; cases.len()];
    for round in 0..15 {
        // Interleaved, so that load on the machine hits every case alike.
        for (i, (what, user_id, password)) in cases.iter().enumerate() {
            let answer = login_from(&client, &server, user_id, password).await?;
            assert_eq!(answer.status, 401, "{what}: {}", answer.body);
            if round == 0 {
                bodies[i] = answer.body;
            } else {
                assert_eq!(answer.body, bodies[i], "{what}: the same answer every time");
            }
            times[i].push(answer.took);
        }
    }
    for body in &bodies {
        assert_eq!(body, &bodies[0], "every case answers the same");
    }
    assert_eq!(bodies[0]["code"], "wrong");
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    let report: Vec<String> =
        cases.iter().zip(&medians).map(|((what, ..), m)| format!("{what}: {:.1} ms", ms(*m))).collect();
    println!("login median times: {}", report.join(", "));
    // Only an existing and an unknown well-formed id could be told apart by time. A malformed
    // id or password also pays the password hash but skips the store and the per-user limit,
    // so on a slow backend it is answered sooner; that says nothing about any account. The
    // margin is for a loaded 2-core machine; an unknown id answered without the hash would take
    // a fraction of the time, far outside it.
    let (existing, unknown) = (medians[0], medians[1]);
    let (faster, slower) = (existing.min(unknown), existing.max(unknown));
    assert!(
        slower <= faster * 3 / 2 + Duration::from_millis(5),
        "login times for an existing and an unknown id differ enough to tell them apart: {report:?}"
    );
    Ok(())
}

/// Per user id every attempt counts; per address only failures, so a hundred people behind
/// one NAT can all log in while a sprayer from one address is stopped.
#[tokio::test]
async fn login_attempts_are_limited_per_user_id_and_failures_per_address() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let defaults =
        chatting_shared::config::Config::from_local_env(&std::env::temp_dir().join(unique("chatting-defaults-")))?;
    assert_eq!(
        (defaults.login_attempts_per_user, defaults.login_attempts_per_address),
        (10, 100),
        "documented defaults"
    );
    let (per_user, per_address) = (3, 12);
    let server = TestServer::start_with(|options| {
        options.config.login_attempts_per_user = per_user;
        options.config.login_attempts_per_address = per_address;
    })
    .await?;
    let ann = unique("ann");
    let bob = unique("bob");
    server.signup(&ann, "Ann").await?;
    server.signup(&bob, "Bob").await?;
    let here = client_from(Ipv4Addr::new(127, 0, 0, 1))?;
    let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 2))?;
    let mut failures = 0;

    // Guessing Ann's password: `per_user` wrong answers, then refusals, even for the right one.
    for _ in 0..per_user {
        assert_eq!(login_from(&here, &server, &ann, "guess-guess").await?.status, 401);
        failures += 1;
    }
    let refused = login_from(&here, &server, &ann, "password123").await?;
    assert_eq!((refused.status, refused.body["code"].as_str()), (429, Some("rateLimited")), "{}", refused.body);
    let retry_ms = refused.body["data"]["retryAfterMs"].as_u64().unwrap_or(0);
    assert!((1..=300_000).contains(&retry_ms), "retryAfterMs within the 5-minute window: {retry_ms}");
    let retry_after: u64 = refused.retry_after.as_deref().unwrap_or("").parse()?;
    assert_eq!(retry_after, retry_ms.div_ceil(1000), "Retry-After header in whole seconds");
    assert!(refused.took < Duration::from_millis(200), "a refusal costs no password hashing: {:?}", refused.took);
    // The limit is on the id, not the address: from elsewhere Ann is still refused.
    assert_eq!(login_from(&elsewhere, &server, &ann, "password123").await?.status, 429);

    // An id that does not exist is limited exactly alike: the limit tells nothing either.
    let ghost = unique("ghost");
    for _ in 0..per_user {
        assert_eq!(login_from(&here, &server, &ghost, "guess-guess").await?.status, 401);
        failures += 1;
    }
    let ghost_refused = login_from(&here, &server, &ghost, "guess-guess").await?;
    assert_eq!(ghost_refused.status, 429);
    assert_eq!(ghost_refused.body["code"], refused.body["code"]);
    assert!(
        ghost_refused.body["message"].as_str().is_some_and(|m| m.starts_with("too many requests")),
        "{}",
        ghost_refused.body
    );

    // An office behind one address: more people than the address limit all log in.
    let office: Vec<String> = (0..per_address + 2).map(|_| unique("office")).collect();
    for colleague in &office {
        server.signup(colleague, "Colleague").await?;
    }
    for colleague in &office {
        let answer = login_from(&here, &server, colleague, "password123").await?;
        assert_eq!(answer.status, 200, "successful logins do not count against the address: {}", answer.body);
    }
    assert_eq!(login_from(&here, &server, &bob, "password123").await?.status, 200);

    // Spraying many ids from one address runs into the address limit, counting failures.
    let mut sprayed = 0;
    while failures < per_address {
        assert_eq!(login_from(&here, &server, &unique("spray"), "guess-guess").await?.status, 401);
        failures += 1;
        sprayed += 1;
    }
    let blocked = login_from(&here, &server, &bob, "password123").await?;
    assert_eq!((blocked.status, blocked.body["code"].as_str()), (429, Some("rateLimited")), "{}", blocked.body);
    // Another address is a fresh budget.
    assert_eq!(login_from(&elsewhere, &server, &bob, "password123").await?.status, 200);
    println!(
        "login limits: {per_user} attempts per user id and {per_address} failures per address in 5 min; attempt {} on one \
         id answered 429, retryAfterMs {retry_ms}; {} successful logins from one address all answered 200; failure {} \
         from it ({sprayed} sprayed ids) closed it",
        per_user + 1,
        office.len() + 1,
        per_address
    );
    // Refresh is not a login: it still works for a session made elsewhere.
    let session = {
        let answer = login_from(&elsewhere, &server, &bob, "password123").await?;
        answer.body["data"]["refreshToken"].as_str().unwrap_or_default().to_owned()
    };
    let (status, _) = server.post("/auth/refresh", json!({"refreshToken": session})).await?;
    assert_eq!(status, 200);
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}

#[tokio::test]
async fn argon2id_parameters_and_the_login_latency_they_cost() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let session = server.user("hash").await?;
    let store = chatting_shared::startup::open_store(&server.config).await?;
    let record =
        store.user(&UserId::parse(&session.user_id).map_err(anyhow::Error::msg)?).await?.expect("the user exists");
    assert!(
        record.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "argon2id, 19 MiB, 2 passes, 1 lane: {}",
        record.password_hash
    );

    let mut verify = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        assert!(chatting_shared::auth::verify_password("password123", &record.password_hash).await.unwrap());
        verify.push(started.elapsed());
    }
    let client = reqwest::Client::new();
    let mut logins = Vec::new();
    for _ in 0..15 {
        let answer = login_from(&client, &server, &session.user_id, "password123").await?;
        assert_eq!(answer.status, 200);
        logins.push(answer.took);
    }
    let (verify, login) = (median(verify), median(logins));
    println!("argon2id verify: median {:.1} ms; whole login over HTTP: median {:.1} ms", ms(verify), ms(login));
    assert!(login < Duration::from_millis(800), "a login stays well under a second: {login:?}");
    assert!(verify > Duration::from_millis(2), "hashing is deliberately slow: {verify:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// At rest

#[tokio::test]
async fn passwords_and_refresh_tokens_are_stored_only_as_hashes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (owner, mut owner_ws) = server.connected_user("owner").await?;
    let (_, mut guest_ws) = server.connected_user("guest").await?;
    let room_password = "open-sesame-42";
    let created = owner_ws.ok("room.create", json!({"title": "Vault", "password": room_password})).await?;
    assert!(!created.to_string().contains(room_password), "never returned: {created}");
    let room_id = created["roomId"].as_i64().expect("roomId");
    guest_ws.fails("room.join", json!({"roomId": room_id, "password": "wrong"}), "wrong").await?;
    let joined = guest_ws.ok("room.join", json!({"roomId": room_id, "password": room_password})).await?;
    assert!(!joined.to_string().contains(room_password));
    let listed = guest_ws.ok("room.list", json!({})).await?;
    assert!(!listed.to_string().contains(room_password));

    let store = chatting_shared::startup::open_store(&server.config).await?;
    let room = store.room(chatting_shared::domain::RoomId::from_stored(room_id)).await?.expect("the room");
    let hash = room.password_hash.expect("a password hash");
    assert!(hash.starts_with("$argon2id$") && !hash.contains(room_password), "{hash}");
    let user = store.user(&UserId::parse(&owner.user_id).map_err(anyhow::Error::msg)?).await?.expect("the user");
    assert!(user.password_hash.starts_with("$argon2id$") && !user.password_hash.contains("password123"));

    // Refresh tokens: only their SHA-256 is kept.
    let (stored, password_hashes) = stored_token_and_password_hashes(&server.config).await?;
    assert!(!stored.is_empty());
    assert!(!stored.contains(&owner.refresh), "the raw refresh token is not stored");
    assert!(stored.contains(&chatting_shared::auth::token_hash(&owner.refresh)), "its hash is");
    assert!(!password_hashes.is_empty() && password_hashes.iter().all(|h| h.starts_with("$argon2id$")));
    if matches!(server.config.store, StoreProfile::DynamoDb(_)) {
        let items = chatting_e2e::dynamodb_items(&server.config).await?;
        assert!(items.iter().flat_map(|i| i.values()).all(|v| !v.contains(&owner.refresh)), "nowhere in the table");
    }
    Ok(())
}

/// The refresh token hashes and password hashes the store holds, read around it.
async fn stored_token_and_password_hashes(
    config: &chatting_shared::config::Config,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let url = match &config.store {
        StoreProfile::Sql { url } => url,
        StoreProfile::DynamoDb(_) => {
            let items = chatting_e2e::dynamodb_items(config).await?;
            let tokens = items.iter().filter_map(|i| i.get("pk")?.strip_prefix("TOKEN#").map(str::to_owned)).collect();
            let passwords = items
                .iter()
                .filter(|i| i.get("pk").is_some_and(|pk| pk.starts_with("USER#")))
                .filter_map(|i| i.get("password_hash").cloned())
                .collect();
            return Ok((tokens, passwords));
        }
    };
    sqlx::any::install_default_drivers();
    let mut db = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await?;
    let rows: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM refresh_tokens").fetch_all(&mut db).await?;
    let passwords: Vec<(String,)> = sqlx::query_as("SELECT password_hash FROM users").fetch_all(&mut db).await?;
    Ok((rows.into_iter().map(|(h,)| h).collect(), passwords.into_iter().map(|(h,)| h).collect()))
}

// ---------------------------------------------------------------------------------------
// Logs

/// Everything every tracing event of this process writes, as text.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_of_a_whole_session() -> anyhow::Result<()> {
    // Every level of every crate: what an operator would see with RUST_LOG=trace.
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // nextest runs each test in its own process; under `cargo test` another test may have
    // set the global subscriber, and this one then sees this thread's events only.
    let _guard = match subscriber.try_init() {
        Ok(()) => None,
        Err(_) => Some(
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
                .with_ansi(false)
                .with_writer({
                    let writer = logs.clone();
                    move || writer.clone()
                })
                .finish()
                .set_default(),
        ),
    };

    let server = TestServer::start_with(|options| {
        options.config.login_attempts_per_user = 2;
        // Reuse right after the rotation, without the grace window's wait.
        options.config.refresh_grace = Duration::ZERO;
    })
    .await?;
    let jwt_secret = server.config.jwt_secret.expose().to_owned();
    let password = "correct-horse-battery-staple";
    let (ann, bob) = (unique("ann"), unique("bob"));
    for (user_id, nick) in [(&ann, "Ann"), (&bob, "Bob")] {
        let (status, body) =
            server.post("/auth/signup", json!({"userId": user_id, "password": password, "nick": nick})).await?;
        assert_eq!(status, 201, "{body}");
    }
    let login = |user_id: String| {
        let server = &server;
        async move {
            let (status, body) = server.post("/auth/login", json!({"userId": user_id, "password": password})).await?;
            anyhow::ensure!(status == 200, "{body}");
            Ok::<_, anyhow::Error>((
                body["data"]["accessToken"].as_str().unwrap_or_default().to_owned(),
                body["data"]["refreshToken"].as_str().unwrap_or_default().to_owned(),
            ))
        }
    };
    let (ann_access, ann_refresh) = login(ann.clone()).await?;
    let (bob_access, bob_refresh) = login(bob.clone()).await?;
    let wrong_password = "wrong-password-attempt-77";
    let (status, _) = server.post("/auth/login", json!({"userId": ann, "password": wrong_password})).await?;
    assert_eq!(status, 401);
    let (status, _) =
        server.post("/auth/login", json!({"userId": unique("nobody"), "password": wrong_password})).await?;
    assert_eq!(status, 401);
    let (status, _) = server.post("/auth/login", json!({"userId": ann, "password": wrong_password})).await?;
    assert_eq!(status, 429, "limited");

    let mut ann_ws = Client::connect(&server, &ann_access).await?;
    let mut bob_ws = Client::connect(&server, &bob_access).await?;
    let room_password = "room-pass-xyzzy";
    let room = ann_ws.ok("room.create", json!({"title": "Secret club", "password": room_password})).await?;
    let room_id = room["roomId"].as_i64().unwrap_or_default();
    let wrong_room_password = "not-the-room-pass";
    bob_ws.fails("room.join", json!({"roomId": room_id, "password": wrong_room_password}), "wrong").await?;
    bob_ws.ok("room.join", json!({"roomId": room_id, "password": room_password})).await?;
    ann_ws.ok("room.update", json!({"password": "room-pass-changed"})).await?;
    ann_ws.ok("chat.send", json!({"type": "all", "text": "hello"})).await?;
    bob_ws.ok("chat.send", json!({"type": "whisper", "to": ann, "text": "psst"})).await?;
    bob_ws.send_text("{not json").await?;
    bob_ws.next_frame().await?;
    assert_eq!(handshake_status(&format!("{}?token={}x", server.ws, bob_access)).await?, Some(401));
    let (status, _) = server.call("GET", "/auth/me", None, Some(&ann_access)).await?;
    assert_eq!(status, 200);
    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": ann_refresh})).await?;
    assert_eq!(status, 200, "{body}");
    let (new_access, new_refresh) = (
        body["data"]["accessToken"].as_str().unwrap_or_default().to_owned(),
        body["data"]["refreshToken"].as_str().unwrap_or_default().to_owned(),
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, _) = server.post("/auth/refresh", json!({"refreshToken": ann_refresh})).await?;
    assert_eq!(status, 401, "reuse is refused and logged");
    let (status, _) = server.post("/auth/logout", json!({"refreshToken": bob_refresh})).await?;
    assert_eq!(status, 200);
    ann_ws.close().await?;
    bob_ws.close().await?;
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let text = logs.text();
    if let Some(path) = std::env::var_os("CHATTING_TEST_LOG_DUMP") {
        std::fs::write(path, &text)?;
    }
    let _ = std::io::stdout().write_all(format!("captured {} log lines\n", text.lines().count()).as_bytes());
    // The capture works: the session's own events are there.
    for expected in ["connected", "disconnected", "refresh token presented again"] {
        assert!(text.contains(expected), "the capture misses {expected:?}");
    }
    let signature = |token: &str| token.rsplit('.').next().unwrap_or_default().to_owned();
    let secrets = [
        ("account password", password.to_owned()),
        ("wrong password", wrong_password.to_owned()),
        ("room password", room_password.to_owned()),
        ("changed room password", "room-pass-changed".to_owned()),
        ("wrong room password", wrong_room_password.to_owned()),
        ("JWT secret", jwt_secret),
        ("access token signature", signature(&ann_access)),
        ("second access token signature", signature(&bob_access)),
        ("refreshed access token signature", signature(&new_access)),
        ("refresh token", ann_refresh),
        ("second refresh token", bob_refresh),
        ("rotated refresh token", new_refresh),
    ];
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is a real value");
        if let Some(at) = text.find(secret.as_str()) {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!("the {what} is in the logs: {}", &text[line_start..line_end]);
        }
    }
    assert!(!text.contains("$argon2id$"), "no password hash in the logs");
    Ok(())
}

/// The Management API and `/metrics` answer only requests signed with the gateway's key: a
/// client that reaches the port can neither show users a forged message nor close their
/// sockets nor read the counters.
#[tokio::test]
async fn the_management_api_answers_only_requests_signed_with_the_gateways_key() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    let (_, mut victim) = server.connected_user("victim").await?;
    let connection = victim.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned();
    let path = format!("/@connections/{connection}");
    let forged = br#"{"type":"event","event":"chat.in","data":{"text":"forged"}}"#;
    let key = server.gateway.management_key.clone();
    let stranger = AwsKeys {
        access_key_id: "AKIASTRANGER".into(),
        secret_access_key: Secret::from_config("not the gateway's"),
        ..key.clone()
    };
    let guessed_secret = AwsKeys { secret_access_key: Secret::from_config("local"), ..key.clone() };

    for (who, signer) in [
        ("unsigned", None),
        ("another key", Some(&stranger)),
        ("the right key id, a guessed secret", Some(&guessed_secret)),
    ] {
        for (method, body) in [("POST", &forged[..]), ("DELETE", &b""[..]), ("GET", &b""[..])] {
            let response = server.management(method, &path, body, signer).await?;
            let error_type =
                response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
            assert_eq!(response.status(), 403, "{method} {who}");
            assert!(error_type.is_some_and(|t| t.ends_with("Exception")), "{method} {who}: an AWS error type");
        }
        assert_eq!(server.management("GET", "/metrics", b"", signer).await?.status(), 403, "/metrics {who}");
    }
    victim.no_event("chat.in", Duration::from_millis(300)).await?;
    victim.ok("ping", json!({})).await?;

    // The gateway's key works, for the counters and for a real push.
    assert!(server.metrics().await?["openConnections"].as_u64().is_some_and(|n| n >= 1));
    let pushed = br#"{"type":"event","event":"chat.in","data":{"text":"signed"}}"#;
    assert_eq!(server.management("POST", &path, pushed, Some(&key)).await?.status(), 200);
    assert_eq!(victim.event("chat.in").await?["text"], "signed");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
