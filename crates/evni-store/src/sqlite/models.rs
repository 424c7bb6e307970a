//! [`ModelStore`] for [`SqliteStore`]: the model registry, fine-tunes and
//! active models.

use async_trait::async_trait;
use evni_domain::Micros;
use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::{jobs, SqliteStore};
use crate::jobs::{JobKind, NewJob};
use crate::model::TenantId;
use crate::models::*;
use crate::StoreError;

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

const MODEL_COLUMNS: &str = "id, tenant_id, name, type, version, is_base, base_model, metrics, status, \
                             created_at, s3_path, description";

/// A `models` row with its tenant and metrics still as text.
fn model_of(r: &Row<'_>) -> rusqlite::Result<(ModelRecord, Option<String>, Option<String>)> {
    Ok((
        ModelRecord {
            id: r.get(0)?,
            tenant: None,
            name: r.get(2)?,
            model_type: r.get(3)?,
            version: r.get(4)?,
            is_base: r.get(5)?,
            base_model: r.get(6)?,
            metrics: None,
            status: r.get(8)?,
            created_at: r.get(9)?,
            s3_path: r.get(10)?,
            description: r.get(11)?,
        },
        r.get(1)?,
        r.get(7)?,
    ))
}

fn finish(row: (ModelRecord, Option<String>, Option<String>)) -> Result<ModelRecord, StoreError> {
    let (mut model, tenant, metrics) = row;
    model.tenant = tenant
        .map(|t| Uuid::parse_str(&t).map_err(|e| StoreError::caused_by(e.to_string(), e)))
        .transpose()?;
    model.metrics = metrics.as_deref().map(serde_json::from_str).transpose()?;
    Ok(model)
}

fn upsert_base(conn: &Connection, m: &ModelRecord) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO models (id, tenant_id, name, type, version, is_base, base_model, metrics, status, created_at,
            s3_path, description)
         VALUES (?1, NULL, ?2, ?3, ?4, 1, NULL, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version,
            metrics = excluded.metrics, s3_path = excluded.s3_path, description = excluded.description",
    )?
    .execute(params![
        m.id,
        m.name,
        m.model_type,
        m.version,
        m.metrics.as_ref().map(serde_json::to_string).transpose()?,
        m.status,
        m.created_at,
        m.s3_path,
        m.description
    ])?;
    Ok(())
}

fn list(conn: &Connection, tenant: TenantId) -> Result<Vec<ModelRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MODEL_COLUMNS} FROM ({MODEL_CATALOG}) WHERE tenant_id IS NULL OR tenant_id = ?1
         ORDER BY is_base DESC, created_at, id"
    ))?;
    let rows = stmt
        .query_map(params![tenant.to_string()], model_of)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(finish).collect()
}

fn get(conn: &Connection, tenant: TenantId, id: &str) -> Result<ModelRecord, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {MODEL_COLUMNS} FROM ({MODEL_CATALOG}) WHERE id = ?2 AND (tenant_id IS NULL OR tenant_id = ?1)"
        ))?
        .query_row(params![tenant.to_string(), id], model_of)
        .optional()?;
    finish(row.ok_or_else(|| StoreError::not_found("model", id))?)
}

const FINE_TUNE_SELECT: &str =
    "SELECT f.id, f.tenant_id, f.base_model_id, f.name, f.config, j.status, f.progress,
        f.result_model_id, j.last_error, f.created_at, f.started_at, f.completed_at, j.updated_at
     FROM fine_tunes f JOIN jobs j ON j.id = f.job_id";

fn fine_tune_of(r: &Row<'_>) -> rusqlite::Result<FineTuneRow> {
    Ok(FineTuneRow {
        id: r.get(0)?,
        tenant: r.get(1)?,
        base_model_id: r.get(2)?,
        name: r.get(3)?,
        config: r.get(4)?,
        job_status: r.get(5)?,
        progress: r.get(6)?,
        result_model_id: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        started_at: r.get(10)?,
        completed_at: r.get(11)?,
        job_updated_at: r.get(12)?,
    })
}

