//! [`AccessStore`] for [`SqliteStore`].

use async_trait::async_trait;
use rusqlite::params;
use uuid::Uuid;

use super::SqliteStore;
use crate::access::AccessStore;
use crate::model::TenantId;
use crate::StoreError;

fn now() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn uuids(texts: Vec<String>) -> Result<Vec<Uuid>, StoreError> {
    texts
        .iter()
        .map(|t| Uuid::parse_str(t).map_err(|e| StoreError::caused_by(e.to_string(), e)))
        .collect()
}

#[async_trait]
impl AccessStore for SqliteStore {
    async fn revoke_token(&self, jti: Uuid) -> Result<bool, StoreError> {
        self.writer
            .write(move |conn| {
                let inserted = conn
                    .prepare_cached(
                        "INSERT INTO revoked_tokens (jti, revoked_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![jti.to_string(), now()])?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn revoked_tokens(&self) -> Result<Vec<Uuid>, StoreError> {
        let texts = self
            .readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached("SELECT jti FROM revoked_tokens")?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        uuids(texts)
    }

    async fn set_tenant_disabled(&self, tenant: TenantId, disabled: bool) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                let changed = conn
                    .prepare_cached("UPDATE tenants SET disabled_at = ?2 WHERE id = ?1")?
                    .execute(params![tenant.to_string(), disabled.then(now)])?;
                if changed == 0 {
                    return Err(StoreError::not_found("tenant", tenant));
                }
                Ok(())
            })
            .await
    }

    async fn disabled_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let texts = self
            .readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached("SELECT id FROM tenants WHERE disabled_at IS NOT NULL")?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        uuids(texts)
    }

    async fn delete_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        self.writer
            .write(move |conn| {
                // The writer's transaction: a failure keeps nothing.
                let id = tenant.to_string();
                let mut deleted = 0;
                for sql in crate::access::DELETE_TENANT {
                    deleted = conn.execute(&sql.replace("{t}", "?1"), params![id])?;
                }
                if deleted == 0 {
                    return Err(StoreError::not_found("tenant", tenant));
                }
                Ok(())
            })
            .await
    }
}
