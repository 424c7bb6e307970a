//! The WAL starts over under steady writes instead of growing without end.

mod common;

use std::sync::Arc;

use common::session_write;
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

const PAGE: u64 = 4096;

/// Appends `minutes` minutes to session `id`, one write per minute.
async fn append_minutes(store: Arc<SqliteStore>, tenant: TenantId, id: String, minutes: i64) {
    let mut version = None;
    for minute in 0..minutes {
        let score = 0.1 + minute as f64 * 1e-4;
        let write = session_write(tenant, &id, "ST-1", minute..minute + 1, version, score, "rules-1");
        version = Some(store.write_session(write).await.unwrap().version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_near_its_limit_under_steady_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let limit = 64;
    let store = Arc::new(
        SqliteStore::open(SqliteOptions {
            wal_limit_pages: limit,
            ..SqliteOptions::new(&path)
        })
        .unwrap(),
    );
    let tenant = store.create_tenant("acme").await.unwrap().id;
    let writers: Vec<_> = (0..32)
        .map(|i| tokio::spawn(append_minutes(store.clone(), tenant, format!("s-{i}"), 150)))
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let wal = std::fs::metadata(dir.path().join("db.sqlite3-wal"))
        .unwrap()
        .len();
    // Writes of 4,800 minutes touched thousands of pages; the WAL holds a
    // limit's worth plus the group commit that crossed it.
    assert!(
        wal < 8 * u64::from(limit) * PAGE,
        "WAL of {wal} bytes for a limit of {limit} pages"
    );
}
