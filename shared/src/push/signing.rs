//! How the Management API client signs: SigV4 as the SDK's own signer does it, but with the
//! day's signing key kept between calls and only the headers API Gateway needs signed. A
//! busy room costs one `PostToConnection` per recipient, and the SDK's signer derives the
//! key again (four HMACs) and canonicalises every header of every call.

use std::sync::Mutex;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::{
    AuthScheme, AuthSchemeEndpointConfig, AuthSchemeId, AuthSchemeOption, AuthSchemeOptionsFuture, Sign,
};
use aws_smithy_runtime_api::client::identity::{Identity, SharedIdentityResolver};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{GetIdentityResolver, RuntimeComponents};
use aws_smithy_types::config_bag::ConfigBag;

use crate::aws::Target;
use crate::domain::Secret;
use crate::sigv4::{self, SigningKey};

const SERVICE: &str = "execute-api";
/// The scheme's own id; it resolves credentials as the SDK's `sigv4` does.
const SCHEME_ID: AuthSchemeId = AuthSchemeId::new("chatting-sigv4");
const SDK_SIGV4: AuthSchemeId = AuthSchemeId::new("sigv4");

/// The auth scheme, registered on the client's config.
#[derive(Debug)]
pub(super) struct DayKeySigV4 {
    signer: DayKeySigner,
}

impl DayKeySigV4 {
    pub(super) fn new(region: &str) -> Self {
        Self { signer: DayKeySigner { region: region.to_owned(), day_key: Mutex::new(None) } }
    }
}

impl AuthScheme for DayKeySigV4 {
    fn scheme_id(&self) -> AuthSchemeId {
        SCHEME_ID
    }

    fn identity_resolver(&self, identity_resolvers: &dyn GetIdentityResolver) -> Option<SharedIdentityResolver> {
        // The credentials provider the SDK configuration registered for SigV4 (and its cache).
        identity_resolvers.identity_resolver(SDK_SIGV4)
    }

    fn signer(&self) -> &dyn Sign {
        &self.signer
    }
}

/// Chooses [`DayKeySigV4`] for every operation of the client.
#[derive(Debug)]
pub(super) struct UseDayKeySigV4;

impl aws_sdk_apigatewaymanagement::config::auth::ResolveAuthScheme for UseDayKeySigV4 {
    fn resolve_auth_scheme<'a>(
        &'a self,
        _params: &'a aws_sdk_apigatewaymanagement::config::auth::Params,
        _cfg: &'a ConfigBag,
        _runtime_components: &'a RuntimeComponents,
    ) -> AuthSchemeOptionsFuture<'a> {
        AuthSchemeOptionsFuture::ready(Ok(vec![AuthSchemeOption::from(SCHEME_ID)]))
    }
}

#[derive(Debug)]
struct DayKeySigner {
    region: String,
    day_key: Mutex<Option<DayKey>>,
}

/// The signing key of one day for one set of credentials.
#[derive(Debug)]
struct DayKey {
    date: String,
    access_key_id: String,
    secret_access_key: Secret,
    key: SigningKey,
}

impl DayKeySigner {
    fn key_for(&self, date: &str, credentials: &Credentials) -> SigningKey {
        let mut day_key = self.day_key.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*day_key {
            Some(known)
                if known.date == date
                    && known.access_key_id == credentials.access_key_id()
                    && known.secret_access_key.expose() == credentials.secret_access_key() =>
            {
                known.key.clone()
            }
            _ => {
                let key = SigningKey::derive(credentials.secret_access_key(), date, &self.region, SERVICE);
                *day_key = Some(DayKey {
                    date: date.to_owned(),
                    access_key_id: credentials.access_key_id().to_owned(),
                    secret_access_key: Secret::from_config(credentials.secret_access_key()),
                    key: key.clone(),
                });
                key
            }
        }
    }
}

impl Sign for DayKeySigner {
    fn sign_http_request(
        &self,
        request: &mut HttpRequest,
        identity: &Identity,
        _auth_scheme_endpoint_config: AuthSchemeEndpointConfig<'_>,
        runtime_components: &RuntimeComponents,
        _config_bag: &ConfigBag,
    ) -> Result<(), BoxError> {
        let credentials = identity.data::<Credentials>().ok_or("SigV4 needs AWS credentials")?;
        let now = runtime_components.time_source().map_or_else(SystemTime::now, |clock| clock.now());
        let amz_date = sigv4::format_amz_date(now);
        let date = sigv4::scope_date(&amz_date);
        let target = Target::of(request.uri()).ok_or("the request's URI is not absolute")?;
        let host = target.host.to_owned();
        let body = request.body().bytes().ok_or("a streaming body cannot be signed here")?;

        let mut signed: Vec<(&'static str, &str)> = vec![("host", &host), ("x-amz-date", &amz_date)];
        if let Some(token) = credentials.session_token() {
            signed.push(("x-amz-security-token", token));
        }
        let canonical = sigv4::canonical_request(request.method(), target.path, target.query, &signed, body);
        let scope = sigv4::credential_scope(date, &self.region, SERVICE);
        let signature =
            self.key_for(date, credentials).signature(&sigv4::string_to_sign(&amz_date, &scope, &canonical));
        let names: Vec<&str> = signed.iter().map(|(name, _)| *name).collect();
        let authorization = sigv4::authorization(credentials.access_key_id(), &scope, &names.join(";"), &signature);

        let headers = request.headers_mut();
        for (name, value) in signed {
            headers.try_insert(name, value.to_owned())?;
        }
        headers.try_insert("authorization", authorization)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_key_is_derived_again_for_a_new_day_or_new_credentials() {
        let signer = DayKeySigV4::new("eu-west-1").signer;
        let first = Credentials::new("AKID1", "secret-one", None, None, "test");
        let rotated = Credentials::new("AKID2", "secret-two", None, None, "test");
        let sign = |key: SigningKey| key.signature("string to sign");
        let today = sign(signer.key_for("20261130", &first));
        assert_eq!(sign(signer.key_for("20261130", &first)), today);
        assert_ne!(sign(signer.key_for("20261201", &first)), today);
        assert_ne!(sign(signer.key_for("20261130", &rotated)), today);
        assert_eq!(
            sign(signer.key_for("20261130", &rotated)),
            sign(SigningKey::derive("secret-two", "20261130", "eu-west-1", SERVICE))
        );
    }
}
