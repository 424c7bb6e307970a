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
}
