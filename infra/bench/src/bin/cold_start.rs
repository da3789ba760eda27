//! `cold-start`: how long each function binary takes from process start to its first answer
//! under the Lambda Runtime API emulator of `infra/lambda-runtime-emulator`, against MariaDB and
//! Redis on this machine.
//!
//! ```text
//! cargo run -p chatting-bench --bin cold-start -- [--runs N] [--profile release|debug|NAME]
//!     [--storage-profile mysql-redis]
//! ```
//!
//! Each run starts a new process (a new execution environment), queues one realistic first
//! event and measures from the moment the process is spawned:
//! - **init**: until the runtime first calls `invocation/next`, i.e. `main` built its clients
//!   (Lambda's Init Duration, minus loading the binary into a microVM);
//! - **first**: until the answer to that event, i.e. init plus the first invocation, which
//!   also pays what is built lazily or finished in the background (the database connection
//!   and schema check, the Redis connection);
//! - **warm**: a second event of the same kind on the same instance, for comparison.
//!
//! The binaries are built for this host with the chosen cargo profile (default `release`, the
//! one `cargo lambda build --release` uses for arm64) and the function crates' default
//! features (both storage profiles, what `sam build` makes), or with `--storage-profile
//! mysql-redis` the one that runs here alone; one unmeasured run per row warms the page cache
//! first.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chatting_harness::{REDIS_URL, fresh_mysql_database, unique};
use chatting_lambda_runtime_emulator::{FUNCTIONS, FunctionProcess, Launch, RuntimeApi, events, function_binary_for};
use serde_json::{Value, json};

const JWT_SECRET: &str = "cold-start-bench-secret-of-at-least-32-bytes";
/// Nothing listens here; no measured event pushes to anyone (the bench user is alone).
const MANAGEMENT_ENDPOINT: &str = "http://127.0.0.1:9";

struct Options {
    runs: usize,
    build: Build,
}

/// How the measured binaries are built: cargo profile, and the storage profile whose features
/// alone they carry (`None`: the defaults, both).
struct Build {
    profile: String,
    storage_profile: Option<String>,
}

impl Build {
    fn binary(&self, function: &str) -> anyhow::Result<std::path::PathBuf> {
        function_binary_for(function, &self.profile, self.storage_profile.as_deref())
    }
}

const USAGE: &str = "usage: cold-start [--runs N] [--profile release|debug|NAME] [--storage-profile mysql-redis]";

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options { runs: 20, build: Build { profile: "release".to_owned(), storage_profile: None } };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => options.runs = args.next().context("--runs N")?.parse().context("--runs N")?,
            "--profile" => options.build.profile = args.next().context("--profile NAME")?,
            // This bench runs against MariaDB and Redis: the one storage profile it can start.
            "--storage-profile" => match args.next().as_deref() {
                Some("mysql-redis") => options.build.storage_profile = Some("mysql-redis".to_owned()),
                _ => bail!("--storage-profile mysql-redis (the profile this bench's backends serve)"),
            },
            "--help" | "-h" => {
                println!("{USAGE}");
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
            ("CHATTING_REDIS_URL", REDIS_URL.to_owned()),
            ("CHATTING_REDIS_PREFIX", self.redis_prefix.clone()),
            ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned())),
        ];
        if function.starts_with("ws-") {
            env.push(("CHATTING_MANAGEMENT_ENDPOINT", MANAGEMENT_ENDPOINT.to_owned()));
        }
        if function == "auth-http" {
            // Every run logs the bench user in twice; the per-user limit is for guessers.
            env.push(("CHATTING_LOGIN_ATTEMPTS_PER_USER", "100000".to_owned()));
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
    async fn start(setup: &Setup, build: &Build, function: &str) -> anyhow::Result<Self> {
        let binary = build.binary(function)?;
        let runtime = RuntimeApi::start(function).await?;
        let process = FunctionProcess::start(Launch {
            binary: &binary,
            runtime: &runtime,
            env: setup.env(function),
            capture_output: false,
        })?;
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
    warm_answer: Duration,
    /// The process's peak resident memory after both answers (Linux `VmHWM`), in KiB.
    peak_rss_kib: Option<u64>,
}

/// A function that was just started cold and has answered its first event.
struct Cold {
    process: FunctionProcess,
    runtime: RuntimeApi,
    init: Duration,
    first_answer: Duration,
}

impl Cold {
    /// Starts `function` and times it until the answer to `event`, queued before the process
    /// exists so that the first `invocation/next` gets it at once.
    async fn start(setup: &Setup, build: &Build, function: &str, event: Value) -> anyhow::Result<(Self, Value)> {
        let binary = build.binary(function)?;
        let runtime = RuntimeApi::start(function).await?;
        let answer = runtime.enqueue(event);
        let process = FunctionProcess::start(Launch {
            binary: &binary,
            runtime: &runtime,
            env: setup.env(function),
            capture_output: false,
        })?;
        let outcome = tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .with_context(|| format!("{function} gave no answer within 30 s"))?
            .with_context(|| format!("{function} dropped the invocation"))?;
        let answered = Instant::now();
        let response = outcome.response()?;
        let ready = runtime.first_next().context("answered without calling next")?;
        let cold = Self { init: ready - process.started, first_answer: answered - process.started, process, runtime };
        Ok((cold, response))
    }

    /// The same instance, warm: the time from queueing `event` to its answer.
    async fn warm(self, event: Value) -> anyhow::Result<(Sample, Value)> {
        let queued = Instant::now();
        let response = self.runtime.invoke(event).await.with_context(|| format!("warm {}", self.process.name))?;
        let warm_answer = queued.elapsed();
        let sample = Sample {
            init: self.init,
            first_answer: self.first_answer,
            warm_answer,
            peak_rss_kib: chatting_bench::proc_status_kib(self.process.id(), "VmHWM"),
        };
        Ok((sample, response))
    }
}

fn expect_status(function: &str, response: &Value, status: i64) -> anyhow::Result<()> {
    if response["statusCode"] != status {
        bail!("{function} answered {response}, expected status {status}");
    }
    Ok(())
}

/// The JSON body of a proxy response.
fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or_default()
}

