//! `load`: the service under the load its users bring, measured from outside.
//!
//! Starts the `chatting` binary (what `cargo run --release` runs, in its default
//! configuration) as its own process, signs N users up, logs them in, connects each to the
//! lobby, and has every user send M messages at R messages/s from a random phase. Every
//! other user timestamps every `chat.in` it receives: latency is receipt minus send on one
//! clock. The server's RSS (after the logins, after the connects, peak) and CPU come from
//! `/proc`.
//!
//! ```text
//! cargo run --release -p chatting-bench --bin load -- [--backend embedded|mysql|all]
//!     [--load 100x10@1] [--load 500x2@0.2] [--server [LABEL=]PATH]... [--label NAME]
//! cargo run --release -p chatting-bench --bin load -- --push-cpu [--calls 10000] [--fanout 10] [--session-token]
//! ```
//!
//! `--push-cpu` measures what Lambda pays per recipient instead: the CPU time one thread
//! spends on `PostToConnection` calls through `aws-sdk-apigatewaymanagement` to the local
//! gateway's Management API endpoint (the gateway, in this process, runs on other threads
//! and is not counted), each event's frame to `--fanout` recipients as a room's fan-out does;
//! `--session-token` signs with a token as long as a Lambda role's.
//!
//! Several `--server LABEL=PATH` (e.g. a build of an earlier commit beside this one) run one
//! after the other under each load, so a comparison comes from one run on one machine.
//!
//! Results: a table on stdout, JSON in `target/bench/load-LABEL.json`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;
use tokio_tungstenite::tungstenite::Message;

// `--push-cpu` measures the calls as the WebSocket functions make them: with their allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long after the last scheduled send the driver waits for missing deliveries.
const GRACE_AFTER_LAST_SEND: Duration = Duration::from_secs(30);

/// Signups and logins in flight at once (each is an argon2 hash on the server).
const AUTH_CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Load {
    users: usize,
    messages_per_user: usize,
    rate_per_user: f64,
}

impl Load {
    fn parse(raw: &str) -> anyhow::Result<Load> {
        let (users, rest) = raw.split_once('x').context("--load USERSxMESSAGES@RATE, e.g. 100x10@1")?;
        let (messages, rate) = rest.split_once('@').context("--load USERSxMESSAGES@RATE, e.g. 100x10@1")?;
        let load = Load { users: users.parse()?, messages_per_user: messages.parse()?, rate_per_user: rate.parse()? };
        if load.users < 2 || load.messages_per_user == 0 || !load.rate_per_user.is_finite() || load.rate_per_user <= 0.0
        {
            bail!("--load {raw}: at least 2 users, 1 message and a positive rate");
        }
        Ok(load)
    }

    fn name(&self) -> String {
        format!("{}x{}@{}", self.users, self.messages_per_user, self.rate_per_user)
    }

    fn expected_deliveries(&self) -> u64 {
        (self.users * self.messages_per_user * (self.users - 1)) as u64
    }
}

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
    loads: Vec<Load>,
    /// Labelled server binaries, each run under every load on every backend.
    servers: Vec<(String, PathBuf)>,
    label: String,
    push_cpu: Option<usize>,
    /// Recipients of each frame in `--push-cpu`: one event goes to everyone in the room.
    fanout: usize,
    /// `--push-cpu` signs with a session token, as a Lambda function's role key comes.
    session_token: bool,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        backends: vec![Backend::Embedded, Backend::MySqlRedis],
        loads: Vec::new(),
        servers: Vec::new(),
        label: "current".into(),
        push_cpu: None,
        fanout: 10,
        session_token: false,
    };
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
            "--load" => options.loads.push(Load::parse(&args.next().context("--load USERSxMESSAGES@RATE")?)?),
            "--server" => {
                let raw = args.next().context("--server [LABEL=]PATH")?;
                let (label, path) = match raw.split_once('=') {
                    Some((label, path)) => (label.to_owned(), path.to_owned()),
                    None => (options.label.clone(), raw),
                };
                options.servers.push((label, PathBuf::from(path)));
            }
            "--label" => options.label = args.next().context("--label NAME")?,
            "--push-cpu" => options.push_cpu = Some(options.push_cpu.unwrap_or(10_000)),
            "--calls" => options.push_cpu = Some(args.next().context("--calls N")?.parse()?),
            "--session-token" => options.session_token = true,
            "--fanout" => {
                options.fanout = args.next().context("--fanout N")?.parse()?;
                if options.fanout == 0 {
                    bail!("--fanout takes a positive number of recipients");
                }
            }
            "--help" | "-h" => {
                println!(
                    "usage: load [--backend embedded|mysql|all] [--load 100x10@1]... [--server [LABEL=]PATH]... [--label NAME]"
                );
                println!("       load --push-cpu [--calls N] [--fanout RECIPIENTS] [--session-token]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if options.loads.is_empty() {
        options.loads = vec![Load::parse("100x10@1")?, Load::parse("500x2@0.2")?];
    }
    if options.servers.is_empty() {
        options.servers.push((options.label.clone(), std::env::current_exe()?.with_file_name("chatting")));
    }
    for (_, server) in &options.servers {
        if options.push_cpu.is_none() && !server.is_file() {
            bail!("no server binary at {} (build it: cargo build --release)", server.display());
        }
    }
    Ok(options)
}

