//! Configuration, read once from the environment (the same names in Lambda and locally).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::aws::AwsSettings;
use crate::domain::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{name} is not valid: {reason}")]
    Bad { name: &'static str, reason: String },
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Where users, rooms, groups and messages live (`CHATTING_DATABASE_URL`).
    pub store: StoreProfile,
    /// Presence in Redis (`CHATTING_REDIS_URL`); without it see [`Config::presence`].
    pub redis: Option<RedisSettings>,
    /// Every presence key starts with this, so deployments and tests can share a server.
    pub redis_prefix: String,
    /// The environment's AWS key and region, for clients of local endpoints.
    pub aws: AwsSettings,
    pub jwt_secret: Secret,
    /// Where the Management API lives; the local gateway fills in its own address.
    pub management_endpoint: Option<String>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// A login's absolute lifetime: refreshing never extends a session beyond it.
    pub session_lifetime: Duration,
    /// How long a rotated refresh token still answers the same pair (retries, two tabs).
    pub refresh_grace: Duration,
    /// How long presence vouches for a connection after its last activity; then a sweep
    /// disconnects it (its `$disconnect` was lost). More than API Gateway's 2-hour cap.
    pub connection_lease: Duration,
    pub db_max_connections: u32,
    /// `chat.send` attempts allowed per connection in any 10 seconds.
    pub chat_sends_per_10s: u32,
    /// State-changing actions (nick, rooms, groups) allowed per connection in any 10 seconds.
    pub changes_per_10s: u32,
    /// The same per user, over all their connections.
    pub changes_per_user_per_10s: u32,
    /// The window of those two limits (10 s unless a deployment or a test says otherwise).
    pub changes_window: Duration,
    /// How long a user kicked from a room may not join it again (10 minutes).
    pub room_kick_bar: Duration,
    /// Browser origins allowed to call the APIs; empty: no origin is checked.
    pub allowed_origins: Vec<String>,
    /// `POST /auth/login` attempts allowed per user id in any 5 minutes.
    pub login_attempts_per_user: u32,
    /// `POST /auth/login` attempts allowed per client address in any 5 minutes.
    pub login_attempts_per_address: u32,
    /// `POST /auth/signup` attempts allowed per client address in any 5 minutes.
    pub signups_per_address: u32,
}

/// `CHATTING_DATABASE_URL`'s choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreProfile {
    /// `sqlite://…` or `mysql://…`.
    Sql { url: String },
    /// `dynamodb://<table-name>`: the no-VPC profile, store and (without Redis) presence on
    /// that one table.
    DynamoDb(DynamoDbSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoDbSettings {
    pub table: String,
    /// Where DynamoDB is reached instead of AWS's regional endpoint (an emulator).
    pub endpoint: Option<String>,
    /// Creates the table when missing: locally; in AWS the stack owns it.
    pub create_table: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://…` or `rediss://…` (in-transit encryption).
    pub url: String,
    /// CA certificates (PEM) a `rediss://` server must chain to, instead of the system's roots.
    pub ca_file: Option<PathBuf>,
}

impl RedisSettings {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ca_file: None }
    }
}

