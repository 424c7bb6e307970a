//! /v1/models: the registry, fine-tuning and activation.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn the_shipped_models_are_listed_with_their_measured_metrics() {
    let app = TestApp::spawn().await;
    let list = app.get_ok("/v1/models").await;
    let models = list["models"].as_array().unwrap();
    let by_id = |id: &str| {
        models
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let csar2 = by_id("model-csar2-base");
    assert_eq!(csar2["type"], "csar_2");
    assert_eq!(csar2["is_base"], true);
    assert_eq!(csar2["base_model"], Value::Null);
    assert_eq!(csar2["status"], "active");
    // The sidecar's figures, measured at training time.
    let card: Value = serde_json::from_str(include_str!("../../../../models/csar_2/model.json")).unwrap();
    assert_eq!(csar2["version"], card["version"]);
    assert_eq!(csar2["metrics"]["recall"], card["metrics"]["recall"]);
    assert_eq!(csar2["metrics"]["precision"], card["metrics"]["precision"]);
    assert_eq!(csar2["metrics"]["f1_score"], card["metrics"]["f1"]);
    assert!(csar2.get("s3_path").is_none(), "the list has no s3_path");
    assert_eq!(by_id("model-csarc2-base")["type"], "csar_c_2");
    let shade = by_id("model-shade-base");
    assert_eq!(shade["type"], "shade");
    assert_eq!(shade["metrics"]["parameters"]["baseline_days"], 28);

    let detail = app.get_ok("/v1/models/model-csar2-base").await;
    let artifact = format!(
        "models/csar_2/{}/model.safetensors",
        card["version"].as_str().unwrap()
    );
    assert_eq!(detail["s3_path"], artifact.as_str());
    assert!(detail["description"].as_str().unwrap().contains("autoencoder"));
    assert!(detail["created_at"].as_str().is_some());
    // The artifact is in the object store (under the data dir).
    let objects = app.app_state.models.objects();
    assert!(objects.url().ends_with("/objects"));
    assert_eq!(
        objects.get(&artifact).await.unwrap(),
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/csar_2/model.safetensors"
        ))
        .unwrap()
    );

    json_error(app.get("/v1/models/model-nope").await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn registering_the_base_models_again_after_a_restart_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.get_ok("/v1/models").await;
    let app = app.restart().await;
    let after = app.get_ok("/v1/models").await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn fine_tune_requests_are_validated_with_field_paths() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({}), &["base_model_id", "name", "data_source"]),
        (
            json!({"base_model_id": "model-csarc2-base", "name": "x".repeat(129),
                   "data_source": {"type": "csv"}}),
            &["base_model_id", "name", "data_source.type"],
        ),
        (
            json!({"base_model_id": "model-csar2-base", "name": "ok",
                   "data_source": {"type": "sessions", "session_filter": {"date_from": "2026-13-01", "date_to": "soon"}},
                   "training_config": {"epochs": 0, "learning_rate": 5, "batch_size": 2.5}}),
            &[
                "data_source.session_filter.date_from",
                "data_source.session_filter.date_to",
                "training_config.epochs",
                "training_config.learning_rate",
                "training_config.batch_size",
            ],
        ),
        (
            json!({"base_model_id": "model-csar2-base", "name": "ok",
                   "data_source": {"type": "sessions", "session_filter": {"date_from": "2026-03-02", "date_to": "2026-03-01"}}}),
            &["data_source.session_filter.date_to"],
        ),
        (
            json!({"base_model_id": "model-csar2-base", "name": "ok", "data_source": {"type": "upload"}}),
            &["data_source.upload_id"],
        ),
        (
            json!({"base_model_id": "model-csar2-base", "name": "ok",
                   "data_source": {"type": "upload", "upload_id": "upl-nope"}}),
            &["data_source.upload_id"],
        ),
    ];
    for (body, fields) in cases {
        let error = json_error(
            app.post("/v1/models/fine-tune", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        let named: Vec<&str> = error["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    // Limits are inclusive.
    let ok = json!({"base_model_id": "model-csar2-base", "name": "x".repeat(128),
                    "data_source": {"type": "sessions"},
                    "training_config": {"epochs": 200, "learning_rate": 0.1, "batch_size": 1024}});
    let created = json_ok(app.post("/v1/models/fine-tune", &ok).await).await;
    assert_eq!(created["status"], "queued");
    assert_eq!(created["base_model_id"], "model-csar2-base");
    let status = app
        .get_ok(&format!(
            "/v1/models/fine-tune/{}",
            created["job_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status["config"]["epochs"], 200);
    assert_eq!(status["result_model_id"], Value::Null);
    assert_eq!(status["started_at"], Value::Null);
    // Another tenant's job is not there.
    let other = app.new_tenant("other").await;
    let response = app
        .get_as(
            &other,
            &format!("/v1/models/fine-tune/{}", created["job_id"].as_str().unwrap()),
        )
        .await;
    json_error(response, StatusCode::NOT_FOUND).await;
}
