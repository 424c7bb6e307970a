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

    // Expired (beyond the 30 s leeway).
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
