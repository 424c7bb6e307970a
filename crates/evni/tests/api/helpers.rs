//! Spawns the real app on port 0 with a fresh data dir and a fresh tenant.
//! With `EVNI_TEST_DATABASE_URL=postgres://...` set, each app gets a fresh
//! PostgreSQL database on that server instead of SQLite, so every test here
//! runs against both backends.

use std::path::{Path, PathBuf};

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    pub app_state: evni_api::AppState,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub database: Option<std::sync::Arc<TestDatabase>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// A server on a fresh data dir with one tenant, `acme`.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`spawn`], with configuration changes.
    pub async fn spawn_with(adjust: impl FnOnce(&mut evni::Config)) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let database = TestDatabase::create().await.map(std::sync::Arc::new);
        let mut app = Self::start(temp.path(), database, adjust).await;
        app.token = app.new_tenant("acme").await;
        app._temp = Some(temp);
        app
    }

    async fn start(
        data_dir: &Path,
        database: Option<std::sync::Arc<TestDatabase>>,
        adjust: impl FnOnce(&mut evni::Config),
    ) -> Self {
        let mut config = evni::Config {
            data_dir: data_dir.to_path_buf(),
            database_url: database.as_ref().map(|d| d.url.clone()),
            database_pool: 16,
            log: "warn".into(),
            ..Default::default()
        };
        adjust(&mut config);
        let app = evni::build(&config).expect("app builds");
        let app_state = app.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run(listener, async move {
            let _ = stop.await;
        }));
        Self {
            base,
            token: String::new(),
            client: reqwest::Client::new(),
            app_state,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
            database,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops the server gracefully and starts a new one on the same data dir.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// Like [`restart`], with configuration changes.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut evni::Config)) -> Self {
        let temp = self._temp.take();
        let token = self.token.clone();
        let data_dir = self.data_dir.clone();
        let database = self.database.clone();
        self.stop().await;
        let mut app = Self::start(&data_dir, database, adjust).await;
        app.token = token;
        app._temp = temp;
        app
    }

    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran cleanly");
        }
    }

    /// Creates a tenant and returns its admin token.
    pub async fn new_tenant(&self, name: &str) -> String {
        let tenant = self
            .app_state
            .engine
            .store()
            .create_tenant(name)
            .await
            .expect("tenant created");
        self.app_state
            .keys
            .issue(
                &tenant,
                evni_api::Scope::Admin,
                std::time::Duration::from_secs(3600),
            )
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_as(&self.token, path, body).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.token, path).await
    }

    /// GET that must answer 200; returns the JSON body.
    pub async fn get_ok(&self, path: &str) -> Value {
        json_ok(self.get(path).await).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A database of its own on the server in `EVNI_TEST_DATABASE_URL`: a fresh
/// schema, named in the URL's search_path (creating and dropping a whole
/// database takes a second or two, a schema milliseconds). Dropped when the
/// last app using it is.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    schema: String,
}

impl TestDatabase {
    /// `None` when `EVNI_TEST_DATABASE_URL` is unset: the tests use SQLite.
    pub async fn create() -> Option<Self> {
        let admin_url = std::env::var("EVNI_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let schema = format!("evni_test_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
        Some(Self {
            url: with_schema(&admin_url, &schema),
            admin_url,
            schema,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, schema) = (self.admin_url.clone(), self.schema.clone());
        // Drop runs inside a test's runtime, which cannot be blocked on: the
        // cleanup gets a thread and a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            // The app's connections may sit in a transaction that the blocked
            // test runtime will never finish: end them before dropping.
            runtime.block_on(admin(
                &admin_url,
                &format!(
                    "SET lock_timeout = '10s';
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}';
                     DROP SCHEMA IF EXISTS {schema} CASCADE"
                ),
            ));
        })
        .join();
    }
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

/// `url` with every connection's search_path set to `schema`, named after it
/// (to find them at the end). Tests need no fsync per commit (asynchronous
/// commit still keeps every write in order).
pub fn with_schema(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}application_name={schema}&options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
    )
}

/// Asserts a 200 and returns the JSON body.
pub async fn json_ok(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(status, StatusCode::OK, "unexpected status, body: {body}");
    body
}

/// Asserts `status` and the error shape; returns the `error` object.
pub async fn json_error(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("JSON error body");
    let error = body
        .get("error")
        .cloned()
        .unwrap_or_else(|| panic!("no error object in {body}"));
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "error shape: {body}"
    );
    error
}

/// A meter value at `minute` minutes after 2026-02-27T10:00:00Z.
pub fn mv(minute: i64, measurand: &str, unit: &str, value: f64) -> Value {
    json!({"timestamp": at(minute), "measurand": measurand, "unit": unit, "value": value})
}

/// An energy register reading in kWh.
pub fn kwh(minute: i64, value: f64) -> Value {
    mv(minute, "Energy.Active.Import.Register", "kWh", value)
}

pub fn at(minute: i64) -> String {
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-02-27T10:00:00Z").unwrap();
    (t0 + chrono::Duration::minutes(minute))
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A normal charge at `kw` for `minutes`, one energy reading a minute.
pub fn steady_charge(minutes: i64, kw: f64, register_start: f64) -> Vec<Value> {
    (0..=minutes)
        .map(|m| kwh(m, register_start + kw * m as f64 / 60.0))
        .collect()
}

pub fn session(id: &str, station: &str, meter_values: Vec<Value>) -> Value {
    json!({"session_id": id, "charging_station_id": station, "connector_id": "1", "meter_values": meter_values})
}

/// The reference's example request, unchanged.
pub fn reference_example() -> Value {
    json!({
      "session_id": "sess-abc-001",
      "charging_station_id": "CP-NL-AMS-0042",
      "connector_id": "1",
      "meter_values": [
        {"timestamp": "2026-02-27T10:00:00Z", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": 0.0},
        {"timestamp": "2026-02-27T10:15:00Z", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": 5.5},
        {"timestamp": "2026-02-27T10:30:00Z", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "value": 11.1}
      ]
    })
}
