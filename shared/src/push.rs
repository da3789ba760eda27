//! Sending frames to connections: API Gateway's Management API (`POST @connections/{id}`),
//! through the AWS SDK in AWS and locally alike.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::aws::{AwsError, AwsKeys, AwsSettings, KeepAliveClient};
use crate::domain::ConnectionId;

mod metadata;
mod signing;

/// Management API answers are empty or a short JSON error; anything longer is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The connection no longer exists (HTTP 410): purge it.
    #[error("connection is gone")]
    Gone,
    #[error("push failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Pusher: Send + Sync {
    async fn push(&self, connection: &ConnectionId, frame: &str) -> Result<(), PushError>;
}

/// The Management API client. `endpoint` is `https://{api}.execute-api.{region}.amazonaws.com/{stage}`
/// in AWS and the local gateway's own address locally.
#[derive(Clone, Debug)]
pub struct ApiGatewayPusher {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewayPusher {
    /// Signing with one fixed key: the local gateway's own, a test's.
    pub fn new(endpoint: &str, keys: AwsKeys) -> Self {
        Self { client: Self::client_for(&crate::aws::static_config(&keys), endpoint) }
    }

    /// Signing for AWS as [`AwsSettings::sdk_config`] says: in Lambda with the function
    /// role's key from the environment.
    pub async fn for_aws(endpoint: &str, aws: &AwsSettings) -> Result<Self, AwsError> {
        Ok(Self { client: Self::client_for(&aws.sdk_config(None).await?, endpoint) })
    }

    fn client_for(sdk: &aws_types::SdkConfig, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let region = sdk.region().map_or(crate::aws::FALLBACK_REGION, |region| region.as_ref());
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .push_auth_scheme(signing::DayKeySigV4::new(region))
            .auth_scheme_resolver(signing::UseDayKeySigV4)
            .http_client(KeepAliveClient::new(MAX_ANSWER_BYTES))
            .interceptor(metadata::WithoutMetadataHeaders)
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn push(&self, connection: &ConnectionId, frame: &str) -> Result<(), PushError> {
        crate::metrics::MANAGEMENT_API_CALLS.add(1);
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(frame.as_bytes()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_gone_exception()) => Err(PushError::Gone),
            Err(err) => {
                Err(PushError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&err).to_string()))
            }
        }
    }
}
