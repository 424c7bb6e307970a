//! The [`TenantStore`] role: tenants and their settings.

use async_trait::async_trait;

use crate::model::{Tenant, TenantId, TenantSettings};
use crate::StoreError;

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn create_tenant(&self, name: &str) -> Result<Tenant, StoreError>;
    async fn tenant_by_name(&self, name: &str) -> Result<Tenant, StoreError>;
    async fn tenant_by_id(&self, id: TenantId) -> Result<Tenant, StoreError>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        settings: TenantSettings,
    ) -> Result<Tenant, StoreError>;
}
