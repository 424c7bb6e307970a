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

/// Every operation of /openapi.json, as (method, path, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if let Some(operation) = item.get(method) {
                all.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    all
}

async fn openapi_document(app: &TestApp) -> serde_json::Value {
    json_ok(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await
}

#[tokio::test]
async fn openapi_operation_ids_are_unique_and_every_secured_operation_documents_its_errors() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let operations = operations(&doc);
    assert!(operations.len() >= 29, "{} operations", operations.len());
    let mut ids = std::collections::HashSet::new();
    for (method, path, operation) in &operations {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(
            ids.insert(id.to_owned()),
            "operationId {id} repeats ({method} {path})"
        );
        let responses = operation["responses"].as_object().unwrap();
        let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            for status in ["401", "403"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: {status} undocumented"
                );
            }
        }
        let path_parameters = operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
        if path_parameters {
            assert!(responses.contains_key("400"), "{method} {path}: 400 undocumented");
        }
        let body = &operation["requestBody"];
        if body["content"].get("application/json").is_some() {
            for status in ["400", "413", "422"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: {status} undocumented"
                );
            }
            if body["required"] == true {
                assert!(responses.contains_key("415"), "{method} {path}: 415 undocumented");
            }
        }
        for (status, response) in responses {
            assert!(
                response["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{method} {path}: {status} has no description"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path}: {status} is not the JSON error shape"
                );
            }
        }
    }
}

#[tokio::test]
async fn openapi_request_bodies_refuse_unknown_fields_except_metadata() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let schemas = &doc["components"]["schemas"];
    for name in [
        "SessionCreateRequest",
        "MeterValue",
        "MeterValuesRequest",
        "BatchRequest",
        "FeedbackRequest",
        "AskRequest",
        "ExplainRequest",
        "StationPatchRequest",
        "SettingsPatch",
        "WebhookCreateRequest",
        "FineTuneRequest",
        "DataSourceIn",
        "SessionFilterIn",
        "TrainingConfigIn",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"], false,
            "{name} accepts unknown fields in the document"
        );
    }
    // metadata stays a free-form object.
    let metadata = &schemas["SessionCreateRequest"]["properties"]["metadata"];
    assert!(metadata.get("additionalProperties").is_none(), "{metadata}");
    // The server agrees: an unknown field of each is a 422 naming it.
    let response = app
        .post(
            "/v1/sessions",
            &serde_json::json!({"session_id": "s", "charging_station_id": "cs", "units": "kWh"}),
        )
        .await;
    let error = json_error(response, reqwest::StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(error["details"][0]["field"], "units");
}

#[tokio::test]
async fn openapi_declares_uploads_as_ndjson_of_sessions() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let body = &doc["paths"]["/v1/models/uploads"]["post"]["requestBody"]["content"];
    let ndjson = &body["application/x-ndjson"]["schema"];
    assert_eq!(ndjson["type"], "array", "{body}");
    assert_eq!(
        ndjson["items"]["$ref"],
        "#/components/schemas/SessionCreateRequest"
    );
}

#[tokio::test]
async fn openapi_enumerates_what_the_server_accepts_and_writes() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let schemas = &doc["components"]["schemas"];
    let measurands = &schemas["MeterValue"]["properties"]["measurand"]["enum"];
    let accepted: Vec<serde_json::Value> = evni_domain::Measurand::accepted()
        .into_iter()
        .map(Into::into)
        .chain([serde_json::Value::Null])
        .collect();
    assert_eq!(measurands.as_array().unwrap(), &accepted);
    assert!(schemas["MeterValueOut"]["properties"]["unit"]["enum"]
        .as_array()
        .unwrap()
        .contains(&"kWh".into()));
    assert_eq!(
        schemas["BatchStatusResponse"]["properties"]["status"]["enum"],
        serde_json::json!(["pending", "processing", "completed", "failed"])
    );
    // Page parameters carry the bounds the server checks.
    let list = &doc["paths"]["/v1/sessions"]["get"]["parameters"];
    let page_size = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page_size")
        .unwrap();
    assert_eq!(page_size["schema"]["minimum"], 1);
    assert_eq!(page_size["schema"]["maximum"], 100);
    let response = app.get("/v1/sessions?page_size=101").await;
    json_error(response, reqwest::StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_a_json_400() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/sessions/%FF",
        "/v1/stations/%C3%28/connectors",
        "/v1/sessions/batch/%FF",
    ] {
        let response = app.get(path).await;
        let error = json_error(response, reqwest::StatusCode::BAD_REQUEST).await;
        assert_eq!(error["code"], "malformed_request", "{path}");
    }
}

#[tokio::test]
async fn openapi_explain_body_is_optional_and_never_null() {
    let app = TestApp::spawn().await;
    let doc = openapi_document(&app).await;
    let body = &doc["paths"]["/v1/sessions/{session_id}/explain"]["post"]["requestBody"];
    assert_eq!(body["required"], false, "{body}");
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ExplainRequest"
    );
}
