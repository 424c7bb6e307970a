//! [`HealthStore`] for [`SqliteStore`].

use async_trait::async_trait;
use evni_domain::Micros;

use super::{health, network, webhooks, SqliteStore};
use crate::health::*;
use crate::model::*;
use crate::network::*;
use crate::{StoreError, WebhookStore};

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[async_trait]
impl HealthStore for SqliteStore {
    async fn dirty_stations(&self, changed_before: Micros) -> Result<Vec<HealthStation>, StoreError> {
        self.readers
            .read(move |conn| health::dirty_stations(conn, changed_before))
            .await
    }

    async fn health_stations(&self) -> Result<Vec<HealthStation>, StoreError> {
        self.readers.read(health::health_stations).await
    }

    async fn station_history(
        &self,
        tenant: TenantId,
        station: &str,
        from_day: i64,
        to_day: i64,
    ) -> Result<StationHistory, StoreError> {
        let station = station.to_owned();
        self.readers
            .read(move |conn| health::history(conn, tenant, &station, from_day, to_day))
            .await
    }

    async fn tenant_last_day(&self, tenant: TenantId) -> Result<Option<i64>, StoreError> {
        self.readers
            .read(move |conn| health::tenant_last_day(conn, tenant))
            .await
    }

    async fn tenant_changed_at(&self, tenant: TenantId) -> Result<Option<Micros>, StoreError> {
        self.readers
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT MAX(changed_at) FROM station_health_dirty WHERE tenant_id = ?1")?
                    .query_row([tenant.to_string()], |r| r.get(0))?)
            })
            .await
    }

    async fn record_station_health(
        &self,
        tenant: TenantId,
        station: &str,
        result: HealthResult,
    ) -> Result<RecordedHealth, StoreError> {
        let station = station.to_owned();
        self.writer
            .write(move |conn| health::record(conn, tenant, &station, &result, now()))
            .await
    }

    async fn network_history(
        &self,
        tenant: TenantId,
        from_day: i64,
        to_day: i64,
    ) -> Result<NetworkHistory, StoreError> {
        self.readers
            .read(move |conn| network::history(conn, tenant, from_day, to_day))
            .await
    }

    async fn record_network_health(
        &self,
        tenant: TenantId,
        result: NetworkResult,
    ) -> Result<RecordedNetwork, StoreError> {
        self.writer
            .write(move |conn| network::record(conn, tenant, &result, now()))
            .await
    }

    async fn network_health(&self, tenant: TenantId) -> Result<Option<NetworkHealth>, StoreError> {
        self.readers.read(move |conn| network::health(conn, tenant)).await
    }

    async fn latest_station_inference(
        &self,
        tenant: TenantId,
        station: &str,
    ) -> Result<Option<StationInference>, StoreError> {
        let station = station.to_owned();
        self.readers
            .read(move |conn| health::latest(conn, tenant, &station))
            .await
    }

    async fn station_anomalies(
        &self,
        tenant: TenantId,
        station: &str,
        page: PageRequest,
    ) -> Result<Page<StationAnomalyRow>, StoreError> {
        let station = station.to_owned();
        self.readers
            .read(move |conn| health::anomalies(conn, tenant, &station, page))
            .await
    }
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError> {
        self.writer
            .write(move |conn| webhooks::create_endpoint(conn, &endpoint, now()))
            .await
    }

    async fn list_webhook_endpoints(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.readers
            .read(move |conn| webhooks::list_endpoints(conn, tenant))
            .await
    }

    async fn delete_webhook_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |conn| webhooks::delete_endpoint(conn, tenant, &id, now()))
            .await
    }

    async fn webhook_deliveries(
        &self,
        tenant: TenantId,
        endpoint: &str,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        let endpoint = endpoint.to_owned();
        self.readers
            .read(move |conn| webhooks::deliveries(conn, tenant, &endpoint, page))
            .await
    }

    async fn enqueue_test_webhook(&self, tenant: TenantId, endpoint: &str) -> Result<String, StoreError> {
        let endpoint = endpoint.to_string();
        self.writer
            .write(move |conn| webhooks::enqueue_test(conn, tenant, &endpoint, now()))
            .await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.writer
            .write(move |conn| webhooks::claim(conn, now, lease_until, limit))
            .await
    }

    async fn record_webhook_attempt(
        &self,
        delivery: i64,
        attempt: WebhookAttempt,
        next: DeliveryNext,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| webhooks::record_attempt(conn, delivery, &attempt, next))
            .await
    }

    async fn next_webhook_due(&self) -> Result<Option<Micros>, StoreError> {
        self.readers.read(webhooks::next_due).await
    }
}
