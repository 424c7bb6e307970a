//! The job queue. A claim takes the oldest runnable job with
//! `FOR UPDATE SKIP LOCKED`: workers in any number of processes never wait
//! on each other's claims and never get the same job at once. The lease lets
//! another worker take a job over when its owner stops heartbeating.

use deadpool_postgres::GenericClient;

use super::{execute, query_opt};
use crate::jobs::{ClaimedJob, JobFailure, JobKind, NewJob};
use crate::StoreError;

pub(super) async fn enqueue(c: &impl GenericClient, job: &NewJob, now: i64) -> Result<i64, StoreError> {
    let row = super::query_one(
        c,
        "INSERT INTO jobs (tenant_id, kind, payload, status, max_attempts, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $5, $5, $5) RETURNING id",
        &[
            &job.tenant,
            &job.kind.as_str(),
            &serde_json::to_string(&job.payload)?,
            &(job.max_attempts as i32),
            &now,
        ],
    )
    .await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn claim(
    c: &impl GenericClient,
    owner: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<ClaimedJob>, StoreError> {
    let row = query_opt(
        c,
        "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $3, attempts = attempts + 1,
            updated_at = $2
         WHERE id = (SELECT id FROM jobs
                     WHERE status IN ('queued', 'running')
                       AND ((status = 'queued' AND run_after <= $2) OR (status = 'running' AND lease_until < $2))
                     ORDER BY id LIMIT 1
                     FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_id, kind, payload, attempts, max_attempts, lease_until",
        &[&owner, &now, &lease_until],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kind: &str = row.try_get(2)?;
    Ok(Some(ClaimedJob {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        kind: JobKind::parse(kind)
            .ok_or_else(|| StoreError::database(format!("unknown job kind '{kind}'")))?,
        payload: serde_json::from_str(row.try_get(3)?)?,
        attempt: row.try_get::<_, i32>(4)?.max(0) as u32,
        max_attempts: row.try_get::<_, i32>(5)?.max(0) as u32,
        lease_until: row.try_get(6)?,
    }))
}

pub(super) async fn heartbeat(
    c: &impl GenericClient,
    id: i64,
    owner: &str,
    lease_until: i64,
) -> Result<bool, StoreError> {
    let changed = execute(
        c,
        "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
        &[&id, &owner, &lease_until],
    )
    .await?;
    Ok(changed == 1)
}

pub(super) async fn complete(
    c: &impl GenericClient,
    id: i64,
    owner: &str,
    now: i64,
) -> Result<(), StoreError> {
    execute(
        c,
        "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $3
         WHERE id = $1 AND lease_owner = $2",
        &[&id, &owner, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn fail(
    c: &impl GenericClient,
    id: i64,
    owner: &str,
    failure: &JobFailure,
    now: i64,
) -> Result<(), StoreError> {
    let (status, error, run_after) = match failure {
        JobFailure::Retry { error, run_after } => ("queued", error, *run_after),
        JobFailure::Fail { error } => ("failed", error, now),
        JobFailure::Release => return release(c, id, owner, now).await,
    };
    execute(
        c,
        "UPDATE jobs SET status = $3, last_error = $4, run_after = $5, lease_owner = NULL, lease_until = NULL,
            updated_at = $6
         WHERE id = $1 AND lease_owner = $2",
        &[&id, &owner, &status, error, &run_after, &now],
    )
    .await?;
    Ok(())
}

async fn release(c: &impl GenericClient, id: i64, owner: &str, now: i64) -> Result<(), StoreError> {
    execute(
        c,
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, run_after = $3, lease_owner = NULL,
            lease_until = NULL, updated_at = $3
         WHERE id = $1 AND lease_owner = $2",
        &[&id, &owner, &now],
    )
    .await?;
    Ok(())
}