/// Where presence lives, as the configuration implies it.
#[derive(Debug, Clone, Copy)]
pub enum PresenceProfile<'a> {
    Redis(&'a RedisSettings),
    /// On the store's DynamoDB table.
    DynamoDb(&'a DynamoDbSettings),
    /// In this process: one node only.
    Memory,
}

const DYNAMODB_SCHEME: &str = "dynamodb://";

impl StoreProfile {
    pub fn sql(url: impl Into<String>) -> Self {
        Self::Sql { url: url.into() }
    }

    /// A `CHATTING_DATABASE_URL`; a DynamoDB table is reached at `dynamodb_endpoint` when
    /// given and made first when `create_table`.
    pub fn from_url(url: &str, dynamodb_endpoint: Option<String>, create_table: bool) -> Result<Self, ConfigError> {
        let Some(table) = url.strip_prefix(DYNAMODB_SCHEME) else {
            return Ok(Self::sql(url));
        };
        let table = table.trim_end_matches('/');
        // DynamoDB's naming rules.
        let valid = (3..=255).contains(&table.len())
            && table.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid {
            return Err(ConfigError::Bad {
                name: "CHATTING_DATABASE_URL",
                reason: format!("{url}: a DynamoDB table name is 3-255 of a-z, A-Z, 0-9, '_', '-' and '.'"),
            });
        }
        Ok(Self::DynamoDb(DynamoDbSettings { table: table.to_owned(), endpoint: dynamodb_endpoint, create_table }))
    }
}

impl Config {
    /// Redis when configured; otherwise the DynamoDB profile keeps presence in its table,
    /// and the embedded default in this process.
    pub fn presence(&self) -> PresenceProfile<'_> {
        match (&self.redis, &self.store) {
            (Some(redis), _) => PresenceProfile::Redis(redis),
            (None, StoreProfile::DynamoDb(table)) => PresenceProfile::DynamoDb(table),
            (None, StoreProfile::Sql { .. }) => PresenceProfile::Memory,
        }
    }
}

/// How the local gateway's events reach its connections (`CHATTING_PUSH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// Through the AWS SDK and a Management API (the gateway's own, unless
    /// `CHATTING_MANAGEMENT_ENDPOINT` names another), as in AWS: one signed HTTP request
    /// per recipient.
    Sdk,
    /// Straight into the gateway's connection table: the default when the connections
    /// are its own, since a signed request to oneself buys nothing but CPU.
    Direct,
}

impl PushMode {
    /// `CHATTING_PUSH`'s values.
    pub fn parse(raw: &str) -> Option<PushMode> {
        match raw {
            "sdk" => Some(PushMode::Sdk),
            "direct" => Some(PushMode::Direct),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PushMode::Sdk => "sdk",
            PushMode::Direct => "direct",
        }
    }
}

/// What only the local gateway (`cargo run`) reads: where it listens, keeps its data and
/// finds the web client.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// `CHATTING_DATA_DIR`: the SQLite file and the generated JWT secret (default `data`).
    pub data_dir: PathBuf,
    /// `CHATTING_ADDR` (default 127.0.0.1:3000).
    pub address: String,
    /// `CHATTING_IDLE_TIMEOUT_SECS`: unset keeps the gateway's default (API Gateway's 10 minutes).
    pub idle_timeout: Option<Duration>,
    /// `CHATTING_PUSH`: unset lets the gateway choose.
    pub push: Option<PushMode>,
    /// `CHATTING_WEB_DIR`: unset serves the web client from the source tree.
    pub web_dir: Option<PathBuf>,
}

impl GatewaySettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let idle_timeout = optional_seconds("CHATTING_IDLE_TIMEOUT_SECS")?;
        let push = match var("CHATTING_PUSH") {
            None => None,
            Some(raw) => Some(PushMode::parse(&raw).ok_or_else(|| ConfigError::Bad {
                name: "CHATTING_PUSH",
                reason: format!("{raw}: expected sdk or direct"),
            })?),
        };
        Ok(Self {
            data_dir: PathBuf::from(var("CHATTING_DATA_DIR").unwrap_or_else(|| "data".into())),
            address: var("CHATTING_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into()),
            idle_timeout,
            push,
            web_dir: var("CHATTING_WEB_DIR").map(PathBuf::from),
        })
    }
}

/// `CHATTING_DYNAMODB_ENDPOINT`, else the SDK's own `AWS_ENDPOINT_URL_DYNAMODB` or
/// `AWS_ENDPOINT_URL`.
fn dynamodb_endpoint_from_env() -> Option<String> {
    var("CHATTING_DYNAMODB_ENDPOINT").or_else(|| crate::aws::endpoint_from_env("DYNAMODB"))
}

fn origins() -> Vec<String> {
    var("CHATTING_ALLOWED_ORIGINS")
        .map(|raw| {
            raw.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
        })
        .unwrap_or_default()
}

