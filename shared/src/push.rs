//! Sending frames to connections: API Gateway's Management API (`POST @connections/{id}`),
//! through the AWS SDK in AWS and locally alike.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use tokio::sync::OnceCell;

use crate::aws::AwsKeys;
use crate::domain::ConnectionId;

mod http;
mod metadata;
mod signing;

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
    client: Arc<OnceCell<aws_sdk_apigatewaymanagement::Client>>,
    endpoint: Arc<str>,
}

impl ApiGatewayPusher {
    /// Signing with one fixed key: the local gateway's own, a test's.
    pub fn new(endpoint: &str, keys: AwsKeys) -> Self {
        let client = Self::client_for(&crate::aws::static_config(&keys), endpoint);
        Self { client: Arc::new(OnceCell::new_with(Some(client))), endpoint: endpoint.into() }
    }

    /// Signing as the SDK's standard chain says (in Lambda: the function role's credentials).
    /// The chain is loaded in the background from now on, so that a cold start does not
    /// wait for it; the first push waits only for what is left of it.
    pub fn from_standard_chain(endpoint: &str) -> Self {
        let pusher = Self { client: Arc::new(OnceCell::new()), endpoint: endpoint.into() };
        let early = pusher.clone();
        tokio::spawn(async move {
            early.client().await;
        });
        pusher
    }

    fn client_for(sdk: &aws_config::SdkConfig, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let region = sdk.region().map_or(crate::aws::FALLBACK_REGION, |region| region.as_ref());
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint.trim_end_matches('/'))
            .push_auth_scheme(signing::DayKeySigV4::new(region))
            .auth_scheme_resolver(signing::UseDayKeySigV4)
            .http_client(http::KeepAliveClient::default())
            .interceptor(metadata::WithoutMetadataHeaders)
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }

    async fn client(&self) -> &aws_sdk_apigatewaymanagement::Client {
        self.client
            .get_or_init(|| async { Self::client_for(&crate::aws::standard_config().await, &self.endpoint) })
            .await
    }
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn push(&self, connection: &ConnectionId, frame: &str) -> Result<(), PushError> {
        crate::metrics::MANAGEMENT_API_CALLS.add(1);
        let sent = self
            .client()
            .await
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

/// What a signature covers of an absolute URI, and where it is sent.
#[derive(Debug, PartialEq)]
struct Target<'a> {
    scheme: &'a str,
    /// `host[:port]` without the scheme's default port, as HTTP clients send `Host`.
    host: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> Target<'a> {
    fn of(uri: &'a str) -> Option<Self> {
        let (scheme, rest) = uri.split_once("://")?;
        let (authority, path_and_query) = rest.find(['/', '?']).map_or((rest, ""), |at| rest.split_at(at));
        if authority.is_empty() {
            return None;
        }
        let default_port = if scheme.eq_ignore_ascii_case("https") { ":443" } else { ":80" };
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        Some(Self {
            scheme,
            host: authority.strip_suffix(default_port).unwrap_or(authority),
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_splits_the_uri_and_drops_only_the_schemes_default_port() {
        let target = |scheme, host, path, query| Some(Target { scheme, host, path, query });
        assert_eq!(
            Target::of("https://abc.execute-api.eu-west-1.amazonaws.com/prod/@connections/x%3D"),
            target("https", "abc.execute-api.eu-west-1.amazonaws.com", "/prod/@connections/x%3D", None)
        );
        assert_eq!(Target::of("https://h:443/p?a=1"), target("https", "h", "/p", Some("a=1")));
        assert_eq!(
            Target::of("http://127.0.0.1:3000/@connections/x"),
            target("http", "127.0.0.1:3000", "/@connections/x", None)
        );
        assert_eq!(Target::of("http://127.0.0.1:80"), target("http", "127.0.0.1", "/", None));
        assert_eq!(Target::of("no-scheme"), None);
        assert_eq!(Target::of("http:///path"), None);
    }
}
