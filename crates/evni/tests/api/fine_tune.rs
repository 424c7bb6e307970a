//! Fine-tune jobs end to end (workers driven by hand) and what activating
//! the result changes: that tenant's verdicts, no other tenant's.

use evni_models::Model;
use evni_worker::{StepOutcome, WorkerConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// A normal charge of `minutes` at `kw`, one energy reading a minute.
fn charge(id: &str, station: &str, minutes: i64, kw: f64) -> Value {
    session(id, station, steady_charge(minutes, kw, 100.0 + kw))
}

/// Twelve ordinary sessions of one station.
fn fleet(station: &str) -> Vec<Value> {
    (0..12)
        .map(|i| charge(&format!("{station}-s{i:02}"), station, 60 + 5 * i, 7.0 + i as f64))
        .collect()
}

async fn drain(app: &TestApp) {
    let worker = evni::worker(&app.app_state, WorkerConfig::default());
    while worker.step().await.unwrap() != StepOutcome::Empty {}
}

/// Fine-tunes the base CSAR-2 for the caller of `token` with a tiny config;
/// returns the completed job's status.
async fn fine_tune(app: &TestApp, token: &str, data_source: Value) -> Value {
    let body = json!({"base_model_id": "model-csar2-base", "name": "CSAR-2 fleet",
                      "data_source": data_source,
                      "training_config": {"epochs": 3, "learning_rate": 0.001, "batch_size": 8}});
    let created = json_ok(app.post_as(token, "/v1/models/fine-tune", &body).await).await;
    assert_eq!(created["status"], "queued");
    let job_id = created["job_id"].as_str().unwrap().to_owned();
    assert_training(app, token, &job_id, true).await;
    drain(app).await;
    assert_training(app, token, &job_id, false).await;
    json_ok(app.get_as(token, &format!("/v1/models/fine-tune/{job_id}")).await).await
}

/// Whether the model of fine-tune `job_id` is listed as in training, under
/// the job's id, and can then be read but not activated.
async fn assert_training(app: &TestApp, token: &str, job_id: &str, training: bool) {
    let models = json_ok(app.get_as(token, "/v1/models").await).await;
    let listed = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == job_id)
        .cloned();
    assert_eq!(listed.is_some(), training, "{models}");
    let detail = app.get_as(token, &format!("/v1/models/{job_id}")).await;
    let activate = app
        .post_as(token, &format!("/v1/models/{job_id}/activate"), &json!({}))
        .await;
    if !training {
        json_error(detail, StatusCode::NOT_FOUND).await;
        json_error(activate, StatusCode::NOT_FOUND).await;
        return;
    }
    let listed = listed.unwrap();
    assert_eq!(listed["status"], "training");
    assert_eq!(listed["is_base"], false);
    assert_eq!(listed["base_model"], "model-csar2-base");
    assert_eq!(listed["type"], "csar_2");
    assert_eq!(listed["metrics"], Value::Null);
    assert_eq!(json_ok(detail).await["status"], "training");
    json_error(activate, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn a_fine_tune_on_the_tenants_sessions_registers_a_model_of_that_tenant_only() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    for s in fleet("ST-FLEET").into_iter().chain(fleet("ST-OTHER")) {
        json_ok(app.post("/v1/sessions", &s).await).await;
    }
    let status = fine_tune(
        &app,
        &app.token,
        json!({"type": "sessions", "session_filter": {"station_id": "ST-FLEET", "date_from": "2026-02-01"}}),
    )
    .await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["error_message"], Value::Null);
    assert_eq!(
        status["progress"],
        json!({"epoch": 3, "epochs": 3, "loss": status["progress"]["loss"]})
    );
    assert!(status["progress"]["loss"].as_f64().unwrap() > 0.0);
    assert!(status["started_at"].is_string() && status["completed_at"].is_string());
    let model_id = status["result_model_id"].as_str().unwrap().to_owned();

    let models = app.get_ok("/v1/models").await;
    let model = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == model_id.as_str())
        .cloned()
        .expect("the result is listed");
    assert_eq!(model["type"], "csar_2");
    assert_eq!(model["is_base"], false);
    assert_eq!(model["base_model"], "model-csar2-base");
    assert_eq!(model["status"], "active");
    assert_eq!(model["name"], "CSAR-2 fleet");
    // Measured: 12 sessions of the station, 60/20/20 (train + as many replayed).
    let details = &model["metrics"]["details"];
    assert_eq!(details["calibration_sessions"], 3.0);
    assert_eq!(details["evaluation_sessions"], 2.0);
    assert!(details["train_sessions"].as_f64().unwrap() >= 7.0);
    assert!(model["metrics"]["recall"].is_number());
    // The fair comparison with base_recall is reported beside it.
    let at_base_alarms = details["recall_at_base_false_alarms"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&at_base_alarms), "{details}");
    assert!(details["base_recall"].is_number(), "{details}");
    // The threshold keeps the base model's recall on faults written into
    // the tenant's held-out sessions, and is never above the one for the
    // false-alarm target. These short register-only charges carry none, so
    // recall is measured on simulated faults instead.
    assert_eq!(details["calibration_faults"], 0.0, "{details}");
    assert!(details["fault_sessions"].as_f64().unwrap() >= 1.0, "{details}");
    assert!(
        details["threshold"].as_f64().unwrap()
            <= details["threshold_for_false_alarm_target"].as_f64().unwrap(),
        "{details}"
    );
    let detail = app.get_ok(&format!("/v1/models/{model_id}")).await;
    let s3_path = detail["s3_path"].as_str().unwrap();
    assert!(app.app_state.models.objects().get(s3_path).await.is_ok());

    // Another tenant sees neither the model nor the job.
    let other = app.new_tenant("other").await;
    let theirs = json_ok(app.get_as(&other, "/v1/models").await).await;
    assert!(theirs["models"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["id"] != model_id.as_str()));
    json_error(
        app.get_as(&other, &format!("/v1/models/{model_id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    json_error(
        app.post_as(&other, &format!("/v1/models/{model_id}/activate"), &json!({}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The job ran once: draining again registers nothing more.
    drain(&app).await;
    let again = app.get_ok("/v1/models").await;
    assert_eq!(again, models);
}

#[tokio::test]
async fn a_fine_tune_without_enough_normal_sessions_fails_with_a_reason() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    json_ok(app.post("/v1/sessions", &charge("only", "ST-1", 60, 11.0)).await).await;
    let status = fine_tune(&app, &app.token, json!({"type": "sessions"})).await;
    assert_eq!(status["status"], "failed");
    assert!(
        status["error_message"]
            .as_str()
            .unwrap()
            .contains("at least 3 normal sessions"),
        "{status}"
    );
    assert_eq!(status["result_model_id"], Value::Null);
}

async fn upload(app: &TestApp, token: &str, sessions: &[Value]) -> String {
    let lines: String = sessions.iter().map(|s| format!("{s}\n")).collect();
    let response = app
        .client
        .post(app.url("/v1/models/uploads"))
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(lines)
        .send()
        .await
        .unwrap();
    let uploaded = json_ok(response).await;
    assert_eq!(uploaded["sessions"], sessions.len());
    uploaded["upload_id"].as_str().unwrap().to_owned()
}

/// The score of the same session posted by `token` under a fresh id.
async fn score(app: &TestApp, token: &str, id: &str, probe: &Value) -> f64 {
    let mut body = probe.clone();
    body["session_id"] = json!(id);
    let verdict = json_ok(app.post_as(token, "/v1/sessions", &body).await).await;
    assert_eq!(verdict["status"], "active", "{verdict}");
    verdict["anomaly_score"].as_f64().unwrap()
}

#[tokio::test]
async fn activating_a_fine_tuned_model_changes_the_verdicts_of_that_tenant_only() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let other = app.new_tenant("other").await;
    let status = fine_tune(
        &app,
        &app.token,
        json!({"type": "upload", "upload_id": upload(&app, &app.token, &fleet("ST-UP")).await}),
    )
    .await;
    assert_eq!(status["status"], "completed", "{status}");
    let model_id = status["result_model_id"].as_str().unwrap().to_owned();

    // A session unlike the fleet's: three hours at 11 kW stepping down to
    // half for 20 minutes every hour (load management far from any rule's
    // threshold, so the verdict's normality score is the model's).
    let mut energy = 50.0;
    let values: Vec<Value> = (0..=180)
        .map(|m| {
            let value = kwh(m, energy);
            energy += if m % 60 >= 30 && m % 60 < 50 {
                11.0 * 0.5
            } else {
                11.0
            } / 60.0;
            value
        })
        .collect();
    let probe = session("probe", "ST-PROBE", values);
    let before = score(&app, &app.token, "probe-1", &probe).await;
    assert_eq!(score(&app, &other, "probe-1", &probe).await, before);
    let tenant = app
        .app_state
        .engine
        .store()
        .tenant_by_name("other")
        .await
        .unwrap();
    let base_id = app
        .app_state
        .engine
        .models_for(tenant.id)
        .await
        .unwrap()
        .unwrap()
        .id();

    let activated = json_ok(
        app.post(&format!("/v1/models/{model_id}/activate"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(activated["model_id"], model_id.as_str());
    assert_eq!(activated["active"], true);

    let after = score(&app, &app.token, "probe-2", &probe).await;
    assert_ne!(after, before, "the tenant's verdicts come from its model now");
    assert_eq!(
        score(&app, &other, "probe-2", &probe).await,
        before,
        "another tenant keeps the base model"
    );
    // The engine's models per tenant: the fine-tuned CSAR-2 for one tenant only.
    let engine = &app.app_state.engine;
    assert_eq!(engine.models_for(tenant.id).await.unwrap().unwrap().id(), base_id);
    let mine = engine.store().tenant_by_name("acme").await.unwrap();
    let theirs = engine.models_for(mine.id).await.unwrap().unwrap();
    let version = json_ok(app.get(&format!("/v1/models/{model_id}")).await).await["version"].clone();
    assert_eq!(theirs.csar2.card().version, version.as_str().unwrap());

    // Activating the base model again goes back to the base verdicts.
    json_ok(app.post("/v1/models/model-csar2-base/activate", &json!({})).await).await;
    assert_eq!(score(&app, &app.token, "probe-3", &probe).await, before);
}

#[tokio::test]
async fn a_fine_tune_run_again_after_a_crash_registers_its_model_once() {
    use evni_worker::JobHandler;
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    for s in fleet("ST-FLEET") {
        json_ok(app.post("/v1/sessions", &s).await).await;
    }
    let body = json!({"base_model_id": "model-csar2-base", "name": "again",
                      "data_source": {"type": "sessions"},
                      "training_config": {"epochs": 2, "batch_size": 8}});
    let created = json_ok(app.post("/v1/models/fine-tune", &body).await).await;
    let job_id = created["job_id"].as_str().unwrap().to_owned();
    // An attempt that registered the model and died before completing its job.
    let engine = app.app_state.engine.clone();
    let tenant = engine.store().tenant_by_name("acme").await.unwrap();
    let handler = evni_worker::FineTuneHandler::new(engine, app.app_state.models.clone());
    let job = evni_store::ClaimedJob {
        id: 0,
        tenant: tenant.id,
        kind: evni_store::JobKind::FineTune,
        payload: json!({"fine_tune_id": job_id}),
        attempt: 1,
        max_attempts: 3,
        lease_until: 0,
    };
    handler.run(&job, false).await.unwrap();
    let first = app.get_ok(&format!("/v1/models/fine-tune/{job_id}")).await;
    let model_id = first["result_model_id"].as_str().unwrap().to_owned();
    // The job is still queued: a worker runs it again.
    drain(&app).await;
    let status = app.get_ok(&format!("/v1/models/fine-tune/{job_id}")).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["result_model_id"], model_id.as_str());
    let models = app.get_ok("/v1/models").await;
    let tenant_models: Vec<&Value> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["is_base"] == false)
        .collect();
    assert_eq!(tenant_models.len(), 1);
    assert_eq!(tenant_models[0]["id"], model_id.as_str());
}

#[tokio::test]
async fn a_tenant_model_of_older_features_gives_way_to_the_base_model_after_an_upgrade() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let status = fine_tune(
        &app,
        &app.token,
        json!({"type": "upload", "upload_id": upload(&app, &app.token, &fleet("ST-OLD")).await}),
    )
    .await;
    let model_id = status["result_model_id"].as_str().unwrap().to_owned();
    json_ok(
        app.post(&format!("/v1/models/{model_id}/activate"), &json!({}))
            .await,
    )
    .await;
    // The artifact as an older build wrote it: features of version 1.
    let detail = app.get_ok(&format!("/v1/models/{model_id}")).await;
    let weights_path = detail["s3_path"].as_str().unwrap();
    let card_path = format!("{}/model.json", weights_path.rsplit_once('/').unwrap().0);
    let objects = app.app_state.models.objects();
    let mut card: Value = serde_json::from_slice(&objects.get(&card_path).await.unwrap()).unwrap();
    card["features"]["version"] = json!(1);
    objects
        .put(&card_path, serde_json::to_vec(&card).unwrap())
        .await
        .unwrap();
    let app = app.restart().await;

    let verdict = json_ok(
        app.post("/v1/sessions", &charge("after-upgrade", "ST-OLD", 90, 11.0))
            .await,
    )
    .await;
    assert_eq!(verdict["status"], "active", "{verdict}");
    let tenant = app.app_state.engine.store().tenant_by_name("acme").await.unwrap();
    let models = app.app_state.engine.models_for(tenant.id).await.unwrap().unwrap();
    assert_eq!(
        models.csar2.card(),
        app.app_state.engine.models().unwrap().csar2.card()
    );
}

#[tokio::test]
async fn recent_fine_tunes_are_listed_newest_first_paged_and_per_tenant() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let other = app.new_tenant("globex").await;
    let mut created = Vec::new();
    for name in ["first", "second"] {
        let body = json!({"base_model_id": "model-csar2-base", "name": name,
                          "data_source": {"type": "sessions"},
                          "training_config": {"epochs": 3}});
        let job = json_ok(app.post("/v1/models/fine-tune", &body).await).await;
        created.push(job["job_id"].as_str().unwrap().to_owned());
    }
    let listed = app.get_ok("/v1/models/fine-tune").await;
    assert_eq!(listed["total"], 2);
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [created[1].as_str(), created[0].as_str()]);
    assert_eq!(listed["items"][0]["status"], "queued");
    assert_eq!(listed["items"][0]["config"]["epochs"], 3);

    let page = app.get_ok("/v1/models/fine-tune?page=2&page_size=1").await;
    assert_eq!(
        (page["total"].clone(), page["page"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(page["items"][0]["job_id"], created[0].as_str());

    drain(&app).await;
    let listed = app.get_ok("/v1/models/fine-tune").await;
    assert_eq!(listed["items"][0]["status"], "failed");

    let theirs = json_ok(app.get_as(&other, "/v1/models/fine-tune").await).await;
    assert_eq!(theirs["total"], 0);
    json_error(
        app.get("/v1/models/fine-tune?page=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