struct FineTuneRow {
    id: String,
    tenant: String,
    base_model_id: String,
    name: String,
    config: String,
    job_status: String,
    progress: Option<String>,
    result_model_id: Option<String>,
    last_error: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    job_updated_at: i64,
}

impl FineTuneRow {
    fn into_record(self) -> Result<FineTuneRecord, StoreError> {
        let status = match self.job_status.as_str() {
            "queued" => "queued",
            "running" => "running",
            "done" => "completed",
            _ => "failed",
        };
        let failed = status == "failed";
        Ok(FineTuneRecord {
            id: self.id,
            tenant: Uuid::parse_str(&self.tenant).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
            base_model_id: self.base_model_id,
            name: self.name,
            config: serde_json::from_str(&self.config)?,
            status: status.to_string(),
            progress: self.progress.as_deref().map(serde_json::from_str).transpose()?,
            result_model_id: self.result_model_id,
            error_message: if failed { self.last_error } else { None },
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self
                .completed_at
                .or_else(|| failed.then_some(self.job_updated_at)),
        })
    }
}

fn create_fine_tune(conn: &Connection, ft: &NewFineTune, now: i64) -> Result<FineTuneRecord, StoreError> {
    let id = format!("ft-{}", Uuid::now_v7().simple());
    let job = NewJob {
        tenant: ft.tenant,
        kind: JobKind::FineTune,
        payload: serde_json::json!({ "fine_tune_id": id }),
        max_attempts: ft.max_attempts,
    };
    let job_id = jobs::enqueue(conn, &job, now)?;
    conn.prepare_cached(
        "INSERT INTO fine_tunes (id, tenant_id, job_id, base_model_id, name, config, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        ft.tenant.to_string(),
        job_id,
        ft.base_model_id,
        ft.name,
        serde_json::to_string(&ft.config)?,
        now
    ])?;
    fine_tune(conn, ft.tenant, &id)
}

fn list_fine_tunes(
    conn: &Connection,
    tenant: TenantId,
    page: crate::PageRequest,
) -> Result<crate::Page<FineTuneRecord>, StoreError> {
    let tenant = tenant.to_string();
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM fine_tunes WHERE tenant_id = ?1")?
        .query_row([&tenant], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "{FINE_TUNE_SELECT} WHERE f.tenant_id = ?1 ORDER BY f.created_at DESC, f.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let items = stmt
        .query_map(
            params![tenant, page.page_size, page.offset() as i64],
            fine_tune_of,
        )?
        .map(|row| row?.into_record())
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(crate::Page {
        items,
        total: total as u64,
        page: page.page,
        page_size: page.page_size,
    })
}

fn fine_tune(conn: &Connection, tenant: TenantId, id: &str) -> Result<FineTuneRecord, StoreError> {
    conn.prepare_cached(&format!(
        "{FINE_TUNE_SELECT} WHERE f.tenant_id = ?1 AND f.id = ?2"
    ))?
    .query_row(params![tenant.to_string(), id], fine_tune_of)
    .optional()?
    .ok_or_else(|| StoreError::not_found("fine-tune job", id))?
    .into_record()
}

fn progress(conn: &Connection, id: &str, progress: &serde_json::Value, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE fine_tunes SET progress = ?2, started_at = COALESCE(started_at, ?3) WHERE id = ?1",
    )?
    .execute(params![id, serde_json::to_string(progress)?, now])?;
    Ok(())
}

