//! Station-day aggregates (kept in the session write's transaction), the
//! dirty marks that trigger SHADE, and SHADE's results.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{execute, query, query_one, query_opt, stations, webhooks};
use crate::health::*;
use crate::model::*;
use crate::station_days::{
    instants_of_days, is_resolved, local_starts, median, move_plateau, signature, utc_offset, zone_of,
    AnomalyEvent, DayContribution,
};
use crate::StoreError;

/// Moves the session's contribution to the station-day aggregates from
/// `old` to `new` (both kept on the session row, which the caller writes),
/// and marks the touched stations for SHADE. Runs in the session write's
/// transaction, with the session row locked.
pub(super) async fn record_session(
    c: &impl GenericClient,
    tenant: TenantId,
    old: Option<&DayContribution>,
    new: Option<&DayContribution>,
    now: i64,
) -> Result<(), StoreError> {
    if old == new {
        return Ok(());
    }
    match (old, new) {
        // A live session growing within its day: one update by the difference.
        (Some(old), Some(new)) if old.same_day_as(new) => shift(c, old, new).await?,
        _ => {
            if let Some(old) = old {
                add(c, old, -1).await?;
            }
            if let Some(new) = new {
                add(c, new, 1).await?;
            }
        }
    }
    for station in [old.map(|o| o.station_id), new.map(|n| n.station_id)]
        .into_iter()
        .flatten()
    {
        execute(
            c,
            "INSERT INTO station_health_dirty (station_id, tenant_id, changed_at) VALUES ($1, $2, $3)
             ON CONFLICT (station_id) DO UPDATE SET changed_at = excluded.changed_at
             WHERE station_health_dirty.changed_at < excluded.changed_at - $4",
            &[&station, &tenant, &now, &DIRTY_MARK_STEP],
        )
        .await?;
    }
    Ok(())
}

/// Moves a day's figures from `old` to `new`, both of the same station, day
/// and connector: the hot path of appends to a live session.
async fn shift(
    c: &impl GenericClient,
    old: &DayContribution,
    new: &DayContribution,
) -> Result<(), StoreError> {
    execute(
        c,
        "UPDATE station_days SET energy_kwh = energy_kwh + $4, zero_sessions = zero_sessions + $5,
            anomalous_sessions = anomalous_sessions + $6
         WHERE station_id = $1 AND day = $2 AND connector_id = $3",
        &[
            &new.station_id,
            &new.day,
            &new.connector_id,
            &(new.energy_kwh - old.energy_kwh),
            &(i64::from(new.is_zero) - i64::from(old.is_zero)),
            &(i64::from(new.anomalous) - i64::from(old.anomalous)),
        ],
    )
    .await?;
    if old.plateau_kw != new.plateau_kw {
        update_plateaus(c, new, old.plateau_kw, new.plateau_kw).await?;
    }
    Ok(())
}

async fn add(c: &impl GenericClient, d: &DayContribution, sign: i64) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO station_days (station_id, day, connector_id, sessions, energy_kwh, zero_sessions,
            anomalous_sessions)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (station_id, day, connector_id) DO UPDATE SET
            sessions = station_days.sessions + excluded.sessions,
            energy_kwh = station_days.energy_kwh + excluded.energy_kwh,
            zero_sessions = station_days.zero_sessions + excluded.zero_sessions,
            anomalous_sessions = station_days.anomalous_sessions + excluded.anomalous_sessions",
        &[
            &d.station_id,
            &d.day,
            &d.connector_id,
            &sign,
            &(d.energy_kwh * sign as f64),
            &(i64::from(d.is_zero) * sign),
            &(i64::from(d.anomalous) * sign),
        ],
    )
    .await?;
    match d.plateau_kw {
        Some(plateau) if sign > 0 => update_plateaus(c, d, None, Some(plateau)).await,
        Some(plateau) => update_plateaus(c, d, Some(plateau), None).await,
        None => Ok(()),
    }
}

/// Moves one plateau value of the day's sorted list (see [`move_plateau`]),
/// read and rewritten under the row's lock so concurrent sessions both count.
async fn update_plateaus(
    c: &impl GenericClient,
    d: &DayContribution,
    remove: Option<f64>,
    add: Option<f64>,
) -> Result<(), StoreError> {
    let text: String = query_one(
        c,
        "SELECT plateaus_kw FROM station_days WHERE station_id = $1 AND day = $2 AND connector_id = $3
         FOR NO KEY UPDATE",
        &[&d.station_id, &d.day, &d.connector_id],
    )
    .await?
    .try_get(0)?;
    let mut values: Vec<f64> = serde_json::from_str(&text)?;
    move_plateau(&mut values, remove, add);
    execute(
        c,
        "UPDATE station_days SET plateaus_kw = $4, median_plateau_kw = $5
         WHERE station_id = $1 AND day = $2 AND connector_id = $3",
        &[
            &d.station_id,
            &d.day,
            &d.connector_id,
            &serde_json::to_string(&values)?,
            &median(&values),
        ],
    )
    .await?;
    Ok(())
}

