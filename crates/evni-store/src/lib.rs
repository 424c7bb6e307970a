//! Storage of evni. The [`Store`] trait is what the engine and the API see;
//! each backend lives in its own module with its own migrations.

pub mod access;
pub mod dashboard;
pub mod error;
pub mod health;
pub mod jobs;
pub mod model;
pub mod models;
pub mod network;
pub mod objects;
pub mod postgres;
mod session_list;
mod session_write;
pub mod sqlite;
mod station_days;
mod station_metadata;

use async_trait::async_trait;

pub use access::AccessStore;
pub use dashboard::{CategoryDay, DashboardStore, OpenStationAnomaly};
pub use error::StoreError;
pub use health::*;
pub use jobs::*;
pub use model::*;
pub use models::*;
pub use network::*;

/// Everything evni persists. Every tenant-scoped method takes the tenant
/// first; rows of another tenant are invisible (`NotFound`).
#[async_trait]
/// Station health and webhooks come from [`HealthStore`] (health.rs), the
/// model registry and fine-tunes from [`ModelStore`] (models.rs).
pub trait Store: HealthStore + ModelStore + AccessStore + DashboardStore + Send + Sync + 'static {
    // Tenants
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;
    async fn tenant_by_name(&self, name: &str) -> Result<Tenant, StoreError>;
    async fn tenant_by_id(&self, id: TenantId) -> Result<Tenant, StoreError>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: TenantSettings,
    ) -> Result<Tenant, StoreError>;

    // Sessions
    /// The stored state of a session, looked up by the client's id.
    async fn load_session(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<StoredSession>, StoreError>;
    /// Writes one session change atomically: the session row, its readings,
    /// the inference record and the aggregates. Concurrent writes are
    /// grouped into one commit; `Conflict` means `expected_version` was stale.
    async fn write_session(&self, write: SessionWrite) -> Result<WriteOutcome, StoreError>;
    /// Full detail by external id, or by internal UUID.
    async fn session_detail(&self, tenant: TenantId, id: &str) -> Result<SessionDetail, StoreError>;
    async fn list_sessions(
        &self,
        tenant: TenantId,
        filter: &SessionFilter,
    ) -> Result<Page<SessionListRow>, StoreError>;

    // Stations
    async fn list_stations(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<StationRow>, StoreError>;
    /// A station by external id, or by internal UUID.
    async fn station(&self, tenant: TenantId, id: &str) -> Result<StationRow, StoreError>;
    async fn station_connectors(&self, tenant: TenantId, id: &str) -> Result<Vec<ConnectorRow>, StoreError>;
    /// Creates the station if needed and merges `patch` into its metadata
    /// (JSON merge patch: `null` removes a key).
    async fn patch_station_metadata(
        &self,
        tenant: TenantId,
        id: &str,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationRow, StoreError>;
    /// Station metadata by external id, for the analysis (rated power).
    async fn station_metadata(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError>;
    async fn statistics(&self, tenant: TenantId) -> Result<Statistics, StoreError>;

    /// Whether the database answers, for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Jobs and webhook deliveries waiting, over all tenants.
    async fn queue_depths(&self) -> Result<QueueDepths, StoreError>;

    // ---- Jobs and batches

    /// Stores a batch and enqueues its jobs in the same transaction; returns
    /// the public batch id.
    async fn create_batch(&self, batch: NewBatch) -> Result<String, StoreError>;
    /// Claims the next runnable job (queued and due, or running with an
    /// expired lease) for `owner` until `lease_until`.
    async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedJob>, StoreError>;
    /// Extends a claimed job's lease; `false` when the job is no longer ours.
    async fn heartbeat_job(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool, StoreError>;
    async fn complete_job(&self, id: i64, owner: &str) -> Result<(), StoreError>;
    async fn fail_job(&self, id: i64, owner: &str, failure: JobFailure) -> Result<(), StoreError>;
    /// The pending sessions of a chunk, with their batch index.
    async fn batch_sessions(&self, chunk: BatchChunk) -> Result<Vec<(u32, BatchSession)>, StoreError>;
    /// Records results of a chunk's sessions and advances the batch's
    /// counters, once per session however often it is called.
    async fn record_batch_results(
        &self,
        batch: i64,
        results: Vec<(u32, BatchResult)>,
    ) -> Result<(), StoreError>;
    /// A batch's progress and one page of its results.
    async fn batch_status(
        &self,
        tenant: TenantId,
        batch_id: &str,
        page: PageRequest,
    ) -> Result<BatchStatus, StoreError>;
    /// The tenant's batches, newest first, without their results.
    async fn list_batches(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<BatchStatus>, StoreError>;
}
