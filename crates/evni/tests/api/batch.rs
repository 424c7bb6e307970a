//! /v1/sessions/batch: durable, asynchronous batch analysis.

use std::time::Duration;

use evni_worker::{StepOutcome, Worker, WorkerConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// The reference's batch example, unchanged.
fn reference_batch() -> Value {
    json!({
      "sessions": [
        {
          "session_id": "sess-001",
          "charging_point_id": "CP-001",
          "meter_values": [
            { "timestamp": "2026-02-27T10:00:00Z", "unit": "kwh", "value": 0.0 },
            { "timestamp": "2026-02-27T10:15:00Z", "unit": "kwh", "value": 5.5 },
            { "timestamp": "2026-02-27T10:30:00Z", "unit": "kwh", "value": 11.1 }
          ]
        },
        {
          "session_id": "sess-002",
          "charging_point_id": "CP-002",
          "meter_values": [
            { "timestamp": "2026-02-27T11:00:00Z", "unit": "kwh", "value": 0.0 },
            { "timestamp": "2026-02-27T11:15:00Z", "unit": "kwh", "value": 7.2 },
            { "timestamp": "2026-02-27T11:30:00Z", "unit": "kwh", "value": 14.8 }
          ]
        }
      ]
    })
}

/// `count` sessions, every fifth with a register that steps back.
fn many_sessions(count: usize) -> Value {
    let sessions: Vec<Value> = (0..count)
        .map(|i| {
            let mut values = steady_charge(30, 11.0, 100.0 + i as f64);
            if i % 5 == 0 {
                for (m, value) in values.iter_mut().enumerate().skip(15) {
                    *value = kwh(m as i64, 100.0 + i as f64 + 11.0 * m as f64 / 60.0 - 0.5);
                }
            }
            json!({"session_id": format!("b{i:04}"), "charging_station_id": format!("ST-{}", i % 7),
                   "connector_id": "1", "meter_values": values})
        })
        .collect();
    json!({ "sessions": sessions })
}

async fn poll_until_done(app: &TestApp, batch_id: &str) -> Value {
    for _ in 0..200 {
        let status = app.get_ok(&format!("/v1/sessions/batch/{batch_id}")).await;
        if status["status"] == "completed" || status["status"] == "failed" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("batch {batch_id} did not finish");
}

fn worker(app: &TestApp) -> Worker {
    Worker::new(app.app_state.engine.clone(), WorkerConfig::default())
}

async fn drain(worker: &Worker) {
    while worker.step().await.unwrap() != StepOutcome::Empty {}
}

#[tokio::test]
async fn the_reference_batch_is_analysed_and_its_sessions_become_ordinary_sessions() {
    let app = TestApp::spawn().await;
    let submitted = json_ok(app.post("/v1/sessions/batch", &reference_batch()).await).await;
    assert_eq!(submitted["total_sessions"], 2);
    assert_eq!(submitted["status"], "pending");
    let batch_id = submitted["batch_id"].as_str().unwrap().to_owned();
    assert!(batch_id.starts_with("batch-"));

    let done = poll_until_done(&app, &batch_id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["processed_sessions"], 2);
    assert_eq!(done["failed_sessions"], 0);
    assert!(done["completed_at"].is_string() && done["created_at"].is_string());
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["session_id"], "sess-001");
    assert_eq!(results[0]["status"], "active");
    assert_eq!(results[0]["is_anomaly"], false);
    // 10:00 to 10:30 spans buckets 0..=2.
    assert_eq!(results[0]["sequence_length"], 3);

    let detail = app.get_ok("/v1/sessions/sess-002").await;
    assert_eq!(detail["meter_values"].as_array().unwrap().len(), 3);
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 2);
    assert_eq!(app.get_ok("/v1/stations/CP-001").await["total_sessions"], 1);
}