/// The warm instances and the session that prepare and clean up around a measured cold start.
struct Helpers {
    connect: Warm,
    disconnect: Warm,
    access: String,
    /// Refresh tokens are single use: each refresh hands over the next one.
    refresh: String,
    /// The bench user's `POST /auth/login` body.
    login: String,
}

impl Helpers {
    /// A new connection of the bench user, registered by the warm `ws-connect`.
    async fn connection(&self) -> anyhow::Result<(String, i64)> {
        let connection = events::connection_id();
        let at = events::now_ms();
        let (status, body) = self.connect.call(events::ws_connect(&connection, Some(&self.access))).await?;
        if status != 200 {
            bail!("$connect answered {status}: {body}");
        }
        Ok((connection, at))
    }

    async fn forget(&self, connection: &str, at: i64) -> anyhow::Result<()> {
        self.disconnect.call(events::ws_disconnect(connection, at)).await?;
        Ok(())
    }

    /// A refresh of the current token; `answered` keeps the one it returns.
    fn refresh_event(&self) -> Value {
        events::http("POST", "/auth/refresh", Some(&json!({ "refreshToken": self.refresh }).to_string()), None)
    }

    fn answered(&mut self, response: &Value) -> anyhow::Result<()> {
        expect_status("auth-http", response, 200)?;
        self.refresh = body(response)["data"]["refreshToken"].as_str().context("no refreshToken")?.to_owned();
        Ok(())
    }
}

/// What is measured: a function and the first event of its new instance.
#[derive(Clone, Copy)]
enum Case {
    Me,
    Refresh,
    Login,
    Connect,
    Message,
    Disconnect,
}

impl Case {
    const ALL: [Case; 6] = [Case::Me, Case::Refresh, Case::Login, Case::Connect, Case::Message, Case::Disconnect];

    fn function(self) -> &'static str {
        match self {
            Case::Me | Case::Refresh | Case::Login => "auth-http",
            Case::Connect => "ws-connect",
            Case::Message => "ws-message",
            Case::Disconnect => "ws-disconnect",
        }
    }

    fn event(self) -> &'static str {
        match self {
            Case::Me => "GET /auth/me with a bearer token",
            Case::Refresh => "POST /auth/refresh (token rotation)",
            Case::Login => "POST /auth/login (an argon2id verification)",
            Case::Connect => "$connect with a valid ?token=",
            Case::Message => "$default user.me",
            Case::Disconnect => "$disconnect of a connected user",
        }
    }

    /// One cold start and one warm invocation of the same kind.
    async fn measure(self, setup: &Setup, build: &Build, helpers: &mut Helpers) -> anyhow::Result<Sample> {
        let function = self.function();
        match self {
            Case::Me => {
                let me = || events::http("GET", "/auth/me", None, Some(&helpers.access));
                let (cold, response) = Cold::start(setup, build, function, me()).await?;
                expect_status(function, &response, 200)?;
                let (sample, response) = cold.warm(me()).await?;
                expect_status(function, &response, 200)?;
                Ok(sample)
            }
            Case::Refresh => {
                let (cold, response) = Cold::start(setup, build, function, helpers.refresh_event()).await?;
                helpers.answered(&response)?;
                let (sample, response) = cold.warm(helpers.refresh_event()).await?;
                helpers.answered(&response)?;
                Ok(sample)
            }
            Case::Login => {
                let login = || events::http("POST", "/auth/login", Some(&helpers.login), None);
                let (cold, response) = Cold::start(setup, build, function, login()).await?;
                expect_status(function, &response, 200)?;
                let (sample, response) = cold.warm(login()).await?;
                expect_status(function, &response, 200)?;
                Ok(sample)
            }
            Case::Connect => {
                let (first, second) = (events::connection_id(), events::connection_id());
                let at = events::now_ms();
                let (cold, response) =
                    Cold::start(setup, build, function, events::ws_connect(&first, Some(&helpers.access))).await?;
                expect_status(function, &response, 200)?;
                let (sample, response) = cold.warm(events::ws_connect(&second, Some(&helpers.access))).await?;
                expect_status(function, &response, 200)?;
                helpers.forget(&first, at).await?;
                helpers.forget(&second, at).await?;
                Ok(sample)
            }
            Case::Message => {
                let (connection, at) = helpers.connection().await?;
                let me = || {
                    events::ws_message(&connection, at, &json!({ "action": "user.me", "requestId": "1" }).to_string())
                };
                let (cold, response) = Cold::start(setup, build, function, me()).await?;
                if body(&response)["ok"] != true {
                    bail!("user.me failed: {response}");
                }
                let (sample, _) = cold.warm(me()).await?;
                helpers.forget(&connection, at).await?;
                Ok(sample)
            }
            Case::Disconnect => {
                let (first, at) = helpers.connection().await?;
                let (second, _) = helpers.connection().await?;
                let (cold, response) = Cold::start(setup, build, function, events::ws_disconnect(&first, at)).await?;
                expect_status(function, &response, 200)?;
                let (sample, response) = cold.warm(events::ws_disconnect(&second, at)).await?;
                expect_status(function, &response, 200)?;
                Ok(sample)
            }
        }
    }
}

