//! Network health: the tenant's station days, the network's verdicts and
//! events, and the stations' movements with it.

use rusqlite::{params, Connection, OptionalExtension};

use super::{health, stations, webhooks};
use crate::model::TenantId;
use crate::network::*;
use crate::station_days::{is_resolved, utc_offset, zone_of};
use crate::StoreError;

pub(super) fn history(
    conn: &Connection,
    tenant: TenantId,
    from_day: i64,
    to_day: i64,
) -> Result<NetworkHistory, StoreError> {
    let tenant_text = tenant.to_string();
    let mut stmt = conn.prepare_cached(
        "SELECT st.external_id, d.day, SUM(d.sessions), SUM(d.zero_sessions), SUM(d.energy_kwh)
         FROM stations st JOIN station_days d ON d.station_id = st.id
         WHERE st.tenant_id = ?1 AND d.day >= ?2 AND d.day <= ?3 AND d.sessions > 0
         GROUP BY st.external_id, d.day ORDER BY st.external_id, d.day",
    )?;
    let rows = stmt.query_map(params![tenant_text, from_day, to_day], |r| {
        Ok(NetworkStationDay {
            station_external_id: r.get(0)?,
            day: r.get(1)?,
            sessions: r.get::<_, i64>(2)?.max(0) as u32,
            zero_sessions: r.get::<_, i64>(3)?.max(0) as u32,
            energy_kwh: r.get::<_, f64>(4)?.max(0.0),
        })
    })?;
    let days = rows.collect::<Result<_, _>>()?;
    let mut zones = conn.prepare_cached(&format!(
        "SELECT DISTINCT {} FROM stations st WHERE st.tenant_id = ?1",
        stations::STATION_ZONE
    ))?;
    let now = chrono::Utc::now().timestamp_micros();
    let offsets = zones.query_map([&tenant_text], |r| r.get::<_, Option<String>>(0))?;
    // The westernmost station's; UTC for a tenant without stations.
    let mut min_offset: Option<i32> = None;
    for zone in offsets {
        let offset = utc_offset(now, zone_of(zone?.as_deref()));
        min_offset = Some(min_offset.map_or(offset, |m| m.min(offset)));
    }
    Ok(NetworkHistory {
        days,
        tenant_last_day: health::tenant_last_day(conn, tenant)?,
        min_utc_offset_seconds: min_offset.unwrap_or(0),
    })
}

/// A station's movements with the network on `from_day..=to_day`.
pub(super) fn movements(
    conn: &Connection,
    station_id: i64,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, factor FROM network_movements WHERE station_id = ?1 AND day >= ?2 AND day <= ?3
         ORDER BY day",
    )?;
    let rows = stmt.query_map(params![station_id, from_day, to_day], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn record(
    conn: &Connection,
    tenant: TenantId,
    result: &NetworkResult,
    now: i64,
) -> Result<RecordedNetwork, StoreError> {
    let tenant_text = tenant.to_string();
    conn.prepare_cached(
        "INSERT INTO network_health (tenant_id, judged_through, analyzed_at, is_drop, detection_details,
            min_utc_offset_seconds)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id) DO UPDATE SET judged_through = excluded.judged_through,
            analyzed_at = excluded.analyzed_at, is_drop = excluded.is_drop,
            detection_details = excluded.detection_details,
            min_utc_offset_seconds = excluded.min_utc_offset_seconds",
    )?
    .execute(params![
        tenant_text,
        result.judged_through,
        result.analyzed_at,
        result.is_drop,
        serde_json::to_string(&result.detection_details)?,
        result.min_utc_offset_seconds,
    ])?;

    conn.prepare_cached("DELETE FROM network_movements WHERE tenant_id = ?1 AND day >= ?2 AND day <= ?3")?
        .execute(params![tenant_text, result.rejudged_from, result.judged_through])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO network_movements (station_id, day, tenant_id, factor)
         SELECT st.id, ?3, ?1, ?4 FROM stations st WHERE st.tenant_id = ?1 AND st.external_id = ?2",
    )?;
    for m in &result.movements {
        insert.execute(params![tenant_text, m.station_external_id, m.day, m.factor])?;
    }

    // An event the run's days no longer show (it was judged on data still
    // arriving, the last day of an import in progress) is withdrawn.
    let stored: Vec<i64> = conn
        .prepare_cached("SELECT first_day FROM network_events WHERE tenant_id = ?1 AND first_day >= ?2")?
        .query_map(params![tenant_text, result.rejudged_from], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for first_day in withdrawn(stored, result) {
        conn.prepare_cached("DELETE FROM network_events WHERE tenant_id = ?1 AND first_day = ?2")?
            .execute(params![tenant_text, first_day])?;
    }

    let mut recorded = RecordedNetwork {
        new_events: 0,
        deliveries_enqueued: 0,
    };
    for event in &result.events {
        let details = serde_json::to_string(&event.detection_details)?;
        let stored: Option<String> = conn
            .prepare_cached(
                "SELECT detection_details FROM network_events WHERE tenant_id = ?1 AND first_day = ?2",
            )?
            .query_row(params![tenant_text, event.first_day], |r| r.get(0))
            .optional()?;
        let was_resolved = stored
            .map(|d| serde_json::from_str(&d).map(|d| is_resolved(&d)))
            .transpose()?;
        conn.prepare_cached(
            "INSERT INTO network_events (tenant_id, first_day, anomaly_score, detection_details, detected_at,
                updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, first_day) DO UPDATE SET anomaly_score = excluded.anomaly_score,
                detection_details = excluded.detection_details, updated_at = excluded.updated_at",
        )?
        .execute(params![
            tenant_text,
            event.first_day,
            event.anomaly_score,
            details,
            result.analyzed_at,
            now
        ])?;
        if was_resolved.is_none() {
            recorded.new_events += 1;
        }
        for name in events_to_send(was_resolved, &event.detection_details) {
            let payload = |webhook_id: &str| payload(name, event, webhook_id, result.analyzed_at);
            recorded.deliveries_enqueued += webhooks::enqueue_to_all(conn, tenant, None, name, payload, now)?;
        }
    }
    Ok(recorded)
}

pub(super) fn health(conn: &Connection, tenant: TenantId) -> Result<Option<NetworkHealth>, StoreError> {
    let tenant_text = tenant.to_string();
    let verdict: Option<(i64, i64, bool, String, i32)> = conn
        .prepare_cached(
            "SELECT judged_through, analyzed_at, is_drop, detection_details, min_utc_offset_seconds
             FROM network_health WHERE tenant_id = ?1",
        )?
        .query_row([&tenant_text], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((judged_through, analyzed_at, is_drop, details, min_utc_offset_seconds)) = verdict else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT anomaly_score, detection_details, detected_at FROM network_events WHERE tenant_id = ?1
         ORDER BY first_day DESC",
    )?;
    let rows = stmt.query_map([&tenant_text], |r| {
        Ok((r.get::<_, f64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (anomaly_score, details, detected_at) = row?;
        events.push(NetworkEventRow {
            anomaly_score,
            detection_details: serde_json::from_str(&details)?,
            detected_at,
        });
    }
    Ok(Some(NetworkHealth {
        judged_through,
        analyzed_at,
        is_drop,
        detection_details: serde_json::from_str(&details)?,
        min_utc_offset_seconds,
        events,
    }))
}
