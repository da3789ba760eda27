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

use crate::domain::Secret;

/// Where nothing names a region (a laptop against an emulator).
pub(crate) const FALLBACK_REGION: &str = "us-east-1";

/// The endpoint the environment names for a service: `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
/// `DYNAMODB`, `SECRETS_MANAGER`), else `AWS_ENDPOINT_URL`.
pub fn endpoint_from_env(service: &str) -> Option<String> {
    crate::config::var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| crate::config::var("AWS_ENDPOINT_URL"))
}

/// A fixed AWS key. The secret parts never print.
#[derive(Clone, Debug)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub region: String,
}

/// What the environment says about AWS, read once with the rest of the configuration.
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// The environment's key (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`): in Lambda the function role's, on a laptop perhaps a developer's.
    pub keys: Option<AwsKeys>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else us-east-1.
    pub region: String,
}

impl AwsSettings {
    pub fn from_env() -> Self {
        let var = crate::config::var;
        let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).unwrap_or_else(|| FALLBACK_REGION.into());
        let keys = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret)) => Some(AwsKeys {
                access_key_id,
                secret_access_key: Secret::from_config(secret),
                session_token: var("AWS_SESSION_TOKEN").map(Secret::from_config),
                region: region.clone(),
            }),
            _ => None,
        };
        Self { keys, region }
    }

    /// The key that signs for a local endpoint (an emulator, the local gateway): the
    /// environment's, else a placeholder such endpoints accept.
    pub fn local_keys(&self) -> AwsKeys {
        self.keys.clone().unwrap_or_else(|| AwsKeys {
            access_key_id: "local".into(),
            secret_access_key: Secret::from_config("local"),
            session_token: None,
            region: self.region.clone(),
        })
    }

    /// The shared configuration for clients of AWS itself (`endpoint: None`) or of a local
    /// endpoint.
    pub async fn sdk_config(&self, endpoint: Option<&str>) -> SdkConfig {
        match endpoint {
            None => standard_config().await,
            Some(endpoint) => {
                let mut config = static_config(&self.local_keys()).into_builder();
                config.set_endpoint_url(Some(endpoint.trim_end_matches('/').to_owned()));
                config.build()
            }
        }
    }
}

/// The standard chain's configuration, for clients of AWS itself.
pub async fn standard_config() -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(Region::new(FALLBACK_REGION));
    aws_config::defaults(BehaviorVersion::latest()).region(region).load().await
}

/// A configuration that signs with one fixed key (the local gateway's own, a test's).
pub fn static_config(keys: &AwsKeys) -> SdkConfig {
    let credentials = Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.expose().to_owned(),
        keys.session_token.as_ref().map(|token| token.expose().to_owned()),
        None,
        "chatting-static",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(keys.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}
