//! Station-day aggregates follow every session write: new, late, moved to
//! another day or connector, re-analysed, emptied.

mod common;

use evni_domain::SessionStatus;
use evni_store::*;

const DAY: i64 = 86_400_000_000;
/// 2026-03-10T00:00Z
const T0: i64 = 1_773_100_800_000_000;

fn header(id: &str, connector: &str) -> SessionHeader {
    SessionHeader {
        uuid: uuid::Uuid::now_v7(),
        external_id: id.into(),
        station_external_id: "ST-1".into(),
        connector_id: Some(connector.into()),
        evse_id: None,
        metadata: None,
        created_at: T0,
        feedback: None,
    }
}

fn write(
    tenant: TenantId,
    header: SessionHeader,
    version: Option<i64>,
    started_at: i64,
    anomalous: bool,
    facts: Option<SessionFacts>,
) -> SessionWrite {
    SessionWrite {
        tenant,
        header,
        expected_version: version,
        readings: ReadingsChange::Upsert(Vec::new()),
        reading_count: 0,
        started_at: Some(started_at),
        verdict: Verdict {
            status: SessionStatus::Active,
            is_anomaly: Some(anomalous),
            anomaly_score: Some(if anomalous { 0.9 } else { 0.1 }),
            ..Verdict::pending()
        },
        inference: None,
        feedback: None,
        summary: facts,
    }
}

fn facts(energy_kwh: f64, plateau_kw: f64) -> Option<SessionFacts> {
    Some(SessionFacts {
        energy_kwh,
        plateau_kw: Some(plateau_kw),
        is_zero: energy_kwh < 0.1,
    })
}

/// (day offset, connector, sessions, energy, zero, anomalous, plateaus)
type Row = (i64, String, u32, f64, u32, u32, Vec<f64>);

async fn days(store: &dyn Store, tenant: TenantId) -> Vec<Row> {
    let history = store
        .station_history(tenant, "ST-1", T0 / DAY - 5, T0 / DAY + 5)
        .await
        .unwrap();
    history
        .days
        .into_iter()
        .map(|d| {
            (
                d.day - T0 / DAY,
                d.connector_id,
                d.sessions,
                (d.energy_kwh * 1000.0).round() / 1000.0,
                d.zero_sessions,
                d.anomalous_sessions,
                d.plateaus_kw,
            )
        })
        .collect()
}

#[tokio::test]
async fn aggregates_follow_every_write() {
    for backend in common::backends::backends().await {
        eprintln!("on {}", backend.name);
        aggregates_follow_every_write_on(backend.store.as_ref()).await;
    }
}

async fn aggregates_follow_every_write_on(store: &dyn Store) {
    let tenant = store.create_tenant("acme").await.unwrap().id;

    let a = header("a", "1");
    let v = store
        .write_session(write(
            tenant,
            a.clone(),
            None,
            T0 + 3_600_000_000,
            false,
            facts(20.0, 11.0),
        ))
        .await
        .unwrap()
        .version;
    store
        .write_session(write(
            tenant,
            header("b", "1"),
            None,
            T0 + 7_200_000_000,
            true,
            facts(0.0, 0.0),
        ))
        .await
        .unwrap();
    // A late session, two days back.
    store
        .write_session(write(
            tenant,
            header("c", "2"),
            None,
            T0 - 2 * DAY,
            false,
            facts(30.0, 22.0),
        ))
        .await
        .unwrap();
    assert_eq!(
        days(store, tenant).await,
        vec![
            (-2, "2".into(), 1, 30.0, 0, 0, vec![22.0]),
            (0, "1".into(), 2, 20.0, 1, 1, vec![0.0, 11.0]),
        ]
    );
    assert_eq!(store.tenant_last_day(tenant).await.unwrap(), Some(T0 / DAY));

    // Re-analysed: more energy, anomalous now, on connector 2: the old
    // contribution leaves, the new one arrives.
    let a = SessionHeader {
        connector_id: Some("2".into()),
        ..a
    };
    let v = store
        .write_session(write(
            tenant,
            a.clone(),
            Some(v),
            T0 + 3_600_000_000,
            true,
            facts(25.0, 10.0),
        ))
        .await
        .unwrap()
        .version;
    assert_eq!(
        days(store, tenant).await,
        vec![
            (-2, "2".into(), 1, 30.0, 0, 0, vec![22.0]),
            (0, "1".into(), 1, 0.0, 1, 1, vec![0.0]),
            (0, "2".into(), 1, 25.0, 0, 1, vec![10.0]),
        ]
    );
    // Its first reading moves to the day before; then it loses its summary.
    let v = store
        .write_session(write(
            tenant,
            a.clone(),
            Some(v),
            T0 - DAY,
            true,
            facts(25.0, 10.0),
        ))
        .await
        .unwrap()
        .version;
    assert_eq!(
        days(store, tenant).await[1],
        (-1, "2".into(), 1, 25.0, 0, 1, vec![10.0])
    );
    store
        .write_session(write(tenant, a, Some(v), T0 - DAY, true, None))
        .await
        .unwrap();
    assert_eq!(
        days(store, tenant).await,
        vec![
            (-2, "2".into(), 1, 30.0, 0, 0, vec![22.0]),
            (0, "1".into(), 1, 0.0, 1, 1, vec![0.0]),
        ]
    );
    // Every write marked the station for SHADE.
    let dirty = store.dirty_stations(i64::MAX).await.unwrap();
    assert_eq!(dirty.len(), 1);
    assert_eq!(dirty[0].external_id, "ST-1");
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn health_result(data_read_at: i64) -> HealthResult {
    HealthResult {
        analyzed_at: data_read_at,
        is_anomaly: false,
        anomaly_score: 0.0,
        detection_details: serde_json::json!({}),
        anomalies: Vec::new(),
        data_read_at,
    }
}

#[tokio::test]
async fn a_change_after_a_run_read_the_data_keeps_the_station_dirty() {
    for backend in common::backends::backends().await {
        eprintln!("on {}", backend.name);
        a_change_after_a_run_read_the_data_keeps_the_station_dirty_on(backend.store.as_ref()).await;
    }
}

async fn a_change_after_a_run_read_the_data_keeps_the_station_dirty_on(store: &dyn Store) {
    let tenant = store.create_tenant("acme").await.unwrap().id;
    let a = header("a", "1");
    let v = store
        .write_session(write(tenant, a.clone(), None, T0, false, facts(1.0, 7.0)))
        .await
        .unwrap()
        .version;
    // A run reads the data, then the session changes again at once: the
    // mark may keep the first change's time, and must survive the run.
    let read_at = now_micros();
    store
        .write_session(write(tenant, a, Some(v), T0, false, facts(2.0, 7.0)))
        .await
        .unwrap();
    store
        .record_station_health(tenant, "ST-1", health_result(read_at))
        .await
        .unwrap();
    assert_eq!(store.dirty_stations(i64::MAX).await.unwrap().len(), 1);
    // A run that read the data well after the change clears it.
    store
        .record_station_health(
            tenant,
            "ST-1",
            health_result(now_micros() + DIRTY_MARK_CLEAR_MARGIN),
        )
        .await
        .unwrap();
    assert!(store.dirty_stations(i64::MAX).await.unwrap().is_empty());
}
