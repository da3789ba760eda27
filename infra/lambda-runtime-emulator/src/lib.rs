//! A small emulator of the [Lambda Runtime API] and a launcher for the real function
//! binaries, so tests and benchmarks can run `auth-http`, `ws-connect`, … exactly as Lambda
//! runs a `provided.al2023` `bootstrap`: a child process with `AWS_LAMBDA_RUNTIME_API` set,
//! which builds its clients once (cold start) and then loops on `invocation/next`.
//!
//! - [`RuntimeApi`]: `GET /2018-06-01/runtime/invocation/next` answers one queued event (and
//!   waits while there is none), `POST …/invocation/{id}/response` and `…/{id}/error` complete
//!   it, `POST …/init/error` records a failed cold start.
//! - [`FunctionProcess`]: one function binary running against a [`RuntimeApi`]; killed (and
//!   reaped) when dropped, so no test leaves a process behind.
//! - [`function_binary`]: a function's binary, built for this host if cargo has not yet
//!   ([`function_binary_for`]: built for one storage profile).
//! - [`events`]: API Gateway's events for the functions, with fresh ids and times.
//!
//! [Lambda Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

pub mod events;

/// The four function binaries of the workspace, as cargo names them.
pub const FUNCTIONS: [&str; 4] = ["auth-http", "ws-connect", "ws-disconnect", "ws-message"];

/// The command that builds the function binaries next to the tests' own.
pub const BUILD_FUNCTIONS: &str = "cargo build -p auth-http -p ws-connect -p ws-disconnect -p ws-message";

/// Lambda's answer to one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST …/response`: the handler's return value (JSON for every function here).
    Response(Value),
    /// `POST …/error`: `Lambda-Runtime-Function-Error-Type` and the diagnostic body.
    Error { error_type: Option<String>, body: Value },
}

impl Outcome {
    /// The response, or an error naming what the function reported instead.
    pub fn response(self) -> anyhow::Result<Value> {
        match self {
            Outcome::Response(value) => Ok(value),
            Outcome::Error { error_type, body } => bail!("the function reported an error {error_type:?}: {body}"),
        }
    }
}

/// What a runtime posted to `/runtime/init/error`.
#[derive(Debug, Clone)]
pub struct InitError {
    pub error_type: Option<String>,
    pub body: Value,
}

struct Invocation {
    request_id: String,
    event: Value,
    done: oneshot::Sender<Outcome>,
}

struct Shared {
    function_name: String,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Invocations handed out by `next` and not answered yet, by request id.
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: watch::Sender<Option<InitError>>,
    /// When the runtime first asked for work: the end of its cold start.
    first_next: watch::Sender<Option<Instant>>,
    next_calls: AtomicU64,
}

