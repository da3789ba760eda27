//! Where a test keeps its data: the embedded defaults, a fresh MariaDB database with Redis, or
//! a fresh table on the DynamoDB emulator, chosen by `CHATTING_TEST_BACKEND`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use chatting_shared::config::Config;

use crate::unique;

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
    let sdk = chatting_shared::aws::AwsSettings::from_env().sdk_config(Some(&endpoint)).await?;
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

/// Where `scripts/tls-services` keeps the test CA and runs Redis and MariaDB with TLS.
pub fn tls_dir() -> std::path::PathBuf {
    std::env::var_os("CHATTING_TLS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/chatting-tls"))
}

/// Redis with TLS only (`scripts/tls-services`).
pub const REDIS_TLS_PORT: u16 = 6390;
/// A MariaDB that requires TLS (`scripts/tls-services`).
pub const MYSQL_TLS_PORT: u16 = 3307;
