//! [`AccessStore`] for [`PostgresStore`].

use async_trait::async_trait;
use uuid::Uuid;

use super::{execute, now, query, PostgresStore};
use crate::access::AccessStore;
use crate::model::TenantId;
use crate::StoreError;

#[async_trait]
impl AccessStore for PostgresStore {
    async fn revoke_token(&self, jti: Uuid) -> Result<bool, StoreError> {
        let inserted = execute(
            &self.client().await?,
            "INSERT INTO revoked_tokens (jti, revoked_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&jti, &now()],
        )
        .await?;
        Ok(inserted == 1)
    }

    async fn revoked_tokens(&self) -> Result<Vec<Uuid>, StoreError> {
        let rows = query(&self.client().await?, "SELECT jti FROM revoked_tokens", &[]).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn set_tenant_disabled(&self, tenant: TenantId, disabled: bool) -> Result<(), StoreError> {
        let at: Option<i64> = disabled.then(now);
        let changed = execute(
            &self.client().await?,
            "UPDATE tenants SET disabled_at = $2 WHERE id = $1",
            &[&tenant, &at],
        )
        .await?;
        if changed == 0 {
            return Err(StoreError::not_found("tenant", tenant));
        }
        Ok(())
    }

    async fn disabled_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let rows = query(
            &self.client().await?,
            "SELECT id FROM tenants WHERE disabled_at IS NOT NULL",
            &[],
        )
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        in_transaction!(self, |tx| {
            let mut deleted = 0;
            for sql in crate::access::DELETE_TENANT {
                deleted = tx.execute(&sql.replace("{t}", "$1"), &[&tenant]).await?;
            }
            if deleted == 0 {
                return Err(StoreError::not_found("tenant", tenant));
            }
        })
    }
}
