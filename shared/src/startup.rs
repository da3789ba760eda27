//! Cold start: the clients a function builds once and keeps between invocations.

use std::sync::Arc;

use crate::auth::TokenKeys;
use crate::config::{Config, ConfigError};
use crate::presence::{self, Presence, PresenceError};
use crate::push::{ApiGatewayPusher, Pusher};
use crate::service::auth::{AuthService, LoginLimits};
use crate::service::{Chat, Limits};
use crate::store::{self, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("presence: {0}")]
    Presence(#[from] PresenceError),
    #[cfg(feature = "dynamodb")]
    #[error("{0}")]
    Dynamo(#[from] crate::dynamodb::DynamoError),
    #[cfg(feature = "secrets")]
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
}

/// Runs one Lambda invocation of `function` and then writes what it did as one CloudWatch
/// Embedded Metric Format line on stdout (CloudWatch Logs turns it into metrics): latency,
/// the counters it added, and the action as a dimension when it handled a frame (read off
/// the per-action counters: one instance runs one invocation at a time).
pub async fn with_metrics<T>(function: &str, invocation: impl std::future::Future<Output = T>) -> T {
    let (before, actions_before) = (crate::metrics::snapshot(), crate::metrics::actions());
    let started = std::time::Instant::now();
    let outcome = invocation.await;
    let added = crate::metrics::snapshot().since(&before);
    let action = crate::metrics::action_since(&actions_before);
    // A line of its own, not a log event: CloudWatch reads EMF only from whole JSON lines.
    println!("{}", crate::metrics::emf_line(function, action, started.elapsed(), &added, crate::clock::now_ms()));
    outcome
}

/// Crates whose debug and trace output carries whole events and frames — passwords, room
/// passwords and tokens among them: never more than `info`, whatever `RUST_LOG` asks.
const VERBATIM_TARGETS: [&str; 5] =
    ["lambda_runtime", "lambda_runtime_api_client", "lambda_http", "tungstenite", "tokio_tungstenite"];

/// Logs without colour (CloudWatch shows escape codes verbatim): as text, or as one JSON
/// object per line (`timestamp`, `level`, `message`, `target`, fields) when the function's
/// `LoggingConfig` says `JSON` (`AWS_LAMBDA_LOG_FORMAT`). `RUST_LOG` filters; without it
/// Lambda's application log level (`AWS_LAMBDA_LOG_LEVEL`) does, else `info`; either way
/// within the cap on [`VERBATIM_TARGETS`].
pub fn init_tracing() {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let lambda = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let fallback = match lambda("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_ascii_lowercase()).as_deref() {
        Some("fatal") => "error".to_owned(),
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        _ => "info".to_owned(),
    };
    let requested = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(fallback));
    let capped =
        VERBATIM_TARGETS.into_iter().fold(Targets::new().with_default(LevelFilter::TRACE), |targets, target| {
            targets.with_target(target, LevelFilter::INFO)
        });
    let format = if lambda("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_ansi(false).boxed()
    };
    let _ = tracing_subscriber::registry().with(format.with_filter(requested.and(capped))).try_init();
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    #[cfg(feature = "dynamodb")]
    if let Some(table) = dynamodb_table(config).await? {
        return Ok(Arc::new(store::dynamodb::DynamoStore::new(table)));
    }
    Ok(store::connect(&config.database_url, config.db_max_connections).await?)
}

/// The table `CHATTING_DATABASE_URL=dynamodb://<table-name>` names, created first when the
/// configuration says so (locally); `None` for the other profiles.
#[cfg(feature = "dynamodb")]
pub async fn dynamodb_table(config: &Config) -> Result<Option<crate::dynamodb::Table>, StartupError> {
    use crate::dynamodb;
    if !dynamodb::is_dynamodb_url(&config.database_url) {
        return Ok(None);
    }
    let table = dynamodb::Table {
        client: dynamodb::client(&crate::aws::sdk_config(config.dynamodb_endpoint.as_deref()).await),
        name: dynamodb::table_name(&config.database_url)?,
    };
    if config.dynamodb_create_table {
        dynamodb::ensure_table(&table).await?;
    }
    Ok(Some(table))
}

/// Redis when `CHATTING_REDIS_URL` is set; otherwise the DynamoDB profile keeps presence in
/// its table, and the embedded default in this process.
pub async fn open_presence(config: &Config) -> Result<Arc<dyn Presence>, StartupError> {
    #[cfg(feature = "dynamodb")]
    if config.redis_url.is_none()
        && let Some(table) = dynamodb_table(config).await?
    {
        return Ok(Arc::new(presence::dynamodb::DynamoPresence::new(table).with_lease(config.connection_lease)));
    }
    let ca_file = config.redis_ca_file.as_deref();
    Ok(presence::connect(config.redis_url.as_deref(), &config.redis_prefix, ca_file, config.connection_lease).await?)
}

