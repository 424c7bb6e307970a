//! Who may still call: revoked tokens and disabled tenants. Kept in the
//! database so that every API process sharing it learns of a revocation
//! within its refresh interval (see evni-api's `access` module).

use async_trait::async_trait;
use uuid::Uuid;

use crate::model::TenantId;
use crate::StoreError;

#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Revokes the token with id `jti`; `false` when it was revoked already.
    async fn revoke_token(&self, jti: Uuid) -> Result<bool, StoreError>;
    /// The ids of every revoked token.
    async fn revoked_tokens(&self) -> Result<Vec<Uuid>, StoreError>;
    /// Disables (or enables again) a tenant: its tokens are refused while
    /// its data stays. `NotFound` when there is no such tenant.
    async fn set_tenant_disabled(&self, tenant: TenantId, disabled: bool) -> Result<(), StoreError>;
    /// The ids of the disabled tenants.
    async fn disabled_tenants(&self) -> Result<Vec<TenantId>, StoreError>;
    /// Deletes the tenant and every row of its data, in one transaction.
    /// `NotFound` when there is no such tenant.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError>;
}

/// What deleting a tenant removes, children before parents; `{t}` is the
/// tenant parameter (`?1` or `$1`). A table added later must be added here:
/// the store test compares every table's rows before and after.
pub(crate) const DELETE_TENANT: [&str; 25] = [
    "DELETE FROM network_movements WHERE tenant_id = {t}",
    "DELETE FROM network_events WHERE tenant_id = {t}",
    "DELETE FROM network_health WHERE tenant_id = {t}",
    "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE tenant_id = {t})",
    "DELETE FROM webhook_deliveries WHERE tenant_id = {t}",
    "DELETE FROM webhook_endpoints WHERE tenant_id = {t}",
    "DELETE FROM station_anomalies WHERE tenant_id = {t}",
    "DELETE FROM station_inferences WHERE tenant_id = {t}",
    "DELETE FROM station_health_dirty WHERE tenant_id = {t}",
    "DELETE FROM station_days WHERE station_id IN (SELECT id FROM stations WHERE tenant_id = {t})",
    "DELETE FROM connector_stats WHERE station_id IN (SELECT id FROM stations WHERE tenant_id = {t})",
    "DELETE FROM connector_category_stats WHERE station_id IN (SELECT id FROM stations WHERE tenant_id = {t})",
    "DELETE FROM readings WHERE session_id IN (SELECT id FROM sessions WHERE tenant_id = {t})",
    "DELETE FROM feedback WHERE session_id IN (SELECT id FROM sessions WHERE tenant_id = {t})",
    "DELETE FROM session_categories WHERE session_id IN (SELECT id FROM sessions WHERE tenant_id = {t})",
    "DELETE FROM inferences WHERE session_id IN (SELECT id FROM sessions WHERE tenant_id = {t})",
    "DELETE FROM sessions WHERE tenant_id = {t}",
    "DELETE FROM stations WHERE tenant_id = {t}",
    "DELETE FROM batch_items WHERE batch_id IN (SELECT id FROM batches WHERE tenant_id = {t})",
    "DELETE FROM batches WHERE tenant_id = {t}",
    "DELETE FROM active_models WHERE tenant_id = {t}",
    "DELETE FROM fine_tunes WHERE tenant_id = {t}",
    "DELETE FROM models WHERE tenant_id = {t}",
    "DELETE FROM jobs WHERE tenant_id = {t}",
    "DELETE FROM tenants WHERE id = {t}",
];
