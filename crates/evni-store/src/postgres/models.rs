//! [`ModelStore`] for [`PostgresStore`]: the model registry, fine-tunes and
//! active models.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use evni_domain::Micros;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{execute, jobs, now, query, query_opt, PostgresStore};
use crate::jobs::{JobKind, NewJob};
use crate::model::TenantId;
use crate::models::*;
use crate::StoreError;

const MODEL_COLUMNS: &str = "id, tenant_id, name, type, version, is_base, base_model, metrics, status, \
                             created_at, s3_path, description";

fn model_of(r: &Row) -> Result<ModelRecord, StoreError> {
    Ok(ModelRecord {
        id: r.try_get(0)?,
        tenant: r.try_get(1)?,
        name: r.try_get(2)?,
        model_type: r.try_get(3)?,
        version: r.try_get(4)?,
        is_base: r.try_get(5)?,
        base_model: r.try_get(6)?,
        metrics: r
            .try_get::<_, Option<&str>>(7)?
            .map(serde_json::from_str)
            .transpose()?,
        status: r.try_get(8)?,
        created_at: r.try_get(9)?,
        s3_path: r.try_get(10)?,
        description: r.try_get(11)?,
    })
}

async fn get(c: &impl GenericClient, tenant: TenantId, id: &str) -> Result<ModelRecord, StoreError> {
    let sql =
        format!("SELECT {MODEL_COLUMNS} FROM ({MODEL_CATALOG}) AS catalog WHERE id = $2 AND (tenant_id IS NULL OR tenant_id = $1)");
    model_of(
        &query_opt(c, &sql, &[&tenant, &id])
            .await?
            .ok_or_else(|| StoreError::not_found("model", id))?,
    )
}

const FINE_TUNE_SELECT: &str =
    "SELECT f.id, f.tenant_id, f.base_model_id, f.name, f.config, j.status, f.progress,
        f.result_model_id, j.last_error, f.created_at, f.started_at, f.completed_at, j.updated_at
     FROM fine_tunes f JOIN jobs j ON j.id = f.job_id";

fn fine_tune_of(r: &Row) -> Result<FineTuneRecord, StoreError> {
    let status = match r.try_get::<_, &str>(5)? {
        "queued" => "queued",
        "running" => "running",
        "done" => "completed",
        _ => "failed",
    };
    let failed = status == "failed";
    let completed_at: Option<i64> = r.try_get(11)?;
    let job_updated_at: i64 = r.try_get(12)?;
    Ok(FineTuneRecord {
        id: r.try_get(0)?,
        tenant: r.try_get(1)?,
        base_model_id: r.try_get(2)?,
        name: r.try_get(3)?,
        config: serde_json::from_str(r.try_get(4)?)?,
        status: status.to_string(),
        progress: r
            .try_get::<_, Option<&str>>(6)?
            .map(serde_json::from_str)
            .transpose()?,
        result_model_id: r.try_get(7)?,
        error_message: if failed { r.try_get(8)? } else { None },
        created_at: r.try_get(9)?,
        started_at: r.try_get(10)?,
        completed_at: completed_at.or_else(|| failed.then_some(job_updated_at)),
    })
}

async fn fine_tune(c: &impl GenericClient, tenant: TenantId, id: &str) -> Result<FineTuneRecord, StoreError> {
    let sql = format!("{FINE_TUNE_SELECT} WHERE f.tenant_id = $1 AND f.id = $2");
    fine_tune_of(
        &query_opt(c, &sql, &[&tenant, &id])
            .await?
            .ok_or_else(|| StoreError::not_found("fine-tune job", id))?,
    )
}