fn stations_from(rows: &[tokio_postgres::Row]) -> Result<Vec<HealthStation>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(HealthStation {
                tenant: row.try_get(0)?,
                external_id: row.try_get(1)?,
            })
        })
        .collect()
}

pub(super) async fn dirty_stations(
    c: &impl GenericClient,
    changed_before: i64,
) -> Result<Vec<HealthStation>, StoreError> {
    let rows = query(
        c,
        "SELECT st.tenant_id, st.external_id FROM station_health_dirty d JOIN stations st ON st.id = d.station_id
         WHERE d.changed_at <= $1 ORDER BY d.changed_at",
        &[&changed_before],
    )
    .await?;
    stations_from(&rows)
}

pub(super) async fn health_stations(c: &impl GenericClient) -> Result<Vec<HealthStation>, StoreError> {
    let rows = query(
        c,
        "SELECT st.tenant_id, st.external_id FROM stations st
         WHERE EXISTS (SELECT 1 FROM station_days d WHERE d.station_id = st.id)
         ORDER BY st.tenant_id, st.external_id",
        &[],
    )
    .await?;
    stations_from(&rows)
}

pub(super) async fn history(
    c: &impl GenericClient,
    tenant: TenantId,
    station: &str,
    from_day: i64,
    to_day: i64,
) -> Result<StationHistory, StoreError> {
    let (station_id, row) = stations::find(c, tenant, station).await?;
    let zone = query_one(
        c,
        &format!(
            "SELECT {} FROM stations st WHERE st.id = $1",
            stations::STATION_ZONE
        ),
        &[&station_id],
    )
    .await?;
    let zone = zone_of(zone.try_get::<_, Option<&str>>(0)?);
    let rows = query(
        c,
        "SELECT day, connector_id, sessions, energy_kwh, zero_sessions, anomalous_sessions, plateaus_kw,
                median_plateau_kw
         FROM station_days WHERE station_id = $1 AND day >= $2 AND day <= $3 AND sessions > 0
         ORDER BY day, connector_id",
        &[&station_id, &from_day, &to_day],
    )
    .await?;
    let days = rows
        .iter()
        .map(|r| {
            Ok(StationDay {
                day: r.try_get(0)?,
                connector_id: r.try_get(1)?,
                sessions: r.try_get::<_, i64>(2)?.max(0) as u32,
                energy_kwh: r.try_get::<_, f64>(3)?.max(0.0),
                zero_sessions: r.try_get::<_, i64>(4)?.max(0) as u32,
                anomalous_sessions: r.try_get::<_, i64>(5)?.max(0) as u32,
                plateaus_kw: serde_json::from_str(r.try_get(6)?)?,
                median_plateau_kw: r.try_get(7)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(StationHistory {
        station: HealthStation {
            tenant,
            external_id: row.external_id,
        },
        days,
        tenant_last_day: tenant_last_day(c, tenant).await?,
        zero_starts: local_starts(
            zero_starts(c, station_id, from_day, to_day).await?,
            zone,
            from_day,
            to_day,
        ),
        utc_offset_seconds: utc_offset(chrono::Utc::now().timestamp_micros(), zone),
        common_movement: super::network::movements(c, station_id, from_day, to_day).await?,
    })
}

/// The starts of the station's zero sessions on `from_day..=to_day`.
async fn zero_starts(
    c: &impl GenericClient,
    station_id: i64,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<i64>, StoreError> {
    // The predicate is the partial index's (migration 0006).
    let (from, to) = instants_of_days(from_day, to_day);
    let rows = query(
        c,
        "SELECT started_at FROM sessions
         WHERE station_id = $1 AND started_at >= $2 AND started_at < $3
           AND day_contribution LIKE '%\"is_zero\":true%'
         ORDER BY started_at",
        &[&station_id, &from, &to],
    )
    .await?;
    rows.iter().map(|r| Ok(r.try_get::<_, i64>(0)?)).collect()
}

pub(super) async fn tenant_last_day(
    c: &impl GenericClient,
    tenant: TenantId,
) -> Result<Option<i64>, StoreError> {
    Ok(query_one(
        c,
        // Each station's newest day from the end of its key, as in SQLite
        // (a scan of every station day there: 18 ms for 100,000, this 4).
        "SELECT MAX((SELECT d.day FROM station_days d WHERE d.station_id = st.id AND d.sessions > 0
                     ORDER BY d.day DESC LIMIT 1))
         FROM stations st WHERE st.tenant_id = $1",
        &[&tenant],
    )
    .await?
    .try_get(0)?)
}

/// Stores a SHADE run. The station row is locked first, so two processes
/// recording the same station take turns and an anomaly is new (and its
/// webhooks enqueued) for exactly one of them.
pub(super) async fn record(
    c: &impl GenericClient,
    tenant: TenantId,
    station: &str,
    result: &HealthResult,
    now: i64,
) -> Result<RecordedHealth, StoreError> {
    let (station_id, row) = stations::find(c, tenant, station).await?;
    execute(
        c,
        "SELECT 1 FROM stations WHERE id = $1 FOR NO KEY UPDATE",
        &[&station_id],
    )
    .await?;
    let signature = signature(result);
    let latest = query_opt(
        c,
        "SELECT id, inference_id, signature FROM station_inferences WHERE station_id = $1
         ORDER BY id DESC LIMIT 1",
        &[&station_id],
    )
    .await?;
    let inference_id = match latest {
        Some(r) if r.try_get::<_, &str>(2)? == signature => {
            execute(
                c,
                // The same verdict, over more days: the details say how far.
                "UPDATE station_inferences SET confirmed_at = $2, detection_details = $3 WHERE id = $1",
                &[
                    &r.try_get::<_, i64>(0)?,
                    &result.analyzed_at,
                    &serde_json::to_string(&result.detection_details)?,
                ],
            )
            .await?;
            r.try_get::<_, String>(1)?
        }
        _ => {
            let inference_id = format!("inf-{}", Uuid::now_v7().simple());
            let anomalies: Vec<serde_json::Value> = result
                .anomalies
                .iter()
                .map(|a| a.detection_details.clone())
                .collect();
            execute(
                c,
                "INSERT INTO station_inferences (inference_id, tenant_id, station_id, analyzed_at, confirmed_at,
                    is_anomaly, anomaly_score, detection_details, anomalies, signature)
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9)",
                &[
                    &inference_id,
                    &tenant,
                    &station_id,
                    &result.analyzed_at,
                    &result.is_anomaly,
                    &result.anomaly_score,
                    &serde_json::to_string(&result.detection_details)?,
                    &serde_json::to_string(&anomalies)?,
                    &signature,
                ],
            )
            .await?;
            inference_id
        }
    };

    let mut new_anomalies = 0;
    let mut deliveries_enqueued = 0;
    for anomaly in &result.anomalies {
        let connector = anomaly.connector_id.as_deref().unwrap_or("");
        let details = serde_json::to_string(&anomaly.detection_details)?;
        let existing = query_opt(
            c,
            "SELECT id, detection_details FROM station_anomalies
             WHERE station_id = $1 AND anomaly_type = $2 AND connector_id = $3 AND affected_period = $4",
            &[
                &station_id,
                &anomaly.anomaly_type,
                &connector,
                &anomaly.affected_period,
            ],
        )
        .await?;
        let resolved = is_resolved(&anomaly.detection_details);
        match existing {
            Some(found) => {
                // Late data may refine the figures; the event was sent once.
                let id: i64 = found.try_get(0)?;
                execute(
                    c,
                    "UPDATE station_anomalies SET anomaly_score = $2, detection_details = $3, updated_at = $4
                     WHERE id = $1",
                    &[&id, &anomaly.anomaly_score, &details, &now],
                )
                .await?;
                let was_resolved = is_resolved(&serde_json::from_str(found.try_get(1)?)?);
                if resolved && !was_resolved {
                    deliveries_enqueued += webhooks::enqueue_anomaly(
                        c,
                        tenant,
                        &AnomalyEvent {
                            anomaly_id: id,
                            station_external_id: &row.external_id,
                            anomaly,
                            event: crate::station_days::STATION_RESOLVED_EVENT,
                        },
                        result.analyzed_at,
                        now,
                    )
                    .await?;
                }
            }
            None => {
                let anomaly_id: i64 = query_one(
                    c,
                    "INSERT INTO station_anomalies (tenant_id, station_id, anomaly_type, connector_id,
                        affected_period, inference_id, anomaly_score, detection_details, detected_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                    &[
                        &tenant,
                        &station_id,
                        &anomaly.anomaly_type,
                        &connector,
                        &anomaly.affected_period,
                        &inference_id,
                        &anomaly.anomaly_score,
                        &details,
                        &result.analyzed_at,
                    ],
                )
                .await?
                .try_get(0)?;
                new_anomalies += 1;
                deliveries_enqueued += webhooks::enqueue_anomaly(
                    c,
                    tenant,
                    &AnomalyEvent {
                        anomaly_id,
                        station_external_id: &row.external_id,
                        anomaly,
                        event: crate::station_days::STATION_ANOMALY_EVENT,
                    },
                    result.analyzed_at,
                    now,
                )
                .await?;
                // An episode found over past days may be over already.
                if resolved {
                    deliveries_enqueued += webhooks::enqueue_anomaly(
                        c,
                        tenant,
                        &AnomalyEvent {
                            anomaly_id,
                            station_external_id: &row.external_id,
                            anomaly,
                            event: crate::station_days::STATION_RESOLVED_EVENT,
                        },
                        result.analyzed_at,
                        now,
                    )
                    .await?;
                }
            }
        }
    }
    execute(
        c,
        "DELETE FROM station_health_dirty WHERE station_id = $1 AND changed_at <= $2",
        &[&station_id, &(result.data_read_at - DIRTY_MARK_CLEAR_MARGIN)],
    )
    .await?;
    Ok(RecordedHealth {
        inference_id,
        new_anomalies,
        deliveries_enqueued,
    })
}

pub(super) async fn latest(
    c: &impl GenericClient,
    tenant: TenantId,
    station: &str,
) -> Result<Option<StationInference>, StoreError> {
    let (station_id, row) = stations::find(c, tenant, station).await?;
    let found = query_opt(
        c,
        "SELECT inference_id, is_anomaly, anomaly_score, detection_details, confirmed_at
         FROM station_inferences WHERE station_id = $1 ORDER BY id DESC LIMIT 1",
        &[&station_id],
    )
    .await?;
    found
        .map(|r| {
            Ok(StationInference {
                inference_id: r.try_get(0)?,
                station_external_id: row.external_id.clone(),
                is_anomaly: r.try_get(1)?,
                anomaly_score: r.try_get(2)?,
                detection_details: serde_json::from_str(r.try_get(3)?)?,
                analyzed_at: r.try_get(4)?,
            })
        })
        .transpose()
}

pub(super) async fn anomalies(
    c: &impl GenericClient,
    tenant: TenantId,
    station: &str,
    page: PageRequest,
) -> Result<Page<StationAnomalyRow>, StoreError> {
    let (station_id, _) = stations::find(c, tenant, station).await?;
    let total: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM station_anomalies WHERE station_id = $1",
        &[&station_id],
    )
    .await?
    .try_get(0)?;
    let rows = query(
        c,
        "SELECT inference_id, anomaly_score, detection_details, detected_at FROM station_anomalies
         WHERE station_id = $1 ORDER BY detected_at DESC, affected_period DESC, id DESC LIMIT $2 OFFSET $3",
        &[&station_id, &i64::from(page.page_size), &(page.offset() as i64)],
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(StationAnomalyRow {
                inference_id: r.try_get(0)?,
                anomaly_score: r.try_get(1)?,
                detection_details: serde_json::from_str(r.try_get(2)?)?,
                detected_at: r.try_get(3)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

/// Moves the day contributions of the tenant's sessions (of one station, or
/// of all) to their days in their station's zone as it is now: after a
/// station's or the tenant's `time_zone` changed. Runs in the change's
/// transaction.
pub(super) async fn redate(
    c: &impl GenericClient,
    tenant: TenantId,
    station_id: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let rows = query(
        c,
        &format!(
            "SELECT s.id, s.day_contribution, s.started_at, {}
             FROM sessions s JOIN stations st ON st.id = s.station_id
             WHERE st.tenant_id = $1 AND ($2::BIGINT IS NULL OR st.id = $2) AND s.day_contribution IS NOT NULL
             FOR NO KEY UPDATE OF s",
            stations::STATION_ZONE
        ),
        &[&tenant, &station_id],
    )
    .await?;
    for row in rows {
        let (id, text, started_at): (i64, &str, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let Some((old, new)) = DayContribution::redated(text, started_at, row.try_get(3)?)? else {
            continue;
        };
        record_session(c, tenant, Some(&old), Some(&new), now).await?;
        execute(
            c,
            "UPDATE sessions SET day_contribution = $2 WHERE id = $1",
            &[&id, &DayContribution::text(Some(&new))?],
        )
        .await?;
    }
    Ok(())
}
