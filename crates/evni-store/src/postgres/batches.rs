//! Batches: submitted sessions, their results and progress counters.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{execute, jobs, query, query_one, query_opt};
use crate::jobs::*;
use crate::model::{Page, PageRequest, TenantId};
use crate::StoreError;

/// Stores the batch with its sessions and enqueues one job per chunk, in the
/// caller's transaction.
pub(super) async fn create(c: &impl GenericClient, batch: &NewBatch, now: i64) -> Result<String, StoreError> {
    let public_id = format!("batch-{}", Uuid::now_v7().simple());
    let id: i64 = query_one(
        c,
        "INSERT INTO batches (batch_id, tenant_id, total_sessions, created_at) VALUES ($1, $2, $3, $4)
         RETURNING id",
        &[&public_id, &batch.tenant, &(batch.sessions.len() as i64), &now],
    )
    .await?
    .try_get(0)?;
    let idx: Vec<i32> = (0..batch.sessions.len() as i32).collect();
    let session_ids: Vec<&str> = batch.sessions.iter().map(|s| s.session_id.as_str()).collect();
    let requests = batch
        .sessions
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    execute(
        c,
        "INSERT INTO batch_items (batch_id, idx, session_id, request, status)
         SELECT $1, * , 'pending' FROM UNNEST($2::INTEGER[], $3::TEXT[], $4::TEXT[])",
        &[&id, &idx, &session_ids, &requests],
    )
    .await?;
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
        jobs::enqueue(c, &job, now).await?;
    }
    Ok(public_id)
}

pub(super) async fn pending_sessions(
    c: &impl GenericClient,
    chunk: BatchChunk,
) -> Result<Vec<(u32, BatchSession)>, StoreError> {
    let rows = query(
        c,
        "SELECT idx, request FROM batch_items
         WHERE batch_id = $1 AND idx BETWEEN $2 AND $3 AND status = 'pending' ORDER BY idx",
        &[&chunk.batch, &(chunk.first as i32), &(chunk.last as i32)],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let idx: i32 = row.try_get(0)?;
            Ok((idx as u32, serde_json::from_str(row.try_get(1)?)?))
        })
        .collect()
}

/// Marks sessions processed. Only items still pending change (a concurrent
/// run of the same chunk waits on the item's row lock, then finds it done),
/// so a session is never counted twice.
pub(super) async fn record_results(
    c: &impl GenericClient,
    batch: i64,
    results: &[(u32, BatchResult)],
    now: i64,
) -> Result<(), StoreError> {
    let (mut processed, mut failed) = (0i64, 0i64);
    for (idx, result) in results {
        let status = if result.failed { "failed" } else { "done" };
        let changed = execute(
            c,
            "UPDATE batch_items SET status = $3, result = $4
             WHERE batch_id = $1 AND idx = $2 AND status = 'pending'",
            &[
                &batch,
                &(*idx as i32),
                &status,
                &serde_json::to_string(&result.body)?,
            ],
        )
        .await?;
        if changed == 1 {
            processed += 1;
            failed += i64::from(result.failed);
        }
    }
    execute(
        c,
        "UPDATE batches SET processed_sessions = processed_sessions + $2, failed_sessions = failed_sessions + $3,
            completed_at = CASE WHEN processed_sessions + $2 >= total_sessions THEN $4 ELSE completed_at END
         WHERE id = $1",
        &[&batch, &processed, &failed, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn status(
    c: &impl GenericClient,
    tenant: TenantId,
    batch_id: &str,
    page: PageRequest,
) -> Result<BatchStatus, StoreError> {
    let row = query_opt(
        c,
        "SELECT id, batch_id, total_sessions, processed_sessions, failed_sessions, created_at, completed_at
         FROM batches WHERE tenant_id = $1 AND batch_id = $2",
        &[&tenant, &batch_id],
    )
    .await?
    .ok_or_else(|| StoreError::not_found("batch", batch_id))?;
    let id: i64 = row.try_get(0)?;
    let results = query(
        c,
        "SELECT result FROM batch_items WHERE batch_id = $1 AND status != 'pending'
         ORDER BY idx LIMIT $2 OFFSET $3",
        &[&id, &i64::from(page.page_size), &(page.offset() as i64)],
    )
    .await?
    .iter()
    .map(|r| Ok(serde_json::from_str(r.try_get(0)?)?))
    .collect::<Result<Vec<serde_json::Value>, StoreError>>()?;
    Ok(BatchStatus {
        batch_id: row.try_get(1)?,
        total_sessions: row.try_get::<_, i64>(2)? as u64,
        processed_sessions: row.try_get::<_, i64>(3)? as u64,
        failed_sessions: row.try_get::<_, i64>(4)? as u64,
        created_at: row.try_get(5)?,
        completed_at: row.try_get(6)?,
        results,
    })
}

/// The tenant's batches, newest first; `results` stay empty.
pub(super) async fn list(
    c: &impl GenericClient,
    tenant: TenantId,
    page: PageRequest,
) -> Result<Page<BatchStatus>, StoreError> {
    let total: i64 = query_one(c, "SELECT COUNT(*) FROM batches WHERE tenant_id = $1", &[&tenant])
        .await?
        .try_get(0)?;
    let items = query(
        c,
        "SELECT batch_id, total_sessions, processed_sessions, failed_sessions, created_at, completed_at
         FROM batches WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
        &[&tenant, &i64::from(page.page_size), &(page.offset() as i64)],
    )
    .await?
    .iter()
    .map(|row| {
        Ok(BatchStatus {
            batch_id: row.try_get(0)?,
            total_sessions: row.try_get::<_, i64>(1)? as u64,
            processed_sessions: row.try_get::<_, i64>(2)? as u64,
            failed_sessions: row.try_get::<_, i64>(3)? as u64,
            created_at: row.try_get(4)?,
            completed_at: row.try_get(5)?,
            results: Vec::new(),
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}
