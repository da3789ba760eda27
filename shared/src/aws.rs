//! How the AWS SDK clients find credentials, region and endpoints.
//!
//! Against AWS: the SDK's standard chain (`aws-config`) — the environment (Lambda's role),
//! shared config and credentials files with profiles (and SSO where the local gateway enables
//! it), web identity, container and instance roles — and `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT_URL_<SERVICE>`. Against a local endpoint (an emulator, the local gateway):
//! the environment's key if it has one, else a placeholder the emulator accepts, and no
//! chain: the instance-metadata lookups would only cost seconds on a laptop.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::push::SigningKeys;

/// Where nothing names a region (a laptop against an emulator).
const FALLBACK_REGION: &str = "us-east-1";

/// The endpoint the environment names for a service: `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `DYNAMODB`, `SECRETS_MANAGER`), else `AWS_ENDPOINT_URL`.
pub fn endpoint_from_env(service: &str) -> Option<String> {
    crate::config::var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| crate::config::var("AWS_ENDPOINT_URL"))
}

/// The shared configuration for clients of AWS itself (`endpoint: None`) or of a local
/// endpoint.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    match endpoint {
        None => {
            let region = RegionProviderChain::default_provider().or_else(Region::new(FALLBACK_REGION));
            aws_config::defaults(BehaviorVersion::latest()).region(region).load().await
        }
        Some(endpoint) => {
            let mut config = static_config(&SigningKeys::from_env()).into_builder();
            config.set_endpoint_url(Some(endpoint.trim_end_matches('/').to_owned()));
            config.build()
        }
    }
}

/// A configuration that signs with one fixed key (the local gateway's own, a test's).
pub fn static_config(keys: &SigningKeys) -> SdkConfig {
    let credentials = Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.clone(),
        keys.session_token.clone(),
        None,
        "chatting-static",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(keys.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}
