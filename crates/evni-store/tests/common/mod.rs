//! What the store's tests share: a session write as the engine sends it, and
//! every backend to run a test on. Each test crate uses a part of it.
#![allow(dead_code)]

pub mod backends;

use evni_domain::{Measurand, Reading, SessionStatus, UnitOfMeasure};
use evni_sim::fixtures::reading;
use evni_store::*;

/// Session `id` at `station` with energy readings at `minutes` (kWh = minute),
/// analysed by `model` with `score`; a create when `expected_version` is
/// `None`, else an append on top of that version.
pub fn session_write(
    tenant: TenantId,
    id: &str,
    station: &str,
    minutes: std::ops::Range<i64>,
    expected_version: Option<i64>,
    score: f64,
    model: &str,
) -> SessionWrite {
    let readings: Vec<Reading> = minutes
        .clone()
        .map(|minute| {
            reading(
                minute * 60_000_000,
                Measurand::EnergyActiveImportRegister,
                UnitOfMeasure::KWh,
                minute as f64,
            )
        })
        .collect();
    SessionWrite {
        tenant,
        header: SessionHeader {
            // The store keeps the first write's UUID.
            uuid: uuid::Uuid::now_v7(),
            external_id: id.into(),
            station_external_id: station.into(),
            connector_id: Some("1".into()),
            evse_id: None,
            metadata: None,
            created_at: 0,
            feedback: None,
        },
        expected_version,
        readings: ReadingsChange::Upsert(readings),
        reading_count: minutes.end as usize,
        started_at: Some(0),
        verdict: Verdict {
            status: SessionStatus::Active,
            is_anomaly: Some(score >= 0.5),
            anomaly_score: Some(score),
            ..Verdict::pending()
        },
        inference: Some(InferenceRecord {
            model: model.into(),
            readings_analyzed: minutes.end as usize,
        }),
        feedback: None,
        summary: None,
    }
}
