//! Tokens, scopes and tenant isolation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn missing_invalid_and_expired_tokens_are_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/v1/sessions")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    json_error(response, StatusCode::UNAUTHORIZED).await;

    json_error(
        app.get_as("not-a-jwt", "/v1/sessions").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Signed with another key.
    let other = evni_api::JwtKeys::from_secret(&[7u8; 32]);
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let forged = other
        .issue(
            &tenant,
            evni_api::Scope::Admin,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    json_error(
        app.get_as(&forged, "/v1/sessions").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Expired (beyond the 5 s leeway).
    let response = app.get_as(&expired_token(&app).await, "/v1/sessions").await;
    let error = json_error(response, StatusCode::UNAUTHORIZED).await;
    assert!(error["message"].as_str().unwrap().contains("expired"), "{error}");
}

/// A token whose `exp` lies an hour in the past, signed with the server's key.
async fn expired_token(app: &TestApp) -> String {
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": tenant.id, "tenant": "acme", "scope": "admin", "iat": now - 7200, "exp": now - 3600,
                        "jti": uuid::Uuid::new_v4()});
    app.app_state.keys.sign_claims(&claims).unwrap()
}

#[tokio::test]
async fn a_read_token_cannot_write() {
    let app = TestApp::spawn().await;
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let read = app
        .app_state
        .keys
        .issue(&tenant, evni_api::Scope::Read, std::time::Duration::from_secs(60))
        .unwrap();
    let error = json_error(
        app.post_as(&read, "/v1/sessions", &reference_example()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(error["code"], "forbidden");
    json_ok(app.get_as(&read, "/v1/sessions").await).await;
    // Nothing was written.
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);
}

#[tokio::test]
async fn tenants_never_see_each_others_sessions_or_stations() {
    let app = TestApp::spawn().await;
    let other = app.new_tenant("globex").await;
    // Same session id and station id in both tenants, different data.
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let mut theirs = reference_example();
    theirs["meter_values"] = json!(steady_charge(60, 22.0, 5000.0));
    theirs["meter_values"][30] = kwh(30, 4000.0);
    json_ok(app.post_as(&other, "/v1/sessions", &theirs).await).await;
    json_ok(
        app.post_as(
            &other,
            "/v1/sessions",
            &session("only-theirs", "ST-THEIRS", vec![]),
        )
        .await,
    )
    .await;

    let mine = app.get_ok("/v1/sessions/sess-abc-001").await;
    assert_eq!(mine["meter_values"].as_array().unwrap().len(), 3);
    assert_eq!(mine["is_anomaly"], false);
    let theirs_detail = json_ok(app.get_as(&other, "/v1/sessions/sess-abc-001").await).await;
    assert_eq!(theirs_detail["meter_values"].as_array().unwrap().len(), 61);

    json_error(app.get("/v1/sessions/only-theirs").await, StatusCode::NOT_FOUND).await;
    json_error(
        app.patch(
            "/v1/sessions/only-theirs",
            &json!({"meter_values": [kwh(0, 1.0)]}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    json_error(app.get("/v1/stations/ST-THEIRS").await, StatusCode::NOT_FOUND).await;
    json_error(
        app.get("/v1/stations/ST-THEIRS/connectors").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Their internal UUIDs do not work either.
    let their_list = json_ok(app.get_as(&other, "/v1/sessions").await).await;
    for item in their_list["items"].as_array().unwrap() {
        let uuid = item["session_id"].as_str().unwrap();
        json_error(
            app.get(&format!("/v1/sessions/{uuid}")).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    let list = app.get_ok("/v1/sessions").await;
    assert_eq!(list["total"], 1);
    let stations = app.get_ok("/v1/stations").await;
    assert_eq!(stations["total"], 1);
    assert_eq!(stations["items"][0]["anomalous_sessions"], 0);
    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(
        stats,
        json!({"total_sessions": 1, "anomalous_sessions": 0, "total_stations": 1,
                             "stations_with_anomalies": 0, "anomaly_rate": 0.0})
    );
    let their_stats = json_ok(app.get_as(&other, "/v1/statistics").await).await;
    assert_eq!(their_stats["total_sessions"], 2);
    assert_eq!(their_stats["anomalous_sessions"], 1);
    assert_eq!(their_stats["total_stations"], 2);
}

/// A token for `acme` with claims relative to now, signed with the server's key.
async fn token_with(app: &TestApp, exp_in: i64, nbf_in: Option<i64>) -> String {
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"sub": tenant.id, "tenant": "acme", "scope": "admin", "iat": now - 60,
                            "exp": now + exp_in, "jti": uuid::Uuid::new_v4()});
    if let Some(nbf) = nbf_in {
        claims["nbf"] = json!(now + nbf);
    }
    app.app_state.keys.sign_claims(&claims).unwrap()
}

#[tokio::test]
async fn expiry_leeway_is_five_seconds_at_most_and_nbf_is_honoured() {
    let app = TestApp::spawn().await;
    let error = json_error(
        app.get_as(&token_with(&app, -10, None).await, "/v1/sessions")
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(error["message"].as_str().unwrap().contains("expired"), "{error}");
    let error = json_error(
        app.get_as(&token_with(&app, 3600, Some(120)).await, "/v1/sessions")
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("not valid yet"),
        "{error}"
    );
    json_ok(
        app.get_as(&token_with(&app, 3600, Some(-5)).await, "/v1/sessions")
            .await,
    )
    .await;
    // A token without an id could not be revoked: refused.
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let no_id = json!({"sub": tenant.id, "tenant": "acme", "scope": "admin", "iat": now, "exp": now + 60});
    let no_id = app.app_state.keys.sign_claims(&no_id).unwrap();
    json_error(app.get_as(&no_id, "/v1/sessions").await, StatusCode::UNAUTHORIZED).await;
}

/// Runs the `evni` binary as an operator would, on the app's data dir and
/// database: another process than the server.
pub(crate) fn evni_cli(app: &TestApp, args: &[&str]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_evni"));
    command
        .args(args)
        .env("EVNI_DATA_DIR", &app.data_dir)
        .env("EVNI_LOG", "warn")
        .env_remove("EVNI_CONFIG")
        .env_remove("EVNI_DATABASE_URL");
    if let Some(database) = &app.database {
        command.env("EVNI_DATABASE_URL", &database.url);
    }
    let output = command.output().expect("evni runs");
    assert!(
        output.status.success(),
        "evni {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Seconds until `path` answers `status` for `token` (at most 10).
async fn seconds_until(app: &TestApp, token: &str, status: StatusCode) -> f64 {
    let start = std::time::Instant::now();
    loop {
        if app.get_as(token, "/v1/sessions").await.status() == status {
            return start.elapsed().as_secs_f64();
        }
        assert!(start.elapsed().as_secs() < 10, "never answered {status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_token_revoked_by_another_process_is_refused_within_seconds() {
    let app = TestApp::spawn().await;
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let issue = |scope| {
        app.app_state
            .keys
            .issue(&tenant, scope, std::time::Duration::from_secs(600))
            .unwrap()
    };
    let (by_token, by_id) = (issue(evni_api::Scope::Read), issue(evni_api::Scope::Write));
    json_ok(app.get_as(&by_token, "/v1/sessions").await).await;
    json_ok(app.get_as(&by_id, "/v1/sessions").await).await;

    let said = evni_cli(&app, &["token", "revoke", &by_token]);
    assert!(said.contains("is revoked"), "{said}");
    let jti = app.app_state.keys.token_id(&by_id).unwrap().to_string();
    evni_cli(&app, &["token", "revoke", &jti]);
    assert!(evni_cli(&app, &["token", "revoke", &jti]).contains("was revoked already"));

    let waited = seconds_until(&app, &by_token, StatusCode::UNAUTHORIZED).await;
    assert!(waited < 3.0, "refused only after {waited} s");
    seconds_until(&app, &by_id, StatusCode::UNAUTHORIZED).await;
    let error = json_error(app.get_as(&by_id, "/v1/sessions").await, StatusCode::UNAUTHORIZED).await;
    assert!(error["message"].as_str().unwrap().contains("revoked"), "{error}");
    // Other tokens of the tenant still work.
    json_ok(app.get("/v1/sessions").await).await;
}

#[tokio::test]
async fn a_disabled_tenant_is_refused_on_every_endpoint_until_enabled() {
    let app = TestApp::spawn().await;
    let other = app.new_tenant("other").await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;

    assert!(evni_cli(&app, &["tenant", "disable", "acme"]).contains("disabled"));
    let waited = seconds_until(&app, &app.token, StatusCode::FORBIDDEN).await;
    assert!(waited < 3.0, "refused only after {waited} s");
    for response in [
        app.get("/v1/sessions/sess-abc-001").await,
        app.get("/v1/stations").await,
        app.get("/v1/webhooks").await,
        app.post("/v1/sessions", &reference_example()).await,
    ] {
        let error = json_error(response, StatusCode::FORBIDDEN).await;
        assert!(error["message"].as_str().unwrap().contains("disabled"), "{error}");
    }
    json_ok(app.get_as(&other, "/v1/sessions").await).await;

    evni_cli(&app, &["tenant", "enable", "acme"]);
    seconds_until(&app, &app.token, StatusCode::OK).await;
    assert_eq!(
        app.get_ok("/v1/sessions/sess-abc-001").await["session_id"],
        "sess-abc-001"
    );
}
