//! The model registry and fine-tuning: records and the [`ModelStore`]
//! trait, a supertrait of [`crate::Store`] so every backend provides it.
//! Base models have no tenant and are visible to everyone; a tenant's model
//! is visible to that tenant only (another tenant's is `NotFound`).

use async_trait::async_trait;
use evni_domain::Micros;

use crate::model::TenantId;
use crate::StoreError;

/// One registered model, as the models API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub id: String,
    /// `None` for base models.
    pub tenant: Option<TenantId>,
    pub name: String,
    /// `csar_2` | `csar_c_2` | `shade`
    pub model_type: String,
    pub version: String,
    pub is_base: bool,
    pub base_model: Option<String>,
    /// Measured at training time (the model card's), never typed in.
    pub metrics: Option<serde_json::Value>,
    /// `active` | `training` | `archived`
    pub status: String,
    pub created_at: Micros,
    /// Object path of the weights in the object store.
    pub s3_path: Option<String>,
    pub description: Option<String>,
}

/// A fine-tuning request to store with its job.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFineTune {
    pub tenant: TenantId,
    pub base_model_id: String,
    pub name: String,
    /// The validated request: `data_source` and `training_config`.
    pub config: serde_json::Value,
    pub max_attempts: u32,
}

/// A fine-tuning job as the API shows it; `status` comes from its job.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneRecord {
    /// Public id, `ft-...`.
    pub id: String,
    pub tenant: TenantId,
    pub base_model_id: String,
    pub name: String,
    pub config: serde_json::Value,
    /// `queued` | `running` | `completed` | `failed`
    pub status: String,
    /// `{epoch, epochs, loss}` while and after training.
    pub progress: Option<serde_json::Value>,
    pub result_model_id: Option<String>,
    pub error_message: Option<String>,
    pub created_at: Micros,
    pub started_at: Option<Micros>,
    pub completed_at: Option<Micros>,
}

/// The model a tenant has made active for one model type.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveModel {
    pub tenant: TenantId,
    pub model_type: String,
    pub model_id: String,
}

#[async_trait]
pub trait ModelStore: Send + Sync {
    /// Inserts or updates a base model (idempotent: run at every start).
    async fn register_base_model(&self, model: ModelRecord) -> Result<(), StoreError>;
    /// Base models and the tenant's own, oldest first.
    async fn list_models(&self, tenant: TenantId) -> Result<Vec<ModelRecord>, StoreError>;
    /// A base model or one of the tenant's; `NotFound` otherwise.
    async fn model(&self, tenant: TenantId, id: &str) -> Result<ModelRecord, StoreError>;
    /// Stores the request and enqueues its `fine_tune` job in one transaction.
    async fn create_fine_tune(&self, fine_tune: NewFineTune) -> Result<FineTuneRecord, StoreError>;
    async fn fine_tune(&self, tenant: TenantId, id: &str) -> Result<FineTuneRecord, StoreError>;
    /// The tenant's fine-tunes, newest first.
    async fn list_fine_tunes(
        &self,
        tenant: TenantId,
        page: crate::PageRequest,
    ) -> Result<crate::Page<FineTuneRecord>, StoreError>;
    /// Records training progress; the first call sets `started_at`.
    async fn fine_tune_progress(
        &self,
        id: &str,
        progress: serde_json::Value,
        now: Micros,
    ) -> Result<(), StoreError>;
    /// Registers the resulting tenant model and completes the fine-tune, in
    /// one transaction; a second call for the same fine-tune changes nothing.
    async fn finish_fine_tune(&self, id: &str, model: ModelRecord) -> Result<(), StoreError>;
    /// Makes one of the tenant's models (or a base model) the one of its type
    /// that analyses the tenant's sessions.
    async fn activate_model(&self, tenant: TenantId, model_id: &str) -> Result<ActiveModel, StoreError>;
    /// Every tenant's active models, for the engine's cache.
    async fn active_models(&self) -> Result<Vec<ActiveModel>, StoreError>;
}

/// The models a tenant may see, for both backends' queries: every registered
/// model and, listed under its fine-tune job's id with status `training`,
/// each model still being trained (the reference's model status). Columns
/// as the backends' `MODEL_COLUMNS`.
pub(crate) const MODEL_CATALOG: &str = "
    SELECT id, tenant_id, name, type, version, is_base, base_model, metrics, status, created_at,
        s3_path, description
    FROM models
    UNION ALL
    SELECT f.id, f.tenant_id, f.name, b.type, b.version || '-ft', FALSE, f.base_model_id, NULL,
        'training', f.created_at, NULL, NULL
    FROM fine_tunes f JOIN jobs j ON j.id = f.job_id JOIN models b ON b.id = f.base_model_id
    WHERE j.status IN ('queued', 'running')";
