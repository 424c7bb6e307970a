//! Session rows, readings and the inference history.

use deadpool_postgres::GenericClient;
use evni_domain::{AnomalyCategory, FeedbackLabel, Reading, SessionStatus};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::codec::{self, READING_COLUMNS, VERDICT_COLUMNS};
use super::stations::{self, Contribution};
use super::{execute, query, query_one, query_opt};
use crate::model::*;
use crate::session_list;
use crate::session_write::{self, InferenceRow};
use crate::station_days::{zone_of, DayContribution};
use crate::StoreError;
use chrono_tz::Tz;

const HEADER_COLUMNS: &str =
    "s.id, s.uuid, s.external_id, st.external_id, s.connector_id, s.evse_id, s.metadata, \
     s.created_at, s.version, s.feedback_label";

/// The columns of a session row needed to apply a write on top of it.
struct Current {
    id: i64,
    version: i64,
    started_at: i64,
    station_external_id: String,
    contribution: Contribution,
    day: Option<DayContribution>,
    latest_inference_id: Option<i64>,
    /// The station's zone, which sets its days.
    zone: Tz,
}

/// Applies one [`SessionWrite`] inside the caller's transaction.
pub(super) async fn write(
    c: &impl GenericClient,
    write: &SessionWrite,
    now: i64,
) -> Result<WriteOutcome, StoreError> {
    let header = &write.header;
    // Locked until commit: a concurrent writer of this session waits here and
    // then sees the version this write leaves.
    let current = current_row(c, write.tenant, &header.external_id).await?;
    session_write::check_version(write.expected_version, current.as_ref().map(|c| c.version))?;
    let (station_id, zone) = match &current {
        Some(current) if current.station_external_id == header.station_external_id => {
            (current.contribution.station_id, current.zone)
        }
        _ => stations::ensure(c, write.tenant, &header.station_external_id, now).await?,
    };
    let verdict = &write.verdict;
    let metadata = header.metadata.as_ref().map(serde_json::to_string).transpose()?;
    let anomalies = serde_json::to_string(&verdict.anomalies)?;
    let categories = codec::categories_text(verdict);
    let category_count = verdict.categories().len() as i32;
    let started_at = write.started_at.unwrap_or(header.created_at);
    let feedback_label = header.feedback.map(FeedbackLabel::as_str);
    let sequence_length = verdict.sequence_length.map(i64::from);
    let reading_count = write.reading_count as i64;
    let anomalous = verdict.is_anomaly == Some(true);
    let is_recurring = match verdict.status {
        SessionStatus::Active => Some(
            recurs(
                c,
                station_id,
                current.as_ref().map(|c| c.id),
                &verdict.categories(),
                started_at,
            )
            .await?,
        ),
        _ => None,
    };
    let day = session_write::day_contribution(write, station_id, zone);
    let day_text = DayContribution::text(day.as_ref())?;
    let inference = InferenceRow::of(write, &anomalies, now);

    let (session_id, version) = match &current {
        None => {
            // A concurrent create of the same session fails here on the
            // unique key (a Conflict): the engine reloads and appends.
            let row = query_one(
                c,
                "INSERT INTO sessions (uuid, tenant_id, external_id, station_id, connector_id, evse_id, metadata,
                    created_at, updated_at, version, reading_count, started_at, status, status_reason,
                    is_anomaly, anomaly_score, anomaly_confidence, is_incident, is_recurring, anomaly_count,
                    categories, anomalies, sequence_length, analyzed_at, feedback_label, day_contribution)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                    $19, $20, $21, $22, $23, $24, $25)
                 RETURNING id",
                &[
                    &header.uuid,
                    &write.tenant,
                    &header.external_id,
                    &station_id,
                    &header.connector_id,
                    &header.evse_id,
                    &metadata,
                    &header.created_at,
                    &now,
                    &reading_count,
                    &started_at,
                    &verdict.status.as_str(),
                    &verdict.status_reason,
                    &verdict.is_anomaly,
                    &verdict.anomaly_score,
                    &verdict.anomaly_confidence,
                    &verdict.is_incident,
                    &is_recurring,
                    &category_count,
                    &categories,
                    &anomalies,
                    &sequence_length,
                    &verdict.analyzed_at,
                    &feedback_label,
                    &day_text,
                ],
            )
            .await?;
            let session_id: i64 = row.try_get(0)?;
            if let Some(inference) = &inference {
                let latest = insert_inference(c, session_id, None, inference).await?;
                execute(
                    c,
                    "UPDATE sessions SET latest_inference_id = $2 WHERE id = $1",
                    &[&session_id, &latest],
                )
                .await?;
            }
            (session_id, 1)
        }
        Some(current) => {
            // The inference first, so that one update of the row links it.
            let latest = match &inference {
                Some(inference) => {
                    Some(insert_inference(c, current.id, current.latest_inference_id, inference).await?)
                }
                None => current.latest_inference_id,
            };
            execute(
                c,
                "UPDATE sessions SET station_id = $2, connector_id = $3, evse_id = $4, metadata = $5,
                    updated_at = $6, version = version + 1, reading_count = $7, started_at = $8, status = $9,
                    status_reason = $10, is_anomaly = $11, anomaly_score = $12, anomaly_confidence = $13,
                    is_incident = $14, is_recurring = $15, anomaly_count = $16, categories = $17,
                    anomalies = $18, sequence_length = $19, analyzed_at = $20, feedback_label = $21,
                    day_contribution = $22, latest_inference_id = $23
                 WHERE id = $1",
                &[
                    &current.id,
                    &station_id,
                    &header.connector_id,
                    &header.evse_id,
                    &metadata,
                    &now,
                    &reading_count,
                    &started_at,
                    &verdict.status.as_str(),
                    &verdict.status_reason,
                    &verdict.is_anomaly,
                    &verdict.anomaly_score,
                    &verdict.anomaly_confidence,
                    &verdict.is_incident,
                    &is_recurring,
                    &category_count,
                    &categories,
                    &anomalies,
                    &sequence_length,
                    &verdict.analyzed_at,
                    &feedback_label,
                    &day_text,
                    &latest,
                ],
            )
            .await?;
            (current.id, current.version + 1)
        }
    };

    let readings = match &write.readings {
        ReadingsChange::Upsert(readings) => readings,
        ReadingsChange::Replace(readings) => {
            execute(c, "DELETE FROM readings WHERE session_id = $1", &[&session_id]).await?;
            readings
        }
    };
    upsert_readings(c, session_id, readings).await?;

    let feedback_id = match &write.feedback {
        Some(feedback) => Some(
            query_one(
                c,
                "INSERT INTO feedback (session_id, label, comment, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&session_id, &feedback.label.as_str(), &feedback.comment, &now],
            )
            .await?
            .try_get::<_, i64>(0)?,
        ),
        None => None,
    };

    let new = Contribution {
        station_id,
        connector_id: header.connector_id.clone(),
        anomalous,
        categories: verdict.categories(),
        score: verdict.anomaly_score,
    };
    let (old, old_day, old_started_at) = match current {
        Some(c) => (Some(c.contribution), c.day, Some(c.started_at)),
        None => (None, None, None),
    };
    if old
        .as_ref()
        .is_none_or(|o| o.categories != new.categories || o.station_id != new.station_id)
        || old_started_at != Some(started_at)
    {
        index_categories(c, session_id, station_id, &new.categories, started_at).await?;
    }
    stations::apply_change(c, old.as_ref(), &new, verdict.analyzed_at).await?;
    super::health::record_session(c, write.tenant, old_day.as_ref(), day.as_ref(), now).await?;
    Ok(WriteOutcome {
        version,
        is_recurring,
        feedback_id,
    })
}

