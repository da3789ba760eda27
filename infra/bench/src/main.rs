//! `chatting-bench`: starts a local gateway per backend and push mode, drives it over real
//! WebSockets on 127.0.0.1 and prints latency, throughput and what one message costs.
//!
//! ```text
//! cargo run --release -p chatting-bench -- [--backend embedded|mysql|all] [--push sdk|direct|all]
//!                                          [--scenario NAME]... [--quick]
//! ```
//!
//! Scenarios: `lobby-10`, `lobby-100`, `lobby-500`, `room-10`, `room-100`, `whisper`,
//! `churn`, `login`. Every load is bounded in count and time and targets 127.0.0.1 only.
//! Costs per `chat.send` come from the gateway's own counters (`GET /metrics`). A table goes
//! to stdout and JSON to `target/bench/results.json`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chatting_harness::{
    Client, REDIS_URL, Session, TestServer, dynamodb_endpoint, fresh_dynamodb_table, fresh_mysql_database,
};
use chatting_local_gateway::PushMode;
use chatting_shared::config::{RedisSettings, StoreProfile};
use futures::StreamExt as _;
use serde_json::{Value, json};

/// No scenario may run longer than this.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    MySqlRedis,
    /// Store and presence on one table of the DynamoDB emulator (scripts/dynamodb-emulator):
    /// its request counts are what AWS would bill; its latencies are the emulator's.
    DynamoDb,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "sqlite+memory",
            Backend::MySqlRedis => "mariadb+redis",
            Backend::DynamoDb => "dynamodb",
        }
    }
}

fn push_name(push: PushMode) -> &'static str {
    match push {
        PushMode::Sdk => "sdk",
        PushMode::Direct => "direct",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// `users` in the lobby, `senders` of them sending `per_sender` messages each.
    Lobby { users: usize },
    /// A room of `members`, several of them sending.
    Room { members: usize },
    /// Two users whispering back and forth.
    Whisper,
    /// Connect and disconnect, one after the other.
    Churn,
    /// Logins, one after the other.
    Login,
}

impl Scenario {
    fn all() -> Vec<Scenario> {
        vec![
            Scenario::Lobby { users: 10 },
            Scenario::Lobby { users: 100 },
            Scenario::Lobby { users: 500 },
            Scenario::Room { members: 10 },
            Scenario::Room { members: 100 },
            Scenario::Whisper,
            Scenario::Churn,
            Scenario::Login,
        ]
    }

    fn name(self) -> String {
        match self {
            Scenario::Lobby { users } => format!("lobby-{users}"),
            Scenario::Room { members } => format!("room-{members}"),
            Scenario::Whisper => "whisper".into(),
            Scenario::Churn => "churn".into(),
            Scenario::Login => "login".into(),
        }
    }

    fn parse(name: &str) -> anyhow::Result<Scenario> {
        Scenario::all().into_iter().find(|s| s.name() == name).with_context(|| format!("no scenario {name:?}"))
    }
}

