//! Stations and the aggregates kept on write (the reference's
//! "materialised views"): per station, per connector, per category.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use evni_domain::AnomalyCategory;
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::codec;
use crate::model::*;
use crate::station_days::zone_of;
use crate::StoreError;

/// What one session adds to the aggregates of its station.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Contribution {
    pub station_id: i64,
    pub connector_id: Option<String>,
    pub anomalous: bool,
    pub categories: Vec<AnomalyCategory>,
    pub score: Option<f64>,
}

impl Contribution {
    /// Whether both add the same to the session counts (the score aside).
    fn counts_like(&self, other: &Contribution) -> bool {
        self.station_id == other.station_id
            && self.connector_id == other.connector_id
            && self.anomalous == other.anomalous
            && self.categories == other.categories
    }
}

/// The station's row id, creating the station on first sight.
/// A station's effective IANA time zone name: its metadata's, else its
/// tenant's setting (NULL: UTC). `st` is the station.
pub(super) const STATION_ZONE: &str = "COALESCE(json_extract(st.metadata, '$.time_zone'),
     (SELECT json_extract(t.settings, '$.time_zone') FROM tenants t WHERE t.id = st.tenant_id))";

/// The station's id and zone, created if needed.
pub(super) fn ensure(
    conn: &Connection,
    tenant: TenantId,
    external_id: &str,
    now: i64,
) -> Result<(i64, Tz), StoreError> {
    let tenant = tenant.to_string();
    let find = |conn: &Connection| -> Result<Option<(i64, Tz)>, StoreError> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT st.id, {STATION_ZONE} FROM stations st WHERE st.tenant_id = ?1 AND st.external_id = ?2"
            ))?
            .query_row(params![tenant, external_id], |r| {
                Ok((r.get(0)?, zone_of(r.get::<_, Option<String>>(1)?.as_deref())))
            })
            .optional()?)
    };
    if let Some(found) = find(conn)? {
        return Ok(found);
    }
    conn.prepare_cached(
        "INSERT INTO stations (uuid, tenant_id, external_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![Uuid::now_v7().to_string(), tenant, external_id, now])?;
    find(conn)?.ok_or_else(|| StoreError::not_found("station", external_id))
}

/// Moves the aggregates from `old` (none for a new session) to `new`.
pub(super) fn apply_change(
    conn: &Connection,
    old: Option<&Contribution>,
    new: &Contribution,
    analyzed_at: Option<i64>,
) -> Result<(), StoreError> {
    // Most appends change only the score: the counts stay, and the station
    // row is written only when its maximum moves.
    if !old.is_some_and(|old| old.counts_like(new)) {
        if let Some(old) = old {
            add(conn, old, -1)?;
        }
        add(conn, new, 1)?;
    }
    if new.anomalous {
        if let Some(at) = analyzed_at {
            conn.prepare_cached(
                "UPDATE stations SET last_anomaly_at = MAX(COALESCE(last_anomaly_at, ?2), ?2) WHERE id = ?1",
            )?
            .execute(params![new.station_id, at])?;
        }
    }
    if old.map(|o| (o.station_id, o.score)) != Some((new.station_id, new.score)) {
        update_max_score(conn, old, new)?;
    }
    Ok(())
}

/// A maximum cannot be kept by deltas when a score goes down: then, and only
/// if the old score was the maximum, it is recomputed, which the
/// (station_id, anomaly_score) index makes one seek.
fn update_max_score(
    conn: &Connection,
    old: Option<&Contribution>,
    new: &Contribution,
) -> Result<(), StoreError> {
    if let Some(score) = new.score {
        conn.prepare_cached(
            "UPDATE stations SET max_anomaly_score = ?2
             WHERE id = ?1 AND (max_anomaly_score IS NULL OR max_anomaly_score < ?2)",
        )?
        .execute(params![new.station_id, score])?;
    }
    let Some(old) = old else { return Ok(()) };
    let dropped =
        old.station_id != new.station_id || new.score.unwrap_or(f64::MIN) < old.score.unwrap_or(f64::MIN);
    if let (true, Some(old_score)) = (dropped, old.score) {
        conn.prepare_cached(
            "UPDATE stations SET max_anomaly_score = (SELECT MAX(anomaly_score) FROM sessions WHERE station_id = ?1)
             WHERE id = ?1 AND max_anomaly_score <= ?2",
        )?
        .execute(params![old.station_id, old_score])?;
    }
    Ok(())
}

fn add(conn: &Connection, c: &Contribution, sign: i64) -> Result<(), StoreError> {
    let anomalous = i64::from(c.anomalous) * sign;
    conn.prepare_cached(
        "UPDATE stations SET total_sessions = total_sessions + ?2, anomalous_sessions = anomalous_sessions + ?3
         WHERE id = ?1",
    )?
    .execute(params![c.station_id, sign, anomalous])?;
    let Some(connector) = &c.connector_id else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO connector_stats (station_id, connector_id, total_sessions, anomalous_sessions)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (station_id, connector_id) DO UPDATE SET
            total_sessions = total_sessions + excluded.total_sessions,
            anomalous_sessions = anomalous_sessions + excluded.anomalous_sessions",
    )?
    .execute(params![c.station_id, connector, sign, anomalous])?;
    let mut category_stmt = conn.prepare_cached(
        "INSERT INTO connector_category_stats (station_id, connector_id, category, sessions)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (station_id, connector_id, category) DO UPDATE SET sessions = sessions + excluded.sessions",
    )?;
    for category in &c.categories {
        category_stmt.execute(params![c.station_id, connector, category.as_str(), sign])?;
    }
    Ok(())
}

