//! Nothing a client sent successfully is lost across restarts.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_restart_keeps_every_session_reading_and_aggregate() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        json_ok(
            app.post(
                "/v1/sessions",
                &session(&format!("s{i}"), "ST-1", steady_charge(20, 11.0, 10.0)),
            )
            .await,
        )
        .await;
    }
    json_ok(
        app.patch("/v1/sessions/s3", &json!({"meter_values": [kwh(21, 5.0)]}))
            .await,
    )
    .await;
    let before_list = app.get_ok("/v1/sessions?page_size=100").await;
    let before_detail = app.get_ok("/v1/sessions/s3").await;
    let before_stats = app.get_ok("/v1/statistics").await;

    let app = app.restart().await;
    assert_eq!(app.get_ok("/v1/sessions?page_size=100").await, before_list);
    assert_eq!(app.get_ok("/v1/sessions/s3").await, before_detail);
    assert_eq!(app.get_ok("/v1/statistics").await, before_stats);
    // The restarted server keeps appending where the old one stopped.
    let body = json_ok(
        app.patch("/v1/sessions/s3", &json!({"meter_values": [kwh(22, 5.1)]}))
            .await,
    )
    .await;
    assert_eq!(body["status"], "active");
    assert_eq!(
        app.get_ok("/v1/sessions/s3").await["meter_values"]
            .as_array()
            .unwrap()
            .len(),
        23
    );
}
