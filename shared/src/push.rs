//! Sending frames to connections: API Gateway's Management API (`POST @connections/{id}`),
//! through the AWS SDK in AWS and locally alike.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::config::{SharedInterceptor, StalledStreamProtectionConfig};
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::aws::{AwsError, AwsKeys, AwsSettings, KeepAliveClient};
use crate::domain::ConnectionId;

mod metadata;
mod signing;

/// Management API answers are empty or a short JSON error; anything longer is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How long one attempt waits for the endpoint to answer (API Gateway answers in tens of
/// milliseconds). With the SDK's three attempts a silent endpoint costs a push about 7 s,
/// inside the functions' 10 s timeout, where without a limit it would hang the invocation.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// The SDK's default for this behaviour version, kept explicit beside the answer timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

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
        let mut config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .push_auth_scheme(signing::DayKeySigV4::new(region))
            .auth_scheme_resolver(signing::UseDayKeySigV4)
            .http_client(KeepAliveClient::new(MAX_ANSWER_BYTES))
            // The answer timeout bounds a stalled endpoint. Stalled-stream protection watches
            // streaming bodies; these are in memory, so it would only wrap each one per call.
            .timeout_config(
                TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(ANSWER_TIMEOUT).build(),
            )
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            // The SDK measures clock skew from every answer's `Date` for its own SigV4 signer;
            // `DayKeySigV4` signs with the function's clock (synchronised in Lambda).
            .disable_clock_skew_correction(true);
        // Permanent: nothing switches this one off, so no call asks the config bag whether to run it.
        config.push_interceptor(SharedInterceptor::permanent(metadata::WithoutMetadataHeaders));
        aws_sdk_apigatewaymanagement::Client::from_conf(config.build())
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