/// Appends a run to the history and returns its id. A session's runs are
/// linked newest to oldest (`sessions.latest_inference_id`, then
/// `previous_id`) instead of indexed by session, as on SQLite.
async fn insert_inference(
    c: &impl GenericClient,
    session_id: i64,
    previous_id: Option<i64>,
    run: &InferenceRow<'_>,
) -> Result<i64, StoreError> {
    let verdict = run.verdict;
    let row = query_one(
        c,
        "INSERT INTO inferences (session_id, previous_id, analyzed_at, model, status, status_reason, is_anomaly,
            anomaly_score, anomaly_confidence, sequence_length, readings_analyzed, anomalies)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         RETURNING id",
        &[
            &session_id,
            &previous_id,
            &run.analyzed_at,
            &run.model,
            &verdict.status.as_str(),
            &verdict.status_reason,
            &verdict.is_anomaly,
            &verdict.anomaly_score,
            &verdict.anomaly_confidence,
            &verdict.sequence_length.map(i64::from),
            &run.readings_analyzed,
            &run.anomalies,
        ],
    )
    .await?;
    Ok(row.try_get(0)?)
}

/// Whether any of `categories` was found in at least [`session_write::RECURRING_SESSIONS`]
/// other sessions at the station in the 30 days up to `started_at`.
async fn recurs(
    c: &impl GenericClient,
    station_id: i64,
    session_id: Option<i64>,
    categories: &[AnomalyCategory],
    started_at: i64,
) -> Result<bool, StoreError> {
    let (from, to) = session_write::recurrence_window(started_at);
    for category in categories {
        let others: i64 = query_one(
            c,
            "SELECT COUNT(*) FROM session_categories
             WHERE station_id = $1 AND category = $2 AND started_at >= $3 AND started_at <= $4
               AND session_id != $5",
            &[
                &station_id,
                &category.as_str(),
                &from,
                &to,
                &session_id.unwrap_or(-1),
            ],
        )
        .await?
        .try_get(0)?;
        if others >= session_write::RECURRING_SESSIONS {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Keeps `session_categories` equal to the session's current verdict.
async fn index_categories(
    c: &impl GenericClient,
    session_id: i64,
    station_id: i64,
    categories: &[AnomalyCategory],
    started_at: i64,
) -> Result<(), StoreError> {
    execute(
        c,
        "DELETE FROM session_categories WHERE session_id = $1",
        &[&session_id],
    )
    .await?;
    if categories.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = categories.iter().map(|c| c.as_str()).collect();
    execute(
        c,
        "INSERT INTO session_categories (session_id, station_id, category, started_at)
         SELECT $1, $2, category, $4 FROM UNNEST($3::TEXT[]) AS category",
        &[&session_id, &station_id, &names, &started_at],
    )
    .await?;
    Ok(())
}

/// One statement for all readings (arrays unnested server side). Readings
/// with the same identity keep the last one, as one-by-one upserts would.
async fn upsert_readings(
    c: &impl GenericClient,
    session_id: i64,
    readings: &[Reading],
) -> Result<(), StoreError> {
    if readings.is_empty() {
        return Ok(());
    }
    let mut last = std::collections::HashMap::with_capacity(readings.len());
    for (at, r) in readings.iter().enumerate() {
        last.insert(r.key(), at);
    }
    let keep = |at: &usize, r: &Reading| last.get(&r.key()) == Some(at);
    let chosen: Vec<&Reading> = readings
        .iter()
        .enumerate()
        .filter(|(at, r)| keep(at, r))
        .map(|(_, r)| r)
        .collect();
    let ts: Vec<i64> = chosen.iter().map(|r| r.ts).collect();
    let measurand: Vec<&str> = chosen.iter().map(|r| r.measurand.as_str()).collect();
    let phase: Vec<&str> = chosen.iter().map(|r| codec::phase_text(r.phase)).collect();
    let location: Vec<&str> = chosen.iter().map(|r| r.location.as_str()).collect();
    let unit: Vec<Option<&str>> = chosen.iter().map(|r| r.unit.map(|u| u.as_str())).collect();
    let value: Vec<f64> = chosen.iter().map(|r| r.value).collect();
    let context: Vec<Option<&str>> = chosen.iter().map(|r| r.context.map(|c| c.as_str())).collect();
    execute(
        c,
        "INSERT INTO readings (session_id, ts, measurand, phase, location, unit, value, context)
         SELECT $1, * FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                                  $7::DOUBLE PRECISION[], $8::TEXT[])
         ON CONFLICT (session_id, ts, measurand, phase, location)
         DO UPDATE SET unit = excluded.unit, value = excluded.value, context = excluded.context",
        &[
            &session_id,
            &ts,
            &measurand,
            &phase,
            &location,
            &unit,
            &value,
            &context,
        ],
    )
    .await?;
    Ok(())
}

async fn current_row(
    c: &impl GenericClient,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<Current>, StoreError> {
    let row = query_opt(
        c,
        &format!(
            "SELECT s.id, s.version, s.station_id, s.connector_id, s.is_anomaly, s.categories, s.anomaly_score,
                    st.external_id, s.started_at, s.day_contribution, s.latest_inference_id, {}
             FROM sessions s JOIN stations st ON st.id = s.station_id
             WHERE s.tenant_id = $1 AND s.external_id = $2
             FOR NO KEY UPDATE OF s",
            stations::STATION_ZONE
        ),
        &[&tenant, &external_id],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Current {
        id: row.try_get(0)?,
        version: row.try_get(1)?,
        started_at: row.try_get::<_, Option<i64>>(8)?.unwrap_or_default(),
        station_external_id: row.try_get(7)?,
        contribution: Contribution {
            station_id: row.try_get(2)?,
            connector_id: row.try_get(3)?,
            anomalous: row.try_get::<_, Option<bool>>(4)? == Some(true),
            categories: codec::parse_categories(row.try_get(5)?),
            score: row.try_get(6)?,
        },
        day: DayContribution::parse(row.try_get::<_, Option<&str>>(9)?)?,
        latest_inference_id: row.try_get(10)?,
        zone: zone_of(row.try_get::<_, Option<&str>>(11)?),
    }))
}

/// The session with every reading, by the client's id.
pub(super) async fn load(
    c: &impl GenericClient,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<StoredSession>, StoreError> {
    let Some((id, header, version, verdict)) = header_where(c, false, tenant, external_id).await? else {
        return Ok(None);
    };
    let readings = readings(c, id).await?;
    Ok(Some(StoredSession {
        header,
        version,
        readings,
        verdict,
    }))
}

/// Detail by the client's id, or else by the internal UUID.
pub(super) async fn detail(
    c: &impl GenericClient,
    tenant: TenantId,
    id: &str,
) -> Result<SessionDetail, StoreError> {
    let mut found = header_where(c, false, tenant, id).await?;
    if found.is_none() && codec::uuid_key(id).is_some() {
        found = header_where(c, true, tenant, id).await?;
    }
    let (row_id, header, _, verdict) = found.ok_or_else(|| StoreError::not_found("session", id))?;
    let readings = readings(c, row_id).await?;
    Ok(SessionDetail {
        header,
        verdict,
        readings,
    })
}

type HeaderRow = (i64, SessionHeader, i64, Verdict);

async fn header_where(
    c: &impl GenericClient,
    by_uuid: bool,
    tenant: TenantId,
    key: &str,
) -> Result<Option<HeaderRow>, StoreError> {
    let sql = |condition: &str| {
        format!(
            "SELECT {HEADER_COLUMNS}, {VERDICT_COLUMNS} FROM sessions s JOIN stations st ON st.id = s.station_id
             WHERE s.tenant_id = $1 AND {condition}"
        )
    };
    let row = if by_uuid {
        let uuid = codec::uuid_key(key);
        query_opt(c, &sql("s.uuid = $2"), &[&tenant, &uuid]).await?
    } else {
        query_opt(c, &sql("s.external_id = $2"), &[&tenant, &key]).await?
    };
    let Some(row) = row else { return Ok(None) };
    let header = SessionHeader {
        uuid: row.try_get(1)?,
        external_id: row.try_get(2)?,
        station_external_id: row.try_get(3)?,
        connector_id: row.try_get(4)?,
        evse_id: row.try_get(5)?,
        metadata: codec::parse_json(row.try_get(6)?)?,
        created_at: row.try_get(7)?,
        feedback: row.try_get::<_, Option<&str>>(9)?.and_then(FeedbackLabel::parse),
    };
    let verdict = codec::verdict_from_row(&row, 10)?;
    Ok(Some((row.try_get(0)?, header, row.try_get(8)?, verdict)))
}

async fn readings(c: &impl GenericClient, session_id: i64) -> Result<Vec<Reading>, StoreError> {
    let sql = format!("SELECT {READING_COLUMNS} FROM readings WHERE session_id = $1");
    let rows = query(c, &sql, &[&session_id]).await?;
    let mut readings = rows
        .iter()
        .map(codec::reading_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    readings.sort_by_key(Reading::key);
    Ok(readings)
}

pub(super) async fn list(
    c: &impl GenericClient,
    tenant: TenantId,
    filter: &SessionFilter,
) -> Result<Page<SessionListRow>, StoreError> {
    // As in SQLite, a station or category filter binds the tenant itself.
    let mut conditions: Vec<String> = Vec::new();
    if filter.station.is_none() && filter.category.is_none() {
        conditions.push("s.tenant_id = $1".into());
    }
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(tenant)];
    let arg = |args: &mut Vec<Box<dyn ToSql + Sync + Send>>, value: Box<dyn ToSql + Sync + Send>| {
        args.push(value);
        format!("${}", args.len())
    };
    if let Some(station) = &filter.station {
        let by_id = arg(&mut args, Box::new(station.clone()));
        let by_uuid = arg(&mut args, Box::new(codec::uuid_key(station)));
        conditions.push(format!(
            "s.station_id IN (SELECT id FROM stations WHERE tenant_id = $1 AND (external_id = {by_id} OR uuid = {by_uuid}))"
        ));
    }
    if let Some(evse) = &filter.evse_id {
        let p = arg(&mut args, Box::new(evse.clone()));
        conditions.push(format!("s.evse_id = {p}"));
    }
    if let Some(flag) = filter.is_anomaly {
        let p = arg(&mut args, Box::new(flag));
        conditions.push(format!("s.is_anomaly = {p}"));
    }
    if let Some(score) = filter.min_score {
        let p = arg(&mut args, Box::new(score));
        conditions.push(format!("s.anomaly_score >= {p}"));
    }
    if let Some(confidence) = filter.min_confidence {
        let p = arg(&mut args, Box::new(confidence));
        conditions.push(format!("s.anomaly_confidence >= {p}"));
    }
    if let Some(from) = filter.date_from {
        let p = arg(&mut args, Box::new(from));
        conditions.push(format!("s.started_at >= {p}"));
    }
    if let Some(to) = filter.date_to {
        let p = arg(&mut args, Box::new(to));
        conditions.push(format!("s.started_at < {p}"));
    }
    if let Some(category) = &filter.category {
        let p = arg(&mut args, Box::new(category.clone()));
        conditions.push(format!(
            "s.id IN (SELECT c.session_id FROM session_categories c JOIN stations cs ON cs.id = c.station_id
                      WHERE c.category = {p} AND cs.tenant_id = $1)"
        ));
    }
    let filter_sql = conditions.join(" AND ");
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
    let total: i64 = query_one(
        c,
        &format!("SELECT COUNT(*) FROM sessions s WHERE {filter_sql}"),
        &params,
    )
    .await?
    .try_get(0)?;

    let page = filter.page.unwrap_or(PageRequest {
        page: 1,
        page_size: 20,
    });
    let sql = format!(
        "SELECT s.uuid, s.external_id, st.external_id, s.is_anomaly, s.anomaly_score, s.anomaly_count, s.status,
                s.created_at, s.analyzed_at, s.categories, s.day_contribution, s.started_at
         FROM sessions s JOIN stations st ON st.id = s.station_id
         WHERE s.id IN ({})
         ORDER BY s.started_at DESC, s.id DESC",
        session_list::page_ids_sql(&filter_sql, page.window(total as u64))
    );
    let rows = query(c, &sql, &params).await?;
    let items = rows.iter().map(list_row).collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

fn list_row(row: &Row) -> Result<SessionListRow, StoreError> {
    let status: &str = row.try_get(6)?;
    Ok(SessionListRow {
        uuid: row.try_get(0)?,
        external_id: row.try_get(1)?,
        station_external_id: row.try_get(2)?,
        is_anomaly: row.try_get(3)?,
        anomaly_score: row.try_get(4)?,
        anomaly_count: row.try_get::<_, i32>(5)?.max(0) as u32,
        status: SessionStatus::parse(status).unwrap_or(SessionStatus::Failed),
        created_at: row.try_get(7)?,
        last_analyzed_at: row.try_get(8)?,
        categories: session_list::category_list(row.try_get(9)?),
        energy_kwh: session_list::energy_kwh(row.try_get(10)?),
        started_at: row.try_get(11)?,
    })
}