struct Report {
    case: Case,
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
    let median =
        if n % 2 == 1 { millis(values[n / 2]) } else { (millis(values[n / 2 - 1]) + millis(values[n / 2])) / 2.0 };
    (median, millis(values[0]), millis(values[n - 1]))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args()?;
    let build = &options.build;
    let profile = build.profile.as_str();
    for function in FUNCTIONS {
        build.binary(function)?;
    }
    let setup = Setup { database_url: fresh_mysql_database().await?, redis_prefix: unique("cold") };

    // A user, signed up and logged in through a warm auth-http (which also migrates the database).
    let auth = Warm::start(&setup, build, "auth-http").await?;
    let user = unique("cold");
    let signup = json!({ "userId": user, "password": "password123", "nick": "cold" }).to_string();
    let (status, answer) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    if status != 201 {
        bail!("signup answered {status}: {answer}");
    }
    let login = json!({ "userId": user, "password": "password123" }).to_string();
    let (status, answer) = auth.call(events::http("POST", "/auth/login", Some(&login), None)).await?;
    if status != 200 {
        bail!("login answered {status}: {answer}");
    }
    let token =
        |name: &str| answer["data"][name].as_str().map(str::to_owned).with_context(|| format!("no {name}: {answer}"));
    let (access, refresh) = (token("accessToken")?, token("refreshToken")?);
    drop(auth);
    let connect = Warm::start(&setup, build, "ws-connect").await?;
    let disconnect = Warm::start(&setup, build, "ws-disconnect").await?;
    let mut helpers = Helpers { connect, disconnect, access, refresh, login };

    let mut reports = Vec::new();
    for case in Case::ALL {
        let size = std::fs::metadata(build.binary(case.function())?)?.len();
        let mut samples = Vec::new();
        // Run 0 warms the page cache and is not counted.
        for run in 0..=options.runs {
            let sample = case.measure(&setup, build, &mut helpers).await?;
            if run > 0 {
                samples.push(sample);
            }
        }
        reports.push(Report { case, size, samples });
    }

    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "Cold start under the Lambda Runtime API emulator: {} runs per row, profile `{profile}`, storage profiles {}, {} with {cpus} CPU(s) ({}),",
        options.runs,
        build.storage_profile.as_deref().unwrap_or("both"),
        std::env::consts::ARCH,
        cpu_model()
    );
    println!("MariaDB and Redis on 127.0.0.1. Milliseconds, median (min-max):");
    println!("  init   = process start -> first `invocation/next` (clients built in main)");
    println!("  first  = process start -> answer to the first event (init + first invocation)");
    println!("  warm   = a second event of the same kind on that instance, queued -> answered");
    println!("  peak   = the instance's peak resident memory after both (VmHWM), median\n");
    println!(
        "{:<14} {:>8}  {:<22} {:<22} {:<22} {:>8}  first event",
        "function", "binary", "init", "first", "warm", "peak"
    );
    let cell = |values: Vec<Duration>| {
        let (median, min, max) = stats(values);
        format!("{median:>6.1} ({min:>5.1}-{max:>5.1})")
    };
    for report in &reports {
        let mut peaks: Vec<u64> = report.samples.iter().filter_map(|s| s.peak_rss_kib).collect();
        peaks.sort_unstable();
        let peak = peaks
            .get(peaks.len() / 2)
            .map_or_else(|| "n/a".to_owned(), |kib| format!("{:.1} MiB", *kib as f64 / 1024.0));
        println!(
            "{:<14} {:>5.1} MB  {:<22} {:<22} {:<22} {:>8}  {}",
            report.case.function(),
            report.size as f64 / 1_000_000.0,
            cell(report.samples.iter().map(|s| s.init).collect()),
            cell(report.samples.iter().map(|s| s.first_answer).collect()),
            cell(report.samples.iter().map(|s| s.warm_answer).collect()),
            peak,
            report.case.event()
        );
    }
    Ok(())
}
