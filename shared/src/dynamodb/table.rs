//! The table and its client: the client built from the environment (counting its requests,
//! its tracing muted), the table named by a `dynamodb://` URL, and `ensure_table` for
//! development and tests (in AWS, `template.yaml` creates the table).

use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};

use super::codec::Item;
use super::{DynamoError, PK, SK, TTL};

/// The table and the client that reaches it.
#[derive(Clone, Debug)]
pub struct Table {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

impl Table {
    /// One item by its key, read strongly consistent (the store and presence both decide
    /// on what they read).
    pub async fn get_item(&self, key: Item) -> Result<Option<Item>, DynamoError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .quiet()
            .await
            .map_err(|err| DynamoError::request("GetItem", err))?;
        Ok(out.item)
    }
}

/// Runs an SDK call with the SDK's own tracing events muted: at TRACE they print whole requests
/// and responses, password hashes included. Failures still reach the caller as errors.
pub trait Quiet: std::future::Future + Sized {
    fn quiet(self) -> tracing::instrument::WithDispatch<Self> {
        tracing::instrument::WithSubscriber::with_subscriber(self, tracing::subscriber::NoSubscriber::default())
    }
}

impl<F: std::future::Future> Quiet for F {}

/// Counts every attempt the SDK sends, retries included: each one is a billed request.
#[derive(Debug)]
struct CountRequests;

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        crate::metrics::DYNAMODB_REQUESTS.add(1);
        Ok(())
    }
}

/// The longest answer read: `BatchGetItem` returns at most 16 MB of items (a `Query` or `Scan`
/// page 1 MB), and their JSON encoding adds to that. Memory grows only as an answer arrives.
const MAX_ANSWER_BYTES: usize = 24 * 1024 * 1024;

/// A client on `sdk`'s credentials, region and endpoint, counting its requests.
pub fn client(sdk: &aws_types::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .http_client(crate::aws::KeepAliveClient::new(MAX_ANSWER_BYTES))
            .interceptor(CountRequests)
            .build(),
    )
}

/// Creates the table (on-demand, TTL on `ttl`) unless it exists, and waits until it is active.
pub async fn ensure_table(table: &Table) -> Result<(), DynamoError> {
    if table_status(table).await?.is_none() {
        let created = table
            .client
            .create_table()
            .table_name(&table.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(key_attribute(PK)?)
            .attribute_definitions(key_attribute(SK)?)
            .key_schema(key_element(PK, KeyType::Hash)?)
            .key_schema(key_element(SK, KeyType::Range)?)
            .send()
            .quiet()
            .await;
        match created {
            Ok(_) => {}
            // Another process created it first.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(err) => return Err(DynamoError::request("CreateTable", err)),
        }
        wait_active(table).await?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL)
            .build()
            .map_err(|e| DynamoError::request("UpdateTimeToLive", e))?;
        let enabled = table
            .client
            .update_time_to_live()
            .table_name(&table.name)
            .time_to_live_specification(ttl)
            .send()
            .quiet()
            .await;
        match enabled {
            Ok(_) => {}
            // The creator that won the race enabled it already.
            Err(err) if err.message().is_some_and(|m| m.contains("already enabled")) => {}
            Err(err) => return Err(DynamoError::request("UpdateTimeToLive", err)),
        }
    }
    wait_active(table).await
}

/// Deletes the table; for tests that made their own.
pub async fn delete_table(table: &Table) -> Result<(), DynamoError> {
    match table.client.delete_table().table_name(&table.name).send().quiet().await {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(()),
        Err(err) => Err(DynamoError::request("DeleteTable", err)),
    }
}

async fn table_status(table: &Table) -> Result<Option<TableStatus>, DynamoError> {
    match table.client.describe_table().table_name(&table.name).send().quiet().await {
        Ok(out) => Ok(Some(out.table().and_then(|t| t.table_status()).cloned().unwrap_or(TableStatus::Creating))),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(err) => Err(DynamoError::request("DescribeTable", err)),
    }
}

async fn wait_active(table: &Table) -> Result<(), DynamoError> {
    for _ in 0..120 {
        if table_status(table).await? == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(DynamoError::NotActive(table.name.clone()))
}

fn key_attribute(name: &str) -> Result<AttributeDefinition, DynamoError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| DynamoError::request("CreateTable", e))
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, DynamoError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| DynamoError::request("CreateTable", e))
}
