//! [`HealthStore`] for [`PostgresStore`].

use async_trait::async_trait;
use evni_domain::Micros;

use super::{health, network, now, webhooks, PostgresStore};
use crate::health::*;
use crate::model::*;
use crate::network::*;
use crate::{StoreError, WebhookStore};

#[async_trait]
impl HealthStore for PostgresStore {
    async fn dirty_stations(&self, changed_before: Micros) -> Result<Vec<HealthStation>, StoreError> {
        health::dirty_stations(&self.client().await?, changed_before).await
    }

    async fn health_stations(&self) -> Result<Vec<HealthStation>, StoreError> {
        health::health_stations(&self.client().await?).await
    }

    async fn station_history(
        &self,
        tenant: TenantId,
        station: &str,
        from_day: i64,
        to_day: i64,
    ) -> Result<StationHistory, StoreError> {
        in_transaction!(self, |tx| health::history(&tx, tenant, station, from_day, to_day)
            .await?)
    }

    async fn tenant_last_day(&self, tenant: TenantId) -> Result<Option<i64>, StoreError> {
        health::tenant_last_day(&self.client().await?, tenant).await
    }

    async fn tenant_changed_at(&self, tenant: TenantId) -> Result<Option<Micros>, StoreError> {
        let row = super::query_one(
            &self.client().await?,
            "SELECT MAX(changed_at) FROM station_health_dirty WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn record_station_health(
        &self,
        tenant: TenantId,
        station: &str,
        result: HealthResult,
    ) -> Result<RecordedHealth, StoreError> {
        in_transaction!(self, |tx| health::record(&tx, tenant, station, &result, now())
            .await?)
    }

    async fn network_history(
        &self,
        tenant: TenantId,
        from_day: i64,
        to_day: i64,
    ) -> Result<NetworkHistory, StoreError> {
        network::history(&self.client().await?, tenant, from_day, to_day).await
    }

    async fn record_network_health(
        &self,
        tenant: TenantId,
        result: NetworkResult,
    ) -> Result<RecordedNetwork, StoreError> {
        in_transaction!(self, |tx| network::record(&tx, tenant, &result, now()).await?)
    }

    async fn network_health(&self, tenant: TenantId) -> Result<Option<NetworkHealth>, StoreError> {
        network::health(&self.client().await?, tenant).await
    }

    async fn latest_station_inference(
        &self,
        tenant: TenantId,
        station: &str,
    ) -> Result<Option<StationInference>, StoreError> {
        health::latest(&self.client().await?, tenant, station).await
    }

    async fn station_anomalies(
        &self,
        tenant: TenantId,
        station: &str,
        page: PageRequest,
    ) -> Result<Page<StationAnomalyRow>, StoreError> {
        in_transaction!(self, |tx| health::anomalies(&tx, tenant, station, page).await?)
    }
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError> {
        webhooks::create_endpoint(&self.client().await?, &endpoint, now()).await
    }

    async fn list_webhook_endpoints(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        webhooks::list_endpoints(&self.client().await?, tenant).await
    }

    async fn delete_webhook_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError> {
        in_transaction!(self, |tx| webhooks::delete_endpoint(&tx, tenant, id, now())
            .await?)
    }

    async fn webhook_deliveries(
        &self,
        tenant: TenantId,
        endpoint: &str,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        in_transaction!(self, |tx| webhooks::deliveries(&tx, tenant, endpoint, page)
            .await?)
    }

    async fn enqueue_test_webhook(&self, tenant: TenantId, endpoint: &str) -> Result<String, StoreError> {
        webhooks::enqueue_test(&self.client().await?, tenant, endpoint, now()).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        webhooks::claim(&self.client().await?, now, lease_until, limit).await
    }

    async fn record_webhook_attempt(
        &self,
        delivery: i64,
        attempt: WebhookAttempt,
        next: DeliveryNext,
    ) -> Result<(), StoreError> {
        in_transaction!(self, |tx| webhooks::record_attempt(&tx, delivery, &attempt, next)
            .await?)
    }

    async fn next_webhook_due(&self) -> Result<Option<Micros>, StoreError> {
        webhooks::next_due(&self.client().await?).await
    }
}
