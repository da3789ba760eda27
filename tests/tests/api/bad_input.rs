//! Bad input never hurts: every HTTP route and every WebSocket action, fed malformed,
//! mistyped, oversized, deeply nested and unicode-heavy input, answers with the documented
//! 4xx envelope or `invalid` reply: never a 5xx, an `error` reply, a panic, a hang or a
//! closed connection.

use std::time::{Duration, Instant};

use chatting_e2e::{Client, TestServer};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Strings that have broken parsers and length checks elsewhere.
fn nasty_strings() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "\u{0}".into(),
        "a\u{0}b".into(),
        "\u{202e}gnp.exe".into(),
        "\u{200b}\u{200b}\u{200b}".into(),
        "\u{feff}bom".into(),
        "e\u{301}".repeat(40),
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢".repeat(8),
        "😀".repeat(2001),
        "字".repeat(2000),
        "\r\n\t".into(),
        "<script>alert(1)</script>".into(),
        "'; DROP TABLE users; --".into(),
        "%s%s%s%n".into(),
        "../../../../etc/passwd".into(),
        "x".repeat(3000),
        "null".into(),
        "0".into(),
        "-1".into(),
    ]
}

/// Values of every JSON type, to put where another type belongs.
fn mistyped() -> Vec<Value> {
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({ "a": deep });
    }
    vec![
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(true),
        json!([]),
        json!(["a", 1]),
        json!({}),
        json!({"nested": {"deeper": [1, 2, {"x": null}]}}),
        deep,
    ]
}

// ---------------------------------------------------------------------------------------
// HTTP

/// The status each envelope code must come with (PROTOCOL.md's table).
fn status_of(code: &str) -> Option<&'static [u16]> {
    Some(match code {
        "success" => &[200, 201],
        "invalid" => &[400],
        "notAuth" | "wrong" => &[401],
        "noInfo" => &[404],
        "exist" | "noSpace" => &[409],
        "tooLarge" => &[413],
        "rateLimited" => &[429],
        _ => return None,
    })
}

struct Http {
    client: reqwest::Client,
    base: String,
    requests: usize,
    slowest: Duration,
}

impl Http {
    /// Sends one request; checks the answer is a 4xx (or 2xx) envelope that agrees with
    /// itself, in bounded time. Returns (status, body).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(reqwest::Method::from_bytes(method.as_bytes())?, &url);
        if let Some(body) = body {
            request = request.body(body);
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let started = Instant::now();
        let response = request.timeout(Duration::from_secs(10)).send().await?;
        self.slowest = self.slowest.max(started.elapsed());
        self.requests += 1;
        let status = response.status().as_u16();
        let text = response.text().await?;
        anyhow::ensure!(status < 500, "{method} {path}: {status} {text}");
        let envelope: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{method} {path}: {status} not JSON ({e}): {text}"))?;
        let code = envelope["code"].as_str().unwrap_or_default();
        let statuses =
            status_of(code).ok_or_else(|| anyhow::anyhow!("{method} {path}: undocumented code {envelope}"))?;
        anyhow::ensure!(statuses.contains(&status), "{method} {path}: {code} with {status}");
        anyhow::ensure!(envelope["ok"] == (code == "success"), "{method} {path}: ok disagrees with code: {envelope}");
        anyhow::ensure!(
            code == "success" || envelope["message"].is_string(),
            "{method} {path}: no message: {envelope}"
        );
        Ok((status, envelope))
    }
}