async fn insert_model(c: &impl GenericClient, m: &ModelRecord) -> Result<(), StoreError> {
    execute(
        c,
        "INSERT INTO models (id, tenant_id, name, type, version, is_base, base_model, metrics, status, created_at,
            s3_path, description)
         VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $8, $9, $10, $11)",
        &[
            &m.id,
            &m.tenant,
            &m.name,
            &m.model_type,
            &m.version,
            &m.base_model,
            &m.metrics.as_ref().map(serde_json::to_string).transpose()?,
            &m.status,
            &m.created_at,
            &m.s3_path,
            &m.description,
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl ModelStore for PostgresStore {
    async fn register_base_model(&self, m: ModelRecord) -> Result<(), StoreError> {
        // Every process registers the base models at start, possibly at the
        // same moment: one atomic upsert.
        execute(
            &self.client().await?,
            "INSERT INTO models (id, tenant_id, name, type, version, is_base, base_model, metrics, status,
                created_at, s3_path, description)
             VALUES ($1, NULL, $2, $3, $4, TRUE, NULL, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version,
                metrics = excluded.metrics, s3_path = excluded.s3_path, description = excluded.description",
            &[
                &m.id,
                &m.name,
                &m.model_type,
                &m.version,
                &m.metrics.as_ref().map(serde_json::to_string).transpose()?,
                &m.status,
                &m.created_at,
                &m.s3_path,
                &m.description,
            ],
        )
        .await?;
        Ok(())
    }

    async fn list_models(&self, tenant: TenantId) -> Result<Vec<ModelRecord>, StoreError> {
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM ({MODEL_CATALOG}) AS catalog WHERE tenant_id IS NULL OR tenant_id = $1
             ORDER BY is_base DESC, created_at, id"
        );
        query(&self.client().await?, &sql, &[&tenant])
            .await?
            .iter()
            .map(model_of)
            .collect()
    }

    async fn model(&self, tenant: TenantId, id: &str) -> Result<ModelRecord, StoreError> {
        get(&self.client().await?, tenant, id).await
    }

    async fn create_fine_tune(&self, ft: NewFineTune) -> Result<FineTuneRecord, StoreError> {
        in_transaction!(self, |tx| {
            let now = now();
            let id = format!("ft-{}", Uuid::now_v7().simple());
            let job = NewJob {
                tenant: ft.tenant,
                kind: JobKind::FineTune,
                payload: serde_json::json!({ "fine_tune_id": id }),
                max_attempts: ft.max_attempts,
            };
            let job_id = jobs::enqueue(&tx, &job, now).await?;
            execute(
                &tx,
                "INSERT INTO fine_tunes (id, tenant_id, job_id, base_model_id, name, config, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id,
                    &ft.tenant,
                    &job_id,
                    &ft.base_model_id,
                    &ft.name,
                    &serde_json::to_string(&ft.config)?,
                    &now,
                ],
            )
            .await?;
            fine_tune(&tx, ft.tenant, &id).await?
        })
    }

    async fn fine_tune(&self, tenant: TenantId, id: &str) -> Result<FineTuneRecord, StoreError> {
        fine_tune(&self.client().await?, tenant, id).await
    }

    async fn list_fine_tunes(
        &self,
        tenant: TenantId,
        page: crate::PageRequest,
    ) -> Result<crate::Page<FineTuneRecord>, StoreError> {
        let c = self.client().await?;
        let total: i64 = query(
            &c,
            "SELECT COUNT(*) FROM fine_tunes WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?[0]
            .try_get(0)?;
        let sql = format!(
            "{FINE_TUNE_SELECT} WHERE f.tenant_id = $1 ORDER BY f.created_at DESC, f.id DESC LIMIT $2 OFFSET $3"
        );
        let items = query(
            &c,
            &sql,
            &[&tenant, &i64::from(page.page_size), &(page.offset() as i64)],
        )
        .await?
        .iter()
        .map(fine_tune_of)
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(crate::Page {
            items,
            total: total as u64,
            page: page.page,
            page_size: page.page_size,
        })
    }

    async fn fine_tune_progress(
        &self,
        id: &str,
        value: serde_json::Value,
        now: Micros,
    ) -> Result<(), StoreError> {
        execute(
            &self.client().await?,
            "UPDATE fine_tunes SET progress = $2, started_at = COALESCE(started_at, $3) WHERE id = $1",
            &[&id, &serde_json::to_string(&value)?, &now],
        )
        .await?;
        Ok(())
    }

    async fn finish_fine_tune(&self, id: &str, model: ModelRecord) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            // Locked: a second worker finishing the same fine-tune waits, then
            // finds it done and changes nothing.
            let done = query_opt(
                &tx,
                "SELECT result_model_id FROM fine_tunes WHERE id = $1 FOR NO KEY UPDATE",
                &[&id],
            )
            .await?
            .ok_or_else(|| StoreError::not_found("fine-tune job", id))?;
            if done.try_get::<_, Option<&str>>(0)?.is_none() {
                insert_model(&tx, &model).await?;
                execute(
                    &tx,
                    "UPDATE fine_tunes SET result_model_id = $2, completed_at = $3,
                        started_at = COALESCE(started_at, $3)
                     WHERE id = $1",
                    &[&id, &model.id, &now()],
                )
                .await?;
            }
        })
    }

    async fn activate_model(&self, tenant: TenantId, model_id: &str) -> Result<ActiveModel, StoreError> {
        let client = self.client().await?;
        let model = get(&client, tenant, model_id).await?;
        if model.status != "active" {
            return Err(StoreError::Conflict(format!(
                "model '{model_id}' is {}, not active",
                model.status
            )));
        }
        execute(
            &client,
            "INSERT INTO active_models (tenant_id, type, model_id, activated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, type) DO UPDATE SET model_id = excluded.model_id,
                activated_at = excluded.activated_at",
            &[&tenant, &model.model_type, &model.id, &now()],
        )
        .await?;
        Ok(ActiveModel {
            tenant,
            model_type: model.model_type,
            model_id: model.id,
        })
    }

    async fn active_models(&self) -> Result<Vec<ActiveModel>, StoreError> {
        query(
            &self.client().await?,
            "SELECT tenant_id, type, model_id FROM active_models",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(ActiveModel {
                tenant: r.try_get(0)?,
                model_type: r.try_get(1)?,
                model_id: r.try_get(2)?,
            })
        })
        .collect()
    }
}
