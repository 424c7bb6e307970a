//! Network health, as SQLite's `network` module.

use deadpool_postgres::GenericClient;

use super::{execute, query, query_opt, stations, webhooks};
use crate::model::TenantId;
use crate::network::*;
use crate::station_days::{is_resolved, utc_offset, zone_of};
use crate::StoreError;

pub(super) async fn history(
    c: &impl GenericClient,
    tenant: TenantId,
    from_day: i64,
    to_day: i64,
) -> Result<NetworkHistory, StoreError> {
    let rows = query(
        c,
        "SELECT st.external_id, d.day, SUM(d.sessions)::BIGINT, SUM(d.zero_sessions)::BIGINT,
                SUM(d.energy_kwh)::DOUBLE PRECISION
         FROM stations st JOIN station_days d ON d.station_id = st.id
         WHERE st.tenant_id = $1 AND d.day >= $2 AND d.day <= $3 AND d.sessions > 0
         GROUP BY st.external_id, d.day ORDER BY st.external_id, d.day",
        &[&tenant, &from_day, &to_day],
    )
    .await?;
    let days = rows
        .iter()
        .map(|r| {
            Ok(NetworkStationDay {
                station_external_id: r.try_get(0)?,
                day: r.try_get(1)?,
                sessions: r.try_get::<_, i64>(2)?.max(0) as u32,
                zero_sessions: r.try_get::<_, i64>(3)?.max(0) as u32,
                energy_kwh: r.try_get::<_, f64>(4)?.max(0.0),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let zones = query(
        c,
        &format!(
            "SELECT DISTINCT {} FROM stations st WHERE st.tenant_id = $1",
            stations::STATION_ZONE
        ),
        &[&tenant],
    )
    .await?;
    let now = chrono::Utc::now().timestamp_micros();
    // The westernmost station's; UTC for a tenant without stations.
    let mut min_offset: Option<i32> = None;
    for zone in &zones {
        let offset = utc_offset(now, zone_of(zone.try_get::<_, Option<&str>>(0)?));
        min_offset = Some(min_offset.map_or(offset, |m| m.min(offset)));
    }
    Ok(NetworkHistory {
        days,
        tenant_last_day: super::health::tenant_last_day(c, tenant).await?,
        min_utc_offset_seconds: min_offset.unwrap_or(0),
    })
}

/// A station's movements with the network on `from_day..=to_day`.
pub(super) async fn movements(
    c: &impl GenericClient,
    station_id: i64,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<(i64, f64)>, StoreError> {
    let rows = query(
        c,
        "SELECT day, factor FROM network_movements WHERE station_id = $1 AND day >= $2 AND day <= $3
         ORDER BY day",
        &[&station_id, &from_day, &to_day],
    )
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Stores a network run. The tenant row is locked first, so two processes
/// recording the tenant's network take turns and an event is new (and its
/// webhooks enqueued) for exactly one of them.
pub(super) async fn record(
    c: &impl GenericClient,
    tenant: TenantId,
    result: &NetworkResult,
    now: i64,
) -> Result<RecordedNetwork, StoreError> {
    execute(
        c,
        "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
        &[&tenant],
    )
    .await?;
    execute(
        c,
        "INSERT INTO network_health (tenant_id, judged_through, analyzed_at, is_drop, detection_details,
            min_utc_offset_seconds)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id) DO UPDATE SET judged_through = excluded.judged_through,
            analyzed_at = excluded.analyzed_at, is_drop = excluded.is_drop,
            detection_details = excluded.detection_details,
            min_utc_offset_seconds = excluded.min_utc_offset_seconds",
        &[
            &tenant,
            &result.judged_through,
            &result.analyzed_at,
            &result.is_drop,
            &serde_json::to_string(&result.detection_details)?,
            &result.min_utc_offset_seconds,
        ],
    )
    .await?;
    execute(
        c,
        "DELETE FROM network_movements WHERE tenant_id = $1 AND day >= $2 AND day <= $3",
        &[&tenant, &result.rejudged_from, &result.judged_through],
    )
    .await?;
    // One statement for every movement of the run.
    let names: Vec<&str> = result
        .movements
        .iter()
        .map(|m| m.station_external_id.as_str())
        .collect();
    let days: Vec<i64> = result.movements.iter().map(|m| m.day).collect();
    let factors: Vec<f64> = result.movements.iter().map(|m| m.factor).collect();
    execute(
        c,
        "INSERT INTO network_movements (station_id, day, tenant_id, factor)
         SELECT st.id, m.day, $1, m.factor
         FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::DOUBLE PRECISION[]) AS m(external_id, day, factor)
         JOIN stations st ON st.tenant_id = $1 AND st.external_id = m.external_id",
        &[&tenant, &names, &days, &factors],
    )
    .await?;

    // An event the run's days no longer show (it was judged on data still
    // arriving, the last day of an import in progress) is withdrawn.
    let stored = query(
        c,
        "SELECT first_day FROM network_events WHERE tenant_id = $1 AND first_day >= $2",
        &[&tenant, &result.rejudged_from],
    )
    .await?
    .iter()
    .map(|r| r.try_get(0))
    .collect::<Result<Vec<i64>, _>>()?;
    for first_day in withdrawn(stored, result) {
        execute(
            c,
            "DELETE FROM network_events WHERE tenant_id = $1 AND first_day = $2",
            &[&tenant, &first_day],
        )
        .await?;
    }

    let mut recorded = RecordedNetwork {
        new_events: 0,
        deliveries_enqueued: 0,
    };
    for event in &result.events {
        let details = serde_json::to_string(&event.detection_details)?;
        let stored = query_opt(
            c,
            "SELECT detection_details FROM network_events WHERE tenant_id = $1 AND first_day = $2",
            &[&tenant, &event.first_day],
        )
        .await?;
        let was_resolved = stored
            .map(|r| -> Result<bool, StoreError> { Ok(is_resolved(&serde_json::from_str(r.try_get(0)?)?)) })
            .transpose()?;
        execute(
            c,
            "INSERT INTO network_events (tenant_id, first_day, anomaly_score, detection_details, detected_at,
                updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, first_day) DO UPDATE SET anomaly_score = excluded.anomaly_score,
                detection_details = excluded.detection_details, updated_at = excluded.updated_at",
            &[
                &tenant,
                &event.first_day,
                &event.anomaly_score,
                &details,
                &result.analyzed_at,
                &now,
            ],
        )
        .await?;
        if was_resolved.is_none() {
            recorded.new_events += 1;
        }
        for name in events_to_send(was_resolved, &event.detection_details) {
            let payload = |webhook_id: &str| payload(name, event, webhook_id, result.analyzed_at);
            recorded.deliveries_enqueued +=
                webhooks::enqueue_to_all(c, tenant, None, name, payload, now).await?;
        }
    }
    Ok(recorded)
}

pub(super) async fn health(
    c: &impl GenericClient,
    tenant: TenantId,
) -> Result<Option<NetworkHealth>, StoreError> {
    let Some(verdict) = query_opt(
        c,
        "SELECT judged_through, analyzed_at, is_drop, detection_details, min_utc_offset_seconds
         FROM network_health WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    else {
        return Ok(None);
    };
    let rows = query(
        c,
        "SELECT anomaly_score, detection_details, detected_at FROM network_events WHERE tenant_id = $1
         ORDER BY first_day DESC",
        &[&tenant],
    )
    .await?;
    let events = rows
        .iter()
        .map(|r| {
            Ok(NetworkEventRow {
                anomaly_score: r.try_get(0)?,
                detection_details: serde_json::from_str(r.try_get(1)?)?,
                detected_at: r.try_get(2)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(NetworkHealth {
        judged_through: verdict.try_get(0)?,
        analyzed_at: verdict.try_get(1)?,
        is_drop: verdict.try_get(2)?,
        detection_details: serde_json::from_str(verdict.try_get(3)?)?,
        min_utc_offset_seconds: verdict.try_get(4)?,
        events,
    }))
}
