//! HTTP requests as bytes on a socket: for tests that stand in for an endpoint (a proxy that
//! loses answers, a Management API that records what it was sent).

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// Headers a request may have; more is not a request these tests expect.
const MAX_HEADERS: usize = 64;

/// Reads one whole request from `stream`: its head, then a body of its `Content-Length`
/// (none without one). An error when the client closes first.
pub async fn read_request(stream: &mut TcpStream) -> anyhow::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let read = stream.read(&mut chunk).await?;
        anyhow::ensure!(read > 0, "the client closed before a whole request");
        raw.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head) = request.parse(&raw)? {
            let length = request
                .headers
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case("content-length"))
                .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= head + length {
                return Ok(raw);
            }
        }
    }
}