struct Options {
    backends: Vec<Backend>,
    pushes: Vec<PushMode>,
    scenarios: Vec<Scenario>,
    /// Smaller counts, for a quick look.
    quick: bool,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        backends: vec![Backend::Embedded, Backend::MySqlRedis],
        pushes: vec![PushMode::Sdk, PushMode::Direct],
        scenarios: Vec::new(),
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => {
                options.backends = match args.next().as_deref() {
                    Some("embedded") => vec![Backend::Embedded],
                    Some("mysql") => vec![Backend::MySqlRedis],
                    Some("dynamodb") => vec![Backend::DynamoDb],
                    Some("all") => vec![Backend::Embedded, Backend::MySqlRedis, Backend::DynamoDb],
                    other => bail!("--backend takes embedded, mysql, dynamodb or all, not {other:?}"),
                }
            }
            "--push" => {
                options.pushes = match args.next().as_deref() {
                    Some("sdk") => vec![PushMode::Sdk],
                    Some("direct") => vec![PushMode::Direct],
                    Some("all") => vec![PushMode::Sdk, PushMode::Direct],
                    other => bail!("--push takes sdk, direct or all, not {other:?}"),
                }
            }
            "--scenario" => options.scenarios.push(Scenario::parse(&args.next().context("--scenario NAME")?)?),
            "--quick" => options.quick = true,
            "--help" | "-h" => {
                println!(
                    "usage: chatting-bench [--backend embedded|mysql|dynamodb|all] [--push sdk|direct|all] [--scenario NAME]... [--quick]"
                );
                println!("scenarios: {}", Scenario::all().iter().map(|s| s.name()).collect::<Vec<_>>().join(", "));
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if options.scenarios.is_empty() {
        options.scenarios = Scenario::all();
    }
    Ok(options)
}

async fn start_server(backend: Backend, push: PushMode) -> anyhow::Result<TestServer> {
    let (database, redis) = match backend {
        Backend::Embedded => (None, None),
        Backend::MySqlRedis => (Some(fresh_mysql_database().await?), Some(REDIS_URL.to_owned())),
        Backend::DynamoDb => (Some(format!("dynamodb://{}", fresh_dynamodb_table().await?.name)), None),
    };
    let endpoint = (backend == Backend::DynamoDb).then(dynamodb_endpoint);
    let store = database.map(|url| StoreProfile::from_url(&url, endpoint, true)).transpose()?;
    TestServer::start_with(|options| {
        options.push = push;
        // Load generators send faster than a person; the limit is not what is measured.
        options.config.chat_sends_per_10s = u32::MAX;
        if let Some(store) = store {
            options.config.store = store;
            options.config.redis = redis.map(RedisSettings::new);
        }
    })
    .await
}

async fn metrics(server: &TestServer) -> anyhow::Result<Value> {
    server.metrics().await
}

fn delta(before: &Value, after: &Value, key: &str) -> u64 {
    after[key].as_u64().unwrap_or(0).saturating_sub(before[key].as_u64().unwrap_or(0))
}

/// What one `chat.send` cost between two `/metrics` snapshots.
fn per_send(before: &Value, after: &Value) -> Value {
    let sends = delta(before, after, "chatSends").max(1) as f64;
    let per = |key: &str| delta(before, after, key) as f64 / sends;
    json!({
        "storeStatements": per("storeStatements"),
        "redisRoundTrips": per("redisRoundTrips"),
        "dynamodbRequests": per("dynamodbRequests"),
        "managementApiCalls": per("managementApiCalls"),
        "directPushes": per("directPushes"),
    })
}

/// Users signed up and logged in a few at a time (argon2 is the cost here).
async fn users(server: &TestServer, count: usize) -> anyhow::Result<Vec<Session>> {
    let mut sessions = Vec::with_capacity(count);
    let mut pending = futures::stream::iter((0..count).map(|i| async move { server.user(&format!("b{i}_")).await }))
        .buffer_unordered(4);
    while let Some(session) = pending.next().await {
        sessions.push(session?);
        if sessions.len() % 100 == 0 {
            eprint!("\r    {} users ready", sessions.len());
        }
    }
    if count >= 100 {
        eprintln!();
    }
    Ok(sessions)
}

fn now_micros(t0: Instant) -> u128 {
    t0.elapsed().as_micros()
}

/// What one participant saw: latencies of the `chat.in` it received, errors of its sends.
#[derive(Default)]
struct Observed {
    latencies: Vec<Duration>,
    errors: usize,
}

/// Sends `sends` messages one after the other (each after the previous reply), while
/// reading everything; stops once it has seen `expected` `chat.in` events.
async fn participate(
    mut client: Client,
    action: Value,
    sends: usize,
    expected: usize,
    t0: Instant,
) -> anyhow::Result<Observed> {
    let mut observed = Observed::default();
    let mut sent = 0;
    let mut awaiting_reply = false;
    // The text carries its send time, so every recipient can tell the latency.
    let outgoing = |n: usize| {
        let mut frame = action.clone();
        frame["requestId"] = json!(n.to_string());
        frame["data"]["text"] = json!(format!("t{}", now_micros(t0)));
        frame.to_string()
    };
    if sends > 0 {
        client.send_text(outgoing(0)).await?;
        sent = 1;
        awaiting_reply = true;
    }
    let mut received = 0;
    while received < expected || awaiting_reply {
        let frame = client.next_frame().await?;
        match frame["type"].as_str() {
            Some("reply") => {
                awaiting_reply = false;
                if frame["ok"] != true {
                    observed.errors += 1;
                }
                if sent < sends {
                    client.send_text(outgoing(sent)).await?;
                    sent += 1;
                    awaiting_reply = true;
                }
            }
            Some("event") if frame["event"] == "chat.in" => {
                let stamp = frame["data"]["text"]
                    .as_str()
                    .and_then(|t| t.strip_prefix('t'))
                    .and_then(|t| t.parse::<u128>().ok());
                if let Some(sent_at) = stamp {
                    observed.latencies.push(Duration::from_micros((now_micros(t0).saturating_sub(sent_at)) as u64));
                    received += 1;
                }
            }
            _ => {}
        }
    }
    Ok(observed)
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn latency_json(mut latencies: Vec<Duration>) -> Value {
    latencies.sort();
    json!({
        "p50": percentile_ms(&latencies, 0.50),
        "p95": percentile_ms(&latencies, 0.95),
        "p99": percentile_ms(&latencies, 0.99),
        "max": percentile_ms(&latencies, 1.0),
    })
}

/// Fan-out: `members` connected (in the lobby, or in one room), `senders` of them sending.
async fn fan_out(server: &TestServer, members: usize, in_room: bool, quick: bool) -> anyhow::Result<Value> {
    let senders = members.min(5);
    let per_sender = if quick {
        10
    } else if members >= 500 {
        20
    } else {
        50
    };
    let sessions = users(server, members).await?;
    let mut clients = Vec::with_capacity(members);
    for session in &sessions {
        clients.push(Client::connect(server, &session.access).await?);
    }
    if in_room {
        let room = clients[0].ok("room.create", json!({"title": "bench", "capacity": 100})).await?;
        let room_id = room["roomId"].clone();
        for client in clients.iter_mut().skip(1) {
            client.ok("room.join", json!({"roomId": room_id})).await?;
        }
    }
    // Let join and list events settle so they are not read as part of the load.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for client in &mut clients {
        client.clear_events();
    }
    let messages = senders * per_sender;
    let before = metrics(server).await?;
    let t0 = Instant::now();
    let action = json!({"action": "chat.send", "data": {"type": "all"}});
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let sends = if i < senders { per_sender } else { 0 };
            tokio::spawn(participate(client, action.clone(), sends, messages, t0))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let observed = tokio::time::timeout(SCENARIO_DEADLINE, task).await.context("scenario deadline")???;
        latencies.extend(observed.latencies);
        errors += observed.errors;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let after = metrics(server).await?;
    Ok(json!({
        "users": members,
        "messages": messages,
        "deliveries": latencies.len(),
        "seconds": seconds,
        "messagesPerSecond": messages as f64 / seconds,
        "deliveriesPerSecond": latencies.len() as f64 / seconds,
        "latencyMs": latency_json(latencies),
        "errors": errors,
        "perSend": per_send(&before, &after),
    }))
}

/// Two users whisper back and forth; latency is one hop.
async fn whisper(server: &TestServer, quick: bool) -> anyhow::Result<Value> {
    let rounds = if quick { 50 } else { 300 };
    let sessions = users(server, 2).await?;
    let mut a = Client::connect(server, &sessions[0].access).await?;
    let mut b = Client::connect(server, &sessions[1].access).await?;
    let before = metrics(server).await?;
    let mut latencies = Vec::with_capacity(rounds * 2);
    let mut errors = 0;
    let started = Instant::now();
    for round in 0..rounds * 2 {
        let (from, to, to_id) = if round % 2 == 0 {
            (&mut a, &mut b, &sessions[1].user_id)
        } else {
            (&mut b, &mut a, &sessions[0].user_id)
        };
        let text = format!("w{round}");
        let sent = Instant::now();
        let reply = from.request("chat.send", json!({"type": "whisper", "to": to_id, "text": text})).await?;
        if reply["ok"] != true {
            errors += 1;
        }
        to.event_where("chat.in", |m| m["text"] == text.as_str()).await?;
        latencies.push(sent.elapsed());
        from.clear_events();
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = metrics(server).await?;
    Ok(json!({
        "users": 2,
        "messages": rounds * 2,
        "deliveries": latencies.len(),
        "seconds": seconds,
        "messagesPerSecond": (rounds * 2) as f64 / seconds,
        "deliveriesPerSecond": latencies.len() as f64 / seconds,
        "latencyMs": latency_json(latencies),
        "errors": errors,
        "perSend": per_send(&before, &after),
    }))
}

/// Connect, check in, disconnect — one after the other, with a watcher in the lobby.
async fn churn(server: &TestServer, quick: bool) -> anyhow::Result<Value> {
    let cycles = if quick { 50 } else { 300 };
    let sessions = users(server, 2).await?;
    let mut watcher = Client::connect(server, &sessions[0].access).await?;
    let mut latencies = Vec::with_capacity(cycles);
    let started = Instant::now();
    for _ in 0..cycles {
        let began = Instant::now();
        let mut client = Client::connect(server, &sessions[1].access).await?;
        client.ok("ping", json!({})).await?;
        client.close().await?;
        latencies.push(began.elapsed());
        watcher.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
        watcher.clear_events();
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "users": 2,
        "connects": cycles,
        "seconds": seconds,
        "connectsPerSecond": cycles as f64 / seconds,
        "latencyMs": latency_json(latencies),
        "errors": 0,
    }))
}