/// A setting from the environment, trimmed; unset and blank are the same.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn seconds(name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    Ok(optional_seconds(name)?.unwrap_or(Duration::from_secs(default)))
}

/// A duration in whole seconds, `None` when unset.
fn optional_seconds(name: &'static str) -> Result<Option<Duration>, ConfigError> {
    var(name)
        .map(|raw| {
            raw.parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::Bad { name, reason: "expected whole seconds".into() })
        })
        .transpose()
}

fn count(name: &'static str, default: u32) -> Result<u32, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|_| ConfigError::Bad { name, reason: "expected a whole number".into() }),
    }
}

fn jwt_secret(raw: String) -> Result<Secret, ConfigError> {
    if raw.len() < 32 {
        return Err(ConfigError::Bad { name: "CHATTING_JWT_SECRET", reason: "must be at least 32 bytes".into() });
    }
    Ok(Secret::from_config(raw))
}

/// Where the service runs: the few settings whose defaults differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    Lambda,
    Local,
}

impl Config {
    /// In Lambda every backend is named explicitly; nothing is generated.
    pub fn from_lambda_env() -> Result<Self, ConfigError> {
        Self::from_lambda_env_with(None)
    }

    /// As [`Self::from_lambda_env`], with the JWT key read from Secrets Manager when the
    /// environment names one there instead of holding it.
    pub fn from_lambda_env_with(jwt_from_secret: Option<Secret>) -> Result<Self, ConfigError> {
        let jwt = match jwt_from_secret {
            Some(secret) => jwt_secret(secret.expose().to_owned())?,
            None => jwt_secret(
                var("CHATTING_JWT_SECRET")
                    .ok_or(ConfigError::Missing("CHATTING_JWT_SECRET (or CHATTING_JWT_SECRET_ARN)"))?,
            )?,
        };
        let database_url = var("CHATTING_DATABASE_URL").ok_or(ConfigError::Missing("CHATTING_DATABASE_URL"))?;
        Self::read(database_url, jwt, Where::Lambda)
    }

    /// Locally everything has a default: a SQLite file and a generated JWT secret, both
    /// kept in `data_dir` so that sessions survive a restart.
    pub fn from_local_env(data_dir: &Path) -> Result<Self, ConfigError> {
        let data_dir_error = |source| ConfigError::DataDir { path: data_dir.to_owned(), source };
        std::fs::create_dir_all(data_dir).map_err(data_dir_error)?;
        let database_url = match var("CHATTING_DATABASE_URL") {
            Some(url) => url,
            None => {
                // Every password hash and message lives in this file; SQLite gives its WAL
                // and shared-memory files the same permissions.
                let file = data_dir.join("chatting.db");
                create_owner_only(&file).map_err(data_dir_error)?;
                format!("sqlite://{}?mode=rwc", file.display())
            }
        };
        let jwt_secret = match var("CHATTING_JWT_SECRET") {
            Some(raw) => jwt_secret(raw)?,
            None => Secret::from_config(local_secret(&data_dir.join("jwt-secret")).map_err(data_dir_error)?),
        };
        Self::read(database_url, jwt_secret, Where::Local)
    }

