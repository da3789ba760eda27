//! `auth-http`: the HTTP API (`/auth/*`, `/health`) behind API Gateway's HTTP API.
//!
//! [`handle`] routes one `lambda_http` request; every answer, errors included, is the
//! JSON envelope of PROTOCOL.md.

use std::net::IpAddr;

use chatting_shared::domain::{Nick, Password, UserId};
use chatting_shared::protocol::{Code, Health, HttpData, HttpEnvelope, MAX_HTTP_BODY_BYTES};
use chatting_shared::service::ServiceError;
use chatting_shared::service::auth::AuthService;
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignupBody {
    user_id: String,
    password: String,
    nick: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody {
    user_id: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: String,
}

fn respond(status: u16, envelope: &HttpEnvelope) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(envelope.to_json()))
        .unwrap_or_default()
}

fn success(status: u16, data: &HttpData) -> Response<Body> {
    respond(status, &HttpEnvelope::success(data))
}

fn failure(err: &ServiceError) -> Response<Body> {
    if err.code() == Code::Error {
        chatting_shared::metrics::FAILURES.add(1);
    }
    let failure = err.to_failure();
    let mut response = respond(err.http_status(), &HttpEnvelope::failure(&failure));
    if let Some(retry_after_ms) = failure.retry_after_ms {
        // Whole seconds, rounded up, as HTTP's Retry-After counts them.
        let seconds = retry_after_ms.div_ceil(1000).max(1);
        if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// The request body as the named JSON object.
fn body_as<T: DeserializeOwned>(request: &Request) -> Result<T, ServiceError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_HTTP_BODY_BYTES {
        return Err(ServiceError::TooLarge(format!("body is over {MAX_HTTP_BODY_BYTES} bytes")));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ServiceError::Invalid(format!("body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ServiceError::Invalid("body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`); the
/// `X-Forwarded-For` header is not used because the client writes it.
fn source_ip(request: &Request) -> Option<IpAddr> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn bearer(request: &Request) -> &str {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or_default()
}

async fn route(auth: &AuthService, request: &Request) -> Result<(u16, HttpData), ServiceError> {
    let path = request.uri().path().trim_end_matches('/');
    let method = request.method();
    match (method, path) {
        (&Method::GET, "/health") => Ok((200, HttpData::Health(Health::OK))),
        (&Method::GET, _) if path.starts_with("/auth/id-check/") => {
            let raw = &path["/auth/id-check/".len()..];
            let decoded = percent_decode(raw);
            Ok((200, HttpData::IdCheck(auth.id_available(&UserId::parse(&decoded)?).await?)))
        }
        (&Method::POST, "/auth/signup") => {
            let body: SignupBody = body_as(request)?;
            let (user_id, password, nick) =
                (UserId::parse(&body.user_id)?, Password::parse(&body.password)?, Nick::parse(&body.nick)?);
            Ok((201, HttpData::Signup(auth.signup_attempt(&user_id, &password, &nick, source_ip(request)).await?)))
        }
        (&Method::POST, "/auth/login") => {
            let body: LoginBody = body_as(request)?;
            Ok((200, HttpData::Login(auth.login_attempt(&body.user_id, &body.password, source_ip(request)).await?)))
        }
        (&Method::POST, "/auth/refresh") => {
            let body: RefreshBody = body_as(request)?;
            Ok((200, HttpData::Refresh(auth.refresh(&body.refresh_token).await?)))
        }
        (&Method::POST, "/auth/logout") => {
            let body: RefreshBody = body_as(request)?;
            Ok((200, HttpData::Logout(auth.logout(&body.refresh_token).await?)))
        }
        (&Method::GET, "/auth/me") => Ok((200, HttpData::Me(auth.me(bearer(request)).await?))),
        _ => Err(ServiceError::NoInfo(format!("no route {method} {path}"))),
    }
}

/// Decodes `%XX` escapes of a path segment; anything malformed is kept as written.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One HTTP request in, one envelope out. Never an `Err` for bad input.
pub async fn handle(auth: &AuthService, request: Request) -> Result<Response<Body>, lambda_http::Error> {
    Ok(match route(auth, &request).await {
        Ok((status, data)) => success(status, &data),
        Err(err) => {
            err.log(request.uri().path());
            failure(&err)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("abc"), "abc");
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