/// Logins one after the other: the argon2id verification is most of their cost.
async fn login(server: &TestServer, quick: bool) -> anyhow::Result<Value> {
    let count = if quick { 20 } else { 100 };
    let sessions = users(server, 1).await?;
    let mut latencies = Vec::with_capacity(count);
    let mut errors = 0;
    let started = Instant::now();
    for _ in 0..count {
        let began = Instant::now();
        if server.login(&sessions[0].user_id).await.is_err() {
            errors += 1;
        }
        latencies.push(began.elapsed());
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "logins": count,
        "seconds": seconds,
        "loginsPerSecond": count as f64 / seconds,
        "latencyMs": latency_json(latencies),
        "errors": errors,
    }))
}

async fn run(scenario: Scenario, backend: Backend, push: PushMode, quick: bool) -> anyhow::Result<Value> {
    let server = start_server(backend, push).await?;
    let mut figures = match scenario {
        Scenario::Lobby { users } => fan_out(&server, users, false, quick).await?,
        Scenario::Room { members } => fan_out(&server, members, true, quick).await?,
        Scenario::Whisper => whisper(&server, quick).await?,
        Scenario::Churn => churn(&server, quick).await?,
        Scenario::Login => login(&server, quick).await?,
    };
    figures["scenario"] = json!(scenario.name());
    figures["backend"] = json!(backend.name());
    figures["push"] = json!(push_name(push));
    Ok(figures)
}

