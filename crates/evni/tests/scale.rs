//! Scale-out over PostgreSQL with the real binary: two `evni serve`
//! processes and one `evni worker` on one database. Every batch job is done
//! exactly once, and concurrent PATCHes of one session through both API
//! processes lose no reading.
//!
//! Needs a PostgreSQL server in `EVNI_TEST_DATABASE_URL`, so it is ignored
//! unless asked for; `scripts/test.sh` runs it (`--ignored`) on the server it
//! starts. Each run gets a schema of its own there.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

const JWT_SECRET: &str = "scale-test-secret-shared-by-every-process-0123456789";

/// One child process, killed when dropped (also when the test panics).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Cluster {
    apis: Vec<String>,
    token: String,
    /// The test's schema, for checking rows directly.
    url: String,
    /// The server, for dropping the schema at the end.
    admin_url: String,
    schema: String,
    processes: Vec<Process>,
    _data: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.processes.clear();
        let (url, schema) = (self.admin_url.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin(
                    &url,
                    &format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}';
                         DROP SCHEMA IF EXISTS {schema} CASCADE"
                    ),
                ))
        })
        .join();
    }
}

async fn admin(url: &str, sql: &str) -> Vec<tokio_postgres::SimpleQueryMessage> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to EVNI_TEST_DATABASE_URL: {e}"));
    let connection = tokio::spawn(connection);
    let rows = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
    rows
}

/// The first column of the first row of a query's result, as text.
async fn scalar(url: &str, sql: &str) -> String {
    admin(url, sql)
        .await
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_owned()),
            _ => None,
        })
        .expect("a row")
}

/// A port that was free a moment ago: separate processes cannot share a
/// listener bound to port 0.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn evni(args: &[&str], database_url: &str, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evni"));
    command
        .args(args)
        .env("EVNI_DATABASE_URL", database_url)
        .env("EVNI_DATABASE_POOL", "8")
        .env("EVNI_JWT_SECRET", JWT_SECRET)
        .env("EVNI_DATA_DIR", data_dir)
        .env("EVNI_LOG", "warn")
        .env_remove("EVNI_CONFIG");
    command
}

