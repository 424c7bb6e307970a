//! The WAL starts over under steady writes instead of growing without end.

use std::sync::Arc;

use evni_domain::{Location, Measurand, Reading, SessionStatus, UnitOfMeasure};
use evni_store::sqlite::{SqliteOptions, SqliteStore};
use evni_store::*;

const PAGE: u64 = 4096;

fn reading(minute: i64) -> Reading {
    Reading {
        ts: minute * 60_000_000,
        measurand: Measurand::EnergyActiveImportRegister,
        phase: None,
        location: Location::Outlet,
        unit: Some(UnitOfMeasure::KWh),
        value: minute as f64,
        context: None,
    }
}

/// Appends `readings` minutes to session `id`, one write per minute.
async fn append_minutes(store: Arc<SqliteStore>, tenant: TenantId, id: String, minutes: i64) {
    let header = SessionHeader {
        uuid: uuid::Uuid::now_v7(),
        external_id: id,
        station_external_id: "ST-1".into(),
        connector_id: Some("1".into()),
        evse_id: None,
        metadata: None,
        created_at: 0,
        feedback: None,
    };
    let mut version = None;
    for minute in 0..minutes {
        let write = SessionWrite {
            tenant,
            header: header.clone(),
            expected_version: version,
            readings: ReadingsChange::Upsert(vec![reading(minute)]),
            reading_count: minute as usize + 1,
            started_at: Some(0),
            verdict: Verdict {
                status: SessionStatus::Active,
                is_anomaly: Some(false),
                anomaly_score: Some(0.1 + minute as f64 * 1e-4),
                ..Verdict::pending()
            },
            inference: Some(InferenceRecord {
                model: "rules-1".into(),
                readings_analyzed: minute as usize + 1,
            }),
            feedback: None,
            summary: None,
        };
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
