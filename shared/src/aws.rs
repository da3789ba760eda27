//! How the AWS SDK clients find credentials, region, endpoints and their connections.
//!
//! Against AWS: the environment's key (`AWS_ACCESS_KEY_ID`, …), which in Lambda is the
//! function role's, and `AWS_REGION`. Where the environment has no key, the SDK's standard
//! chain (`aws-config`: profiles, SSO, web identity, container and instance roles) when the
//! `standard-chain` feature built it in — the local gateway's case; Lambda binaries leave it
//! out, with the STS and SSO clients it brings. `AWS_ENDPOINT_URL` /
//! `AWS_ENDPOINT_URL_<SERVICE>` name other endpoints. Against a local endpoint (an emulator,
//! the local gateway): the environment's key if it has one, else a placeholder the emulator
//! accepts, and no chain: the instance-metadata lookups would only cost seconds on a laptop.
//!
//! Every client sends over [`KeepAliveClient`].

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::domain::Secret;

mod http;

pub use http::KeepAliveClient;
pub(crate) use http::Target;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them to the \
         function role's key)"
    )]
    NoCredentials,
}

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
    pub async fn sdk_config(&self, endpoint: Option<&str>) -> Result<SdkConfig, AwsError> {
        match (endpoint, &self.keys) {
            (Some(endpoint), _) => {
                let mut config = static_config(&self.local_keys()).into_builder();
                config.set_endpoint_url(Some(endpoint.trim_end_matches('/').to_owned()));
                Ok(config.build())
            }
            (None, Some(keys)) => Ok(static_config(keys)),
            (None, None) => standard_chain_config().await.ok_or(AwsError::NoCredentials),
        }
    }
}

/// Credential answers (SSO, STS, instance metadata) are a few kilobytes.
#[cfg(feature = "standard-chain")]
const STANDARD_CHAIN_MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The standard chain's configuration, for clients of AWS itself; `None` where the
/// `standard-chain` feature left the chain out.
#[cfg(feature = "standard-chain")]
async fn standard_chain_config() -> Option<SdkConfig> {
    use aws_config::meta::region::RegionProviderChain;
    let region = RegionProviderChain::default_provider().or_else(Region::new(FALLBACK_REGION));
    // Its providers (SSO, STS, instance metadata) send over the same connections as the rest.
    let loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
    Some(loader.http_client(KeepAliveClient::new(STANDARD_CHAIN_MAX_ANSWER_BYTES)).load().await)
}

#[cfg(not(feature = "standard-chain"))]
async fn standard_chain_config() -> Option<SdkConfig> {
    None
}

/// A configuration that signs with one fixed key: the environment's (in Lambda the role's), the
/// local gateway's own, a test's.
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

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    #[tokio::test]
    async fn clients_of_aws_sign_with_the_environments_key_and_local_ones_with_their_endpoint() {
        let settings = AwsSettings {
            keys: Some(AwsKeys {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::from_config("role-secret"),
                session_token: Some(Secret::from_config("role-session")),
                region: "eu-west-1".into(),
            }),
            region: "eu-west-1".into(),
        };
        let aws = settings.sdk_config(None).await.unwrap();
        let credentials = aws.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "role-secret");
        assert_eq!(credentials.session_token(), Some("role-session"));
        assert_eq!(aws.region().map(|region| region.as_ref()), Some("eu-west-1"));
        assert_eq!(aws.endpoint_url(), None);

        let local = settings.sdk_config(Some("http://127.0.0.1:8000/")).await.unwrap();
        assert_eq!(local.endpoint_url(), Some("http://127.0.0.1:8000"));
    }
}