impl Cluster {
    async fn start(admin_url: String) -> Self {
        let schema = format!("evni_scale_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}application_name={schema}&options=-csearch_path%3D{schema}");
        let data = tempfile::tempdir().unwrap();

        let output = evni(&["tenant", "create", "fleet"], &url, data.path())
            .output()
            .expect("evni tenant create runs");
        assert!(
            output.status.success(),
            "tenant create: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let token = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned();

        let mut processes = Vec::new();
        let mut apis = Vec::new();
        for _ in 0..2 {
            let port = free_port();
            // One job worker inside each API process too: claims then race
            // across three processes.
            let child = evni(&["serve"], &url, data.path())
                .env("EVNI_LISTEN", format!("127.0.0.1:{port}"))
                .env("EVNI_WORKERS", "1")
                .stdout(Stdio::null())
                .spawn()
                .expect("evni serve starts");
            processes.push(Process(child));
            apis.push(format!("http://127.0.0.1:{port}"));
        }
        let worker = evni(&["worker", "--concurrency", "2"], &url, data.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("evni worker starts");
        processes.push(Process(worker));

        let client = reqwest::Client::new();
        for api in &apis {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match client.get(format!("{api}/readyz")).send().await {
                    Ok(r) if r.status().is_success() => break,
                    _ if Instant::now() > deadline => panic!("{api} did not get ready"),
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
        Self {
            apis,
            token,
            url,
            admin_url,
            schema,
            processes,
            _data: data,
        }
    }
}

fn database_url() -> String {
    std::env::var("EVNI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("EVNI_TEST_DATABASE_URL must name a PostgreSQL server (scripts/test.sh starts one)")
}

/// `HH:MM` minutes after 2026-02-27T00:00Z, as RFC 3339.
fn at(minute: i64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-27T00:00:00Z").unwrap();
    (t0 + chrono::Duration::minutes(minute))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn kwh(minute: i64, value: f64) -> Value {
    json!({"timestamp": at(minute), "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": value})
}

async fn send(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .request(method, url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it with EVNI_TEST_POSTGRES=1"]
async fn two_api_processes_and_a_worker_share_one_database() {
    let cluster = Cluster::start(database_url()).await;
    let client = reqwest::Client::new();
    let token = cluster.token.clone();

    // ---- Batches through both API processes: 12 jobs of 100 sessions,
    // claimed by four workers in three processes.
    let sessions = |prefix: &str, count: usize| -> Value {
        let sessions: Vec<Value> = (0..count)
            .map(|i| {
                let values: Vec<Value> = (0..=30).map(|m| kwh(m, 10.0 + 11.0 * m as f64 / 60.0)).collect();
                json!({"session_id": format!("{prefix}-{i:04}"), "charging_station_id": format!("ST-{}", i % 9),
                       "connector_id": "1", "meter_values": values})
            })
            .collect();
        json!({ "sessions": sessions })
    };
    let mut batches = Vec::new();
    for (api, prefix) in cluster.apis.iter().zip(["a", "b"]) {
        let (status, body) = send(
            &client,
            &token,
            reqwest::Method::POST,
            format!("{api}/v1/sessions/batch"),
            &sessions(prefix, 600),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        batches.push(body["batch_id"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (batch, api) in batches.iter().zip(cluster.apis.iter().rev()) {
        loop {
            let (_, status) = send(
                &client,
                &token,
                reqwest::Method::GET,
                format!("{api}/v1/sessions/batch/{batch}"),
                &Value::Null,
            )
            .await;
            if status["status"] == "completed" {
                assert_eq!(status["total_sessions"], 600, "{status}");
                assert_eq!(status["processed_sessions"], 600, "{status}");
                assert_eq!(status["failed_sessions"], 0, "{status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "batch {batch} did not finish: {status}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let url = &cluster.url;
    assert_eq!(scalar(url, "SELECT COUNT(*) FROM jobs").await, "12");
    assert_eq!(
        scalar(
            url,
            "SELECT COUNT(*) FROM jobs WHERE status <> 'done' OR attempts <> 1"
        )
        .await,
        "0",
        "every job claimed once and done"
    );
    assert_eq!(
        scalar(url, "SELECT COUNT(*) FROM inferences").await,
        "1200",
        "every session analysed once"
    );
    assert!(
        scalar(url, "SELECT COUNT(DISTINCT lease_owner IS NULL) FROM jobs").await == "1",
        "leases released"
    );
    for api in &cluster.apis {
        let (_, stats) = send(
            &client,
            &token,
            reqwest::Method::GET,
            format!("{api}/v1/statistics"),
            &Value::Null,
        )
        .await;
        assert_eq!(stats["total_sessions"], 1200, "{stats}");
        assert_eq!(stats["total_stations"], 9, "{stats}");
    }

    // ---- One live session appended to through both processes at once.
    let (status, body) = send(
        &client,
        &token,
        reqwest::Method::POST,
        format!("{}/v1/sessions", cluster.apis[0]),
        &json!({"session_id": "live-1", "charging_station_id": "ST-LIVE", "connector_id": "1",
                "meter_values": [kwh(0, 100.0)]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    const APPENDS: i64 = 240;
    let mut tasks = JoinSet::new();
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(24));
    for minute in 1..=APPENDS {
        let api = cluster.apis[minute as usize % 2].clone();
        let (client, token, in_flight) = (client.clone(), token.clone(), in_flight.clone());
        tasks.spawn(async move {
            let _permit = in_flight.acquire().await.unwrap();
            let body = json!({"meter_values": [kwh(minute, 100.0 + 11.0 * minute as f64 / 60.0)]});
            // 409 says another writer kept winning the version race: the
            // client retries, as the error asks.
            for _ in 0..20 {
                let (status, response) = send(
                    &client,
                    &token,
                    reqwest::Method::PATCH,
                    format!("{api}/v1/sessions/live-1"),
                    &body,
                )
                .await;
                match status {
                    200 => return,
                    409 => tokio::time::sleep(Duration::from_millis(5)).await,
                    other => panic!("PATCH minute {minute}: {other} {response}"),
                }
            }
            panic!("PATCH minute {minute} kept conflicting");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for api in &cluster.apis {
        let (status, detail) = send(
            &client,
            &token,
            reqwest::Method::GET,
            format!("{api}/v1/sessions/live-1"),
            &Value::Null,
        )
        .await;
        assert_eq!(status, 200, "{detail}");
        assert_eq!(
            detail["meter_values"].as_array().unwrap().len() as i64,
            APPENDS + 1,
            "every acknowledged reading is stored, seen from {api}"
        );
    }
    assert_eq!(
        scalar(
            url,
            "SELECT reading_count FROM sessions WHERE external_id = 'live-1'"
        )
        .await,
        (APPENDS + 1).to_string()
    );
    // Each write saw every earlier one: the analyses ran over 1, 2, ..., N+1
    // readings, each count once. A write applied on top of a state it had
    // not seen (a lost update) repeats one count and skips another.
    assert_eq!(
        scalar(
            url,
            "SELECT (COUNT(DISTINCT i.readings_analyzed) = COUNT(*)) || '/' || MAX(i.readings_analyzed)
             FROM inferences i JOIN sessions s ON s.id = i.session_id WHERE s.external_id = 'live-1'"
        )
        .await,
        format!("true/{}", APPENDS + 1),
        "every analysis saw a state no other had / the last saw every reading"
    );
    assert_eq!(
        scalar(
            url,
            "WITH RECURSIVE chain (id, previous_id) AS (
                 SELECT i.id, i.previous_id FROM inferences i JOIN sessions s ON i.id = s.latest_inference_id
                 WHERE s.external_id = 'live-1'
                 UNION ALL
                 SELECT i.id, i.previous_id FROM inferences i JOIN chain ON i.id = chain.previous_id
             )
             SELECT COUNT(*) FROM chain"
        )
        .await,
        // Analysed from its third reading on.
        (APPENDS - 1).to_string(),
        "the session's runs are linked newest to oldest, none left out"
    );
    assert_eq!(
        scalar(
            url,
            "SELECT total_sessions FROM stations WHERE external_id = 'ST-LIVE'"
        )
        .await,
        "1",
        "the session counted once"
    );
}
