//! The real function binaries under an emulated Lambda Runtime API: what `main.rs`,
//! configuration from the environment and the cold start add to the handlers.
//!
//! Each function runs as its own child process (a Lambda execution environment) with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a [`RuntimeApi`] emulator, a fresh MariaDB database and
//! a unique Redis prefix. The WebSocket functions push through the Management API of a running
//! local gateway that shares the database, Redis and JWT secret, so their events reach real
//! WebSocket clients of that gateway, as API Gateway's would.

use std::sync::Arc;
use std::time::Duration;

use chatting_e2e::{MYSQL_ADMIN_URL, REDIS_URL, TestServer, WAIT, fresh_mysql_database, unique};
use chatting_lambda_runtime_emulator::{FunctionProcess, Launch, RuntimeApi, events, function_binary};
use chatting_local_gateway::connections::{Connection, Outbound};
use chatting_shared::domain::Secret;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const JWT_SECRET: &str = "lambda-runtime-test-secret-at-least-32-bytes-long";

/// One function: its Runtime API endpoint and the process polling it. The process is
/// declared first so that it is killed before its endpoint goes away.
struct Function {
    process: FunctionProcess,
    runtime: RuntimeApi,
}

impl Function {
    async fn start(name: &str, env: Vec<(String, String)>) -> anyhow::Result<Self> {
        let binary = function_binary(name, "debug")?;
        let runtime = RuntimeApi::start(name).await?;
        let process =
            FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env, capture_output: false })?;
        Ok(Self { process, runtime })
    }

    /// Invokes the function; its response must be a proxy response with a JSON body.
    async fn call(&self, event: Value) -> anyhow::Result<(i64, Value)> {
        let response = self.runtime.invoke(event).await?;
        let status = response["statusCode"].as_i64().ok_or_else(|| anyhow::anyhow!("no statusCode: {response}"))?;
        assert_eq!(response["isBase64Encoded"], false, "{response}");
        let body = response["body"].as_str().ok_or_else(|| anyhow::anyhow!("no body: {response}"))?;
        let body = serde_json::from_str(body).map_err(|e| anyhow::anyhow!("body is not JSON ({e}): {response}"))?;
        Ok((status, body))
    }

    /// Checks that the instance is still alive, warm and waiting for its next event after
    /// answering `invocations` events: one cold start served them all.
    async fn assert_warm_after(&mut self, invocations: u64) -> anyhow::Result<()> {
        self.runtime.wait_next_calls(invocations + 1, WAIT).await;
        assert_eq!(self.runtime.next_calls(), invocations + 1, "{} asked for events", self.process.name);
        assert!(self.process.try_exit()?.is_none(), "{} exited", self.process.name);
        assert!(self.runtime.init_error().is_none());
        Ok(())
    }
}

