//! Group commit: writes that arrive together share a transaction, and one
//! that fails leaves no trace while the others are kept.

use std::sync::Arc;

use evni_domain::{Location, Measurand, Reading, SessionStatus, UnitOfMeasure};
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

fn create(tenant: TenantId, id: &str, station: &str, score: f64) -> SessionWrite {
    let readings: Vec<Reading> = (0..3)
        .map(|minute| Reading {
            ts: minute * 60_000_000,
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
            location: Location::Outlet,
            unit: Some(UnitOfMeasure::KWh),
            value: minute as f64,
            context: None,
        })
        .collect();
    SessionWrite {
        tenant,
        header: SessionHeader {
            uuid: uuid::Uuid::now_v7(),
            external_id: id.into(),
            station_external_id: station.into(),
            connector_id: Some("1".into()),
            evse_id: None,
            metadata: None,
            created_at: 0,
            feedback: None,
        },
        expected_version: None,
        reading_count: readings.len(),
        readings: ReadingsChange::Upsert(readings),
        started_at: Some(0),
        verdict: Verdict {
            status: SessionStatus::Active,
            is_anomaly: Some(score >= 0.5),
            anomaly_score: Some(score),
            ..Verdict::pending()
        },
        inference: Some(InferenceRecord {
            model: "rules-1".into(),
            readings_analyzed: 3,
        }),
        feedback: None,
        summary: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_in_a_group_commit_leaves_no_trace_and_the_others_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(SqliteOptions::new(dir.path().join("db.sqlite3"))).unwrap());
    let tenant = store.create_tenant("acme").await.unwrap().id;
    store.write_session(create(tenant, "taken", "ST-1", 0.1)).await.unwrap();

    // Sent together, so that they share commits: creating "taken" again is
    // a conflict, found after its new station was created, and with a
    // higher score that must not reach any station.
    let writes: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            let write = if i % 2 == 0 {
                create(tenant, &format!("new-{i}"), "ST-1", 0.2)
            } else {
                create(tenant, "taken", &format!("other-{i}"), 0.9)
            };
            tokio::spawn(async move { store.write_session(write).await })
        })
        .collect();
    let mut conflicts = 0;
    for (i, write) in writes.into_iter().enumerate() {
        match write.await.unwrap() {
            Ok(outcome) => {
                assert_eq!(i % 2, 0, "write {i} should have been refused");
                assert_eq!(outcome.version, 1);
            }
            Err(StoreError::Conflict(_)) if i % 2 == 1 => conflicts += 1,
            Err(e) => panic!("write {i}: {e}"),
        }
    }
    assert_eq!(conflicts, 32);

    for i in (0..64).step_by(2) {
        let stored = store.load_session(tenant, &format!("new-{i}")).await.unwrap().unwrap();
        assert_eq!((stored.version, stored.readings.len()), (1, 3));
    }
    let taken = store.load_session(tenant, "taken").await.unwrap().unwrap();
    assert_eq!(taken.version, 1);
    assert_eq!(taken.verdict.anomaly_score, Some(0.1));
    let station = store.station(tenant, "ST-1").await.unwrap();
    assert_eq!((station.total_sessions, station.anomalous_sessions), (33, 0));
    assert_eq!(station.max_anomaly_score, Some(0.2));
    for i in (1..64).step_by(2) {
        let missing = store.station(tenant, &format!("other-{i}")).await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "other-{i}: {missing:?}");
    }
}
