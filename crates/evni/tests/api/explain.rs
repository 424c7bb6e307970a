//! POST /v1/sessions/{id}/explain and /ask over HTTP: grounded text with the
//! session's own numbers, validation, the optional LLM (against a fake
//! OpenAI-compatible server) and the per-tenant rate limit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// 11 kW for an hour from 48213.7 kWh, then the register falls by 2 kWh at
/// minute 61 (11:01): KWH_DECREASE in bucket 4, from 11:00 to 11:01.
fn decreasing(id: &str) -> Value {
    let mut values = steady_charge(60, 11.0, 48213.7);
    values.push(kwh(61, 48213.7 + 11.0 - 2.0));
    session(id, "CP-SECRET-STATION", values)
}

async fn explain(app: &TestApp, id: &str) -> Value {
    json_ok(app.post(&format!("/v1/sessions/{id}/explain"), &json!({})).await).await
}

async fn ask(app: &TestApp, id: &str, question: &str) -> String {
    let body = json_ok(
        app.post(
            &format!("/v1/sessions/{id}/ask"),
            &json!({ "question": question }),
        )
        .await,
    )
    .await;
    assert_eq!(body["session_id"], id);
    assert_eq!(body["source"], "grounded");
    body["answer"].as_str().unwrap().to_string()
}

