//! Black-box test support: a real local gateway on a random port, a real HTTP client and
//! real WebSocket clients that speak PROTOCOL.md.
//!
//! `CHATTING_TEST_BACKEND=mysql` runs the same tests on MariaDB + Redis (fresh database and
//! key prefix per test), `CHATTING_TEST_BACKEND=dynamodb` on a DynamoDB emulator (fresh table
//! per test); the default is the embedded SQLite file + in-process presence.
//!
//! The real function binaries run under the Lambda Runtime API emulator of
//! `infra/lambda-runtime-emulator`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use std::sync::Arc;

use chatting_local_gateway::{Gateway, GatewayOptions, PushMode, start};
use chatting_shared::config::Config;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use serde_json;

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A name no other test in this run (or an earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}{}_{n}_{}", std::process::id() % 10_000, nanos % 100_000)
}

/// Where a test keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process presence: the defaults of `cargo run`.
    Embedded,
    /// MariaDB (127.0.0.1:3306, root) + Redis (127.0.0.1:6379): the production backends.
    MySqlRedis,
    /// One DynamoDB table for store and presence, on the emulator at
    /// `CHATTING_TEST_DYNAMODB_ENDPOINT` (scripts/dynamodb-emulator starts it).
    DynamoDb,
}

/// Where the DynamoDB emulator answers unless `CHATTING_TEST_DYNAMODB_ENDPOINT` says otherwise.
pub const DYNAMODB_ENDPOINT: &str = "http://127.0.0.1:5005";

pub fn dynamodb_endpoint() -> String {
    std::env::var("CHATTING_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DYNAMODB_ENDPOINT.to_owned())
}

/// A new empty table on the emulator, for one test; fails loudly when the emulator is not there.
pub async fn fresh_dynamodb_table() -> anyhow::Result<chatting_shared::dynamodb::Table> {
    use chatting_shared::dynamodb;
    let endpoint = dynamodb_endpoint();
    // The emulator takes any credentials; the environment's, if set, are left alone.
    let sdk = chatting_shared::aws::sdk_config(Some(&endpoint)).await;
    let table = dynamodb::Table { client: dynamodb::client(&sdk), name: unique("chatting-t-") };
    dynamodb::ensure_table(&table).await.with_context(|| {
        format!("a DynamoDB emulator must answer at {endpoint} (scripts/dynamodb-emulator starts it)")
    })?;
    Ok(table)
}

pub const MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

impl Backend {
    /// `CHATTING_TEST_BACKEND=mysql` selects MariaDB + Redis.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("CHATTING_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("embedded") => Ok(Backend::Embedded),
            Ok("mysql") => Ok(Backend::MySqlRedis),
            Ok("dynamodb") => Ok(Backend::DynamoDb),
            Ok(other) => bail!("CHATTING_TEST_BACKEND={other}: expected embedded, mysql or dynamodb"),
        }
    }

    /// A database no other test uses (and Redis, when this backend has it).
    pub async fn fresh(self, data_dir: &std::path::Path) -> anyhow::Result<(String, Option<String>)> {
        match self {
            Backend::Embedded => Ok((format!("sqlite://{}?mode=rwc", data_dir.join("chatting.db").display()), None)),
            Backend::MySqlRedis => Ok((fresh_mysql_database().await?, Some(REDIS_URL.to_owned()))),
            Backend::DynamoDb => Ok((format!("dynamodb://{}", fresh_dynamodb_table().await?.name), None)),
        }
    }
}

/// Every item of the table a `dynamodb://` configuration names, with its string attributes
/// (what someone who can read the table sees).
pub async fn dynamodb_items(config: &Config) -> anyhow::Result<Vec<std::collections::HashMap<String, String>>> {
    use chatting_shared::dynamodb::Quiet as _;
    let table = chatting_shared::startup::dynamodb_table(config).await?.context("not a dynamodb:// configuration")?;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page =
            table.client.scan().table_name(&table.name).set_exclusive_start_key(start.take()).send().quiet().await?;
        for item in page.items() {
            items.push(item.iter().filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone()))).collect());
        }
        start = page.last_evaluated_key().cloned().filter(|k| !k.is_empty());
        if start.is_none() {
            return Ok(items);
        }
    }
}

