//! The job queue. Claiming is one `UPDATE .. RETURNING` on the single writer
//! connection, so two workers never hold the same job at once.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::jobs::{ClaimedJob, JobFailure, JobKind, NewJob};
use crate::StoreError;

pub(super) fn enqueue(conn: &Connection, job: &NewJob, now: i64) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO jobs (tenant_id, kind, payload, status, max_attempts, run_after, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?5, ?5)",
    )?
    .execute(params![
        job.tenant.to_string(),
        job.kind.as_str(),
        serde_json::to_string(&job.payload)?,
        job.max_attempts,
        now
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn claim(
    conn: &Connection,
    owner: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = conn
        .prepare_cached(
            "UPDATE jobs SET status = 'running', lease_owner = ?1, lease_until = ?3, attempts = attempts + 1,
                updated_at = ?2
             WHERE id = (SELECT id FROM jobs
                         WHERE (status = 'queued' AND run_after <= ?2) OR (status = 'running' AND lease_until < ?2)
                         ORDER BY id LIMIT 1)
             RETURNING id, tenant_id, kind, payload, attempts, max_attempts, lease_until",
        )?
        .query_row(params![owner, now, lease_until], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u32>(4)?,
                r.get::<_, u32>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()?;
    let Some((id, tenant, kind, payload, attempt, max_attempts, lease_until)) = row else {
        return Ok(None);
    };
    Ok(Some(ClaimedJob {
        id,
        tenant: Uuid::parse_str(&tenant).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
        kind: JobKind::parse(&kind)
            .ok_or_else(|| StoreError::database(format!("unknown job kind '{kind}'")))?,
        payload: serde_json::from_str(&payload)?,
        attempt,
        max_attempts,
        lease_until,
    }))
}

pub(super) fn heartbeat(
    conn: &Connection,
    id: i64,
    owner: &str,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
        )?
        .execute(params![id, owner, lease_until])?;
    Ok(changed == 1)
}

pub(super) fn complete(conn: &Connection, id: i64, owner: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, updated_at = ?3
         WHERE id = ?1 AND lease_owner = ?2",
    )?
    .execute(params![id, owner, now])?;
    Ok(())
}

pub(super) fn fail(
    conn: &Connection,
    id: i64,
    owner: &str,
    failure: &JobFailure,
    now: i64,
) -> Result<(), StoreError> {
    let (status, error, run_after) = match failure {
        JobFailure::Retry { error, run_after } => ("queued", error, *run_after),
        JobFailure::Fail { error } => ("failed", error, now),
        JobFailure::Release => return release(conn, id, owner, now),
    };
    conn.prepare_cached(
        "UPDATE jobs SET status = ?3, last_error = ?4, run_after = ?5, lease_owner = NULL, lease_until = NULL,
            updated_at = ?6
         WHERE id = ?1 AND lease_owner = ?2",
    )?
    .execute(params![id, owner, status, error, run_after, now])?;
    Ok(())
}

fn release(conn: &Connection, id: i64, owner: &str, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_after = ?3, lease_owner = NULL,
            lease_until = NULL, updated_at = ?3
         WHERE id = ?1 AND lease_owner = ?2",
    )?
    .execute(params![id, owner, now])?;
    Ok(())
}
