//! The HTTP API, end to end through the local gateway and `lambda_http`.

use chatting_e2e::{TestServer, unique};
use serde_json::json;

#[tokio::test]
async fn signup_login_me() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user_id = unique("ann");
    let (status, body) = server.call("GET", &format!("/auth/id-check/{user_id}"), None, None).await?;
    assert_eq!((status, body["data"]["available"].clone()), (200, json!(true)));

    let (status, body) = server.post("/auth/signup", json!({"userId": user_id, "password": "password123", "nick": " Ann "})).await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"ok": true, "code": "success", "data": {"userId": user_id, "nick": "Ann"}, "message": null}));

    let session = server.login(&user_id).await?;
    let (status, body) = server.call("GET", "/auth/me", None, Some(&session.access)).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"userId": user_id, "nick": "Ann", "groupId": null}));

    let (status, body) = server.call("GET", &format!("/auth/id-check/{user_id}"), None, None).await?;
    assert_eq!((status, body["code"].clone()), (409, json!("exist")));
    Ok(())
}

#[tokio::test]
async fn duplicate_signup_is_exist() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user_id = unique("dup");
    server.signup(&user_id, "First").await?;
    let (status, body) = server.post("/auth/signup", json!({"userId": user_id, "password": "password123", "nick": "Second"})).await?;
    assert_eq!((status, body["code"].clone(), body["ok"].clone()), (409, json!("exist"), json!(false)));
    Ok(())
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user_id = unique("pw");
    server.signup(&user_id, "Pw").await?;
    let (status, wrong) = server.post("/auth/login", json!({"userId": user_id, "password": "not-the-password"})).await?;
    assert_eq!((status, wrong["code"].clone()), (401, json!("wrong")));
    let (status, unknown) = server.post("/auth/login", json!({"userId": unique("nobody"), "password": "whatever123"})).await?;
    assert_eq!(status, 401);
    assert_eq!(unknown, wrong);
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let session = server.user("rot").await?;

    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": session.refresh})).await?;
    assert_eq!(status, 200, "{body}");
    let newer = body["data"]["refreshToken"].as_str().unwrap().to_owned();
    let access = body["data"]["accessToken"].as_str().unwrap().to_owned();
    assert_ne!(newer, session.refresh);
    assert_eq!(body["data"]["expiresIn"], 900);
    assert_eq!(server.call("GET", "/auth/me", None, Some(&access)).await?.0, 200);

    // The retired token again: refused, and the newer one dies with it.
    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": session.refresh})).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": newer})).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    Ok(())
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let session = server.user("out").await?;
    let (status, body) = server.post("/auth/logout", json!({"refreshToken": session.refresh})).await?;
    assert_eq!((status, body["data"].clone()), (200, json!({})));
    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": session.refresh})).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_4xx_envelope() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    for (body, status, code) in [
        (json!([1, 2]), 400, "invalid"),
        (json!({"userId": "AB", "password": "password123", "nick": "x"}), 400, "invalid"),
        (json!({"userId": "okname", "password": "short", "nick": "x"}), 400, "invalid"),
        (json!({"userId": "okname", "password": "password123", "nick": ""}), 400, "invalid"),
        (json!({"userId": "okname", "password": 12345678, "nick": "x"}), 400, "invalid"),
        (json!({"userId": "okname", "password": "password123", "nick": "x".repeat(20_000)}), 413, "tooLarge"),
    ] {
        let (got_status, got) = server.post("/auth/signup", body.clone()).await?;
        assert_eq!((got_status, got["code"].as_str().unwrap()), (status, code), "{body}");
        assert_eq!(got["ok"], false);
        assert!(got["message"].is_string());
    }
    let (status, body) = server.call("POST", "/auth/login", None, None).await?;
    assert_eq!((status, body["code"].clone()), (400, json!("invalid")));
    let (status, body) = server.call("GET", "/auth/id-check/NOT_VALID", None, None).await?;
    assert_eq!((status, body["code"].clone()), (400, json!("invalid")));
    let (status, body) = server.call("GET", "/auth/me", None, Some("garbage")).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    let (status, body) = server.call("GET", "/auth/me", None, None).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    let (status, body) = server.call("GET", "/health", None, None).await?;
    assert_eq!((status, body["data"]["status"].clone()), (200, json!("ok")));
    Ok(())
}
