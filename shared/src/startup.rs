//! Cold start: the clients a function builds once and keeps between invocations.

use std::sync::Arc;

use crate::auth::TokenKeys;
#[cfg(feature = "dynamodb")]
use crate::config::DynamoDbSettings;
use crate::config::{Config, ConfigError, PresenceProfile, StoreProfile};
use crate::presence::{self, Presence, PresenceError};
use crate::push::{ApiGatewayPusher, Pusher};
use crate::service::auth::{AuthService, LoginLimits};
use crate::service::{Chat, Limits};
use crate::store::{self, Store, StoreError};

/// What stops a cold start. A function's `main` returns it, and Rust prints a `main` error
/// with `Debug`: that is the message itself, so the log says what to set, not a type name.
#[derive(thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("presence: {0}")]
    Presence(#[from] PresenceError),
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    #[cfg(feature = "dynamodb")]
    #[error("{0}")]
    Dynamo(#[from] crate::dynamodb::DynamoError),
    #[cfg(feature = "secrets")]
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
}

impl std::fmt::Debug for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
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
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = lambda_subscriber().try_init();
}

/// What [`init_tracing`] installs; a benchmark sets it on its own thread to run as the
/// functions do.
pub fn lambda_subscriber() -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;

    // Read before the configuration: its errors must already be logged.
    let lambda = crate::config::var;
    let fallback = match lambda("AWS_LAMBDA_LOG_LEVEL").map(|level| level.to_ascii_lowercase()).as_deref() {
        Some("fatal") => "error".to_owned(),
        Some(level @ ("trace" | "debug" | "info" | "warn" | "error")) => level.to_owned(),
        _ => "info".to_owned(),
    };
    // `RUST_LOG` as targets and levels (`warn,chatting_shared::service=debug`): the span and
    // field filters of tracing's `EnvFilter` would link a regex engine into every function.
    let default = Targets::new().with_default(fallback.parse::<LevelFilter>().unwrap_or(LevelFilter::INFO));
    let requested = lambda("RUST_LOG").and_then(|raw| raw.parse::<Targets>().ok()).unwrap_or(default);
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
    tracing_subscriber::registry().with(format.with_filter(requested.and(capped)))
}

/// The DynamoDB store, with the upgrade of messages stored before locators going on in the
/// background from here (a no-op read once it is done).
#[cfg(feature = "dynamodb")]
fn upgraded_dynamodb_store(table: crate::dynamodb::Table) -> store::dynamodb::DynamoStore {
    let store = store::dynamodb::DynamoStore::new(table);
    store.spawn_upgrade();
    store
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    match &config.store {
        StoreProfile::Sql { url } => Ok(store::connect(url, config.db_max_connections).await?),
        #[cfg(feature = "dynamodb")]
        StoreProfile::DynamoDb(settings) => {
            Ok(Arc::new(upgraded_dynamodb_store(open_dynamodb_table(config, settings).await?)))
        }
        #[cfg(not(feature = "dynamodb"))]
        StoreProfile::DynamoDb(settings) => {
            Err(StoreError::NotBuiltIn(format!("dynamodb://{}", settings.table)).into())
        }
    }
}

/// The table of the DynamoDB profile, created first when the configuration says so (locally).
#[cfg(feature = "dynamodb")]
async fn open_dynamodb_table(
    config: &Config,
    settings: &DynamoDbSettings,
) -> Result<crate::dynamodb::Table, StartupError> {
    use crate::dynamodb;
    let sdk = config.aws.sdk_config(settings.endpoint.as_deref()).await?;
    let table = dynamodb::Table { client: dynamodb::client(&sdk), name: settings.table.clone() };
    if settings.create_table {
        dynamodb::ensure_table(&table).await?;
    }
    Ok(table)
}

/// The table `CHATTING_DATABASE_URL=dynamodb://<table-name>` names (see
/// [`open_dynamodb_table`]); `None` for the other profiles.
#[cfg(feature = "dynamodb")]
pub async fn dynamodb_table(config: &Config) -> Result<Option<crate::dynamodb::Table>, StartupError> {
    match &config.store {
        StoreProfile::DynamoDb(settings) => Ok(Some(open_dynamodb_table(config, settings).await?)),
        StoreProfile::Sql { .. } => Ok(None),
    }
}

/// The presence [`Config::presence`] names.
pub async fn open_presence(config: &Config) -> Result<Arc<dyn Presence>, StartupError> {
    let lease = config.connection_lease;
    match config.presence() {
        PresenceProfile::Redis(redis) => {
            Ok(presence::connect(Some(&redis.url), &config.redis_prefix, redis.ca_file.as_deref(), lease).await?)
        }
        PresenceProfile::Memory => Ok(presence::connect(None, &config.redis_prefix, None, lease).await?),
        #[cfg(feature = "dynamodb")]
        PresenceProfile::DynamoDb(settings) => Ok(Arc::new(
            presence::dynamodb::DynamoPresence::new(open_dynamodb_table(config, settings).await?).with_lease(lease),
        )),
        #[cfg(not(feature = "dynamodb"))]
        PresenceProfile::DynamoDb(_) => Err(PresenceError::NotBuiltIn("DynamoDB").into()),
    }
}