fn finish_fine_tune(conn: &Connection, id: &str, m: &ModelRecord, now: i64) -> Result<(), StoreError> {
    let done: Option<Option<String>> = conn
        .prepare_cached("SELECT result_model_id FROM fine_tunes WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()?;
    match done {
        None => return Err(StoreError::not_found("fine-tune job", id)),
        Some(Some(_)) => return Ok(()),
        Some(None) => {}
    }
    conn.prepare_cached(
        "INSERT INTO models (id, tenant_id, name, type, version, is_base, base_model, metrics, status, created_at,
            s3_path, description)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        m.id,
        m.tenant.map(|t| t.to_string()),
        m.name,
        m.model_type,
        m.version,
        m.base_model,
        m.metrics.as_ref().map(serde_json::to_string).transpose()?,
        m.status,
        m.created_at,
        m.s3_path,
        m.description
    ])?;
    conn.prepare_cached(
        "UPDATE fine_tunes SET result_model_id = ?2, completed_at = ?3, started_at = COALESCE(started_at, ?3)
         WHERE id = ?1",
    )?
    .execute(params![id, m.id, now])?;
    Ok(())
}

fn activate(
    conn: &Connection,
    tenant: TenantId,
    model_id: &str,
    now: i64,
) -> Result<ActiveModel, StoreError> {
    let model = get(conn, tenant, model_id)?;
    if model.status != "active" {
        return Err(StoreError::Conflict(format!(
            "model '{model_id}' is {}, not active",
            model.status
        )));
    }
    conn.prepare_cached(
        "INSERT INTO active_models (tenant_id, type, model_id, activated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, type) DO UPDATE SET model_id = excluded.model_id,
            activated_at = excluded.activated_at",
    )?
    .execute(params![tenant.to_string(), model.model_type, model.id, now])?;
    Ok(ActiveModel {
        tenant,
        model_type: model.model_type,
        model_id: model.id,
    })
}

fn active(conn: &Connection) -> Result<Vec<ActiveModel>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT tenant_id, type, model_id FROM active_models")?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(tenant, model_type, model_id)| {
            Ok(ActiveModel {
                tenant: Uuid::parse_str(&tenant).map_err(|e| StoreError::caused_by(e.to_string(), e))?,
                model_type,
                model_id,
            })
        })
        .collect()
}

#[async_trait]
impl ModelStore for SqliteStore {
    async fn register_base_model(&self, model: ModelRecord) -> Result<(), StoreError> {
        self.writer.write(move |conn| upsert_base(conn, &model)).await
    }

    async fn list_models(&self, tenant: TenantId) -> Result<Vec<ModelRecord>, StoreError> {
        self.readers.read(move |conn| list(conn, tenant)).await
    }

    async fn model(&self, tenant: TenantId, id: &str) -> Result<ModelRecord, StoreError> {
        let id = id.to_owned();
        self.readers.read(move |conn| get(conn, tenant, &id)).await
    }

    async fn create_fine_tune(&self, fine_tune: NewFineTune) -> Result<FineTuneRecord, StoreError> {
        self.writer
            .write(move |conn| create_fine_tune(conn, &fine_tune, now()))
            .await
    }

    async fn fine_tune(&self, tenant: TenantId, id: &str) -> Result<FineTuneRecord, StoreError> {
        let id = id.to_owned();
        self.readers.read(move |conn| fine_tune(conn, tenant, &id)).await
    }

    async fn list_fine_tunes(
        &self,
        tenant: TenantId,
        page: crate::PageRequest,
    ) -> Result<crate::Page<FineTuneRecord>, StoreError> {
        self.readers
            .read(move |conn| list_fine_tunes(conn, tenant, page))
            .await
    }

    async fn fine_tune_progress(
        &self,
        id: &str,
        value: serde_json::Value,
        now: Micros,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| progress(conn, &id, &value, now))
            .await
    }

    async fn finish_fine_tune(&self, id: &str, model: ModelRecord) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| finish_fine_tune(conn, &id, &model, now()))
            .await
    }

    async fn activate_model(&self, tenant: TenantId, model_id: &str) -> Result<ActiveModel, StoreError> {
        let model_id = model_id.to_owned();
        self.writer
            .write(move |conn| activate(conn, tenant, &model_id, now()))
            .await
    }

    async fn active_models(&self) -> Result<Vec<ActiveModel>, StoreError> {
        self.readers.read(active).await
    }
}
