//! Session rows, readings and the inference history.

use evni_domain::{AnomalyCategory, FeedbackLabel, Reading, SessionStatus};
use rusqlite::{params, Connection, ToSql};
use uuid::Uuid;

use super::codec::{self, READING_COLUMNS, VERDICT_COLUMNS};
use super::reading_codes;
use super::stations::{self, Contribution};
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

/// Applies one [`SessionWrite`]; runs inside the writer's transaction.
pub(super) fn write(conn: &Connection, write: &SessionWrite, now: i64) -> Result<WriteOutcome, StoreError> {
    let header = &write.header;
    let current = current_row(conn, write.tenant, &header.external_id)?;
    session_write::check_version(write.expected_version, current.as_ref().map(|c| c.version))?;
    let (station_id, zone) = match &current {
        Some(current) if current.station_external_id == header.station_external_id => {
            (current.contribution.station_id, current.zone)
        }
        _ => stations::ensure(conn, write.tenant, &header.station_external_id, now)?,
    };
    let verdict = &write.verdict;
    let metadata = header.metadata.as_ref().map(serde_json::to_string).transpose()?;
    let anomalies = serde_json::to_string(&verdict.anomalies)?;
    let categories = codec::categories_text(verdict);
    let started_at = write.started_at.unwrap_or(header.created_at);
    let feedback_label = header.feedback.map(FeedbackLabel::as_str);
    let anomalous = verdict.is_anomaly == Some(true);
    let is_recurring = match verdict.status {
        SessionStatus::Active => Some(recurs(
            conn,
            station_id,
            current.as_ref().map(|c| c.id),
            &verdict.categories(),
            started_at,
        )?),
        _ => None,
    };
    let day = session_write::day_contribution(write, station_id, zone);
    let day_text = DayContribution::text(day.as_ref())?;
    let inference = InferenceRow::of(write, &anomalies, now);

    let (session_id, version) = match &current {
        None => {
            conn.prepare_cached(
                "INSERT INTO sessions (uuid, tenant_id, external_id, station_id, connector_id, evse_id, metadata,
                    created_at, updated_at, version, reading_count, started_at, status, status_reason,
                    is_anomaly, anomaly_score, anomaly_confidence, is_incident, is_recurring, anomaly_count,
                    categories, anomalies, sequence_length, analyzed_at, feedback_label, day_contribution)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
                    ?19, ?20, ?21, ?22, ?23, ?24, ?25)",
            )?
            .execute(params![
                header.uuid.to_string(),
                write.tenant.to_string(),
                header.external_id,
                station_id,
                header.connector_id,
                header.evse_id,
                metadata,
                header.created_at,
                now,
                write.reading_count as i64,
                started_at,
                verdict.status.as_str(),
                verdict.status_reason,
                verdict.is_anomaly,
                verdict.anomaly_score,
                verdict.anomaly_confidence,
                verdict.is_incident,
                is_recurring,
                verdict.categories().len() as i64,
                categories,
                anomalies,
                verdict.sequence_length,
                verdict.analyzed_at,
                feedback_label,
                day_text,
            ])?;
            let session_id = conn.last_insert_rowid();
            if let Some(inference) = &inference {
                let latest = insert_inference(conn, session_id, None, inference)?;
                conn.prepare_cached("UPDATE sessions SET latest_inference_id = ?2 WHERE id = ?1")?
                    .execute([session_id, latest])?;
            }
            (session_id, 1)
        }
        Some(current) => {
            // The inference first, so that one update of the row links it.
            let latest = match &inference {
                Some(inference) => Some(insert_inference(
                    conn,
                    current.id,
                    current.latest_inference_id,
                    inference,
                )?),
                None => current.latest_inference_id,
            };
            // SQLite rewrites the index entries of every indexed column in
            // the SET list, changed or not: on an append, whose station and
            // start stay, that was one more page in the WAL per write. The
            // parameters are the same; ?2 and ?8 may go unused.
            macro_rules! update {
                ($moved:literal) => {
                    concat!(
                        "UPDATE sessions SET ",
                        $moved,
                        "connector_id = ?3, evse_id = ?4, metadata = ?5, updated_at = ?6,
                        version = version + 1, reading_count = ?7, status = ?9, status_reason = ?10,
                        is_anomaly = ?11, anomaly_score = ?12, anomaly_confidence = ?13, is_incident = ?14,
                        is_recurring = ?15, anomaly_count = ?16, categories = ?17, anomalies = ?18,
                        sequence_length = ?19, analyzed_at = ?20, feedback_label = ?21,
                        day_contribution = ?22, latest_inference_id = ?23
                     WHERE id = ?1"
                    )
                };
            }
            let moves = current.contribution.station_id != station_id || current.started_at != started_at;
            conn.prepare_cached(if moves {
                update!("station_id = ?2, started_at = ?8, ")
            } else {
                update!("")
            })?
            .execute(params![
                current.id,
                station_id,
                header.connector_id,
                header.evse_id,
                metadata,
                now,
                write.reading_count as i64,
                started_at,
                verdict.status.as_str(),
                verdict.status_reason,
                verdict.is_anomaly,
                verdict.anomaly_score,
                verdict.anomaly_confidence,
                verdict.is_incident,
                is_recurring,
                verdict.categories().len() as i64,
                categories,
                anomalies,
                verdict.sequence_length,
                verdict.analyzed_at,
                feedback_label,
                day_text,
                latest,
            ])?;
            (current.id, current.version + 1)
        }
    };

    let readings = match &write.readings {
        ReadingsChange::Upsert(readings) => readings,
        ReadingsChange::Replace(readings) => {
            conn.prepare_cached("DELETE FROM readings WHERE session_id = ?1")?
                .execute([session_id])?;
            readings
        }
    };
    upsert_readings(conn, session_id, readings)?;

    let feedback_id = match &write.feedback {
        Some(feedback) => {
            conn.prepare_cached(
                "INSERT INTO feedback (session_id, label, comment, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                session_id,
                feedback.label.as_str(),
                feedback.comment,
                now
            ])?;
            Some(conn.last_insert_rowid())
        }
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
        index_categories(conn, session_id, station_id, &new.categories, started_at)?;
    }
    stations::apply_change(conn, old.as_ref(), &new, verdict.analyzed_at)?;
    super::health::record_session(conn, write.tenant, old_day.as_ref(), day.as_ref(), now)?;
    Ok(WriteOutcome {
        version,
        is_recurring,
        feedback_id,
    })
}