fn cell(value: &Value, decimals: usize) -> String {
    value.as_f64().map_or_else(|| "-".to_owned(), |f| format!("{f:.decimals$}"))
}

fn print_table(results: &[Value]) {
    println!(
        "{:<10} {:<14} {:<6} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "scenario",
        "backend",
        "push",
        "rate/s",
        "deliv/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "errors",
        "sql",
        "redis",
        "ddb",
        "mgmt"
    );
    for r in results {
        let rate = [&r["messagesPerSecond"], &r["connectsPerSecond"], &r["loginsPerSecond"]]
            .into_iter()
            .find(|v| v.is_number())
            .cloned()
            .unwrap_or(Value::Null);
        println!(
            "{:<10} {:<14} {:<6} {:>9} {:>10} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}",
            r["scenario"].as_str().unwrap_or_default(),
            r["backend"].as_str().unwrap_or_default(),
            r["push"].as_str().unwrap_or_default(),
            cell(&rate, 0),
            cell(&r["deliveriesPerSecond"], 0),
            cell(&r["latencyMs"]["p50"], 2),
            cell(&r["latencyMs"]["p95"], 2),
            cell(&r["latencyMs"]["p99"], 2),
            cell(&r["latencyMs"]["max"], 2),
            r["errors"],
            cell(&r["perSend"]["storeStatements"], 1),
            cell(&r["perSend"]["redisRoundTrips"], 1),
            cell(&r["perSend"]["dynamodbRequests"], 1),
            cell(&r["perSend"]["managementApiCalls"], 1),
        );
    }
    println!(
        "sql, redis, ddb, mgmt: SQL statements, Redis round trips, DynamoDB requests and Management API calls per chat.send"
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let mut results = Vec::new();
    let mut runs: Vec<(Scenario, Backend, PushMode)> = Vec::new();
    for scenario in &options.scenarios {
        for backend in &options.backends {
            for push in &options.pushes {
                // Churn and login push no chat messages: one push mode is enough.
                if matches!(scenario, Scenario::Churn | Scenario::Login) && *push != options.pushes[0] {
                    continue;
                }
                runs.push((*scenario, *backend, *push));
            }
        }
    }
    let total = runs.len();
    for (n, (scenario, backend, push)) in runs.into_iter().enumerate() {
        eprintln!("[{}/{total}] {} on {} (push {}) …", n + 1, scenario.name(), backend.name(), push_name(push));
        let figures = run(scenario, backend, push, options.quick).await.with_context(|| scenario.name())?;
        results.push(figures);
    }
    print_table(&results);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    let machine = json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&json!({ "machine": machine, "results": results }))?)?;
    eprintln!("wrote {}", path.canonicalize().unwrap_or(path).display());
    Ok(())
}
