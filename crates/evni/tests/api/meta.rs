//! Health, readiness and self-description.

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn openapi_describes_every_endpoint_with_the_reference_shapes() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/sessions",
        "/v1/sessions/{session_id}",
        "/v1/stations",
        "/v1/stations/{charging_station_id}",
        "/v1/stations/{charging_station_id}/connectors",
        "/v1/statistics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    // The recent batches and fine-tunes, paged like the other lists.
    for (path, schema) in [
        ("/v1/sessions/batch", "BatchListResponse"),
        ("/v1/models/fine-tune", "FineTuneListResponse"),
    ] {
        let get = &doc["paths"][path]["get"];
        assert!(
            get["operationId"].as_str().unwrap().starts_with("list_"),
            "{path}: {get}"
        );
        let params: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["page", "page_size"], "{path}");
        let properties = &doc["components"]["schemas"][schema]["properties"];
        for field in ["items", "total", "page", "page_size"] {
            assert!(properties.get(field).is_some(), "{schema}.{field} missing");
        }
    }
    let analysis = &doc["components"]["schemas"]["SessionAnalysisResponse"]["properties"];
    for field in [
        "session_id",
        "status",
        "is_anomaly",
        "anomaly_score",
        "anomaly_confidence",
        "is_incident",
        "is_recurring",
        "anomalies",
        "analyzed_at",
    ] {
        assert!(
            analysis.get(field).is_some(),
            "SessionAnalysisResponse.{field} missing"
        );
    }
}

#[tokio::test]
async fn llms_txt_summarises_the_api() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/llms.txt")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.starts_with("# evni"));
    for endpoint in [
        "POST /v1/sessions",
        "PATCH /v1/sessions/{session_id}",
        "GET /v1/statistics",
    ] {
        assert!(text.contains(endpoint), "{endpoint} missing from llms.txt");
    }
}