/// The store and presence the configuration names; on the DynamoDB profile they share one
/// client, so a cold start opens one connection to DynamoDB, not two.
pub async fn open_backends(config: &Config) -> Result<(Arc<dyn Store>, Arc<dyn Presence>), StartupError> {
    #[cfg(feature = "dynamodb")]
    if let (StoreProfile::DynamoDb(settings), PresenceProfile::DynamoDb(_)) = (&config.store, config.presence()) {
        let table = open_dynamodb_table(config, settings).await?;
        let store: Arc<dyn Store> = Arc::new(upgraded_dynamodb_store(table.clone()));
        let presence = presence::dynamodb::DynamoPresence::new(table).with_lease(config.connection_lease);
        return Ok((store, Arc::new(presence)));
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
        room_kick_bar: config.room_kick_bar,
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

/// The Lambda configuration, with the secrets its environment names read from Secrets
/// Manager (once: this runs at cold start).
async fn lambda_config() -> Result<Config, StartupError> {
    #[cfg(feature = "secrets")]
    {
        let secrets = crate::secrets::read_from_env().await?;
        let mut config = Config::from_lambda_env_with(secrets.jwt.clone())?;
        if let StoreProfile::Sql { url } = &mut config.store {
            *url = secrets.database_url(std::mem::take(url))?;
        }
        if let Some(redis) = &mut config.redis {
            redis.url = secrets.redis_url(Some(std::mem::take(&mut redis.url)))?.unwrap_or_default();
        }
        Ok(config)
    }
    #[cfg(not(feature = "secrets"))]
    Ok(Config::from_lambda_env()?)
}

/// The HTTP function's service, from the Lambda environment.
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
    let pusher = Arc::new(ApiGatewayPusher::for_aws(&endpoint, &config.aws).await?);
    Ok(chat(&config, store, presence, pusher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RedisSettings;

    fn config(database_url: &str, redis_url: Option<&str>) -> Config {
        let dir = std::env::temp_dir().join(format!("chatting-startup-{}", std::process::id()));
        let mut config = Config::from_local_env(&dir).unwrap();
        // Nothing is created, so nothing is sent: this endpoint answers nothing.
        config.store = StoreProfile::from_url(database_url, Some("http://127.0.0.1:1".to_owned()), false).unwrap();
        config.redis = redis_url.map(RedisSettings::new);
        config
    }

    #[cfg(feature = "dynamodb")]
    #[tokio::test]
    async fn the_database_url_chooses_the_dynamodb_profile() {
        let table = dynamodb_table(&config("dynamodb://chat-prod", None)).await.unwrap().expect("a table");
        assert_eq!(table.name, "chat-prod");
        assert!(dynamodb_table(&config("mysql://root@db/chat", None)).await.unwrap().is_none());
    }

    // A function built for one storage profile, deployed with the other's configuration,
    // stops at its cold start and says so, instead of failing every call.

    #[cfg(any(
        not(any(feature = "mysql", feature = "sqlite")),
        all(feature = "dynamodb", not(feature = "redis")),
        not(feature = "dynamodb")
    ))]
    async fn start_up_error(config: Config) -> String {
        match open_backends(&config).await {
            Ok(_) => panic!("started without the driver its configuration needs"),
            Err(err) => err.to_string(),
        }
    }

    #[cfg(not(any(feature = "mysql", feature = "sqlite")))]
    #[tokio::test]
    async fn a_build_without_a_sql_driver_refuses_a_sql_database_at_start() {
        let message = start_up_error(config("mysql://chat:hunter2@db:3306/chat", None)).await;
        assert_eq!(
            message,
            "store: this build has no driver for the database url mysql://***@db:3306/chat (built for another \
             storage profile?)"
        );
    }

    // The store opens first: a table this build can open, then the Redis it cannot.
    #[cfg(all(feature = "dynamodb", not(feature = "redis")))]
    #[tokio::test]
    async fn a_build_without_redis_refuses_redis_presence_at_start() {
        let message = start_up_error(config("dynamodb://chat-prod", Some("rediss://cache:6379"))).await;
        assert_eq!(
            message,
            "presence: this build has no driver for Redis presence (built for another storage profile?)"
        );
    }

    #[cfg(not(feature = "dynamodb"))]
    #[tokio::test]
    async fn a_build_without_dynamodb_refuses_a_table_at_start() {
        let message = start_up_error(config("dynamodb://chat-prod", None)).await;
        assert_eq!(
            message,
            "store: this build has no driver for the database url dynamodb://chat-prod (built for another storage \
             profile?)"
        );
    }
}
