//! The [`SessionStore`] role: sessions, their stations and statistics.

use async_trait::async_trait;

use crate::model::*;
use crate::StoreError;

#[async_trait]
pub trait SessionStore: Send + Sync {
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
}
