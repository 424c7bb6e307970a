//! [`Store`] for [`PostgresStore`]: each call takes a pooled connection;
//! writes run in one transaction each.

use async_trait::async_trait;

use super::{batches, jobs, now, sessions, stations, tenants, PostgresStore};
use crate::jobs::*;
use crate::model::*;
use crate::{SessionStore, Store, StoreError, TenantStore};

#[async_trait]
impl TenantStore for PostgresStore {
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError> {
        tenants::create(&self.client().await?, name, now()).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Tenant, StoreError> {
        tenants::by_name(&self.client().await?, name).await
    }

    async fn tenant_by_id(&self, id: TenantId) -> Result<Tenant, StoreError> {
        tenants::by_id(&self.client().await?, id).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        tenants::list(&self.client().await?).await
    }

    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: TenantSettings,
    ) -> Result<Tenant, StoreError> {
        in_transaction!(self, |tx| tenants::update_settings(&tx, tenant, settings, now())
            .await?)
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn load_session(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<StoredSession>, StoreError> {
        // Header and readings from one snapshot.
        in_transaction!(self, |tx| sessions::load(&tx, tenant, external_id).await?)
    }

    async fn write_session(&self, write: SessionWrite) -> Result<WriteOutcome, StoreError> {
        in_transaction!(self, |tx| sessions::write(&tx, &write, now()).await?)
    }

    async fn session_detail(&self, tenant: TenantId, id: &str) -> Result<SessionDetail, StoreError> {
        in_transaction!(self, |tx| sessions::detail(&tx, tenant, id).await?)
    }

    async fn list_sessions(
        &self,
        tenant: TenantId,
        filter: &SessionFilter,
    ) -> Result<Page<SessionListRow>, StoreError> {
        in_transaction!(self, |tx| sessions::list(&tx, tenant, filter).await?)
    }

    async fn list_stations(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<StationRow>, StoreError> {
        in_transaction!(self, |tx| stations::list(&tx, tenant, page).await?)
    }

    async fn station(&self, tenant: TenantId, id: &str) -> Result<StationRow, StoreError> {
        Ok(stations::find(&self.client().await?, tenant, id).await?.1)
    }

    async fn station_connectors(&self, tenant: TenantId, id: &str) -> Result<Vec<ConnectorRow>, StoreError> {
        in_transaction!(self, |tx| {
            let (station_id, _) = stations::find(&tx, tenant, id).await?;
            stations::connectors(&tx, station_id).await?
        })
    }

    async fn patch_station_metadata(
        &self,
        tenant: TenantId,
        id: &str,
        patch: serde_json::Map<String, serde_json::Value>,
    ) -> Result<StationRow, StoreError> {
        in_transaction!(self, |tx| stations::patch_metadata(
            &tx,
            tenant,
            id,
            &patch,
            now()
        )
        .await?)
    }

    async fn station_metadata(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        stations::metadata(&self.client().await?, tenant, external_id).await
    }

    async fn statistics(&self, tenant: TenantId) -> Result<Statistics, StoreError> {
        stations::statistics(&self.client().await?, tenant).await
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        super::query_one(&self.client().await?, "SELECT 1", &[]).await?;
        Ok(())
    }

    async fn queue_depths(&self) -> Result<QueueDepths, StoreError> {
        let row = super::query_one(
            &self.client().await?,
            "SELECT (SELECT count(*) FROM jobs WHERE status = 'queued'),
                    (SELECT count(*) FROM jobs WHERE status = 'running'),
                    (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')",
            &[],
        )
        .await?;
        Ok(QueueDepths {
            jobs_queued: row.get(0),
            jobs_running: row.get(1),
            webhook_deliveries_pending: row.get(2),
        })
    }
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn create_batch(&self, batch: NewBatch) -> Result<String, StoreError> {
        in_transaction!(self, |tx| batches::create(&tx, &batch, now()).await?)
    }

    async fn claim_job(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        jobs::claim(&self.client().await?, owner, now, lease_until).await
    }

    async fn heartbeat_job(&self, id: i64, owner: &str, lease_until: i64) -> Result<bool, StoreError> {
        jobs::heartbeat(&self.client().await?, id, owner, lease_until).await
    }

    async fn complete_job(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        jobs::complete(&self.client().await?, id, owner, now()).await
    }

    async fn fail_job(&self, id: i64, owner: &str, failure: JobFailure) -> Result<(), StoreError> {
        jobs::fail(&self.client().await?, id, owner, &failure, now()).await
    }

    async fn batch_sessions(&self, chunk: BatchChunk) -> Result<Vec<(u32, BatchSession)>, StoreError> {
        batches::pending_sessions(&self.client().await?, chunk).await
    }

    async fn record_batch_results(
        &self,
        batch: i64,
        results: Vec<(u32, BatchResult)>,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| batches::record_results(&tx, batch, &results, now())
            .await?)
    }

    async fn batch_status(
        &self,
        tenant: TenantId,
        batch_id: &str,
        page: PageRequest,
    ) -> Result<BatchStatus, StoreError> {
        in_transaction!(self, |tx| batches::status(&tx, tenant, batch_id, page).await?)
    }

    async fn list_batches(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<BatchStatus>, StoreError> {
        batches::list(&self.client().await?, tenant, page).await
    }
}
