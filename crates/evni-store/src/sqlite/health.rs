//! Station-day aggregates (kept in the session write's transaction), the
//! dirty marks that trigger SHADE, and SHADE's results.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::{stations, webhooks};
use crate::health::*;
use crate::model::*;
use crate::station_days::{
    instants_of_days, is_resolved, local_starts, median, move_plateau, signature, utc_offset, zone_of,
    AnomalyEvent, DayContribution,
};
use crate::StoreError;

/// Moves the session's contribution to the station-day aggregates from
/// `old` to `new` (both kept on the session row, which the caller writes),
/// and marks the touched stations for SHADE. Runs inside the session write.
pub(super) fn record_session(
    conn: &Connection,
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
        (Some(old), Some(new)) if old.same_day_as(new) => shift(conn, old, new)?,
        _ => {
            if let Some(old) = old {
                add(conn, old, -1)?;
            }
            if let Some(new) = new {
                add(conn, new, 1)?;
            }
        }
    }
    let mut mark = conn.prepare_cached(
        "INSERT INTO station_health_dirty (station_id, tenant_id, changed_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (station_id) DO UPDATE SET changed_at = excluded.changed_at
         WHERE station_health_dirty.changed_at < excluded.changed_at - ?4",
    )?;
    for station in [old.map(|o| o.station_id), new.map(|n| n.station_id)]
        .into_iter()
        .flatten()
    {
        mark.execute(params![station, tenant.to_string(), now, DIRTY_MARK_STEP])?;
    }
    Ok(())
}

/// Moves a day's figures from `old` to `new`, both of the same station, day
/// and connector: the hot path of appends to a live session.
fn shift(conn: &Connection, old: &DayContribution, new: &DayContribution) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE station_days SET energy_kwh = energy_kwh + ?4, zero_sessions = zero_sessions + ?5,
            anomalous_sessions = anomalous_sessions + ?6
         WHERE station_id = ?1 AND day = ?2 AND connector_id = ?3",
    )?
    .execute(params![
        new.station_id,
        new.day,
        new.connector_id,
        new.energy_kwh - old.energy_kwh,
        i64::from(new.is_zero) - i64::from(old.is_zero),
        i64::from(new.anomalous) - i64::from(old.anomalous),
    ])?;
    if old.plateau_kw != new.plateau_kw {
        update_plateaus(conn, new, old.plateau_kw, new.plateau_kw)?;
    }
    Ok(())
}

fn add(conn: &Connection, c: &DayContribution, sign: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO station_days (station_id, day, connector_id, sessions, energy_kwh, zero_sessions,
            anomalous_sessions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (station_id, day, connector_id) DO UPDATE SET
            sessions = sessions + excluded.sessions,
            energy_kwh = energy_kwh + excluded.energy_kwh,
            zero_sessions = zero_sessions + excluded.zero_sessions,
            anomalous_sessions = anomalous_sessions + excluded.anomalous_sessions",
    )?
    .execute(params![
        c.station_id,
        c.day,
        c.connector_id,
        sign,
        c.energy_kwh * sign as f64,
        i64::from(c.is_zero) * sign,
        i64::from(c.anomalous) * sign,
    ])?;
    match c.plateau_kw {
        Some(plateau) if sign > 0 => update_plateaus(conn, c, None, Some(plateau)),
        Some(plateau) => update_plateaus(conn, c, Some(plateau), None),
        None => Ok(()),
    }
}

/// Moves one plateau value of the day's sorted list (see [`move_plateau`]).
fn update_plateaus(
    conn: &Connection,
    c: &DayContribution,
    remove: Option<f64>,
    add: Option<f64>,
) -> Result<(), StoreError> {
    let text: String = conn
        .prepare_cached(
            "SELECT plateaus_kw FROM station_days WHERE station_id = ?1 AND day = ?2 AND connector_id = ?3",
        )?
        .query_row(params![c.station_id, c.day, c.connector_id], |r| r.get(0))?;
    let mut values: Vec<f64> = serde_json::from_str(&text)?;
    move_plateau(&mut values, remove, add);
    conn.prepare_cached(
        "UPDATE station_days SET plateaus_kw = ?4, median_plateau_kw = ?5
         WHERE station_id = ?1 AND day = ?2 AND connector_id = ?3",
    )?
    .execute(params![
        c.station_id,
        c.day,
        c.connector_id,
        serde_json::to_string(&values)?,
        median(&values)
    ])?;
    Ok(())
}

