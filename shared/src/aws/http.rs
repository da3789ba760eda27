//! The SDK clients' HTTP/1.1 connections: requests and answers held in memory, kept alive and
//! reused per origin. Under the SDK's operation (retries, errors, signing stay the SDK's), it
//! writes the SDK's request as it is, where the SDK's general-purpose client converts it to
//! another request type, checks it out of a pool and runs it through a connection task (and
//! links HTTP/2, which no client here speaks). TLS (rustls, the system's roots) for `https`.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a signature covers of an absolute URI, and where it is sent.
#[derive(Debug, PartialEq)]
pub(crate) struct Target<'a> {
    pub(crate) scheme: &'a str,
    /// `host[:port]` without the scheme's default port, as HTTP clients send `Host`.
    pub(crate) host: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
}

impl<'a> Target<'a> {
    pub(crate) fn of(uri: &'a str) -> Option<Self> {
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

/// Idle connections kept for reuse; a Lambda instance sends from one invocation at a time,
/// the local gateway from a few tasks.
const MAX_IDLE: usize = 32;
const MAX_HEADERS: usize = 32;

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error("the endpoint {0} is not an http or https URL")]
    BadEndpoint(String),
    #[error("the connection closed before a complete answer")]
    ClosedEarly,
    #[error("the answer is malformed: {0}")]
    Malformed(&'static str),
    #[error("the answer is longer than {0} bytes")]
    TooLong(usize),
    #[error("no TLS root certificates could be loaded")]
    NoRoots,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The client an SDK config takes (`http_client`).
#[derive(Clone, Debug)]
pub struct KeepAliveClient {
    connector: Arc<OnceLock<SharedHttpConnector>>,
    max_answer_bytes: usize,
}

impl KeepAliveClient {
    /// A client that refuses answers longer than `max_answer_bytes` (head and body each), so
    /// that a broken or hostile endpoint costs an error rather than memory.
    pub fn new(max_answer_bytes: usize) -> Self {
        Self { connector: Arc::default(), max_answer_bytes }
    }
}

impl HttpClient for KeepAliveClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _components: &RuntimeComponents) -> SharedHttpConnector {
        // The SDK asks once per attempt with the client's fixed timeouts: one connector (and
        // its idle connections) serves them all.
        self.connector
            .get_or_init(|| {
                SharedHttpConnector::new(KeepAliveConnector(Arc::new(Connections {
                    idle: Mutex::new(Vec::new()),
                    connect_timeout: settings.connect_timeout(),
                    read_timeout: settings.read_timeout(),
                    max_answer_bytes: self.max_answer_bytes,
                })))
            })
            .clone()
    }
}

#[derive(Debug)]
struct KeepAliveConnector(Arc<Connections>);

#[derive(Debug)]
struct Connections {
    idle: Mutex<Vec<Connection>>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    max_answer_bytes: usize,
}

impl HttpConnector for KeepAliveConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let connections = self.0.clone();
        HttpConnectorFuture::new(async move { connections.send(request).await })
    }
}

/// Where a connection goes: scheme, host and port.
#[derive(Debug)]
struct Origin {
    tls: bool,
    /// `Host` as signed: no default port.
    host: String,
    /// Host name (for TLS) and port to dial.
    name: String,
    port: u16,
}

/// `Some(true)` for `https`, `Some(false)` for `http`: the schemes these connections speak.
fn speaks_tls(target: &Target<'_>) -> Option<bool> {
    match target.scheme.to_ascii_lowercase().as_str() {
        "https" => Some(true),
        "http" => Some(false),
        _ => None,
    }
}

impl Origin {
    fn of(tls: bool, target: &Target<'_>) -> Result<Self, HttpError> {
        let default_port = if tls { 443 } else { 80 };
        let (name, port) = match target.host.rsplit_once(':') {
            // An IPv6 literal without a port ends in `]`, not in digits.
            Some((name, port)) if !port.contains(']') => {
                (name, port.parse().map_err(|_| HttpError::BadEndpoint(target.host.to_owned()))?)
            }
            _ => (target.host, default_port),
        };
        Ok(Self { tls, host: target.host.to_owned(), name: name.trim_matches(['[', ']']).to_owned(), port })
    }

    fn serves(&self, tls: bool, host: &str) -> bool {
        self.tls == tls && self.host == host
    }
}

#[derive(Debug)]
struct Connection {
    origin: Origin,
    stream: Stream,
    buffer: Vec<u8>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl Stream {
    async fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.write_all(bytes).await,
            Stream::Tls(stream) => {
                stream.write_all(bytes).await?;
                stream.flush().await
            }
        }
    }

    async fn read_buf(&mut self, buffer: &mut Vec<u8>) -> std::io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read_buf(buffer).await,
            Stream::Tls(stream) => stream.read_buf(buffer).await,
        }
    }
}