/// One emulated Runtime API endpoint: in Lambda each execution environment has its own.
pub struct RuntimeApi {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    enqueue: mpsc::UnboundedSender<Invocation>,
    next_request: AtomicU64,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Not a graceful shutdown: a runtime blocked in `next` would hold it open forever.
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn epoch_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

/// How long an invocation may run, as `Lambda-Runtime-Deadline-Ms` tells the function.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

impl RuntimeApi {
    /// Serves the Runtime API on `127.0.0.1:0` for a function named `function_name`.
    pub async fn start(function_name: &str) -> anyhow::Result<Self> {
        let (enqueue, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_name: function_name.to_owned(),
            queue: tokio::sync::Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
            first_next: watch::channel(None).0,
            next_calls: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { address, shared, enqueue, next_request: AtomicU64::new(0), server })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`: `host:port`, no scheme.
    pub fn endpoint(&self) -> String {
        self.address.to_string()
    }

    /// Queues an event; the receiver yields the function's answer.
    pub fn enqueue(&self, event: Value) -> oneshot::Receiver<Outcome> {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let request_id = format!("8476a536-e9f4-11e8-9739-{:04x}{:08x}", n & 0xffff, nanos);
        let (done, answer) = oneshot::channel();
        // The receiver lives in `shared`, which `self` keeps: sending cannot fail.
        let _ = self.enqueue.send(Invocation { request_id, event, done });
        answer
    }

    /// Invokes the function with `event` and waits (at most `within`) for its answer.
    pub async fn invoke_within(&self, event: Value, within: Duration) -> anyhow::Result<Outcome> {
        let answer = self.enqueue(event);
        tokio::time::timeout(within, answer)
            .await
            .map_err(|_| anyhow!("{} did not answer within {within:?}", self.shared.function_name))?
            .map_err(|_| anyhow!("{}: the invocation was dropped unanswered", self.shared.function_name))
    }

    /// Invokes the function and returns its response (an error if it reported one); waits as
    /// long as Lambda would let it run.
    pub async fn invoke(&self, event: Value) -> anyhow::Result<Value> {
        self.invoke_within(event, FUNCTION_TIMEOUT).await?.response()
    }

    /// What the runtime reported to `/runtime/init/error`, if anything yet.
    pub fn init_error(&self) -> Option<InitError> {
        self.shared.init_error.borrow().clone()
    }

    /// Waits (at most `within`) for an init error report.
    pub async fn wait_init_error(&self, within: Duration) -> Option<InitError> {
        let mut reports = self.shared.init_error.subscribe();
        tokio::time::timeout(within, reports.wait_for(Option::is_some)).await.ok()?.ok()?.clone()
    }

    /// When the runtime first called `invocation/next`, i.e. finished its cold start.
    pub fn first_next(&self) -> Option<Instant> {
        *self.shared.first_next.borrow()
    }

    /// Waits (at most `within`) for the first `invocation/next`.
    /// Waits (at most `within`) until the function has asked for `calls` events in all: it
    /// has answered `calls - 1` and is waiting for the next.
    pub async fn wait_next_calls(&self, calls: u64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.next_calls() < calls && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_first_next(&self, within: Duration) -> Option<Instant> {
        let mut calls = self.shared.first_next.subscribe();

        *tokio::time::timeout(within, calls.wait_for(Option::is_some)).await.ok()?.ok()?
    }

    /// How many times the runtime has asked for an event.
    pub fn next_calls(&self) -> u64 {
        self.shared.next_calls.load(Ordering::Relaxed)
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.next_calls.fetch_add(1, Ordering::Relaxed);
    shared.first_next.send_if_modified(|first| {
        let unset = first.is_none();
        if unset {
            *first = Some(Instant::now());
        }
        unset
    });
    // Blocks while the queue is empty, as Lambda does between invocations. `recv` is
    // cancel-safe: a runtime that goes away while waiting loses no event.
    let Some(invocation) = shared.queue.lock().await.recv().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let deadline = epoch_ms(SystemTime::now() + FUNCTION_TIMEOUT);
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", shared.function_name);
    let trace = format!(
        "Root=1-{:08x}-{:0>24};Parent=53995c3f42cd8ad8;Sampled=0",
        deadline / 1000,
        &invocation.request_id[24..]
    );
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set("lambda-runtime-deadline-ms", &deadline.to_string());
    set("lambda-runtime-invoked-function-arn", &arn);
    set("lambda-runtime-trace-id", &trace);
    let body = invocation.event.to_string();
    lock(&shared.in_flight).insert(invocation.request_id, invocation.done);
    (StatusCode::OK, headers, body).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

fn unknown_request(id: &str) -> Response {
    let body = json!({ "errorMessage": format!("unknown request id {id}"), "errorType": "InvalidRequestID" });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// A body as JSON, or as a JSON string when it is not JSON.
fn json_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn respond(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> Response {
    let Some(done) = lock(&shared.in_flight).remove(&id) else { return unknown_request(&id) };
    let _ = done.send(Outcome::Response(json_body(&body)));
    accepted()
}

async fn fail(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(done) = lock(&shared.in_flight).remove(&id) else { return unknown_request(&id) };
    let _ = done.send(Outcome::Error { error_type: error_type(&headers), body: json_body(&body) });
    accepted()
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.init_error.send_replace(Some(InitError { error_type: error_type(&headers), body: json_body(&body) }));
    accepted()
}

/// The workspace's target directory: `CARGO_TARGET_DIR` when set, else `target/` at the root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace_root().join(dir) }
        }
        _ => workspace_root().join("target"),
    }
}

/// Two levels above this crate (`infra/lambda-runtime-emulator`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).map(Path::to_path_buf).unwrap_or_default()
}

/// The command that builds the function binaries for `profile` (`debug` is cargo's `dev`),
/// with the function crates' default features (both storage profiles) or one storage
/// profile's alone.
pub fn build_command(profile: &str, storage_profile: Option<&str>) -> String {
    let command = std::iter::once(BUILD_FUNCTIONS.to_owned()).chain(build_flags(profile, storage_profile));
    let command = command.collect::<Vec<_>>().join(" ");
    if profile == "release" { format!("(cd functions && {command})") } else { command }
}

/// What follows `cargo build -p …` for `profile` and the storage profile.
fn build_flags(profile: &str, storage_profile: Option<&str>) -> Vec<String> {
    let mut flags = match profile {
        "debug" => vec![],
        "release" => vec!["--release".to_owned()],
        other => vec!["--profile".to_owned(), other.to_owned()],
    };
    if let Some(only) = storage_profile {
        flags.extend(["--no-default-features".to_owned(), "--features".to_owned(), only.to_owned()]);
    }
    flags
}

/// Builds the four function binaries for `profile` (once per process) and returns the path of
/// `name` under `target/{profile}/`.
///
/// `cargo test` and `cargo nextest run` build the binaries of the package under test only,
/// never another package's, so the tests build the function binaries themselves. Selecting
/// just the four packages gives them the features `cargo lambda build` gives them (no SQLite,
/// no in-process presence), built for this host. When cargo has nothing to do this takes
/// about a second.
pub fn function_binary(name: &str, profile: &str) -> anyhow::Result<PathBuf> {
    function_binary_for(name, profile, None)
}

/// [`function_binary`] built with one storage profile's features alone (`dynamodb`,
/// `mysql-redis`), as `scripts/lambda-build --storage-profile` builds it; `None` for the
/// defaults. Both kinds are written to the same place, so a process gets one kind per cargo
/// profile and is refused the other.
pub fn function_binary_for(name: &str, profile: &str, storage_profile: Option<&str>) -> anyhow::Result<PathBuf> {
    static BUILT: Mutex<Vec<(String, Option<String>)>> = Mutex::new(Vec::new());
    let mut built = lock(&BUILT);
    match built.iter().find(|(p, _)| p == profile) {
        Some((_, kind)) if kind.as_deref() == storage_profile => {}
        Some((_, kind)) => bail!(
            "the {profile} function binaries of this process were built for storage profile {}, not {}",
            kind.as_deref().unwrap_or("both"),
            storage_profile.unwrap_or("both")
        ),
        None => {
            build_functions(profile, storage_profile)?;
            built.push((profile.to_owned(), storage_profile.map(str::to_owned)));
        }
    }
    let path = target_dir().join(profile).join(name);
    if !path.is_file() {
        bail!("{} does not exist after `{}`", path.display(), build_command(profile, storage_profile));
    }
    Ok(path)
}

fn build_functions(profile: &str, storage_profile: Option<&str>) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut command = Command::new(&cargo);
    // From functions/, as `sam build` runs it: there `--release` is the Lambda profile
    // (functions/.cargo/config.toml), so release figures are those of what ships.
    command.current_dir(workspace_root().join("functions"));
    command.arg("build").arg("--manifest-path").arg(workspace_root().join("Cargo.toml"));
    for name in FUNCTIONS {
        command.args(["-p", name]);
    }
    command.args(build_flags(profile, storage_profile));
    let shown = build_command(profile, storage_profile);
    eprintln!("building the function binaries: {shown}");
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("running {} (build the binaries with `{shown}`)", cargo.to_string_lossy()))?;
    if !status.success() {
        bail!("building the function binaries failed ({status}); run `{shown}` to see why");
    }
    Ok(())
}

/// A function binary running as a Lambda execution environment would run it. Dropping it
/// kills and reaps the process.
pub struct FunctionProcess {
    pub name: String,
    pub started: Instant,
    child: Child,
    /// What the process wrote to stdout and stderr so far (with `capture_output`).
    output: Arc<Mutex<Vec<u8>>>,
    /// Captured streams not yet closed by the process.
    open_streams: Arc<AtomicU64>,
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a [`FunctionProcess`] is started.
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub runtime: &'a RuntimeApi,
    /// The function's own configuration (`CHATTING_*`, `RUST_LOG`, …).
    pub env: Vec<(String, String)>,
    /// Capture stdout and stderr (for tests that read the logs) instead of inheriting them.
    pub capture_output: bool,
}

impl FunctionProcess {
    /// Starts the binary with a Lambda-like environment and nothing inherited but `PATH`:
    /// what the function needs must come from `launch.env`, as in Lambda.
    pub fn start(launch: Launch<'_>) -> anyhow::Result<Self> {
        let name = launch.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut command = Command::new(launch.binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", launch.runtime.endpoint())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2024/05/24/[$LATEST]0123456789abcdef0123456789abcdef")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            .env("AWS_SESSION_TOKEN", "local-session-token")
            .env("_HANDLER", "bootstrap")
            .env("LAMBDA_TASK_ROOT", "/var/task")
            .env("TZ", ":UTC")
            .envs(launch.env)
            .stdin(Stdio::null())
            .stdout(if launch.capture_output { Stdio::piped() } else { Stdio::inherit() })
            .stderr(if launch.capture_output { Stdio::piped() } else { Stdio::inherit() });
        let started = Instant::now();
        let mut child = command.spawn().with_context(|| format!("starting {}", launch.binary.display()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let open_streams = Arc::new(AtomicU64::new(0));
        // Read as it comes: a full pipe would stop a process that logs much.
        let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ];
        for mut stream in streams.into_iter().flatten() {
            let (output, open) = (output.clone(), open_streams.clone());
            open.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(read @ 1..) = stream.read(&mut chunk) {
                    lock(&output).extend_from_slice(&chunk[..read]);
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
        Ok(Self { name, started, child, output, open_streams })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the process has ended.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Waits (at most `within`) for the process to end.
    pub async fn wait_exit(&mut self, within: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the process wrote to stdout and stderr so far (with `capture_output`).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&lock(&self.output)).into_owned()
    }

    /// Everything the process wrote, once it has ended and its streams are read to the end
    /// (at most `within` after that).
    pub async fn final_output(&self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        while self.open_streams.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.output()
    }
}
