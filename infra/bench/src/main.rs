//! `chatting-bench`: starts a local gateway per backend, drives it over real WebSockets on
//! 127.0.0.1 and prints what one message costs.
//!
//! ```text
//! cargo run --release -p chatting-bench -- [--backend embedded|mysql|all] [--messages N]
//! ```
//!
//! Round trips are counted on the servers themselves while the bench runs alone: MariaDB's
//! `Questions` status (statements sent by clients) and Redis `MONITOR` lines that came from
//! a client rather than from inside a Lua script.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chatting_e2e::{Client, MYSQL_ADMIN_URL, REDIS_URL, TestServer, fresh_mysql_database};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    MySqlRedis,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "sqlite+memory",
            Backend::MySqlRedis => "mariadb+redis",
        }
    }
}

struct Options {
    backends: Vec<Backend>,
    messages: usize,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options { backends: vec![Backend::Embedded, Backend::MySqlRedis], messages: 1000 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--backend" => {
                options.backends = match args.next().as_deref() {
                    Some("embedded") => vec![Backend::Embedded],
                    Some("mysql") => vec![Backend::MySqlRedis],
                    Some("all") => vec![Backend::Embedded, Backend::MySqlRedis],
                    other => bail!("--backend takes embedded, mysql or all, not {other:?}"),
                }
            }
            "--messages" => options.messages = args.next().context("--messages N")?.parse().context("--messages N")?,
            "--help" | "-h" => {
                println!("usage: chatting-bench [--backend embedded|mysql|all] [--messages N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(options)
}

/// Counts the commands Redis receives from clients (not those a Lua script runs).
struct RedisMonitor {
    client_commands: Arc<AtomicU64>,
}

impl RedisMonitor {
    async fn start() -> anyhow::Result<Self> {
        let address = REDIS_URL.trim_start_matches("redis://");
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(b"MONITOR\r\n").await?;
        let client_commands = Arc::new(AtomicU64::new(0));
        let counter = client_commands.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // `+1700000000.123456 [0 127.0.0.1:50000] "evalsha" …` vs `[0 lua] "sadd" …`
                if line.starts_with('+') && line.contains('"') && !line.contains(" lua] ") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(Self { client_commands })
    }

    fn count(&self) -> u64 {
        self.client_commands.load(Ordering::Relaxed)
    }
}

async fn mysql_questions() -> anyhow::Result<u64> {
    use sqlx::{Connection as _, Row as _};
    let mut connection = sqlx::MySqlConnection::connect(MYSQL_ADMIN_URL).await?;
    let row = sqlx::query("SHOW GLOBAL STATUS LIKE 'Questions'").fetch_one(&mut connection).await?;
    let value: String = row.try_get(1)?;
    connection.close().await?;
    Ok(value.parse()?)
}

/// Round trips to the backends since `start`, for the MariaDB + Redis backend.
struct RoundTrips {
    questions: u64,
    redis: u64,
}

async fn snapshot(monitor: Option<&RedisMonitor>) -> anyhow::Result<Option<RoundTrips>> {
    let Some(monitor) = monitor else { return Ok(None) };
    // Let MONITOR lines of the work just done arrive before reading the count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(Some(RoundTrips { questions: mysql_questions().await?, redis: monitor.count() }))
}

async fn start_server(backend: Backend) -> anyhow::Result<TestServer> {
    let database = match backend {
        Backend::Embedded => None,
        Backend::MySqlRedis => Some(fresh_mysql_database().await?),
    };
    TestServer::start_with(|options| {
        options.config.chat_sends_per_10s = u32::MAX;
        if let Some(database) = database {
            options.config.database_url = database;
            options.config.redis_url = Some(REDIS_URL.to_owned());
        }
    })
    .await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// One sender in the lobby sends, waits for its own `chat.in`, and sends again.
async fn single_sender(backend: Backend, messages: usize) -> anyhow::Result<Value> {
    let server = start_server(backend).await?;
    let (_, mut sender) = server.connected_user("bench").await?;
    let monitor = match backend {
        Backend::MySqlRedis => Some(RedisMonitor::start().await?),
        Backend::Embedded => None,
    };
    for i in 0..20 {
        send_and_receive(&mut sender, &format!("warm-up {i}")).await?;
    }
    let before = snapshot(monitor.as_ref()).await?;
    let mut latencies = Vec::with_capacity(messages);
    let started = Instant::now();
    for i in 0..messages {
        let sent = Instant::now();
        send_and_receive(&mut sender, &format!("message {i}")).await?;
        latencies.push(sent.elapsed());
        if (i + 1) % (messages / 5).max(1) == 0 {
            eprint!("  {}: {}/{} sent\r", backend.name(), i + 1, messages);
        }
    }
    let elapsed = started.elapsed();
    eprintln!();
    let after = snapshot(monitor.as_ref()).await?;
    latencies.sort();
    let per_send = |pick: fn(&RoundTrips) -> u64, own: u64| match (&before, &after) {
        (Some(b), Some(a)) => json!(((pick(a) - pick(b)).saturating_sub(own)) as f64 / messages as f64),
        _ => Value::Null,
    };
    Ok(json!({
        "scenario": "single-sender",
        "backend": backend.name(),
        "messages": messages,
        "seconds": elapsed.as_secs_f64(),
        "messagesPerSecond": messages as f64 / elapsed.as_secs_f64(),
        "latencyMs": {
            "p50": percentile(&latencies, 0.50),
            "p95": percentile(&latencies, 0.95),
            "p99": percentile(&latencies, 0.99),
            "max": percentile(&latencies, 1.0),
        },
        // The snapshot's own SHOW STATUS is one question.
        "sqlStatementsPerSend": per_send(|r| r.questions, 1),
        "redisRoundTripsPerSend": per_send(|r| r.redis, 0),
    }))
}

async fn send_and_receive(client: &mut Client, text: &str) -> anyhow::Result<()> {
    client.ok("chat.send", json!({"type": "all", "text": text})).await?;
    client.event_where("chat.in", |m| m["text"] == text).await?;
    Ok(())
}

fn print_table(results: &[Value]) {
    println!("{:<15} {:<15} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}", "scenario", "backend", "msgs", "msgs/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "sql/msg", "redis/msg");
    for r in results {
        let opt = |v: &Value| v.as_f64().map_or("-".to_owned(), |f| format!("{f:.1}"));
        println!(
            "{:<15} {:<15} {:>8} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>8}",
            r["scenario"].as_str().unwrap_or_default(),
            r["backend"].as_str().unwrap_or_default(),
            r["messages"],
            r["messagesPerSecond"].as_f64().unwrap_or_default(),
            r["latencyMs"]["p50"].as_f64().unwrap_or_default(),
            r["latencyMs"]["p95"].as_f64().unwrap_or_default(),
            r["latencyMs"]["p99"].as_f64().unwrap_or_default(),
            r["latencyMs"]["max"].as_f64().unwrap_or_default(),
            opt(&r["sqlStatementsPerSend"]),
            opt(&r["redisRoundTripsPerSend"]),
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let mut results = Vec::new();
    for backend in &options.backends {
        eprintln!("single-sender on {} …", backend.name());
        results.push(single_sender(*backend, options.messages).await?);
    }
    print_table(&results);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
