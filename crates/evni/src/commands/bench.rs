//! `evni bench batch`: submits a batch to a real server on 127.0.0.1 (in
//! this process, SQLite in a temporary data dir, the configured number of
//! workers) and times it from submission to completion.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::Config;

/// Sessions of one hour at 5-minute sampling, energy and power, a tenth of
/// them with a register that steps back.
fn sessions(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T08:00:00Z").unwrap()
                + chrono::Duration::minutes(7 * i as i64);
            let kw = [7.4, 11.0, 22.0][i % 3];
            let register = 10_000.0 + 37.0 * i as f64;
            let values: Vec<Value> = (0..=12)
                .flat_map(|step| {
                    let ts = (start + chrono::Duration::minutes(5 * step)).to_rfc3339();
                    let mut energy = register + kw * step as f64 / 12.0;
                    if i % 10 == 0 && step >= 6 {
                        energy -= 0.8;
                    }
                    [
                        json!({"timestamp": ts, "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": energy}),
                        json!({"timestamp": ts, "measurand": "Power.Active.Import", "unit": "kW", "value": kw}),
                    ]
                })
                .collect();
            json!({"session_id": format!("bench-{i:06}"), "charging_point_id": format!("CP-{:04}", i % 500),
                   "connector_id": "1", "meter_values": values})
        })
        .collect()
}

pub async fn batch(count: usize, workers: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("evni-bench-{}", std::process::id()));
    let config = Config {
        data_dir: dir.clone(),
        workers,
        log: "warn".into(),
        ..Config::default()
    };
    let app = crate::build(&config)?;
    let (_, token) = app.create_tenant("bench").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(listener, async move {
        let _ = stopped.await;
    }));

    let body = serde_json::to_vec(&json!({ "sessions": sessions(count) }))?;
    let readings = count * 26;
    println!(
        "batch of {count} sessions ({readings} meter values, {:.1} MB of JSON), {workers} workers, {} cores",
        body.len() as f64 / 1e6,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = client
        .post(format!("{base}/v1/sessions/batch"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "submission answered {}: {}",
            response.status(),
            response.text().await?
        );
    }
    let accepted = started.elapsed();
    let batch_id = response.json::<Value>().await?["batch_id"]
        .as_str()
        .context("batch_id")?
        .to_owned();
    let status = loop {
        let status: Value = client
            .get(format!("{base}/v1/sessions/batch/{batch_id}?page_size=1"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if status["status"] == "completed" || status["status"] == "failed" {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let total = started.elapsed();
    println!("submission accepted in {:.2} s", accepted.as_secs_f64());
    println!(
        "completed in {:.2} s: {:.0} sessions/s, {} processed, {} failed",
        total.as_secs_f64(),
        count as f64 / total.as_secs_f64(),
        status["processed_sessions"],
        status["failed_sessions"]
    );
    let _ = stop.send(());
    server.await??;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
