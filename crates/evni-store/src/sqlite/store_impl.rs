//! [`Store`] for [`SqliteStore`]: reads go to the reader pool, writes to the
//! group-commit writer.

use async_trait::async_trait;

use super::{batches, jobs, sessions, stations, tenants, SqliteStore};
use crate::jobs::*;
use crate::model::*;
use crate::{SessionStore, Store, StoreError, TenantStore};

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |conn| tenants::create(conn, &name, now()))
            .await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Tenant, StoreError> {
        let name = name.to_owned();
        self.readers.read(move |conn| tenants::by_name(conn, &name)).await
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Tenant, StoreError> {
        self.readers.read(move |conn| tenants::by_id(conn, id)).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.readers.read(tenants::list).await
    }

    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: TenantSettings,
    ) -> Result<Tenant, StoreError> {
        self.writer
            .write(move |conn| tenants::update_settings(conn, tenant, settings.clone(), now()))
            .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn load_session(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<StoredSession>, StoreError> {
        let external_id = external_id.to_owned();
        self.readers
            .read(move |conn| sessions::load(conn, tenant, &external_id))
            .await
    }

    async fn write_session(&self, write: SessionWrite) -> Result<WriteOutcome, StoreError> {
        self.writer
            .write(move |conn| sessions::write(conn, &write, now()))
            .await
    }

    async fn session_detail(&self, tenant: TenantId, id: &str) -> Result<SessionDetail, StoreError> {
        let id = id.to_owned();
        self.readers
            .read(move |conn| sessions::detail(conn, tenant, &id))
            .await
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        filter: &SessionFilter,
    ) -> Result<Page<SessionListRow>, StoreError> {
        let filter = filter.clone();
        self.readers
            .read(move |conn| sessions::list(conn, tenant, &filter))
            .await
    }

    async fn list_stations(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<StationRow>, StoreError> {
        self.readers
            .read(move |conn| stations::list(conn, tenant, page))
            .await
    }

    async fn station(&self, tenant: TenantId, id: &str) -> Result<StationRow, StoreError> {
        let id = id.to_owned();
        self.readers
            .read(move |conn| Ok(stations::find(conn, tenant, &id)?.1))
            .await
    }

    async fn station_connectors(&self, tenant: TenantId, id: &str) -> Result<Vec<ConnectorRow>, StoreError> {
        let id = id.to_owned();
        self.readers
            .read(move |conn| {
                let (station_id, _) = stations::find(conn, tenant, &id)?;
                stations::connectors(conn, station_id)
            })
            .await
    }

    async fn patch_station_metadata(
        &self,
        tenant: TenantId,
        id: &str,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationRow, StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| stations::patch_metadata(conn, tenant, &id, &patch, now()))
            .await
    }

    async fn station_metadata(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let external_id = external_id.to_owned();
        self.readers
            .read(move |conn| stations::metadata(conn, tenant, &external_id))
            .await
    }

    async fn statistics(&self, tenant: TenantId) -> Result<Statistics, StoreError> {
        self.readers
            .read(move |conn| stations::statistics(conn, tenant))
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.readers
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn queue_depths(&self) -> Result<QueueDepths, StoreError> {
        self.readers
            .read(|conn| {
                Ok(conn.query_row(
                    "SELECT (SELECT count(*) FROM jobs WHERE status = 'queued'),
                    (SELECT count(*) FROM jobs WHERE status = 'running'),
                    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')",
                    [],
                    |row| {
                        Ok(QueueDepths {
                            jobs_queued: row.get(0)?,
                            jobs_running: row.get(1)?,
                            webhook_deliveries_pending: row.get(2)?,
                        })
                    },
                )?)
            })
            .await
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn create_batch(&self, batch: NewBatch) -> Result<String, StoreError> {
        self.writer
            .write(move |conn| batches::create(conn, &batch, now()))
            .await
    }

    async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| jobs::claim(conn, &owner, now, lease_until))
            .await
    }

    async fn heartbeat_job(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool, StoreError> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| jobs::heartbeat(conn, id, &owner, lease_until))
            .await
    }

    async fn complete_job(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| jobs::complete(conn, id, &owner, now()))
            .await
    }

    async fn fail_job(&self, id: i64, owner: &str, failure: JobFailure) -> Result<(), StoreError> {
        let owner = owner.to_owned();
        self.writer
            .write(move |conn| jobs::fail(conn, id, &owner, &failure, now()))
            .await
    }

    async fn batch_sessions(&self, chunk: BatchChunk) -> Result<Vec<(u32, BatchSession)>, StoreError> {
        self.readers
            .read(move |conn| batches::pending_sessions(conn, chunk))
            .await
    }

    async fn record_batch_results(
        &self,
        batch: i64,
        results: Vec<(u32, BatchResult)>,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| batches::record_results(conn, batch, &results, now()))
            .await
    }

    async fn batch_status(
        &self,
        tenant: TenantId,
        batch_id: &str,
        page: PageRequest,
    ) -> Result<BatchStatus, StoreError> {
        let batch_id = batch_id.to_owned();
        self.readers
            .read(move |conn| batches::status(conn, tenant, &batch_id, page))
            .await
    }

    async fn list_batches(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<BatchStatus>, StoreError> {
        self.readers
            .read(move |conn| batches::list(conn, tenant, page))
            .await
    }
}