#[tokio::test]
async fn every_http_route_answers_bad_input_with_a_4xx_envelope() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    let session = server.user("http").await?;
    let mut http =
        Http { client: reqwest::Client::new(), base: server.http.clone(), requests: 0, slowest: Duration::ZERO };

    // Bodies that are not a JSON object, or not JSON at all.
    let deep_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(2000), "}".repeat(2000));
    let not_objects: Vec<(Vec<u8>, u16)> = vec![
        (b"".to_vec(), 400),
        (b"null".to_vec(), 400),
        (b"42".to_vec(), 400),
        (b"\"text\"".to_vec(), 400),
        (b"[1,2]".to_vec(), 400),
        (b"{".to_vec(), 400),
        (b"{\"userId\":".to_vec(), 400),
        (b"not json".to_vec(), 400),
        (vec![0xff, 0xfe, 0xfd, 0x00, 0x80], 400),
        (b"\xef\xbb\xbf{}".to_vec(), 400),
        (br#"{"a":"\ud800"}"#.to_vec(), 400),
        (br#"{"a":1e99999}"#.to_vec(), 400),
        (deep_array.into_bytes(), 400),
        (deep_object.into_bytes(), 400),
        (format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)).into_bytes(), 413),
        (format!(r#"{{"pad":"{}"}}"#, "x".repeat(17 * 1024)).into_bytes(), 413),
        (vec![b' '; 200 * 1024], 413),
    ];
    for path in ["/auth/signup", "/auth/login", "/auth/refresh", "/auth/logout"] {
        for (body, status) in &not_objects {
            let (got, envelope) = http.send("POST", path, Some(body.clone()), None).await?;
            // A body that parses into an object with nothing useful is a field error (400);
            // everything here must be refused before any work.
            assert_eq!(
                got,
                *status,
                "POST {path} {:?}: {envelope}",
                String::from_utf8_lossy(&body[..body.len().min(40)])
            );
        }
    }

    // Objects with every field mistyped, missing, or filled with nasty strings.
    let routes: [(&str, Value); 4] = [
        ("/auth/signup", json!({"userId": "fine_id", "password": "password123", "nick": "Fine"})),
        ("/auth/login", json!({"userId": session.user_id, "password": "password123"})),
        ("/auth/refresh", json!({"refreshToken": "not-a-token"})),
        ("/auth/logout", json!({"refreshToken": "not-a-token"})),
    ];
    for (path, base) in &routes {
        let fields: Vec<String> = base.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        for field in &fields {
            let mut missing = base.clone();
            missing.as_object_mut().map(|o| o.remove(field));
            let (status, _) = http.send("POST", path, Some(missing.to_string().into_bytes()), None).await?;
            assert_eq!(status, 400, "POST {path} without {field}");
            for value in mistyped() {
                let mut body = base.clone();
                body[field] = value.clone();
                let (status, envelope) = http.send("POST", path, Some(body.to_string().into_bytes()), None).await?;
                assert_eq!(status, 400, "POST {path} {field}={value}: {envelope}");
                assert_eq!(envelope["code"], "invalid");
            }
            for text in nasty_strings() {
                let mut body = base.clone();
                body[field] = json!(text);
                // Well-typed: any documented answer but a 5xx (a nasty nick may be a fine one).
                http.send("POST", path, Some(body.to_string().into_bytes()), None).await?;
            }
        }
        let mut extra = base.clone();
        extra["unexpected"] = json!({"deep": [1, 2, 3]});
        http.send("POST", path, Some(extra.to_string().into_bytes()), None).await?;
    }

    // Paths, methods and headers.
    for raw in [
        "",
        "%00",
        "%ff%fe",
        "..%2f..%2fetc%2fpasswd",
        "%F0%9F%98%80",
        "a%",
        "%%%",
        "ab",
        &"a".repeat(5000),
        "ünï",
        "a/b/c",
    ] {
        let (status, envelope) = http.send("GET", &format!("/auth/id-check/{raw}"), None, None).await?;
        assert!(matches!(status, 200 | 400 | 404 | 409), "id-check {raw:?}: {status} {envelope}");
    }
    for (method, path) in [
        ("GET", "/auth/signup"),
        ("PUT", "/auth/login"),
        ("DELETE", "/auth/me"),
        ("PATCH", "/health"),
        ("GET", "/auth/nothing/here"),
        ("POST", "/auth/me"),
        ("GET", &format!("/auth/{}", "x".repeat(4000))),
    ] {
        let (status, _) = http.send(method, path, Some(b"{}".to_vec()), None).await?;
        assert_eq!(status, 404, "{method} {path}");
    }
    // Outside the function's routes API Gateway itself answers (404 without an envelope).
    for path in ["/auth/", "/auth", "/nothing", "/%00", "/@connections"] {
        let status = http.client.get(format!("{}{path}", server.http)).send().await?.status().as_u16();
        assert_eq!(status, 404, "GET {path}");
    }
    for token in ["", "garbage", "a.b.c", &"x".repeat(8000), "ünïcödé", "Bearer Bearer", "\u{0}"] {
        let token = token.replace('\u{0}', "");
        let (status, _) = http.send("GET", "/auth/me", None, Some(&token)).await?;
        assert_eq!(status, 401, "me with {token:?}");
    }
    let weird_header = reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe")?;
    let response =
        http.client.get(format!("{}/auth/me", server.http)).header("authorization", weird_header).send().await?;
    assert_eq!(response.status().as_u16(), 401, "a header that is not UTF-8");

    println!("HTTP: {} bad requests, slowest answer {:.0} ms", http.requests, http.slowest.as_secs_f64() * 1000.0);
    assert!(http.slowest < Duration::from_secs(5), "no hang: slowest {:?}", http.slowest);
    let (status, _) = http.send("GET", "/health", None, None).await?;
    assert_eq!(status, 200, "still healthy");
    assert_eq!(chatting_e2e::panics(), 0, "nothing panicked");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// WebSocket

/// Every action with data that would be accepted, as the starting point of each mutation.
fn actions(other_user: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("ping", json!({})),
        ("user.me", json!({})),
        ("user.info", json!({"userId": other_user})),
        ("user.update", json!({"nick": "Fuzzy"})),
        ("user.listInLobby", json!({})),
        ("user.listInRoom", json!({})),
        ("user.listOnline", json!({})),
        ("room.list", json!({})),
        ("room.create", json!({"title": "Fuzz room", "password": "pw", "capacity": 5})),
        ("room.join", json!({"roomId": 1, "password": "pw"})),
        ("room.leave", json!({})),
        ("room.info", json!({"roomId": 1})),
        ("room.update", json!({"title": "Renamed", "password": "", "capacity": 6})),
        ("group.list", json!({})),
        ("group.create", json!({"groupId": "fuzz-group"})),
        ("group.join", json!({"groupId": "fuzz-group"})),
        ("group.leave", json!({})),
        ("chat.send", json!({"type": "whisper", "text": "hello", "to": other_user, "clientMsgId": "c1"})),
        ("chat.history", json!({"roomId": 0, "before": 10, "after": 1, "limit": 10})),
        ("chat.history", json!({"with": other_user, "before": "0000000000000010"})),
        ("chat.history", json!({"groupId": "fuzz-group", "after": "0000000000000001"})),
        ("chat.typing", json!({"type": "whisper", "to": other_user})),
        ("room.kick", json!({"userId": other_user})),
        ("chat.edit", json!({"messageId": "0000000000000001", "text": "fixed"})),
        ("chat.delete", json!({"messageId": "0000000000000001"})),
        ("chat.react", json!({"messageId": "0000000000000001", "emoji": "👍", "on": true})),
        ("chat.read", json!({"roomId": 0, "upTo": 3})),
        ("chat.read", json!({"with": other_user, "upTo": "0000000000000001"})),
        ("chat.read", json!({"groupId": "fuzz-group", "upTo": "0000000000000001"})),
        ("chat.conversations", json!({})),
    ]
}

/// Sends a raw frame and returns the one reply or event it gets.
async fn answer_to(client: &mut Client, frame: String) -> anyhow::Result<Value> {
    client.send_text(frame).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(remaining, client.next_frame())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within 10 s: a hang"))??;
        // Events caused by earlier frames (room refreshes, chat.in, …) are not answers.
        if frame["type"] == "reply" || frame["event"] == "system.error" {
            return Ok(frame);
        }
    }
}

