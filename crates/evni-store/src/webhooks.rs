//! The [`WebhookStore`] role: endpoints, durable deliveries and their
//! attempts (the records are in [`crate::health`]).

use async_trait::async_trait;
use evni_domain::Micros;

use crate::health::*;
use crate::model::{Page, PageRequest, TenantId};
use crate::StoreError;

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_webhook_endpoint(
        &self,
        endpoint: NewWebhookEndpoint,
    ) -> Result<WebhookEndpoint, StoreError>;
    async fn list_webhook_endpoints(&self, tenant: TenantId) -> Result<Vec<WebhookEndpoint>, StoreError>;
    /// Deletes an endpoint; its pending deliveries are cancelled.
    async fn delete_webhook_endpoint(&self, tenant: TenantId, id: &str) -> Result<(), StoreError>;
    /// An endpoint's deliveries with every attempt, newest first.
    async fn webhook_deliveries(
        &self,
        tenant: TenantId,
        endpoint: &str,
        page: PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError>;
    /// Enqueues one [`TEST_EVENT`] delivery to an endpoint of the tenant;
    /// returns its `webhook_id`. `NotFound` for a deleted or unknown endpoint.
    async fn enqueue_test_webhook(&self, tenant: TenantId, endpoint: &str) -> Result<String, StoreError>;
    /// Leases up to `limit` due deliveries until `lease_until`.
    async fn claim_webhook_deliveries(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records an attempt and what comes next.
    async fn record_webhook_attempt(
        &self,
        delivery: i64,
        attempt: WebhookAttempt,
        next: DeliveryNext,
    ) -> Result<(), StoreError>;
    /// When the next pending delivery is due.
    async fn next_webhook_due(&self) -> Result<Option<Micros>, StoreError>;
}