    /// Everything but the store's URL and the JWT key, which each place finds its own way;
    /// the same names and defaults everywhere but where `place` says otherwise.
    fn read(database_url: String, jwt_secret: Secret, place: Where) -> Result<Self, ConfigError> {
        let redis = var("CHATTING_REDIS_URL")
            .map(|url| RedisSettings { url, ca_file: var("CHATTING_REDIS_CA_FILE").map(PathBuf::from) });
        Ok(Self {
            // Locally the table is made on first use; in AWS the stack owns it.
            store: StoreProfile::from_url(&database_url, dynamodb_endpoint_from_env(), place == Where::Local)?,
            redis,
            redis_prefix: var("CHATTING_REDIS_PREFIX").unwrap_or_else(|| "chatting".into()),
            aws: AwsSettings::from_env(),
            jwt_secret,
            management_endpoint: var("CHATTING_MANAGEMENT_ENDPOINT"),
            access_ttl: seconds("CHATTING_ACCESS_TTL_SECS", 900)?,
            refresh_ttl: seconds("CHATTING_REFRESH_TTL_SECS", 30 * 24 * 3600)?,
            session_lifetime: seconds("CHATTING_SESSION_LIFETIME_SECS", 90 * 24 * 3600)?,
            refresh_grace: seconds("CHATTING_REFRESH_GRACE_SECS", 10)?,
            connection_lease: seconds("CHATTING_CONNECTION_LEASE_SECS", crate::presence::CONNECTION_LEASE.as_secs())?,
            // One request at a time per Lambda instance: a small pool is plenty.
            db_max_connections: count("CHATTING_DB_MAX_CONNECTIONS", if place == Where::Lambda { 2 } else { 8 })?,
            chat_sends_per_10s: count("CHATTING_CHAT_SENDS_PER_10S", 20)?,
            changes_per_10s: count("CHATTING_CHANGES_PER_10S", 10)?,
            changes_per_user_per_10s: count("CHATTING_CHANGES_PER_USER_PER_10S", 20)?,
            changes_window: seconds("CHATTING_CHANGES_WINDOW_SECS", 10)?,
            room_kick_bar: seconds("CHATTING_ROOM_KICK_SECS", 600)?,
            allowed_origins: origins(),
            login_attempts_per_user: count("CHATTING_LOGIN_ATTEMPTS_PER_USER", 10)?,
            login_attempts_per_address: count("CHATTING_LOGIN_ATTEMPTS_PER_ADDRESS", 100)?,
            signups_per_address: count("CHATTING_SIGNUPS_PER_ADDRESS", 20)?,
        })
    }
}

/// Reads the secret kept at `path`, creating it (readable by the owner only) on first use.
fn local_secret(path: &Path) -> std::io::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    let secret = crate::auth::random_token().map_err(std::io::Error::other)?;
    let mut file = owner_only_options().write(true).create(true).truncate(true).open(path)?;
    // A file left by an earlier version may have been readable by others.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    Ok(secret)
}

/// Files only the service's own user may read, from the moment they exist.
fn owner_only_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates an empty owner-only file unless one exists.
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    match owner_only_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_secret_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("chatting-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jwt-secret");
        let first = local_secret(&path).unwrap();
        assert!(first.len() >= 32);
        assert_eq!(local_secret(&path).unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_secret_and_the_database_file_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("chatting-modes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let old_umask_would_allow = 0o644;
        std::fs::write(dir.join("jwt-secret"), "short").unwrap();
        std::fs::set_permissions(dir.join("jwt-secret"), std::fs::Permissions::from_mode(old_umask_would_allow))
            .unwrap();
        let config = Config::from_local_env(&dir).unwrap();
        assert!(matches!(&config.store, StoreProfile::Sql { url } if url.starts_with("sqlite://")));
        for file in ["jwt-secret", "chatting.db"] {
            let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file} is {mode:o}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_database_url_chooses_the_store_profile() {
        let dynamodb = StoreProfile::from_url("dynamodb://chat.v2_x/", Some("http://127.0.0.1:1".into()), false);
        assert_eq!(
            dynamodb.unwrap(),
            StoreProfile::DynamoDb(DynamoDbSettings {
                table: "chat.v2_x".into(),
                endpoint: Some("http://127.0.0.1:1".into()),
                create_table: false
            })
        );
        assert_eq!(
            StoreProfile::from_url("mysql://root@db/chat", None, false).unwrap(),
            StoreProfile::sql("mysql://root@db/chat")
        );
        for bad in ["dynamodb://ab", "dynamodb://no spaces", "dynamodb://"] {
            assert!(matches!(StoreProfile::from_url(bad, None, false), Err(ConfigError::Bad { .. })), "{bad}");
        }
    }

    #[test]
    fn short_jwt_secrets_are_refused() {
        assert!(jwt_secret("short".into()).is_err());
        assert!(jwt_secret("x".repeat(32)).is_ok());
    }
}
