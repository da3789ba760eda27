//! The HTTP API, end to end through the local gateway and `lambda_http`.

use std::time::Duration;

use chatting_e2e::{TestServer, unique};
use serde_json::json;

#[tokio::test]
async fn signup_login_me() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user_id = unique("ann");
    let (status, body) = server.call("GET", &format!("/auth/id-check/{user_id}"), None, None).await?;
    assert_eq!((status, body["data"]["available"].clone()), (200, json!(true)));

    let (status, body) =
        server.post("/auth/signup", json!({"userId": user_id, "password": "password123", "nick": " Ann "})).await?;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"ok": true, "code": "success", "data": {"userId": user_id, "nick": "Ann"}, "message": null})
    );

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
    let (status, body) =
        server.post("/auth/signup", json!({"userId": user_id, "password": "password123", "nick": "Second"})).await?;
    assert_eq!((status, body["code"].clone(), body["ok"].clone()), (409, json!("exist"), json!(false)));
    Ok(())
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let user_id = unique("pw");
    server.signup(&user_id, "Pw").await?;
    let (status, wrong) =
        server.post("/auth/login", json!({"userId": user_id, "password": "not-the-password"})).await?;
    assert_eq!((status, wrong["code"].clone()), (401, json!("wrong")));
    let (status, unknown) =
        server.post("/auth/login", json!({"userId": unique("nobody"), "password": "whatever123"})).await?;
    assert_eq!(status, 401);
    assert_eq!(unknown, wrong);
    Ok(())
}

/// Two refreshes of one token at once (two tabs, or a retry after a lost answer) both get
/// the same new pair; the retired token presented after the grace window is reuse, and
/// revokes the whole family.
#[tokio::test]
async fn refresh_rotates_a_retry_gets_the_same_pair_and_later_reuse_revokes_the_family() -> anyhow::Result<()> {
    let grace = Duration::from_secs(1);
    let server = TestServer::start_with(|options| options.config.refresh_grace = grace).await?;
    let session = server.user("rot").await?;

    let refresh = || server.post("/auth/refresh", json!({"refreshToken": session.refresh}));
    let ((first_status, first), (second_status, second)) = tokio::try_join!(refresh(), refresh())?;
    assert_eq!((first_status, second_status), (200, 200), "{first} {second}");
    let newer = first["data"]["refreshToken"].as_str().unwrap_or_default().to_owned();
    let access = first["data"]["accessToken"].as_str().unwrap_or_default().to_owned();
    assert_ne!(newer, session.refresh);
    assert_eq!(second["data"]["refreshToken"], first["data"]["refreshToken"], "the same refresh token");
    assert_eq!(second["data"]["accessToken"], first["data"]["accessToken"], "the same access token");
    assert_eq!(first["data"]["expiresIn"], 900);
    assert_eq!(server.call("GET", "/auth/me", None, Some(&access)).await?.0, 200);
    // A retry a moment later still gets the same pair.
    let (status, again) = refresh().await?;
    assert_eq!((status, &again["data"]["refreshToken"]), (200, &first["data"]["refreshToken"]));

    // The retired token after the grace window: refused, and the newer one dies with it.
    tokio::time::sleep(grace + Duration::from_millis(200)).await;
    let (status, body) = refresh().await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")), "{body}");
    let (status, body) = server.post("/auth/refresh", json!({"refreshToken": newer})).await?;
    assert_eq!((status, body["code"].clone()), (401, json!("notAuth")));
    Ok(())
}

/// Rotation never extends a session beyond its absolute lifetime from the login.
#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_often_refreshed() -> anyhow::Result<()> {
    let lifetime = Duration::from_secs(2);
    let server = TestServer::start_with(|options| options.config.session_lifetime = lifetime).await?;
    let logged_in = std::time::Instant::now();
    let mut token = server.user("ends").await?.refresh;
    let mut refreshes = 0;
    let refused = loop {
        let (status, body) = server.post("/auth/refresh", json!({"refreshToken": token})).await?;
        if status != 200 {
            break body;
        }
        refreshes += 1;
        token = body["data"]["refreshToken"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(logged_in.elapsed() < lifetime + Duration::from_secs(2), "refreshed past the session's end");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(refreshes >= 3, "refreshing works until the end: {refreshes}");
    assert!(logged_in.elapsed() >= lifetime, "not before the end: {:?}", logged_in.elapsed());
    assert_eq!(refused["code"], "notAuth", "{refused}");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("expired")), "{refused}");
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