/// The server under test, in its own process.
struct Server {
    child: tokio::process::Child,
    pid: u32,
    http: String,
    ws: String,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Server {
    async fn start(binary: &std::path::Path, backend: Backend, extra_env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let data_dir = std::env::temp_dir().join(chatting_harness::unique("chatting-load-"));
        std::fs::create_dir_all(&data_dir)?;
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CHATTING_DATA_DIR", &data_dir)
            .env("CHATTING_ADDR", "127.0.0.1:0")
            // Every simulated user signs up and logs in from 127.0.0.1, which the
            // per-address limits would take for one address creating accounts and
            // guessing passwords.
            .env("CHATTING_LOGIN_ATTEMPTS_PER_ADDRESS", "1000000")
            .env("CHATTING_SIGNUPS_PER_ADDRESS", "1000000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if backend == Backend::MySqlRedis {
            command
                .env("CHATTING_DATABASE_URL", chatting_harness::fresh_mysql_database().await?)
                .env("CHATTING_REDIS_URL", chatting_harness::REDIS_URL)
                .env("CHATTING_REDIS_PREFIX", chatting_harness::unique("load"));
        }
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let mut child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("server pid")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("http://").nth(1) {
                    return Ok::<_, anyhow::Error>(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
            bail!("the server ended before it listened")
        })
        .await
        .context("the server did not say where it listens within 30 s")??;
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, pid, http: format!("http://{address}"), ws: format!("ws://{address}/ws"), data_dir })
    }

    fn rss_mib(&self) -> f64 {
        status_mib(self.pid, "VmRSS")
    }

    fn peak_rss_mib(&self) -> f64 {
        status_mib(self.pid, "VmHWM")
    }

    /// User plus system CPU seconds the server has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
        (ticks(11) + ticks(12)) as f64 / clock_ticks_per_second()
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// Posts JSON; waits and retries when the server says it is busy (429 with retryAfterMs).
async fn post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    loop {
        let response = http.post(url).body(body.to_string()).send().await?;
        let status = response.status().as_u16();
        let envelope: Value = serde_json::from_str(&response.text().await?)?;
        if status == 429 || status == 503 {
            let wait = envelope["data"]["retryAfterMs"].as_u64().unwrap_or(500);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            continue;
        }
        return Ok((status, envelope));
    }
}

