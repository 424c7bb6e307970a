//! Durability proven with the real binary: `evni serve` is killed with
//! SIGKILL while clients append readings concurrently; after a restart on the
//! same data every reading the server acknowledged (a 2xx) is there.
//!
//! Runs on SQLite (`EVNI_DURABILITY=full`, the default) always, and on
//! PostgreSQL too when `EVNI_TEST_DATABASE_URL` names a server (each run in a
//! schema of its own), as `scripts/test.sh` does.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::task::JoinSet;

const JWT_SECRET: &str = "crash-test-secret-shared-by-both-lives-0123456789";
const WRITERS: usize = 8;

/// A child process, killed when dropped (also when the test panics).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn evni(args: &[&str], database_url: Option<&str>, data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evni"));
    command
        .args(args)
        .env("EVNI_JWT_SECRET", JWT_SECRET)
        .env("EVNI_DATA_DIR", data_dir)
        .env("EVNI_DURABILITY", "full")
        .env("EVNI_LOG", "warn")
        .env_remove("EVNI_CONFIG")
        .env_remove("EVNI_DATABASE_URL");
    if let Some(url) = database_url {
        command.env("EVNI_DATABASE_URL", url);
    }
    command
}

async fn serve(database_url: Option<&str>, data_dir: &Path) -> (Process, String) {
    let port = free_port();
    let child = evni(&["serve"], database_url, data_dir)
        .env("EVNI_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("evni serve starts");
    let api = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(format!("{api}/readyz")).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if Instant::now() > deadline => panic!("{api} did not get ready"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    (Process(child), api)
}

fn at(minute: i64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-27T00:00:00Z").unwrap();
    (t0 + chrono::Duration::minutes(minute))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn kwh(minute: i64) -> Value {
    json!({"timestamp": at(minute), "measurand": "Energy.Active.Import.Register",
           "unit": "kWh", "value": 10.0 + minute as f64 / 6.0})
}

/// Appends one reading a request to its own session until the server dies;
/// returns the minutes the server acknowledged.
async fn write_until_killed(
    api: String,
    token: String,
    writer: usize,
    acked: Arc<Mutex<BTreeSet<(usize, i64)>>>,
) {
    let client = reqwest::Client::new();
    let id = format!("crash-{writer}");
    let first = json!({"session_id": id, "charging_station_id": format!("ST-{writer}"),
                       "connector_id": "1", "meter_values": [kwh(0)]});
    let Ok(response) = client
        .post(format!("{api}/v1/sessions"))
        .bearer_auth(&token)
        .json(&first)
        .send()
        .await
    else {
        return;
    };
    if !response.status().is_success() {
        return;
    }
    acked.lock().unwrap().insert((writer, 0));
    for minute in 1.. {
        let sent = client
            .patch(format!("{api}/v1/sessions/{id}"))
            .bearer_auth(&token)
            .json(&json!({"meter_values": [kwh(minute)]}))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                acked.lock().unwrap().insert((writer, minute));
            }
            // The connection died with the server: that request was never acknowledged.
            _ => return,
        }
    }
}

async fn acknowledged_writes_survive_sigkill(database_url: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let output = evni(&["tenant", "create", "crash"], database_url, data.path())
        .output()
        .expect("evni tenant create runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let (mut server, api) = serve(database_url, data.path()).await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        writers.spawn(write_until_killed(
            api.clone(),
            token.clone(),
            writer,
            acked.clone(),
        ));
    }
    // Kill in the middle of the stream, once every writer is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 40 * WRITERS {
        assert!(Instant::now() < deadline, "too few writes acknowledged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.0.kill().expect("SIGKILL");
    server.0.wait().unwrap();
    while writers.join_next().await.is_some() {}
    let acked = acked.lock().unwrap().clone();

    let (_server, api) = serve(database_url, data.path()).await;
    let client = reqwest::Client::new();
    for writer in 0..WRITERS {
        let detail: Value = client
            .get(format!("{api}/v1/sessions/crash-{writer}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored: BTreeSet<String> = detail["meter_values"]
            .as_array()
            .unwrap_or_else(|| panic!("crash-{writer}: {detail}"))
            .iter()
            // Seconds precision: the format of the offset is not the point.
            .map(|v| v["timestamp"].as_str().unwrap()[..19].to_owned())
            .collect();
        for &(_, minute) in acked.iter().filter(|(w, _)| *w == writer) {
            let ts = at(minute);
            assert!(
                stored.contains(&ts[..19]),
                "crash-{writer}: the acknowledged reading at {ts} was lost ({} stored)",
                stored.len()
            );
        }
    }
    eprintln!(
        "{} acknowledged readings, all found after SIGKILL and restart",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_reading_across_sigkill() {
    acknowledged_writes_survive_sigkill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_reading_across_sigkill() {
    let Some(admin_url) = std::env::var("EVNI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("PostgreSQL part skipped: EVNI_TEST_DATABASE_URL is not set");
        return;
    };
    let schema = format!("evni_crash_{}", uuid::Uuid::new_v4().simple());
    admin(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options=-csearch_path%3D{schema}");
    acknowledged_writes_survive_sigkill(Some(&url)).await;
    admin(&admin_url, &format!("DROP SCHEMA {schema} CASCADE")).await;
}

async fn admin(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to EVNI_TEST_DATABASE_URL: {e}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = connection.await;
}