fn stations_from(conn: &Connection, sql: &str, arg: Option<i64>) -> Result<Vec<HealthStation>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = match arg {
        Some(a) => stmt.query([a])?,
        None => stmt.query([])?,
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let tenant: String = row.get(0)?;
        out.push(HealthStation {
            tenant: Uuid::parse_str(&tenant).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
            external_id: row.get(1)?,
        });
    }
    Ok(out)
}

pub(super) fn dirty_stations(
    conn: &Connection,
    changed_before: i64,
) -> Result<Vec<HealthStation>, StoreError> {
    stations_from(
        conn,
        "SELECT st.tenant_id, st.external_id FROM station_health_dirty d JOIN stations st ON st.id = d.station_id
         WHERE d.changed_at <= ?1 ORDER BY d.changed_at",
        Some(changed_before),
    )
}

pub(super) fn health_stations(conn: &Connection) -> Result<Vec<HealthStation>, StoreError> {
    stations_from(
        conn,
        "SELECT st.tenant_id, st.external_id FROM stations st
         WHERE EXISTS (SELECT 1 FROM station_days d WHERE d.station_id = st.id)
         ORDER BY st.tenant_id, st.external_id",
        None,
    )
}

pub(super) fn history(
    conn: &Connection,
    tenant: TenantId,
    station: &str,
    from_day: i64,
    to_day: i64,
) -> Result<StationHistory, StoreError> {
    let (station_id, row) = stations::find(conn, tenant, station)?;
    let zone: Option<String> = conn
        .prepare_cached(&format!(
            "SELECT {} FROM stations st WHERE st.id = ?1",
            stations::STATION_ZONE
        ))?
        .query_row([station_id], |r| r.get(0))?;
    let zone = zone_of(zone.as_deref());
    let mut stmt = conn.prepare_cached(
        "SELECT day, connector_id, sessions, energy_kwh, zero_sessions, anomalous_sessions, plateaus_kw,
                median_plateau_kw
         FROM station_days WHERE station_id = ?1 AND day >= ?2 AND day <= ?3 AND sessions > 0
         ORDER BY day, connector_id",
    )?;
    let mut rows = stmt.query(params![station_id, from_day, to_day])?;
    let mut days = Vec::new();
    while let Some(r) = rows.next()? {
        let plateaus: String = r.get(6)?;
        days.push(StationDay {
            day: r.get(0)?,
            connector_id: r.get(1)?,
            sessions: r.get::<_, i64>(2)?.max(0) as u32,
            energy_kwh: r.get::<_, f64>(3)?.max(0.0),
            zero_sessions: r.get::<_, i64>(4)?.max(0) as u32,
            anomalous_sessions: r.get::<_, i64>(5)?.max(0) as u32,
            plateaus_kw: serde_json::from_str(&plateaus)?,
            median_plateau_kw: r.get(7)?,
        });
    }
    Ok(StationHistory {
        station: HealthStation {
            tenant,
            external_id: row.external_id,
        },
        days,
        tenant_last_day: tenant_last_day(conn, tenant)?,
        zero_starts: local_starts(
            zero_starts(conn, station_id, from_day, to_day)?,
            zone,
            from_day,
            to_day,
        ),
        utc_offset_seconds: utc_offset(chrono::Utc::now().timestamp_micros(), zone),
        common_movement: super::network::movements(conn, station_id, from_day, to_day)?,
    })
}