/// A parsed answer and whether its connection may carry another request.
struct Answer {
    response: HttpResponse,
    reusable: bool,
}

impl Connections {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ConnectorError> {
        let target = Target::of(request.uri()).ok_or_else(|| ConnectorError::user(bad_endpoint(request.uri())))?;
        let tls = speaks_tls(&target).ok_or_else(|| ConnectorError::user(bad_endpoint(request.uri())))?;
        let message = request_bytes(&request, &target).ok_or_else(|| {
            ConnectorError::user("a streaming request body cannot be sent on these connections".into())
        })?;

        // A kept-alive connection the server has since closed fails before any answer: the
        // request was not taken, so it goes again once on a new connection.
        if let Some(mut connection) = self.take_idle(tls, target.host) {
            match self.exchange(&mut connection, &message).await {
                Ok(answer) => return Ok(self.finish(connection, answer)),
                Err(HttpError::ClosedEarly) if connection.buffer.is_empty() => {}
                Err(HttpError::Io(err))
                    if connection.buffer.is_empty()
                        && matches!(
                            err.kind(),
                            std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::BrokenPipe
                                | std::io::ErrorKind::ConnectionAborted
                        ) => {}
                Err(err) => return Err(connector_error(err)),
            }
        }
        let origin = Origin::of(tls, &target).map_err(|err| ConnectorError::user(err.into()))?;
        let mut connection = self.connect(origin).await?;
        let answer = self.exchange(&mut connection, &message).await.map_err(connector_error)?;
        Ok(self.finish(connection, answer))
    }

    fn take_idle(&self, tls: bool, host: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = idle.iter().rposition(|connection| connection.origin.serves(tls, host))?;
        Some(idle.swap_remove(at))
    }

    fn finish(&self, mut connection: Connection, answer: Answer) -> HttpResponse {
        if answer.reusable {
            connection.buffer.clear();
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        answer.response
    }

    async fn connect(&self, origin: Origin) -> Result<Connection, ConnectorError> {
        let dial = async {
            let tcp = TcpStream::connect((origin.name.as_str(), origin.port)).await?;
            tcp.set_nodelay(true)?;
            let stream = if origin.tls {
                let server_name = rustls::pki_types::ServerName::try_from(origin.name.clone())
                    .map_err(|_| HttpError::BadEndpoint(origin.name.clone()))?;
                Stream::Tls(Box::new(tls_connector()?.connect(server_name, tcp).await?))
            } else {
                Stream::Plain(tcp)
            };
            Ok::<_, HttpError>(stream)
        };
        let stream = match self.connect_timeout {
            Some(limit) => {
                tokio::time::timeout(limit, dial).await.map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?
            }
            None => dial.await,
        }
        .map_err(connector_error)?;
        Ok(Connection { origin, stream, buffer: Vec::with_capacity(1024) })
    }

    async fn exchange(&self, connection: &mut Connection, message: &[u8]) -> Result<Answer, HttpError> {
        let exchange = async {
            connection.stream.write_all(message).await?;
            read_answer(connection, self.max_answer_bytes).await
        };
        match self.read_timeout {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .map_err(|_| HttpError::Io(std::io::ErrorKind::TimedOut.into()))?,
            None => exchange.await,
        }
    }
}

/// The whole request as it goes on the wire: request line, headers, blank line, body. `None`
/// for a streaming body.
fn request_bytes(request: &HttpRequest, target: &Target<'_>) -> Option<Vec<u8>> {
    let body = request.body().bytes()?;
    let mut message = Vec::with_capacity(512 + body.len());
    message.extend_from_slice(request.method().as_bytes());
    message.push(b' ');
    message.extend_from_slice(target.path.as_bytes());
    if let Some(query) = target.query {
        message.push(b'?');
        message.extend_from_slice(query.as_bytes());
    }
    message.extend_from_slice(b" HTTP/1.1\r\n");
    let headers = request.headers();
    if !headers.contains_key("host") {
        push_header(&mut message, "host", target.host);
    }
    for (name, value) in headers.iter() {
        push_header(&mut message, name, value);
    }
    if !headers.contains_key("content-length") {
        push_header(&mut message, "content-length", &body.len().to_string());
    }
    message.extend_from_slice(b"\r\n");
    message.extend_from_slice(body);
    Some(message)
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &str) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// Reads one answer: status, headers, and a body framed by `Content-Length`, chunked, or
/// (neither) by the connection's end.
async fn read_answer(connection: &mut Connection, max_bytes: usize) -> Result<Answer, HttpError> {
    let buffer = &mut connection.buffer;
    let (status, headers, head_len) = loop {
        let mut parsed = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut parsed);
        match response.parse(buffer) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = response.code.ok_or(HttpError::Malformed("no status"))?;
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|header| {
                        (header.name.to_ascii_lowercase(), String::from_utf8_lossy(header.value).into_owned())
                    })
                    .collect();
                break (status, headers, head_len);
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return Err(HttpError::Malformed("bad status line or headers")),
        }
        if buffer.len() > max_bytes {
            return Err(HttpError::TooLong(max_bytes));
        }
        if connection.stream.read_buf(buffer).await? == 0 {
            return Err(HttpError::ClosedEarly);
        }
    };
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    let (body, reusable) = if no_body {
        (Vec::new(), !close)
    } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        (read_chunked(&mut connection.stream, buffer, head_len, max_bytes).await?, !close)
    } else if let Some(length) = header("content-length") {
        let length: usize = length.trim().parse().map_err(|_| HttpError::Malformed("bad content-length"))?;
        if length > max_bytes {
            return Err(HttpError::TooLong(max_bytes));
        }
        while buffer.len() < head_len + length {
            if connection.stream.read_buf(buffer).await? == 0 {
                return Err(HttpError::ClosedEarly);
            }
        }
        (buffer[head_len..head_len + length].to_vec(), !close && buffer.len() == head_len + length)
    } else {
        while connection.stream.read_buf(buffer).await? != 0 {
            if buffer.len() > head_len + max_bytes {
                return Err(HttpError::TooLong(max_bytes));
            }
        }
        (buffer[head_len..].to_vec(), false)
    };
    let status = StatusCode::try_from(status).map_err(|_| HttpError::Malformed("bad status code"))?;
    let mut response = HttpResponse::new(status, SdkBody::from(body));
    for (name, value) in headers {
        // A header the SDK's types refuse is one the SDK would not read.
        let _ = response.headers_mut().try_append(name, value);
    }
    Ok(Answer { response, reusable })
}

