//! Group commit: writes that arrive together share a transaction, and one
//! that fails leaves no trace while the others are kept.

mod common;

use std::sync::Arc;

use common::session_write;
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

fn create(tenant: TenantId, id: &str, station: &str, score: f64, model: &str) -> SessionWrite {
    session_write(tenant, id, station, 0..3, None, score, model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_in_a_group_commit_leaves_no_trace_and_the_others_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    let store = Arc::new(SqliteStore::open(SqliteOptions::new(&path)).unwrap());
    let tenant = store.create_tenant("acme").await.unwrap().id;
    store
        .write_session(create(tenant, "taken", "ST-1", 0.1, "rules-1"))
        .await
        .unwrap();
    // A write fails late, after its station and session rows were written,
    // when the database refuses its inference.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON inferences WHEN NEW.model = 'refused'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();

    // Sent together, so that they share commits. The odd ones fail: a
    // second create of "taken", or a late failure at a station of its own,
    // both with a score that must not reach any station.
    let writes: Vec<_> = (0..96)
        .map(|i| {
            let store = store.clone();
            let write = match i % 4 {
                0 | 2 => create(tenant, &format!("new-{i}"), "ST-1", 0.2, "rules-1"),
                1 => create(tenant, "taken", &format!("other-{i}"), 0.9, "rules-1"),
                _ => create(tenant, &format!("bad-{i}"), &format!("other-{i}"), 0.9, "refused"),
            };
            tokio::spawn(async move { (i, store.write_session(write).await) })
        })
        .collect();
    for write in writes {
        match write.await.unwrap() {
            (i, Ok(outcome)) if i % 2 == 0 => assert_eq!(outcome.version, 1),
            (i, Err(StoreError::Conflict(_))) if i % 4 == 1 => {}
            (i, Err(StoreError::Database { message: e, .. })) if i % 4 == 3 => {
                assert!(e.contains("refused"), "{e}")
            }
            (i, other) => panic!("write {i}: {other:?}"),
        }
    }

    for i in (0..96).step_by(2) {
        let stored = store
            .load_session(tenant, &format!("new-{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((stored.version, stored.readings.len()), (1, 3));
    }
    for i in (3..96).step_by(4) {
        assert_eq!(
            store.load_session(tenant, &format!("bad-{i}")).await.unwrap(),
            None
        );
    }
    let taken = store.load_session(tenant, "taken").await.unwrap().unwrap();
    assert_eq!(taken.version, 1);
    assert_eq!(taken.verdict.anomaly_score, Some(0.1));
    let station = store.station(tenant, "ST-1").await.unwrap();
    assert_eq!((station.total_sessions, station.anomalous_sessions), (49, 0));
    assert_eq!(station.max_anomaly_score, Some(0.2));
    for i in (1..96).step_by(2) {
        let missing = store.station(tenant, &format!("other-{i}")).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "other-{i}: {missing:?}"
        );
    }
}
