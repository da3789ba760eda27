//! `cold-start`: how long each function binary takes from process start to its first answer
//! under the Lambda Runtime API emulator of `chatting_e2e::runtime_api`, against MariaDB and
//! Redis on this machine.
//!
//! ```text
//! cargo run -p chatting-bench --bin cold-start -- [--runs N] [--profile release|debug|NAME]
//! ```
//!
//! Each run starts a new process (a new execution environment), queues one realistic first
//! event and measures two things from the moment the process is spawned:
//! - **init**: until the runtime first calls `invocation/next`, i.e. `main` built its clients
//!   (what Lambda reports as Init Duration, minus loading the binary into a microVM);
//! - **first answer**: until the response to that event arrived, i.e. init plus the first
//!   invocation, which opens the database pool and the Redis connection lazily.
//!
//! The binaries are built for this host with the chosen cargo profile (default `release`,
//! what `cargo lambda build --release` uses for arm64); one unmeasured run per function warms
//! the page cache first.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chatting_e2e::runtime_api::{FUNCTIONS, FunctionProcess, Launch, RuntimeApi, events, function_binary};
use chatting_e2e::{REDIS_URL, fresh_mysql_database, unique};
use serde_json::{Value, json};

const JWT_SECRET: &str = "cold-start-bench-secret-of-at-least-32-bytes";
/// Nothing listens here; no measured event pushes to anyone (the bench user is alone).
const MANAGEMENT_ENDPOINT: &str = "http://127.0.0.1:9";

struct Options {
    runs: usize,
    profile: String,
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options { runs: 20, profile: "release".to_owned() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => options.runs = args.next().context("--runs N")?.parse().context("--runs N")?,
            "--profile" => options.profile = args.next().context("--profile NAME")?,
            "--help" | "-h" => {
                println!("usage: cold-start [--runs N] [--profile release|debug|NAME]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if options.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(options)
}

/// What every function of this bench is configured with.
struct Setup {
    database_url: String,
    redis_prefix: String,
}

impl Setup {
    fn env(&self, function: &str) -> Vec<(String, String)> {
        let mut env = vec![
            ("CHATTING_DATABASE_URL", self.database_url.clone()),
            ("CHATTING_JWT_SECRET", JWT_SECRET.to_owned()),
            ("CHATTING_DB_MAX_CONNECTIONS", "2".to_owned()),
            ("CHATTING_REDIS_PREFIX", self.redis_prefix.clone()),
            ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned())),
        ];
        if function.starts_with("ws-") {
            env.push(("CHATTING_REDIS_URL", REDIS_URL.to_owned()));
            env.push(("CHATTING_MANAGEMENT_ENDPOINT", MANAGEMENT_ENDPOINT.to_owned()));
        }
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// A warm instance, for the invocations around the measured ones.
struct Warm {
    process: FunctionProcess,
    runtime: RuntimeApi,
}

impl Warm {
    async fn start(setup: &Setup, profile: &str, function: &str) -> anyhow::Result<Self> {
        let binary = function_binary(function, profile)?;
        let runtime = RuntimeApi::start(function).await?;
        let process = FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env: setup.env(function), capture_stderr: false })?;
        Ok(Self { process, runtime })
    }

    /// Invokes and returns (status, body) of a proxy response.
    async fn call(&self, event: Value) -> anyhow::Result<(i64, Value)> {
        let response = self.runtime.invoke(event).await.with_context(|| format!("invoking {}", self.process.name))?;
        let body = serde_json::from_str(response["body"].as_str().unwrap_or("null"))?;
        Ok((response["statusCode"].as_i64().unwrap_or(0), body))
    }
}

struct Sample {
    init: Duration,
    first_answer: Duration,
}

/// One cold start: a new process, one event, both durations.
async fn cold_start(setup: &Setup, profile: &str, function: &str, event: Value) -> anyhow::Result<(Sample, Value)> {
    let binary = function_binary(function, profile)?;
    let runtime = RuntimeApi::start(function).await?;
    // Queued before the process exists: the first `next` gets it at once.
    let answer = runtime.enqueue(event);
    let process = FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env: setup.env(function), capture_stderr: false })?;
    let outcome = tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .with_context(|| format!("{function} gave no answer within 30 s"))?
        .with_context(|| format!("{function} dropped the invocation"))?;
    let answered = Instant::now();
    let response = outcome.response()?;
    let ready = runtime.first_next().context("answered without calling next")?;
    let sample = Sample { init: ready - process.started, first_answer: answered - process.started };
    drop(process);
    Ok((sample, response))
}

/// The warm instances that prepare and clean up around a measured cold start.
struct Helpers {
    connect: Warm,
    disconnect: Warm,
    token: String,
}

impl Helpers {
    /// A new connection of the bench user, registered by the warm `ws-connect`.
    async fn connection(&self) -> anyhow::Result<(String, i64)> {
        let connection = events::connection_id();
        let at = events::now_ms();
        let (status, body) = self.connect.call(events::ws_connect(&connection, Some(&self.token))).await?;
        if status != 200 {
            bail!("$connect answered {status}: {body}");
        }
        Ok((connection, at))
    }

    async fn forget(&self, connection: &str, at: i64) -> anyhow::Result<()> {
        self.disconnect.call(events::ws_disconnect(connection, at)).await?;
        Ok(())
    }
}