/// A chunked body starting at `start` of `buffer`, read to its last chunk.
async fn read_chunked(
    stream: &mut Stream,
    buffer: &mut Vec<u8>,
    start: usize,
    max_bytes: usize,
) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    let mut at = start;
    loop {
        let Some(line_end) = find_crlf(&buffer[at..]) else {
            if buffer.len() - start > max_bytes + 1024 {
                return Err(HttpError::TooLong(max_bytes));
            }
            if stream.read_buf(buffer).await? == 0 {
                return Err(HttpError::ClosedEarly);
            }
            continue;
        };
        let size_field =
            std::str::from_utf8(&buffer[at..at + line_end]).map_err(|_| HttpError::Malformed("chunk size"))?;
        let size_hex = size_field.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| HttpError::Malformed("chunk size"))?;
        if body.len() + size > max_bytes {
            return Err(HttpError::TooLong(max_bytes));
        }
        let data = at + line_end + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            loop {
                if let Some(end) = find_crlf(&buffer[data..]) {
                    if end == 0 {
                        return Ok(body);
                    }
                    buffer.drain(data..data + end + 2);
                    continue;
                }
                if stream.read_buf(buffer).await? == 0 {
                    return Err(HttpError::ClosedEarly);
                }
            }
        }
        while buffer.len() < data + size + 2 {
            if stream.read_buf(buffer).await? == 0 {
                return Err(HttpError::ClosedEarly);
            }
        }
        body.extend_from_slice(&buffer[data..data + size]);
        at = data + size + 2;
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// rustls with the system's root certificates, loaded at the first TLS connection.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, HttpError> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return None;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(Arc::new(config))
    });
    config.clone().map(tokio_rustls::TlsConnector::from).ok_or(HttpError::NoRoots)
}

fn bad_endpoint(uri: &str) -> aws_smithy_runtime_api::box_error::BoxError {
    HttpError::BadEndpoint(uri.to_owned()).into()
}

