//! Every store a test should hold for: SQLite always, and PostgreSQL when
//! `EVNI_TEST_DATABASE_URL` names a server (as `scripts/test.sh` does in
//! CI), each in a fresh schema of its own there.

use std::sync::Arc;

use evni_store::postgres::{PostgresOptions, PostgresStore};
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::Store;

pub struct Backend {
    pub name: &'static str,
    pub store: Arc<dyn Store>,
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema { admin_url: String, schema: String },
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Cleanup::Schema { admin_url, schema } = self else {
            return;
        };
        let sql = format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{schema}';
             DROP SCHEMA IF EXISTS {schema} CASCADE"
        );
        let admin_url = admin_url.clone();
        // Drop may run inside a test's runtime, which cannot be blocked on.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin(&admin_url, &sql))
        })
        .join();
    }
}

pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(SqliteOptions::new(dir.path().join("db.sqlite3"))).unwrap();
    let mut all = vec![Backend {
        name: "sqlite",
        store: Arc::new(sqlite),
        _cleanup: Cleanup::Dir(dir),
    }];
    if let Some(admin_url) = std::env::var("EVNI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let schema = format!("evni_store_test_{}", uuid::Uuid::new_v4().simple());
        admin(&admin_url, &format!("CREATE SCHEMA {schema}")).await;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}application_name={schema}&options=-csearch_path%3D{schema}");
        let store = PostgresStore::open(PostgresOptions::new(url)).unwrap();
        all.push(Backend {
            name: "postgres",
            store: Arc::new(store),
            _cleanup: Cleanup::Schema { admin_url, schema },
        });
    }
    all
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
