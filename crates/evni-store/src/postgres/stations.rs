//! Stations and the aggregates kept on write: per station, per connector,
//! per category. Increments are row updates inside the session write's
//! transaction, so concurrent writers never lose one.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use deadpool_postgres::GenericClient;
use evni_domain::AnomalyCategory;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{codec, execute, query, query_one, query_opt};
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

/// The station's row id, creating the station on first sight.
/// A station's effective IANA time zone name: its metadata's, else its
/// tenant's setting (NULL: UTC). `st` is the station.
pub(super) const STATION_ZONE: &str = "COALESCE(st.metadata::jsonb ->> 'time_zone',
     (SELECT t.settings::jsonb ->> 'time_zone' FROM tenants t WHERE t.id = st.tenant_id))";

/// The station's id and zone, created if needed.
pub(super) async fn ensure(
    c: &impl GenericClient,
    tenant: TenantId,
    external_id: &str,
    now: i64,
) -> Result<(i64, Tz), StoreError> {
    let find = format!(
        "SELECT st.id, {STATION_ZONE} FROM stations st WHERE st.tenant_id = $1 AND st.external_id = $2"
    );
    let found = |row: Row| -> Result<(i64, Tz), StoreError> {
        Ok((row.try_get(0)?, zone_of(row.try_get::<_, Option<&str>>(1)?)))
    };
    if let Some(row) = query_opt(c, &find, &[&tenant, &external_id]).await? {
        return found(row);
    }
    // A concurrent first sight inserts the same key: wait for it, then find it.
    execute(
        c,
        "INSERT INTO stations (uuid, tenant_id, external_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, external_id) DO NOTHING",
        &[&Uuid::now_v7(), &tenant, &external_id, &now],
    )
    .await?;
    found(query_one(c, &find, &[&tenant, &external_id]).await?)
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

/// Moves the aggregates from `old` (none for a new session) to `new`. Every
/// change is a row-level increment or a conditional update, which
/// PostgreSQL re-checks against the latest row under its lock: concurrent
/// writers of one station never lose each other's changes.
pub(super) async fn apply_change(
    c: &impl GenericClient,
    old: Option<&Contribution>,
    new: &Contribution,
    analyzed_at: Option<i64>,
) -> Result<(), StoreError> {
    // Most appends change only the score: the counts stay, and the station
    // row is written only when its maximum moves.
    if !old.is_some_and(|old| old.counts_like(new)) {
        if let Some(old) = old {
            add(c, old, -1).await?;
        }
        add(c, new, 1).await?;
    }
    if let (true, Some(at)) = (new.anomalous, analyzed_at) {
        execute(
            c,
            "UPDATE stations SET last_anomaly_at = GREATEST(COALESCE(last_anomaly_at, $2), $2) WHERE id = $1",
            &[&new.station_id, &at],
        )
        .await?;
    }
    if old.map(|o| (o.station_id, o.score)) != Some((new.station_id, new.score)) {
        update_max_score(c, old, new).await?;
    }
    Ok(())
}

/// A maximum cannot be kept by deltas when a score goes down: then, and only
/// if the old score was the maximum, it is recomputed, which the
/// (station_id, anomaly_score) index makes one seek.
async fn update_max_score(
    c: &impl GenericClient,
    old: Option<&Contribution>,
    new: &Contribution,
) -> Result<(), StoreError> {
    if let Some(score) = new.score {
        execute(
            c,
            "UPDATE stations SET max_anomaly_score = $2
             WHERE id = $1 AND (max_anomaly_score IS NULL OR max_anomaly_score < $2)",
            &[&new.station_id, &score],
        )
        .await?;
    }
    let Some(old) = old else { return Ok(()) };
    let dropped =
        old.station_id != new.station_id || new.score.unwrap_or(f64::MIN) < old.score.unwrap_or(f64::MIN);
    if let (true, Some(old_score)) = (dropped, old.score) {
        // Locked first, so the recomputing statement reads a snapshot taken
        // after every earlier writer of the station committed (a subquery in
        // the UPDATE itself would use the snapshot from before the wait).
        // NO KEY UPDATE does not conflict with the key-share locks of
        // concurrent session inserts that reference the station.
        execute(
            c,
            "SELECT 1 FROM stations WHERE id = $1 FOR NO KEY UPDATE",
            &[&old.station_id],
        )
        .await?;
        execute(
            c,
            "UPDATE stations SET max_anomaly_score =
                (SELECT MAX(anomaly_score) FROM sessions WHERE station_id = $1)
             WHERE id = $1 AND max_anomaly_score <= $2",
            &[&old.station_id, &old_score],
        )
        .await?;
    }
    Ok(())
}

async fn add(c: &impl GenericClient, contribution: &Contribution, sign: i64) -> Result<(), StoreError> {
    let anomalous = i64::from(contribution.anomalous) * sign;
    execute(
        c,
        "UPDATE stations SET total_sessions = total_sessions + $2, anomalous_sessions = anomalous_sessions + $3
         WHERE id = $1",
        &[&contribution.station_id, &sign, &anomalous],
    )
    .await?;
    let Some(connector) = &contribution.connector_id else {
        return Ok(());
    };
    execute(
        c,
        "INSERT INTO connector_stats (station_id, connector_id, total_sessions, anomalous_sessions)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (station_id, connector_id) DO UPDATE SET
            total_sessions = connector_stats.total_sessions + excluded.total_sessions,
            anomalous_sessions = connector_stats.anomalous_sessions + excluded.anomalous_sessions",
        &[&contribution.station_id, connector, &sign, &anomalous],
    )
    .await?;
    for category in &contribution.categories {
        execute(
            c,
            "INSERT INTO connector_category_stats (station_id, connector_id, category, sessions)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (station_id, connector_id, category) DO UPDATE SET
                sessions = connector_category_stats.sessions + excluded.sessions",
            &[&contribution.station_id, connector, &category.as_str(), &sign],
        )
        .await?;
    }
    Ok(())
}

const STATION_COLUMNS: &str =
    "id, uuid, external_id, total_sessions, anomalous_sessions, max_anomaly_score, last_anomaly_at, metadata";

fn station_from_row(row: &Row) -> Result<(i64, StationRow), StoreError> {
    Ok((
        row.try_get(0)?,
        StationRow {
            uuid: row.try_get(1)?,
            external_id: row.try_get(2)?,
            total_sessions: row.try_get::<_, i64>(3)?.max(0) as u64,
            anomalous_sessions: row.try_get::<_, i64>(4)?.max(0) as u64,
            max_anomaly_score: row.try_get(5)?,
            last_anomaly_at: row.try_get(6)?,
            metadata: codec::parse_json(row.try_get(7)?)?,
        },
    ))
}

/// A station by the client's id, or else by the internal UUID.
pub(super) async fn find(
    c: &impl GenericClient,
    tenant: TenantId,
    id: &str,
) -> Result<(i64, StationRow), StoreError> {
    let sql = format!(
        "SELECT {STATION_COLUMNS} FROM stations
         WHERE tenant_id = $1 AND (external_id = $2 OR uuid = $3)
         ORDER BY external_id = $2 DESC LIMIT 1"
    );
    match query_opt(c, &sql, &[&tenant, &id, &codec::uuid_key(id)]).await? {
        Some(row) => station_from_row(&row),
        None => Err(StoreError::not_found("station", id)),
    }
}

pub(super) async fn list(
    c: &impl GenericClient,
    tenant: TenantId,
    page: PageRequest,
) -> Result<Page<StationRow>, StoreError> {
    let total: i64 = query_one(
        c,
        "SELECT COUNT(*) FROM stations WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    .try_get(0)?;
    let sql = format!(
        "SELECT {STATION_COLUMNS} FROM stations WHERE tenant_id = $1
         ORDER BY anomalous_sessions DESC, external_id LIMIT $2 OFFSET $3"
    );
    let rows = query(
        c,
        &sql,
        &[&tenant, &i64::from(page.page_size), &(page.offset() as i64)],
    )
    .await?;
    let items = rows
        .iter()
        .map(|row| Ok(station_from_row(row)?.1))
        .collect::<Result<_, StoreError>>()?;
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

pub(super) async fn connectors(
    c: &impl GenericClient,
    station_id: i64,
) -> Result<Vec<ConnectorRow>, StoreError> {
    let rows = query(
        c,
        "SELECT connector_id, total_sessions, anomalous_sessions FROM connector_stats
         WHERE station_id = $1 AND total_sessions > 0 ORDER BY connector_id",
        &[&station_id],
    )
    .await?;
    let mut connectors = rows
        .iter()
        .map(|row| {
            Ok(ConnectorRow {
                connector_id: row.try_get(0)?,
                total_sessions: row.try_get::<_, i64>(1)?.max(0) as u64,
                anomalous_sessions: row.try_get::<_, i64>(2)?.max(0) as u64,
                categories: BTreeMap::new(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let rows = query(
        c,
        "SELECT connector_id, category, sessions FROM connector_category_stats
         WHERE station_id = $1 AND sessions > 0",
        &[&station_id],
    )
    .await?;
    for row in rows {
        let connector: &str = row.try_get(0)?;
        if let Some(found) = connectors.iter_mut().find(|c| c.connector_id == connector) {
            found
                .categories
                .insert(row.try_get(1)?, row.try_get::<_, i64>(2)? as u64);
        }
    }
    Ok(connectors)
}

/// Creates the station if needed and merges `patch` into its metadata, with
/// the station row locked so concurrent patches both apply.
pub(super) async fn patch_metadata(
    c: &impl GenericClient,
    tenant: TenantId,
    id: &str,
    patch: &serde_json::Map<String, serde_json::Value>,
    now: i64,
) -> Result<StationRow, StoreError> {
    let station_id = match find(c, tenant, id).await {
        Ok((station_id, _)) => station_id,
        Err(e) if e.is_not_found() => ensure(c, tenant, id, now).await?.0,
        Err(e) => return Err(e),
    };
    let row = query_one(
        c,
        "SELECT metadata FROM stations WHERE id = $1 FOR NO KEY UPDATE",
        &[&station_id],
    )
    .await?;
    let mut metadata = match codec::parse_json(row.try_get(0)?)? {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    crate::station_metadata::merge_patch(&mut metadata, patch);
    execute(
        c,
        "UPDATE stations SET metadata = $2 WHERE id = $1",
        &[&station_id, &serde_json::to_string(&metadata)?],
    )
    .await?;
    if patch.contains_key("time_zone") {
        super::health::redate(c, tenant, Some(station_id), now).await?;
    }
    Ok(find(c, tenant, id).await?.1)
}

pub(super) async fn metadata(
    c: &impl GenericClient,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let row = query_opt(
        c,
        "SELECT metadata FROM stations WHERE tenant_id = $1 AND external_id = $2",
        &[&tenant, &external_id],
    )
    .await?;
    match row {
        Some(row) => codec::parse_json(row.try_get(0)?),
        None => Ok(None),
    }
}

pub(super) async fn statistics(c: &impl GenericClient, tenant: TenantId) -> Result<Statistics, StoreError> {
    let row = query_one(
        c,
        "SELECT COALESCE(SUM(total_sessions), 0)::BIGINT, COALESCE(SUM(anomalous_sessions), 0)::BIGINT,
                COUNT(*), COUNT(*) FILTER (WHERE anomalous_sessions > 0)
         FROM stations WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?;
    Ok(Statistics {
        total_sessions: row.try_get::<_, i64>(0)?.max(0) as u64,
        anomalous_sessions: row.try_get::<_, i64>(1)?.max(0) as u64,
        total_stations: row.try_get::<_, i64>(2)?.max(0) as u64,
        stations_with_anomalies: row.try_get::<_, i64>(3)?.max(0) as u64,
    })
}