/// The store and presence the configuration names; on the DynamoDB profile they share one
/// client, so a cold start opens one connection to DynamoDB, not two.
pub async fn open_backends(config: &Config) -> Result<(Arc<dyn Store>, Arc<dyn Presence>), StartupError> {
    #[cfg(feature = "dynamodb")]
    if let Some(table) = dynamodb_table(config).await? {
        let store: Arc<dyn Store> = Arc::new(store::dynamodb::DynamoStore::new(table.clone()));
        let presence: Arc<dyn Presence> = match config.redis_url {
            None => Arc::new(presence::dynamodb::DynamoPresence::new(table).with_lease(config.connection_lease)),
            Some(_) => open_presence(config).await?,
        };
        return Ok((store, presence));
    }
    Ok((open_store(config).await?, open_presence(config).await?))
}

/// The HTTP API's service; `presence` keeps the login attempt counters.
pub fn auth_service(config: &Config, store: Arc<dyn Store>, presence: Arc<dyn Presence>) -> AuthService {
    let login_limits = LoginLimits {
        per_user: config.login_attempts_per_user,
        per_address: config.login_attempts_per_address,
        signups_per_address: config.signups_per_address,
        ..LoginLimits::default()
    };
    AuthService {
        store,
        presence,
        keys: TokenKeys::new(&config.jwt_secret, config.access_ttl),
        refresh_ttl: config.refresh_ttl,
        session_lifetime: config.session_lifetime,
        refresh_grace: config.refresh_grace,
        login_limits,
    }
}

pub fn chat(config: &Config, store: Arc<dyn Store>, presence: Arc<dyn Presence>, pusher: Arc<dyn Pusher>) -> Chat {
    let limits = Limits {
        chat_sends_per_window: config.chat_sends_per_10s,
        changes_per_connection: config.changes_per_10s,
        changes_per_user: config.changes_per_user_per_10s,
        change_window: config.changes_window,
        ..Limits::default()
    };
    let keys = TokenKeys::new(&config.jwt_secret, config.access_ttl);
    Chat {
        store,
        presence,
        pusher,
        keys,
        limits,
        allowed_origins: config.allowed_origins.clone(),
        room_order: Default::default(),
    }
}

/// The HTTP function's service, from the Lambda environment.
/// The Lambda configuration, with the secrets its environment names read from Secrets
/// Manager (once: this runs at cold start).
async fn lambda_config() -> Result<Config, StartupError> {
    #[cfg(feature = "secrets")]
    {
        let secrets = crate::secrets::read_from_env().await?;
        let mut config = Config::from_lambda_env_with(secrets.jwt.clone())?;
        config.database_url = secrets.database_url(std::mem::take(&mut config.database_url))?;
        config.redis_url = secrets.redis_url(config.redis_url.take())?;
        Ok(config)
    }
    #[cfg(not(feature = "secrets"))]
    Ok(Config::from_lambda_env()?)
}

pub async fn auth_from_lambda_env() -> Result<AuthService, StartupError> {
    let config = lambda_config().await?;
    let (store, presence) = open_backends(&config).await?;
    Ok(auth_service(&config, store, presence))
}

/// A WebSocket function's service, from the Lambda environment.
pub async fn chat_from_lambda_env() -> Result<Chat, StartupError> {
    let config = lambda_config().await?;
    let endpoint = config.management_endpoint.clone().ok_or(ConfigError::Missing("CHATTING_MANAGEMENT_ENDPOINT"))?;
    let (store, presence) = open_backends(&config).await?;
    let pusher = Arc::new(ApiGatewayPusher::from_standard_chain(&endpoint));
    Ok(chat(&config, store, presence, pusher))
}

#[cfg(all(test, feature = "dynamodb"))]
mod tests {
    use super::*;

    fn config(database_url: &str) -> Config {
        Config {
            database_url: database_url.to_owned(),
            dynamodb_endpoint: Some("http://127.0.0.1:1".to_owned()),
            // Nothing is created, so nothing is sent: the endpoint above answers nothing.
            dynamodb_create_table: false,
            redis_url: None,
            redis_prefix: "t".to_owned(),
            jwt_secret: crate::domain::Secret::from_config("x".repeat(32)),
            management_endpoint: None,
            access_ttl: std::time::Duration::from_secs(900),
            refresh_ttl: std::time::Duration::from_secs(3600),
            session_lifetime: std::time::Duration::from_secs(7200),
            refresh_grace: std::time::Duration::from_secs(10),
            connection_lease: crate::presence::CONNECTION_LEASE,
            redis_ca_file: None,
            db_max_connections: 1,
            chat_sends_per_10s: 20,
            changes_per_10s: 10,
            changes_per_user_per_10s: 20,
            changes_window: std::time::Duration::from_secs(10),
            allowed_origins: Vec::new(),
            login_attempts_per_user: 10,
            login_attempts_per_address: 100,
            signups_per_address: 20,
        }
    }

    #[tokio::test]
    async fn the_database_url_chooses_the_dynamodb_profile() {
        let table = dynamodb_table(&config("dynamodb://chat-prod")).await.unwrap().expect("a table");
        assert_eq!(table.name, "chat-prod");
        assert!(dynamodb_table(&config("mysql://root@db/chat")).await.unwrap().is_none());
        assert!(
            matches!(dynamodb_table(&config("dynamodb://x")).await, Err(StartupError::Dynamo(_))),
            "too short a name"
        );
    }
}
