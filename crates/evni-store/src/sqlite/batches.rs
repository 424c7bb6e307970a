//! Batches: submitted sessions, their results and progress counters.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::jobs;
use crate::jobs::*;
use crate::model::{Page, PageRequest, TenantId};
use crate::StoreError;

/// Stores the batch with its sessions and enqueues one job per chunk.
pub(super) fn create(conn: &Connection, batch: &NewBatch, now: i64) -> Result<String, StoreError> {
    let public_id = format!("batch-{}", Uuid::now_v7().simple());
    conn.prepare_cached(
        "INSERT INTO batches (batch_id, tenant_id, total_sessions, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        public_id,
        batch.tenant.to_string(),
        batch.sessions.len() as i64,
        now
    ])?;
    let id = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO batch_items (batch_id, idx, session_id, request, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
    )?;
    for (idx, session) in batch.sessions.iter().enumerate() {
        insert.execute(params![
            id,
            idx as i64,
            session.session_id,
            serde_json::to_string(session)?
        ])?;
    }
    let chunk_size = batch.chunk_size.max(1);
    for first in (0..batch.sessions.len()).step_by(chunk_size) {
        let last = (first + chunk_size).min(batch.sessions.len()) - 1;
        let chunk = BatchChunk {
            batch: id,
            first: first as u32,
            last: last as u32,
        };
        let job = NewJob {
            tenant: batch.tenant,
            kind: JobKind::BatchChunk,
            payload: serde_json::to_value(chunk)?,
            max_attempts: batch.max_attempts,
        };
        jobs::enqueue(conn, &job, now)?;
    }
    Ok(public_id)
}

pub(super) fn pending_sessions(
    conn: &Connection,
    chunk: BatchChunk,
) -> Result<Vec<(u32, BatchSession)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT idx, request FROM batch_items
         WHERE batch_id = ?1 AND idx BETWEEN ?2 AND ?3 AND status = 'pending' ORDER BY idx",
    )?;
    let rows = stmt
        .query_map(params![chunk.batch, chunk.first, chunk.last], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(idx, request)| Ok((idx, serde_json::from_str(&request)?)))
        .collect()
}

/// Marks sessions processed. Only items still pending change, so a chunk
/// that runs again after a crash never counts a session twice.
pub(super) fn record_results(
    conn: &Connection,
    batch: i64,
    results: &[(u32, BatchResult)],
    now: i64,
) -> Result<(), StoreError> {
    let mut mark = conn.prepare_cached(
        "UPDATE batch_items SET status = ?3, result = ?4 WHERE batch_id = ?1 AND idx = ?2 AND status = 'pending'",
    )?;
    let (mut processed, mut failed) = (0i64, 0i64);
    for (idx, result) in results {
        let status = if result.failed { "failed" } else { "done" };
        let changed = mark.execute(params![batch, idx, status, serde_json::to_string(&result.body)?])?;
        if changed == 1 {
            processed += 1;
            failed += i64::from(result.failed);
        }
    }
    conn.prepare_cached(
        "UPDATE batches SET processed_sessions = processed_sessions + ?2, failed_sessions = failed_sessions + ?3,
            completed_at = CASE WHEN processed_sessions + ?2 >= total_sessions THEN ?4 ELSE completed_at END
         WHERE id = ?1",
    )?
    .execute(params![batch, processed, failed, now])?;
    Ok(())
}

pub(super) fn status(
    conn: &Connection,
    tenant: TenantId,
    batch_id: &str,
    page: PageRequest,
) -> Result<BatchStatus, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, batch_id, total_sessions, processed_sessions, failed_sessions, created_at, completed_at
             FROM batches WHERE tenant_id = ?1 AND batch_id = ?2",
        )?
        .query_row(params![tenant.to_string(), batch_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .optional()?;
    let Some((id, batch_id, total, processed, failed, created_at, completed_at)) = row else {
        return Err(StoreError::not_found("batch", batch_id));
    };
    let mut stmt = conn.prepare_cached(
        "SELECT result FROM batch_items WHERE batch_id = ?1 AND status != 'pending'
         ORDER BY idx LIMIT ?2 OFFSET ?3",
    )?;
    let results = stmt
        .query_map(params![id, page.page_size, page.offset() as i64], |r| {
            r.get::<_, String>(0)
        })?
        .map(|text| Ok(serde_json::from_str(&text?)?))
        .collect::<Result<Vec<serde_json::Value>, StoreError>>()?;
    Ok(BatchStatus {
        batch_id,
        total_sessions: total as u64,
        processed_sessions: processed as u64,
        failed_sessions: failed as u64,
        created_at,
        completed_at,
        results,
    })
}

/// The tenant's batches, newest first; `results` stay empty.
pub(super) fn list(
    conn: &Connection,
    tenant: TenantId,
    page: PageRequest,
) -> Result<Page<BatchStatus>, StoreError> {
    let tenant = tenant.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM batches WHERE tenant_id = ?1")?
        .query_row([&tenant], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT batch_id, total_sessions, processed_sessions, failed_sessions, created_at, completed_at
         FROM batches WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let items = stmt
        .query_map(params![tenant, page.page_size, page.offset() as i64], |r| {
            Ok(BatchStatus {
                batch_id: r.get(0)?,
                total_sessions: r.get::<_, i64>(1)? as u64,
                processed_sessions: r.get::<_, i64>(2)? as u64,
                failed_sessions: r.get::<_, i64>(3)? as u64,
                created_at: r.get(4)?,
                completed_at: r.get(5)?,
                results: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}