/// The starts of the station's zero sessions on `from_day..=to_day`.
fn zero_starts(
    conn: &Connection,
    station_id: i64,
    from_day: i64,
    to_day: i64,
) -> Result<Vec<i64>, StoreError> {
    // The predicate is the partial index's (migration 0009).
    let mut stmt = conn.prepare_cached(
        "SELECT started_at FROM sessions
         WHERE station_id = ?1 AND started_at >= ?2 AND started_at < ?3
           AND day_contribution LIKE '%\"is_zero\":true%'
         ORDER BY started_at",
    )?;
    let (from, to) = instants_of_days(from_day, to_day);
    let rows = stmt.query_map(params![station_id, from, to], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn tenant_last_day(conn: &Connection, tenant: TenantId) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            // Each station's newest day from the end of its key: a scan of
            // every station day took 18 ms for 100,000, this 4.
            "SELECT MAX((SELECT d.day FROM station_days d WHERE d.station_id = st.id AND d.sessions > 0
                         ORDER BY d.day DESC LIMIT 1))
             FROM stations st WHERE st.tenant_id = ?1",
        )?
        .query_row([tenant.to_string()], |r| r.get(0))?)
}

pub(super) fn record(
    conn: &Connection,
    tenant: TenantId,
    station: &str,
    result: &HealthResult,
    now: i64,
) -> Result<RecordedHealth, StoreError> {
    let (station_id, row) = stations::find(conn, tenant, station)?;
    let signature = signature(result);
    let latest: Option<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT id, inference_id, signature FROM station_inferences WHERE station_id = ?1
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([station_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let inference_id = match latest {
        Some((id, inference_id, previous)) if previous == signature => {
            // The same verdict, over more days: the details say how far.
            conn.prepare_cached(
                "UPDATE station_inferences SET confirmed_at = ?2, detection_details = ?3 WHERE id = ?1",
            )?
            .execute(params![
                id,
                result.analyzed_at,
                serde_json::to_string(&result.detection_details)?
            ])?;
            inference_id
        }
        _ => {
            let inference_id = format!("inf-{}", Uuid::now_v7().simple());
            let anomalies: Vec<serde_json::Value> = result
                .anomalies
                .iter()
                .map(|a| a.detection_details.clone())
                .collect();
            conn.prepare_cached(
                "INSERT INTO station_inferences (inference_id, tenant_id, station_id, analyzed_at, confirmed_at,
                    is_anomaly, anomaly_score, detection_details, anomalies, signature)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                inference_id,
                tenant.to_string(),
                station_id,
                result.analyzed_at,
                result.is_anomaly,
                result.anomaly_score,
                serde_json::to_string(&result.detection_details)?,
                serde_json::to_string(&anomalies)?,
                signature,
            ])?;
            inference_id
        }
    };

    let mut new_anomalies = 0;
    let mut deliveries_enqueued = 0;
    for anomaly in &result.anomalies {
        let connector = anomaly.connector_id.as_deref().unwrap_or("");
        let details = serde_json::to_string(&anomaly.detection_details)?;
        let existing: Option<(i64, String)> = conn
            .prepare_cached(
                "SELECT id, detection_details FROM station_anomalies
                 WHERE station_id = ?1 AND anomaly_type = ?2 AND connector_id = ?3 AND affected_period = ?4",
            )?
            .query_row(
                params![
                    station_id,
                    anomaly.anomaly_type,
                    connector,
                    anomaly.affected_period
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let resolved = is_resolved(&anomaly.detection_details);
        match existing {
            Some((id, before)) => {
                // Late data may refine the figures; the event was sent once.
                conn.prepare_cached(
                    "UPDATE station_anomalies SET anomaly_score = ?2, detection_details = ?3, updated_at = ?4
                     WHERE id = ?1",
                )?
                .execute(params![id, anomaly.anomaly_score, details, now])?;
                let was_resolved = is_resolved(&serde_json::from_str(&before)?);
                if resolved && !was_resolved {
                    deliveries_enqueued += webhooks::enqueue_anomaly(
                        conn,
                        tenant,
                        &AnomalyEvent {
                            anomaly_id: id,
                            station_external_id: &row.external_id,
                            anomaly,
                            event: crate::station_days::STATION_RESOLVED_EVENT,
                        },
                        result.analyzed_at,
                        now,
                    )?;
                }
            }
            None => {
                conn.prepare_cached(
                    "INSERT INTO station_anomalies (tenant_id, station_id, anomaly_type, connector_id,
                        affected_period, inference_id, anomaly_score, detection_details, detected_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                )?
                .execute(params![
                    tenant.to_string(),
                    station_id,
                    anomaly.anomaly_type,
                    connector,
                    anomaly.affected_period,
                    inference_id,
                    anomaly.anomaly_score,
                    details,
                    result.analyzed_at,
                ])?;
                let anomaly_id = conn.last_insert_rowid();
                new_anomalies += 1;
                deliveries_enqueued += webhooks::enqueue_anomaly(
                    conn,
                    tenant,
                    &AnomalyEvent {
                        anomaly_id,
                        station_external_id: &row.external_id,
                        anomaly,
                        event: crate::station_days::STATION_ANOMALY_EVENT,
                    },
                    result.analyzed_at,
                    now,
                )?;
                // An episode found over past days may be over already.
                if resolved {
                    deliveries_enqueued += webhooks::enqueue_anomaly(
                        conn,
                        tenant,
                        &AnomalyEvent {
                            anomaly_id,
                            station_external_id: &row.external_id,
                            anomaly,
                            event: crate::station_days::STATION_RESOLVED_EVENT,
                        },
                        result.analyzed_at,
                        now,
                    )?;
                }
            }
        }
    }
    conn.prepare_cached("DELETE FROM station_health_dirty WHERE station_id = ?1 AND changed_at <= ?2")?
        .execute(params![station_id, result.data_read_at - DIRTY_MARK_CLEAR_MARGIN])?;
    Ok(RecordedHealth {
        inference_id,
        new_anomalies,
        deliveries_enqueued,
    })
}

pub(super) fn latest(
    conn: &Connection,
    tenant: TenantId,
    station: &str,
) -> Result<Option<StationInference>, StoreError> {
    let (station_id, row) = stations::find(conn, tenant, station)?;
    let found: Option<(String, bool, f64, String, i64)> = conn
        .prepare_cached(
            "SELECT inference_id, is_anomaly, anomaly_score, detection_details, confirmed_at
             FROM station_inferences WHERE station_id = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([station_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    found
        .map(
            |(inference_id, is_anomaly, anomaly_score, details, analyzed_at)| {
                Ok(StationInference {
                    inference_id,
                    station_external_id: row.external_id.clone(),
                    is_anomaly,
                    anomaly_score,
                    detection_details: serde_json::from_str(&details)?,
                    analyzed_at,
                })
            },
        )
        .transpose()
}

pub(super) fn anomalies(
    conn: &Connection,
    tenant: TenantId,
    station: &str,
    page: PageRequest,
) -> Result<Page<StationAnomalyRow>, StoreError> {
    let (station_id, _) = stations::find(conn, tenant, station)?;
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM station_anomalies WHERE station_id = ?1")?
        .query_row([station_id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT inference_id, anomaly_score, detection_details, detected_at FROM station_anomalies
         WHERE station_id = ?1 ORDER BY detected_at DESC, affected_period DESC, id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(params![station_id, page.page_size, page.offset() as i64])?;
    let mut items = Vec::new();
    while let Some(r) = rows.next()? {
        let details: String = r.get(2)?;
        items.push(StationAnomalyRow {
            inference_id: r.get(0)?,
            anomaly_score: r.get(1)?,
            detection_details: serde_json::from_str(&details)?,
            detected_at: r.get(3)?,
        });
    }
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
pub(super) fn redate(
    conn: &Connection,
    tenant: TenantId,
    station_id: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, i64, Option<String>)> = conn
        .prepare_cached(&format!(
            "SELECT s.id, s.day_contribution, s.started_at, {}
             FROM sessions s JOIN stations st ON st.id = s.station_id
             WHERE st.tenant_id = ?1 AND (?2 IS NULL OR st.id = ?2) AND s.day_contribution IS NOT NULL",
            stations::STATION_ZONE
        ))?
        .query_map(params![tenant.to_string(), station_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, text, started_at, zone) in rows {
        let Some((old, new)) = DayContribution::redated(&text, started_at, zone.as_deref())? else {
            continue;
        };
        record_session(conn, tenant, Some(&old), Some(&new), now)?;
        conn.prepare_cached("UPDATE sessions SET day_contribution = ?2 WHERE id = ?1")?
            .execute(params![id, DayContribution::text(Some(&new))?])?;
    }
    Ok(())
}