/// Appends a run to the history and returns its id. A session's runs are
/// linked newest to oldest (`sessions.latest_inference_id`, then
/// `previous_id`) instead of indexed by session: an index entry would cost
/// every write another page of the WAL.
fn insert_inference(
    conn: &Connection,
    session_id: i64,
    previous_id: Option<i64>,
    run: &InferenceRow<'_>,
) -> Result<i64, StoreError> {
    let verdict = run.verdict;
    conn.prepare_cached(
        "INSERT INTO inferences (session_id, previous_id, analyzed_at, model, status, status_reason, is_anomaly,
            anomaly_score, anomaly_confidence, sequence_length, readings_analyzed, anomalies)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        session_id,
        previous_id,
        run.analyzed_at,
        run.model,
        verdict.status.as_str(),
        verdict.status_reason,
        verdict.is_anomaly,
        verdict.anomaly_score,
        verdict.anomaly_confidence,
        verdict.sequence_length,
        run.readings_analyzed,
        run.anomalies,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Whether any of `categories` was found in at least [`session_write::RECURRING_SESSIONS`]
/// other sessions at the station in the 30 days up to `started_at`.
fn recurs(
    conn: &Connection,
    station_id: i64,
    session_id: Option<i64>,
    categories: &[AnomalyCategory],
    started_at: i64,
) -> Result<bool, StoreError> {
    let mut count = conn.prepare_cached(
        "SELECT COUNT(*) FROM session_categories
         WHERE station_id = ?1 AND category = ?2 AND started_at >= ?3 AND started_at <= ?4 AND session_id != ?5",
    )?;
    let (from, to) = session_write::recurrence_window(started_at);
    for category in categories {
        let others: i64 = count.query_row(
            params![station_id, category.as_str(), from, to, session_id.unwrap_or(-1)],
            |r| r.get(0),
        )?;
        if others >= session_write::RECURRING_SESSIONS {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Keeps `session_categories` equal to the session's current verdict.
fn index_categories(
    conn: &Connection,
    session_id: i64,
    station_id: i64,
    categories: &[AnomalyCategory],
    started_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM session_categories WHERE session_id = ?1")?
        .execute([session_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO session_categories (session_id, station_id, category, started_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for category in categories {
        insert.execute(params![session_id, station_id, category.as_str(), started_at])?;
    }
    Ok(())
}

/// Readings per upsert statement: a statement costs about as much to run
/// as the rows it writes. Chunks of 32 and 8, then the rest exactly, so
/// that few statement texts serve every count.
fn chunk_len(remaining: usize) -> usize {
    match remaining {
        32.. => 32,
        8.. => 8,
        n => n,
    }
}

fn upsert_readings(conn: &Connection, session_id: i64, readings: &[Reading]) -> Result<(), StoreError> {
    let mut rest = readings;
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(chunk_len(rest.len()));
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO readings (session_id, ts, measurand, phase, location, unit, value, context)
             VALUES {rows}
             ON CONFLICT (session_id, ts, measurand, phase, location)
             DO UPDATE SET unit = excluded.unit, value = excluded.value, context = excluded.context"
        ))?;
        for (row, r) in chunk.iter().enumerate() {
            let at = row * 8;
            insert.raw_bind_parameter(at + 1, session_id)?;
            insert.raw_bind_parameter(at + 2, r.ts)?;
            insert.raw_bind_parameter(at + 3, reading_codes::code(r.measurand)?)?;
            insert.raw_bind_parameter(at + 4, reading_codes::phase_code(r.phase)?)?;
            insert.raw_bind_parameter(at + 5, reading_codes::code(r.location)?)?;
            insert.raw_bind_parameter(at + 6, r.unit.map(reading_codes::code).transpose()?)?;
            insert.raw_bind_parameter(at + 7, r.value)?;
            insert.raw_bind_parameter(at + 8, r.context.map(reading_codes::code).transpose()?)?;
        }
        insert.raw_execute()?;
        rest = after;
    }
    Ok(())
}

fn current_row(
    conn: &Connection,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<Current>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.id, s.version, s.station_id, s.connector_id, s.is_anomaly, s.categories, s.anomaly_score,
                s.started_at, st.external_id, s.day_contribution, s.latest_inference_id, {}
         FROM sessions s JOIN stations st ON st.id = s.station_id
         WHERE s.tenant_id = ?1 AND s.external_id = ?2",
        stations::STATION_ZONE
    ))?;
    let mut rows = stmt.query(params![tenant.to_string(), external_id])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    Ok(Some(Current {
        id: row.get(0)?,
        version: row.get(1)?,
        started_at: row.get(7)?,
        station_external_id: row.get(8)?,
        contribution: Contribution {
            station_id: row.get(2)?,
            connector_id: row.get(3)?,
            anomalous: row.get::<_, Option<bool>>(4)? == Some(true),
            categories: codec::parse_categories(&row.get::<_, String>(5)?),
            score: row.get(6)?,
        },
        day: DayContribution::parse(row.get::<_, Option<String>>(9)?.as_deref())?,
        latest_inference_id: row.get(10)?,
        zone: zone_of(row.get::<_, Option<String>>(11)?.as_deref()),
    }))
}

/// The session with every reading, by the client's id.
pub(super) fn load(
    conn: &Connection,
    tenant: TenantId,
    external_id: &str,
) -> Result<Option<StoredSession>, StoreError> {
    let Some((id, header, version, verdict)) = header_where(conn, "s.external_id = ?2", tenant, external_id)?
    else {
        return Ok(None);
    };
    let readings = readings(conn, id)?;
    Ok(Some(StoredSession {
        header,
        version,
        readings,
        verdict,
    }))
}

/// Detail by the client's id, or else by the internal UUID.
pub(super) fn detail(conn: &Connection, tenant: TenantId, id: &str) -> Result<SessionDetail, StoreError> {
    let mut found = header_where(conn, "s.external_id = ?2", tenant, id)?;
    if found.is_none() && Uuid::parse_str(id).is_ok() {
        found = header_where(conn, "s.uuid = ?2", tenant, &id.to_ascii_lowercase())?;
    }
    let (row_id, header, _, verdict) = found.ok_or_else(|| StoreError::not_found("session", id))?;
    let readings = readings(conn, row_id)?;
    Ok(SessionDetail {
        header,
        verdict,
        readings,
    })
}

type HeaderRow = (i64, SessionHeader, i64, Verdict);

fn header_where(
    conn: &Connection,
    condition: &str,
    tenant: TenantId,
    key: &str,
) -> Result<Option<HeaderRow>, StoreError> {
    // The verdict column names exist only in `sessions`, so they need no prefix.
    let sql = format!(
        "SELECT {HEADER_COLUMNS}, {VERDICT_COLUMNS} FROM sessions s JOIN stations st ON st.id = s.station_id
         WHERE s.tenant_id = ?1 AND {condition}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![tenant.to_string(), key])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let uuid: String = row.get(1)?;
    let header = SessionHeader {
        uuid: Uuid::parse_str(&uuid).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
        external_id: row.get(2)?,
        station_external_id: row.get(3)?,
        connector_id: row.get(4)?,
        evse_id: row.get(5)?,
        metadata: codec::parse_json(row.get(6)?)?,
        created_at: row.get(7)?,
        feedback: row
            .get::<_, Option<String>>(9)?
            .as_deref()
            .and_then(FeedbackLabel::parse),
    };
    let verdict = codec::verdict_from_row(row, 10)?;
    Ok(Some((row.get(0)?, header, row.get(8)?, verdict)))
}

fn readings(conn: &Connection, session_id: i64) -> Result<Vec<Reading>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {READING_COLUMNS} FROM readings WHERE session_id = ?1"
    ))?;
    let mut rows = stmt.query([session_id])?;
    let mut readings = Vec::new();
    while let Some(row) = rows.next()? {
        readings.push(codec::reading_from_row(row)?);
    }
    readings.sort_by_key(Reading::key);
    Ok(readings)
}

