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

#[tokio::test]
async fn days_are_the_stations_local_days_and_move_with_its_zone() {
    for backend in common::backends::backends().await {
        eprintln!("on {}", backend.name);
        days_are_local_on(backend.store.as_ref()).await;
    }
}

async fn days_are_local_on(store: &dyn Store) {
    let tenant = store.create_tenant("acme").await.unwrap().id;
    let hour = 3_600_000_000;
    // 22:00 and 21:00 UTC on the day before T0; the second delivers nothing.
    for (id, start, energy) in [("a", T0 - 2 * hour, 20.0), ("z", T0 - 3 * hour, 0.0)] {
        store
            .write_session(write(
                tenant,
                header(id, "1"),
                None,
                start,
                false,
                facts(energy, 11.0),
            ))
            .await
            .unwrap();
    }
    let day_and_sessions = |rows: Vec<Row>| rows.iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();
    assert_eq!(day_and_sessions(days(store, tenant).await), vec![(-1, 2)]);

    // Tokyo is 9 h ahead: both start on T0's day there, and the zero
    // session's start is read as Tokyo's wall-clock time.
    let zone = |z: serde_json::Value| serde_json::json!({ "time_zone": z }).as_object().unwrap().clone();
    store
        .patch_station_metadata(tenant, "ST-1", zone("Asia/Tokyo".into()))
        .await
        .unwrap();
    assert_eq!(day_and_sessions(days(store, tenant).await), vec![(0, 2)]);
    let history = store
        .station_history(tenant, "ST-1", T0 / DAY - 5, T0 / DAY + 5)
        .await
        .unwrap();
    assert_eq!(history.zero_starts, vec![T0 - 3 * hour + 9 * hour]);
    assert_eq!(history.utc_offset_seconds, 9 * 3600);

    // The tenant's zone applies to stations without their own.
    let mut settings = store.tenant_by_id(tenant).await.unwrap().settings;
    settings.time_zone = Some("America/Denver".into());
    store.update_tenant_settings(tenant, settings).await.unwrap();
    assert_eq!(day_and_sessions(days(store, tenant).await), vec![(0, 2)]);
    store
        .patch_station_metadata(tenant, "ST-1", zone(serde_json::Value::Null))
        .await
        .unwrap();
    assert_eq!(day_and_sessions(days(store, tenant).await), vec![(-1, 2)]);
    // A later write of a moved session keeps to the station's days.
    store
        .write_session(write(
            tenant,
            header("a", "1"),
            Some(1),
            T0 - 2 * hour,
            false,
            facts(25.0, 11.0),
        ))
        .await
        .unwrap();
    let rows = days(store, tenant).await;
    assert_eq!((rows.len(), rows[0].0, rows[0].2, rows[0].3), (1, -1, 2, 25.0));
}