/// Signs up and logs in `count` users; returns their ids and access tokens.
async fn users(server: &Server, count: usize) -> anyhow::Result<Vec<(String, String)>> {
    let http = reqwest::Client::new();
    let run = chatting_harness::unique("");
    let signup_url = format!("{}/auth/signup", server.http);
    let login_url = format!("{}/auth/login", server.http);
    let started = Instant::now();
    let mut done = 0;
    let mut sessions = Vec::with_capacity(count);
    let mut pending = futures::stream::iter((0..count).map(|i| {
        let (http, signup_url, login_url) = (&http, &signup_url, &login_url);
        let user_id = format!("u{i}_{run}").chars().take(30).collect::<String>();
        async move {
            let (status, body) =
                post(http, signup_url, json!({"userId": user_id, "password": "password123", "nick": format!("u{i}")}))
                    .await?;
            anyhow::ensure!(status == 201, "signup answered {status}: {body}");
            let (status, body) = post(http, login_url, json!({"userId": user_id, "password": "password123"})).await?;
            anyhow::ensure!(status == 200, "login answered {status}: {body}");
            let token = body["data"]["accessToken"].as_str().context("accessToken")?.to_owned();
            Ok::<_, anyhow::Error>((user_id, token))
        }
    }))
    .buffer_unordered(AUTH_CONCURRENCY);
    while let Some(session) = pending.next().await {
        sessions.push(session?);
        done += 1;
        if done % 100 == 0 || done == count {
            eprint!("\r    {done}/{count} users signed up and logged in ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    eprintln!();
    Ok(sessions)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What one user saw.
#[derive(Default)]
struct Seen {
    /// Microseconds from send to receipt, one per `chat.in` of another user.
    latencies_us: Vec<u32>,
    errors: u64,
    closed: Option<String>,
}

/// One user: sends on schedule, reads everything, until it has heard every other user's
/// messages or the deadline passes.
async fn user_loop(
    mut socket: Socket,
    me: usize,
    sends_at: Vec<Instant>,
    expected: usize,
    t0: Instant,
    deadline: Instant,
) -> Seen {
    let mut seen = Seen::default();
    let mut next = 0;
    let mut received = 0;
    while received < expected || next < sends_at.len() {
        let wake = sends_at.get(next).copied().unwrap_or(deadline).min(deadline);
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = t0.elapsed().as_micros();
                let frame = json!({"action": "chat.send", "requestId": next.to_string(),
                                   "data": {"type": "all", "text": format!("t{sent} {me}")}});
                if let Err(err) = socket.send(Message::Text(frame.to_string().into())).await {
                    seen.closed = Some(format!("send failed: {err}"));
                    break;
                }
                next += 1;
            }
            message = socket.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => { seen.closed = Some(format!("closed: {frame:?}")); break; }
                    Some(Ok(_)) => continue,
                    Some(Err(err)) => { seen.closed = Some(format!("error: {err}")); break; }
                    None => { seen.closed = Some("ended".into()); break; }
                };
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                match frame["type"].as_str() {
                    Some("reply") if frame["ok"] != true => seen.errors += 1,
                    Some("event") if frame["event"] == "chat.in" => {
                        let Some((stamp, sender)) = frame["data"]["text"].as_str().and_then(|t| t.strip_prefix('t')).and_then(|t| t.split_once(' ')) else { continue };
                        if sender.parse::<usize>().ok() == Some(me) {
                            continue;
                        }
                        if let Ok(sent) = stamp.parse::<u128>() {
                            let latency = t0.elapsed().as_micros().saturating_sub(sent);
                            seen.latencies_us.push(latency.min(u32::MAX as u128) as u32);
                            received += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let _ = socket.close(None).await;
    seen
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

/// A small deterministic generator: phases differ between users, runs repeat exactly.
struct Phases(u64);

impl Phases {
    fn next_fraction(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

async fn run_load(label: &str, binary: &std::path::Path, backend: Backend, load: Load) -> anyhow::Result<Value> {
    let server = Server::start(binary, backend, &[]).await?;
    let rss_at_start = server.rss_mib();
    let sessions = users(&server, load.users).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_logins = server.rss_mib();
    let mut sockets = Vec::with_capacity(load.users);
    for (_, token) in &sessions {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("{}?token={token}", server.ws)).await.context("connect")?;
        sockets.push(socket);
    }
    // The lobby's join events settle before the load starts; they are not measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_connect = server.rss_mib();
    for socket in &mut sockets {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(1), socket.next()).await {}
    }

    let period = Duration::from_secs_f64(1.0 / load.rate_per_user);
    let t0 = Instant::now();
    let start = t0 + Duration::from_millis(200);
    let mut phases = Phases(0x9E37_79B9_7F4A_7C15);
    let last_send = start + period * load.messages_per_user as u32;
    let deadline = last_send + GRACE_AFTER_LAST_SEND;
    let expected_per_user = (load.users - 1) * load.messages_per_user;
    let cpu_before = server.cpu_seconds();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(me, socket)| {
            let phase = period.mul_f64(phases.next_fraction());
            let sends_at = (0..load.messages_per_user).map(|k| start + phase + period * k as u32).collect();
            tokio::spawn(user_loop(socket, me, sends_at, expected_per_user, t0, deadline))
        })
        .collect();
    let peak_rss = Arc::new(std::sync::Mutex::new(rss_after_connect));
    let sampler = {
        let (peak_rss, pid) = (peak_rss.clone(), server.pid);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let rss = status_mib(pid, "VmRSS");
                let mut peak = peak_rss.lock().unwrap_or_else(|p| p.into_inner());
                *peak = peak.max(rss);
            }
        })
    };
    let mut latencies = Vec::with_capacity(load.expected_deliveries() as usize);
    let (mut errors, mut closed) = (0, Vec::new());
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    let mut tasks = futures::stream::iter(tasks).buffer_unordered(usize::MAX);
    loop {
        tokio::select! {
            seen = tasks.next() => {
                let Some(seen) = seen else { break };
                let seen = seen?;
                latencies.extend(seen.latencies_us);
                errors += seen.errors;
                closed.extend(seen.closed);
            }
            _ = progress.tick() => eprint!("\r    sending … {:.0} s of {:.0}", t0.elapsed().as_secs_f64(), (last_send - t0).as_secs_f64()),
        }
    }
    eprintln!();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    sampler.abort();
    let peak_rss_during = *peak_rss.lock().unwrap_or_else(|p| p.into_inner());
    latencies.sort_unstable();
    let delivered = latencies.len() as u64;
    Ok(json!({
        "label": label,
        "backend": backend.name(),
        "load": load.name(),
        "users": load.users,
        "messagesPerUser": load.messages_per_user,
        "ratePerUser": load.rate_per_user,
        "delivered": delivered,
        "expected": load.expected_deliveries(),
        "latencyMs": {
            "p50": percentile_ms(&latencies, 0.50),
            "p99": percentile_ms(&latencies, 0.99),
            "max": percentile_ms(&latencies, 1.0),
        },
        "replyErrors": errors,
        "closedEarly": closed.len(),
        "closeReasons": closed.iter().take(3).collect::<Vec<_>>(),
        "rssMiB": {
            "start": rss_at_start,
            "afterLogins": rss_after_logins,
            "afterConnect": rss_after_connect,
            "peakDuringSends": peak_rss_during,
            "peakOfProcess": server.peak_rss_mib(),
        },
        "serverCpuPercent": 100.0 * cpu / wall,
        "seconds": wall,
    }))
}

/// A memory figure of process `pid` from `/proc/PID/status` (e.g. `VmRSS`), in MiB; 0 when
/// the process is gone.
fn status_mib(pid: u32, field: &str) -> f64 {
    chatting_bench::proc_status_kib(pid, field).unwrap_or(0) as f64 / 1024.0
}

/// CPU per `PostToConnection` through the SDK, on one thread that does nothing else. The
/// gateway runs in this process (on other threads) so that the connection's id is known.
/// Calls go out as a fan-out does: each event's frame to `options.fanout` recipients in a
/// row, then the next event's.
async fn push_cpu(options: &Options, calls: usize) -> anyhow::Result<Value> {
    const WARMING_CALLS: usize = 100;
    const LAMBDA_SESSION_TOKEN_CHARS: usize = 1100;
    let server = chatting_harness::TestServer::start().await?;
    let (_session, client) = server.connected_user("pushcpu").await?;
    let connection = server.gateway.registry.ids().into_iter().next().context("the gateway holds no connection")?;
    let reader = tokio::spawn(client.drain());
    let endpoint = server.http.clone();
    let mut key = server.gateway.management_key.clone();
    if options.session_token {
        // Lambda's role tokens run to about 1,100 characters; every call signs one. The
        // gateway checks tokens only for keys that have one, so it accepts this one unread.
        let token: String = (0..LAMBDA_SESSION_TOKEN_CHARS).map(|i| char::from(b'A' + (i % 26) as u8)).collect();
        key.session_token = Some(chatting_shared::domain::Secret::from_config(token));
    }
    let fanout = options.fanout;
    let frames: Vec<String> = (1..=(WARMING_CALLS + calls).div_ceil(fanout))
        .map(|seq| {
            json!({"type": "event", "event": "chat.in", "data": {"messageId": format!("{seq:016}"), "type": "all",
                "roomId": 0, "from": {"userId": "someone", "nick": "someone"},
                "text": "a typical chat message of some forty characters", "sentAt": "2026-11-29T20:00:00.000Z", "seq": seq}})
            .to_string()
        })
        .collect();
    let measured = std::thread::spawn(move || -> anyhow::Result<(Duration, Duration, Duration, u64)> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // The functions' logging: with no subscriber, every SDK span would be offered to `log`.
        let _logging = tracing::subscriber::set_default(chatting_shared::startup::lambda_subscriber());
        runtime.block_on(async move {
            use chatting_shared::push::{ApiGatewayPusher, Pusher as _};
            let pusher = ApiGatewayPusher::new(&endpoint, key);
            let connection = chatting_shared::domain::ConnectionId::new(connection);
            let frame = |call: usize| frames[call / fanout].as_str();
            // Warm: the connection pool, the signing key, the endpoint resolution.
            for call in 0..WARMING_CALLS {
                pusher.push(&connection, frame(call)).await?;
            }
            let (cpu0, system0, wall0) =
                (chatting_bench::thread_cpu(), chatting_bench::thread_system_cpu(), Instant::now());
            let mut failures = 0;
            for call in WARMING_CALLS..WARMING_CALLS + calls {
                if pusher.push(&connection, frame(call)).await.is_err() {
                    failures += 1;
                }
            }
            let system = chatting_bench::thread_system_cpu().saturating_sub(system0);
            Ok((chatting_bench::thread_cpu() - cpu0, system, wall0.elapsed(), failures))
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the measuring thread panicked"))??;
    let (cpu, system, wall, failures) = measured;
    drop(server);
    reader.abort();
    Ok(json!({
        "label": options.label,
        "calls": calls,
        "fanout": fanout,
        "sessionToken": options.session_token,
        "failures": failures,
        "cpuSeconds": cpu.as_secs_f64(),
        "cpuMicrosPerCall": cpu.as_secs_f64() * 1e6 / calls as f64,
        "kernelMicrosPerCall": system.as_secs_f64() * 1e6 / calls as f64,
        "wallMicrosPerCall": wall.as_secs_f64() * 1e6 / calls as f64,
    }))
}

fn print_load_table(rows: &[Value]) {
    println!(
        "{:<9} {:<14} {:<10} {:>15} {:>9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6}",
        "label",
        "backend",
        "load",
        "delivered",
        "p50 ms",
        "p99 ms",
        "max ms",
        "rss-in",
        "rss-co",
        "rss-pk",
        "hwm",
        "cpu%",
        "errors"
    );
    for r in rows {
        println!(
            "{:<9} {:<14} {:<10} {:>15} {:>9.1} {:>9.1} {:>9.1} {:>7.0} {:>7.0} {:>7.0} {:>7.0} {:>6.0} {:>6}",
            r["label"].as_str().unwrap_or_default(),
            r["backend"].as_str().unwrap_or_default(),
            r["load"].as_str().unwrap_or_default(),
            format!("{}/{}", r["delivered"], r["expected"]),
            r["latencyMs"]["p50"].as_f64().unwrap_or(f64::NAN),
            r["latencyMs"]["p99"].as_f64().unwrap_or(f64::NAN),
            r["latencyMs"]["max"].as_f64().unwrap_or(f64::NAN),
            r["rssMiB"]["afterLogins"].as_f64().unwrap_or(f64::NAN),
            r["rssMiB"]["afterConnect"].as_f64().unwrap_or(f64::NAN),
            r["rssMiB"]["peakDuringSends"].as_f64().unwrap_or(f64::NAN),
            r["rssMiB"]["peakOfProcess"].as_f64().unwrap_or(f64::NAN),
            r["serverCpuPercent"].as_f64().unwrap_or(f64::NAN),
            r["replyErrors"].as_u64().unwrap_or(0) + r["closedEarly"].as_u64().unwrap_or(0),
        );
    }
    println!(
        "rss-in / rss-co / rss-pk: server RSS (MiB) after the logins, after the connects, peak while sending; hwm: the process's peak"
    );
}

fn write_json(name: &str, value: &Value) -> anyhow::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)?)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let machine = json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "arch": std::env::consts::ARCH,
    });
    if let Some(calls) = options.push_cpu {
        let result = push_cpu(&options, calls).await?;
        println!(
            "{:<9} PostToConnection through the SDK, each frame to {}: {:.1} µs CPU per call ({:.1} in the kernel; {:.2} CPU-s per 10,000), {:.1} µs wall, {} failures",
            options.label,
            options.fanout,
            result["cpuMicrosPerCall"].as_f64().unwrap_or(f64::NAN),
            result["kernelMicrosPerCall"].as_f64().unwrap_or(f64::NAN),
            result["cpuMicrosPerCall"].as_f64().unwrap_or(f64::NAN) / 100.0,
            result["wallMicrosPerCall"].as_f64().unwrap_or(f64::NAN),
            result["failures"],
        );
        return write_json(&format!("push-cpu-{}.json", options.label), &json!({"machine": machine, "result": result}));
    }
    let mut rows = Vec::new();
    for backend in &options.backends {
        for load in &options.loads {
            for (label, binary) in &options.servers {
                eprintln!("{} on {} ({label}) …", load.name(), backend.name());
                let row = run_load(label, binary, *backend, *load).await;
                rows.push(row.with_context(|| format!("{} on {} ({label})", load.name(), backend.name()))?);
            }
        }
    }
    print_load_table(&rows);
    write_json(&format!("load-{}.json", options.label), &json!({"machine": machine, "results": rows}))
}