/// The next text frame of a raw connection, as JSON; a close or a hang is an error.
async fn next_text<S>(raw: &mut S) -> anyhow::Result<Value>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), raw.next())
            .await
            .map_err(|_| anyhow::anyhow!("no answer within 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("the connection closed"))??;
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
            Message::Close(frame) => anyhow::bail!("the connection closed: {frame:?}"),
            _ => {}
        }
    }
}

fn check_reply(reply: &Value, request_id: &str, what: &str) -> anyhow::Result<String> {
    anyhow::ensure!(reply["type"] == "reply", "{what}: {reply}");
    anyhow::ensure!(reply["requestId"] == request_id, "{what}: the requestId comes back: {reply}");
    let code = reply["code"].as_str().unwrap_or_default().to_owned();
    anyhow::ensure!(status_of(&code).is_some(), "{what}: undocumented or error code: {reply}");
    anyhow::ensure!(reply["ok"] == (code == "success"), "{what}: {reply}");
    Ok(code)
}

#[tokio::test]
async fn every_websocket_action_answers_bad_input_with_invalid_and_stays_open() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start_with(|options| options.config.chat_sends_per_10s = 1_000_000).await?;
    let (other, _other_ws) = server.connected_user("other").await?;
    let (_, mut ws) = server.connected_user("fuzzer").await?;
    let mut frames = 0;
    let mut codes: std::collections::BTreeMap<String, usize> = Default::default();
    let started = Instant::now();

    for (n, (action, base)) in actions(&other.user_id).into_iter().enumerate() {
        let fields: Vec<String> = base.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let mut variants: Vec<(String, Value, bool)> = vec![("as is".into(), base.clone(), false)];
        for field in &fields {
            for value in mistyped() {
                let mut data = base.clone();
                data[field] = value.clone();
                // A wrong JSON type is `invalid`, except where a number is a fine value.
                let number_field = matches!(field.as_str(), "roomId" | "capacity" | "limit")
                    || (matches!(field.as_str(), "before" | "after")
                        && action == "chat.history"
                        && base.get("roomId").is_some())
                    || (field == "upTo" && action == "chat.read" && base.get("roomId").is_some());
                let fine_value = (number_field && value.is_i64()) || (field == "on" && value.is_boolean());
                let must_be_invalid = !fine_value;
                variants.push((format!("{field}={value}"), data, must_be_invalid));
            }
            for text in nasty_strings() {
                let mut data = base.clone();
                data[field] = json!(text);
                variants.push((format!("{field}=<{} chars>", text.chars().count()), data, false));
            }
        }
        for (i, (what, data, must_be_invalid)) in variants.into_iter().enumerate() {
            let request_id = format!("{n}-{i}");
            let frame = json!({"action": action, "requestId": request_id, "data": data}).to_string();
            let reply = answer_to(&mut ws, frame).await?;
            frames += 1;
            let code = check_reply(&reply, &request_id, &format!("{action} {what}"))?;
            if must_be_invalid {
                assert_eq!(code, "invalid", "{action} {what}: {reply}");
            }
            *codes.entry(code).or_default() += 1;
        }
    }

    // The envelope itself.
    let mut deep = String::from("1");
    for _ in 0..10_000 {
        deep = format!("[{deep}]");
    }
    let envelopes: Vec<(String, &str)> = vec![
        (String::new(), "event"),
        ("   ".into(), "event"),
        ("not json".into(), "event"),
        ("42".into(), "event"),
        ("null".into(), "event"),
        ("[]".into(), "event"),
        ("\"ping\"".into(), "event"),
        ("{".into(), "event"),
        (r#"{"action":"ping","data":"\ud800"}"#.into(), "event"),
        (r#"{"action":"ping","requestId":"x","data":1e99999}"#.into(), "event"),
        (deep.clone(), "event"),
        (format!(r#"{{"action":"ping","requestId":"deep","data":{{"x":{deep}}}}}"#), "event"),
        (format!(r#"{{"action":"ping","requestId":"pad","data":{{"x":"{}"}}}}"#, "y".repeat(33 * 1024)), "tooLarge"),
        (format!(r#"{{"action":"ping","pad":"{}"}}"#, "😀".repeat(30 * 1024)), "tooLarge"),
        (r#"{}"#.into(), "reply"),
        (r#"{"action":null}"#.into(), "reply"),
        (r#"{"action":7,"requestId":"n"}"#.into(), "reply"),
        (r#"{"action":"ping","requestId":7}"#.into(), "reply"),
        (r#"{"action":"ping","requestId":["a"]}"#.into(), "reply"),
        (format!(r#"{{"action":"ping","requestId":"{}"}}"#, "r".repeat(65)), "reply"),
        (format!(r#"{{"action":"ping","requestId":"{}"}}"#, "😀".repeat(64)), "ok"),
        (format!(r#"{{"action":"{}","requestId":"long"}}"#, "a".repeat(20_000)), "reply"),
        (r#"{"action":"ping","data":[1]}"#.into(), "reply"),
        (r#"{"action":"ping","data":"x"}"#.into(), "reply"),
        (r#"{"action":"ping","data":0}"#.into(), "reply"),
        (r#"{"action":"","requestId":"e"}"#.into(), "reply"),
        (r#"{"action":"PING","requestId":"u"}"#.into(), "reply"),
        (r#"{"action":"ping ","requestId":"s"}"#.into(), "reply"),
        (r#"{"action":"__proto__","requestId":"p"}"#.into(), "reply"),
        (r#"{"action":"ping","action":"room.explode","requestId":"dup"}"#.into(), "reply"),
        (r#"{"action":"ping","requestId":"a","requestId":"b"}"#.into(), "ok"),
    ];
    for (frame, expected) in &envelopes {
        let answer = answer_to(&mut ws, frame.clone()).await?;
        frames += 1;
        let shown: String = frame.chars().take(60).collect();
        match *expected {
            "event" => assert_eq!(
                (answer["event"].as_str(), answer["data"]["code"].as_str()),
                (Some("system.error"), Some("invalid")),
                "{shown}: {answer}"
            ),
            "tooLarge" => assert_eq!(answer["data"]["code"], "tooLarge", "{shown}: {answer}"),
            "reply" => assert_eq!(
                (answer["type"].as_str(), answer["code"].as_str()),
                (Some("reply"), Some("invalid")),
                "{shown}: {answer}"
            ),
            _ => assert_eq!(answer["code"], "success", "{shown}: {answer}"),
        }
    }
    // Binary frames (API Gateway hands them over base64-encoded): `invalid`, never a close.
    let fuzzer = server.user("binary").await?;
    let (mut raw, _) = tokio_tungstenite::connect_async(format!("{}?token={}", server.ws, fuzzer.access)).await?;
    for bytes in [vec![], vec![0u8, 159, 146, 150], br#"{"action":"ping"}"#.to_vec(), vec![0xff; 40 * 1024]] {
        raw.send(Message::Binary(bytes.into())).await?;
        let answer = next_text(&mut raw).await?;
        assert_eq!(
            (answer["event"].as_str(), answer["data"]["code"].as_str()),
            (Some("system.error"), Some("invalid")),
            "{answer}"
        );
        frames += 1;
    }
    raw.send(Message::Ping(b"are you there".to_vec().into())).await?;
    raw.send(Message::Text(json!({"action": "ping", "requestId": "after"}).to_string().into())).await?;
    let answer = next_text(&mut raw).await?;
    assert_eq!((answer["requestId"].as_str(), answer["code"].as_str()), (Some("after"), Some("success")), "{answer}");

    let elapsed = started.elapsed();
    println!("WebSocket: {frames} bad frames in {:.1} s; reply codes {codes:?}", elapsed.as_secs_f64());
    // Still the same open connection, still served.
    let me = ws.ok("user.me", json!({})).await?;
    assert!(me["userId"].is_string(), "{me}");
    assert_eq!(server.gateway.registry.len(), 3, "every connection is still open");
    assert_eq!(chatting_e2e::panics(), 0, "nothing panicked");
    Ok(())
}

/// `Host` and `X-Forwarded-Proto` become the request's URL on its way to the function; a
/// value that is no URL part is refused with 400 instead of reaching (and panicking) the
/// event conversion.
#[tokio::test]
async fn a_malformed_host_or_forwarded_proto_is_answered_400() -> anyhow::Result<()> {
    chatting_e2e::count_panics();
    let server = TestServer::start().await?;
    for (name, value) in
        [("host", "a b"), ("x-forwarded-proto", "a b"), ("host", "exa mple.com:80"), ("x-forwarded-proto", "gopher")]
    {
        for (method, path) in [("GET", "/health"), ("POST", "/auth/login"), ("GET", "/auth/me")] {
            let response = server.raw(method, path, &[(name, value)]).await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await?;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("invalid")),
                "{name}: {value:?} on {method} {path}: {body}"
            );
        }
    }
    let (status, _) = server.call("GET", "/health", None, None).await?;
    assert_eq!(status, 200, "the gateway still answers");
    assert_eq!(chatting_e2e::panics(), 0);
    Ok(())
}
