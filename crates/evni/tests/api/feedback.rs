//! Verdict flags through the API: is_recurring, is_incident, operator
//! feedback and the tenant's threshold.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// A charge whose register steps back by 1 kWh at minute 30.
fn decreasing(id: &str, station: &str, day: i64) -> Value {
    let values: Vec<Value> = (0..=60)
        .map(|m| {
            let value = 1000.0 + 11.0 * m as f64 / 60.0 - if m >= 30 { 1.0 } else { 0.0 };
            mv(day * 24 * 60 + m, "Energy.Active.Import.Register", "kWh", value)
        })
        .collect();
    session(id, station, values)
}

#[tokio::test]
async fn a_category_seen_in_two_earlier_sessions_at_the_station_is_recurring() {
    let app = TestApp::spawn().await;
    let first = json_ok(app.post("/v1/sessions", &decreasing("a", "ST-1", 0)).await).await;
    assert_eq!(first["is_recurring"], false);
    let second = json_ok(app.post("/v1/sessions", &decreasing("b", "ST-1", 1)).await).await;
    assert_eq!(second["is_recurring"], false);
    // Elsewhere it is new.
    let other = json_ok(app.post("/v1/sessions", &decreasing("c", "ST-2", 2)).await).await;
    assert_eq!(other["is_recurring"], false);
    let third = json_ok(app.post("/v1/sessions", &decreasing("d", "ST-1", 2)).await).await;
    assert_eq!(third["is_recurring"], true);
    // More than 30 days later the earlier ones no longer count.
    let later = json_ok(app.post("/v1/sessions", &decreasing("e", "ST-1", 40)).await).await;
    assert_eq!(later["is_recurring"], false);
    assert_eq!(app.get_ok("/v1/sessions/d").await["is_recurring"], true);
    // A normal session never recurs.
    let normal = json_ok(
        app.post(
            "/v1/sessions",
            &session("n", "ST-1", steady_charge(30, 11.0, 5.0)),
        )
        .await,
    )
    .await;
    assert_eq!(normal["is_recurring"], false);
}

#[tokio::test]
async fn incidents_follow_the_billing_rule_and_operator_feedback() {
    let app = TestApp::spawn().await;
    let body = json_ok(app.post("/v1/sessions", &decreasing("a", "ST-1", 0)).await).await;
    let rule = body["anomalies"].as_array().unwrap().iter().any(|a| {
        ["KWH_DECREASE", "ENERGY_JUMP", "METER_STUCK"].contains(&a["category"].as_str().unwrap())
            && a["confidence"].as_f64().unwrap() >= 0.9
    });
    assert_eq!(body["is_incident"], rule);

    let feedback = json_ok(
        app.post(
            "/v1/sessions/a/feedback",
            &json!({"label": "false_positive", "comment": "meter swap"}),
        )
        .await,
    )
    .await;
    assert_eq!(feedback["is_incident"], false);
    assert_eq!(feedback["label"], "false_positive");
    assert!(feedback["feedback_id"].as_str().is_some_and(|id| !id.is_empty()));

    let feedback = json_ok(
        app.post("/v1/sessions/a/feedback", &json!({"label": "incident"}))
            .await,
    )
    .await;
    assert_eq!(feedback["is_incident"], true);
    assert_eq!(app.get_ok("/v1/sessions/a").await["is_incident"], true);
    // The confirmation survives re-analysis.
    json_ok(
        app.patch("/v1/sessions/a", &json!({"meter_values": [kwh(61, 1010.2)]}))
            .await,
    )
    .await;
    assert_eq!(app.get_ok("/v1/sessions/a").await["is_incident"], true);

    let error = json_error(
        app.post("/v1/sessions/a/feedback", &json!({"label": "meh"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "label");
    assert_eq!(
        error["details"][0]["accepted"],
        json!(["incident", "false_positive", "normal"])
    );
    json_error(
        app.post("/v1/sessions/nope/feedback", &json!({"label": "normal"}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn the_tenant_threshold_decides_is_anomaly() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get_ok("/v1/settings").await["anomaly_threshold"], 0.5);
    let body = json_ok(app.post("/v1/sessions", &decreasing("a", "ST-1", 0)).await).await;
    let score = body["anomaly_score"].as_f64().unwrap();
    assert!(score >= 0.5 && body["is_anomaly"] == true);

    let raised = (score + 1.0) / 2.0;
    let settings = json_ok(
        app.client
            .patch(app.url("/v1/settings"))
            .bearer_auth(&app.token)
            .json(&json!({"anomaly_threshold": raised}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(settings["anomaly_threshold"], raised);
    let body = json_ok(app.post("/v1/sessions", &decreasing("b", "ST-1", 0)).await).await;
    assert_eq!(body["anomaly_score"], score);
    assert_eq!(body["is_anomaly"], false);

    let bad = app
        .client
        .patch(app.url("/v1/settings"))
        .bearer_auth(&app.token)
        .json(&json!({"anomaly_threshold": 0}));
    json_error(bad.send().await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let write = app
        .app_state
        .keys
        .issue(
            &tenant,
            evni_api::Scope::Write,
            std::time::Duration::from_secs(60),
        )
        .unwrap();
    let forbidden = app
        .client
        .patch(app.url("/v1/settings"))
        .bearer_auth(write)
        .json(&json!({"anomaly_threshold": 0.7}));
    json_error(forbidden.send().await.unwrap(), StatusCode::FORBIDDEN).await;
}
