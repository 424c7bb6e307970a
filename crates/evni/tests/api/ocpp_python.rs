//! Native OCPP with a real OCPP implementation: the `ocpp` package from PyPI
//! as charge point and CSMS (tests/ocpp/), through `evni serve`'s proxy.
//! Runs when `EVNI_TEST_OCPP_PYTHON` names a python holding that package
//! (`scripts/ocpp-venv.sh` makes one; scripts/test.sh with EVNI_TEST_OCPP=1).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;

struct Csms(Child);

impl Drop for Csms {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/ocpp")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_csms(python: &str, port: u16, log: &Path) -> Csms {
    let mut child = Command::new(python)
        .arg(scripts().join("csms.py"))
        .args(["--port", &port.to_string(), "--log"])
        .arg(log)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python CSMS starts");
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    Csms(child)
}

/// Runs a charge point to the end; returns its summary.
async fn charge_point(python: String, url: String, log: PathBuf, args: Vec<&'static str>) -> Value {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(python)
            .arg(scripts().join("charge_point.py"))
            .args(["--url", &url, "--log"])
            .arg(&log)
            .args(["--interval", "0.5"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "charge point failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn raw(entries: &[Value], dir: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["dir"] == dir)
        .map(|e| e["raw"].as_str().unwrap().to_owned())
        .collect()
}

/// The CSMS got every frame of `station` byte for byte and in order, the
/// charge point every answer.
fn assert_unchanged(csms_log: &Path, station: &str, cp_log: &Path) {
    let csms: Vec<Value> = lines(csms_log)
        .into_iter()
        .filter(|e| e["station"] == station)
        .collect();
    let cp = lines(cp_log);
    assert_eq!(
        raw(&cp, "out"),
        raw(&csms, "in"),
        "{station}: charge point -> CSMS"
    );
    assert_eq!(
        raw(&cp, "in"),
        raw(&csms, "out"),
        "{station}: CSMS -> charge point"
    );
    assert!(raw(&cp, "out").len() >= 10);
}

/// The session once the tap has mapped `readings` energy readings.
async fn session_with(app: &TestApp, id: &str, readings: usize) -> Value {
    for _ in 0..100 {
        let response = app.get(&format!("/v1/sessions/{id}")).await;
        if response.status().is_success() {
            let detail: Value = response.json().await.unwrap();
            if detail["meter_values"].as_array().unwrap().len() >= readings {
                return detail;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("session {id} never held {readings} readings");
}

#[tokio::test]
async fn real_charge_points_and_csms_through_the_proxy() {
    let Ok(python) = std::env::var("EVNI_TEST_OCPP_PYTHON") else {
        eprintln!("skipped: set EVNI_TEST_OCPP_PYTHON (scripts/ocpp-venv.sh) to run the OCPP package tests");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csms_log = dir.path().join("csms.jsonl");
    let csms_port = free_port();
    let _csms = start_csms(&python, csms_port, &csms_log);
    let proxy_port = free_port();
    let app = TestApp::spawn_with(|c| {
        c.ocpp.listen = Some(format!("127.0.0.1:{proxy_port}"));
        c.ocpp.upstream = Some(format!("ws://127.0.0.1:{csms_port}/csms"));
        c.ocpp.tenant = Some("acme".into());
    })
    .await;
    let url = |id: &str| format!("ws://127.0.0.1:{proxy_port}/ocpp/{id}");
    let log = |id: &str| dir.path().join(format!("{id}.jsonl"));
    let (v16, v201, backwards) = tokio::join!(
        charge_point(
            python.clone(),
            url("PY16"),
            log("PY16"),
            vec!["--version", "1.6", "--samples", "6"]
        ),
        charge_point(
            python.clone(),
            url("PY201"),
            log("PY201"),
            vec!["--version", "2.0.1", "--samples", "6", "--multiplier", "3"]
        ),
        charge_point(
            python.clone(),
            url("PYBACK"),
            log("PYBACK"),
            vec!["--version", "1.6", "--samples", "6", "--backwards"]
        ),
    );

    // The CSMS got every frame byte for byte and in order, the charge point every answer.
    for station in ["PY16", "PY201", "PYBACK"] {
        assert_unchanged(&csms_log, station, &log(station));
    }

    // evni holds each session with every reading, multipliers applied.
    for (station, summary) in [("PY16", &v16), ("PY201", &v201)] {
        let registers: Vec<f64> = summary["registers_wh"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let id = format!("{station}:{}", summary["transaction_id"].as_str().unwrap());
        let detail = session_with(&app, &id, registers.len()).await;
        let values: Vec<f64> = detail["meter_values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["value"].as_f64().unwrap())
            .collect();
        assert_eq!(values.len(), registers.len(), "{detail}");
        for (got, sent) in values.iter().zip(&registers) {
            assert!(
                (got - sent).abs() < 1e-6,
                "{station}: {got} Wh stored for {sent} Wh sent"
            );
        }
        assert!(detail["meter_values"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["unit"] == "Wh"));
        assert_eq!(detail["is_anomaly"], false, "{detail}");

        // Door 1 with the same frames gives the same session.
        let frames: Vec<Value> = lines(&log(station))
            .iter()
            .map(|e| serde_json::from_str(e["raw"].as_str().unwrap()).unwrap())
            .collect();
        let version = if station == "PY201" { "2.0.1" } else { "1.6" };
        let door1 = format!("D1-{station}");
        let body = json_ok(
            app.post(&format!("/v1/ocpp/{door1}?version={version}"), &json!(frames))
                .await,
        )
        .await;
        let door1_id = format!("{door1}:{}", summary["transaction_id"].as_str().unwrap());
        assert_eq!(body["sessions"][0]["session_id"], door1_id.as_str(), "{body}");
        let door1_detail = app.get_ok(&format!("/v1/sessions/{door1_id}")).await;
        assert_eq!(door1_detail["meter_values"], detail["meter_values"]);
        assert_eq!(door1_detail["anomalies"], detail["anomalies"]);
    }

    // A register that runs backwards is a KWH_DECREASE.
    let id = format!("PYBACK:{}", backwards["transaction_id"].as_str().unwrap());
    let detail = session_with(&app, &id, 8).await;
    let categories: Vec<&Value> = detail["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["category"])
        .collect();
    assert!(categories.contains(&&json!("KWH_DECREASE")), "{detail}");
}

/// "Store stopped": another process holds evni's SQLite database locked
/// (`BEGIN EXCLUSIVE`, as a backup tool or a stray `sqlite3` shell would) for
/// 11 s, longer than evni's 10 s busy timeout, in the middle of a
/// transaction. evni cannot write: the tap's writes wait (and may fail),
/// and its small queue overflows. The charge point and the CSMS must not
/// notice: every frame passes byte for byte and no CALL waits on evni. The
/// session gets what the tap could keep and says it is incomplete.
#[tokio::test]
async fn the_exchange_completes_unchanged_with_the_store_stopped() {
    let Ok(python) = std::env::var("EVNI_TEST_OCPP_PYTHON") else {
        eprintln!("skipped: set EVNI_TEST_OCPP_PYTHON (scripts/ocpp-venv.sh) to run the OCPP package tests");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csms_log = dir.path().join("csms.jsonl");
    let csms_port = free_port();
    let _csms = start_csms(&python, csms_port, &csms_log);
    let proxy_port = free_port();
    let app = TestApp::spawn_with(|c| {
        c.ocpp.listen = Some(format!("127.0.0.1:{proxy_port}"));
        c.ocpp.upstream = Some(format!("ws://127.0.0.1:{csms_port}/csms"));
        c.ocpp.tenant = Some("acme".into());
        c.ocpp.tap_queue = 4;
        c.metrics_token = Some("scrape-me".into());
    })
    .await;
    if app.database.is_some() {
        eprintln!("skipped on PostgreSQL: the store is stopped by locking the SQLite file");
        return;
    }
    let cp_log = dir.path().join("PYSTOP.jsonl");
    let charge_point = tokio::spawn(charge_point(
        python.clone(),
        format!("ws://127.0.0.1:{proxy_port}/ocpp/PYSTOP"),
        cp_log.clone(),
        vec!["--version", "1.6", "--samples", "36"],
    ));

    // Mid-transaction: the session holds its first readings.
    let id = loop {
        let list = app.get_ok("/v1/sessions?charging_station_id=PYSTOP").await;
        if let Some(id) = list["items"][0]["external_session_id"].as_str() {
            let detail = app.get_ok(&format!("/v1/sessions/{id}")).await;
            if detail["meter_values"].as_array().unwrap().len() >= 3 {
                break id.to_owned();
            }
        }
        assert!(
            !charge_point.is_finished(),
            "the transaction ended before the store was stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let database = app.data_dir.join("evni.sqlite3");
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let lock = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(database).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(11));
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();
    let summary = charge_point.await.unwrap();
    lock.join().unwrap();

    // Nothing waited for evni and nothing changed.
    let slowest = summary["slowest_call_ms"].as_f64().unwrap();
    assert!(slowest < 2000.0, "a CALL waited {slowest} ms for its answer");
    assert_unchanged(&csms_log, "PYSTOP", &cp_log);

    // Once the store is back, the tap records the rest: the session ended,
    // marked incomplete, with every reading it kept as sent.
    assert_eq!(
        summary["transaction_id"].as_str().unwrap(),
        id.split(':').nth(1).unwrap()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let detail = loop {
        let detail = app.get_ok(&format!("/v1/sessions/{id}")).await;
        if detail["metadata"]["ocpp"]["state"] == "ended" {
            break detail;
        }
        assert!(std::time::Instant::now() < deadline, "never ended: {detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(detail["metadata"]["ocpp"]["incomplete"], true, "{detail}");
    let sent: Vec<f64> = summary["registers_wh"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let kept: Vec<f64> = detail["meter_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_f64().unwrap())
        .collect();
    eprintln!(
        "store stopped: slowest CALL {slowest:.1} ms, {} of {} readings kept",
        kept.len(),
        sent.len()
    );
    assert!(
        kept.len() < sent.len(),
        "readings sent while the store was stopped cannot be kept"
    );
    assert!(kept.len() >= 4, "{detail}");
    for value in &kept {
        assert!(
            sent.iter().any(|s| (s - value).abs() < 1e-6),
            "{value} Wh was never sent"
        );
    }
    // Lost copies were counted: the queue overflowed. (A write that fails
    // counts as "failed", but whether one does depends on timing: a failed
    // group commit runs once more and waits again, so with an 11 s lock
    // the second try usually succeeds.)
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for outcome in ["queued", "dropped"] {
        let line = format!("evni_ocpp_tap_frames_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&line), "{line} missing from\n{metrics}");
    }
}