/// Creates an empty MariaDB database for one test; fails loudly when MariaDB is not there.
pub async fn fresh_mysql_database() -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let name = unique("chatting_t_");
    let mut admin = sqlx::MySqlConnection::connect(MYSQL_ADMIN_URL)
        .await
        .with_context(|| format!("MariaDB must run at {MYSQL_ADMIN_URL} (scripts/services starts it)"))?;
    sqlx::Executor::execute(&mut admin, format!("CREATE DATABASE `{name}`").as_str()).await?;
    admin.close().await?;
    Ok(format!("mysql://root@127.0.0.1:3306/{name}"))
}

pub struct TestServer {
    pub http: String,
    pub ws: String,
    pub address: std::net::SocketAddr,
    pub gateway: Arc<Gateway>,
    pub config: Config,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    data_dir: PathBuf,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

impl TestServer {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Starts a gateway; `adjust` may change its options (idle timeout, push mode, …).
    pub async fn start_with(adjust: impl FnOnce(&mut GatewayOptions)) -> anyhow::Result<Self> {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
        let data_dir = std::env::temp_dir().join(unique("chatting-test-"));
        std::fs::create_dir_all(&data_dir)?;
        let mut config = Config::from_local_env(&data_dir)?;
        let backend = Backend::from_env()?;
        let (database_url, redis_url) = backend.fresh(&data_dir).await?;
        config.database_url = database_url;
        config.redis_url = redis_url;
        config.redis_prefix = unique("t");
        if backend == Backend::DynamoDb {
            config.dynamodb_endpoint = Some(dynamodb_endpoint());
        }
        config.management_endpoint = None;
        // Every test client logs in from 127.0.0.1, far more often than people do; the login
        // limits are tested where they are set back (tests/security.rs).
        config.login_attempts_per_user = u32::MAX;
        config.login_attempts_per_address = u32::MAX;
        config.signups_per_address = u32::MAX;
        // Tests move users between rooms and groups far faster than people do; the limits
        // on changes are tested where they are set back (tests/security.rs).
        config.changes_per_10s = u32::MAX;
        config.changes_per_user_per_10s = u32::MAX;
        let mut options = GatewayOptions::new(config);
        // `CHATTING_TEST_PUSH=sdk`: every event through the AWS SDK and the Management API
        // endpoint, as in AWS (one pass of scripts/test runs so).
        if let Some(raw) = std::env::var("CHATTING_TEST_PUSH").ok().filter(|v| !v.is_empty()) {
            options.push =
                PushMode::parse(&raw).with_context(|| format!("CHATTING_TEST_PUSH={raw}: expected sdk or direct"))?;
        }
        adjust(&mut options);
        let config = options.config.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let (gateway, _server) = start(listener, options, async {
            let _ = stop.await;
        })
        .await?;
        let server = Self {
            http: format!("http://{address}"),
            ws: format!("ws://{address}/ws"),
            address,
            gateway,
            config,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            data_dir,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(response) = self.client.get(format!("{}/health", self.http)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("gateway at {} never became healthy", self.http);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a JSON request; returns the status and the body envelope.
    /// A raw HTTP request to the gateway, for checks on headers.
    pub async fn raw(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> anyhow::Result<reqwest::Response> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self.client.request(method, format!("{}{path}", self.http));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Ok(request.send().await?)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self.client.request(method, format!("{}{path}", self.http));
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let envelope = serde_json::from_str(&text).with_context(|| format!("body is not JSON: {text}"))?;
        Ok((status, envelope))
    }

    /// A Management API or `/metrics` request signed with `key` (SigV4), as the AWS SDK
    /// would sign it; `None` sends it unsigned.
    pub async fn management(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        key: Option<&chatting_shared::push::SigningKeys>,
    ) -> anyhow::Result<reqwest::Response> {
        self.management_with(method, path, body, key, &[]).await
    }

    /// [`Self::management`] with more (signed) headers.
    pub async fn management_with(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        key: Option<&chatting_shared::push::SigningKeys>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self.client.request(method.clone(), format!("{}{path}", self.http)).body(body.to_vec());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        if let Some(key) = key {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("host", self.address.to_string().parse()?);
            for (name, value) in extra {
                headers.insert(reqwest::header::HeaderName::from_bytes(name.as_bytes())?, value.parse()?);
            }
            let (path, query) = path.split_once('?').map_or((path, None), |(p, q)| (p, Some(q)));
            let unsigned =
                chatting_local_gateway::sigv4::SignedParts { method: &method, path, query, headers: &headers, body };
            for (name, value) in chatting_local_gateway::sigv4::sign(&unsigned, key, std::time::SystemTime::now()) {
                request = request.header(name, value);
            }
        }
        Ok(request.send().await?)
    }

    /// The gateway's counters as JSON (`GET /metrics`, signed with its key).
    pub async fn metrics(&self) -> anyhow::Result<Value> {
        let response = self
            .management_with(
                "GET",
                "/metrics",
                b"",
                Some(&self.gateway.management_key),
                &[("accept", "application/json")],
            )
            .await?;
        anyhow::ensure!(response.status() == 200, "/metrics answered {}", response.status());
        Ok(response.json().await?)
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.call("POST", path, Some(body), None).await
    }

    /// A POST that, like a well-behaved client, waits and tries again while the server says
    /// it is busy (429 `rateLimited`: here only the password-hashing queue, since the login
    /// limits are lifted for test servers).
    async fn post_when_ready(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, answer) = self.post(path, body.clone()).await?;
            if status != 429 || tokio::time::Instant::now() > deadline {
                return Ok((status, answer));
            }
            let wait = answer["data"]["retryAfterMs"].as_u64().unwrap_or(100);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
    }

    pub async fn signup(&self, user_id: &str, nick: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .post_when_ready("/auth/signup", json!({ "userId": user_id, "password": "password123", "nick": nick }))
            .await?;
        if status != 201 {
            bail!("signup of {user_id} answered {status}: {body}");
        }
        Ok(())
    }

    pub async fn login(&self, user_id: &str) -> anyhow::Result<Session> {
        let (status, body) =
            self.post_when_ready("/auth/login", json!({ "userId": user_id, "password": "password123" })).await?;
        if status != 200 {
            bail!("login of {user_id} answered {status}: {body}");
        }
        Ok(Session {
            user_id: user_id.to_owned(),
            access: body["data"]["accessToken"].as_str().context("accessToken")?.to_owned(),
            refresh: body["data"]["refreshToken"].as_str().context("refreshToken")?.to_owned(),
        })
    }

    /// A new user (unique id starting with `name`), logged in.
    pub async fn user(&self, name: &str) -> anyhow::Result<Session> {
        let user_id = unique(name);
        self.signup(&user_id, name).await?;
        self.login(&user_id).await
    }

    /// A new user with one open WebSocket connection.
    pub async fn connected_user(&self, name: &str) -> anyhow::Result<(Session, Client)> {
        let session = self.user(name).await?;
        let client = Client::connect(self, &session.access).await?;
        Ok((session, client))
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One WebSocket connection; events that arrive while waiting for a reply are kept.
pub struct Client {
    socket: Socket,
    events: VecDeque<Value>,
    next_request: u64,
}

impl Client {
    pub async fn connect(server: &TestServer, token: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("{}?token={token}", server.ws)).await?;
        Ok(Self { socket, events: VecDeque::new(), next_request: 0 })
    }

    pub async fn send_text(&mut self, text: impl Into<String>) -> anyhow::Result<()> {
        self.socket.send(Message::Text(text.into().into())).await?;
        Ok(())
    }

    /// The next JSON frame from the socket, whatever it is.
    pub async fn next_frame(&mut self) -> anyhow::Result<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .map_err(|_| anyhow!("no frame within {WAIT:?}"))?
                .ok_or_else(|| anyhow!("connection closed"))??;
            match message {
                Message::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                Message::Close(frame) => bail!("connection closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Sends an action and waits for its reply (ok or not).
    pub async fn request(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        self.next_request += 1;
        let request_id = format!("r{}", self.next_request);
        let frame = json!({ "action": action, "requestId": request_id, "data": data });
        self.send_text(frame.to_string()).await?;
        self.reply_to(&request_id).await
    }

    /// Waits for the reply carrying `request_id`, keeping events for later.
    pub async fn reply_to(&mut self, request_id: &str) -> anyhow::Result<Value> {
        loop {
            let frame = self.next_frame().await?;
            if frame["type"] == "reply" && frame["requestId"] == request_id {
                return Ok(frame);
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    /// Sends an action that must succeed; returns the reply's `data`.
    pub async fn ok(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        if reply["ok"] != true || reply["code"] != "success" {
            bail!("{action} failed: {reply}");
        }
        Ok(reply["data"].clone())
    }

    /// Sends an action that must fail with `code`; returns the reply.
    pub async fn fails(&mut self, action: &str, data: Value, code: &str) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        if reply["ok"] != false || reply["code"] != code {
            bail!("{action} should fail with {code}: {reply}");
        }
        Ok(reply)
    }

    /// The next event named `name` whose data satisfies `matches`; earlier events of other
    /// kinds stay queued.
    pub async fn event_where(&mut self, name: &str, matches: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        if let Some(index) = self.events.iter().position(|e| e["event"] == name && matches(&e["data"])) {
            let event = self.events.remove(index).unwrap_or_default();
            return Ok(event["data"].clone());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(remaining, self.next_frame())
                .await
                .map_err(|_| anyhow!("no {name} event within {WAIT:?}; queued: {:?}", self.events))??;
            if frame["type"] == "event" && frame["event"] == name && matches(&frame["data"]) {
                return Ok(frame["data"].clone());
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    pub async fn event(&mut self, name: &str) -> anyhow::Result<Value> {
        self.event_where(name, |_| true).await
    }

    /// Fails if an event named `name` arrives within `within`.
    pub async fn no_event(&mut self, name: &str, within: Duration) -> anyhow::Result<()> {
        if let Some(event) = self.events.iter().find(|e| e["event"] == name) {
            bail!("unexpected {name}: {event}");
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(remaining, self.next_frame()).await {
                Err(_) => return Ok(()),
                Ok(frame) => {
                    let frame = frame?;
                    if frame["event"] == name {
                        bail!("unexpected {name}: {frame}");
                    }
                    self.events.push_back(frame);
                }
            }
        }
    }

    /// Fails if an event named `name` matching `matches` is queued or arrives within
    /// `within`; other events of that name do not count.
    pub async fn no_event_where(
        &mut self,
        name: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<()> {
        match tokio::time::timeout(within, self.event_where(name, matches)).await {
            Err(_) => Ok(()),
            Ok(Ok(event)) => bail!("unexpected {name}: {event}"),
            Ok(Err(err)) => Err(err),
        }
    }

    /// Forgets queued events.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Reads and drops every frame until the connection ends; returns how many came.
    pub async fn drain(mut self) -> u64 {
        let mut frames = 0;
        while let Some(Ok(_)) = self.socket.next().await {
            frames += 1;
        }
        frames
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.close(None).await?;
        // Read until the server's close arrives so the close is complete on both sides.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, self.socket.next()).await {}
        Ok(())
    }
}

/// A WebSocket client on a TCP socket the test owns, so that it can end the connection
/// the ways networks do: a reset, a FIN without a close frame, or silence.
pub struct RawWs {
    ws: WebSocketStream<TcpStream>,
    next_request: u64,
}

impl RawWs {
    /// `receive_buffer` shrinks the socket's receive buffer, so that a client that stops
    /// reading fills up after a few frames rather than after megabytes.
    pub async fn connect(server: &TestServer, token: &str, receive_buffer: Option<u32>) -> anyhow::Result<Self> {
        let socket = TcpSocket::new_v4()?;
        if let Some(bytes) = receive_buffer {
            socket.set_recv_buffer_size(bytes)?;
        }
        let stream = socket.connect(server.address).await?;
        stream.set_nodelay(true)?;
        let (ws, _) = tokio_tungstenite::client_async(format!("{}?token={token}", server.ws), stream).await?;
        Ok(Self { ws, next_request: 0 })
    }

    pub async fn request(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        self.next_request += 1;
        let request_id = format!("raw{}", self.next_request);
        let frame = json!({"action": action, "requestId": request_id, "data": data});
        self.ws.send(Message::Text(frame.to_string().into())).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let message = tokio::time::timeout(remaining, self.ws.next())
                .await
                .map_err(|_| anyhow!("no reply to {action}"))?
                .ok_or_else(|| anyhow!("closed while waiting for {action}"))??;
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str())?;
                if frame["type"] == "reply" && frame["requestId"] == request_id.as_str() {
                    return Ok(frame);
                }
            }
        }
    }

    pub async fn ok(&mut self, action: &str, data: Value) -> anyhow::Result<Value> {
        let reply = self.request(action, data).await?;
        anyhow::ensure!(reply["ok"] == true, "{action} failed: {reply}");
        Ok(reply["data"].clone())
    }

    pub async fn connection_id(&mut self) -> anyhow::Result<String> {
        Ok(self.ok("user.me", json!({})).await?["connectionId"].as_str().unwrap_or_default().to_owned())
    }

    /// The WebSocket itself, for frames the helpers above do not send.
    pub fn socket(&mut self) -> &mut WebSocketStream<TcpStream> {
        &mut self.ws
    }

    /// The client's end of the TCP connection.
    pub fn local_port(&self) -> anyhow::Result<u16> {
        Ok(self.ws.get_ref().local_addr()?.port())
    }

    /// The kernel answers with RST: no close frame, no FIN.
    pub fn reset(self) -> anyhow::Result<()> {
        self.ws.get_ref().set_zero_linger()?;
        drop(self);
        Ok(())
    }

    /// FIN without a WebSocket close frame, then read what is left until the server hangs up.
    pub async fn fin(mut self) {
        let _ = self.ws.get_mut().shutdown().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(deadline.saturating_duration_since(tokio::time::Instant::now()), self.ws.next()).await
        {
        }
    }

    /// A clean close, as a browser closing the tab.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(deadline.saturating_duration_since(tokio::time::Instant::now()), self.ws.next()).await
        {
        }
    }
}

/// The HTTP status a WebSocket handshake was refused with, or `None` if it opened.
pub async fn handshake_status(url: &str) -> anyhow::Result<Option<u16>> {
    handshake_status_from(url, None).await
}

/// Like [`handshake_status`], sending the `Origin` header a browser on `origin` would.
pub async fn handshake_status_from(url: &str, origin: Option<&str>) -> anyhow::Result<Option<u16>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse()?);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(None),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Ok(Some(response.status().as_u16())),
        Err(err) => Err(err.into()),
    }
}

/// Drops a connection from the gateway's table without running `$disconnect`, as when API
/// Gateway loses a client silently; true if the gateway knew it.
pub async fn forget_connection(server: &TestServer, connection_id: &str) -> anyhow::Result<bool> {
    Ok(server.gateway.registry.remove(connection_id).is_some())
}

/// A TCP forwarder in front of a real server whose port can be "stopped" (connections
/// refused, open ones cut) and started again, to test outages and recovery.
pub struct FaultProxy {
    pub port: u16,
    target: String,
    running: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl FaultProxy {
    pub async fn start(target: &str) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let proxy = Arc::new(Self { port, target: target.to_owned(), running: tokio::sync::Mutex::new(None) });
        proxy.serve(listener).await;
        Ok(proxy)
    }

    async fn serve(&self, listener: tokio::net::TcpListener) {
        let target = self.target.clone();
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                links.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.running.lock().await = Some(task);
    }

    /// The port stops answering: new connections are refused and open ones are cut.
    pub async fn stop(&self) {
        if let Some(task) = self.running.lock().await.take() {
            // Dropping the task drops the listener and, with the JoinSet, every link.
            task.abort();
            let _ = task.await;
        }
    }

    /// The port answers again.
    pub async fn resume(&self) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await?;
        self.serve(listener).await;
        Ok(())
    }
}

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Counts panics anywhere in this process (spawned server tasks included) from now on.
pub fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

/// Panics counted since [`count_panics`] was first called.
pub fn panics() -> u64 {
    PANICS.load(Ordering::SeqCst)
}

/// The `userId`s of a JSON array of `User`s.
pub fn user_ids(users: &Value) -> Vec<String> {
    users
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["userId"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Where `scripts/tls-services` keeps the test CA and runs Redis and MariaDB with TLS.
pub fn tls_dir() -> std::path::PathBuf {
    std::env::var_os("CHATTING_TLS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/chatting-tls"))
}

/// Redis with TLS only (`scripts/tls-services`).
pub const REDIS_TLS_PORT: u16 = 6390;
/// A MariaDB that requires TLS (`scripts/tls-services`).
pub const MYSQL_TLS_PORT: u16 = 3307;