/// The environment the template gives `function`, pointed at local backends.
fn lambda_env(
    function: &str,
    database_url: &str,
    redis_prefix: &str,
    management_endpoint: &str,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("CHATTING_DATABASE_URL", database_url.to_owned()),
        ("CHATTING_JWT_SECRET", JWT_SECRET.to_owned()),
        ("CHATTING_ACCESS_TTL_SECS", "900".to_owned()),
        ("CHATTING_REFRESH_TTL_SECS", "2592000".to_owned()),
        ("CHATTING_DB_MAX_CONNECTIONS", "2".to_owned()),
        ("CHATTING_REDIS_URL", REDIS_URL.to_owned()),
        ("CHATTING_REDIS_PREFIX", redis_prefix.to_owned()),
        ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned())),
    ];
    if function.starts_with("ws-") {
        env.push(("CHATTING_MANAGEMENT_ENDPOINT", management_endpoint.to_owned()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[tokio::test]
async fn auth_http_binary_answers_http_api_events() -> anyhow::Result<()> {
    let database_url = fresh_mysql_database().await?;
    let mut auth = Function::start("auth-http", lambda_env("auth-http", &database_url, &unique("lam"), "")).await?;

    let response = auth.runtime.invoke(events::http("GET", "/health", None, None)).await?;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json", "{response}");
    assert_eq!(response["headers"]["cache-control"], "no-store", "{response}");
    let health: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())?;
    assert_eq!(health, json!({ "ok": true, "code": "success", "data": { "status": "ok" }, "message": null }));

    let user_id = unique("lam");
    let signup = json!({ "userId": user_id, "password": "correct horse battery", "nick": "Lambda" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!((status, &body["data"]), (201, &json!({ "userId": user_id, "nick": "Lambda" })), "{body}");
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!((status, body["code"].as_str()), (409, Some("exist")), "{body}");

    let wrong = json!({ "userId": user_id, "password": "not the password" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/login", Some(&wrong), None)).await?;
    assert_eq!((status, body["code"].as_str(), body["ok"].as_bool()), (401, Some("wrong"), Some(false)), "{body}");

    let login = json!({ "userId": user_id, "password": "correct horse battery" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/login", Some(&login), None)).await?;
    assert_eq!((status, body["code"].as_str()), (200, Some("success")), "{body}");
    let access = body["data"]["accessToken"].as_str().unwrap_or_default().to_owned();
    assert!(body["data"]["refreshToken"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert_eq!(body["data"]["expiresIn"], 900);
    assert_eq!(body["data"]["user"]["userId"], user_id.as_str());

    let (status, body) = auth.call(events::http("GET", "/auth/me", None, Some(&access))).await?;
    assert_eq!((status, &body["data"]["userId"]), (200, &json!(user_id)), "{body}");
    let (status, body) = auth.call(events::http("GET", "/auth/me", None, None)).await?;
    assert_eq!((status, body["code"].as_str()), (401, Some("notAuth")), "{body}");
    let (status, body) = auth.call(events::http("POST", "/auth/nowhere", Some("{}"), None)).await?;
    assert_eq!((status, body["code"].as_str()), (404, Some("noInfo")), "{body}");

    auth.assert_warm_after(8).await
}

/// Frames the Management API delivered to a connection that a Lambda function serves.
struct ApiGatewaySide {
    frames: mpsc::Receiver<Outbound>,
}

impl ApiGatewaySide {
    /// Registers `connection_id` with the gateway, as API Gateway holds the client's socket
    /// while the functions serve its events.
    fn register(server: &TestServer, connection_id: &str) -> Self {
        let (outbound, frames) = mpsc::channel(64);
        let connection = Connection::new(outbound, "198.51.100.23".into(), "Mozilla/5.0 (lambda-runtime test)".into());
        server.gateway.registry.insert(connection_id, Arc::new(connection));
        Self { frames }
    }

    /// The next pushed event named `name`.
    async fn event(&mut self, name: &str) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(remaining, self.frames.recv())
                .await
                .map_err(|_| anyhow::anyhow!("no {name} pushed within {WAIT:?}"))?
                .ok_or_else(|| anyhow::anyhow!("the connection was closed"))?;
            let Outbound::Text(text) = frame;
            let frame: Value = serde_json::from_str(&text)?;
            if frame["type"] == "event" && frame["event"] == name {
                return Ok(frame["data"].clone());
            }
        }
    }
}

#[tokio::test]
async fn websocket_binaries_serve_a_connection_and_push_to_gateway_clients() -> anyhow::Result<()> {
    // Built (if need be) before anything runs on this test's single-threaded runtime.
    function_binary("ws-message", "debug")?;
    let database_url = fresh_mysql_database().await?;
    let server = TestServer::start_with(|options| {
        options.config.store = chatting_shared::config::StoreProfile::sql(database_url.clone());
        options.config.redis = Some(chatting_shared::config::RedisSettings::new(REDIS_URL.to_owned()));
        options.config.jwt_secret = Secret::from_config(JWT_SECRET);
    })
    .await?;
    let prefix = server.config.redis_prefix.clone();
    // The functions sign their Management API calls with the key the gateway checks, as
    // the functions' role is the one IAM lets call API Gateway's.
    let key = &server.gateway.management_key;
    let env = |name: &str| {
        let mut env = lambda_env(name, &database_url, &prefix, &server.http);
        env.push(("AWS_ACCESS_KEY_ID".into(), key.access_key_id.clone()));
        env.push(("AWS_SECRET_ACCESS_KEY".into(), key.secret_access_key.expose().to_owned()));
        env
    };
    let (auth, connect, message, disconnect) = tokio::try_join!(
        Function::start("auth-http", env("auth-http")),
        Function::start("ws-connect", env("ws-connect")),
        Function::start("ws-message", env("ws-message")),
        Function::start("ws-disconnect", env("ws-disconnect")),
    )?;
    let (mut auth, mut connect, mut message, mut disconnect) = (auth, connect, message, disconnect);

    // Bob signs up and logs in through the auth-http binary.
    let bob = unique("bob");
    let signup = json!({ "userId": bob, "password": "password123", "nick": "bob" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!(status, 201, "{body}");
    let login = json!({ "userId": bob, "password": "password123" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/login", Some(&login), None)).await?;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["accessToken"].as_str().unwrap_or_default().to_owned();

    // Alice is a real WebSocket client of the gateway, in the lobby.
    let (alice, mut alice_ws) = server.connected_user("alice").await?;

    let refused = events::connection_id();
    let (status, body) = connect.call(events::ws_connect(&refused, None)).await?;
    assert_eq!((status, body["code"].as_str()), (401, Some("notAuth")), "{body}");
    let (status, body) = connect.call(events::ws_connect(&refused, Some("not.a.jwt"))).await?;
    assert_eq!((status, body["code"].as_str()), (401, Some("notAuth")), "{body}");

    let connection = events::connection_id();
    let mut bob_side = ApiGatewaySide::register(&server, &connection);
    let connected_at = events::now_ms();
    let (status, body) = connect.call(events::ws_connect(&connection, Some(&token))).await?;
    assert_eq!((status, &body), (200, &json!({ "code": "success" })));
    // Pushed by the ws-connect process through the gateway's Management API.
    let joined = alice_ws.event_where("user.listInLobby.refresh", |d| d["user"]["userId"] == bob.as_str()).await?;
    assert_eq!((joined["change"].as_str(), joined["user"]["nick"].as_str()), (Some("joined"), Some("bob")), "{joined}");

    let frame = |action: &str, request_id: &str, data: Value| {
        json!({ "action": action, "requestId": request_id, "data": data }).to_string()
    };
    let (status, reply) =
        message.call(events::ws_message(&connection, connected_at, &frame("ping", "1", json!(null)))).await?;
    assert_eq!(status, 200);
    assert_eq!(
        (reply["type"].as_str(), reply["requestId"].as_str(), reply["ok"].as_bool()),
        (Some("reply"), Some("1"), Some(true)),
        "{reply}"
    );
    assert!(reply["data"]["serverTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{reply}");

    let (_, reply) =
        message.call(events::ws_message(&connection, connected_at, &frame("user.me", "2", json!({})))).await?;
    let me = &reply["data"];
    assert_eq!(
        (me["userId"].as_str(), me["roomId"].as_i64(), me["connectionId"].as_str()),
        (Some(bob.as_str()), Some(0), Some(connection.as_str())),
        "{reply}"
    );

    let (_, reply) =
        message.call(events::ws_message(&connection, connected_at, &frame("user.listInLobby", "3", json!({})))).await?;
    let users = reply["data"]["users"].to_string();
    assert!(users.contains(&alice.user_id) && users.contains(&bob), "{reply}");

    let send = frame("chat.send", "4", json!({ "type": "all", "text": "hello from a Lambda", "clientMsgId": "m1" }));
    let (status, reply) = message.call(events::ws_message(&connection, connected_at, &send)).await?;
    assert_eq!((status, reply["ok"].as_bool(), reply["requestId"].as_str()), (200, Some(true), Some("4")), "{reply}");
    let seq = reply["data"]["seq"].as_i64().ok_or_else(|| anyhow::anyhow!("no seq: {reply}"))?;
    assert!(seq >= 1 && reply["data"]["messageId"].is_string(), "{reply}");
    let received = alice_ws.event_where("chat.in", |m| m["text"] == "hello from a Lambda").await?;
    assert_eq!(
        (received["from"]["userId"].as_str(), received["seq"].as_i64(), received["roomId"].as_i64()),
        (Some(bob.as_str()), Some(seq), Some(0)),
        "{received}"
    );
    // The sender's own copy goes through the Management API too.
    let echoed = bob_side.event("chat.in").await?;
    assert_eq!((echoed["seq"].as_i64(), echoed["text"].as_str()), (Some(seq), Some("hello from a Lambda")));

    // A message sent through the gateway reaches the connection the functions serve.
    let sent = alice_ws.ok("chat.send", json!({ "type": "all", "text": "hi bob" })).await?;
    let pushed = bob_side.event("chat.in").await?;
    assert_eq!((pushed["text"].as_str(), pushed["seq"].as_i64()), (Some("hi bob"), sent["seq"].as_i64()));

    let (status, reply) = message.call(events::ws_message(&connection, connected_at, "not json")).await?;
    assert_eq!(
        (status, reply["event"].as_str(), reply["data"]["code"].as_str()),
        (200, Some("system.error"), Some("invalid")),
        "{reply}"
    );

    let (status, _) = disconnect.call(events::ws_disconnect(&connection, connected_at)).await?;
    assert_eq!(status, 200);
    let left = alice_ws.event_where("user.listInLobby.refresh", |d| d["change"] == "left").await?;
    assert_eq!(left["user"]["userId"], bob.as_str());
    server.gateway.registry.remove(&connection);
    let users = alice_ws.ok("user.listInLobby", json!({})).await?;
    assert!(!users.to_string().contains(&bob), "{users}");

    auth.assert_warm_after(2).await?;
    connect.assert_warm_after(3).await?;
    message.assert_warm_after(5).await?;
    disconnect.assert_warm_after(1).await?;
    Ok(())
}

/// A function whose configuration is unusable must fail its cold start loudly: report to
/// `/runtime/init/error` or exit non-zero naming the problem, never panic, never serve.
async fn assert_cold_start_fails(function: &str, env: Vec<(String, String)>, names: &str) -> anyhow::Result<()> {
    let binary = function_binary(function, "debug")?;
    let runtime = RuntimeApi::start(function).await?;
    let mut process = FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env, capture_output: true })?;
    // Work is waiting: a runtime that started anyway would take it.
    let _answer = runtime.enqueue(events::http("GET", "/health", None, None));

    let status = process.wait_exit(WAIT).await?;
    let reported = runtime.init_error();
    let stderr = if status.is_some() { process.final_output(WAIT).await } else { process.output() };
    eprintln!("{function} stderr:\n{stderr}");
    match (&status, &reported) {
        (_, Some(init_error)) => {
            assert!(
                init_error.body.to_string().contains(names),
                "{function}: init error {init_error:?} does not name {names}"
            );
        }
        (Some(status), None) => {
            assert!(!status.success(), "{function} exited successfully without its configuration");
            assert_ne!(status.code(), Some(101), "{function} panicked instead of reporting: {stderr}");
            assert!(stderr.contains(names), "{function}: stderr does not name {names}: {stderr}");
        }
        (None, None) => panic!("{function} neither exited nor reported an init error within {WAIT:?}"),
    }
    assert!(!stderr.contains("panicked"), "{function} panicked: {stderr}");
    assert_eq!(runtime.next_calls(), 0, "{function} asked for an event without its configuration");
    Ok(())
}

#[tokio::test]
async fn cold_start_without_required_configuration_fails_loudly() -> anyhow::Result<()> {
    let without = |function: &str, name: &str| {
        lambda_env(function, MYSQL_ADMIN_URL, "lam-unused", "http://127.0.0.1:9")
            .into_iter()
            .filter(|(k, _)| k != name)
            .collect::<Vec<_>>()
    };
    assert_cold_start_fails("auth-http", without("auth-http", "CHATTING_JWT_SECRET"), "CHATTING_JWT_SECRET").await?;
    assert_cold_start_fails("ws-connect", without("ws-connect", "CHATTING_JWT_SECRET"), "CHATTING_JWT_SECRET").await?;

    let mut short = without("ws-message", "CHATTING_JWT_SECRET");
    short.push(("CHATTING_JWT_SECRET".into(), "too-short".into()));
    assert_cold_start_fails("ws-message", short, "CHATTING_JWT_SECRET").await?;

    assert_cold_start_fails(
        "ws-disconnect",
        without("ws-disconnect", "CHATTING_MANAGEMENT_ENDPOINT"),
        "CHATTING_MANAGEMENT_ENDPOINT",
    )
    .await?;
    assert_cold_start_fails("ws-connect", without("ws-connect", "CHATTING_DATABASE_URL"), "CHATTING_DATABASE_URL")
        .await?;

    // Lambda always gives the role's key; the function binaries carry no other credential
    // chain, so without it they say what is missing rather than fail at the first push.
    let mut keyless = without("ws-message", "");
    keyless.push(("AWS_ACCESS_KEY_ID".into(), String::new()));
    assert_cold_start_fails("ws-message", keyless, "AWS_ACCESS_KEY_ID").await
}

/// `RUST_LOG=trace` in Lambda must not put raw events in the logs: the runtime crates trace
/// every event they receive (passwords, tokens), so they are capped at `info` whatever the
/// filter says, while the function's own crates and the rest still trace.
#[tokio::test]
async fn trace_logs_of_a_real_function_carry_no_event_and_no_secret() -> anyhow::Result<()> {
    let database_url = fresh_mysql_database().await?;
    let mut env = lambda_env("auth-http", &database_url, &unique("lam"), "");
    env.retain(|(name, _)| name != "RUST_LOG");
    env.push(("RUST_LOG".into(), "trace".into()));
    let binary = function_binary("auth-http", "debug")?;
    let runtime = RuntimeApi::start("auth-http").await?;
    let process = FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env, capture_output: true })?;

    let user_id = unique("tr");
    let password = "Pa55-trace-secret-word";
    let signup = json!({ "userId": user_id, "password": password, "nick": "Tracer" }).to_string();
    let response = runtime.invoke(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!(response["statusCode"], 201, "{response}");
    let login = json!({ "userId": user_id, "password": password }).to_string();
    let response = runtime.invoke(events::http("POST", "/auth/login", Some(&login), None)).await?;
    assert_eq!(response["statusCode"], 200, "{response}");
    let session: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())?;
    let refresh_token = session["data"]["refreshToken"].as_str().unwrap_or_default().to_owned();
    let access_token = session["data"]["accessToken"].as_str().unwrap_or_default().to_owned();
    let refresh = json!({ "refreshToken": refresh_token }).to_string();
    let response = runtime.invoke(events::http("POST", "/auth/refresh", Some(&refresh), None)).await?;
    assert_eq!(response["statusCode"], 200, "{response}");
    let response = runtime.invoke(events::http("GET", "/auth/me", None, Some(&access_token))).await?;
    assert_eq!(response["statusCode"], 200, "{response}");
    // The next event's poll is the last thing the runtime logs about these.
    runtime.wait_next_calls(5, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = process.output();
    let lines: Vec<&str> = logs.lines().collect();
    let traced = lines.iter().filter(|line| line.contains(" TRACE ")).count();
    assert!(traced > 0, "RUST_LOG=trace is in force: no TRACE line in\n{logs}");
    let verbatim: Vec<&&str> = lines
        .iter()
        .filter(|line| [" DEBUG ", " TRACE "].iter().any(|level| line.contains(level)))
        .filter(|line| ["lambda_runtime", "lambda_http"].iter().any(|target| line.contains(target)))
        .collect();
    assert!(verbatim.is_empty(), "runtime crates logged below info: {verbatim:#?}");
    let signature = access_token.rsplit('.').next().unwrap_or_default();
    for (what, secret) in
        [("password", password), ("refresh token", &refresh_token), ("access token signature", signature)]
    {
        assert!(!secret.is_empty() && !logs.contains(secret), "the {what} reached the logs");
    }
    println!(
        "auth-http at RUST_LOG=trace: {} log lines, {traced} at TRACE, none below info from the runtime crates",
        lines.len()
    );
    Ok(())
}

/// With the template's `LoggingConfig` (JSON, an application log level) and no `RUST_LOG`, a
/// real function writes every log line as a JSON object Lambda understands, at that level;
/// and every invocation adds one CloudWatch Embedded Metric Format line with its latency and
/// what it cost.
#[tokio::test]
async fn a_real_function_logs_json_at_lambdas_level_and_writes_emf_metrics() -> anyhow::Result<()> {
    let database_url = fresh_mysql_database().await?;
    let mut env = lambda_env("auth-http", &database_url, &unique("lam"), "");
    env.retain(|(name, _)| name != "RUST_LOG");
    env.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "DEBUG".into()));
    let binary = function_binary("auth-http", "debug")?;
    let runtime = RuntimeApi::start("auth-http").await?;
    let process = FunctionProcess::start(Launch { binary: &binary, runtime: &runtime, env, capture_output: true })?;

    let signup = json!({ "userId": unique("emf"), "password": "correct horse battery", "nick": "Emf" }).to_string();
    let response = runtime.invoke(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!(response["statusCode"], 201, "{response}");
    let response = runtime.invoke(events::http("GET", "/health", None, None)).await?;
    assert_eq!(response["statusCode"], 200, "{response}");
    runtime.wait_next_calls(3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let output = process.output();
    let lines: Vec<Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|e| anyhow::anyhow!("not a JSON line ({e}): {line}")))
        .collect::<anyhow::Result<_>>()?;
    let (metrics, logs): (Vec<&Value>, Vec<&Value>) = lines.iter().partition(|line| line.get("_aws").is_some());
    assert!(!logs.is_empty(), "some log lines");
    for log in &logs {
        // Lambda filters JSON application logs on `level`; `timestamp` orders them.
        assert!(log["timestamp"].is_string() && log["target"].is_string(), "Lambda's JSON log fields: {log}");
        assert!(["DEBUG", "INFO", "WARN", "ERROR"].contains(&log["level"].as_str().unwrap_or_default()), "{log}");
    }
    assert!(logs.iter().any(|log| log["level"] == "DEBUG"), "AWS_LAMBDA_LOG_LEVEL=DEBUG lets debug through");
    assert!(logs.iter().any(|log| log["message"].is_string()), "events carry their message at the top level");

    assert_eq!(metrics.len(), 2, "one EMF record per invocation: {metrics:#?}");
    for record in &metrics {
        let directive = &record["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "chatting");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(record["Function"], "auth-http");
        assert!(record["_aws"]["Timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000_000), "{record}");
        for metric in directive["Metrics"].as_array().into_iter().flatten() {
            let name = metric["Name"].as_str().unwrap_or_default();
            assert!(record[name].is_number(), "{name} is declared and given a value: {record}");
        }
        assert!(record["Latency"].as_f64().is_some_and(|ms| ms > 0.0), "{record}");
    }
    assert!(metrics[0]["StoreStatements"].as_u64().is_some_and(|n| n >= 1), "a signup writes: {}", metrics[0]);
    assert_eq!(metrics[1]["StoreStatements"], 0, "/health touches no store: {}", metrics[1]);
    println!("auth-http with LoggingConfig JSON/DEBUG: {} JSON log lines, EMF {}", logs.len(), metrics[0]);
    Ok(())
}

/// A secret in moto's Secrets Manager, made for one test; its ARN.
async fn put_secret(value: &str) -> anyhow::Result<String> {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(chatting_e2e::dynamodb_endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .http_client(chatting_shared::aws::KeepAliveClient::new(1024 * 1024))
        .build();
    let created = aws_sdk_secretsmanager::Client::from_conf(config)
        .create_secret()
        .name(unique("chatting-secret-"))
        .secret_string(value)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("moto's Secrets Manager at {}: {e:?}", chatting_e2e::dynamodb_endpoint()))?;
    created.arn.ok_or_else(|| anyhow::anyhow!("no ARN"))
}

/// The stack gives the functions secret ARNs, not secrets: a real function reads the JWT
/// key and the database credential from Secrets Manager (moto's) at cold start, and works
/// with them; an ARN it cannot read stops the cold start with its name.
#[tokio::test]
async fn a_real_function_reads_its_jwt_key_and_database_credential_from_secrets_manager() -> anyhow::Result<()> {
    use sqlx::Connection as _;
    let database_url = fresh_mysql_database().await?;
    let database = database_url.rsplit('/').next().unwrap_or_default().to_owned();
    let (user, password) = (unique("sm_"), "p@ss:w/rd %x");
    let mut admin = sqlx::MySqlConnection::connect(MYSQL_ADMIN_URL).await?;
    for host in ["%", "localhost", "127.0.0.1"] {
        sqlx::query(&format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")).execute(&mut admin).await?;
        sqlx::query(&format!("GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")).execute(&mut admin).await?;
    }
    let jwt_key = "a-key-that-only-secrets-manager-knows-0123456789";
    let jwt_arn = put_secret(jwt_key).await?;
    let database_arn = put_secret(&json!({ "username": user, "password": password }).to_string()).await?;

    let mut env = lambda_env("auth-http", &format!("mysql://127.0.0.1:3306/{database}"), &unique("lam"), "");
    env.retain(|(name, _)| name != "CHATTING_JWT_SECRET");
    env.extend([
        ("CHATTING_JWT_SECRET_ARN".to_owned(), jwt_arn),
        ("CHATTING_DATABASE_SECRET_ARN".to_owned(), database_arn),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(), chatting_e2e::dynamodb_endpoint()),
    ]);
    let mut auth = Function::start("auth-http", env.clone()).await?;
    let user_id = unique("sm");
    let signup = json!({ "userId": user_id, "password": "correct horse battery", "nick": "Secret" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!(status, 201, "the database credential from the secret works: {body}");
    let login = json!({ "userId": user_id, "password": "correct horse battery" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/login", Some(&login), None)).await?;
    assert_eq!(status, 200, "{body}");
    let access = body["data"]["accessToken"].as_str().unwrap_or_default();
    let keys = chatting_shared::auth::TokenKeys::new(&Secret::from_config(jwt_key), Duration::from_secs(900));
    assert_eq!(keys.verify(access)?.as_str(), user_id, "signed with the key from Secrets Manager");
    auth.assert_warm_after(2).await?;

    let mut unreadable = env;
    unreadable.retain(|(name, _)| name != "CHATTING_JWT_SECRET_ARN");
    unreadable.push((
        "CHATTING_JWT_SECRET_ARN".into(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf".into(),
    ));
    assert_cold_start_fails("auth-http", unreadable, "CHATTING_JWT_SECRET_ARN").await
}

/// The SDK's own endpoint variable reaches the DynamoDB profile: a real function with only
/// `AWS_ENDPOINT_URL_DYNAMODB` (no project-specific variable) keeps its users on that endpoint.
#[tokio::test]
async fn a_real_function_honours_aws_endpoint_url_dynamodb() -> anyhow::Result<()> {
    let table = chatting_e2e::fresh_dynamodb_table().await?;
    let mut env = lambda_env("auth-http", &format!("dynamodb://{}", table.name), &unique("lam"), "");
    env.retain(|(name, _)| !name.starts_with("CHATTING_REDIS") && name != "CHATTING_DYNAMODB_ENDPOINT");
    env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), chatting_e2e::dynamodb_endpoint()));
    let mut auth = Function::start("auth-http", env).await?;
    let user_id = unique("ep");
    let signup = json!({ "userId": user_id, "password": "correct horse battery", "nick": "Endpoint" }).to_string();
    let (status, body) = auth.call(events::http("POST", "/auth/signup", Some(&signup), None)).await?;
    assert_eq!(status, 201, "{body}");
    let stored = table
        .client
        .get_item()
        .table_name(&table.name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user_id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()))
        .send()
        .await?;
    assert!(stored.item.is_some(), "the user is in the table on that endpoint");
    auth.assert_warm_after(1).await
}