const STATION_COLUMNS: &str =
    "id, uuid, external_id, total_sessions, anomalous_sessions, max_anomaly_score, last_anomaly_at, metadata";

fn station_from_row(row: &rusqlite::Row<'_>) -> Result<(i64, StationRow), StoreError> {
    let uuid: String = row.get(1)?;
    Ok((
        row.get(0)?,
        StationRow {
            uuid: Uuid::parse_str(&uuid).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
            external_id: row.get(2)?,
            total_sessions: row.get::<_, i64>(3)?.max(0) as u64,
            anomalous_sessions: row.get::<_, i64>(4)?.max(0) as u64,
            max_anomaly_score: row.get(5)?,
            last_anomaly_at: row.get(6)?,
            metadata: codec::parse_json(row.get(7)?)?,
        },
    ))
}

/// A station by the client's id, or else by the internal UUID.
pub(super) fn find(conn: &Connection, tenant: TenantId, id: &str) -> Result<(i64, StationRow), StoreError> {
    let tenant = tenant.to_string();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {STATION_COLUMNS} FROM stations WHERE tenant_id = ?1 AND external_id = ?2
         UNION ALL
         SELECT {STATION_COLUMNS} FROM stations WHERE tenant_id = ?1 AND uuid = ?3
         LIMIT 1"
    ))?;
    let mut rows = stmt.query(params![tenant, id, id.to_ascii_lowercase()])?;
    match rows.next()? {
        Some(row) => station_from_row(row),
        None => Err(StoreError::not_found("station", id)),
    }
}

pub(super) fn list(
    conn: &Connection,
    tenant: TenantId,
    page: PageRequest,
) -> Result<Page<StationRow>, StoreError> {
    let tenant = tenant.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM stations WHERE tenant_id = ?1")?
        .query_row([&tenant], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {STATION_COLUMNS} FROM stations WHERE tenant_id = ?1
         ORDER BY anomalous_sessions DESC, external_id LIMIT ?2 OFFSET ?3"
    ))?;
    let mut rows = stmt.query(params![tenant, page.page_size, page.offset() as i64])?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        items.push(station_from_row(row)?.1);
    }
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

pub(super) fn connectors(conn: &Connection, station_id: i64) -> Result<Vec<ConnectorRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT connector_id, total_sessions, anomalous_sessions FROM connector_stats
         WHERE station_id = ?1 AND total_sessions > 0 ORDER BY connector_id",
    )?;
    let mut rows = stmt.query([station_id])?;
    let mut connectors = Vec::new();
    while let Some(row) = rows.next()? {
        connectors.push(ConnectorRow {
            connector_id: row.get(0)?,
            total_sessions: row.get::<_, i64>(1)?.max(0) as u64,
            anomalous_sessions: row.get::<_, i64>(2)?.max(0) as u64,
            categories: BTreeMap::new(),
        });
    }
    let mut stmt = conn.prepare_cached(
        "SELECT connector_id, category, sessions FROM connector_category_stats
         WHERE station_id = ?1 AND sessions > 0",
    )?;
    let mut rows = stmt.query([station_id])?;
    while let Some(row) = rows.next()? {
        let connector: String = row.get(0)?;
        if let Some(c) = connectors.iter_mut().find(|c| c.connector_id == connector) {
            c.categories.insert(row.get(1)?, row.get::<_, i64>(2)? as u64);
        }
    }
    Ok(connectors)
}

/// Creates the station if needed and merges `patch` into its metadata.
pub(super) fn patch_metadata(
    conn: &Connection,
    tenant: TenantId,
    id: &str,
    patch: &serde_json::Map<String, serde_json::Value>,
    now: i64,
) -> Result<StationRow, StoreError> {
    let (station_id, current) = match find(conn, tenant, id) {
        Ok(found) => found,
        Err(e) if e.is_not_found() => {
            let (station_id, _) = ensure(conn, tenant, id, now)?;
            let row = find(conn, tenant, id)?.1;
            (station_id, row)
        }
        Err(e) => return Err(e),
    };
    let mut metadata = match current.metadata {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    crate::station_metadata::merge_patch(&mut metadata, patch);
    conn.prepare_cached("UPDATE stations SET metadata = ?2 WHERE id = ?1")?
        .execute(params![station_id, serde_json::to_string(&metadata)?])?;
    if patch.contains_key("time_zone") {
        super::health::redate(conn, tenant, Some(station_id), now)?;
    }
    Ok(find(conn, tenant, id)?.1)
}

pub(super) fn metadata(
    conn: &Connection,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT metadata FROM stations WHERE tenant_id = ?1 AND external_id = ?2")?
        .query_row(params![tenant.to_string(), external_id], |r| r.get(0))
        .optional()?;
    codec::parse_json(text.flatten())
}

pub(super) fn statistics(conn: &Connection, tenant: TenantId) -> Result<Statistics, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(total_sessions), 0), COALESCE(SUM(anomalous_sessions), 0), COUNT(*),
                    COALESCE(SUM(anomalous_sessions > 0), 0)
             FROM stations WHERE tenant_id = ?1",
        )?
        .query_row([tenant.to_string()], |r| {
            Ok(Statistics {
                total_sessions: r.get::<_, i64>(0)?.max(0) as u64,
                anomalous_sessions: r.get::<_, i64>(1)?.max(0) as u64,
                total_stations: r.get::<_, i64>(2)?.max(0) as u64,
                stations_with_anomalies: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?)
}