#[track_caller]
fn assert_has(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn explain_names_the_category_its_time_and_its_figures() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &decreasing("s1")).await).await;
    let body = explain(&app, "s1").await;
    assert_eq!(body["session_id"], "s1");
    assert_eq!(body["source"], "grounded");
    let text = body["explanation"].as_str().unwrap();
    assert_has(
        text,
        &[
            "KWH_DECREASE from 11:00 to 11:01 UTC",
            "bucket 4",
            "from 48224.7 kWh at 11:00 to 48222.7 kWh at 11:01, a drop of 2 kWh",
            "Likely causes to check",
            "Next step",
            // The station's counts come from the store.
            "At this station KWH_DECREASE has been found in 1 session so far, this one included (1 on connector 1)",
            "11 kWh was delivered",
        ],
    );
    // An empty body is as good as `{}`, and the internal UUID works too.
    let list = app.get_ok("/v1/sessions").await;
    let uuid = list["items"][0]["session_id"].as_str().unwrap().to_string();
    let response = app
        .client
        .post(app.url(&format!("/v1/sessions/{uuid}/explain")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let by_uuid = json_ok(response).await;
    assert_eq!(by_uuid["session_id"], "s1");
    assert_eq!(by_uuid["explanation"], body["explanation"]);
}

#[tokio::test]
async fn explain_a_normal_session_and_a_data_gap() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let text = explain(&app, "sess-abc-001").await["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    // 0 → 11.1 kWh in 30 min; fastest register rise 5.6 kWh in 15 min.
    assert_has(
        &text,
        &[
            "No anomaly was detected",
            "from 10:00 to 10:30 UTC (30 min, 3 meter values)",
            "11.1 kWh was delivered",
            "Peak power was 22.4 kW at 10:30 UTC",
        ],
    );

    let mut values: Vec<Value> = (0..=30).map(|m| kwh(m, 500.0 + m as f64 * 0.1)).collect();
    values.extend((90..=120).map(|m| kwh(m, 500.0 + m as f64 * 0.1)));
    json_ok(app.post("/v1/sessions", &session("gap", "ST-1", values)).await).await;
    let text = explain(&app, "gap").await["explanation"]
        .as_str()
        .unwrap()
        .to_string();
    assert_has(
        &text,
        &[
            "DATA_GAP from 10:30 to 11:30 UTC (15-minute buckets 2–6",
            "No meter value arrived for 1 h, from 10:30 to 11:30",
        ],
    );
}

#[tokio::test]
async fn ask_answers_from_the_data_and_declines_what_it_cannot_know() {
    let app = TestApp::spawn().await;
    // 7.2 kW for 50 min from 20 % SoC (+1 point a minute), then 20 min idle.
    let mut values = Vec::new();
    for m in 0..=70 {
        let charging = m.min(50) as f64;
        values.push(kwh(m, 1000.0 + 7.2 * charging / 60.0));
        values.push(mv(m, "Power.Active.Import", "kW", if m < 50 { 7.2 } else { 0.0 }));
        values.push(mv(m, "SoC", "Percent", 20.0 + charging));
    }
    json_ok(app.post("/v1/sessions", &session("q", "ST-1", values)).await).await;

    assert_has(
        &ask(&app, "q", "How much energy was delivered?").await,
        &["6 kWh was delivered"],
    );
    assert_has(&ask(&app, "q", "How long did it take?").await, &["1 h 10 min"]);
    assert_has(
        &ask(&app, "q", "What was the peak power?").await,
        &["Peak power was 7.2 kW at 10:00 UTC"],
    );
    // 6 kWh over 70 min.
    assert_has(
        &ask(&app, "q", "What was the average power?").await,
        &["Average power was 5.14 kW"],
    );
    assert_has(&ask(&app, "q", "SoC at the start?").await, &["20%"]);
    assert_has(
        &ask(&app, "q", "What was the SoC at the end?").await,
        &["70%", "11:10"],
    );
    assert_has(
        &ask(&app, "q", "When did charging stop?").await,
        &["stopped at 10:49 UTC"],
    );
    assert_has(
        &ask(&app, "q", "Why was this flagged?").await,
        &["Nothing was flagged"],
    );
    let declined = ask(&app, "q", "What did this session cost the driver?").await;
    assert_has(&declined, &["I can't tell", "6 kWh"]);

    // A read-only token may ask.
    let tenant = app
        .app_state
        .engine
        .tenants
        .get(tenant_id(&app).await)
        .await
        .unwrap();
    let read = app
        .app_state
        .keys
        .issue(&tenant, evni_api::Scope::Read, Duration::from_secs(60))
        .unwrap();
    let response = app
        .post_as(
            &read,
            "/v1/sessions/q/ask",
            &json!({"question": "How much energy?"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn tenant_id(app: &TestApp) -> uuid::Uuid {
    app.app_state
        .engine
        .store()
        .tenant_by_name("acme")
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn bad_questions_and_unknown_sessions_are_rejected() {
    let app = TestApp::spawn().await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    let path = "/v1/sessions/sess-abc-001/ask";
    for body in [
        json!({}),
        json!({"question": ""}),
        json!({"question": "   "}),
        json!({"question": "x".repeat(1001)}),
        json!({"question": 42}),
    ] {
        let error = json_error(app.post(path, &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(error["details"][0]["field"], "question", "{body}: {error}");
    }
    // 1000 characters are fine.
    let long = format!("How much energy? {}", "x".repeat(983));
    assert_eq!(long.chars().count(), 1000);
    json_ok(app.post(path, &json!({ "question": long })).await).await;

    json_error(
        app.post("/v1/sessions/nope/explain", &json!({})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Another tenant's session is not found either.
    let other = app.new_tenant("other").await;
    json_error(
        app.post_as(
            &other,
            "/v1/sessions/sess-abc-001/ask",
            &json!({"question": "energy?"}),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_per_tenant() {
    let app = TestApp::spawn_with(|c| c.explain_rate_per_minute = 3).await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    for _ in 0..2 {
        explain(&app, "sess-abc-001").await;
    }
    ask(&app, "sess-abc-001", "energy?").await;
    let response = app.post("/v1/sessions/sess-abc-001/explain", &json!({})).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let error = json_error(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(error["code"], "rate_limited");
    // Another tenant has its own allowance.
    let other = app.new_tenant("other").await;
    json_error(
        app.post_as(&other, "/v1/sessions/sess-abc-001/explain", &json!({}))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A fake OpenAI-compatible server: records requests, answers `reply` after
/// `delay`.
struct FakeLlm {
    url: String,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn fake_llm(reply: &'static str, delay: Duration) -> FakeLlm {
    type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;
    let requests: Seen = Arc::default();
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(
                move |State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>| async move {
                    seen.lock().unwrap().push((headers, body));
                    tokio::time::sleep(delay).await;
                    Json(json!({
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply}}]
                    }))
                },
            ),
        )
        .with_state(requests.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeLlm { url, requests }
}

async fn app_with_llm(llm: &FakeLlm, timeout_ms: u64) -> TestApp {
    let url = llm.url.clone();
    TestApp::spawn_with(move |c| {
        c.llm_url = Some(url);
        c.llm_model = Some("fake-model-1".into());
        c.llm_api_key = Some("test-key".into());
        c.llm_timeout_ms = timeout_ms;
    })
    .await
}

#[tokio::test]
async fn the_llm_gets_only_the_facts_and_its_wording_is_returned() {
    let reply = "The energy register went down by 2 kWh at 11:01 UTC, from 48224.7 kWh to 48222.7 kWh.";
    let llm = fake_llm(reply, Duration::ZERO).await;
    let app = app_with_llm(&llm, 5_000).await;
    json_ok(app.post("/v1/sessions", &decreasing("sess-private-42")).await).await;
    let body = explain(&app, "sess-private-42").await;
    assert_eq!(body["source"], "llm");
    assert_eq!(body["explanation"], reply);

    let requests = llm.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (headers, request) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer test-key");
    assert_eq!(request["model"], "fake-model-1");
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[1]["role"], "user");
    let prompt = messages[1]["content"].as_str().unwrap();
    assert_has(
        prompt,
        &[
            "KWH_DECREASE",
            "a drop of 2 kWh",
            "48224.7 kWh",
            "11 kWh was delivered",
        ],
    );
    // No identifiers and no raw meter values leave the process.
    let sent = request.to_string();
    for secret in [
        "sess-private-42",
        "CP-SECRET-STATION",
        "Energy.Active.Import.Register",
    ] {
        assert!(!sent.contains(secret), "{secret} was sent: {sent}");
    }

    // Ask goes the same way, with the question.
    let body = json_ok(
        app.post(
            "/v1/sessions/sess-private-42/ask",
            &json!({"question": "Why did the meter go down?"}),
        )
        .await,
    )
    .await;
    assert_eq!(body["source"], "llm");
    let requests = llm.requests.lock().unwrap().clone();
    let prompt = requests[1].1["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_has(&prompt, &["Why did the meter go down?", "KWH_DECREASE"]);
}

#[tokio::test]
async fn a_slow_llm_falls_back_to_the_grounded_text() {
    let llm = fake_llm("too late", Duration::from_secs(5)).await;
    let app = app_with_llm(&llm, 300).await;
    json_ok(app.post("/v1/sessions", &decreasing("s1")).await).await;
    let started = Instant::now();
    let body = explain(&app, "s1").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(body["source"], "grounded");
    assert_has(
        body["explanation"].as_str().unwrap(),
        &["KWH_DECREASE from 11:00 to 11:01 UTC"],
    );
    assert_eq!(llm.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_llm_reply_with_an_invented_number_is_not_used() {
    let llm = fake_llm("The drop cost the driver 3.75 EUR.", Duration::ZERO).await;
    let app = app_with_llm(&llm, 5_000).await;
    json_ok(app.post("/v1/sessions", &decreasing("s1")).await).await;
    let body = explain(&app, "s1").await;
    assert_eq!(body["source"], "grounded");
    assert_has(body["explanation"].as_str().unwrap(), &["a drop of 2 kWh"]);
}

#[tokio::test]
async fn an_unreachable_llm_falls_back_too() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let app = TestApp::spawn_with(move |c| {
        c.llm_url = Some(url);
        c.llm_model = Some("m".into());
    })
    .await;
    json_ok(app.post("/v1/sessions", &reference_example()).await).await;
    assert_eq!(explain(&app, "sess-abc-001").await["source"], "grounded");
}
