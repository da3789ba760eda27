//! [`TestServer`]: a local gateway on a random port over the backends of [`crate::backends`],
//! and the HTTP calls tests make to it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chatting_local_gateway::{Gateway, GatewayOptions, PushMode, start};
use chatting_shared::config::{Config, RedisSettings, StoreProfile};
use serde_json::{Value, json};

use crate::backends::{Backend, dynamodb_endpoint};
use crate::client::Client;
use crate::{WAIT, unique};

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
        let endpoint = (backend == Backend::DynamoDb).then(dynamodb_endpoint);
        config.store = StoreProfile::from_url(&database_url, endpoint, true)?;
        config.redis = redis_url.map(RedisSettings::new);
        config.redis_prefix = unique("t");
        config.management_endpoint = None;
        // Every test client logs in from 127.0.0.1, far more often than people do; the login
        // limits are tested where they are set back (tests/api/security.rs).
        config.login_attempts_per_user = u32::MAX;
        config.login_attempts_per_address = u32::MAX;
        config.signups_per_address = u32::MAX;
        // Tests move users between rooms and groups far faster than people do; the limits
        // on changes are tested where they are set back (tests/api/security.rs).
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
        key: Option<&chatting_shared::aws::AwsKeys>,
    ) -> anyhow::Result<reqwest::Response> {
        self.management_with(method, path, body, key, &[]).await
    }

    /// [`Self::management`] with more (signed) headers.
    pub async fn management_with(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        key: Option<&chatting_shared::aws::AwsKeys>,
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

/// Drops a connection from the gateway's table without running `$disconnect`, as when API
/// Gateway loses a client silently; true if the gateway knew it.
pub async fn forget_connection(server: &TestServer, connection_id: &str) -> anyhow::Result<bool> {
    Ok(server.gateway.registry.remove(connection_id).is_some())
}