pub(super) fn list(
    conn: &Connection,
    tenant: TenantId,
    filter: &SessionFilter,
) -> Result<Page<SessionListRow>, StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    // A station or category filter binds the tenant itself. The tenant's
    // condition beside it led SQLite to walk every session of the tenant
    // (for 100,000: 229 ms by station, 41 ms to count a category).
    if filter.station.is_none() && filter.category.is_none() {
        conditions.push("s.tenant_id = ?".into());
        args.push(Box::new(tenant.to_string()));
    }
    if let Some(station) = &filter.station {
        conditions.push(
            "s.station_id IN (SELECT id FROM stations WHERE tenant_id = ? AND (external_id = ? OR uuid = ?))"
                .into(),
        );
        args.push(Box::new(tenant.to_string()));
        args.push(Box::new(station.clone()));
        args.push(Box::new(station.to_ascii_lowercase()));
    }
    if let Some(evse) = &filter.evse_id {
        conditions.push("s.evse_id = ?".into());
        args.push(Box::new(evse.clone()));
    }
    if let Some(flag) = filter.is_anomaly {
        conditions.push("s.is_anomaly = ?".into());
        args.push(Box::new(flag));
    }
    if let Some(score) = filter.min_score {
        conditions.push("s.anomaly_score >= ?".into());
        args.push(Box::new(score));
    }
    if let Some(confidence) = filter.min_confidence {
        conditions.push("s.anomaly_confidence >= ?".into());
        args.push(Box::new(confidence));
    }
    if let Some(from) = filter.date_from {
        conditions.push("s.started_at >= ?".into());
        args.push(Box::new(from));
    }
    if let Some(to) = filter.date_to {
        conditions.push("s.started_at < ?".into());
        args.push(Box::new(to));
    }
    if let Some(category) = &filter.category {
        // The tenant is bound, not taken from `s`: correlated, SQLite ran
        // the subquery once per session (221 s for 100,000).
        conditions.push(
            "s.id IN (SELECT c.session_id FROM session_categories c JOIN stations cs ON cs.id = c.station_id
                      WHERE c.category = ? AND cs.tenant_id = ?)"
                .into(),
        );
        args.push(Box::new(category.clone()));
        args.push(Box::new(tenant.to_string()));
    }
    let filter_sql = conditions.join(" AND ");
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM sessions s WHERE {filter_sql}"))?
        .query_row(&params[..], |r| r.get(0))?;

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
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(&params[..])?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        let uuid: String = row.get(0)?;
        let status: String = row.get(6)?;
        items.push(SessionListRow {
            uuid: Uuid::parse_str(&uuid).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
            external_id: row.get(1)?,
            station_external_id: row.get(2)?,
            is_anomaly: row.get(3)?,
            anomaly_score: row.get(4)?,
            anomaly_count: row.get(5)?,
            status: SessionStatus::parse(&status).unwrap_or(SessionStatus::Failed),
            created_at: row.get(7)?,
            last_analyzed_at: row.get(8)?,
            categories: session_list::category_list(&row.get::<_, String>(9)?),
            energy_kwh: session_list::energy_kwh(row.get::<_, Option<String>>(10)?.as_deref()),
            started_at: row.get(11)?,
        });
    }
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}