/// The realistic first event each function is measured with.
fn first_event(function: &str) -> &'static str {
    match function {
        "auth-http" => "GET /auth/me with a bearer token",
        "ws-connect" => "$connect with a valid ?token=",
        "ws-message" => "$default user.me",
        "ws-disconnect" => "$disconnect of a connected user",
        _ => "",
    }
}

async fn measure(setup: &Setup, profile: &str, function: &str, helpers: &Helpers) -> anyhow::Result<Sample> {
    match function {
        "auth-http" => {
            let event = events::http("GET", "/auth/me", None, Some(&helpers.token));
            let (sample, response) = cold_start(setup, profile, function, event).await?;
            expect_status(function, &response, 200)?;
            Ok(sample)
        }
        "ws-connect" => {
            let connection = events::connection_id();
            let at = events::now_ms();
            let event = events::ws_connect(&connection, Some(&helpers.token));
            let (sample, response) = cold_start(setup, profile, function, event).await?;
            expect_status(function, &response, 200)?;
            helpers.forget(&connection, at).await?;
            Ok(sample)
        }
        "ws-message" => {
            let (connection, at) = helpers.connection().await?;
            let frame = json!({ "action": "user.me", "requestId": "1" }).to_string();
            let (sample, response) = cold_start(setup, profile, function, events::ws_message(&connection, at, &frame)).await?;
            if !response["body"].as_str().is_some_and(|b| b.contains("\"ok\":true")) {
                bail!("user.me failed: {response}");
            }
            helpers.forget(&connection, at).await?;
            Ok(sample)
        }
        "ws-disconnect" => {
            let (connection, at) = helpers.connection().await?;
            let (sample, response) = cold_start(setup, profile, function, events::ws_disconnect(&connection, at)).await?;
            expect_status(function, &response, 200)?;
            Ok(sample)
        }
        other => bail!("no first event for {other}"),
    }
}

fn expect_status(function: &str, response: &Value, status: i64) -> anyhow::Result<()> {
    if response["statusCode"] != status {
        bail!("{function} answered {response}, expected status {status}");
    }
    Ok(())
}

struct Report {
    function: &'static str,
    event: &'static str,
    size: u64,
    samples: Vec<Sample>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, min, max) in milliseconds.
fn stats(mut values: Vec<Duration>) -> (f64, f64, f64) {
    values.sort();
    let n = values.len();
    let median = if n % 2 == 1 { millis(values[n / 2]) } else { (millis(values[n / 2 - 1]) + millis(values[n / 2])) / 2.0 };
    (median, millis(values[0]), millis(values[n - 1]))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let profile = options.profile.as_str();
    for function in FUNCTIONS {
        function_binary(function, profile)?;
    }
    let setup = Setup { database_url: fresh_mysql_database().await?, redis_prefix: unique("cold") };

    // A user, signed up and logged in through a warm auth-http (which also migrates the database).
    let auth = Warm::start(&setup, profile, "auth-http").await?;
    let user = unique("cold");
    let signup = json!({ "userId": user, "password": "password123", "nick": "cold" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    if status != 201 {
        bail!("signup answered {status}: {body}");
    }
    let login = json!({ "userId": user, "password": "password123" }).to_string();
    let (_, body) = auth.call(events::http("POST", "/auth/login", Some(&login), None)).await?;
    let token = body["data"]["accessToken"].as_str().context("no accessToken")?.to_owned();
    drop(auth);
    let connect = Warm::start(&setup, profile, "ws-connect").await?;
    let disconnect = Warm::start(&setup, profile, "ws-disconnect").await?;

    let helpers = Helpers { connect, disconnect, token };
    let mut reports = Vec::new();
    for function in FUNCTIONS {
        let size = std::fs::metadata(function_binary(function, profile)?)?.len();
        let mut samples = Vec::new();
        // Run 0 warms the page cache and is not counted.
        for run in 0..=options.runs {
            let sample = measure(&setup, profile, function, &helpers).await?;
            if run > 0 {
                samples.push(sample);
            }
        }
        reports.push(Report { function, event: first_event(function), size, samples });
    }

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "cold start of the function binaries under the Runtime API emulator: {} runs each, profile `{profile}`, {} on {cpus} CPU(s) ({})",
        options.runs,
        std::env::consts::ARCH,
        cpu_model()
    );
    println!("MariaDB and Redis on 127.0.0.1; times from spawning the process, in ms\n");
    println!(
        "{:<14} {:>9}  {:>24}  {:>24}  first event",
        "function", "binary", "init median (min–max)", "answer median (min–max)"
    );
    for report in &reports {
        let (im, imin, imax) = stats(report.samples.iter().map(|s| s.init).collect());
        let (am, amin, amax) = stats(report.samples.iter().map(|s| s.first_answer).collect());
        println!(
            "{:<14} {:>6.1} MB  {:>7.1} ({:>6.1}–{:>6.1})  {:>7.1} ({:>6.1}–{:>6.1})  {}",
            report.function,
            report.size as f64 / 1_000_000.0,
            im,
            imin,
            imax,
            am,
            amin,
            amax,
            report.event
        );
    }
    Ok(())
}
