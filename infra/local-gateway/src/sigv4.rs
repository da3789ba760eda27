//! AWS Signature Version 4 for the gateway's own Management API and `/metrics`: requests are
//! answered only when signed with the gateway's key, as API Gateway answers only IAM-signed
//! calls. [`verify`] checks what the AWS SDK sends; [`sign`] signs a request the same way for
//! clients without the SDK (tests, benchmarks). The algorithm is `chatting_shared::sigv4`.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method};
use chatting_shared::aws::AwsKeys;
use chatting_shared::sigv4::{self, ALGORITHM};
/// API Gateway refuses signatures older or newer than this.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
const SERVICE: &str = "execute-api";

/// Why a request was refused; each maps to the error type API Gateway would answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("missing authentication token")]
    Missing,
    #[error("incomplete signature: {0}")]
    Incomplete(&'static str),
    #[error("the security token included in the request is invalid")]
    UnknownKey,
    #[error("signature expired or not yet valid")]
    Expired,
    #[error("the request signature does not match")]
    Mismatch,
}

impl Refusal {
    /// The `x-amzn-ErrorType` API Gateway answers with (all are 403).
    pub fn error_type(&self) -> &'static str {
        match self {
            Refusal::Missing => "MissingAuthenticationTokenException",
            Refusal::Incomplete(_) => "IncompleteSignatureException",
            Refusal::UnknownKey => "UnrecognizedClientException",
            Refusal::Expired | Refusal::Mismatch => "InvalidSignatureException",
        }
    }

    /// The JSON body that goes with it.
    pub fn body(&self) -> &'static str {
        match self {
            Refusal::Missing => r#"{"message":"Missing Authentication Token"}"#,
            Refusal::Incomplete(_) => r#"{"message":"Incomplete signature"}"#,
            Refusal::UnknownKey => r#"{"message":"The security token included in the request is invalid"}"#,
            Refusal::Expired => r#"{"message":"Signature expired"}"#,
            Refusal::Mismatch => {
                r#"{"message":"The request signature we calculated does not match the signature you provided"}"#
            }
        }
    }
}

/// The parts of a request that a signature covers.
pub struct SignedParts<'a> {
    pub method: &'a Method,
    /// The path as sent (percent-encoded), without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// `Credential=…, SignedHeaders=…, Signature=…` of an `Authorization` header.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Refusal> {
    let fields = value.strip_prefix(ALGORITHM).ok_or(Refusal::Incomplete("not AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',').map(str::trim) {
        match field.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let credential = credential.ok_or(Refusal::Incomplete("no Credential"))?;
    let mut scope = credential.split('/');
    let mut part = || scope.next().filter(|p| !p.is_empty()).ok_or(Refusal::Incomplete("malformed Credential"));
    let (key_id, date, region, service, terminator) = (part()?, part()?, part()?, part()?, part()?);
    if terminator != "aws4_request" {
        return Err(Refusal::Incomplete("malformed Credential"));
    }
    Ok(Authorization {
        key_id,
        date,
        region,
        service,
        signed_headers: signed_headers.ok_or(Refusal::Incomplete("no SignedHeaders"))?,
        signature: signature.ok_or(Refusal::Incomplete("no Signature"))?,
    })
}

/// Checks that `request` was signed by `key` within the last few minutes.
pub fn verify(request: &SignedParts<'_>, key: &AwsKeys, now: SystemTime) -> Result<(), Refusal> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = parse_authorization(header("authorization").ok_or(Refusal::Missing)?)?;
    if authorization.key_id != key.access_key_id || key.secret_access_key.expose().is_empty() {
        return Err(Refusal::UnknownKey);
    }
    let amz_date = header("x-amz-date").ok_or(Refusal::Incomplete("no X-Amz-Date"))?;
    let signed_at = sigv4::parse_amz_date(amz_date).ok_or(Refusal::Incomplete("malformed X-Amz-Date"))?;
    // A signature from the future is as suspect as an old one.
    let skew = match now.duration_since(signed_at) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(Refusal::Expired);
    }
    if !amz_date.starts_with(authorization.date) || authorization.service != SERVICE {
        return Err(Refusal::Incomplete("credential scope does not match"));
    }
    let names: Vec<&str> = authorization.signed_headers.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err(Refusal::Incomplete("host and x-amz-date must be signed"));
    }
    if let Some(token) = &key.session_token
        && header("x-amz-security-token") != Some(token.expose())
    {
        return Err(Refusal::UnknownKey);
    }
    let expected = signature(request, &names, key, amz_date, authorization.region);
    let given = authorization.signature.as_bytes();
    // Compared in constant time: the signature is the secret's only witness.
    if !same_in_constant_time(given, expected.as_bytes()) {
        return Err(Refusal::Mismatch);
    }
    Ok(())
}