fn connector_error(err: HttpError) -> ConnectorError {
    match err {
        HttpError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ConnectorError::timeout(io.into()),
        HttpError::Io(io) => ConnectorError::io(io.into()),
        HttpError::ClosedEarly => ConnectorError::io(err.into()),
        HttpError::BadEndpoint(_) | HttpError::NoRoots => ConnectorError::user(err.into()),
        HttpError::Malformed(_) | HttpError::TooLong(_) => ConnectorError::other(err.into(), None),
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    /// A server that answers each request on a connection with the next of `answers` (and,
    /// with none left, stays silent), closing the connection after `close_after` requests;
    /// counts its connections.
    async fn scripted_server(answers: Vec<&'static str>, close_after: usize) -> (u16, Arc<Mutex<usize>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(Mutex::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut socket, _)) = listener.accept().await {
                *counter.lock().unwrap() += 1;
                for _ in 0..close_after {
                    let mut request = Vec::new();
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        if socket.read_buf(&mut request).await.unwrap_or(0) == 0 {
                            return;
                        }
                    }
                    let Some(answer) = answers.next() else {
                        // Out of answers: hold the connection and say nothing.
                        std::future::pending::<()>().await;
                        return;
                    };
                    socket.write_all(answer.as_bytes()).await.unwrap();
                }
            }
        });
        (port, accepted)
    }

    fn connector(read_timeout: Option<Duration>) -> KeepAliveConnector {
        KeepAliveConnector(Arc::new(Connections {
            idle: Mutex::new(Vec::new()),
            connect_timeout: Some(Duration::from_secs(2)),
            read_timeout,
            max_answer_bytes: 64 * 1024,
        }))
    }

    fn post(port: u16) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from("{}"));
        request.set_uri(format!("http://127.0.0.1:{port}/@connections/abc%3D")).unwrap();
        request.set_method("POST").unwrap();
        request
    }

    async fn body_of(response: &HttpResponse) -> String {
        String::from_utf8(response.body().bytes().unwrap().to_vec()).unwrap()
    }

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

    #[tokio::test]
    async fn answers_framed_by_length_or_chunks_come_back_whole_on_one_kept_connection() {
        let (port, accepted) = scripted_server(
            vec![
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                "HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\nx-amzn-ErrorType: GoneException\r\n\r\n5\r\n{\"mes\r\n12\r\nsage\":\"Gone\"}     \r\n0\r\n\r\n",
                "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}",
            ],
            3,
        )
        .await;
        let http = connector(None);
        let ok = http.call(post(port)).await.unwrap();
        assert_eq!(ok.status().as_u16(), 200);
        let gone = http.call(post(port)).await.unwrap();
        assert_eq!(gone.status().as_u16(), 410);
        assert_eq!(gone.headers().get("x-amzn-errortype"), Some("GoneException"));
        assert_eq!(body_of(&gone).await, "{\"message\":\"Gone\"}     ");
        let forbidden = http.call(post(port)).await.unwrap();
        assert_eq!((forbidden.status().as_u16(), body_of(&forbidden).await.as_str()), (403, "{}"));
        assert_eq!(*accepted.lock().unwrap(), 1, "one connection carried all three");
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced_without_an_error() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (port, accepted) = scripted_server(vec![ok, ok], 1).await;
        let http = connector(None);
        assert_eq!(http.call(post(port)).await.unwrap().status().as_u16(), 200);
        assert_eq!(http.call(post(port)).await.unwrap().status().as_u16(), 200);
        assert_eq!(*accepted.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn connection_close_is_honoured() {
        let close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let (port, accepted) = scripted_server(vec![close, close], 1).await;
        let http = connector(None);
        for _ in 0..2 {
            assert_eq!(http.call(post(port)).await.unwrap().status().as_u16(), 200);
        }
        assert_eq!(*accepted.lock().unwrap(), 2);
        assert!(http.0.idle.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_an_endless_answer_is_refused() {
        let (silent, _) = scripted_server(vec![], 1).await;
        let err = connector(Some(Duration::from_millis(200))).call(post(silent)).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");

        let (huge, _) = scripted_server(vec!["HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n"], 1).await;
        let err = connector(None).call(post(huge)).await.unwrap_err();
        let reason = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(reason.contains("longer than"), "{err:?}");
    }

    #[test]
    fn the_origin_dials_the_hosts_port_or_the_schemes() {
        let origin = |uri: &str| {
            let target = Target::of(uri).unwrap();
            Origin::of(speaks_tls(&target).unwrap(), &target).unwrap()
        };
        let https = origin("https://abc.execute-api.eu-west-1.amazonaws.com/prod/@connections/x");
        assert_eq!(
            (https.tls, https.name.as_str(), https.port),
            (true, "abc.execute-api.eu-west-1.amazonaws.com", 443)
        );
        let local = origin("http://127.0.0.1:3000/@connections/x");
        assert_eq!((local.tls, local.host.as_str(), local.port), (false, "127.0.0.1:3000", 3000));
        let v6 = origin("http://[::1]:8080/x");
        assert_eq!((v6.name.as_str(), v6.port), ("::1", 8080));
        assert_eq!(speaks_tls(&Target::of("ftp://h/x").unwrap()), None);
    }
}