#[tokio::test]
async fn progress_is_visible_and_results_are_paginated() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let submitted = json_ok(app.post("/v1/sessions/batch", &many_sessions(250)).await).await;
    let batch_id = submitted["batch_id"].as_str().unwrap().to_owned();
    let status = app.get_ok(&format!("/v1/sessions/batch/{batch_id}")).await;
    assert_eq!(status["status"], "pending");
    assert_eq!(status["processed_sessions"], 0);

    let worker = worker(&app);
    assert_eq!(worker.step().await.unwrap(), StepOutcome::Done);
    let status = app.get_ok(&format!("/v1/sessions/batch/{batch_id}")).await;
    assert_eq!(status["status"], "processing");
    assert_eq!(status["processed_sessions"], 100);
    assert_eq!(status["completed_at"], Value::Null);

    drain(&worker).await;
    let status = app
        .get_ok(&format!("/v1/sessions/batch/{batch_id}?page=3&page_size=100"))
        .await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["processed_sessions"], 250);
    assert_eq!(status["results"].as_array().unwrap().len(), 50);
    assert_eq!(status["results"][0]["session_id"], "b0200");
    assert_eq!(status["results"][0]["is_anomaly"], true);
    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(stats["total_sessions"], 250);
    assert_eq!(stats["anomalous_sessions"], 50);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_batch_finishes_it_exactly_once() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let submitted = json_ok(app.post("/v1/sessions/batch", &many_sessions(250)).await).await;
    let batch_id = submitted["batch_id"].as_str().unwrap().to_owned();
    let worker = worker(&app);
    assert_eq!(worker.step().await.unwrap(), StepOutcome::Done);

    // A worker claims the second chunk, writes some of its sessions and dies
    // (kill -9): its lease runs out without the job being completed.
    let store = app.app_state.engine.store().clone();
    let now = chrono::Utc::now().timestamp_micros();
    let claimed = store
        .claim_job("doomed-worker", now, now + 1_000)
        .await
        .unwrap()
        .expect("a job to claim");
    let chunk: evni_store::BatchChunk = serde_json::from_value(claimed.payload.clone()).unwrap();
    let half: Vec<_> = store
        .batch_sessions(chunk)
        .await
        .unwrap()
        .into_iter()
        .take(50)
        .collect();
    let tenant = store.tenant_by_name("acme").await.unwrap();
    for (_, session) in half {
        let id = evni_domain::ExternalId::parse("session_id", &session.session_id).unwrap();
        let command = evni_engine::Command::Create(evni_engine::NewSession {
            station: evni_domain::ExternalId::parse("s", &session.station).unwrap(),
            connector_id: None,
            evse_id: None,
            metadata: None,
            readings: session.readings,
        });
        app.app_state.engine.apply(&tenant, &id, command).await.unwrap();
    }

    let app = app.restart_with(|c| c.workers = 0).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    drain(&worker_of(&app)).await;
    let status = app.get_ok(&format!("/v1/sessions/batch/{batch_id}")).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["processed_sessions"], 250);
    assert_eq!(status["failed_sessions"], 0);
    let stats = app.get_ok("/v1/statistics").await;
    assert_eq!(stats["total_sessions"], 250);
    assert_eq!(stats["anomalous_sessions"], 50);
    assert_eq!(app.get_ok("/v1/sessions?page_size=1").await["total"], 250);
}

fn worker_of(app: &TestApp) -> Worker {
    worker(app)
}

#[tokio::test]
async fn every_session_is_validated_before_anything_is_accepted() {
    let app = TestApp::spawn().await;
    let mut body = reference_batch();
    body["sessions"][1]["meter_values"][2]["unit"] = json!("kwhh");
    body["sessions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"session_id": "sess-003", "meter_values": []}));
    body["sessions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"session_id": "sess-001", "charging_point_id": "X"}));
    let error = json_error(
        app.post("/v1/sessions/batch", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = error["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "sessions[1].meter_values[2].unit",
            "sessions[2].charging_station_id",
            "sessions[3].session_id"
        ]
    );
    assert_eq!(app.get_ok("/v1/statistics").await["total_sessions"], 0);

    json_error(
        app.post("/v1/sessions/batch", &json!({"sessions": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    json_error(
        app.post("/v1/sessions/batch", &json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    json_error(
        app.get("/v1/sessions/batch/batch-nope").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn batch_limits_are_answered_clearly() {
    let app = TestApp::spawn_with(|c| {
        c.max_batch_sessions = 3;
        c.max_batch_body_bytes = 64 * 1024;
    })
    .await;
    let error = json_error(
        app.post("/v1/sessions/batch", &many_sessions(4)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("limit is 3"),
        "{error}"
    );
    let mut big = many_sessions(3);
    big["sessions"][0]["meter_values"] = json!(steady_charge(2000, 11.0, 0.0));
    json_error(
        app.post("/v1/sessions/batch", &big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
}

#[tokio::test]
async fn another_tenants_batch_is_not_found() {
    let app = TestApp::spawn().await;
    let other = app.new_tenant("globex").await;
    let submitted = json_ok(app.post("/v1/sessions/batch", &reference_batch()).await).await;
    let path = format!("/v1/sessions/batch/{}", submitted["batch_id"].as_str().unwrap());
    json_error(app.get_as(&other, &path).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn recent_batches_are_listed_newest_first_paged_and_per_tenant() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let other = app.new_tenant("globex").await;
    let mut submitted = Vec::new();
    for _ in 0..3 {
        let batch = json_ok(app.post("/v1/sessions/batch", &reference_batch()).await).await;
        submitted.push(batch["batch_id"].as_str().unwrap().to_owned());
    }
    let listed = app.get_ok("/v1/sessions/batch").await;
    assert_eq!(listed["total"], 3);
    assert_eq!(
        (listed["page"].clone(), listed["page_size"].clone()),
        (json!(1), json!(20))
    );
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = submitted.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);
    assert_eq!(listed["items"][0]["status"], "pending");
    assert_eq!(listed["items"][0]["total_sessions"], 2);
    assert!(listed["items"][0].get("results").is_none());

    let second = app.get_ok("/v1/sessions/batch?page=2&page_size=2").await;
    assert_eq!(second["total"], 3);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["batch_id"], submitted[0].as_str());

    drain(&worker(&app)).await;
    let listed = app.get_ok("/v1/sessions/batch?page_size=1").await;
    assert_eq!(listed["items"][0]["status"], "completed");
    assert_eq!(listed["items"][0]["processed_sessions"], 2);

    let theirs = json_ok(app.get_as(&other, "/v1/sessions/batch").await).await;
    assert_eq!(theirs["total"], 0);
    assert!(theirs["items"].as_array().unwrap().is_empty());
    let error = json_error(
        app.get("/v1/sessions/batch?page_size=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(error["details"][0]["field"], "page_size");
}