/// The headers that sign `request` (whose headers must already hold `host`) with `key` at
/// `now`: `x-amz-date` and `authorization`, plus `x-amz-security-token` for a session key.
/// For clients without the SDK (tests, benchmarks).
pub fn sign(request: &SignedParts<'_>, key: &AwsKeys, now: SystemTime) -> Vec<(&'static str, String)> {
    let amz_date = sigv4::format_amz_date(now);
    let mut headers = request.headers.clone();
    let mut added = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = &key.session_token {
        added.push(("x-amz-security-token", token.expose().to_owned()));
    }
    for (name, value) in &added {
        if let Ok(value) = value.parse() {
            headers.insert(*name, value);
        }
    }
    let mut names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let signature = signature(&SignedParts { headers: &headers, ..*request }, &names, key, &amz_date, &key.region);
    let scope = sigv4::credential_scope(sigv4::scope_date(&amz_date), &key.region, SERVICE);
    added.push(("authorization", sigv4::authorization(&key.access_key_id, &scope, &names.join(";"), &signature)));
    added
}

/// The signature of `request` over the headers `signed_headers` (in order).
fn signature(
    request: &SignedParts<'_>,
    signed_headers: &[&str],
    key: &AwsKeys,
    amz_date: &str,
    region: &str,
) -> String {
    let values: Vec<String> = signed_headers
        .iter()
        .map(|name| {
            let all: Vec<String> = request
                .headers
                .get_all(*name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            all.join(",")
        })
        .collect();
    let headers: Vec<(&str, &str)> = signed_headers.iter().copied().zip(values.iter().map(String::as_str)).collect();
    let canonical = sigv4::canonical_request(
        request.method.as_str(),
        request.path,
        request.query,
        &headers,
        &sigv4::sha256_hex(request.body),
    );
    let date = sigv4::scope_date(amz_date);
    let scope = sigv4::credential_scope(date, region, SERVICE);
    sigv4::SigningKey::derive(key.secret_access_key.expose(), date, region, SERVICE)
        .signature(&sigv4::string_to_sign(amz_date, &scope, &canonical))
}

/// Whether `a` and `b` are equal, looking at every byte whatever the first difference.
fn same_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && std::hint::black_box(a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y))) == 0
}

#[cfg(test)]
mod tests {
    use chatting_shared::domain::Secret;

    use super::*;

    fn key() -> AwsKeys {
        AwsKeys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::from_config("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: None,
            region: "us-east-1".into(),
        }
    }

    fn with_host(host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        headers
    }

    /// The string to sign and the signing key of AWS's documented example (IAM
    /// `ListUsers`, 20150830), here for `execute-api`: the same derivation, another service.
    #[test]
    fn a_signature_from_sign_verifies_and_any_change_breaks_it() {
        let now = SystemTime::now();
        let unsigned = with_host("127.0.0.1:3000");
        let request = SignedParts {
            method: &Method::POST,
            path: "/@connections/abc%3D",
            query: None,
            headers: &unsigned,
            body: b"{\"event\":\"chat.in\"}",
        };
        let mut headers = unsigned.clone();
        for (name, value) in sign(&request, &key(), now) {
            headers.insert(name, value.parse().unwrap());
        }
        let signed = SignedParts { headers: &headers, ..request };
        assert_eq!(verify(&signed, &key(), now), Ok(()));
        assert_eq!(
            verify(&SignedParts { body: b"{\"event\":\"forged\"}", ..signed }, &key(), now),
            Err(Refusal::Mismatch)
        );
        assert_eq!(verify(&SignedParts { path: "/@connections/other", ..signed }, &key(), now), Err(Refusal::Mismatch));
        assert_eq!(verify(&SignedParts { method: &Method::DELETE, ..signed }, &key(), now), Err(Refusal::Mismatch));
        let other_secret = AwsKeys { secret_access_key: Secret::from_config("another"), ..key() };
        assert_eq!(verify(&signed, &other_secret, now), Err(Refusal::Mismatch));
        let other_key = AwsKeys { access_key_id: "AKIDOTHER".into(), ..key() };
        assert_eq!(verify(&signed, &other_key, now), Err(Refusal::UnknownKey));
        assert_eq!(verify(&signed, &key(), now + Duration::from_secs(6 * 60)), Err(Refusal::Expired));
        assert_eq!(verify(&SignedParts { headers: &unsigned, ..signed }, &key(), now), Err(Refusal::Missing));
    }
}
