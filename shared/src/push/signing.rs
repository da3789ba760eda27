//! How the Management API client signs: SigV4 as the SDK's own signer does it, but with the
//! day's signing key kept between calls and only the headers API Gateway needs signed. A
//! busy room costs one `PostToConnection` per recipient, and the SDK's signer derives the
//! key again (four HMACs) and canonicalises every header of every call. One event goes to
//! every recipient with the same body, so the body's hash is kept for the next call too.

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
        Self { signer: DayKeySigner { region: region.to_owned(), kept: Mutex::default() } }
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
    kept: Mutex<Kept>,
}

/// What one call works out and the next can reuse: calls in the same second share their
/// `x-amz-date`, in the same day their key, recipients of the same event its body's hash.
#[derive(Debug, Default)]
struct Kept {
    amz_date: Option<(u64, String)>,
    day_key: Option<DayKey>,
    payload: Option<PayloadHash>,
}

/// A body and its SHA-256.
#[derive(Debug)]
struct PayloadHash {
    body: Vec<u8>,
    hex: String,
}

/// Bodies longer than this are hashed every time rather than kept: chat frames are far
/// shorter, and the copy would cost more than it saves.
const MAX_KEPT_PAYLOAD: usize = 16 * 1024;

/// The signing key of one day for one set of credentials.
#[derive(Debug)]
struct DayKey {
    date: String,
    access_key_id: String,
    secret_access_key: Secret,
    key: SigningKey,
}

impl Kept {
    fn amz_date(&mut self, now: SystemTime) -> String {
        let second = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_secs());
        match &self.amz_date {
            Some((known, amz_date)) if *known == second => amz_date.clone(),
            _ => {
                let amz_date = sigv4::format_amz_date(now);
                self.amz_date = Some((second, amz_date.clone()));
                amz_date
            }
        }
    }

    fn payload_hash(&mut self, body: &[u8]) -> String {
        if body.len() > MAX_KEPT_PAYLOAD {
            return sigv4::sha256_hex(body);
        }
        match &self.payload {
            Some(known) if known.body == body => known.hex.clone(),
            _ => {
                let hex = sigv4::sha256_hex(body);
                self.payload = Some(PayloadHash { body: body.to_vec(), hex: hex.clone() });
                hex
            }
        }
    }

    fn key_for(&mut self, date: &str, credentials: &Credentials, region: &str) -> SigningKey {
        match &self.day_key {
            Some(known)
                if known.date == date
                    && known.access_key_id == credentials.access_key_id()
                    && known.secret_access_key.expose() == credentials.secret_access_key() =>
            {
                known.key.clone()
            }
            _ => {
                let key = SigningKey::derive(credentials.secret_access_key(), date, region, SERVICE);
                self.day_key = Some(DayKey {
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
        let target = Target::of(request.uri()).ok_or("the request's URI is not absolute")?;
        let body = request.body().bytes().ok_or("a streaming body cannot be signed here")?;
        let mut kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let amz_date = kept.amz_date(now);
        let date = sigv4::scope_date(&amz_date);
        let key = kept.key_for(date, credentials, &self.region);
        let payload_hash = kept.payload_hash(body);
        drop(kept);

        // `host` is signed as the connection sends it (from the URI); it is not a header yet.
        let token = credentials.session_token();
        let all =
            [("host", target.host), ("x-amz-date", &amz_date), ("x-amz-security-token", token.unwrap_or_default())];
        let (signed, signed_names) = match token {
            Some(_) => (&all[..], "host;x-amz-date;x-amz-security-token"),
            None => (&all[..2], "host;x-amz-date"),
        };
        let canonical = sigv4::canonical_request(request.method(), target.path, target.query, signed, &payload_hash);
        let scope = sigv4::credential_scope(date, &self.region, SERVICE);
        let signature = key.signature(&sigv4::string_to_sign(&amz_date, &scope, &canonical));
        let authorization = sigv4::authorization(credentials.access_key_id(), &scope, signed_names, &signature);

        let headers = request.headers_mut();
        if let Some(token) = token {
            headers.try_insert("x-amz-security-token", token.to_owned())?;
        }
        headers.try_insert("x-amz-date", amz_date)?;
        headers.try_insert("authorization", authorization)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_body_signed_again_keeps_its_hash_and_another_body_gets_its_own() {
        let mut kept = Kept::default();
        let frame = br#"{"type":"event","event":"chat.in"}"#;
        let next = br#"{"type":"event","event":"chat.edited"}"#;
        assert_eq!(kept.payload_hash(frame), sigv4::sha256_hex(frame));
        assert_eq!(kept.payload_hash(frame), sigv4::sha256_hex(frame));
        assert_eq!(kept.payload_hash(next), sigv4::sha256_hex(next));
        assert_eq!(kept.payload_hash(frame), sigv4::sha256_hex(frame));
        let long = vec![b'x'; MAX_KEPT_PAYLOAD + 1];
        assert_eq!(kept.payload_hash(&long), sigv4::sha256_hex(&long));
        let body = kept.payload.as_ref().map(|payload| payload.body.as_slice());
        assert_eq!(body, Some(&frame[..]), "a long body is not kept");
    }

    #[test]
    fn the_date_is_formatted_again_for_each_new_second() {
        let mut kept = Kept::default();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_083_199);
        assert_eq!(kept.amz_date(at), "20261130T235959Z");
        assert_eq!(kept.amz_date(at + Duration::from_millis(999)), "20261130T235959Z");
        assert_eq!(kept.amz_date(at + Duration::from_secs(1)), "20261201T000000Z");
    }

    #[test]
    fn the_day_key_is_derived_again_for_a_new_day_or_new_credentials() {
        let mut kept = Kept::default();
        let first = Credentials::new("AKID1", "secret-one", None, None, "test");
        let rotated = Credentials::new("AKID2", "secret-two", None, None, "test");
        let sign = |key: SigningKey| key.signature("string to sign");
        let today = sign(kept.key_for("20261130", &first, "eu-west-1"));
        assert_eq!(sign(kept.key_for("20261130", &first, "eu-west-1")), today);
        assert_ne!(sign(kept.key_for("20261201", &first, "eu-west-1")), today);
        assert_ne!(sign(kept.key_for("20261130", &rotated, "eu-west-1")), today);
        assert_eq!(
            sign(kept.key_for("20261130", &rotated, "eu-west-1")),
            sign(SigningKey::derive("secret-two", "20261130", "eu-west-1", SERVICE))
        );
    }
}
